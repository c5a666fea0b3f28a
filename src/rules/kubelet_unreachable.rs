//! `kubelet-unreachable`: `kubectl logs`, `exec`, `attach` and `port-forward` go from the API
//! server to the node's kubelet (port 10250). When the collector's own log read comes back
//! `dial tcp IP:10250: connect: no route to host` (or `connection refused`, `i/o timeout`), that
//! way is closed: the node is down, the kubelet is not listening, or a firewall blocks the port
//! (BlueKing's node requirements: firewall off).

use std::collections::BTreeMap;

use super::Ctx;
use crate::findings::Finding;
use crate::snapshot::{LogFailure, node};

pub const ID: &str = "kubelet-unreachable";

/// `dial tcp HOST:PORT: ERROR` in the API server's message: the address and what went wrong.
pub fn dial_error(message: &str) -> Option<(&str, &str)> {
    let rest = &message[message.find("dial tcp ")? + "dial tcp ".len()..];
    let (addr, error) = rest.split_once(": ")?;
    Some((addr, error.trim()))
}

fn host_of(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
        None => addr,
    }
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    // node (or the address, when no node is known) → its failed reads
    let mut by_node: BTreeMap<String, Vec<(&LogFailure, &str, &str)>> = BTreeMap::new();
    for f in &snap.log_failures {
        let Some((addr, error)) = dial_error(&f.message) else {
            continue;
        };
        let ip = host_of(addr);
        let node_name = f
            .node
            .clone()
            .or_else(|| {
                let p = snap.pods.iter().find(|p| {
                    p.metadata.namespace.as_deref() == Some(&f.namespace)
                        && p.metadata.name.as_deref() == Some(&f.pod)
                })?;
                crate::snapshot::pod::node(p).map(String::from)
            })
            .or_else(|| {
                snap.nodes
                    .iter()
                    .find(|n| node::internal_ip(n) == Some(ip))
                    .and_then(|n| n.metadata.name.clone())
            })
            .unwrap_or_else(|| ip.to_string());
        by_node.entry(node_name).or_default().push((f, addr, error));
    }
    let mut out = Vec::new();
    for (name, mut reads) in by_node {
        reads.sort_by(|a, b| {
            (&a.0.namespace, &a.0.pod, &a.0.container, !a.0.previous).cmp(&(
                &b.0.namespace,
                &b.0.pod,
                &b.0.container,
                !b.0.previous,
            ))
        });
        let n = snap.node(&name);
        // The address the API server dialled is the one to test, whatever the Node object says.
        let ip = host_of(reads[0].1);
        let port = reads[0].1.rsplit_once(':').map_or("10250", |(_, p)| p);
        let mut f = ctx.finding(
            ID,
            None,
            format!("node/{name}"),
            &[("node", &name), ("ip", ip)],
        );
        for (lf, addr, error) in &reads {
            let which = if lf.previous {
                "log_previous"
            } else {
                "log_current"
            };
            f.evidence.push(ctx.text(
                ID,
                "read",
                &[
                    ("namespace", &lf.namespace),
                    ("pod", &lf.pod),
                    ("container", &lf.container),
                    ("stream", ctx.catalog.ui(which, ctx.lang)),
                    ("addr", addr),
                    ("error", error),
                ],
            ));
        }
        let not_ready = n.is_some_and(|n| !node::is_ready(n));
        if not_ready {
            f.evidence
                .push(ctx.text(ID, "not_ready", &[("node", &name)]));
        }
        f.evidence.push(ctx.text(ID, "through", &[("node", &name)]));
        f.remediation
            .push(ctx.text(ID, "test", &[("node", &name), ("ip", ip), ("port", port)]));
        f.remediation.push(format!(
            "curl -sk -o /dev/null -w '%{{http_code}}\\n' --connect-timeout 5 https://{ip}:{port}/healthz"
        ));
        if not_ready {
            f.remediation
                .push(ctx.text(ID, "node_down", &[("node", &name)]));
            f.remediation.push(format!("kubectl describe node {name}"));
        }
        let refused = reads
            .iter()
            .any(|(_, _, e)| e.contains("connection refused"));
        if refused {
            f.remediation
                .push(ctx.text(ID, "kubelet", &[("node", &name), ("ip", ip)]));
            f.remediation.push("systemctl status kubelet".into());
        }
        f.remediation.push(ctx.text(
            ID,
            "firewall",
            &[("node", &name), ("ip", ip), ("port", port)],
        ));
        f.remediation
            .push("systemctl disable --now firewalld".into());
        f.remediation
            .push(ctx.text(ID, "security_group", &[("port", port)]));
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_error_of_the_recorded_500() {
        let m = "Get \"https://127.0.0.9:10250/containerLogs/blueking/bk-repo-bkrepo-gateway-0/gateway?previous=true&tailLines=200\": dial tcp 127.0.0.9:10250: connect: connection refused";
        assert_eq!(
            dial_error(m),
            Some(("127.0.0.9:10250", "connect: connection refused"))
        );
        assert_eq!(host_of("127.0.0.9:10250"), "127.0.0.9");
        assert_eq!(host_of("[fd00::1]:10250"), "fd00::1");
        assert_eq!(dial_error("pods \"x\" is forbidden"), None);
    }
}
