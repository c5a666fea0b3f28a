//! `node-condition`: a node condition other than those node-not-ready reads (`Ready` and the
//! kubelet's pressures) says something is wrong: node-problem-detector's `KernelDeadlock`,
//! `ReadonlyFilesystem`, `FrequentKubeletRestart`, `CorruptDockerOverlay2`, … or any condition a
//! vendor adds. A condition is abnormal when its status is `True` and its type is not one that is
//! healthy when true (`…Ready`, `…Available`, `…Healthy`). The kubelet keeps running pods there, so
//! nothing else in the snapshot says why they misbehave.

use k8s_openapi::api::core::v1::{Node, NodeCondition};

use super::{Ctx, node_not_ready};
use crate::findings::{Finding, Severity};
use crate::format::when;
use crate::snapshot::node;

pub const ID: &str = "node-condition";

/// Conditions that stop the node's work outright: its filesystem or kernel, not a slowdown.
const SEVERE: &[&str] = &[
    "KernelDeadlock",
    "ReadonlyFilesystem",
    "CorruptDockerOverlay2",
];

/// Whether a condition's type reads as good news when True.
pub fn healthy_when_true(type_: &str) -> bool {
    ["Ready", "Available", "Healthy", "OK", "Ok", "Up"]
        .iter()
        .any(|s| type_.ends_with(s))
}

pub fn abnormal(n: &Node) -> Vec<&NodeCondition> {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.status == "True")
        .filter(|c| !healthy_when_true(&c.type_))
        .filter(|c| !node_not_ready::PRESSURES.contains(&c.type_.as_str()))
        .collect()
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in &ctx.snap.nodes {
        let conditions = abnormal(n);
        if conditions.is_empty() {
            continue;
        }
        let name = n.metadata.name.as_deref().unwrap_or("");
        let ip = node::internal_ip(n).unwrap_or(name);
        let types: Vec<&str> = conditions.iter().map(|c| c.type_.as_str()).collect();
        let mut f = ctx.finding(
            ID,
            None,
            format!("node/{name}"),
            &[("node", name), ("conditions", &types.join(", "))],
        );
        if types.iter().any(|t| SEVERE.contains(t)) {
            f.severity = Severity::Error;
        }
        for c in &conditions {
            let since = c
                .last_transition_time
                .as_ref()
                .map(|t| format!("{} ({})", when(t.0), ctx.age(t.0)))
                .unwrap_or_else(|| "-".into());
            f.evidence.push(ctx.text(
                ID,
                "condition",
                &[
                    ("type", c.type_.as_str()),
                    ("reason", c.reason.as_deref().unwrap_or("-")),
                    ("message", c.message.as_deref().unwrap_or("").trim()),
                    ("since", &since),
                ],
            ));
        }
        f.remediation.push(format!("kubectl describe node {name}"));
        f.remediation
            .push(ctx.text(ID, "on_node", &[("node", name), ("ip", ip)]));
        f.remediation
            .push(format!("ssh {ip} dmesg -T | tail -n 50"));
        if types.contains(&"ReadonlyFilesystem") {
            f.remediation
                .push(format!("ssh {ip} \"grep ' ro,' /proc/mounts\""));
        }
        if types.contains(&"ReadonlyFilesystem") {
            f.remediation
                .push(ctx.text(ID, "fix_readonly", &[("node", name)]));
        }
        if types.iter().any(|t| t.contains("Restart")) {
            f.remediation.push(format!(
                "ssh {ip} journalctl -u kubelet -u containerd -u docker --since -1h --no-pager | tail -n 50"
            ));
        }
        f.remediation.push(ctx.text(ID, "fix", &[("node", name)]));
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_conditions_are_good_news() {
        assert!(healthy_when_true("Ready"));
        assert!(healthy_when_true("ContainerRuntimeReady"));
        assert!(!healthy_when_true("KernelDeadlock"));
        assert!(!healthy_when_true("ReadonlyFilesystem"));
        assert!(!healthy_when_true("FrequentKubeletRestart"));
    }
}
