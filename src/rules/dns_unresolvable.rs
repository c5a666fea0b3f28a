//! `dns-unresolvable`: pods that fail to resolve in-cluster service names (the guide's
//! "elasticsearch 及 redis-cluster 部署超时"). A resolution error only counts when it names a
//! cluster service: a pod that cannot resolve an external mirror has a different problem.
//! One finding per namespace, since the cause (the way from the nodes to the DNS pods) is shared.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::Service;
use regex::Regex;

use super::Ctx;
use super::logs::{self, troubled_logs};
use crate::findings::Finding;
use crate::snapshot::Snapshot;

pub const ID: &str = "dns-unresolvable";

/// kubeadm's `kube-dns` Service fronts CoreDNS too; some installers name it `coredns`.
const DNS_SERVICES: &[&str] = &["kube-dns", "coredns"];
const PLACEHOLDER_IP: &str = "<dns-ip>";
const CLUSTER_DOMAIN: &str = "cluster.local";

/// `name.namespace.svc[.cluster.local]`, `pod.headless.namespace.svc...`: a cluster name whatever
/// the resolver library printed around it.
static SVC_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.svc(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\b")
        .expect("valid regex")
});

/// Where resolvers put the host they failed on: Java, Elasticsearch, curl, Go, urllib3, Node.js, glibc
/// tools. A short name (`bk-mysql-mysql`) found here counts when a Service of that name exists.
static HOST_IN_ERROR: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"UnknownHostException:\s*([^\s:;,\]\[]+)",
        r"(?i)resolve host:?\s*\[?'?([^\s\]':;,]+)",
        r"lookup ([^\s:;,]+)",
        r"Failed to resolve '([^']+)'",
        r"getaddrinfo \w+ ([^\s:;,]+)",
        r"([^\s:;,'\[\]()]+)(?::\d+)?: (?:Name or service not known|Temporary failure in name resolution)",
    ]
    .iter()
    .map(|r| Regex::new(r).expect("valid regex"))
    .collect()
});

struct Failure<'a> {
    pod: &'a str,
    container: &'a str,
    previous: bool,
    names: BTreeSet<String>,
    line: &'a str,
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let patterns = &ctx.catalog.rule(ID).compiled;
    let mut by_ns: BTreeMap<&str, Vec<Failure>> = BTreeMap::new();
    for s in troubled_logs(ctx.snap) {
        let mut names = BTreeSet::new();
        let mut last = None;
        for line in s.text.lines() {
            if !patterns.iter().any(|r| r.is_match(line)) {
                continue;
            }
            let found = cluster_names(ctx.snap, line, s.namespace);
            if !found.is_empty() {
                names.extend(found);
                last = Some(line);
            }
        }
        if let Some(line) = last {
            by_ns.entry(s.namespace).or_default().push(Failure {
                pod: s.pod,
                container: s.container,
                previous: s.previous,
                names,
                line,
            });
        }
    }
    let dns = dns_service(ctx.snap);
    by_ns
        .into_iter()
        .map(|(ns, failures)| finding(ctx, ns, &failures, dns))
        .collect()
}

fn finding(ctx: &Ctx, ns: &str, failures: &[Failure], dns: Option<&Service>) -> Finding {
    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("namespace/{ns}"),
        &[("namespace", ns)],
    );
    let mut all_names = BTreeSet::new();
    for fl in failures {
        let stream = if fl.previous {
            "log_previous"
        } else {
            "log_current"
        };
        let names: Vec<&str> = fl.names.iter().map(String::as_str).collect();
        f.evidence.push(ctx.text(
            ID,
            "failed",
            &[
                ("pod", fl.pod),
                ("container", fl.container),
                ("stream", ctx.catalog.ui(stream, ctx.lang)),
                ("names", &names.join(", ")),
                ("line", &logs::clip(fl.line)),
            ],
        ));
        all_names.extend(fl.names.iter().cloned());
        let covered = (ns.to_string(), fl.pod.to_string());
        if !f.covers.contains(&covered) {
            f.covers.push(covered);
        }
    }
    let fqdns: BTreeSet<String> = all_names.iter().map(|n| fqdn(ctx.snap, n, ns)).collect();
    for name in &fqdns {
        if let Some(svc) = registered(ctx.snap, name) {
            let line = ctx.text(
                ID,
                "registered",
                &[
                    ("service", svc.metadata.name.as_deref().unwrap_or("")),
                    (
                        "service_namespace",
                        svc.metadata.namespace.as_deref().unwrap_or(""),
                    ),
                ],
            );
            if !f.evidence.contains(&line) {
                f.evidence.push(line);
            }
        }
    }
    let ip = match dns.and_then(cluster_ip) {
        Some(ip) => {
            f.evidence.push(ctx.text(
                ID,
                "dns_service",
                &[
                    (
                        "service",
                        dns.and_then(|s| s.metadata.name.as_deref()).unwrap_or(""),
                    ),
                    ("ip", ip),
                ],
            ));
            ip
        }
        None => {
            f.evidence
                .push(ctx.text(ID, "dns_missing", &[("ip", PLACEHOLDER_IP)]));
            PLACEHOLDER_IP
        }
    };
    f.remediation
        .push(ctx.text(ID, "test_nodes", &[("nodes", &node_list(ctx.snap))]));
    for name in &fqdns {
        f.remediation.push(format!("nslookup {name} {ip}"));
    }
    f.remediation.push(ctx.text(ID, "dns_pods", &[]));
    f.remediation.push(format!(
        "kubectl get pods -n kube-system -l {} -o wide",
        dns.map(selector)
            .unwrap_or_else(|| "k8s-app=kube-dns".into())
    ));
    f.remediation.push("kubectl get networkpolicy -A".into());
    f.remediation.push(ctx.text(ID, "firewall", &[]));
    f
}

/// The cluster names a log line failed on, lower-cased as DNS compares them.
fn cluster_names(snap: &Snapshot, line: &str, pod_ns: &str) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = SVC_NAME
        .find_iter(line)
        .map(|m| m.as_str().trim_end_matches('.').to_ascii_lowercase())
        .collect();
    for re in HOST_IN_ERROR.iter() {
        for c in re.captures_iter(line) {
            let host = c[1].trim_end_matches('.').to_ascii_lowercase();
            if !host.split('.').any(|l| l == "svc") && short_service(snap, &host, pod_ns).is_some()
            {
                out.insert(host);
            }
        }
    }
    out
}

/// A short name (`svc`, `svc.ns`, `pod.headless`) that resolves through the pod's search path to a
/// Service in the snapshot, and that Service's namespace.
fn short_service<'a>(snap: &'a Snapshot, host: &str, pod_ns: &str) -> Option<&'a Service> {
    let labels: Vec<&str> = host.split('.').collect();
    let find = |name: &str, ns: &str| {
        snap.services.iter().find(|s| {
            s.metadata.name.as_deref() == Some(name) && s.metadata.namespace.as_deref() == Some(ns)
        })
    };
    match labels.as_slice() {
        [name] => find(name, pod_ns),
        // `svc.ns`, or a StatefulSet pod through its headless service in the pod's namespace
        [a, b] => find(a, b).or_else(|| find(b, pod_ns)),
        [_, svc, ns] => find(svc, ns),
        _ => None,
    }
}

/// The name to hand to nslookup, which does not use a pod's search path.
fn fqdn(snap: &Snapshot, name: &str, pod_ns: &str) -> String {
    let labels: Vec<&str> = name.split('.').collect();
    if let Some(i) = labels.iter().position(|l| *l == "svc") {
        return if i == labels.len() - 1 {
            format!("{name}.{CLUSTER_DOMAIN}")
        } else {
            name.to_string()
        };
    }
    let Some(svc) = short_service(snap, name, pod_ns) else {
        return name.to_string();
    };
    let svc_name = svc.metadata.name.as_deref().unwrap_or("");
    let svc_ns = svc.metadata.namespace.as_deref().unwrap_or(pod_ns);
    match labels.as_slice() {
        [pod, b] if *b == svc_name && *pod != svc_name => {
            format!("{pod}.{svc_name}.{svc_ns}.svc.{CLUSTER_DOMAIN}")
        }
        [pod, _, _] => format!("{pod}.{svc_name}.{svc_ns}.svc.{CLUSTER_DOMAIN}"),
        _ => format!("{svc_name}.{svc_ns}.svc.{CLUSTER_DOMAIN}"),
    }
}

/// The Service a fully qualified name points at, if the snapshot has it.
fn registered<'a>(snap: &'a Snapshot, fqdn: &str) -> Option<&'a Service> {
    let labels: Vec<&str> = fqdn.split('.').collect();
    let i = labels.iter().position(|l| *l == "svc")?;
    if i < 2 {
        return None;
    }
    let (name, ns) = (labels[i - 2], labels[i - 1]);
    snap.services.iter().find(|s| {
        s.metadata.name.as_deref() == Some(name) && s.metadata.namespace.as_deref() == Some(ns)
    })
}

fn dns_service(snap: &Snapshot) -> Option<&Service> {
    DNS_SERVICES.iter().find_map(|name| {
        snap.services.iter().find(|s| {
            s.metadata.namespace.as_deref() == Some("kube-system")
                && s.metadata.name.as_deref() == Some(*name)
        })
    })
}

fn cluster_ip(s: &Service) -> Option<&str> {
    s.spec
        .as_ref()?
        .cluster_ip
        .as_deref()
        .filter(|ip| !ip.is_empty() && *ip != "None")
}

fn selector(s: &Service) -> String {
    s.spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|m| !m.is_empty())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_else(|| "k8s-app=kube-dns".into())
}

/// "master-1 10.0.0.11, node-1 10.0.0.12": the hosts to log in to.
fn node_list(snap: &Snapshot) -> String {
    let nodes: Vec<String> = snap
        .nodes
        .iter()
        .filter_map(|n| {
            let name = n.metadata.name.as_deref()?;
            Some(match logs::node_ip(snap, Some(name), None) {
                Some(ip) => format!("{name} {ip}"),
                None => name.to_string(),
            })
        })
        .collect();
    if nodes.is_empty() {
        "kubectl get nodes -o wide".into()
    } else {
        nodes.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap_with_service(name: &str, ns: &str) -> Snapshot {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": "10.96.3.4"}
        }))
        .unwrap();
        Snapshot {
            services: vec![svc],
            ..Default::default()
        }
    }

    #[test]
    fn cluster_names_from_resolver_messages() {
        let snap = snap_with_service("bk-mysql-mysql", "blueking");
        let names = |l: &str| {
            cluster_names(&snap, l, "blueking")
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(
                "java.net.UnknownHostException: bk-elastic-elasticsearch-master.blueking.svc.cluster.local"
            ),
            ["bk-elastic-elasticsearch-master.blueking.svc.cluster.local"]
        );
        assert_eq!(
            names("dial tcp: lookup bk-mysql-mysql on 10.96.0.10:53: no such host"),
            ["bk-mysql-mysql"]
        );
        assert_eq!(
            names("socket.gaierror: [Errno -2] Name or service not known"),
            Vec::<String>::new()
        );
        assert_eq!(
            names("java.net.UnknownHostException: mirrors.tencent.com: Name or service not known"),
            Vec::<String>::new()
        );
        assert_eq!(
            names("dial tcp: lookup bk-mysql-mysql on 10.96.0.10:53: no such host")
                .iter()
                .map(|n| fqdn(&snap, n, "blueking"))
                .collect::<Vec<_>>(),
            ["bk-mysql-mysql.blueking.svc.cluster.local"]
        );
    }

    #[test]
    fn fqdn_completes_partial_names() {
        let snap = snap_with_service("bk-redis-cluster-headless", "bk");
        assert_eq!(fqdn(&snap, "a.b.svc", "bk"), "a.b.svc.cluster.local");
        assert_eq!(
            fqdn(&snap, "bk-redis-cluster-0.bk-redis-cluster-headless", "bk"),
            "bk-redis-cluster-0.bk-redis-cluster-headless.bk.svc.cluster.local"
        );
    }
}
