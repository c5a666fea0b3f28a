//! `helm-no-deployed-release`: `helm upgrade` (what a repeated `helmfile sync` becomes) fails with
//! `UPGRADE FAILED: "NAME" has no deployed releases`. The guide's fix: uninstall, then deploy again.
//!
//! Only where helm 3.12 really refuses. In `pkg/action/upgrade.go` (`Upgrade.prepareUpgrade`) the
//! newest revision is read with `Releases.Last`; when it is not `deployed`, `Releases.Deployed`
//! is asked for one, and its `ErrNoDeployedReleases` ("has no deployed releases") is forgiven
//! only when the newest revision is `failed` or `superseded` (since helm 3.3): the upgrade then
//! starts from that revision. So a history of failed revisions only upgrades fine on helm 3.3 and
//! later (BlueKing 7.2 ships 3.12.3; that is `helm-release-failed`), while a newest revision
//! `uninstalled` (`helm uninstall --keep-history`) or `uninstalling` fails on every version.
//! A description that records the refusal is helm's own word for it.

use super::Ctx;
use crate::findings::Finding;
use crate::helm::{Release, Status};

pub const ID: &str = "helm-no-deployed-release";

/// What helm says when it refuses (`driver.ErrNoDeployedReleases`).
pub const REFUSAL: &str = "has no deployed releases";

/// Does helm refuse to upgrade this release?
pub fn refuses(rel: &Release) -> bool {
    let latest = rel.latest();
    let status = latest.status();
    if status == Status::Uninstalled || status == Status::Uninstalling {
        return true;
    }
    if status.is_pending() || status == Status::Deployed {
        return false;
    }
    // The refusal recorded after the last revision that ran: a later deployed one fixed it.
    rel.revisions
        .iter()
        .rev()
        .take_while(|r| r.status() != Status::Deployed)
        .any(|r| {
            r.description
                .as_deref()
                .is_some_and(|d| d.contains(REFUSAL))
        })
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for rel in ctx.releases.iter().filter(|r| refuses(r)) {
        let latest = rel.latest();
        let status = latest.status();
        let (ns, name) = (rel.namespace.as_str(), rel.name.as_str());
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("release/{name}"),
            &[("release", name)],
        );
        let history = rel
            .revisions
            .iter()
            .map(|r| format!("{} {}", r.revision, r.status))
            .collect::<Vec<_>>()
            .join(", ");
        f.evidence
            .push(ctx.text(ID, "history", &[("history", &history)]));
        if let Some(d) = &latest.description {
            f.evidence.push(ctx.text(
                ID,
                "latest",
                &[
                    ("revision", &latest.revision.to_string()),
                    ("status", status.as_str()),
                    ("description", d),
                ],
            ));
        }
        if matches!(status, Status::Uninstalled | Status::Uninstalling) {
            f.evidence
                .push(ctx.text(ID, "kept_history", &[("status", status.as_str())]));
        }
        f.evidence
            .push(ctx.text(ID, "refuses", &[("release", name)]));
        f.remediation.push(format!("helm uninstall -n {ns} {name}"));
        f.remediation.push(ctx.text(ID, "then_sync", &[]));
        out.push(f);
    }
    out
}
