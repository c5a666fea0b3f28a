//! `helm-release-failed`: the newest revision is `failed`. Helm's description says what went wrong
//! at its level; the release's pods that are not ready say why.

use super::Ctx;
use crate::findings::Finding;
use crate::format::when;
use crate::helm::Status;
use crate::snapshot::pod;

pub const ID: &str = "helm-release-failed";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for rel in &ctx.releases {
        let latest = rel.latest();
        if latest.status() != Status::Failed || super::helm_no_deployed_release::refuses(rel) {
            continue;
        }
        let (ns, name) = (rel.namespace.as_str(), rel.name.as_str());
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("release/{name}"),
            &[("release", name)],
        );
        let when_s = latest
            .updated
            .map(|t| format!(" ({})", when(t)))
            .unwrap_or_default();
        f.evidence.push(ctx.text(
            ID,
            "failed",
            &[
                ("revision", &latest.revision.to_string()),
                ("when", &when_s),
                ("description", latest.description.as_deref().unwrap_or("-")),
            ],
        ));
        if rel.last_good().is_none() {
            // helm 3.3 and later upgrade from the failed revision (see helm-no-deployed-release).
            f.evidence
                .push(ctx.text(ID, "old_helm", &[("release", name)]));
        }
        f.remediation.push(format!("helm history -n {ns} {name}"));
        let pods: Vec<_> = ctx.snap.release_pods(ns, name).collect();
        let mut not_ready: Vec<_> = pods.iter().filter(|p| !pod::is_ready(p)).collect();
        not_ready.sort_by_key(|p| pod::name(p));
        for p in &not_ready {
            let pn = pod::name(p);
            f.evidence.push(ctx.text(
                ID,
                "not_ready",
                &[("pod", pn), ("state", &pod_state(ctx, p))],
            ));
            f.remediation
                .push(format!("kubectl describe pod -n {ns} {pn}"));
        }
        if pods.is_empty() {
            f.evidence
                .push(ctx.text(ID, "no_pods", &[("release", name)]));
        } else if not_ready.is_empty() {
            f.evidence.push(ctx.text(ID, "all_ready", &[]));
        }
        f.remediation.push(ctx.text(ID, "events", &[]));
        f.remediation.push(format!(
            "kubectl get events -n {ns} --sort-by=.lastTimestamp"
        ));
        out.push(f);
    }
    out
}

/// What `kubectl get pods` would show in STATUS and RESTARTS, e.g. `CrashLoopBackOff, 4 restarts`.
pub fn pod_state(ctx: &Ctx, p: &k8s_openapi::api::core::v1::Pod) -> String {
    let reason = pod::container_statuses(p)
        .find_map(|c| pod::waiting_reason(c).map(str::to_string))
        .unwrap_or_else(|| pod::phase(p).to_string());
    let restarts = pod::restarts(p);
    if restarts > 0 {
        let restarts = restarts.to_string();
        crate::catalog::fill(
            ctx.catalog.ui("pod_restarts", ctx.lang),
            &[("state", &reason), ("restarts", &restarts)],
        )
    } else {
        reason
    }
}
