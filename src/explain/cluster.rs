//! What the cluster says about one error of the output, live or from a snapshot: the state of the
//! release's pods, Jobs and PVCs behind a timeout, the hook Jobs behind a failed hook, the owner of an
//! object that already exists, whether the CRD of a missing kind is there (in another version?),
//! the existing release behind "cannot re-use a name", the pods behind a webhook's Service. Each
//! answer is a sentence of the entry's catalog text filled with names from the cluster data; it
//! must not decide which entry an error matches nor build the fix's commands.

use std::collections::BTreeMap;

use crate::catalog::{Catalog, RuleEntry, fill};
use crate::helm::Status;
use crate::i18n::Lang;
use crate::snapshot::{Snapshot, pod};

/// The CRD whose absence each build error names: whether the cluster has it now tells whether the
/// error still holds.
const CRDS: &[(&str, &str)] = &[
    (
        "servicemonitor-crd-missing",
        "servicemonitors.monitoring.coreos.com",
    ),
    ("bklogconfig-crd-missing", "bklogconfigs.bk.tencent.com"),
    (
        "apigateway-too-old",
        "bkgatewaypluginmetadatas.gateway.bk.tencent.com",
    ),
];

pub(super) fn crd_note(
    snap: &Snapshot,
    catalog: &Catalog,
    lang: Lang,
    rule: &str,
) -> Option<String> {
    let (_, crd) = CRDS.iter().find(|(r, _)| *r == rule)?;
    let present = snap
        .crds
        .iter()
        .any(|c| c.metadata.name.as_deref() == Some(crd));
    let key = if present {
        "explain_crd_present"
    } else {
        "explain_crd_missing"
    };
    Some(fill(catalog.ui(key, lang), &[("crd", crd)]))
}

/// The release's pods, Jobs and PVCs and their states.
pub(super) fn looked_at(
    snap: &Snapshot,
    entry: &RuleEntry,
    lang: Lang,
    release: &str,
    namespace: Option<&str>,
) -> Vec<String> {
    let text = |key: &str, vars: &[(&str, &str)]| {
        entry
            .text
            .get(key)
            .map(|t| fill(t.get(lang), vars))
            .unwrap_or_default()
    };
    let in_ns = |n: Option<&str>| namespace.is_none_or(|ns| n == Some(ns));
    let of_release = |labels: Option<&std::collections::BTreeMap<String, String>>| {
        labels.is_some_and(|l| {
            ["app.kubernetes.io/instance", "release"]
                .iter()
                .any(|k| l.get(*k).is_some_and(|v| v == release))
        })
    };
    let mut lines = Vec::new();
    for p in snap
        .pods
        .iter()
        .filter(|p| pod::releases(p).any(|r| r == release) && in_ns(Some(pod::namespace(p))))
    {
        lines.push(text(
            "pod",
            &[("name", pod::name(p)), ("state", &pod_state(p))],
        ));
    }
    for j in snap.jobs.iter().filter(|j| {
        of_release(j.metadata.labels.as_ref()) && in_ns(j.metadata.namespace.as_deref())
    }) {
        let name = j.metadata.name.as_deref().unwrap_or("?");
        lines.push(text("job", &[("name", name), ("state", &job_state(j))]));
    }
    for c in snap.pvcs.iter().filter(|c| {
        of_release(c.metadata.labels.as_ref()) && in_ns(c.metadata.namespace.as_deref())
    }) {
        let name = c.metadata.name.as_deref().unwrap_or("?");
        let phase = c
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("Unknown");
        lines.push(text("pvc", &[("name", name), ("state", phase)]));
    }
    let ns = namespace.unwrap_or("*");
    if lines.is_empty() {
        vec![text("nothing", &[("release", release)])]
    } else {
        let mut out = vec![text("looked", &[("namespace", ns)])];
        out.extend(lines);
        out
    }
}

/// `Running, not ready: CrashLoopBackOff, 3 restarts`, in kubectl's words.
fn pod_state(p: &k8s_openapi::api::core::v1::Pod) -> String {
    let mut s = pod::phase(p).to_string();
    if pod::phase(p) != "Succeeded" {
        s.push_str(if pod::is_ready(p) {
            ", ready"
        } else {
            ", not ready"
        });
    }
    let waiting: Vec<&str> = pod::container_statuses(p)
        .filter_map(pod::waiting_reason)
        .collect();
    if let Some(w) = waiting.first() {
        s.push_str(&format!(": {w}"));
    }
    let restarts = pod::restarts(p);
    if restarts > 0 {
        s.push_str(&format!(", {restarts} restarts"));
    }
    s
}

fn job_state(j: &k8s_openapi::api::batch::v1::Job) -> String {
    let st = j.status.as_ref();
    let conds = st.and_then(|s| s.conditions.as_ref());
    if let Some(c) = conds.and_then(|c| {
        c.iter()
            .find(|c| (c.type_ == "Failed" || c.type_ == "Complete") && c.status == "True")
    }) {
        return match (&c.type_[..], c.reason.as_deref()) {
            ("Failed", Some(r)) => format!("Failed: {r}"),
            (t, _) => t.to_string(),
        };
    }
    let active = st.and_then(|s| s.active).unwrap_or(0);
    let failed = st.and_then(|s| s.failed).unwrap_or(0);
    format!("{active} active, {failed} failed")
}

/// The value of a name in `vars`, if the text or the cluster gave it.
fn var<'a>(vars: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    vars.iter()
        .find(|(k, v)| *k == key && !v.is_empty())
        .map(|(_, v)| *v)
}

/// The providers of the custom kinds BlueKing's charts create: which release or helmfile to sync
/// first. Other kinds come from outside BlueKing; the cluster data says whether their CRD is there.
const PROVIDERS: &[(&str, &str)] = &[
    (
        "ServiceMonitor",
        "04-bkmonitor-operator.yaml.gotmpl (bkmonitor-operator)",
    ),
    (
        "PodMonitor",
        "04-bkmonitor-operator.yaml.gotmpl (bkmonitor-operator)",
    ),
    (
        "PrometheusRule",
        "04-bkmonitor-operator.yaml.gotmpl (bkmonitor-operator)",
    ),
    (
        "DataID",
        "04-bkmonitor-operator.yaml.gotmpl (bkmonitor-operator)",
    ),
    (
        "BkLogConfig",
        "04-bklog-collector.yaml.gotmpl (bklog-collector)",
    ),
    (
        "BkGatewayPluginMetadata",
        "bk-apigateway 0.4.57 or later (base-blueking.yaml.gotmpl)",
    ),
];

/// What the cluster said: sentences, names it adds for the fix (the hook Job found), and the fix's
/// templates when the cluster's state decides which commands are right.
pub(super) type Asked = (Vec<String>, Vec<(String, String)>, Option<Vec<String>>);

/// What the cluster (when read) and the names of the error say beyond the entry's explanation.
pub(super) fn asked(
    snap: Option<&Snapshot>,
    entry: &RuleEntry,
    lang: Lang,
    vars: &[(&str, &str)],
) -> Asked {
    let say = |key: &str, extra: &[(&str, &str)]| {
        let mut v: Vec<(&str, &str)> = extra.to_vec();
        v.extend_from_slice(vars);
        entry
            .text
            .get(key)
            .map(|t| fill(t.get(lang), &v))
            .unwrap_or_default()
    };
    let mut notes = Vec::new();
    let mut more = Vec::new();
    let mut fix: Option<Vec<String>> = None;
    let release = var(vars, "release").filter(|r| *r != "RELEASE");
    let namespace = var(vars, "namespace").filter(|n| *n != "NAMESPACE");
    match entry.id.as_str() {
        "crd-kind-missing" => {
            let Some(kind) = var(vars, "crdkind") else {
                return (notes, more, fix);
            };
            if let Some(snap) = snap {
                let crd = snap.crds.iter().find(|c| c.spec.names.kind == kind);
                match crd {
                    Some(c) => {
                        let versions: Vec<String> = c
                            .spec
                            .versions
                            .iter()
                            .filter(|v| v.served)
                            .map(|v| format!("{}/{}", c.spec.group, v.name))
                            .collect();
                        let name = c.metadata.name.as_deref().unwrap_or("?");
                        notes.push(say(
                            "crd_served",
                            &[("crd", name), ("versions", &versions.join(", "))],
                        ));
                    }
                    None => notes.push(say("crd_absent", &[])),
                }
            }
            if let Some((_, p)) = PROVIDERS.iter().find(|(k, _)| *k == kind) {
                notes.push(say("provider", &[("provider", p)]));
            }
        }
        "helm-name-in-use" => {
            let (Some(snap), Some(r)) = (snap, release) else {
                return (notes, more, fix);
            };
            let found: Vec<_> = snap
                .releases()
                .into_iter()
                .filter(|x| x.name == r)
                .collect();
            for rel in &found {
                let l = rel.latest();
                notes.push(say(
                    "status",
                    &[
                        ("ns", &rel.namespace),
                        ("revision", &l.revision.to_string()),
                        ("status", &l.status),
                    ],
                ));
            }
            if found.is_empty() {
                notes.push(say("none", &[]));
            }
            // One record: its state says which fix is right.
            if let [rel] = found.as_slice() {
                let status = rel.latest().status();
                let good = rel.last_good();
                fix = Some(match (status, good) {
                    (Status::Deployed, _) => vec![
                        "helm list -A -a --filter '^{release}$'".into(),
                        "{text.if_deployed}".into(),
                        "kubectl config current-context".into(),
                    ],
                    (Status::PendingUpgrade | Status::PendingRollback, _) => {
                        return (notes, more, None);
                    }
                    (_, Some(g)) => vec![
                        "helm history -n {namespace} {release}".into(),
                        format!("helm rollback -n {{namespace}} {{release}} {}", g.revision),
                        "{text.then_sync}".into(),
                    ],
                    (_, None) => vec![
                        "helm history -n {namespace} {release}".into(),
                        "helm uninstall -n {namespace} {release}".into(),
                        "{text.then_sync}".into(),
                    ],
                });
            }
        }
        "helm-hook-failed" | "helm-hook-timed-out" => {
            let named = var(vars, "job");
            let Some(snap) = snap.filter(|_| release.is_some() || named.is_some()) else {
                return (notes, more, fix);
            };
            let r = release.unwrap_or_default();
            let hooks: Vec<_> = snap
                .jobs
                .iter()
                .filter(|j| namespace.is_none_or(|ns| j.metadata.namespace.as_deref() == Some(ns)))
                .filter(|j| {
                    let name = j.metadata.name.as_deref().unwrap_or_default();
                    let is_hook = j
                        .metadata
                        .annotations
                        .as_ref()
                        .is_some_and(|a| a.contains_key("helm.sh/hook"));
                    named == Some(name)
                        || (is_hook
                            && release.is_some()
                            && (of_release(j.metadata.labels.as_ref(), r) || name.starts_with(r)))
                })
                .collect();
            for j in &hooks {
                let name = j.metadata.name.as_deref().unwrap_or("?");
                let mut state = job_state(j);
                for p in snap.pods.iter().filter(|p| {
                    pod::namespace(p) == j.metadata.namespace.as_deref().unwrap_or_default()
                        && p.metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get("job-name"))
                            .is_some_and(|n| n == name)
                }) {
                    state.push_str(&format!("; pod {}: {}", pod::name(p), pod_state(p)));
                }
                notes.push(say("hook_job", &[("name", name), ("state", &state)]));
            }
            match hooks.as_slice() {
                [] => notes.push(say("no_job", &[])),
                [one] if named.is_none() => {
                    let name = one.metadata.name.clone().unwrap_or_default();
                    more.push(("job".to_string(), name));
                }
                _ => {}
            }
        }
        "helm-resource-exists" => {
            let (Some(snap), Some(kind), Some(object)) =
                (snap, var(vars, "kind"), var(vars, "object"))
            else {
                return (notes, more, fix);
            };
            let ns = var(vars, "objns");
            match object_meta(snap, kind, object, ns) {
                Some(meta) => {
                    let ann = |k: &str| {
                        meta.annotations
                            .as_ref()
                            .and_then(|a| a.get(k))
                            .map(String::as_str)
                    };
                    let managed = meta
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("app.kubernetes.io/managed-by"))
                        .map_or("-", String::as_str);
                    match ann("meta.helm.sh/release-name") {
                        Some(cur) => {
                            let curns = ann("meta.helm.sh/release-namespace").unwrap_or("-");
                            let v = [("cur", cur), ("curns", curns), ("managed", managed)];
                            notes.push(say("owned_by", &v));
                            // Whether its owner still exists tells a leftover from a conflict.
                            let alive = snap
                                .releases()
                                .into_iter()
                                .any(|r| r.name == cur && r.namespace == curns);
                            notes.push(say(if alive { "owner_alive" } else { "owner_gone" }, &v));
                        }
                        None => notes.push(say("unowned", &[])),
                    }
                }
                None => notes.push(say("absent", &[])),
            }
        }
        "admission-webhook-unreachable" => {
            let (Some(snap), Some(svc), Some(ns)) =
                (snap, var(vars, "service"), var(vars, "svcns"))
            else {
                return (notes, more, fix);
            };
            let found = snap.services.iter().find(|s| {
                s.metadata.name.as_deref() == Some(svc)
                    && s.metadata.namespace.as_deref() == Some(ns)
            });
            match found {
                Some(s) => {
                    let selector = s
                        .spec
                        .as_ref()
                        .and_then(|s| s.selector.clone())
                        .unwrap_or_default();
                    let selected: Vec<_> = snap
                        .pods
                        .iter()
                        .filter(|p| {
                            pod::namespace(p) == ns
                                && !selector.is_empty()
                                && selector.iter().all(|(k, v)| {
                                    p.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v)
                                })
                        })
                        .collect();
                    let ready = selected.iter().filter(|p| pod::is_ready(p)).count();
                    notes.push(say(
                        "service",
                        &[
                            ("ready", &ready.to_string()),
                            ("pods", &selected.len().to_string()),
                        ],
                    ));
                }
                None => notes.push(say("no_service", &[])),
            }
        }
        _ => {}
    }
    (notes, more, fix)
}

fn of_release(labels: Option<&BTreeMap<String, String>>, release: &str) -> bool {
    labels.is_some_and(|l| {
        ["app.kubernetes.io/instance", "release"]
            .iter()
            .any(|k| l.get(*k).is_some_and(|v| v == release))
    })
}

/// The metadata of an object of the kinds the snapshot holds.
fn object_meta<'s>(
    snap: &'s Snapshot,
    kind: &str,
    name: &str,
    ns: Option<&str>,
) -> Option<&'s k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta> {
    macro_rules! find {
        ($list:expr) => {
            $list.iter().map(|o| &o.metadata).find(|m| {
                m.name.as_deref() == Some(name)
                    && ns.is_none_or(|n| m.namespace.as_deref().is_none_or(|x| x == n))
            })
        };
    }
    match kind.to_ascii_lowercase().as_str() {
        "service" => find!(snap.services),
        "configmap" => find!(snap.config_maps),
        "deployment" => find!(snap.deployments),
        "statefulset" => find!(snap.stateful_sets),
        "daemonset" => find!(snap.daemon_sets),
        "job" => find!(snap.jobs),
        "persistentvolumeclaim" => find!(snap.pvcs),
        "ingress" => find!(snap.ingresses),
        "customresourcedefinition" => find!(snap.crds),
        "namespace" => find!(snap.namespaces),
        "storageclass" => find!(snap.storage_classes),
        _ => None,
    }
}

/// The state of a release no entry explains: each namespace's newest revision, and helm's
/// description of it (its own words for what went wrong).
pub(super) fn release_state(
    snap: &Snapshot,
    catalog: &Catalog,
    lang: Lang,
    release: &str,
) -> Vec<String> {
    let found: Vec<_> = snap
        .releases()
        .into_iter()
        .filter(|r| r.name == release)
        .collect();
    if found.is_empty() {
        return vec![fill(
            catalog.ui("explain_release_absent", lang),
            &[("release", release)],
        )];
    }
    found
        .iter()
        .map(|r| {
            let l = r.latest();
            let description = l
                .description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            fill(
                catalog.ui("explain_release_state", lang),
                &[
                    ("release", release),
                    ("ns", &r.namespace),
                    ("revision", &l.revision.to_string()),
                    ("status", &l.status),
                    ("description", &description),
                ],
            )
        })
        .collect()
}
