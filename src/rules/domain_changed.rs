//! `domain-changed`: after BlueKing's access domain is changed (guide 更改访问域名), every Ingress
//! and the coredns hosts must carry the new one; the guide's last check is that `kubectl get
//! ingress -A | grep -F OLD` prints nothing. Ingresses under two BlueKing domains, or coredns
//! names under a domain no Ingress uses, are what a change carried through halfway leaves.

use std::collections::BTreeMap;

use super::Ctx;
use super::site::{self, COREDNS_CM, COREDNS_NS};
use crate::findings::Finding;

pub const ID: &str = "domain-changed";

/// What still carries one old domain: Ingresses (namespace, name, host) and coredns names.
#[derive(Default)]
struct Leftovers {
    ingresses: Vec<(String, String, String)>,
    coredns: Vec<String>,
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let domains = site::ingress_domains(snap);
    let Some((current, current_n)) = domains.first().cloned() else {
        return Vec::new();
    };
    let mut old: BTreeMap<String, Leftovers> = BTreeMap::new();
    for (d, _) in domains.iter().skip(1) {
        let entry = old.entry(d.clone()).or_default();
        for i in &snap.ingresses {
            for host in site::ingress_hosts(i) {
                if host == d || site::domain_of_host(host) == Some(d.as_str()) {
                    entry.ingresses.push((
                        site::ingress_ns(i).to_string(),
                        site::ingress_name(i).to_string(),
                        host.to_string(),
                    ));
                }
            }
        }
    }
    for e in site::coredns_hosts(snap).unwrap_or_default() {
        for n in &e.names {
            let Some(d) = site::domain_of_host(n).filter(|d| *d != current) else {
                continue;
            };
            old.entry(d.to_string())
                .or_default()
                .coredns
                .push(n.clone());
        }
    }

    let mut out = Vec::new();
    for (d, mut left) in old {
        // The order objects were read in differs between a snapshot directory and a live list.
        left.ingresses.sort();
        left.coredns.sort();
        let Leftovers {
            ingresses,
            coredns: names,
        } = left;
        let (ns, object) = match ingresses.first() {
            Some((ns, name, _)) => (ns.clone(), format!("ingress/{name}")),
            None => (COREDNS_NS.to_string(), format!("configmap/{COREDNS_CM}")),
        };
        let mut f = ctx.finding(ID, Some(&ns), object, &[("old", &d), ("current", &current)]);
        f.evidence.push(ctx.text(
            ID,
            "current",
            &[("current", &current), ("n", &current_n.to_string())],
        ));
        for (ns, name, host) in &ingresses {
            f.evidence.push(ctx.text(
                ID,
                "ingress",
                &[("namespace", ns), ("ingress", name), ("host", host)],
            ));
        }
        if !names.is_empty() {
            f.evidence
                .push(ctx.text(ID, "coredns", &[("names", &names.join(", "))]));
        }
        f.remediation.push(ctx.text(ID, "find", &[]));
        f.remediation
            .push(format!("kubectl get ingress -A | grep -F {d}"));
        f.remediation
            .push(ctx.text(ID, "custom_yaml", &[("old", &d), ("current", &current)]));
        f.remediation
            .push(ctx.text(ID, "coredns_fix", &[("old", &d)]));
        f.remediation.push(ctx.text(ID, "resync", &[]));
        f.remediation
            .push(ctx.text(ID, "databases", &[("current", &current)]));
        out.push(f);
    }
    out
}
