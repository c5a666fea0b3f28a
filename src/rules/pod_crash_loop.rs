//! `pod-crash-loop`: the guide's first step for every entry, `kubectl logs -p`. Reported only for
//! containers no other finding explains (see `Finding::covers`), so it must run after every other
//! rule.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::{Ctx, logs};
use crate::findings::Finding;
use crate::format::when;
use crate::snapshot::pod;

pub const ID: &str = "pod-crash-loop";

/// How much of the previous log to show: enough for a stack trace's head or a fatal message.
const LAST_LINES: usize = 5;

/// Crash-looping as an operator reads `kubectl get pods`: CrashLoopBackOff, or restarted and not
/// ready now (`0/1 Running 3`). A container that restarted once and is ready again is healthy, and
/// an init container that finally succeeded is done.
pub fn crashing(c: &ContainerStatus) -> bool {
    if pod::waiting_reason(c) == Some("CrashLoopBackOff") {
        return true;
    }
    if c.restart_count == 0 || c.ready {
        return false;
    }
    let succeeded = c
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .is_some_and(|t| t.exit_code == 0);
    !succeeded
}

pub fn crashing_pod(p: &Pod) -> bool {
    pod::container_statuses(p).any(crashing)
}

pub fn check(ctx: &Ctx, earlier: &[Finding]) -> Vec<Finding> {
    let covered: HashSet<(&str, &str)> = earlier
        .iter()
        .flat_map(|f| f.covers.iter())
        .map(|(ns, p)| (ns.as_str(), p.as_str()))
        .collect();
    let mut out = Vec::new();
    for p in &ctx.snap.pods {
        let (ns, name) = (pod::namespace(p), pod::name(p));
        if covered.contains(&(ns, name)) {
            continue;
        }
        for c in pod::container_statuses(p).filter(|c| crashing(c)) {
            out.push(finding(ctx, ns, name, c));
        }
    }
    out
}

fn finding(ctx: &Ctx, ns: &str, name: &str, c: &ContainerStatus) -> Finding {
    let container = c.name.as_str();
    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("pod/{name}"),
        &[("pod", name), ("container", container)],
    );
    let state = pod::waiting_reason(c).unwrap_or(
        if c.state.as_ref().is_some_and(|s| s.running.is_some()) {
            "Running"
        } else {
            "Waiting"
        },
    );
    f.evidence.push(ctx.text(
        ID,
        "state",
        &[("state", state), ("restarts", &c.restart_count.to_string())],
    ));
    if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
        f.evidence.push(
            ctx.text(
                ID,
                "last_exit",
                &[
                    ("code", &t.exit_code.to_string()),
                    ("reason", t.reason.as_deref().unwrap_or("-")),
                    (
                        "finished",
                        &t.finished_at
                            .as_ref()
                            .map(|t| when(t.0))
                            .unwrap_or_else(|| "-".into()),
                    ),
                ],
            ),
        );
    }
    // A waiting container's "current" log is its last run's, which is all a cluster-info dump keeps.
    let logs = ctx.snap.logs_of(ns, name, container);
    let tail = [
        ("last_lines", logs.and_then(|l| l.previous.as_deref())),
        (
            "last_lines_current",
            logs.and_then(|l| l.current.as_deref()),
        ),
    ]
    .into_iter()
    .find_map(|(key, text)| {
        let lines: Vec<&str> = text?.lines().filter(|l| !l.trim().is_empty()).collect();
        (!lines.is_empty()).then(|| {
            (
                key,
                lines[lines.len().saturating_sub(LAST_LINES)..].to_vec(),
            )
        })
    });
    match tail {
        Some((key, lines)) => {
            f.evidence.push(ctx.text(ID, key, &[]));
            f.evidence
                .extend(lines.iter().map(|l| format!("> {}", logs::clip(l))));
        }
        None => f.evidence.push(ctx.text(ID, "no_log", &[])),
    }
    f.remediation
        .push(format!("kubectl logs -p -n {ns} {name} -c {container}"));
    f.remediation.push(ctx.text(ID, "events", &[]));
    f.remediation
        .push(format!("kubectl describe pod -n {ns} {name}"));
    f.covers.push((ns.to_string(), name.to_string()));
    f
}
