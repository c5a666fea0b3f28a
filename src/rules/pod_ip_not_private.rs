//! `pod-ip-not-private`: the pod network uses public addresses, so Consul (bk-consul, used by the
//! monitoring and logging suites) finds no private IPv4 address to bind to and exits with
//! "No private IPv4 address found" (guide: bk-consul 报错 No private IPv4 address found).
//!
//! Consul picks its bind address with go-sockaddr's `GetPrivateIP`, which accepts only the RFC 6890
//! private ranges listed in [`PRIVATE_V4`]; 100.64.0.0/10 (carrier-grade NAT, common for pod networks)
//! is among them. IPv6 addresses are not looked at: Consul wants an IPv4 one.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Pod;

use super::Ctx;
use super::logs::{self, LogHit};
use crate::findings::{Finding, Severity};
use crate::snapshot::pod;

pub const ID: &str = "pod-ip-not-private";

/// go-sockaddr `ifaddrs.go`/`rfc.go`: the blocks `GetPrivateIP` treats as private.
pub const PRIVATE_V4: [(Ipv4Addr, u8); 8] = [
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 0, 2, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
];

fn in_block(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

pub fn is_private(ip: Ipv4Addr) -> bool {
    PRIVATE_V4.iter().any(|&(n, l)| in_block(ip, n, l))
}

/// A CIDR is private when every address in it is: it lies inside one private block. A /8 pod CIDR
/// that starts at 10.0.0.0 is private; 172.0.0.0/8 is not, although it contains 172.16.0.0/12.
/// `None` for IPv6 or unparsable text.
pub fn cidr_is_private(cidr: &str) -> Option<bool> {
    let (addr, len) = cidr.trim().split_once('/')?;
    let ip: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some(
        PRIVATE_V4
            .iter()
            .any(|&(n, l)| len >= l && in_block(ip, n, l)),
    )
}

/// The IPv4 addresses a pod has from the pod network. A hostNetwork pod's address is its node's,
/// which is rightly public on many hosts and is not what the pod CIDR hands out.
fn pod_v4_ips(p: &Pod) -> Vec<Ipv4Addr> {
    if p.spec.as_ref().and_then(|s| s.host_network) == Some(true) {
        return Vec::new();
    }
    let Some(st) = p.status.as_ref() else {
        return Vec::new();
    };
    let mut ips: Vec<Ipv4Addr> = st
        .pod_ips
        .iter()
        .flatten()
        .map(|i| i.ip.as_str())
        .chain(st.pod_ip.as_deref())
        .filter_map(|s| s.parse().ok())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

#[derive(Default)]
struct NodeIssue<'a> {
    cidrs: Vec<String>,
    pods: Vec<(&'a Pod, Ipv4Addr)>,
    hits: Vec<LogHit<'a>>,
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    // Keyed by node name; "" collects what cannot be placed on a node (a pod not scheduled, logs of
    // a pod the snapshot has no object for).
    let mut by_node: BTreeMap<&str, NodeIssue> = BTreeMap::new();
    for n in &snap.nodes {
        let name = n.metadata.name.as_deref().unwrap_or("");
        let spec = n.spec.as_ref();
        let mut cidrs: Vec<&str> = spec
            .and_then(|s| s.pod_cidrs.as_ref())
            .into_iter()
            .flatten()
            .map(String::as_str)
            .chain(spec.and_then(|s| s.pod_cidr.as_deref()))
            .collect();
        cidrs.sort();
        cidrs.dedup();
        for c in cidrs {
            if cidr_is_private(c) == Some(false) {
                by_node.entry(name).or_default().cidrs.push(c.to_string());
            }
        }
    }
    let mut private_pods_on: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &snap.pods {
        for ip in pod_v4_ips(p) {
            if is_private(ip) {
                *private_pods_on
                    .entry(pod::node(p).unwrap_or(""))
                    .or_default() += 1;
            } else {
                by_node
                    .entry(pod::node(p).unwrap_or(""))
                    .or_default()
                    .pods
                    .push((p, ip));
            }
        }
    }
    for hit in logs::scan(snap, &ctx.catalog.rule(ID).compiled) {
        // A consul pod in its first minutes may log this before its network is up.
        let settling = snap.pods.iter().any(|p| {
            pod::namespace(p) == hit.namespace
                && pod::name(p) == hit.pod
                && super::site::consul_settling(p, ctx.now)
        });
        if settling {
            continue;
        }
        by_node
            .entry(hit.node.unwrap_or(""))
            .or_default()
            .hits
            .push(hit);
    }

    // A CNI with its own IP pool (Calico IPAM) ignores the node's podCIDR: when the node's pods have
    // private addresses and none has a public one, the public podCIDR is unused and harmless.
    for (node, issue) in by_node.iter_mut() {
        if issue.pods.is_empty() && private_pods_on.get(node).is_some_and(|n| *n > 0) {
            issue.cidrs.clear();
        }
    }

    // Logs of a pod the snapshot has no object for cannot be placed on a node; they belong with the
    // public addresses found elsewhere.
    if let Some(orphans) = by_node.get_mut("")
        && orphans.cidrs.is_empty()
        && orphans.pods.is_empty()
    {
        let hits = std::mem::take(&mut orphans.hits);
        if let Some(first) = by_node
            .values_mut()
            .find(|i| !i.cidrs.is_empty() || !i.pods.is_empty())
        {
            first.hits.extend(hits);
        }
    }

    let mut out = Vec::new();
    for (node, issue) in by_node {
        // The log line with only private addresses around it has another cause (a pod whose network
        // is not up); naming a CIDR to fix would send the operator the wrong way.
        if issue.cidrs.is_empty() && issue.pods.is_empty() {
            continue;
        }
        let (namespace, object) = if node.is_empty() {
            let p = issue
                .pods
                .first()
                .map(|(p, _)| (pod::namespace(p), pod::name(p)));
            let p = p.or(issue.hits.first().map(|h| (h.namespace, h.pod)));
            match p {
                Some((ns, name)) => (Some(ns), format!("pod/{name}")),
                None => continue,
            }
        } else {
            (None, format!("node/{node}"))
        };
        let mut f = ctx.finding(ID, namespace, object, &[("node", node)]);
        for c in &issue.cidrs {
            f.evidence
                .push(ctx.text(ID, "cidr", &[("node", node), ("cidr", c)]));
        }
        const SHOWN: usize = 5;
        for (p, ip) in issue.pods.iter().take(SHOWN) {
            f.evidence.push(ctx.text(
                ID,
                "pod_ip",
                &[
                    ("pod", &format!("{}/{}", pod::namespace(p), pod::name(p))),
                    ("ip", &ip.to_string()),
                ],
            ));
        }
        if issue.pods.len() > SHOWN {
            f.evidence.push(ctx.text(
                ID,
                "more_pods",
                &[("n", &(issue.pods.len() - SHOWN).to_string())],
            ));
        }
        for h in &issue.hits {
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
        // Public pod addresses alone break only what insists on a private one; the log line shows
        // that something (Consul) already does.
        if !issue.hits.is_empty() {
            f.severity = Severity::Error;
        }

        f.remediation.push(ctx.text(ID, "fix_cidr", &[]));
        f.remediation
            .push("kubectl cluster-info dump | grep -m1 -e --cluster-cidr".into());
        if !node.is_empty() {
            f.remediation
                .push(ctx.text(ID, "restart_kubelet", &[("node", node)]));
            f.remediation.push("systemctl restart kubelet".into());
        }
        f.remediation.push(ctx.text(ID, "recreate", &[]));
        let mut recreate: Vec<(&str, &str)> = issue
            .hits
            .iter()
            .map(|h| (h.namespace, h.pod))
            .chain(
                issue
                    .pods
                    .iter()
                    .filter(|(p, _)| pod::is_troubled(p))
                    .map(|(p, _)| (pod::namespace(p), pod::name(p))),
            )
            .collect();
        recreate.sort();
        recreate.dedup();
        for (ns, name) in &recreate {
            f.remediation
                .push(format!("kubectl delete pod -n {ns} {name}"));
        }
        if !node.is_empty() {
            f.remediation.push(format!(
                "kubectl get pods -A -o wide --field-selector spec.nodeName={node}"
            ));
        }
        // Consul's crash loop is this finding's, not a bare crash loop.
        f.covers = issue
            .hits
            .iter()
            .map(|h| (h.namespace.to_string(), h.pod.to_string()))
            .collect();
        f.covers.sort();
        f.covers.dedup();
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn private_ranges_and_their_edges() {
        for p in [
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.3.4",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.10",
            "192.168.1.1",
        ] {
            assert!(is_private(ip(p)), "{p} is private");
        }
        for p in [
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "30.1.2.3",
            "8.8.8.8",
        ] {
            assert!(!is_private(ip(p)), "{p} is public");
        }
    }

    #[test]
    fn cidrs_must_lie_inside_a_private_block() {
        assert_eq!(cidr_is_private("10.244.1.0/24"), Some(true));
        assert_eq!(cidr_is_private("100.64.0.0/10"), Some(true));
        assert_eq!(cidr_is_private("172.16.0.0/12"), Some(true));
        assert_eq!(cidr_is_private("100.64.0.0/9"), Some(false));
        assert_eq!(cidr_is_private("172.0.0.0/8"), Some(false));
        assert_eq!(cidr_is_private("30.244.1.0/24"), Some(false));
        assert_eq!(cidr_is_private("fd00:10:244::/64"), None);
        assert_eq!(cidr_is_private("10.0.0.0/33"), None);
        assert_eq!(cidr_is_private("garbage"), None);
    }
}
