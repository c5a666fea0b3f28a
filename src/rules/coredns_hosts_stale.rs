//! `coredns-hosts-stale`: BlueKing's names (bkrepo, docker, bkapi, bknodeman, jobapi ... under the
//! site's domain) are not real DNS names; the deployment scripts add them to a `hosts` block of the
//! coredns Corefile, all pointing at the ingress-nginx Service. A name added by a later step and
//! missed, or an address left behind after ingress-nginx was reinstalled (its clusterIP changes),
//! makes the platforms' calls to each other fail with `Name or service not known` or time out.

use std::collections::{BTreeMap, BTreeSet};

use super::Ctx;
use super::site::{self, COREDNS_CM, COREDNS_NAMES, COREDNS_NS};
use crate::findings::Finding;

pub const ID: &str = "coredns-hosts-stale";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    // Without the hosts block the site resolves its domain some other way (a real DNS zone).
    let Some(entries) = site::coredns_hosts(snap).filter(|e| !e.is_empty()) else {
        return Vec::new();
    };
    let Some((domain, _)) = site::ingress_domains(snap).into_iter().next() else {
        return Vec::new();
    };
    // The names this site serves: BlueKing's names under its domain that an Ingress has.
    let mut needed: BTreeMap<String, String> = BTreeMap::new();
    for i in &snap.ingresses {
        for host in site::ingress_hosts(i) {
            let bluekings = host == domain
                || host
                    .strip_suffix(&format!(".{domain}"))
                    .is_some_and(|first| COREDNS_NAMES.contains(&first));
            if bluekings {
                // The first Ingress by name, whichever order they were read in.
                let ingress = format!("{}/{}", site::ingress_ns(i), site::ingress_name(i));
                let e = needed
                    .entry(host.to_string())
                    .or_insert_with(|| ingress.clone());
                if ingress < *e {
                    *e = ingress;
                }
            }
        }
    }
    let mut ip_of: BTreeMap<&str, &str> = BTreeMap::new();
    for e in &entries {
        for n in &e.names {
            ip_of.entry(n.as_str()).or_insert(e.ip.as_str());
        }
    }
    let nginx = site::ingress_nginx_service(snap);
    let current_ip = nginx.and_then(site::cluster_ip);

    let mut evidence = Vec::new();
    let mut to_update: BTreeSet<&str> = BTreeSet::new();
    for (name, ingress) in &needed {
        match ip_of.get(name.as_str()) {
            None => {
                evidence.push(ctx.text(ID, "missing", &[("name", name), ("ingress", ingress)]));
                to_update.insert(name);
            }
            Some(ip) if current_ip.is_some_and(|c| c != *ip) => {
                evidence.push(ctx.text(
                    ID,
                    "stale",
                    &[
                        ("name", name),
                        ("ip", ip),
                        ("current", current_ip.unwrap_or("")),
                    ],
                ));
                to_update.insert(name);
            }
            Some(_) => {}
        }
    }
    // A name of the hosts block pointing at an old address, though no Ingress has it (yet).
    for e in &entries {
        for n in &e.names {
            let under = n.strip_suffix(&format!(".{domain}"));
            if needed.contains_key(n) || !under.is_some_and(|f| COREDNS_NAMES.contains(&f)) {
                continue;
            }
            if let Some(c) = current_ip.filter(|c| *c != e.ip) {
                evidence.push(ctx.text(ID, "stale", &[("name", n), ("ip", &e.ip), ("current", c)]));
                to_update.insert(n);
            }
        }
    }
    if to_update.is_empty() {
        return Vec::new();
    }
    let mut f = ctx.finding(
        ID,
        Some(COREDNS_NS),
        format!("configmap/{COREDNS_CM}"),
        &[("domain", &domain)],
    );
    f.evidence = evidence;
    let names: Vec<&str> = to_update.into_iter().collect();
    f.remediation.push(ctx.text(ID, "in_bkhelmfile", &[]));
    match (nginx, current_ip) {
        (Some(s), Some(ip)) => {
            f.evidence.push(ctx.text(
                ID,
                "nginx",
                &[
                    ("service", s.metadata.name.as_deref().unwrap_or("")),
                    ("namespace", s.metadata.namespace.as_deref().unwrap_or("")),
                    ("ip", ip),
                ],
            ));
            f.remediation.push(format!(
                "./scripts/control_coredns.sh update {ip} {}",
                names.join(" ")
            ));
        }
        _ => {
            f.evidence.push(ctx.text(ID, "no_nginx", &[]));
            f.remediation.push(
                "IP1=$(kubectl get svc -A -l app.kubernetes.io/instance=ingress-nginx -o jsonpath='{.items[0].spec.clusterIP}')"
                    .into(),
            );
            f.remediation.push(format!(
                "./scripts/control_coredns.sh update \"$IP1\" {}",
                names.join(" ")
            ));
        }
    }
    f.remediation.push(ctx.text(ID, "verify", &[]));
    f.remediation.push(format!(
        "kubectl get configmap -n {COREDNS_NS} {COREDNS_CM} -o jsonpath='{{.data.Corefile}}'"
    ));
    vec![f]
}
