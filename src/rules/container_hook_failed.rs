//! `container-hook-failed`: a container's lifecycle hook fails. A failed `postStart` makes the kubelet
//! kill the container it just started (`FailedPostStartHook`, waiting `PostStartHookError`), so the
//! container restarts forever though its own process is fine: the hook's command or URL is what
//! to fix. A failed `preStop` (`FailedPreStopHook`) only makes stopping abrupt: a warning.
//! The kubelet's message quotes the hook and what it answered.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event, Pod};

use super::events::{self, Recent};
use super::{Ctx, containers, logs};
use crate::findings::{Finding, Severity};
use crate::snapshot::pod;

pub const ID: &str = "container-hook-failed";

const POST_START: &str = "FailedPostStartHook";
const PRE_STOP: &str = "FailedPreStopHook";
/// The waiting reason the kubelet gives a container whose postStart hook failed.
const WAITING: &str = "PostStartHookError";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let recent = Recent::new(ctx.snap, ctx.now, events::RECENT);
    let mut out = Vec::new();
    for p in &ctx.snap.pods {
        let (ns, name) = (pod::namespace(p), pod::name(p));
        // Per container: the newest hook event, and whether it is the postStart one.
        let mut hooks: BTreeMap<String, (&str, Option<&Event>)> = BTreeMap::new();
        for c in pod::container_statuses(p) {
            if pod::waiting_reason(c) == Some(WAITING) {
                hooks.insert(c.name.clone(), (POST_START, None));
            }
        }
        for e in recent.with_reason("Pod", ns, name, &[POST_START, PRE_STOP]) {
            let container = events::container(e).unwrap_or("?").to_string();
            let reason = events::reason(e);
            let entry = hooks.entry(container).or_insert((reason, None));
            if entry.1.is_none() && (entry.0 == reason || reason == POST_START) {
                *entry = (reason, Some(e));
            }
        }
        for (container, (reason, event)) in hooks {
            // postStart: only while it still holds the container back; preStop: the pod is going.
            if reason == POST_START && !still_failing(p, &container) {
                continue;
            }
            out.push(finding(ctx, p, &container, reason, event));
        }
    }
    out
}

/// Not running ready now: a hook that failed once and then passed is history.
fn still_failing(p: &Pod, container: &str) -> bool {
    pod::container_statuses(p)
        .find(|c| c.name == container)
        .is_none_or(|c| !c.ready)
}

fn finding(ctx: &Ctx, p: &Pod, container: &str, reason: &str, e: Option<&Event>) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let hook = if reason == PRE_STOP {
        "preStop"
    } else {
        "postStart"
    };
    let mut f = containers::pod_finding(ctx, ID, p, container);
    f.title = ctx.text(
        ID,
        "title_hook",
        &[("pod", name), ("container", container), ("hook", hook)],
    );
    if reason == PRE_STOP {
        f.severity = Severity::Warning;
    }
    let status = pod::container_statuses(p).find(|c| c.name == container);
    if let Some(c) = status {
        f.evidence.push(ctx.text(
            ID,
            "state",
            &[
                ("container", container),
                ("state", &containers::state(c)),
                ("restarts", &c.restart_count.to_string()),
            ],
        ));
    }
    let message = e.map(events::message).or_else(|| {
        status
            .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.message.as_deref())
            .filter(|m| !m.is_empty())
    });
    if let Some(m) = message {
        let count = e.map(events::count).unwrap_or(1).to_string();
        f.evidence.push(ctx.text(
            ID,
            "event",
            &[
                ("reason", reason),
                ("count", &count),
                ("message", &logs::clip(m.trim())),
            ],
        ));
    }
    if let Some(r) = pod::release(p) {
        f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
    }
    f.remediation
        .push(ctx.text(ID, "show_hook", &[("hook", hook), ("container", container)]));
    let field = if containers::is_init(p, container) {
        "initContainers"
    } else {
        "containers"
    };
    f.remediation.push(format!(
        "kubectl get pod -n {ns} {name} -o jsonpath='{{.spec.{field}[?(@.name==\"{container}\")].lifecycle}}'"
    ));
    f.remediation
        .push(ctx.text(ID, "fix", &[("hook", hook), ("container", container)]));
    f.remediation
        .push(format!("kubectl describe pod -n {ns} {name}"));
    f
}
