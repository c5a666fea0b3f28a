//! `ingress-snippet-disabled`: ingress-nginx refuses the `configuration-snippet` annotation that
//! bk-apigateway's ingresses carry, so installing bk-apigateway fails with `admission webhook
//! "validate.nginx.ingress.kubernetes.io" denied the request: ... Snippet directives are disabled by
//! the Ingress administrator` (guide: bk-apigateway 部署报错 Snippet directives are disabled).
//!
//! ingress-nginx reads `allow-snippet-annotations` from the ConfigMap named by its `--configmap` flag
//! (kubernetes/ingress-nginx#7837). Operators may set it to "false" since 0.49.1; from controller
//! v1.9.0 "false" is also the default. From v1.12.0 `annotations-risk-level` (default `High`) must
//! also be `Critical`, the level of `configuration-snippet`, or the annotation is still refused.
//!
//! When it matters: a release that failed with that message is always reported. Otherwise the
//! setting is reported only while BlueKing is being deployed and bk-apigateway is not deployed yet
//! (absent, failed or pending): the guide's own advice is to set it back to "false" once BlueKing is
//! deployed, so a cluster with bk-apigateway running and snippets off is the intended end state, not
//! a problem.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Ctx;
use super::version::{Version, image_tag};
use crate::findings::{self, Finding, Severity};
use crate::helm::{Release, Status};

pub const ID: &str = "ingress-snippet-disabled";

const MESSAGE: &str = "Snippet directives are disabled by the Ingress administrator";
const ALLOW: &str = "allow-snippet-annotations";
const RISK: &str = "annotations-risk-level";
/// The chart's and the static manifests' name when the controller runs without `--configmap`.
const DEFAULT_CONFIGMAP: (&str, &str) = ("ingress-nginx", "ingress-nginx-controller");
const APIGATEWAY: &str = "bk-apigateway";

/// An ingress-nginx controller found in the snapshot.
#[derive(Debug, Clone)]
pub struct Controller {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub version: Option<Version>,
    pub version_text: String,
    pub configmap: (String, String),
}

fn is_controller(c: &Container) -> bool {
    let image = c.image.as_deref().unwrap_or("");
    image.contains("ingress-nginx/controller")
        || image.contains("nginx-ingress-controller")
        || c.args
            .iter()
            .flatten()
            .chain(c.command.iter().flatten())
            .any(|a| a.ends_with("/nginx-ingress-controller"))
}

/// `--configmap=$(POD_NAMESPACE)/ingress-nginx-controller` → (namespace, name). Kubernetes expands
/// `$(VAR)` in args from the container's env; the charts set POD_NAMESPACE from the pod's own
/// namespace through the downward API.
fn configmap_arg(c: &Container, namespace: &str) -> Option<(String, String)> {
    let args: Vec<&str> = c
        .command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .map(String::as_str)
        .collect();
    let raw = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--configmap=")
            .or_else(|| a.strip_prefix("-configmap="))
            .or_else(|| {
                (*a == "--configmap")
                    .then(|| args.get(i + 1).copied())
                    .flatten()
            })
    })?;
    let mut value = raw.to_string();
    for e in c.env.iter().flatten() {
        let from_namespace = e
            .value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .is_some_and(|f| f.field_path == "metadata.namespace");
        let v = match (&e.value, from_namespace) {
            (Some(v), _) => v.as_str(),
            (None, true) => namespace,
            _ => continue,
        };
        value = value.replace(&format!("$({})", e.name), v);
    }
    value = value.replace("$(POD_NAMESPACE)", namespace);
    match value.split_once('/') {
        Some((ns, name)) => Some((ns.to_string(), name.to_string())),
        None => Some((namespace.to_string(), value)),
    }
}

fn controller_of(
    kind: &'static str,
    meta: &ObjectMeta,
    template: Option<&PodTemplateSpec>,
) -> Option<Controller> {
    let namespace = meta.namespace.clone().unwrap_or_default();
    let c = template?
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| is_controller(c))?;
    let tag = c.image.as_deref().and_then(image_tag);
    let label = meta
        .labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/version"))
        .map(String::as_str);
    let version_text = tag
        .filter(|t| Version::parse(t).is_some())
        .or(label)
        .unwrap_or("?")
        .to_string();
    let configmap = configmap_arg(c, &namespace).unwrap_or((
        DEFAULT_CONFIGMAP.0.to_string(),
        DEFAULT_CONFIGMAP.1.to_string(),
    ));
    Some(Controller {
        kind,
        name: meta.name.clone().unwrap_or_default(),
        namespace,
        version: Version::parse(&version_text),
        version_text,
        configmap,
    })
}

pub fn controllers(ctx: &Ctx) -> Vec<Controller> {
    let snap = ctx.snap;
    let deployments = snap.deployments.iter().filter_map(|d| {
        controller_of(
            "deployment",
            &d.metadata,
            d.spec.as_ref().map(|s| &s.template),
        )
    });
    let daemon_sets = snap.daemon_sets.iter().filter_map(|d| {
        controller_of(
            "daemonset",
            &d.metadata,
            d.spec.as_ref().map(|s| &s.template),
        )
    });
    deployments.chain(daemon_sets).collect()
}

/// Go's `strconv.ParseBool`, which ingress-nginx uses for boolean settings.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// What in a controller's configuration refuses snippets. `data` is `None` when the ConfigMap's
/// namespace was not collected (unknown), `Some(empty)` when the ConfigMap does not exist (defaults).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Refusal {
    /// The allow setting refuses: `Some(value)` set explicitly, `Some("")` by the v1.9+ default.
    pub allow: Option<String>,
    /// v1.12+: the risk level is below Critical (`""` when unset, i.e. the default High).
    pub risk: Option<String>,
}

impl Refusal {
    pub fn refuses(&self) -> bool {
        self.allow.is_some() || self.risk.is_some()
    }
}

/// Without a version only an explicit "false" is certain to refuse: before v1.9 the default allowed
/// snippets.
pub fn refusal(version: Option<&Version>, data: &BTreeMap<String, String>) -> Refusal {
    let v19 = version.is_some_and(|v| v.at_least(&[1, 9]));
    let v112 = version.is_some_and(|v| v.at_least(&[1, 12]));
    let allow = match data.get(ALLOW) {
        Some(v) if parse_bool(v.trim()) == Some(true) => None,
        Some(v) if parse_bool(v.trim()) == Some(false) || v19 => Some(v.clone()),
        Some(_) => None,
        None if v19 => Some(String::new()),
        None => None,
    };
    let risk = match data.get(RISK) {
        _ if !v112 => None,
        Some(v) if v.trim() == "Critical" => None,
        Some(v) => Some(v.clone()),
        None => Some(String::new()),
    };
    Refusal { allow, risk }
}

/// A controller's ConfigMap as the snapshot has it: `None` when its namespace's ConfigMaps were not
/// collected at all. Every namespace holds `kube-root-ca.crt`, so an empty namespace means "not
/// collected", not "no ConfigMap".
fn configmap_data(ctx: &Ctx, ns: &str, name: &str) -> Option<Option<BTreeMap<String, String>>> {
    let in_ns: Vec<_> = ctx
        .snap
        .config_maps
        .iter()
        .filter(|c| c.metadata.namespace.as_deref() == Some(ns))
        .collect();
    if in_ns.is_empty() {
        return None;
    }
    Some(
        in_ns
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .map(|c| c.data.clone().unwrap_or_default()),
    )
}

fn is_apigateway(r: &Release) -> bool {
    r.name == APIGATEWAY || r.latest().chart.as_deref() == Some(APIGATEWAY)
}

/// BlueKing's charts and releases are all named `bk-*`; without any, snippets are someone else's
/// business.
fn is_blueking(r: &Release) -> bool {
    r.name.starts_with("bk-")
        || r.latest()
            .chart
            .as_deref()
            .is_some_and(|c| c.starts_with("bk-"))
}

/// One controller with what the snapshot says about its ConfigMap.
struct Config {
    ctl: Option<Controller>,
    cm: (String, String),
    /// `None`: not collected; `Some(None)`: the ConfigMap does not exist.
    data: Option<Option<BTreeMap<String, String>>>,
    refusal: Refusal,
}

fn configs(ctx: &Ctx) -> Vec<Config> {
    let mut out: Vec<Config> = controllers(ctx)
        .into_iter()
        .map(|ctl| {
            let cm = ctl.configmap.clone();
            let data = configmap_data(ctx, &cm.0, &cm.1);
            let refusal = match &data {
                Some(d) => refusal(ctl.version.as_ref(), &d.clone().unwrap_or_default()),
                None => Refusal::default(),
            };
            Config {
                ctl: Some(ctl),
                cm,
                data,
                refusal,
            }
        })
        .collect();
    if out.is_empty() {
        let cm = (
            DEFAULT_CONFIGMAP.0.to_string(),
            DEFAULT_CONFIGMAP.1.to_string(),
        );
        let data = configmap_data(ctx, &cm.0, &cm.1);
        // No controller object: its version is unknown, so only an explicit "false" counts.
        let refusal = match &data {
            Some(Some(d)) => refusal(None, d),
            _ => Refusal::default(),
        };
        out.push(Config {
            ctl: None,
            cm,
            data,
            refusal,
        });
    }
    out
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let configs = configs(ctx);
    let mut out = Vec::new();

    let failed: Vec<&Release> = ctx
        .releases
        .iter()
        .filter(|r| r.latest_failed_with(MESSAGE))
        .collect();
    for rel in &failed {
        let latest = rel.latest();
        let mut f = ctx.finding(
            ID,
            Some(&rel.namespace),
            format!("release/{}", rel.name),
            &[("release", &rel.name)],
        );
        f.severity = Severity::Error;
        f.evidence.push(ctx.text(
            ID,
            "release_failed",
            &[
                ("release", &rel.name),
                ("revision", &latest.revision.to_string()),
                ("description", latest.description.as_deref().unwrap_or("")),
            ],
        ));
        let refusing: Vec<&Config> = configs.iter().filter(|c| c.refusal.refuses()).collect();
        if refusing.is_empty() {
            // Nothing in the snapshot refuses (any more): either it was fixed since, or the
            // ConfigMap was not collected. Patch the one the controller reads either way.
            for c in &configs {
                describe(ctx, &mut f, c);
                if matches!(c.data, Some(Some(_))) {
                    f.evidence.push(ctx.text(
                        ID,
                        "now_allowed",
                        &[("cm", &format!("{}/{}", c.cm.0, c.cm.1))],
                    ));
                }
            }
            let c = &configs[0];
            let v112 = c
                .ctl
                .as_ref()
                .and_then(|c| c.version.as_ref())
                .is_some_and(|v| v.at_least(&[1, 12]));
            let assumed = Refusal {
                allow: Some("false".into()),
                risk: v112.then(String::new),
            };
            fix(ctx, &mut f, &c.cm, c.data.as_ref(), &assumed);
        } else {
            for c in &refusing {
                describe(ctx, &mut f, c);
                fix(ctx, &mut f, &c.cm, c.data.as_ref(), &c.refusal);
            }
        }
        out.push(f);
    }
    if !failed.is_empty() {
        return out;
    }

    if !ctx.releases.iter().any(is_blueking) {
        return out;
    }
    let apigateway = ctx.releases.iter().find(|r| is_apigateway(r));
    if apigateway.is_some_and(|r| r.latest().status() == Status::Deployed) {
        return out;
    }
    for c in configs.iter().filter(|c| c.refusal.refuses()) {
        let mut f = ctx.finding(
            ID,
            Some(&c.cm.0),
            format!("configmap/{}", c.cm.1),
            &[(
                "release",
                apigateway.map_or(APIGATEWAY, |r| r.name.as_str()),
            )],
        );
        describe(ctx, &mut f, c);
        match apigateway {
            Some(r) => f.evidence.push(ctx.text(
                ID,
                "apigateway_status",
                &[
                    ("release", &r.name),
                    ("status", r.latest().status().as_str()),
                ],
            )),
            None => f.evidence.push(ctx.text(ID, "apigateway_missing", &[])),
        }
        fix(ctx, &mut f, &c.cm, c.data.as_ref(), &c.refusal);
        out.push(f);
    }
    out
}

fn describe(ctx: &Ctx, f: &mut Finding, c: &Config) {
    let cm = format!("{}/{}", c.cm.0, c.cm.1);
    match &c.ctl {
        Some(ctl) => f.evidence.push(ctx.text(
            ID,
            "controller",
            &[
                ("controller", &format!("{}/{}", ctl.kind, ctl.name)),
                ("namespace", &ctl.namespace),
                ("version", &ctl.version_text),
                ("cm", &cm),
            ],
        )),
        None => f
            .evidence
            .push(ctx.text(ID, "no_controller", &[("cm", &cm)])),
    }
    match &c.data {
        None => f
            .evidence
            .push(ctx.text(ID, "not_collected", &[("cm", &cm)])),
        Some(None) => f.evidence.push(ctx.text(ID, "cm_missing", &[("cm", &cm)])),
        Some(Some(_)) => {}
    }
    match c.refusal.allow.as_deref() {
        Some("") => f
            .evidence
            .push(ctx.text(ID, "allow_default", &[("cm", &cm)])),
        Some(v) => f
            .evidence
            .push(ctx.text(ID, "allow_false", &[("cm", &cm), ("value", v)])),
        None => {}
    }
    if let Some(v) = c.refusal.risk.as_deref() {
        let shown = if v.is_empty() { "High" } else { v };
        f.evidence
            .push(ctx.text(ID, "risk", &[("cm", &cm), ("value", shown)]));
    }
}

/// The JSON merge patch that sets what refuses to what allows, and the one that restores the values
/// found (`null` removes a key that was not set, bringing back the default). The restore must wait
/// until BlueKing is deployed: run at once it would undo the fix, so it is quoted in a `#` line.
fn fix(
    ctx: &Ctx,
    f: &mut Finding,
    cm: &(String, String),
    data: Option<&Option<BTreeMap<String, String>>>,
    r: &Refusal,
) {
    let (ns, name) = (cm.0.as_str(), cm.1.as_str());
    let old = |k: &str| {
        data.and_then(|d| d.as_ref())
            .and_then(|d| d.get(k))
            .cloned()
    };
    let json_str = |v: &str| serde_json::Value::String(v.to_string()).to_string();
    let restore = |k: &str, fallback: &str| match old(k) {
        Some(v) => json_str(&v),
        None if data.is_some_and(|d| d.is_some()) => "null".to_string(),
        None => fallback.to_string(),
    };
    let mut allow = vec![format!("\"{ALLOW}\":\"true\"")];
    let mut back = vec![format!("\"{ALLOW}\":{}", restore(ALLOW, "\"false\""))];
    if r.risk.is_some() {
        allow.push(format!("\"{RISK}\":\"Critical\""));
        back.push(format!("\"{RISK}\":{}", restore(RISK, "null")));
    }
    if matches!(data, Some(None)) {
        // The ConfigMap does not exist: patching would fail, create it, and remove it afterwards.
        let mut create =
            format!("kubectl create configmap -n {ns} {name} --from-literal={ALLOW}=true");
        if r.risk.is_some() {
            create.push_str(&format!(" --from-literal={RISK}=Critical"));
        }
        f.remediation.push(create);
        f.remediation.push(ctx.text(ID, "then_retry", &[]));
        f.remediation.push(ctx.text(ID, "set_back", &[]));
        f.remediation.push(findings::later(&format!(
            "kubectl delete configmap -n {ns} {name}"
        )));
        return;
    }
    f.remediation.push(format!(
        "kubectl patch configmap -n {ns} {name} --type merge -p '{{\"data\":{{{}}}}}'",
        allow.join(",")
    ));
    f.remediation.push(ctx.text(ID, "then_retry", &[]));
    f.remediation.push(ctx.text(ID, "set_back", &[]));
    f.remediation.push(findings::later(&format!(
        "kubectl patch configmap -n {ns} {name} --type merge -p '{{\"data\":{{{}}}}}'",
        back.join(",")
    )));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn v(s: &str) -> Option<Version> {
        Version::parse(s)
    }

    fn container(args: &[&str], env: &[(&str, Option<&str>)]) -> Container {
        use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector};
        Container {
            name: "controller".into(),
            args: Some(args.iter().map(|a| a.to_string()).collect()),
            env: Some(
                env.iter()
                    .map(|(n, v)| EnvVar {
                        name: n.to_string(),
                        value: v.map(str::to_string),
                        value_from: v.is_none().then(|| EnvVarSource {
                            field_ref: Some(ObjectFieldSelector {
                                field_path: "metadata.namespace".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn configmap_flag_is_expanded_from_the_pods_namespace() {
        let pair = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        let c = container(
            &[
                "/nginx-ingress-controller",
                "--configmap=$(POD_NAMESPACE)/nginx-conf",
            ],
            &[("POD_NAMESPACE", None)],
        );
        assert!(is_controller(&c));
        assert_eq!(
            configmap_arg(&c, "kube-ingress"),
            pair("kube-ingress", "nginx-conf")
        );
        // An env var of another name, and the separate-argument form of the flag.
        let c = container(
            &["--configmap", "$(MY_NS)/ingress-nginx-controller"],
            &[("MY_NS", Some("edge"))],
        );
        assert_eq!(
            configmap_arg(&c, "x"),
            pair("edge", "ingress-nginx-controller")
        );
        // No namespace in the flag: the controller's own.
        let c = container(&["--configmap=nginx-conf"], &[]);
        assert_eq!(configmap_arg(&c, "ingress"), pair("ingress", "nginx-conf"));
        let c = container(&["/nginx-ingress-controller"], &[]);
        assert_eq!(configmap_arg(&c, "ingress"), None);
    }

    #[test]
    fn explicit_false_refuses_on_any_version() {
        let d = data(&[(ALLOW, "false")]);
        assert!(refusal(v("0.49.3").as_ref(), &d).refuses());
        assert!(refusal(None, &d).refuses());
        assert!(refusal(v("v1.11.3").as_ref(), &d).refuses());
    }

    #[test]
    fn unset_refuses_only_from_v1_9() {
        let d = data(&[]);
        assert!(!refusal(v("0.49.3").as_ref(), &d).refuses());
        assert!(!refusal(v("v1.8.5").as_ref(), &d).refuses());
        assert!(!refusal(None, &d).refuses());
        assert_eq!(
            refusal(v("v1.9.0").as_ref(), &d),
            Refusal {
                allow: Some(String::new()),
                risk: None
            }
        );
    }

    #[test]
    fn v1_12_needs_critical_risk_level_too() {
        let allow = data(&[(ALLOW, "true")]);
        assert!(!refusal(v("v1.11.5").as_ref(), &allow).refuses());
        assert_eq!(
            refusal(v("v1.12.1").as_ref(), &allow).risk.as_deref(),
            Some("")
        );
        let high = data(&[(ALLOW, "true"), (RISK, "High")]);
        assert_eq!(
            refusal(v("v1.12.1").as_ref(), &high).risk.as_deref(),
            Some("High")
        );
        let ok = data(&[(ALLOW, "True"), (RISK, "Critical")]);
        assert!(!refusal(v("v1.13.0").as_ref(), &ok).refuses());
    }
}
