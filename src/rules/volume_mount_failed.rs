//! `volume-mount-failed`: a pod that stays `ContainerCreating` because the kubelet cannot mount one
//! of its volumes, mostly a Secret or ConfigMap that does not exist yet. On BlueKing another release
//! (or the installer) creates it: deploying in the helmfile's order fixes it, and the kubelet then
//! mounts it on its next try without a restart.

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{Event, Pod};
use regex::Regex;

use super::events::{self, Recent};
use super::{Ctx, logs};
use crate::findings::Finding;
use crate::snapshot::pod;

pub const ID: &str = "volume-mount-failed";

static VOLUME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"for volume "([^"]+)""#).expect("valid regex"));
static MISSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(secret|configmap|persistentvolumeclaim)s? "([^"]+)" not found"#)
        .expect("valid regex")
});

/// Not running yet: what a failed mount holds back. A pod that runs has its volumes.
fn waiting_to_start(p: &Pod) -> bool {
    pod::phase(p) == "Pending"
        || pod::container_statuses(p).any(|c| pod::waiting_reason(c) == Some("ContainerCreating"))
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let recent = Recent::new(ctx.snap, ctx.now, events::RECENT);
    let mut out = Vec::new();
    for p in ctx.snap.pods.iter().filter(|p| waiting_to_start(p)) {
        let (ns, name) = (pod::namespace(p), pod::name(p));
        let failed: Vec<&Event> = recent
            .with_reason("Pod", ns, name, &["FailedMount", "FailedAttachVolume"])
            .collect();
        if !failed.is_empty() {
            out.push(finding(ctx, p, &failed));
        }
    }
    out
}

fn finding(ctx: &Ctx, p: &Pod, failed: &[&Event]) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let mut missing: Vec<(String, String, String)> = Vec::new();
    let mut messages: Vec<String> = Vec::new();
    for e in failed {
        let m = events::message(e);
        if let Some(c) = MISSING.captures(m) {
            let volume = VOLUME
                .captures(m)
                .map(|v| v[1].to_string())
                .unwrap_or_else(|| "?".into());
            let entry = (c[1].to_string(), c[2].to_string(), volume);
            if !missing.contains(&entry) {
                missing.push(entry);
            }
        }
        let line = format!(
            "{} (×{}): {}",
            events::reason(e),
            events::count(e),
            logs::clip(m)
        );
        if !messages.contains(&line) {
            messages.push(line);
        }
    }
    let first = missing
        .first()
        .map(|(k, n, _)| format!("{k} {n}"))
        .unwrap_or_else(|| "-".into());
    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("pod/{name}"),
        &[("pod", name), ("missing", &first)],
    );
    if missing.is_empty() {
        f.title = ctx.text(ID, "title_other", &[("pod", name)]);
    }
    for (kind, object, volume) in &missing {
        f.evidence.push(ctx.text(
            ID,
            "missing",
            &[("volume", volume), ("kind", kind), ("name", object)],
        ));
    }
    f.evidence.extend(messages.into_iter().take(5));
    for (kind, object, _) in &missing {
        let (kubectl_kind, key) = match kind.as_str() {
            "secret" => ("secret", "fix_secret"),
            "configmap" => ("configmap", "fix_configmap"),
            _ => ("pvc", "fix_pvc"),
        };
        f.remediation
            .push(format!("kubectl get {kubectl_kind} -n {ns} {object}"));
        f.remediation.push(ctx.text(
            ID,
            key,
            &[("name", object), ("namespace", ns), ("pod", name)],
        ));
    }
    f.remediation.push(ctx.text(ID, "events", &[]));
    f.remediation
        .push(format!("kubectl describe pod -n {ns} {name}"));
    f.covers.push((ns.to_string(), name.to_string()));
    f
}
