//! `container-config-error`: a container the kubelet cannot even create (`CreateContainerConfigError`)
//! because what its environment reads is missing: a Secret or ConfigMap that does not exist
//! (`secret "X" not found`, `configmap "X" not found`) or a key it does not have (`couldn't find key K
//! in Secret NS/NAME`). The kubelet retries on its own, so the container starts once the object or
//! key exists. Reads the container's waiting state only: never a Secret's data.

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::Pod;
use regex::Regex;

use super::{Ctx, containers, logs};
use crate::findings::Finding;
use crate::snapshot::pod;

pub const ID: &str = "container-config-error";

const REASON: &str = "CreateContainerConfigError";

/// The kubelet's texts (`makeEnvironmentVariables`, the secret and configmap managers).
static MISSING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\b(secret|configmap)s? "([^"]+)" not found"#).expect("regex"));
static NO_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"couldn't find key (\S+) in (Secret|ConfigMap) ([^/\s]+)/(\S+)").expect("regex")
});

/// What the kubelet's message says is missing.
#[derive(Debug, PartialEq, Eq)]
pub enum Missing {
    Object {
        kind: String,
        name: String,
    },
    Key {
        kind: String,
        name: String,
        key: String,
    },
    Other,
}

pub fn missing(message: &str) -> Missing {
    if let Some(c) = NO_KEY.captures(message) {
        return Missing::Key {
            kind: c[2].to_ascii_lowercase(),
            name: c[4].to_string(),
            key: c[1].to_string(),
        };
    }
    if let Some(c) = MISSING.captures(message) {
        return Missing::Object {
            kind: c[1].to_string(),
            name: c[2].to_string(),
        };
    }
    Missing::Other
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &ctx.snap.pods {
        for c in pod::container_statuses(p) {
            if pod::waiting_reason(c) != Some(REASON) {
                continue;
            }
            let message = c
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.message.as_deref())
                .unwrap_or("");
            out.push(finding(ctx, p, &c.name, message));
        }
    }
    out
}

fn finding(ctx: &Ctx, p: &Pod, container: &str, message: &str) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let mut f = containers::pod_finding(ctx, ID, p, container);
    f.evidence.push(ctx.text(
        ID,
        "waiting",
        &[("container", container), ("message", &logs::clip(message))],
    ));
    if let Some(r) = pod::release(p) {
        f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
    }
    let release = pod::release(p).unwrap_or("-");
    match missing(message) {
        Missing::Object { kind, name: object } => {
            let exists = match kind.as_str() {
                "configmap" => ctx.snap.config_maps.iter().any(|m| {
                    m.metadata.namespace.as_deref() == Some(ns)
                        && m.metadata.name.as_deref() == Some(object.as_str())
                }),
                _ => false,
            };
            if exists {
                // Created since the kubelet last tried: its next try starts the container.
                f.evidence
                    .push(ctx.text(ID, "exists_now", &[("kind", &kind), ("name", &object)]));
            }
            f.remediation
                .push(format!("kubectl get {kind} -n {ns} {object}"));
            let key = if pod::release(p).is_some() {
                "fix_object_release"
            } else {
                "fix_object"
            };
            f.remediation.push(ctx.text(
                ID,
                key,
                &[
                    ("kind", &kind),
                    ("name", &object),
                    ("namespace", ns),
                    ("release", release),
                ],
            ));
        }
        Missing::Key {
            kind,
            name: object,
            key,
        } => {
            // `describe` lists a Secret's keys with their sizes, never their values.
            f.remediation
                .push(format!("kubectl describe {kind} -n {ns} {object}"));
            f.remediation.push(ctx.text(
                ID,
                "fix_key",
                &[
                    ("kind", &kind),
                    ("name", &object),
                    ("key", &key),
                    ("release", release),
                ],
            ));
        }
        Missing::Other => {
            f.remediation.push(ctx.text(ID, "fix_other", &[]));
        }
    }
    f.remediation.push(ctx.text(ID, "retries", &[]));
    f.remediation
        .push(format!("kubectl describe pod -n {ns} {name}"));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubelets_messages() {
        assert_eq!(
            missing(r#"secret "bk-notice-db" not found"#),
            Missing::Object {
                kind: "secret".into(),
                name: "bk-notice-db".into()
            }
        );
        assert_eq!(
            missing(r#"configmap "bk-notice-env" not found"#),
            Missing::Object {
                kind: "configmap".into(),
                name: "bk-notice-env".into()
            }
        );
        assert_eq!(
            missing("couldn't find key REDIS_HOST in ConfigMap blueking/bk-notice-config"),
            Missing::Key {
                kind: "configmap".into(),
                name: "bk-notice-config".into(),
                key: "REDIS_HOST".into()
            }
        );
        assert_eq!(
            missing("container has runAsNonRoot and image will run as root"),
            Missing::Other
        );
    }
}
