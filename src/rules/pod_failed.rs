//! `pod-failed`: pods in phase `Failed` that no Job accounts for: evicted by the kubelet (`The node was
//! low on resource: ephemeral-storage…`), rejected at admission on their node (`OutOfcpu`,
//! `NodeAffinity`, `UnexpectedAdmissionError`), or ended with a non-zero exit and never restarted.
//! Evicted and rejected pods of one workload are one finding, as they share a cause. A failed pod
//! whose workload has all its pods again is left behind (info); a bare one is down for good (error).
//! Job pods are job-failed's and job-retrying's.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::Pod;

use super::{Ctx, containers, logs, workloads};
use crate::findings::{Finding, Severity};
use crate::snapshot::pod;

pub const ID: &str = "pod-failed";

/// Lines of a failed container's log to quote.
const LAST_LINES: usize = 5;
/// Pods named before the rest are counted.
const NAMED: usize = 5;

fn status_reason(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.reason.as_deref())
        .unwrap_or("")
}

fn status_message(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.message.as_deref())
        .unwrap_or("")
}

fn of_job(p: &Pod) -> bool {
    p.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "Job")
}

pub fn check(ctx: &Ctx, earlier: &[Finding]) -> Vec<Finding> {
    let covered: HashSet<(&str, &str)> = earlier
        .iter()
        .flat_map(|f| f.covers.iter())
        .map(|(ns, p)| (ns.as_str(), p.as_str()))
        .collect();
    // Evicted and rejected pods by (namespace, workload or pod, reason).
    let mut groups: BTreeMap<(&str, String, &str), Vec<&Pod>> = BTreeMap::new();
    let mut out = Vec::new();
    for p in &ctx.snap.pods {
        let key = (pod::namespace(p), pod::name(p));
        if pod::phase(p) != "Failed" || of_job(p) || covered.contains(&key) {
            continue;
        }
        let reason = status_reason(p);
        if reason.is_empty() {
            out.push(exited(ctx, p));
            continue;
        }
        let owner = workloads::owner(ctx.snap, p)
            .map(|(k, n)| workloads::object(k, n))
            .unwrap_or_else(|| format!("pod/{}", pod::name(p)));
        groups
            .entry((pod::namespace(p), owner, reason))
            .or_default()
            .push(p);
    }
    for ((ns, owner, reason), mut pods) in groups {
        pods.sort_by_key(|p| (std::cmp::Reverse(ended(p)), pod::name(p)));
        out.push(removed(ctx, ns, &owner, reason, &pods));
    }
    out
}

/// When the pod ended: its containers' last termination, else its newest condition change, else
/// its start.
fn ended(p: &Pod) -> Option<jiff::Timestamp> {
    let s = p.status.as_ref()?;
    pod::container_statuses(p)
        .filter_map(|c| {
            containers::last_termination(c)?
                .finished_at
                .as_ref()
                .map(|t| t.0)
        })
        .max()
        .or_else(|| {
            s.conditions
                .iter()
                .flatten()
                .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
                .max()
        })
        .or_else(|| s.start_time.as_ref().map(|t| t.0))
}

fn severity_of(ctx: &Ctx, p: &Pod) -> Severity {
    if !containers::recreated_when_deleted(p) {
        Severity::Error
    } else if workloads::owner_is_whole(ctx.snap, p) {
        Severity::Info
    } else {
        Severity::Warning
    }
}

/// Evicted or rejected: the kubelet removed the pod, and said why in the pod's status.
fn removed(ctx: &Ctx, ns: &str, owner: &str, reason: &str, pods: &[&Pod]) -> Finding {
    let newest = pods[0];
    let name = pod::name(newest);
    let node = pod::node(newest).unwrap_or("?");
    let message = status_message(newest).trim();
    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("pod/{name}"),
        &[("pod", name), ("reason", reason)],
    );
    f.severity = severity_of(ctx, newest);
    let key = if reason == "Evicted" {
        "title_evicted"
    } else {
        "title_rejected"
    };
    f.title = ctx.text(
        ID,
        key,
        &[("pod", name), ("reason", reason), ("node", node)],
    );
    f.evidence.push(ctx.text(
        ID,
        "status",
        &[
            ("reason", reason),
            ("node", &containers::node_label(ctx.snap, newest)),
            ("message", &logs::clip(message)),
        ],
    ));
    let names: Vec<&str> = pods.iter().map(|p| pod::name(p)).collect();
    if pods.len() > 1 {
        let mut shown = names[..names.len().min(NAMED)].join(", ");
        if names.len() > NAMED {
            shown.push_str(&format!(", … (+{})", names.len() - NAMED));
        }
        f.evidence.push(ctx.text(
            ID,
            "same",
            &[
                ("n", &pods.len().to_string()),
                ("owner", owner),
                ("pods", &shown),
            ],
        ));
    }
    if let Some(r) = pod::release(newest) {
        f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
    }
    if f.severity == Severity::Info {
        f.evidence
            .push(ctx.text(ID, "replaced", &[("owner", owner)]));
    }
    let resource = message
        .strip_prefix("The node was low on resource: ")
        .and_then(|r| r.split(['.', ' ', ',']).next())
        .unwrap_or("");
    match (reason, resource) {
        ("Evicted", "ephemeral-storage" | "nodefs" | "imagefs") => {
            f.remediation
                .push(ctx.text(ID, "fix_disk", &[("node", node)]));
            f.remediation.push(containers::on_node(
                ctx.snap,
                newest,
                "df -h /var/lib/kubelet /var/lib/containerd",
            ));
            f.remediation.push(ctx.text(ID, "fix_ephemeral", &[]));
        }
        ("Evicted", "memory") => {
            f.remediation
                .push(ctx.text(ID, "fix_memory", &[("node", node)]));
            f.remediation
                .push(containers::on_node(ctx.snap, newest, "free -m"));
        }
        ("Evicted", _) => {
            f.remediation.push(format!("kubectl describe node {node}"));
        }
        (r, _) if r.starts_with("OutOf") => {
            f.remediation
                .push(ctx.text(ID, "fix_out_of", &[("node", node)]));
            f.remediation.push(format!("kubectl describe node {node}"));
        }
        ("NodeAffinity", _) => {
            f.remediation
                .push(ctx.text(ID, "fix_affinity", &[("node", node)]));
            f.remediation
                .push(format!("kubectl get node {node} --show-labels"));
        }
        _ => {
            f.remediation.push(format!("kubectl describe node {node}"));
        }
    }
    // The kubelet keeps a removed pod for the record; its controller has made another. A bare pod
    // is gone for good: deleting it loses the record, so it is only advice.
    if containers::recreated_when_deleted(newest) {
        f.remediation.push(ctx.text(ID, "clean_up", &[]));
        f.remediation
            .push(format!("kubectl delete pod -n {ns} {}", names.join(" ")));
    } else {
        f.remediation.push(ctx.text(ID, "bare", &[("pod", name)]));
    }
    for p in pods {
        f.covers.push((ns.to_string(), pod::name(p).to_string()));
    }
    f
}

/// Ended with a non-zero exit and not restarted (restartPolicy Never or OnFailure).
fn exited(ctx: &Ctx, p: &Pod) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let failed: Vec<_> = pod::container_statuses(p)
        .filter_map(|c| Some((c, containers::last_termination(c)?)))
        .filter(|(_, t)| t.exit_code != 0)
        .collect();
    let first = failed.first().map(|(c, _)| c.name.as_str()).unwrap_or("-");
    let mut f = containers::pod_finding(ctx, ID, p, first);
    f.severity = severity_of(ctx, p);
    let message = status_message(p);
    if !message.trim().is_empty() {
        f.evidence.push(ctx.text(
            ID,
            "status",
            &[
                ("reason", "Failed"),
                ("node", &containers::node_label(ctx.snap, p)),
                ("message", &logs::clip(message.trim())),
            ],
        ));
    }
    if let Some(r) = pod::release(p) {
        f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
    }
    for (c, t) in &failed {
        f.evidence.push(ctx.text(
            ID,
            "exit",
            &[
                ("container", c.name.as_str()),
                ("code", &t.exit_code.to_string()),
                ("reason", t.reason.as_deref().unwrap_or("-")),
            ],
        ));
        containers::push_log_tail(ctx, ID, &mut f.evidence, p, &c.name, LAST_LINES);
        f.remediation
            .push(format!("kubectl logs -n {ns} {name} -c {}", c.name));
    }
    if failed.is_empty() {
        f.remediation
            .push(format!("kubectl describe pod -n {ns} {name}"));
    }
    f.remediation
        .push(ctx.text(ID, "fix_exit", &[("pod", name)]));
    f
}
