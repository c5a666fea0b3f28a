//! `node-not-ready`: a node whose kubelet stopped reporting (`Ready` False or Unknown), one under
//! disk, memory or PID pressure (the kubelet evicts pods and the scheduler avoids it), or one that
//! is cordoned. Its pods cannot start or are evicted, which is often why a release timed out.

use k8s_openapi::api::core::v1::{Node, NodeCondition};

use super::Ctx;
use crate::findings::{Finding, Severity};
use crate::format::when;
use crate::snapshot::{node, pod};

pub const ID: &str = "node-not-ready";

/// A node flaps NotReady for a few seconds on a kubelet restart; a minute is trouble.
pub const GRACE_SECS: i64 = 60;
pub const PRESSURES: &[&str] = &[
    "DiskPressure",
    "MemoryPressure",
    "PIDPressure",
    "NetworkUnavailable",
];
/// Pods named in the evidence before the rest are counted.
const PODS_SHOWN: usize = 10;

fn condition<'a>(n: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    n.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in &ctx.snap.nodes {
        if let Some(f) = finding(ctx, n) {
            out.push(f);
        }
    }
    out
}

fn finding(ctx: &Ctx, n: &Node) -> Option<Finding> {
    let name = n.metadata.name.as_deref().unwrap_or("");
    let ip = node::internal_ip(n).unwrap_or("-");
    let ready = condition(n, "Ready");
    let not_ready = ready.filter(|c| {
        c.status != "True"
            && c.last_transition_time
                .as_ref()
                .is_none_or(|t| ctx.now.as_second() - t.0.as_second() >= GRACE_SECS)
    });
    let pressures: Vec<&NodeCondition> = PRESSURES
        .iter()
        .filter_map(|t| condition(n, t))
        .filter(|c| c.status == "True")
        .collect();
    let cordoned = n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    if not_ready.is_none() && pressures.is_empty() && !cordoned {
        return None;
    }
    let mut f = ctx.finding(
        ID,
        None,
        format!("node/{name}"),
        &[("node", name), ("ip", ip)],
    );
    f.severity = if not_ready.is_some() {
        Severity::Error
    } else if !pressures.is_empty() {
        Severity::Warning
    } else {
        Severity::Info
    };
    let vars = [("node", name), ("ip", ip)];
    if let Some(c) = not_ready {
        let since = c
            .last_transition_time
            .as_ref()
            .map(|t| format!("{} ({})", when(t.0), ctx.age(t.0)))
            .unwrap_or_else(|| "-".into());
        f.evidence.push(ctx.text(
            ID,
            "not_ready",
            &[
                ("status", c.status.as_str()),
                ("since", &since),
                ("reason", c.reason.as_deref().unwrap_or("-")),
                ("message", c.message.as_deref().unwrap_or("")),
            ],
        ));
        let lease = ctx.snap.leases.iter().find(|l| {
            l.metadata.namespace.as_deref() == Some("kube-node-lease")
                && l.metadata.name.as_deref() == Some(name)
        });
        match lease.and_then(|l| l.spec.as_ref()?.renew_time.as_ref()) {
            Some(t) => f.evidence.push(ctx.text(
                ID,
                "lease",
                &[("renewed", &when(t.0)), ("age", &ctx.age(t.0))],
            )),
            None => f.evidence.push(ctx.text(ID, "no_lease", &[])),
        }
    }
    for c in &pressures {
        f.evidence.push(ctx.text(
            ID,
            "pressure",
            &[
                ("type", c.type_.as_str()),
                ("reason", c.reason.as_deref().unwrap_or("-")),
                ("message", c.message.as_deref().unwrap_or("")),
            ],
        ));
    }
    if cordoned {
        f.evidence.push(ctx.text(ID, "cordoned", &[]));
    }
    let mut pods: Vec<_> = ctx
        .snap
        .pods
        .iter()
        .filter(|p| pod::node(p) == Some(name) && !pod::is_ready(p))
        .collect();
    pods.sort_by_key(|p| (pod::namespace(p), pod::name(p)));
    if !pods.is_empty() {
        let mut shown: Vec<String> = pods
            .iter()
            .take(PODS_SHOWN)
            .map(|p| format!("{}/{}", pod::namespace(p), pod::name(p)))
            .collect();
        if pods.len() > PODS_SHOWN {
            shown.push(ctx.text(ID, "more", &[("n", &(pods.len() - PODS_SHOWN).to_string())]));
        }
        f.evidence
            .push(ctx.text(ID, "pods", &[("pods", &shown.join(", "))]));
    }
    // A node that stopped reporting explains its pods; pressure alone explains only the evicted.
    for p in &pods {
        let evicted = p.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted");
        if not_ready.is_some() || evicted {
            f.covers
                .push((pod::namespace(p).to_string(), pod::name(p).to_string()));
        }
    }

    if not_ready.is_some() || !pressures.is_empty() {
        f.remediation.push(ctx.text(ID, "on_node", &vars));
        f.remediation.push("systemctl status kubelet".to_string());
        f.remediation
            .push("journalctl -u kubelet --since -30min".to_string());
    }
    if pressures.iter().any(|c| c.type_ == "DiskPressure") {
        f.remediation.push(ctx.text(ID, "disk", &[]));
        f.remediation
            .push("df -h /var/lib/kubelet /var/lib/containerd".to_string());
        f.remediation.push("crictl rmi --prune".to_string());
    }
    if pressures
        .iter()
        .any(|c| c.type_ == "MemoryPressure" || c.type_ == "PIDPressure")
    {
        f.remediation.push(ctx.text(ID, "memory", &[]));
        f.remediation.push("free -m".to_string());
    }
    if cordoned {
        f.remediation.push(ctx.text(ID, "uncordon", &vars));
        f.remediation.push(format!("kubectl uncordon {name}"));
    }
    Some(f)
}
