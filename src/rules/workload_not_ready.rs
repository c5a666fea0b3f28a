//! `workload-not-ready`: a Deployment, StatefulSet or DaemonSet short of its pods that no finding
//! about its pods explains: its `Progressing` condition says `ProgressDeadlineExceeded`, its
//! `ReplicaFailure` says a create is refused, or pods of it have not been ready for longer than its
//! controller takes. Also a StatefulSet whose `serviceName` Service does not exist (its pods get no
//! DNS names) or whose volumeClaimTemplates name a StorageClass that does not exist.
//! Runs after every pod rule and says nothing a finding about its pods or ReplicaSet already says;
//! a workload younger than its controller's normal time is not reported.

use std::collections::HashSet;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::workload_create_failed::owns_replica_set;
use super::{Ctx, workloads};
use crate::findings::{Finding, Severity};
use crate::snapshot::{meta, pod};

pub const ID: &str = "workload-not-ready";

/// How long a pod may take to become ready before its workload is short: a Deployment's default
/// `progressDeadlineSeconds`.
const DEADLINE_SECS: i64 = 600;
/// Pods named in the evidence.
const NAMED: usize = 5;

/// What one workload's controller reports, reduced to what the rule reads.
struct Shape<'a> {
    kind: &'static str,
    meta: &'a ObjectMeta,
    ready: i32,
    want: i32,
    selector: Option<&'a LabelSelector>,
    /// (type, reason, message) of conditions that say the rollout is stuck.
    stuck: Vec<(String, String, String)>,
    deadline: i64,
}

pub fn check(ctx: &Ctx, earlier: &[Finding]) -> Vec<Finding> {
    let covered: HashSet<(&str, &str)> = earlier
        .iter()
        .flat_map(|f| f.covers.iter())
        .map(|(ns, p)| (ns.as_str(), p.as_str()))
        .collect();
    let mut out = Vec::new();
    for d in &ctx.snap.deployments {
        out.extend(judge(ctx, earlier, &covered, deployment(d), Vec::new()));
    }
    for s in &ctx.snap.stateful_sets {
        let extra = stateful_set_gaps(ctx, earlier, s);
        out.extend(judge(ctx, earlier, &covered, stateful_set(s), extra));
    }
    for d in &ctx.snap.daemon_sets {
        out.extend(judge(ctx, earlier, &covered, daemon_set(d), Vec::new()));
    }
    out
}

fn deployment(d: &Deployment) -> Shape<'_> {
    let spec = d.spec.as_ref();
    let status = d.status.as_ref();
    let stuck = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| {
            (c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
                || (c.type_ == "ReplicaFailure" && c.status == "True")
        })
        .map(|c| {
            (
                c.type_.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
        .collect();
    Shape {
        kind: "Deployment",
        meta: &d.metadata,
        ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        want: spec.and_then(|s| s.replicas).unwrap_or(1),
        selector: spec.map(|s| &s.selector),
        stuck,
        deadline: spec
            .and_then(|s| s.progress_deadline_seconds)
            .map(i64::from)
            .unwrap_or(DEADLINE_SECS),
    }
}

fn stateful_set(s: &StatefulSet) -> Shape<'_> {
    let spec = s.spec.as_ref();
    Shape {
        kind: "StatefulSet",
        meta: &s.metadata,
        ready: s
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0),
        want: spec.and_then(|s| s.replicas).unwrap_or(1),
        selector: spec.map(|s| &s.selector),
        stuck: Vec::new(),
        deadline: DEADLINE_SECS,
    }
}

fn daemon_set(d: &DaemonSet) -> Shape<'_> {
    let (ready, want) = d
        .status
        .as_ref()
        .map(|s| (s.number_ready, s.desired_number_scheduled))
        .unwrap_or((0, 0));
    Shape {
        kind: "DaemonSet",
        meta: &d.metadata,
        ready,
        want,
        selector: d.spec.as_ref().map(|s| &s.selector),
        stuck: Vec::new(),
        deadline: DEADLINE_SECS,
    }
}

/// Does an earlier finding speak of this workload itself (or its ReplicaSet)?
fn named_by(earlier: &[Finding], ns: &str, kind: &str, name: &str) -> bool {
    let own = workloads::object(kind, name);
    earlier.iter().any(|f| {
        f.namespace.as_deref() == Some(ns)
            && (f.object == own
                || (kind == "Deployment"
                    && f.object
                        .strip_prefix("replicaset/")
                        .is_some_and(|rs| owns_replica_set(name, rs))))
    })
}

fn age_secs(ctx: &Ctx, m: &ObjectMeta) -> i64 {
    m.creation_timestamp
        .as_ref()
        .map(|t| ctx.now.as_second() - t.0.as_second())
        .unwrap_or(i64::MAX)
}

fn judge(
    ctx: &Ctx,
    earlier: &[Finding],
    covered: &HashSet<(&str, &str)>,
    w: Shape,
    extra: Vec<(String, Vec<String>)>,
) -> Option<Finding> {
    let (ns, name) = (meta::namespace(w.meta), meta::name(w.meta));
    let short = w.ready < w.want;
    if !short && w.stuck.is_empty() && extra.is_empty() {
        return None;
    }
    let pods: Vec<&Pod> = workloads::pods_of(ctx.snap, ns, w.kind, name).collect();
    let unexplained: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| !pod::is_ready(p) && pod::phase(p) != "Failed")
        .filter(|p| !covered.contains(&(pod::namespace(p), pod::name(p))))
        .collect();
    let explained = named_by(earlier, ns, w.kind, name)
        || pods
            .iter()
            .any(|p| covered.contains(&(pod::namespace(p), pod::name(p))));
    // Pods that have had their controller's normal time to become ready.
    let overdue: Vec<&Pod> = unexplained
        .iter()
        .copied()
        .filter(|p| age_secs(ctx, &p.metadata) >= w.deadline)
        .collect();
    let missing = short && pods.len() < w.want as usize && age_secs(ctx, w.meta) >= w.deadline;
    let stuck = !w.stuck.is_empty() && !explained;
    let slow = short && (!overdue.is_empty() || (missing && !explained));
    if !stuck && !slow && extra.is_empty() {
        return None;
    }
    let object = workloads::object(w.kind, name);
    let mut f = ctx.finding(
        ID,
        Some(ns),
        object.clone(),
        &[
            ("object", &object),
            ("ready", &w.ready.to_string()),
            ("want", &w.want.to_string()),
        ],
    );
    if !stuck && !slow {
        // Only a gap in its spec: its pods run, but not as they should.
        f.severity = Severity::Warning;
        f.title = ctx.text(ID, "title_spec", &[("object", &object)]);
    }
    f.evidence.push(ctx.text(
        ID,
        "counts",
        &[
            ("ready", &w.ready.to_string()),
            ("want", &w.want.to_string()),
        ],
    ));
    if let Some(r) = meta::releases(w.meta).next() {
        f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
    }
    for (type_, reason, message) in &w.stuck {
        f.evidence.push(ctx.text(
            ID,
            "condition",
            &[("type", type_), ("reason", reason), ("message", message)],
        ));
    }
    if missing && !explained {
        f.evidence.push(ctx.text(
            ID,
            "missing",
            &[
                ("have", &pods.len().to_string()),
                ("want", &w.want.to_string()),
            ],
        ));
    }
    let named: Vec<&Pod> = if overdue.is_empty() {
        unexplained.clone()
    } else {
        overdue.clone()
    };
    for p in named.iter().take(NAMED) {
        f.evidence.push(ctx.text(
            ID,
            "pod",
            &[("pod", pod::name(p)), ("state", &pod_state(p))],
        ));
    }
    f.evidence.extend(extra.iter().map(|(e, _)| e.clone()));

    let kind = w.kind.to_ascii_lowercase();
    f.remediation
        .push(format!("kubectl describe {kind} -n {ns} {name}"));
    if let Some(sel) = w.selector.and_then(selector) {
        f.remediation
            .push(format!("kubectl get pods -n {ns} -l {sel} -o wide"));
    }
    if let Some(p) = named.first() {
        f.remediation
            .push(format!("kubectl describe pod -n {ns} {}", pod::name(p)));
    }
    for (type_, _, message) in &w.stuck {
        if type_ != "ReplicaFailure" {
            continue;
        }
        match missing_service_account(message) {
            Some(sa) => {
                f.remediation
                    .push(format!("kubectl get serviceaccount -n {ns} {sa}"));
                f.remediation.push(ctx.text(
                    ID,
                    "fix_service_account",
                    &[("sa", sa), ("namespace", ns)],
                ));
            }
            None => f.remediation.push(format!(
                "kubectl get events -n {ns} --field-selector involvedObject.kind=ReplicaSet"
            )),
        }
    }
    for (_, fixes) in &extra {
        f.remediation.extend(fixes.iter().cloned());
    }
    if stuck || slow {
        f.remediation
            .push(ctx.text(ID, "fix", &[("object", &object)]));
    }
    for p in unexplained {
        f.covers.push((ns.to_string(), pod::name(p).to_string()));
    }
    Some(f)
}

/// `... serviceaccount "bk-notice" not found` → `bk-notice`: the ReplicaSet controller's words when
/// the pod's service account does not exist.
fn missing_service_account(message: &str) -> Option<&str> {
    let rest = &message[message.find("serviceaccount \"")? + "serviceaccount \"".len()..];
    let name = &rest[..rest.find('"')?];
    rest[name.len()..]
        .starts_with("\" not found")
        .then_some(name)
}

/// `a=b,c=d` of a selector's matchLabels, for `kubectl get pods -l`.
fn selector(s: &LabelSelector) -> Option<String> {
    let labels = s.match_labels.as_ref()?;
    (!labels.is_empty()).then(|| {
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// What `kubectl get pods` would show of a pod: its phase, or a container's waiting reason.
fn pod_state(p: &Pod) -> String {
    pod::container_statuses(p)
        .find_map(pod::waiting_reason)
        .map(str::to_string)
        .unwrap_or_else(|| {
            let phase = pod::phase(p);
            if phase == "Running" {
                "Running, not ready".to_string()
            } else if phase.is_empty() {
                "-".to_string()
            } else {
                phase.to_string()
            }
        })
}

/// A StatefulSet's spec naming what does not exist: its governing Service, a StorageClass of its
/// volumeClaimTemplates (unless pvc-unbound already reports the claims): evidence and fix of each.
fn stateful_set_gaps(
    ctx: &Ctx,
    earlier: &[Finding],
    s: &StatefulSet,
) -> Vec<(String, Vec<String>)> {
    let (ns, name) = (meta::namespace(&s.metadata), meta::name(&s.metadata));
    let Some(spec) = s.spec.as_ref() else {
        return Vec::new();
    };
    let release = meta::releases(&s.metadata).next().unwrap_or("-");
    let mut out = Vec::new();
    let read = |list: &str| !ctx.snap.skipped.iter().any(|x| x.what.starts_with(list));
    if let Some(svc) = spec.service_name.as_deref().filter(|s| !s.is_empty())
        && read("services")
        && !ctx
            .snap
            .services
            .iter()
            .any(|x| meta::namespace(&x.metadata) == ns && meta::name(&x.metadata) == svc)
    {
        out.push((
            ctx.text(ID, "no_service", &[("service", svc), ("namespace", ns)]),
            vec![
                format!("kubectl get service -n {ns}"),
                ctx.text(ID, "fix_service", &[("service", svc), ("release", release)]),
            ],
        ));
    }
    if read("storageclasses") {
        for t in spec.volume_claim_templates.iter().flatten() {
            let Some(class) = t
                .spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref())
            else {
                continue;
            };
            let exists = class.is_empty()
                || ctx
                    .snap
                    .storage_classes
                    .iter()
                    .any(|c| meta::name(&c.metadata) == class);
            let claim_prefix = format!("persistentvolumeclaim/{}-{name}-", meta::name(&t.metadata));
            let reported = earlier
                .iter()
                .any(|f| f.namespace.as_deref() == Some(ns) && f.object.starts_with(&claim_prefix));
            if !exists && !reported {
                let vars = [
                    ("template", meta::name(&t.metadata)),
                    ("class", class),
                    ("release", release),
                ];
                out.push((
                    ctx.text(ID, "no_class", &vars),
                    vec![
                        "kubectl get storageclass".to_string(),
                        ctx.text(ID, "fix_class", &vars),
                    ],
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_account_a_create_lacks() {
        let m = r#"pods "bk-notice-api-5b6c7d8e9f-" is forbidden: error looking up service account blueking/bk-notice: serviceaccount "bk-notice" not found"#;
        assert_eq!(missing_service_account(m), Some("bk-notice"));
        assert_eq!(missing_service_account("exceeded quota: q"), None);
    }
}
