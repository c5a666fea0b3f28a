//! `job-failed`: a Job gave up (`BackoffLimitExceeded`, `DeadlineExceeded`). A helm hook Job that
//! failed fails the whole sync (`pre-upgrade hooks failed: job failed: BackoffLimitExceeded`), and
//! when its hook keeps it (no `hook-succeeded`/`before-hook-creation` delete policy) the leftover
//! Job makes the next sync fail again on "already exists". Its pods' logs say why it failed.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::{Ctx, logs};
use crate::findings::Finding;
use crate::snapshot::{meta, pod};

pub const ID: &str = "job-failed";

/// Lines of each failed pod's log to quote.
const LAST_LINES: usize = 5;

/// The `Failed` condition of a Job that has given up, if it has.
pub fn failed_condition(j: &Job) -> Option<&k8s_openapi::api::batch::v1::JobCondition> {
    j.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Failed" && c.status == "True")
}

/// The pods a Job created: the job controller labels them with the Job's name (and owns them).
pub fn job_pods<'a>(
    ctx: &Ctx<'a>,
    ns: &'a str,
    job: &'a str,
) -> impl Iterator<Item = &'a Pod> + 'a {
    ctx.snap.pods.iter().filter(move |p| {
        if pod::namespace(p) != ns {
            return false;
        }
        let labels = p.metadata.labels.as_ref();
        let labelled = ["batch.kubernetes.io/job-name", "job-name"]
            .iter()
            .any(|k| labels.and_then(|l| l.get(*k)).is_some_and(|v| v == job));
        let owned = p
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "Job" && o.name == job);
        labelled || owned
    })
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for j in &ctx.snap.jobs {
        let Some(cond) = failed_condition(j) else {
            continue;
        };
        // A CronJob's failed Jobs are its finding (`cronjob-failed`), not one each.
        if super::cronjob_failed::owner(ctx.snap, j).is_some() {
            continue;
        }
        let (ns, name) = (meta::namespace(&j.metadata), meta::name(&j.metadata));
        let mut f = ctx.finding(ID, Some(ns), format!("job/{name}"), &[("job", name)]);
        let reason = cond.reason.as_deref().unwrap_or("Failed");
        let message = cond.message.as_deref().unwrap_or("");
        f.evidence
            .push(ctx.text(ID, "condition", &[("reason", reason), ("message", message)]));
        let release = meta::releases(&j.metadata).next();
        let hook = j
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("helm.sh/hook"));
        match (release, hook) {
            (Some(r), Some(h)) => {
                f.evidence
                    .push(ctx.text(ID, "hook", &[("release", r), ("hook", h)]))
            }
            (Some(r), None) => f.evidence.push(ctx.text(ID, "release", &[("release", r)])),
            _ => {}
        }
        let mut pods: Vec<&Pod> = job_pods(ctx, ns, name).collect();
        pods.sort_by_key(|p| pod::name(p));
        for p in &pods {
            f.covers.push((ns.to_string(), pod::name(p).to_string()));
            if pod::phase(p) != "Failed" && pod::is_ready(p) {
                continue;
            }
            quote_log(ctx, &mut f, p);
        }
        f.remediation
            .push(format!("kubectl logs -n {ns} job/{name}"));
        f.remediation.push(ctx.text(ID, "delete", &[]));
        f.remediation
            .push(format!("kubectl delete job -n {ns} {name}"));
        f.remediation.push(match release {
            Some(r) => ctx.text(ID, "then_sync", &[("release", r)]),
            None => ctx.text(ID, "then_rerun", &[]),
        });
        out.push(f);
    }
    out
}

/// The last lines of a failed pod's log: the current one (a Job's pod that failed is not
/// restarted, so the container that died is the current one), else the previous.
pub fn quote_log(ctx: &Ctx, f: &mut Finding, p: &Pod) {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let containers = p
        .spec
        .iter()
        .flat_map(|s| s.containers.iter().map(|c| c.name.as_str()));
    for c in containers {
        let Some(l) = ctx.snap.logs_of(ns, name, c) else {
            continue;
        };
        let text = [l.current.as_deref(), l.previous.as_deref()]
            .into_iter()
            .flatten()
            .find(|t| has_lines(t));
        let Some(text) = text else { continue };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        f.evidence
            .push(ctx.text(ID, "log", &[("pod", name), ("container", c)]));
        f.evidence.extend(
            lines[lines.len().saturating_sub(LAST_LINES)..]
                .iter()
                .map(|l| format!("> {}", logs::clip(l))),
        );
    }
}

/// A log body that holds output. The kubelet answers a log it no longer has with the sentence
/// `unable to retrieve container logs for containerd://...` (HTTP 200): that is not the log.
pub fn has_lines(text: &str) -> bool {
    let t = text.trim();
    !t.is_empty() && !t.starts_with("unable to retrieve container logs for ")
}
