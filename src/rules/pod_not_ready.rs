//! `pod-not-ready`: a pod of a failed or pending release is not ready and no rule explains it;
//! not while the pending operation may still be running (helm is then waiting for that pod).
//! That pod is what `helm --wait` waited for; its phase, its conditions and its last events are
//! the start of the search, and saying nothing about it would leave the release's failure
//! unexplained. Runs after every root-cause rule.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::Pod;

use super::{Ctx, events, helm_operation_in_progress, workloads};
use crate::findings::Finding;
use crate::helm::Status;
use crate::snapshot::pod;

pub const ID: &str = "pod-not-ready";

const EVENTS: usize = 3;
/// How long a pod of no release may take to become ready: a Deployment's default progress deadline.
const NO_RELEASE_AFTER_SECS: i64 = 600;

pub fn check(ctx: &Ctx, earlier: &[Finding]) -> Vec<Finding> {
    let covered: HashSet<(&str, &str)> = earlier
        .iter()
        .flat_map(|f| f.covers.iter())
        .map(|(ns, p)| (ns.as_str(), p.as_str()))
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for rel in &ctx.releases {
        let status = rel.latest().status();
        // While helm may still be waiting for them, pods not ready yet are what it waits for; a
        // root cause among them (a pull, a crash) is still reported by its own rule.
        if status != Status::Failed && !status.is_pending()
            || helm_operation_in_progress::may_still_run(ctx, rel)
        {
            continue;
        }
        for p in ctx.snap.release_pods(&rel.namespace, &rel.name) {
            let key = (pod::namespace(p), pod::name(p));
            if pod::is_ready(p) || covered.contains(&key) || !seen.insert(key) {
                continue;
            }
            out.push(finding(ctx, p, &rel.name));
        }
    }
    // A pod in no helm release (a SaaS app's in bkapp-*, one made by hand) has no release to wait
    // for it: it is reported once it has been not ready for longer than a controller takes, when
    // no workload in the snapshot can say it instead (workload-not-ready).
    for p in &ctx.snap.pods {
        let key = (pod::namespace(p), pod::name(p));
        if pod::release(p).is_some()
            || pod::is_ready(p)
            || pod::phase(p) == "Failed"
            || covered.contains(&key)
            || !seen.insert(key)
            || workloads::owner(ctx.snap, p)
                .is_some_and(|(k, n)| workloads::counts(ctx.snap, key.0, k, n).is_some())
        {
            continue;
        }
        let Some(created) = p.metadata.creation_timestamp.as_ref() else {
            continue;
        };
        if ctx.now.as_second() - created.0.as_second() < NO_RELEASE_AFTER_SECS {
            continue;
        }
        let mut f = finding(ctx, p, "-");
        f.title = ctx.text(
            ID,
            "title_no_release",
            &[("pod", key.1), ("age", &ctx.age(created.0))],
        );
        f.evidence[0] = ctx.text(
            ID,
            "no_release",
            &[("phase", pod::phase(p)), ("age", &ctx.age(created.0))],
        );
        out.push(f);
    }
    out
}

fn finding(ctx: &Ctx, p: &Pod, release: &str) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("pod/{name}"),
        &[("pod", name), ("release", release)],
    );
    let phase = pod::phase(p);
    let phase = if phase.is_empty() { "-" } else { phase };
    f.evidence
        .push(ctx.text(ID, "phase", &[("phase", phase), ("release", release)]));
    for c in p
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .filter(|c| c.status != "True")
    {
        let detail = [c.reason.as_deref(), c.message.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
        f.evidence.push(ctx.text(
            ID,
            "condition",
            &[
                ("type", c.type_.as_str()),
                ("status", c.status.as_str()),
                ("detail", &detail),
            ],
        ));
    }
    let recent = events::recent(ctx, "Pod", Some(ns), name);
    if recent.is_empty() {
        f.evidence.push(ctx.text(ID, "no_events", &[]));
    }
    for e in recent.into_iter().take(EVENTS) {
        f.evidence
            .push(ctx.text(ID, "event", &[("event", &events::describe(e))]));
    }
    f.remediation
        .push(format!("kubectl describe pod -n {ns} {name}"));
    f.remediation.push(format!(
        "kubectl get events -n {ns} --field-selector involvedObject.name={name}"
    ));
    f.covers.push((ns.to_string(), name.to_string()));
    f
}
