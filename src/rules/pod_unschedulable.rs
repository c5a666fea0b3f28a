//! `pod-unschedulable`: a pod that no node takes. The scheduler's message (`0/3 nodes are
//! available: 1 node(s) had untolerated taint ..., 2 Insufficient memory.`) counts the nodes per
//! reason; the evidence reads each reason back into the cluster's facts: how much each node has
//! free against what the pod asks, which node carries which taint, which label no node has, which
//! node is cordoned, which claim is unbound. A pending pod with no `PodScheduled` condition at all
//! was never seen by a scheduler.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};

use super::events::{self, Recent};
use super::{Ctx, logs};
use crate::findings::Finding;
use crate::snapshot::pod;

pub const ID: &str = "pod-unschedulable";

/// The scheduler tries a new pod within seconds; one it has not looked at for this long has none.
const NO_SCHEDULER_AFTER: SignedDuration = SignedDuration::from_mins(2);

enum Seen {
    /// The scheduler's own words, from the pod's condition or its `FailedScheduling` event.
    Message(String),
    NoScheduler,
}

fn seen(ctx: &Ctx, recent: &Recent, p: &Pod) -> Option<Seen> {
    if pod::node(p).is_some() || pod::phase(p) != "Pending" {
        return None;
    }
    let cond = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
    if let Some(c) = cond.filter(|c| c.status == "False")
        && let Some(m) = c.message.as_deref().filter(|m| !m.is_empty())
    {
        return Some(Seen::Message(m.to_string()));
    }
    let (ns, name) = (pod::namespace(p), pod::name(p));
    if let Some(e) = recent
        .with_reason("Pod", ns, name, &["FailedScheduling"])
        .next()
    {
        return Some(Seen::Message(events::message(e).to_string()));
    }
    if cond.is_some() {
        return None;
    }
    let created = p.metadata.creation_timestamp.as_ref()?.0;
    (ctx.now.duration_since(created) > NO_SCHEDULER_AFTER).then_some(Seen::NoScheduler)
}

/// The scheduler waits for claims that a provisioner is still making: the pod waits for its
/// controllers, as it should.
fn waits_for_provisioning(ctx: &Ctx, p: &Pod, seen: &Seen) -> bool {
    let Seen::Message(m) = seen else {
        return false;
    };
    let causes = m.split(". preemption:").next().unwrap_or(m);
    let claims: Vec<&str> = p
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.as_str())
        .collect();
    causes.contains("unbound immediate PersistentVolumeClaims")
        && !causes.contains("Insufficient")
        && !claims.is_empty()
        && claims
            .iter()
            .all(|c| super::pvc_unbound::still_provisioning(ctx, pod::namespace(p), c))
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let recent = Recent::new(ctx.snap, ctx.now, events::RECENT);
    let mut out = Vec::new();
    for p in &ctx.snap.pods {
        if let Some(s) = seen(ctx, &recent, p)
            && !waits_for_provisioning(ctx, p, &s)
        {
            out.push(finding(ctx, p, s));
        }
    }
    out
}

fn finding(ctx: &Ctx, p: &Pod, seen: Seen) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let mut f = ctx.finding(ID, Some(ns), format!("pod/{name}"), &[("pod", name)]);
    f.covers.push((ns.to_string(), name.to_string()));
    let message = match seen {
        Seen::NoScheduler => {
            f.title = ctx.text(ID, "title_no_scheduler", &[("pod", name)]);
            f.evidence.push(
                ctx.text(
                    ID,
                    "no_condition",
                    &[(
                        "age",
                        &p.metadata
                            .creation_timestamp
                            .as_ref()
                            .map(|t| ctx.age(t.0))
                            .unwrap_or_default(),
                    )],
                ),
            );
            f.remediation.push(ctx.text(ID, "fix_scheduler", &[]));
            f.remediation
                .push("kubectl get pods -n kube-system -l component=kube-scheduler".into());
            return f;
        }
        Seen::Message(m) => m,
    };
    f.evidence.push(ctx.text(
        ID,
        "scheduler",
        &[("message", &logs::clip_middle(&message))],
    ));
    // What follows "preemption:" repeats the count for preemption, not new causes.
    let causes = message.split(". preemption:").next().unwrap_or(&message);
    let release = pod::release(p).unwrap_or("RELEASE");
    if causes.contains("Insufficient ") {
        insufficient(ctx, &mut f, p, causes, release);
    }
    if causes.contains("untolerated taint") || causes.contains("had taint") {
        taints(ctx, &mut f, p);
    }
    if causes.contains("node affinity") || causes.contains("node selector") {
        selector(ctx, &mut f, p);
    }
    let cordoned: Vec<&str> = ctx
        .snap
        .nodes
        .iter()
        .filter(|n| n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true))
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    if causes.contains("unschedulable") && !cordoned.is_empty() {
        f.evidence
            .push(ctx.text(ID, "cordoned", &[("nodes", &cordoned.join(", "))]));
        for n in &cordoned {
            f.remediation.push(format!("kubectl uncordon {n}"));
        }
    }
    if causes.contains("Too many pods") {
        f.evidence.push(ctx.text(ID, "too_many_pods", &[]));
        f.remediation.push(ctx.text(ID, "fix_too_many_pods", &[]));
    }
    if causes.contains("PersistentVolumeClaim")
        || causes.contains("persistent volumes")
        || causes.contains("persistentvolumeclaim")
        || causes.contains("volume node affinity")
    {
        if causes.contains("didn't find available persistent volumes to bind") {
            f.evidence.push(ctx.text(ID, "no_free_pv", &[]));
            f.remediation
                .push("kubectl get pvc -A | grep -vw Bound".to_string());
        }
        claims(ctx, &mut f, p);
    }
    f.remediation
        .push(format!("kubectl describe pod -n {ns} {name}"));
    f
}

/// `cpu` in cores, memory and the rest in their base unit, from a Kubernetes quantity
/// (`500m`, `2`, `16Mi`, `16163236Ki`, `1G`, `1e9`).
pub fn quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mul = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * mul)
}

fn show(resource: &str, v: f64) -> String {
    let v = if v > 0.0 { v } else { 0.0 };
    match resource {
        "cpu" => format!("{}m", (v * 1000.0).round()),
        "memory" | "ephemeral-storage" => {
            let mi = v / (1024.0 * 1024.0);
            if mi >= 1024.0 {
                format!("{:.1}Gi", mi / 1024.0)
            } else {
                format!("{}Mi", mi.round())
            }
        }
        _ => format!("{v}"),
    }
}

/// What a pod asks of a resource: the sum over its containers, or its largest init container if
/// that is more (init containers run one at a time, before the others).
pub fn pod_request(p: &Pod, resource: &str) -> f64 {
    let Some(spec) = p.spec.as_ref() else {
        return 0.0;
    };
    let req = |c: &k8s_openapi::api::core::v1::Container| {
        c.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get(resource))
            .and_then(|q| quantity(&q.0))
            .unwrap_or(0.0)
    };
    let main: f64 = spec.containers.iter().map(req).sum();
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(req)
        .fold(0.0, f64::max);
    main.max(init)
}

/// The pod's request as its spec writes it (`24Gi`, `500m`), when one container's request is the
/// pod's: the operator finds that text in the values file. A sum over containers has no written
/// form and is shown computed.
fn as_written(p: &Pod, resource: &str) -> Option<String> {
    let spec = p.spec.as_ref()?;
    let written = |c: &k8s_openapi::api::core::v1::Container| {
        let q = c.resources.as_ref()?.requests.as_ref()?.get(resource)?;
        Some((q.0.clone(), quantity(&q.0)?))
    };
    let main: Vec<(String, f64)> = spec.containers.iter().filter_map(written).collect();
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .filter_map(written)
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let total: f64 = main.iter().map(|(_, v)| v).sum();
    match (main.as_slice(), init) {
        (_, Some((text, v))) if v > total => Some(text),
        ([(text, _)], _) => Some(text.clone()),
        _ => None,
    }
}

fn allocatable(n: &Node, resource: &str) -> Option<f64> {
    quantity(&n.status.as_ref()?.allocatable.as_ref()?.get(resource)?.0)
}

fn insufficient(ctx: &Ctx, f: &mut Finding, p: &Pod, causes: &str, release: &str) {
    let mut resources: Vec<&str> = causes
        .split("Insufficient ")
        .skip(1)
        .filter_map(|s| s.split([',', '.', ' ']).next())
        .filter(|s| !s.is_empty())
        .collect();
    resources.sort();
    resources.dedup();
    let mut used: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for q in &ctx.snap.pods {
        if let Some(n) = pod::node(q)
            && !matches!(pod::phase(q), "Succeeded" | "Failed")
        {
            used.entry(n).or_default().push(q);
        }
    }
    if resources.iter().any(|r| matches!(*r, "cpu" | "memory")) {
        sizing(ctx, f);
    }
    for resource in resources {
        let computed = show(resource, pod_request(p, resource));
        // As written, with the nodes' unit beside it when the spec wrote another (`12 (12000m)`).
        let unit = |q: &str| {
            q.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
                .to_string()
        };
        let want = match as_written(p, resource) {
            Some(w) if unit(&w) == unit(&computed) => w,
            Some(w) => format!("{w} ({computed})"),
            None => computed,
        };
        f.evidence
            .push(ctx.text(ID, "asks", &[("resource", resource), ("request", &want)]));
        for n in &ctx.snap.nodes {
            let Some(name) = n.metadata.name.as_deref() else {
                continue;
            };
            let Some(total) = allocatable(n, resource) else {
                continue;
            };
            let requested: f64 = used
                .get(name)
                .into_iter()
                .flatten()
                .map(|q| pod_request(q, resource))
                .sum();
            f.evidence.push(ctx.text(
                ID,
                "node_free",
                &[
                    ("node", name),
                    ("resource", resource),
                    ("allocatable", &show(resource, total)),
                    ("requested", &show(resource, requested)),
                    ("free", &show(resource, (total - requested).max(0.0))),
                ],
            ));
        }
        f.remediation.push(ctx.text(
            ID,
            "fix_insufficient",
            &[("resource", resource), ("release", release)],
        ));
    }
}

/// BlueKing 7.x's node size: 8 cores and 32 GB each, 3.5 to 4 such nodes for the base suite. A
/// 32 GB machine reports a little less than 32 GiB of capacity, so 30 GiB is the line.
const BK_CORES: f64 = 8.0;
const BK_MEMORY: f64 = 30.0 * 1024.0 * 1024.0 * 1024.0;

/// Nodes smaller than BlueKing asks for: a cluster of them runs out before the suite is in.
fn sizing(ctx: &Ctx, f: &mut Finding) {
    let size = |n: &Node, r: &str| {
        let status = n.status.as_ref()?;
        let q = status.capacity.as_ref().and_then(|c| c.get(r));
        let q = q.or_else(|| status.allocatable.as_ref()?.get(r))?;
        quantity(&q.0)
    };
    let small: Vec<String> = ctx
        .snap
        .nodes
        .iter()
        .filter_map(|n| {
            let (cpu, mem) = (size(n, "cpu")?, size(n, "memory")?);
            (cpu < BK_CORES || mem < BK_MEMORY).then(|| {
                format!(
                    "{} (cpu {}, memory {})",
                    n.metadata.name.as_deref().unwrap_or("-"),
                    cpu,
                    show("memory", mem)
                )
            })
        })
        .collect();
    if small.is_empty() {
        return;
    }
    let (count, total) = (small.len().to_string(), ctx.snap.nodes.len().to_string());
    f.evidence.push(ctx.text(
        ID,
        "bk_sizing",
        &[
            ("count", &count),
            ("total", &total),
            ("nodes", &small.join(", ")),
        ],
    ));
    f.remediation.push(ctx.text(ID, "fix_bk_sizing", &[]));
}

fn tolerates(tolerations: &[Toleration], t: &Taint) -> bool {
    tolerations.iter().any(|tol| {
        let key_ok = match tol.key.as_deref() {
            None | Some("") => tol.operator.as_deref() == Some("Exists"),
            Some(k) => k == t.key,
        };
        let value_ok = tol.operator.as_deref() == Some("Exists")
            || tol.value.as_deref().unwrap_or("") == t.value.as_deref().unwrap_or("");
        let effect_ok = tol
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == t.effect);
        key_ok && value_ok && effect_ok
    })
}

fn taints(ctx: &Ctx, f: &mut Finding, p: &Pod) {
    let tolerations = p
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[]);
    for n in &ctx.snap.nodes {
        let name = n.metadata.name.as_deref().unwrap_or("");
        for t in n
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or(&[])
        {
            // A cordon's taint is reported as the cordon, with its own fix.
            if t.effect == "PreferNoSchedule"
                || t.key == "node.kubernetes.io/unschedulable"
                || tolerates(tolerations, t)
            {
                continue;
            }
            let taint = match t.value.as_deref().filter(|v| !v.is_empty()) {
                Some(v) => format!("{}={v}:{}", t.key, t.effect),
                None => format!("{}:{}", t.key, t.effect),
            };
            f.evidence
                .push(ctx.text(ID, "taint", &[("node", name), ("taint", &taint)]));
            if t.key != "node.kubernetes.io/unschedulable" {
                f.remediation.push(ctx.text(
                    ID,
                    "fix_taint",
                    &[
                        ("node", name),
                        ("taint", &format!("{}:{}", t.key, t.effect)),
                    ],
                ));
            }
        }
    }
}

fn selector(ctx: &Ctx, f: &mut Finding, p: &Pod) {
    let spec = p.spec.as_ref();
    for (k, v) in spec
        .and_then(|s| s.node_selector.as_ref())
        .into_iter()
        .flatten()
    {
        let has = ctx.snap.nodes.iter().any(|n| {
            n.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(k))
                .is_some_and(|x| x == v)
        });
        if !has {
            let label = format!("{k}={v}");
            f.evidence
                .push(ctx.text(ID, "no_label", &[("label", &label)]));
            f.remediation
                .push(ctx.text(ID, "fix_label", &[("label", &label)]));
        }
    }
    if spec
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .is_some()
    {
        f.evidence.push(ctx.text(ID, "affinity", &[]));
    }
}

fn claims(ctx: &Ctx, f: &mut Finding, p: &Pod) {
    let ns = pod::namespace(p);
    let names = p
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| {
            v.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str())
        });
    for claim in names {
        let pvc = ctx.snap.pvcs.iter().find(|c| {
            c.metadata.namespace.as_deref() == Some(ns) && c.metadata.name.as_deref() == Some(claim)
        });
        let phase = match pvc {
            Some(c) => c
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("Pending"),
            None => "missing",
        };
        if phase == "Bound" {
            continue;
        }
        f.evidence
            .push(ctx.text(ID, "claim", &[("claim", claim), ("phase", phase)]));
        f.remediation
            .push(format!("kubectl describe pvc -n {ns} {claim}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("16Mi"), Some(16.0 * 1024.0 * 1024.0));
        assert_eq!(quantity("16163236Ki"), Some(16163236.0 * 1024.0));
        assert_eq!(quantity("1G"), Some(1e9));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("x"), None);
        assert_eq!(show("cpu", 0.25), "250m");
        assert_eq!(show("memory", 3.0 * 1024.0 * 1024.0 * 1024.0), "3.0Gi");
    }
}
