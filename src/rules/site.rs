//! What the BlueKing rules share about a site: its domain, read from the Ingress hosts; the
//! `hosts` block BlueKing's scripts add to the coredns Corefile; the ingress-nginx Service every
//! BlueKing name points at; releases found by name or chart.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;

use crate::helm::Release;
use crate::snapshot::Snapshot;

/// Host names BlueKing's deployment guides add to the coredns hosts block, as `NAME.BK_DOMAIN`
/// (the base script, then the 7.2 pages for nodeman/job, BCS, the CI suite, bscp, lesscode).
pub const COREDNS_NAMES: &[&str] = &[
    "bkrepo",
    "docker",
    "bkapi",
    "bkpaas",
    "bkiam",
    "bkiam-api",
    "apps",
    "bcs",
    "bcs-api",
    "helm",
    "bknodeman",
    "job",
    "jobapi",
    "devops",
    "codecc",
    "bscp",
    "bscp-api",
    "lesscode",
];

/// Further BlueKing host prefixes that only serve to recognise the domain.
const OTHER_NAMES: &[&str] = &["cmdb", "bkmonitor", "bklog", "bkuser", "bklogin", "bkauth"];

/// The coredns ConfigMap BlueKing's scripts edit.
pub const COREDNS_NS: &str = "kube-system";
pub const COREDNS_CM: &str = "coredns";

/// `NAME.DOMAIN` with a BlueKing NAME: the domain part.
pub fn domain_of_host(host: &str) -> Option<&str> {
    let (first, rest) = host.split_once('.')?;
    let known = COREDNS_NAMES.contains(&first) || OTHER_NAMES.contains(&first);
    (known && rest.contains('.')).then_some(rest)
}

pub fn ingress_hosts(i: &Ingress) -> impl Iterator<Item = &str> {
    i.spec
        .as_ref()
        .and_then(|s| s.rules.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|r| r.host.as_deref())
}

pub fn ingress_ns(i: &Ingress) -> &str {
    i.metadata.namespace.as_deref().unwrap_or("")
}

pub fn ingress_name(i: &Ingress) -> &str {
    i.metadata.name.as_deref().unwrap_or("")
}

/// The BlueKing domains the Ingress hosts use, most used first: with one domain, `[that]`; after
/// a domain change that was not carried through, the old one too.
pub fn ingress_domains(snap: &Snapshot) -> Vec<(String, usize)> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for host in snap.ingresses.iter().flat_map(ingress_hosts) {
        if let Some(d) = domain_of_host(host) {
            *count.entry(d).or_default() += 1;
        }
    }
    let mut out: Vec<(String, usize)> = count.into_iter().map(|(d, n)| (d.into(), n)).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// One line of a Corefile `hosts` block: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsEntry {
    pub ip: String,
    pub names: Vec<String>,
}

pub fn coredns(snap: &Snapshot) -> Option<&ConfigMap> {
    snap.config_maps.iter().find(|c| {
        c.metadata.namespace.as_deref() == Some(COREDNS_NS)
            && c.metadata.name.as_deref() == Some(COREDNS_CM)
    })
}

/// The entries of every `hosts { ... }` block of a Corefile; options (`fallthrough`, `ttl 60`)
/// and a hosts file argument are not entries.
pub fn hosts_entries(corefile: &str) -> Vec<HostsEntry> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in corefile.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if !inside {
            inside = line.starts_with("hosts") && line.ends_with('{');
            continue;
        }
        if line.starts_with('}') {
            inside = false;
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(ip) = words.next() else { continue };
        if ip.parse::<std::net::IpAddr>().is_err() {
            continue;
        }
        let names: Vec<String> = words.map(|w| w.trim_end_matches('.').to_string()).collect();
        if !names.is_empty() {
            out.push(HostsEntry {
                ip: ip.to_string(),
                names,
            });
        }
    }
    out
}

/// The coredns hosts entries, when the ConfigMap is in the snapshot.
pub fn coredns_hosts(snap: &Snapshot) -> Option<Vec<HostsEntry>> {
    let corefile = coredns(snap)?.data.as_ref()?.get("Corefile")?;
    Some(hosts_entries(corefile))
}

/// The ingress-nginx controller Service the guide's `kubectl get svc -A -l
/// app.kubernetes.io/instance=ingress-nginx` finds first, leaving out its admission webhook and
/// metrics Services.
pub fn ingress_nginx_service(snap: &Snapshot) -> Option<&Service> {
    let mut found: Vec<&Service> = snap
        .services
        .iter()
        .filter(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app.kubernetes.io/instance"))
                .is_some_and(|v| v == "ingress-nginx")
        })
        .filter(|s| {
            let name = s.metadata.name.as_deref().unwrap_or("");
            !name.ends_with("-admission") && !name.ends_with("-metrics")
        })
        .filter(|s| cluster_ip(s).is_some())
        .collect();
    found.sort_by_key(|s| (s.metadata.namespace.clone(), s.metadata.name.clone()));
    found.into_iter().next()
}

pub fn cluster_ip(s: &Service) -> Option<&str> {
    s.spec
        .as_ref()?
        .cluster_ip
        .as_deref()
        .filter(|ip| !ip.is_empty() && *ip != "None")
}

/// A release by its name or its chart's: sites may name releases their own way.
pub fn release<'a>(releases: &'a [Release], name: &str) -> Option<&'a Release> {
    releases.iter().find(|r| r.name == name).or_else(|| {
        releases
            .iter()
            .find(|r| r.latest().chart.as_deref() == Some(name))
    })
}

/// Some revision is or was running, and it is not uninstalled.
pub fn installed(r: &Release) -> bool {
    r.latest().status() != crate::helm::Status::Uninstalled
        && r.revisions.iter().any(|v| v.status().was_deployed())
}

/// Consul pods: the monitoring suite's own consul (`bk-monitor-consul-*`, BlueKing 7.1+) and the
/// older `bk-consul-*`. They restart, even show `Error`, during their first minutes while the
/// cluster forms; the install guide calls that normal.
const CONSUL_PREFIXES: &[&str] = &["bk-consul-", "bk-monitor-consul-"];
const CONSUL_SETTLE_SECS: i64 = 10 * 60;

/// A consul pod still in the minutes its restarts are expected.
pub fn consul_settling(p: &Pod, now: jiff::Timestamp) -> bool {
    let name = crate::snapshot::pod::name(p);
    if !CONSUL_PREFIXES.iter().any(|c| name.starts_with(c)) {
        return false;
    }
    let started = p
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .or(p.metadata.creation_timestamp.as_ref());
    started.is_some_and(|t| now.as_second() - t.0.as_second() < CONSUL_SETTLE_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_block_as_bluekings_script_writes_it() {
        let corefile = ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n    \
            kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n    }\n    \
            prometheus :9153\n    hosts {\n        10.96.83.21 bkrepo.bkce7.bktencent.com\n        \
            10.96.83.21 docker.bkce7.bktencent.com bkapi.bkce7.bktencent.com.\n        fallthrough\n    }\n    \
            forward . /etc/resolv.conf\n}\n";
        assert_eq!(
            hosts_entries(corefile),
            [
                HostsEntry {
                    ip: "10.96.83.21".into(),
                    names: vec!["bkrepo.bkce7.bktencent.com".into()]
                },
                HostsEntry {
                    ip: "10.96.83.21".into(),
                    names: vec![
                        "docker.bkce7.bktencent.com".into(),
                        "bkapi.bkce7.bktencent.com".into()
                    ]
                }
            ]
        );
        assert!(hosts_entries(".:53 {\n    forward . /etc/resolv.conf\n}\n").is_empty());
    }

    #[test]
    fn domain_from_bluekings_host_names_only() {
        assert_eq!(
            domain_of_host("bkrepo.bkce7.bktencent.com"),
            Some("bkce7.bktencent.com")
        );
        assert_eq!(domain_of_host("myapp.apps.bkce7.bktencent.com"), None);
        assert_eq!(domain_of_host("docker.local"), None);
    }
}
