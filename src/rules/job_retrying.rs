//! `job-retrying`: a Job whose pods fail but which has tries left (`status.failed` below
//! `backoffLimit + 1`, no `Failed` condition). Not a failure yet, so info; but a helm hook Job that
//! retries holds its release's sync, and the failing pod's log says why now, before the Job gives
//! up and becomes job-failed.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::{Ctx, containers, job_failed};
use crate::findings::Finding;
use crate::snapshot::{meta, pod};

pub const ID: &str = "job-retrying";

/// Lines of the failing pod's log to quote.
const LAST_LINES: usize = 5;

fn done(j: &Job) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.status == "True"
                && matches!(
                    c.type_.as_str(),
                    "Complete" | "Failed" | "SuccessCriteriaMet" | "FailureTarget"
                )
        })
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for j in &ctx.snap.jobs {
        let failed = j.status.as_ref().and_then(|s| s.failed).unwrap_or(0);
        if failed == 0 || done(j) || job_failed::failed_condition(j).is_some() {
            continue;
        }
        let (ns, name) = (meta::namespace(&j.metadata), meta::name(&j.metadata));
        let limit = j.spec.as_ref().and_then(|s| s.backoff_limit).unwrap_or(6);
        let mut f = ctx.finding(ID, Some(ns), format!("job/{name}"), &[("job", name)]);
        f.evidence.push(ctx.text(
            ID,
            "tries",
            &[
                ("failed", &failed.to_string()),
                ("tries", &(limit + 1).to_string()),
            ],
        ));
        if let Some(r) = meta::releases(&j.metadata).next() {
            f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
        }
        let mut pods: Vec<&Pod> = job_failed::job_pods(ctx, ns, name).collect();
        // The newest failing pod says why it fails now.
        pods.sort_by_key(|p| {
            std::cmp::Reverse(p.metadata.creation_timestamp.as_ref().map(|t| t.0))
        });
        let failing = pods.iter().find(|p| {
            pod::phase(p) == "Failed"
                || pod::container_statuses(p)
                    .any(|c| containers::last_termination(c).is_some_and(|t| t.exit_code != 0))
        });
        if let Some(p) = failing {
            let container = pod::container_statuses(p)
                .find(|c| containers::last_termination(c).is_some_and(|t| t.exit_code != 0))
                .map(|c| c.name.clone());
            if let Some(c) = container {
                f.evidence
                    .push(ctx.text(ID, "pod", &[("pod", pod::name(p)), ("container", &c)]));
                if let Some(t) = pod::container_statuses(p)
                    .find(|s| s.name == c)
                    .and_then(containers::last_termination)
                {
                    f.evidence.push(containers::last_exit(ctx, ID, t));
                }
                containers::push_log_tail(ctx, ID, &mut f.evidence, p, &c, LAST_LINES);
            }
        }
        for p in &pods {
            f.covers.push((ns.to_string(), pod::name(p).to_string()));
        }
        f.remediation
            .push(format!("kubectl logs -n {ns} job/{name}"));
        f.remediation.push(ctx.text(ID, "fix", &[("job", name)]));
        f.remediation
            .push(format!("kubectl get job -n {ns} {name}"));
        out.push(f);
    }
    out
}
