//! Links each finding about a release (`helm-release-failed`, `helm-operation-in-progress`, any
//! finding on `release/NAME`) to the root-cause findings of that release's pods, Jobs and PVCs:
//! "blocked by image-pull-failed on pod/...", and to an admission webhook with nothing behind it
//! when the release's failure text or its objects' events say that webhook refused them. Runs
//! after every other rule.

use std::collections::HashSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Ctx;
use crate::catalog::fill;
use crate::findings::{Blocker, Finding, Workload};
use crate::snapshot::{meta, pod};

/// Does the object a finding names (`job/NAME`, `persistentvolumeclaim/NAME`, a workload) belong to
/// the release by its own labels or helm's annotation?
pub fn owned_object(ctx: &Ctx, ns: &str, object: &str, release: &str) -> bool {
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
            let by_webhook = other.rule == super::webhook_unavailable::ID
                && refused_by(ctx, ns, release, &pods, &other.object);
            if by_pod || by_object || by_webhook {
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

/// Did a webhook of this configuration refuse the release? helm records the refusal in the
/// revision's description (`Release "X" failed: ... failed calling webhook "NAME": ...`); a
/// controller creating the release's pods records it in its events.
fn refused_by(
    ctx: &Ctx,
    ns: &str,
    release: &str,
    pods: &HashSet<(&str, &str)>,
    config: &str,
) -> bool {
    let snap = ctx.snap;
    let names: Vec<&str> = match config.split_once('/') {
        Some(("validatingwebhookconfiguration", n)) => snap
            .validating_webhooks
            .iter()
            .filter(|c| meta::name(&c.metadata) == n)
            .flat_map(|c| c.webhooks.iter().flatten().map(|h| h.name.as_str()))
            .collect(),
        Some(("mutatingwebhookconfiguration", n)) => snap
            .mutating_webhooks
            .iter()
            .filter(|c| meta::name(&c.metadata) == n)
            .flat_map(|c| c.webhooks.iter().flatten().map(|h| h.name.as_str()))
            .collect(),
        _ => return false,
    };
    let says = |text: &str| {
        names
            .iter()
            .any(|n| text.contains(&format!("failed calling webhook \"{n}\"")))
    };
    let described = ctx
        .releases
        .iter()
        .filter(|r| r.namespace == ns && r.name == release)
        .flat_map(|r| r.revisions.last())
        .filter_map(|rev| rev.description.as_deref())
        .any(says);
    described
        || snap.events.iter().any(|e| {
            let o = &e.involved_object;
            let (kind, name) = (
                o.kind.as_deref().unwrap_or(""),
                o.name.as_deref().unwrap_or(""),
            );
            o.namespace.as_deref() == Some(ns)
                && e.message.as_deref().is_some_and(says)
                && (kind == "Pod" && pods.contains(&(ns, name))
                    || owned_object(
                        ctx,
                        ns,
                        &format!("{}/{name}", kind.to_ascii_lowercase()),
                        release,
                    ))
        })
}

/// The release's workloads (labelled with its instance or annotated with its name by helm), each
/// with the findings behind it when it is not ready.
pub fn workloads(ctx: &Ctx, ns: &str, release: &str, findings: &[Finding]) -> Vec<Workload> {
    let snap = ctx.snap;
    let mut out = Vec::new();
    let mut add = |kind: &str, m: &ObjectMeta, ready: i32, desired: i32| {
        if !meta::belongs_to(m, ns, release) {
            return;
        }
        let name = meta::name(m);
        let blocked_by = if ready >= desired {
            Vec::new()
        } else {
            findings
                .iter()
                .filter(|f| explains(ctx, f, ns, kind, name))
                .map(|f| Blocker {
                    rule: f.rule.clone(),
                    object: f.object.clone(),
                })
                .collect()
        };
        out.push(Workload {
            kind: kind.to_string(),
            name: name.to_string(),
            ready,
            desired,
            blocked_by,
        });
    };
    for d in &snap.deployments {
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let ready = d
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        add("Deployment", &d.metadata, ready, want);
    }
    for s in &snap.stateful_sets {
        let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let ready = s
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        add("StatefulSet", &s.metadata, ready, want);
    }
    for d in &snap.daemon_sets {
        let (ready, want) = d
            .status
            .as_ref()
            .map(|s| (s.number_ready, s.desired_number_scheduled))
            .unwrap_or((0, 0));
        add("DaemonSet", &d.metadata, ready, want);
    }
    for j in &snap.jobs {
        let want = j.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
        let done = j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
        add("Job", &j.metadata, done, want);
    }
    out.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    out
}

/// Does the finding explain this workload: it is about the workload itself (or the ReplicaSet of
/// a Deployment), or it accounts for one of the workload's pods?
fn explains(ctx: &Ctx, f: &Finding, ns: &str, kind: &str, name: &str) -> bool {
    if f.namespace.as_deref() == Some(ns)
        && let Some((k, n)) = f.object.split_once('/')
    {
        let same = k == kind.to_ascii_lowercase() && n == name;
        let replica_set = kind == "Deployment"
            && k == "replicaset"
            && super::workload_create_failed::owns_replica_set(name, n);
        if same || replica_set {
            return true;
        }
    }
    f.covers.iter().any(|(pns, pname)| {
        pns == ns
            && ctx
                .snap
                .pods
                .iter()
                .find(|p| pod::namespace(p) == ns && pod::name(p) == pname)
                .is_some_and(|p| owned_by(p, kind, name))
    })
}

fn owned_by(p: &k8s_openapi::api::core::v1::Pod, kind: &str, name: &str) -> bool {
    p.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| match kind {
            "Deployment" => {
                o.kind == "ReplicaSet"
                    && super::workload_create_failed::owns_replica_set(name, &o.name)
            }
            _ => o.kind == kind && o.name == name,
        })
}
