//! `volume-lost`: a PersistentVolumeClaim whose volume is gone (phase `Lost`: the claim still
//! names a PersistentVolume that no longer exists, and its pods cannot start) and a PersistentVolume
//! the cluster could not reclaim (phase `Failed`: its reclaim policy could not be carried out, so it
//! is neither in use nor free). The data of a lost claim is gone with its volume: the fix is a new
//! claim, and restoring from a backup, never a command that pretends otherwise.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use super::{Ctx, events, pvc_unbound};
use crate::findings::{Finding, Severity};
use crate::snapshot::{meta, pod};

pub const ID: &str = "volume-lost";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &ctx.snap.pvcs {
        if c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
            out.push(lost_claim(ctx, c));
        }
    }
    for pv in &ctx.snap.persistent_volumes {
        if pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed") {
            out.push(failed_volume(ctx, pv));
        }
    }
    out
}

fn lost_claim(ctx: &Ctx, c: &PersistentVolumeClaim) -> Finding {
    let (ns, name) = (meta::namespace(&c.metadata), meta::name(&c.metadata));
    let volume = c
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("-");
    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("persistentvolumeclaim/{name}"),
        &[("name", name), ("volume", volume)],
    );
    let exists = ctx
        .snap
        .persistent_volumes
        .iter()
        .any(|pv| meta::name(&pv.metadata) == volume);
    f.evidence.push(ctx.text(
        ID,
        if exists {
            "lost_bound_elsewhere"
        } else {
            "lost"
        },
        &[("volume", volume)],
    ));
    if let Some(r) = meta::releases(&c.metadata).next() {
        f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
    }
    let consumers: Vec<&str> = ctx
        .snap
        .pods
        .iter()
        .filter(|p| pod::namespace(p) == ns && pvc_unbound::mounts(p, name))
        .map(pod::name)
        .collect();
    if !consumers.is_empty() {
        f.evidence
            .push(ctx.text(ID, "consumers", &[("pods", &consumers.join(", "))]));
    }
    for e in events::recent(ctx, "PersistentVolumeClaim", Some(ns), name)
        .into_iter()
        .take(2)
    {
        f.evidence
            .push(ctx.text(ID, "event", &[("event", &events::describe(e))]));
    }
    f.remediation
        .push(format!("kubectl describe pvc -n {ns} {name}"));
    f.remediation.push(format!("kubectl get pv {volume}"));
    f.remediation
        .push(ctx.text(ID, "fix_lost", &[("name", name), ("namespace", ns)]));
    for p in consumers {
        f.covers.push((ns.to_string(), p.to_string()));
    }
    f
}

fn failed_volume(ctx: &Ctx, pv: &PersistentVolume) -> Finding {
    let name = meta::name(&pv.metadata);
    let spec = pv.spec.as_ref();
    let policy = spec
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("-");
    let mut f = ctx.finding(
        ID,
        None,
        format!("persistentvolume/{name}"),
        &[("name", name), ("volume", name)],
    );
    f.title = ctx.text(ID, "title_failed", &[("name", name)]);
    // Nothing uses a volume that failed to be reclaimed; the space it holds is what is lost.
    f.severity = Severity::Warning;
    let message = pv
        .status
        .as_ref()
        .and_then(|s| s.message.as_deref())
        .unwrap_or("-");
    f.evidence.push(ctx.text(
        ID,
        "failed",
        &[("policy", policy), ("message", message.trim())],
    ));
    if let Some(r) = spec.and_then(|s| s.claim_ref.as_ref()) {
        let claim = format!(
            "{}/{}",
            r.namespace.as_deref().unwrap_or("-"),
            r.name.as_deref().unwrap_or("-")
        );
        f.evidence
            .push(ctx.text(ID, "was_claimed", &[("claim", &claim)]));
    }
    f.remediation.push(format!("kubectl describe pv {name}"));
    let local = spec
        .and_then(|s| s.local.as_ref().map(|l| l.path.as_str()))
        .or_else(|| spec.and_then(|s| s.host_path.as_ref().map(|h| h.path.as_str())));
    match local {
        Some(path) => {
            f.remediation
                .push(ctx.text(ID, "fix_failed_local", &[("path", path), ("name", name)]))
        }
        None => f
            .remediation
            .push(ctx.text(ID, "fix_failed", &[("name", name)])),
    }
    f
}
