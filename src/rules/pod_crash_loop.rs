//! `pod-crash-loop`: the guide's first step for every entry, `kubectl logs -p`. Reported only for
//! containers no other finding explains (see `Finding::covers`), so it must run after every other
//! rule.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::{Ctx, containers};
use crate::findings::Finding;
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
        if covered.contains(&(ns, name)) || super::site::consul_settling(p, ctx.now) {
            continue;
        }
        for c in pod::container_statuses(p).filter(|c| crashing(c)) {
            out.push(finding(ctx, p, c));
        }
    }
    out
}

fn finding(ctx: &Ctx, p: &Pod, c: &ContainerStatus) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let container = c.name.as_str();
    let mut f = containers::pod_finding(ctx, ID, p, container);
    f.evidence.push(ctx.text(
        ID,
        "state",
        &[
            ("state", &containers::state(c)),
            ("restarts", &c.restart_count.to_string()),
        ],
    ));
    if let Some(t) = containers::last_termination(c) {
        f.evidence.push(containers::last_exit(ctx, ID, t));
    }
    // Without a previous log (the kubelet may have removed it already) the current one is the
    // instance that just died, which is also all a cluster-info dump keeps.
    let previous = containers::push_log_tail(ctx, ID, &mut f.evidence, p, container, LAST_LINES);
    let flag = if previous == Some(false) { "" } else { " -p" };
    f.remediation
        .push(format!("kubectl logs{flag} -n {ns} {name} -c {container}"));
    f.remediation.push(ctx.text(ID, "events", &[]));
    f.remediation
        .push(format!("kubectl describe pod -n {ns} {name}"));
    f
}
