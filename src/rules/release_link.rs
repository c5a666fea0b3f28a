//! Links each finding about a release (`helm-release-failed`, `helm-operation-in-progress`, any
//! finding on `release/NAME`) to the root-cause findings of that release's pods, Jobs and PVCs:
//! "blocked by image-pull-failed on pod/...". Runs after every other rule.

use std::collections::HashSet;

use super::Ctx;
use crate::catalog::fill;
use crate::findings::Finding;
use crate::snapshot::{meta, pod};

/// The kinds of objects a finding names that belong to a release by their own labels.
fn owned_object(ctx: &Ctx, ns: &str, object: &str, release: &str) -> bool {
    let Some((kind, name)) = object.split_once('/') else {
        return false;
    };
    let snap = ctx.snap;
    let m = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta::name(meta) == name && meta::belongs_to(meta, ns, release)
    };
    match kind {
        "job" => snap.jobs.iter().any(|j| m(&j.metadata)),
        "persistentvolumeclaim" => snap.pvcs.iter().any(|c| m(&c.metadata)),
        "statefulset" => snap.stateful_sets.iter().any(|s| m(&s.metadata)),
        "daemonset" => snap.daemon_sets.iter().any(|d| m(&d.metadata)),
        "deployment" => snap.deployments.iter().any(|d| m(&d.metadata)),
        "replicaset" => snap.deployments.iter().any(|d| {
            meta::belongs_to(&d.metadata, ns, release)
                && super::workload_create_failed::owns_replica_set(meta::name(&d.metadata), name)
        }),
        _ => false,
    }
}

pub fn link(ctx: &Ctx, findings: &mut [Finding]) {
    let mut lines: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        let Some(release) = f.object.strip_prefix("release/") else {
            continue;
        };
        let Some(ns) = f.namespace.as_deref() else {
            continue;
        };
        let pods: HashSet<(&str, &str)> = ctx
            .snap
            .release_pods(ns, release)
            .map(|p| (pod::namespace(p), pod::name(p)))
            .collect();
        let mut add = Vec::new();
        for (j, other) in findings.iter().enumerate() {
            if j == i || other.object == f.object {
                continue;
            }
            let by_pod = other
                .covers
                .iter()
                .any(|(n, p)| pods.contains(&(n.as_str(), p.as_str())));
            let by_object = other.namespace.as_deref() == Some(ns)
                && owned_object(ctx, ns, &other.object, release);
            if by_pod || by_object {
                let line = fill(
                    ctx.catalog.ui("blocked_by", ctx.lang),
                    &[("rule", &other.rule), ("object", &other.object)],
                );
                if !add.contains(&line) {
                    add.push(line);
                }
            }
        }
        if !add.is_empty() {
            lines.push((i, add));
        }
    }
    for (i, add) in lines {
        findings[i].evidence.extend(add);
    }
}
