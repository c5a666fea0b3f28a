//! `container-oom-killed`: the kernel killed a container for going over its memory limit (exit 137,
//! `OOMKilled`). The kubelet writes no event for it, only `BackOff`; the termination record is the
//! evidence. The fix is a larger `resources.limits.memory` through the release's values; when the
//! node itself is short of memory the limit is not the whole story.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::containers::{self, last_termination, node_label};
use super::{Ctx, events};
use crate::findings::{Finding, Severity};
use crate::format::when;
use crate::snapshot::pod;

pub const ID: &str = "container-oom-killed";

fn oom_killed(ctx: &Ctx, c: &ContainerStatus) -> bool {
    let Some(t) = last_termination(c) else {
        return false;
    };
    if t.reason.as_deref() != Some("OOMKilled") {
        return false;
    }
    // A container that was killed once long ago and runs fine since is not a problem now.
    let recent = t
        .finished_at
        .as_ref()
        .is_some_and(|f| ctx.now.duration_since(f.0) <= events::RECENT);
    !c.ready || recent
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &ctx.snap.pods {
        for c in pod::container_statuses(p).filter(|c| oom_killed(ctx, c)) {
            out.push(finding(ctx, p, c));
        }
    }
    out
}

fn finding(ctx: &Ctx, p: &Pod, c: &ContainerStatus) -> Finding {
    let container = c.name.as_str();
    let mut f = containers::pod_finding(ctx, ID, p, container);
    // One kill may be a spike; a container killed again and again will never start.
    if c.restart_count <= 1 && pod::waiting_reason(c) != Some("CrashLoopBackOff") {
        f.severity = Severity::Warning;
    }
    let t = last_termination(c).expect("oom_killed checked it");
    f.evidence.push(
        ctx.text(
            ID,
            "killed",
            &[
                ("state", &containers::state(c)),
                ("restarts", &c.restart_count.to_string()),
                ("code", &t.exit_code.to_string()),
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
    let (request, limit) = containers::spec(p, container)
        .map(|s| containers::resources(s, "memory"))
        .unwrap_or(("-".into(), "-".into()));
    f.evidence
        .push(ctx.text(ID, "memory", &[("request", &request), ("limit", &limit)]));
    if let Some(n) = pod::node(p) {
        let node_s = node_label(ctx.snap, p);
        f.evidence.push(ctx.text(ID, "node", &[("node", &node_s)]));
        let pressure = ctx
            .snap
            .node(n)
            .and_then(|n| n.status.as_ref()?.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "MemoryPressure" && c.status == "True")
            });
        if pressure {
            f.evidence
                .push(ctx.text(ID, "node_pressure", &[("node", &node_s)]));
        }
    }
    containers::push_log_tail(ctx, ID, &mut f.evidence, p, container, 3);
    let release = pod::release(p).unwrap_or("RELEASE");
    let vars = [
        ("container", container),
        ("limit", limit.as_str()),
        ("release", release),
    ];
    f.remediation.push(ctx.text(ID, "raise", &vars));
    f.remediation
        .extend(containers::limits_advice(ctx, p, container));
    f
}
