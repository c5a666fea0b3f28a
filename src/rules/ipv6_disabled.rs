//! `ipv6-disabled`: a server that listens on an IPv6 address exits when its network has no IPv6:
//! nginx's `socket() [::]:80 failed (97: Address family not supported by protocol)` (the bk-repo
//! gateway), Go's `listen tcp [::1]:PORT: socket: address family not supported by protocol` (BCS
//! services, fixed in bk-bcs #3802). The fix depends on the pod: newer bk-repo charts read
//! `gateway.extIp` (their gateway has the env `BK_REPO_EXT_IP`), older ones only work with IPv6;
//! and where the node's own probe (`--probe`) finds IPv6 on, the kernel is not the cause but the
//! pod's network namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use super::apigateway_too_old::BCS;
use super::logs::node_ip;
use super::logs::{self, LogHit};
use super::{Ctx, site};
use crate::findings::Finding;
use crate::snapshot::pod;
use crate::snapshot::probe_report::Outcome;

pub const ID: &str = "ipv6-disabled";

/// The env a bk-repo gateway reads `gateway.extIp` from (the chart's gateway Deployment).
pub const EXT_IP_ENV: &str = "BK_REPO_EXT_IP";
const BCS_NS: &str = "bcs-system";

fn has_ext_ip_env(p: &Pod) -> bool {
    p.spec.as_ref().is_some_and(|s| {
        s.containers
            .iter()
            .flat_map(|c| c.env.iter().flatten())
            .any(|e| e.name == EXT_IP_ENV)
    })
}

/// IPv6 usable on this node by its own probe.
fn node_has_ipv6(ctx: &Ctx, node: &str) -> bool {
    ctx.snap.probes.iter().any(|p| {
        p.node == node
            && matches!(&p.outcome, Outcome::Ran { report, .. }
                if report.ipv6.is_some_and(|v| v.usable()))
    })
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let entry = ctx.catalog.rule(ID);
    let mut by_pod: BTreeMap<(&str, &str), Vec<LogHit>> = BTreeMap::new();
    for hit in logs::scan(snap, &entry.compiled) {
        by_pod
            .entry((hit.namespace, hit.pod))
            .or_default()
            .push(hit);
    }
    let bcs_ns = site::release(&ctx.releases, BCS).map_or(BCS_NS, |r| r.namespace.as_str());
    let mut out = Vec::new();
    for ((ns, name), hits) in by_pod {
        let p = snap
            .pods
            .iter()
            .find(|p| pod::namespace(p) == ns && pod::name(p) == name);
        let node = hits[0].node.unwrap_or("?");
        let ip = node_ip(snap, hits[0].node, p).unwrap_or("?");
        let release = p.and_then(pod::release);
        let pod_net = node_has_ipv6(ctx, node);
        let vars = [("pod", name), ("node", node), ("node_ip", ip)];
        let mut f = ctx.finding(ID, Some(ns), format!("pod/{name}"), &vars);
        for h in &hits {
            let stream = if h.previous {
                "log_previous"
            } else {
                "log_current"
            };
            f.evidence.push(ctx.text(
                ID,
                "evidence",
                &[
                    ("pod", name),
                    ("container", h.container),
                    ("node", node),
                    ("stream", ctx.catalog.ui(stream, ctx.lang)),
                    ("line", &logs::clip(h.line)),
                ],
            ));
        }
        if pod_net {
            f.title = ctx.text(ID, "title_pod_net", &vars);
            f.evidence.push(ctx.text(ID, "probe_has_ipv6", &vars));
            f.remediation.push(ctx.text(ID, "pod_net", &vars));
            f.remediation.push(format!(
                "kubectl get pod -n {ns} {name} -o jsonpath='{{.spec.securityContext.sysctls}}{{\"\\n\"}}'"
            ));
        } else {
            f.remediation.push(ctx.text(ID, "enable", &vars));
            f.remediation
                .push("sysctl -w net.ipv6.conf.all.disable_ipv6=0".into());
            f.remediation.push(ctx.text(ID, "cmdline", &[]));
            f.remediation
                .push("grep -o 'ipv6.disable=1' /proc/cmdline".into());
        }
        let is_bcs = ns == bcs_ns || release == Some(BCS);
        match (p.is_some_and(has_ext_ip_env), release) {
            (true, Some(r)) => {
                f.evidence
                    .push(ctx.text(ID, "has_ext_ip", &[("pod", name)]));
                f.remediation
                    .push(ctx.text(ID, "ext_ip", &[("release", r)]));
                f.remediation.push(format!(
                    "helmfile -f base-blueking.yaml.gotmpl -l name={r} sync"
                ));
            }
            _ if is_bcs => f.remediation.push(ctx.text(ID, "bcs_fix", &[])),
            _ => {}
        }
        f.remediation.push(ctx.text(ID, "restart", &[]));
        f.remediation
            .push(format!("kubectl delete pod -n {ns} {name}"));
        f.covers.push((ns.to_string(), name.to_string()));
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::i18n::Lang;
    use crate::snapshot::probe_report::{Ipv6, NodeProbe, Report};
    use crate::snapshot::{ContainerLogs, LogKey, Snapshot};

    const LINE: &str =
        "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)";

    fn snap(node_ipv6: Option<bool>) -> Snapshot {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gw-0", "namespace": "blueking",
                         "labels": {"app.kubernetes.io/instance": "bk-repo"}},
            "spec": {"nodeName": "node-2", "containers": [{"name": "gateway",
                     "env": [{"name": "BK_REPO_EXT_IP"}]}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "gateway", "ready": false,
                       "restartCount": 4, "image": "bkrepo-gateway", "imageID": ""}]}
        }))
        .unwrap();
        let mut s = Snapshot {
            pods: vec![pod],
            ..Snapshot::default()
        };
        s.logs.insert(
            LogKey {
                namespace: "blueking".into(),
                pod: "gw-0".into(),
                container: "gateway".into(),
            },
            ContainerLogs {
                current: None,
                previous: Some(format!("{LINE}\n")),
            },
        );
        if let Some(in_kernel) = node_ipv6 {
            s.probes.push(NodeProbe {
                node: "node-2".into(),
                namespace: "default".into(),
                pod: "bkdoctor-probe-r-node-2".into(),
                image: "busybox:1.36".into(),
                outcome: Outcome::Ran {
                    report: Report {
                        ipv6: Some(Ipv6 {
                            in_kernel,
                            disabled_by_sysctl: Some(false),
                        }),
                        complete: true,
                        ..Report::default()
                    },
                    server_time: None,
                    margin_secs: 3,
                },
            });
        }
        s
    }

    fn finding(s: &Snapshot) -> Finding {
        let catalog = Catalog::builtin();
        let ctx = Ctx::new(
            s,
            &catalog,
            Lang::En,
            "2026-11-20T11:00:00Z".parse().unwrap(),
        );
        let mut f = check(&ctx);
        assert_eq!(f.len(), 1);
        f.remove(0)
    }

    #[test]
    fn where_the_nodes_probe_finds_ipv6_the_pod_network_is_the_cause() {
        let f = finding(&snap(Some(true)));
        assert!(f.title.contains("its pod network has none"), "{}", f.title);
        assert!(
            f.evidence
                .iter()
                .any(|e| e.contains("the node is not the cause"))
        );
        assert!(!f.remediation.iter().any(|r| r.contains("sysctl -w")));
        assert!(
            f.remediation
                .iter()
                .any(|r| r.contains("FELIX_IPV6SUPPORT"))
        );
        // The gateway's own way out stays: it does not need IPv6 at all.
        assert!(f.remediation.iter().any(|r| r.contains("gateway.extIp")));
    }

    #[test]
    fn without_a_probe_or_with_ipv6_off_on_the_node_the_node_is_fixed() {
        for s in [snap(None), snap(Some(false))] {
            let f = finding(&s);
            assert!(
                f.title.contains("IPv6 is disabled on node node-2"),
                "{}",
                f.title
            );
            assert!(
                f.remediation
                    .iter()
                    .any(|r| r == "sysctl -w net.ipv6.conf.all.disable_ipv6=0")
            );
        }
    }
}
