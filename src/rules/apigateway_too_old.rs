//! `apigateway-too-old`: BCS (`bcs-services-stack`) registers its API gateway plugins as
//! `BkGatewayPluginMetadata` objects, a kind whose CRD ships with bk-apigateway 0.4.57 and later. With
//! an older bk-apigateway the BCS upgrade fails with `no matches for kind "BkGatewayPluginMetadata"
//! in version "gateway.bk.tencent.com/v1beta1"` (guide: 部署容器管理平台时的报错; the upgrade
//! documentation says to upgrade bk-apigateway first).

use super::Ctx;
use super::version::Version;
use crate::findings::{Finding, Severity};
use crate::helm::{Release, Status};

pub const ID: &str = "apigateway-too-old";

const MESSAGE: &str = "no matches for kind \"BkGatewayPluginMetadata\"";
pub const APIGATEWAY: &str = "bk-apigateway";
pub const BCS: &str = "bcs-services-stack";
pub const MIN_VERSION: [u64; 3] = [0, 4, 57];
const MIN_VERSION_TEXT: &str = "0.4.57";
/// The plural is what a CRD's name starts with; some bk-apigateway versions spelled it unchanged.
const CRD_NAMES: [&str; 2] = [
    "bkgatewaypluginmetadatas.gateway.bk.tencent.com",
    "bkgatewaypluginmetadata.gateway.bk.tencent.com",
];

fn named(r: &Release, chart: &str) -> bool {
    r.name == chart || r.latest().chart.as_deref() == Some(chart)
}

/// Installed: some revision is or was running. A release whose every revision failed or was
/// uninstalled does not use the gateway yet.
fn installed(r: &Release) -> bool {
    r.latest().status() != Status::Uninstalled
        && r.revisions.iter().any(|v| v.status().was_deployed())
}

/// The chart version that runs: the newest revision that was deployed, else the newest one.
fn running_version(r: &Release) -> Option<&str> {
    r.last_good()
        .unwrap_or_else(|| r.latest())
        .chart_version
        .as_deref()
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let failed: Vec<&Release> = ctx
        .releases
        .iter()
        .filter(|r| r.latest_failed_with(MESSAGE))
        .collect();
    let bcs = ctx.releases.iter().find(|r| named(r, BCS) && installed(r));
    let apigateway = ctx.releases.iter().find(|r| named(r, APIGATEWAY));
    let apigateway_old = apigateway.and_then(|r| {
        let text = running_version(r)?;
        let v = Version::parse(text)?;
        (!v.at_least(&MIN_VERSION)).then_some((r, text))
    });
    // An empty CRD list means CRDs were not collected (every cluster with BlueKing has some), and
    // an absent CRD then proves nothing.
    let crd_missing = !snap.crds.is_empty()
        && !snap.crds.iter().any(|c| {
            c.metadata
                .name
                .as_deref()
                .is_some_and(|n| CRD_NAMES.contains(&n))
        });

    let mut evidence = Vec::new();
    for r in &failed {
        let latest = r.latest();
        evidence.push(ctx.text(
            ID,
            "release_failed",
            &[
                ("release", &r.name),
                ("revision", &latest.revision.to_string()),
                ("description", latest.description.as_deref().unwrap_or("")),
            ],
        ));
    }
    if bcs.is_some() || !failed.is_empty() {
        // The CRD first: the BCS error is a build-time one that helm never stores, so on a cluster
        // where nothing has failed yet the missing CRD is the proof.
        if crd_missing {
            evidence.push(ctx.text(ID, "crd_missing", &[("crd", CRD_NAMES[0])]));
        }
        if let Some((r, v)) = apigateway_old {
            evidence.push(ctx.text(
                ID,
                "old_version",
                &[
                    ("release", &r.name),
                    ("version", v),
                    ("min", MIN_VERSION_TEXT),
                ],
            ));
        }
    }
    if evidence.is_empty() {
        return Vec::new();
    }
    if let Some(b) = bcs.filter(|_| failed.is_empty()) {
        evidence.push(ctx.text(
            ID,
            "bcs_installed",
            &[
                ("release", &b.name),
                ("version", running_version(b).unwrap_or("?")),
            ],
        ));
    }

    let apigw_name = apigateway.map_or(APIGATEWAY, |r| r.name.as_str());
    // The release to act on: the one that failed, else bk-apigateway, else BCS.
    let Some(anchor) = failed.first().copied().or(apigateway).or(bcs) else {
        return Vec::new();
    };
    let (ns, object) = (
        anchor.namespace.as_str(),
        format!("release/{}", anchor.name),
    );
    let mut f = ctx.finding(ID, Some(ns), object, &[("release", apigw_name)]);
    if failed.is_empty() {
        // Nothing has failed yet: the next BCS upgrade will.
        f.severity = Severity::Warning;
    }
    f.evidence = evidence;
    f.remediation.push(ctx.text(
        ID,
        "raise_version",
        &[("release", apigw_name), ("min", MIN_VERSION_TEXT)],
    ));
    f.remediation.push(format!(
        "helmfile -f base-blueking.yaml.gotmpl -l name={apigw_name} sync"
    ));
    if let Some(r) = apigateway {
        f.remediation
            .push(format!("helm history -n {} {}", r.namespace, r.name));
    }
    f.remediation
        .push(format!("kubectl get crd {}", CRD_NAMES[0]));
    f.remediation.push(ctx.text(ID, "then_bcs", &[]));
    vec![f]
}
