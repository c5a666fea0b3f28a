//! `service-no-endpoints`: a Service with a selector has no ready endpoint — the selector matches
//! no pod, or only pods that are not ready — so every connection to it is refused or times out.
//! Read from its EndpointSlices; says nothing when they were not read, of a Service younger than
//! its pods' normal start, or when a finding about its pods already explains them.

use std::collections::HashSet;

use super::{Ctx, endpoints};
use crate::findings::Finding;
use crate::snapshot::{meta, pod};

pub const ID: &str = "service-no-endpoints";

/// A Service this young may be waiting for its pods' first start (a Deployment's default
/// progress deadline).
const YOUNG_SECS: i64 = 600;
/// Pods named in the evidence.
const NAMED: usize = 5;

pub fn check(ctx: &Ctx, earlier: &[Finding]) -> Vec<Finding> {
    if !endpoints::known(ctx.snap) {
        return Vec::new();
    }
    let covered: HashSet<(&str, &str)> = earlier
        .iter()
        .flat_map(|f| f.covers.iter())
        .map(|(ns, p)| (ns.as_str(), p.as_str()))
        .collect();
    let mut out = Vec::new();
    for s in &ctx.snap.services {
        let (ns, name) = (meta::namespace(&s.metadata), meta::name(&s.metadata));
        let external = s.spec.as_ref().and_then(|p| p.type_.as_deref()) == Some("ExternalName");
        if external || endpoints::selector(s).is_none() {
            continue;
        }
        if endpoints::ready_count(ctx.snap, ns, name) > 0 {
            continue;
        }
        let young = s
            .metadata
            .creation_timestamp
            .as_ref()
            .is_some_and(|t| ctx.now.as_second() - t.0.as_second() < YOUNG_SECS);
        if young {
            continue;
        }
        let pods = endpoints::selected_pods(ctx.snap, s);
        if pods
            .iter()
            .any(|p| covered.contains(&(pod::namespace(p), pod::name(p))))
        {
            continue;
        }
        let selector = endpoints::selector_text(s);
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("service/{name}"),
            &[("service", name)],
        );
        if pods.is_empty() {
            f.evidence
                .push(ctx.text(ID, "no_pod", &[("selector", &selector), ("namespace", ns)]));
        } else {
            f.evidence.push(ctx.text(
                ID,
                "not_ready",
                &[("selector", &selector), ("n", &pods.len().to_string())],
            ));
            let mut named: Vec<&str> = pods.iter().map(|p| pod::name(p)).collect();
            named.sort();
            for p in named.iter().take(NAMED) {
                f.evidence.push(ctx.text(ID, "pod", &[("pod", p)]));
            }
        }
        if let Some(r) = meta::releases(&s.metadata).next() {
            f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
        }
        f.remediation.push(format!(
            "kubectl get endpointslices -n {ns} -l kubernetes.io/service-name={name}"
        ));
        f.remediation
            .push(format!("kubectl get pods -n {ns} -l {selector} -o wide"));
        f.remediation.push(if pods.is_empty() {
            ctx.text(ID, "fix_selector", &[])
        } else {
            ctx.text(ID, "fix_ready", &[])
        });
        out.push(f);
    }
    out
}
