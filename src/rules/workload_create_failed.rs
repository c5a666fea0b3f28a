//! `workload-create-failed`: a controller could not create pods (`FailedCreate`), so there is no
//! pod to be not ready and nothing else in the snapshot says why the release waits. The event's
//! message names the cause: a quota, Pod Security admission, a webhook, a missing service account.
//! Events expire after an hour; a ReplicaSet's own `ReplicaFailure` condition keeps the message
//! as long as the refusal lasts, so it speaks when no event is left.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Event;

use super::{Ctx, events};
use crate::findings::Finding;
use crate::snapshot::meta;

pub const ID: &str = "workload-create-failed";

const KINDS: &[&str] = &["ReplicaSet", "StatefulSet", "DaemonSet", "Job"];

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    // Newest event per object: the controller retries, and the latest message is the one that
    // still holds.
    let mut by_object: BTreeMap<(&str, &str, &str), &Event> = BTreeMap::new();
    for e in &ctx.snap.events {
        let o = &e.involved_object;
        let kind = o.kind.as_deref().unwrap_or("");
        if e.reason.as_deref() != Some("FailedCreate")
            || !KINDS.contains(&kind)
            || !events::is_recent(ctx, e)
        {
            continue;
        }
        let key = (
            o.namespace.as_deref().unwrap_or(""),
            kind,
            o.name.as_deref().unwrap_or(""),
        );
        let newer = by_object
            .get(&key)
            .is_none_or(|old| events::last_seen(e) > events::last_seen(old));
        if newer {
            by_object.insert(key, e);
        }
    }
    let mut out: Vec<Finding> = by_object
        .iter()
        .filter(|((ns, kind, name), _)| !settled(ctx, ns, kind, name))
        .map(|((ns, kind, name), e)| {
            let line = ctx.text(ID, "event", &[("event", &events::describe(e))]);
            finding(
                ctx,
                ns,
                kind,
                name,
                e.message.as_deref().unwrap_or(""),
                line,
            )
        })
        .collect();
    for rs in &ctx.snap.replica_sets {
        let (ns, name) = (meta::namespace(&rs.metadata), meta::name(&rs.metadata));
        if by_object.contains_key(&(ns, "ReplicaSet", name)) || settled(ctx, ns, "ReplicaSet", name)
        {
            continue;
        }
        let failure = rs
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "ReplicaFailure" && c.status == "True");
        let Some(c) = failure else { continue };
        let message = c.message.as_deref().unwrap_or("");
        let line = ctx.text(
            ID,
            "condition",
            &[
                ("reason", c.reason.as_deref().unwrap_or("-")),
                ("message", message.trim()),
            ],
        );
        out.push(finding(ctx, ns, "ReplicaSet", name, message, line));
    }
    out
}

/// The workload has every pod it wants now: the failure is over. A ReplicaSet is judged by the
/// Deployment that owns it (the snapshot has Deployments, not ReplicaSets).
fn settled(ctx: &Ctx, ns: &str, kind: &str, name: &str) -> bool {
    let snap = ctx.snap;
    let here =
        |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| meta::namespace(m) == ns;
    match kind {
        "ReplicaSet" => snap
            .deployments
            .iter()
            .filter(|d| here(&d.metadata))
            .find(|d| owns_replica_set(meta::name(&d.metadata), name))
            .and_then(|d| {
                let want = d.spec.as_ref()?.replicas.unwrap_or(1);
                let ready = d.status.as_ref()?.ready_replicas.unwrap_or(0);
                Some(ready >= want)
            })
            .unwrap_or(false),
        "StatefulSet" => snap
            .stateful_sets
            .iter()
            .find(|s| here(&s.metadata) && meta::name(&s.metadata) == name)
            .and_then(|s| {
                let want = s.spec.as_ref()?.replicas.unwrap_or(1);
                Some(s.status.as_ref()?.ready_replicas.unwrap_or(0) >= want)
            })
            .unwrap_or(false),
        "DaemonSet" => snap
            .daemon_sets
            .iter()
            .find(|d| here(&d.metadata) && meta::name(&d.metadata) == name)
            .and_then(|d| {
                let s = d.status.as_ref()?;
                Some(s.number_ready >= s.desired_number_scheduled)
            })
            .unwrap_or(false),
        "Job" => snap
            .jobs
            .iter()
            .find(|j| here(&j.metadata) && meta::name(&j.metadata) == name)
            .and_then(|j| {
                let s = j.status.as_ref()?;
                Some(s.succeeded.unwrap_or(0) > 0 || s.active.unwrap_or(0) > 0)
            })
            .unwrap_or(false),
        _ => false,
    }
}

/// A Deployment's ReplicaSets are named `<deployment>-<pod-template-hash>`.
pub fn owns_replica_set(deployment: &str, replica_set: &str) -> bool {
    replica_set
        .strip_prefix(deployment)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| !hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn finding(ctx: &Ctx, ns: &str, kind: &str, name: &str, message: &str, line: String) -> Finding {
    let object = format!("{}/{name}", kind.to_ascii_lowercase());
    let mut f = ctx.finding(ID, Some(ns), object.clone(), &[("object", &object)]);
    let message = message.trim();
    f.evidence.push(line);
    let describe = format!(
        "kubectl describe {} -n {ns} {name}",
        kind.to_ascii_lowercase()
    );
    if message.contains("exceeded quota") {
        f.evidence.push(ctx.text(ID, "quota", &[]));
        f.remediation
            .push(format!("kubectl describe resourcequota -n {ns}"));
        f.remediation.push(ctx.text(ID, "quota_fix", &[]));
    } else if message.contains("violates PodSecurity") {
        let level = ctx
            .snap
            .namespaces
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(ns))
            .and_then(|n| {
                n.metadata
                    .labels
                    .as_ref()?
                    .get("pod-security.kubernetes.io/enforce")
            })
            .map(String::as_str)
            .unwrap_or("-");
        f.evidence
            .push(ctx.text(ID, "pod_security", &[("namespace", ns), ("level", level)]));
        f.remediation
            .push(format!("kubectl get namespace {ns} --show-labels"));
        f.remediation
            .push(ctx.text(ID, "pod_security_fix", &[("namespace", ns)]));
    } else if let Some(webhook) = quoted_after(message, "admission webhook ") {
        f.evidence
            .push(ctx.text(ID, "webhook", &[("webhook", webhook)]));
        f.remediation.push(
            "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations".to_string(),
        );
        f.remediation
            .push(ctx.text(ID, "webhook_fix", &[("webhook", webhook)]));
    } else if let Some(sa) = quoted_after(message, "serviceaccount ") {
        f.evidence
            .push(ctx.text(ID, "service_account", &[("namespace", ns), ("sa", sa)]));
        f.remediation
            .push(format!("kubectl get serviceaccount -n {ns} {sa}"));
        f.remediation.push(ctx.text(ID, "service_account_fix", &[]));
    } else {
        f.remediation.push(describe.clone());
    }
    if !f.remediation.contains(&describe) {
        f.remediation.push(describe);
    }
    f
}

/// `admission webhook "x.example.com" denied ...` → `x.example.com`.
fn quoted_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let rest = rest.strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_sets_of_a_deployment() {
        assert!(owns_replica_set("bk-user-api", "bk-user-api-6c7d9f8b5"));
        assert!(!owns_replica_set("bk-user", "bk-user-api-6c7d9f8b5"));
        assert!(!owns_replica_set("bk-user-api", "bk-user-api"));
    }

    #[test]
    fn names_in_messages() {
        let m = r#"Error creating: admission webhook "validate.kyverno.svc-fail" denied the request: x"#;
        assert_eq!(
            quoted_after(m, "admission webhook "),
            Some("validate.kyverno.svc-fail")
        );
        let m = r#"Error creating: pods "x-" is forbidden: error looking up service account blueking/bk-sa: serviceaccount "bk-sa" not found"#;
        assert_eq!(quoted_after(m, "serviceaccount "), Some("bk-sa"));
    }
}
