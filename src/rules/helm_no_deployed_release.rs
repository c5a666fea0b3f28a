//! `helm-no-deployed-release`: revisions exist but none ever ran, so `helm upgrade` (what a repeated
//! `helmfile sync` becomes) fails with "has no deployed releases". The guide's fix: uninstall, then
//! deploy again.

use super::Ctx;
use crate::findings::Finding;
use crate::helm::Status;

pub const ID: &str = "helm-no-deployed-release";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for rel in &ctx.releases {
        let latest = rel.latest();
        let status = latest.status();
        // A pending latest revision is `helm-operation-in-progress`'s (its fix is the same uninstall);
        // an uninstalled one (--keep-history) is gone on purpose.
        if status.is_pending() || status == Status::Uninstalled || rel.last_good().is_some() {
            continue;
        }
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
        f.evidence
            .push(ctx.text(ID, "refuses", &[("release", name)]));
        f.remediation.push(format!("helm uninstall -n {ns} {name}"));
        f.remediation.push(ctx.text(ID, "then_sync", &[]));
        out.push(f);
    }
    out
}
