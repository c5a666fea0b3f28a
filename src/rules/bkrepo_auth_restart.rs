//! `bkrepo-auth-not-restarted`: the guide (对接制品库) has bk-repo's realm set to `devops` and bk-repo
//! synced; "因为 deployment 没有变动，所以不会自动重启": the auth pods keep the configuration they read
//! at start. Seen in the data as a `*-bkrepo-auth` ConfigMap that says `devops` while its pods
//! started before bk-repo's last deploy. When the realm is still wrong, `bkrepo-auth-realm` speaks.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_yaml_ng::Value;

use super::Ctx;
use super::site;
use crate::findings::Finding;
use crate::snapshot::pod;

pub const ID: &str = "bkrepo-auth-not-restarted";

const CM_SUFFIX: &str = "-bkrepo-auth";
const KEY: &str = "application.yml";
const REALM: &str = "devops";

/// When a pod's containers last started; its start time when none runs.
fn started(p: &Pod) -> Option<Timestamp> {
    let running = pod::container_statuses(p)
        .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
        .map(|t| t.0)
        .min();
    running.or_else(|| p.status.as_ref()?.start_time.as_ref().map(|t| t.0))
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !site::release(&ctx.releases, "bk-ci").is_some_and(site::installed) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for cm in &ctx.snap.config_maps {
        let (Some(ns), Some(name)) = (
            cm.metadata.namespace.as_deref(),
            cm.metadata.name.as_deref(),
        ) else {
            continue;
        };
        let Some(prefix) = name.strip_suffix(CM_SUFFIX) else {
            continue;
        };
        let Some(text) = cm.data.as_ref().and_then(|d| d.get(KEY)) else {
            continue;
        };
        let Ok(doc) = serde_yaml_ng::from_str::<Value>(text) else {
            continue;
        };
        if doc
            .get("auth")
            .and_then(|a| a.get("realm"))
            .and_then(Value::as_str)
            != Some(REALM)
        {
            continue;
        }
        let release_name = cm
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/instance"))
            .map_or(prefix, String::as_str);
        let Some(release) = ctx
            .releases
            .iter()
            .find(|r| r.name == release_name && r.namespace == ns)
        else {
            continue;
        };
        // One revision: the realm was set at install, before any pod started.
        let latest = release.latest();
        let (true, Some(deployed)) = (release.revisions.len() > 1, latest.updated) else {
            continue;
        };
        let stale: Vec<(&Pod, Timestamp)> = ctx
            .snap
            .pods
            .iter()
            .filter(|p| pod::namespace(p) == ns && pod::name(p).starts_with(&format!("{name}-")))
            .filter_map(|p| Some((p, started(p)?)))
            .filter(|(_, t)| *t < deployed)
            .collect();
        if stale.is_empty() {
            continue;
        }
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("deployment/{name}"),
            &[("release", release_name)],
        );
        f.evidence
            .push(ctx.text(ID, "realm", &[("configmap", name), ("namespace", ns)]));
        f.evidence.push(ctx.text(
            ID,
            "deployed",
            &[
                ("release", release_name),
                ("revision", &latest.revision.to_string()),
                ("age", &ctx.age(deployed)),
            ],
        ));
        for (p, t) in &stale {
            f.evidence
                .push(ctx.text(ID, "pod", &[("pod", pod::name(p)), ("age", &ctx.age(*t))]));
            f.covers.push((ns.to_string(), pod::name(p).to_string()));
        }
        f.remediation.push(ctx.text(ID, "restart", &[]));
        f.remediation
            .push(format!("kubectl rollout restart deployment -n {ns} {name}"));
        out.push(f);
    }
    out
}
