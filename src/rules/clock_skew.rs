//! `clock-skew`: a node's clock is off, so tokens one BlueKing service signs look expired to another
//! (guide: "Service call failed": bkrepo answered "Expired token" to bk-paas when two nodes were
//! 62 s apart; bkrepo tolerates 60 s).
//!
//! Every kubelet renews its Lease in `kube-node-lease` about every 10 s (a quarter of the 40 s lease
//! duration) and writes `spec.renewTime` from its own clock. The node lifecycle controller judges
//! liveness by when it *sees* the lease change, not by that value, so a node whose clock is off stays
//! Ready while its renew time sits ahead of or behind the others. Comparing each node with the median
//! of all ready nodes therefore shows a clock that is off by much more than the 10 s renewal jitter.
//!
//! A lease of a node that is not Ready is old because the kubelet stopped, not because its clock is
//! wrong: such nodes are left out.

use jiff::Timestamp;

use super::Ctx;
use super::logs::{self, LogHit};
use crate::findings::{Finding, Severity};
use crate::format::when;
use crate::snapshot::node;

pub const ID: &str = "clock-skew";

/// Beyond the renewal interval plus a collection delay: a real difference.
pub const WARN_SECS: i64 = 30;
/// bkrepo rejects tokens more than 60 s off (guide); beyond that deployments fail.
pub const ERROR_SECS: i64 = 60;

const NODE_LEASE_NS: &str = "kube-node-lease";

/// (node, renew time) of the leases that say something about a clock.
fn live_renewals<'a>(ctx: &Ctx<'a>) -> Vec<(&'a str, Timestamp)> {
    let snap = ctx.snap;
    snap.leases
        .iter()
        .filter(|l| l.metadata.namespace.as_deref() == Some(NODE_LEASE_NS))
        .filter_map(|l| {
            let name = l.metadata.name.as_deref()?;
            let renew = l.spec.as_ref()?.renew_time.as_ref()?.0;
            // Without Node objects readiness is unknown: the median still keeps one dead node from
            // moving the reference, and a node that is behind is reported with that caveat.
            let usable = snap.nodes.is_empty() || snap.node(name).is_some_and(node::is_ready);
            usable.then_some((name, renew))
        })
        .collect()
}

/// The median in whole seconds; the mean of the middle two for an even count, so that neither of
/// two nodes is taken as the one that is right.
fn median(sorted: &[Timestamp]) -> Timestamp {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        let (a, b) = (sorted[n / 2 - 1].as_second(), sorted[n / 2].as_second());
        Timestamp::from_second(a + (b - a) / 2).unwrap_or(sorted[n / 2])
    }
}

pub fn severity_for(offset: i64) -> Option<Severity> {
    match offset.abs() {
        s if s > ERROR_SECS => Some(Severity::Error),
        s if s > WARN_SECS => Some(Severity::Warning),
        _ => None,
    }
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let renewals = live_renewals(ctx);
    let mut sorted: Vec<Timestamp> = renewals.iter().map(|(_, t)| *t).collect();
    sorted.sort();
    let mut out: Vec<(i64, Finding)> = Vec::new();

    let mid = (!sorted.is_empty()).then(|| median(&sorted));
    if let Some(mid) = mid.filter(|_| sorted.len() >= 2) {
        for (node, renew) in &renewals {
            let offset = renew.as_second() - mid.as_second();
            let Some(sev) = severity_for(offset) else {
                continue;
            };
            let mut f = ctx.finding(ID, None, format!("node/{node}"), &[("node", node)]);
            f.severity = sev;
            let key = if offset > 0 { "ahead" } else { "behind" };
            f.evidence.push(ctx.text(
                ID,
                key,
                &[
                    ("node", node),
                    ("secs", &offset.abs().to_string()),
                    ("renew", &when(*renew)),
                    ("median", &when(mid)),
                    ("n", &sorted.len().to_string()),
                ],
            ));
            if sorted.len() == 2 {
                f.evidence.push(ctx.text(ID, "two_nodes", &[]));
            }
            if offset < 0 && snap.nodes.is_empty() {
                f.evidence
                    .push(ctx.text(ID, "ready_unknown", &[("node", node)]));
            }
            fix_node(ctx, &mut f, node);
            out.push((offset.abs(), f));
        }
    }

    // The API server's Date header is one more clock, but only a useful one when the API server's
    // host has no kubelet among the ready nodes (a managed or binary-installed control plane): a
    // kubeadm static pod shares its node's clock, which the lease comparison above already judged,
    // and the header then only adds the time the collection took.
    let apiserver_on_node = snap.pods.iter().any(|p| {
        p.metadata.namespace.as_deref() == Some("kube-system")
            && p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("component"))
                .is_some_and(|c| c == "kube-apiserver")
            && p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| renewals.iter().any(|(r, _)| *r == n))
    });
    if let (Some(server), Some(mid), false) = (snap.server_time, mid, apiserver_on_node) {
        let offset = mid.as_second() - server.as_second();
        if let Some(sev) = severity_for(offset) {
            let mut f = ctx.finding(
                ID,
                Some("default"),
                "service/kubernetes".to_string(),
                &[("node", "kube-apiserver")],
            );
            f.severity = sev;
            f.evidence.push(ctx.text(
                ID,
                "server",
                &[
                    ("secs", &offset.abs().to_string()),
                    ("server", &when(server)),
                    ("median", &when(mid)),
                    ("n", &sorted.len().to_string()),
                ],
            ));
            f.evidence.push(ctx.text(ID, "tolerance", &[]));
            f.remediation.push(ctx.text(ID, "on_apiserver", &[]));
            push_ntp(&mut f);
            f.remediation.push(ctx.text(ID, "retry", &[]));
            out.push((offset.abs(), f));
        }
    }

    let hits = logs::scan(snap, &ctx.catalog.rule(ID).compiled);
    if !hits.is_empty() {
        if let Some((_, worst)) = out.iter_mut().max_by_key(|(off, _)| *off) {
            add_hits(ctx, worst, &hits);
        } else {
            out.push((0, log_only(ctx, &hits, sorted.len())));
        }
    }
    out.into_iter().map(|(_, f)| f).collect()
}

fn push_ntp(f: &mut Finding) {
    f.remediation.push("timedatectl set-ntp true".into());
    f.remediation
        .push("systemctl enable --now chronyd && chronyc makestep".into());
    f.remediation.push("timedatectl status".into());
}

pub fn fix_node(ctx: &Ctx, f: &mut Finding, node: &str) {
    let ip = ctx
        .snap
        .node(node)
        .and_then(node::internal_ip)
        .unwrap_or("-");
    f.evidence.push(ctx.text(ID, "tolerance", &[]));
    f.remediation
        .push(ctx.text(ID, "on_node", &[("node", node), ("ip", ip)]));
    push_ntp(f);
    f.remediation.push(ctx.text(ID, "retry", &[]));
}

fn add_hits(ctx: &Ctx, f: &mut Finding, hits: &[LogHit]) {
    const SHOWN: usize = 5;
    if hits.len() > SHOWN {
        f.evidence.push(ctx.text(
            ID,
            "more_logs",
            &[
                ("n", &hits.len().to_string()),
                ("shown", &SHOWN.to_string()),
            ],
        ));
    }
    for (i, h) in hits.iter().enumerate() {
        f.covers.push((h.namespace.to_string(), h.pod.to_string()));
        if i >= SHOWN {
            continue;
        }
        f.evidence.push(ctx.text(
            ID,
            "log",
            &[
                ("pod", &format!("{}/{}", h.namespace, h.pod)),
                ("container", h.container),
                ("line", h.line.trim()),
            ],
        ));
    }
    f.covers.sort();
    f.covers.dedup();
}

/// The log lines without a clock shown to be off. When at least two ready nodes' leases agree, the
/// clocks were fine when the snapshot was taken: the lines may be old or have another cause, so the
/// finding is only informational. Without leases nothing contradicts the logs.
fn log_only(ctx: &Ctx, hits: &[LogHit], live_leases: usize) -> Finding {
    let first = &hits[0];
    let mut f = ctx.finding(
        ID,
        Some(first.namespace),
        format!("pod/{}", first.pod),
        &[("node", "-")],
    );
    // No node is shown to be off: the title must not name one.
    f.title = ctx.text(
        ID,
        "title_logs",
        &[("pod", &format!("{}/{}", first.namespace, first.pod))],
    );
    add_hits(ctx, &mut f, hits);
    if live_leases >= 2 {
        f.severity = Severity::Info;
        f.evidence
            .push(ctx.text(ID, "leases_agree", &[("n", &live_leases.to_string())]));
    } else {
        f.evidence.push(ctx.text(ID, "no_leases", &[]));
    }
    f.evidence.push(ctx.text(ID, "tolerance", &[]));
    f.remediation.push(ctx.text(ID, "compare", &[]));
    let mut nodes: Vec<(&str, &str)> = ctx
        .snap
        .nodes
        .iter()
        .filter_map(|n| {
            let name = n.metadata.name.as_deref()?;
            Some((name, node::internal_ip(n).unwrap_or(name)))
        })
        .collect();
    nodes.sort();
    for (n, ip) in nodes {
        f.remediation.push(format!("ssh {ip} date -u +%s  # {n}"));
    }
    f.remediation.push(ctx.text(ID, "on_off_nodes", &[]));
    push_ntp(&mut f);
    f.remediation.push(ctx.text(ID, "retry", &[]));
    f
}
