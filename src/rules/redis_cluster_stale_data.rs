//! `redis-cluster-stale-data`: the second half of the guide's "elasticsearch 及 redis-cluster 部署超时".
//! Once DNS works again Elasticsearch recovers, but redis-cluster keeps crashing on the cluster
//! state it saved while its peers were unreachable; only clearing its volumes helps. Because that
//! destroys data, the finding says to fix DNS first when `dns-unresolvable` is also present.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Pod;

use super::helm_release_failed::pod_state;
use super::{Ctx, dns_unresolvable, pod_crash_loop};
use crate::findings::{self, Finding};
use crate::snapshot::pod;

pub const ID: &str = "redis-cluster-stale-data";

/// BlueKing installs the Bitnami redis-cluster chart as `bk-redis-cluster` (base-storage.yaml.gotmpl).
const CHART: &str = "redis-cluster";
const HELMFILE: &str = "base-storage.yaml.gotmpl";

pub fn check(ctx: &Ctx, earlier: &[Finding]) -> Vec<Finding> {
    let dns_broken = earlier.iter().any(|f| f.rule == dns_unresolvable::ID);
    // Releases installed from the chart, whatever their name; looked up once per pod.
    let by_chart: BTreeSet<(&str, &str)> = ctx
        .releases
        .iter()
        .filter(|r| r.latest().chart.as_deref() == Some(CHART))
        .map(|r| (r.namespace.as_str(), r.name.as_str()))
        .collect();
    let mut groups: BTreeMap<(&str, &str), Vec<&Pod>> = BTreeMap::new();
    for p in &ctx.snap.pods {
        let Some(release) = pod::release(p) else {
            continue;
        };
        if is_redis_cluster(p, by_chart.contains(&(pod::namespace(p), release))) {
            groups
                .entry((pod::namespace(p), release))
                .or_default()
                .push(p);
        }
    }
    let mut out = Vec::new();
    for ((ns, release), pods) in groups {
        let mut crashing: Vec<&Pod> = pods
            .into_iter()
            .filter(|p| pod_crash_loop::crashing_pod(p))
            .collect();
        if crashing.is_empty() {
            continue;
        }
        crashing.sort_by_key(|p| pod::name(p));
        let vars = [("release", release), ("namespace", ns)];
        let mut f = ctx.finding(ID, Some(ns), format!("release/{release}"), &vars);
        for p in &crashing {
            f.evidence.push(ctx.text(
                ID,
                "crashing",
                &[("pod", pod::name(p)), ("state", &pod_state(ctx, p))],
            ));
            f.covers.push((ns.to_string(), pod::name(p).to_string()));
        }
        let mut pvcs: Vec<&str> = ctx
            .snap
            .pvcs
            .iter()
            .filter(|c| {
                c.metadata.namespace.as_deref() == Some(ns)
                    && c.metadata.labels.as_ref().is_some_and(|l| {
                        l.get("app.kubernetes.io/instance").map(String::as_str) == Some(release)
                    })
            })
            .filter_map(|c| c.metadata.name.as_deref())
            .collect();
        pvcs.sort();
        if !pvcs.is_empty() {
            f.evidence
                .push(ctx.text(ID, "pvcs", &[("pvcs", &pvcs.join(", "))]));
        }
        if dns_broken {
            f.evidence.push(ctx.text(ID, "dns_first", &vars));
            f.remediation.push(ctx.text(ID, "dns_first_cmd", &vars));
        }
        f.remediation.push(ctx.text(ID, "warn", &vars));
        f.remediation.push(format!(
            "kubectl delete pvc -n {ns} -l app.kubernetes.io/instance={release}"
        ));
        // Only if the delete hangs, and in another terminal: quoted, not a step of the sequence.
        f.remediation.push(ctx.text(ID, "if_hangs", &vars));
        f.remediation.push(findings::later(&format!(
            "kubectl delete pod -n {ns} -l app.kubernetes.io/instance={release}"
        )));
        f.remediation
            .push(format!("helmfile -f {HELMFILE} -l name={release} sync"));
        out.push(f);
    }
    out
}

/// By the chart's own label, or the chart helm recorded for the pod's release; the release name
/// alone would miss an install under another name.
fn is_redis_cluster(p: &Pod, release_from_chart: bool) -> bool {
    release_from_chart
        || p.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/name"))
            .is_some_and(|n| n == CHART)
}
