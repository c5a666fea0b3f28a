//! `cronjob-failed`: a CronJob whose newest Job failed (`BackoffLimitExceeded`,
//! `DeadlineExceeded`): the work it schedules (BlueKing's clean-ups, report jobs) has not run since.
//! Its failed Jobs are reported here, not one by one as `job-failed`; a CronJob whose newest Job
//! succeeded after earlier failures is well.

use k8s_openapi::api::batch::v1::{CronJob, Job};

use super::{Ctx, job_failed};
use crate::findings::Finding;
use crate::snapshot::{Snapshot, meta, pod};

pub const ID: &str = "cronjob-failed";

/// The Jobs a CronJob created (it owns them), oldest first.
pub fn jobs_of<'a>(snap: &'a Snapshot, ns: &str, cron_job: &str) -> Vec<&'a Job> {
    let mut jobs: Vec<&Job> = snap
        .jobs
        .iter()
        .filter(|j| meta::namespace(&j.metadata) == ns)
        .filter(|j| {
            j.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "CronJob" && o.name == cron_job)
        })
        .collect();
    jobs.sort_by_key(|j| {
        (
            j.metadata.creation_timestamp.clone(),
            meta::name(&j.metadata).to_string(),
        )
    });
    jobs
}

/// The CronJob of the snapshot that owns Job `j`, if any.
pub fn owner<'a>(snap: &'a Snapshot, j: &Job) -> Option<&'a CronJob> {
    let ns = meta::namespace(&j.metadata);
    let o = j
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "CronJob")?;
    snap.cron_jobs
        .iter()
        .find(|c| meta::namespace(&c.metadata) == ns && meta::name(&c.metadata) == o.name)
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &ctx.snap.cron_jobs {
        let (ns, name) = (meta::namespace(&c.metadata), meta::name(&c.metadata));
        let jobs = jobs_of(ctx.snap, ns, name);
        let Some(last) = jobs.last() else { continue };
        let Some(cond) = job_failed::failed_condition(last) else {
            continue;
        };
        let failed: Vec<&str> = jobs
            .iter()
            .rev()
            .take_while(|j| job_failed::failed_condition(j).is_some())
            .map(|j| meta::name(&j.metadata))
            .collect();
        let job = meta::name(&last.metadata);
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("cronjob/{name}"),
            &[("cronjob", name)],
        );
        let schedule = c.spec.as_ref().map_or("", |s| s.schedule.as_str());
        f.evidence
            .push(ctx.text(ID, "schedule", &[("schedule", schedule)]));
        f.evidence.push(ctx.text(
            ID,
            "last",
            &[
                ("job", job),
                ("reason", cond.reason.as_deref().unwrap_or("Failed")),
                ("message", cond.message.as_deref().unwrap_or("")),
            ],
        ));
        if failed.len() > 1 {
            f.evidence.push(ctx.text(
                ID,
                "in_a_row",
                &[
                    ("n", &failed.len().to_string()),
                    ("jobs", &failed.join(", ")),
                ],
            ));
        }
        if let Some(r) = meta::releases(&c.metadata).next() {
            f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
        }
        for j in &failed {
            for p in job_failed::job_pods(ctx, ns, j) {
                f.covers.push((ns.to_string(), pod::name(p).to_string()));
            }
        }
        let mut pods: Vec<_> = job_failed::job_pods(ctx, ns, job).collect();
        pods.sort_by_key(|p| pod::name(p));
        for p in pods
            .iter()
            .filter(|p| pod::phase(p) == "Failed" || !pod::is_ready(p))
        {
            job_failed::quote_log(ctx, &mut f, p);
        }
        f.remediation
            .push(format!("kubectl logs -n {ns} job/{job}"));
        f.remediation.push(ctx.text(ID, "rerun", &[]));
        f.remediation.push(format!(
            "kubectl create job -n {ns} --from=cronjob/{name} {name}-manual-check"
        ));
        out.push(f);
    }
    out
}
