//! Finding the cluster the way kubectl does: `--kubeconfig`, else `KUBECONFIG` (a list of files,
//! merged), else `~/.kube/config`; `--context`, else the current context; the context's
//! namespace. Run as a helm plugin, helm has already swallowed those flags and hands them over in
//! `HELM_KUBECONTEXT` and `HELM_NAMESPACE` (and `KUBECONFIG`).
//!
//! Every failure here ends the run, so each is one sentence naming the context and the server.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::api::{Api, Failure, root_cause};

/// What helm tells a plugin about the flags it took for itself (`helm help plugin`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmEnv {
    pub namespace: Option<String>,
    pub kube_context: Option<String>,
}

impl HelmEnv {
    /// `None` unless running as a helm plugin (`HELM_PLUGIN_NAME` set).
    pub fn from_process() -> Option<HelmEnv> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        var("HELM_PLUGIN_NAME")?;
        Some(HelmEnv {
            namespace: var("HELM_NAMESPACE"),
            kube_context: var("HELM_KUBECONTEXT"),
        })
    }
}

/// Where the namespace of a run comes from, before the context's own is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceChoice {
    All,
    One(String),
    /// Neither a flag nor helm said; `release` takes the context's namespace, as kubectl does.
    ContextDefault,
    /// Run by helm, which always sets `HELM_NAMESPACE`: to `-n` if the user gave it, else to the
    /// context's namespace. Only a value other than the context's can have come from `-n`.
    FromHelm(String),
}

impl NamespaceChoice {
    pub fn resolve(flag: Option<&str>, all: bool, helm: Option<&HelmEnv>) -> NamespaceChoice {
        if all {
            return NamespaceChoice::All;
        }
        if let Some(ns) = flag {
            return NamespaceChoice::One(ns.to_string());
        }
        match helm.and_then(|h| h.namespace.as_deref()) {
            Some(ns) => NamespaceChoice::FromHelm(ns.to_string()),
            None => NamespaceChoice::ContextDefault,
        }
    }

    /// The scope of `check` and `snapshot`: all namespaces unless one was asked for.
    pub fn for_check(&self, context_namespace: &str) -> Option<String> {
        match self {
            NamespaceChoice::One(ns) => Some(ns.clone()),
            NamespaceChoice::FromHelm(ns) if ns != context_namespace => Some(ns.clone()),
            _ => None,
        }
    }

    /// The namespace of `release`: the one asked for, else the context's.
    pub fn for_release(&self, context_namespace: &str) -> String {
        match self {
            NamespaceChoice::One(ns) | NamespaceChoice::FromHelm(ns) => ns.clone(),
            _ => context_namespace.to_string(),
        }
    }
}

/// A cluster we can talk to, and how to name it in messages.
pub struct Cluster {
    pub api: Api,
    pub context: String,
    pub server: String,
    /// The context's namespace, `default` when it names none.
    pub namespace: String,
}

impl Cluster {
    /// `context "kind-bk" (https://127.0.0.1:6443)`
    pub fn name(&self) -> String {
        format!("context \"{}\" ({})", self.context, self.server)
    }
}

/// How to reach a live cluster, as the caller was told (kubectl's `--kubeconfig`, `--context`,
/// `--request-timeout`). Plain data: this module does not know the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Per request; `None` waits as long as it takes.
    pub request_timeout: Option<Duration>,
    /// Lists paged from etcd instead of read whole from the watch cache
    /// ([`Api::consistent_reads`]).
    pub consistent_read: bool,
}

/// Connection defaults that are not in the kubeconfig.
pub fn context_override(args: &ClusterOptions, helm: Option<&HelmEnv>) -> Option<String> {
    args.context
        .clone()
        .or_else(|| helm.and_then(|h| h.kube_context.clone()))
}

/// Loads the kubeconfig and builds a client. Makes no request.
pub async fn connect(
    kubeconfig: Option<&PathBuf>,
    context: Option<&str>,
    timeout: Option<Duration>,
) -> Result<Cluster, String> {
    let kc = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .map_err(|e| format!("cannot read kubeconfig {}: {}", path.display(), root_cause(&e)))?,
        None => Kubeconfig::read().map_err(|e| {
            format!(
                "no usable kubeconfig ({}); set KUBECONFIG or pass --kubeconfig, or read a snapshot with --snapshot DIR",
                root_cause(&e)
            )
        })?,
    };
    let contexts: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
    let context = match context.map(str::to_string).or(kc.current_context.clone()) {
        Some(c) if !c.is_empty() => c,
        _ => {
            return Err(format!(
                "the kubeconfig sets no current-context; pass --context (contexts: {})",
                list_or_none(&contexts)
            ));
        }
    };
    let Some(ctx) = kc.contexts.iter().find(|c| c.name == context) else {
        return Err(format!(
            "context \"{context}\" is not in the kubeconfig (contexts: {})",
            list_or_none(&contexts)
        ));
    };
    let server = ctx
        .context
        .as_ref()
        .and_then(|c| kc.clusters.iter().find(|cl| cl.name == c.cluster))
        .and_then(|cl| cl.cluster.as_ref())
        .and_then(|cl| cl.server.clone())
        .unwrap_or_else(|| "no server".to_string());
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| format!("context \"{context}\" ({server}): {}", root_cause(&e)))?;
    if let Some(t) = timeout {
        config.connect_timeout = Some(t.min(config.connect_timeout.unwrap_or(t)));
    }
    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config)
        .map_err(|e| format!("context \"{context}\" ({server}): {}", root_cause(&e)))?;
    Ok(Cluster {
        api: Api::new(client, timeout),
        context,
        server,
        namespace,
    })
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// The sentence for a cluster that cannot be used at all.
pub fn unusable(cluster: &Cluster, failure: &Failure) -> String {
    let name = cluster.name();
    match failure {
        Failure::Api { code: 401, .. } => format!(
            "the API server of {name} rejected the credentials (401 Unauthorized): the token or client certificate is wrong or expired"
        ),
        Failure::Timeout(_) => format!(
            "cannot reach the API server of {name}: {}",
            failure.describe()
        ),
        Failure::Transport(e) => format!("cannot reach the API server of {name}: {e}"),
        Failure::Api { .. } | Failure::TooLarge(_) => {
            format!("the API server of {name} answered {}", failure.describe())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helm(ns: &str) -> HelmEnv {
        HelmEnv {
            namespace: Some(ns.into()),
            kube_context: None,
        }
    }

    #[test]
    fn namespace_as_kubectl_and_helm_mean_it() {
        let plain = NamespaceChoice::resolve(None, false, None);
        assert_eq!(plain.for_check("blueking"), None);
        assert_eq!(plain.for_release("blueking"), "blueking");

        let flag = NamespaceChoice::resolve(Some("bk"), false, Some(&helm("x")));
        assert_eq!(flag.for_check("default"), Some("bk".into()));

        let all = NamespaceChoice::resolve(None, true, Some(&helm("x")));
        assert_eq!(all.for_check("default"), None);

        // helm always sets HELM_NAMESPACE; only a value other than the context's came from -n.
        let h = NamespaceChoice::resolve(None, false, Some(&helm("default")));
        assert_eq!(h.for_check("default"), None);
        assert_eq!(h.for_release("default"), "default");
        let h = NamespaceChoice::resolve(None, false, Some(&helm("blueking")));
        assert_eq!(h.for_check("default"), Some("blueking".into()));
        assert_eq!(h.for_release("default"), "blueking");
    }

    #[test]
    fn helm_context_is_used_unless_the_flag_says_otherwise() {
        let h = HelmEnv {
            namespace: None,
            kube_context: Some("from-helm".into()),
        };
        let mut args = ClusterOptions::default();
        assert_eq!(
            context_override(&args, Some(&h)).as_deref(),
            Some("from-helm")
        );
        args.context = Some("flag".into());
        assert_eq!(context_override(&args, Some(&h)).as_deref(), Some("flag"));
        assert_eq!(context_override(&ClusterOptions::default(), None), None);
    }
}
