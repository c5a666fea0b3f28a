//! `helm-operation-in-progress`: the newest revision of a release is pending-install/-upgrade/
//! -rollback, so helm refuses every further operation ("another operation (install/upgrade/rollback)
//! is in progress"). The guide's fix: roll back to the newest revision that ran, or uninstall when
//! there is none.

use super::Ctx;
use crate::findings::{Finding, Severity};
use crate::format::when;

pub const ID: &str = "helm-operation-in-progress";

/// helm's own default `--timeout` is 5 minutes and BlueKing's helmfiles raise it to 10 or 15; an
/// operation younger than that may still be running and must not be rolled back under it.
pub const STILL_RUNNING_SECS: i64 = 15 * 60;

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for rel in &ctx.releases {
        let latest = rel.latest();
        let status = latest.status();
        if !status.is_pending() {
            continue;
        }
        let (ns, name) = (rel.namespace.as_str(), rel.name.as_str());
        let status_s = status.as_str();
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("release/{name}"),
            &[("release", name), ("status", status_s)],
        );
        let rev = latest.revision.to_string();
        if let Some(since) = latest.updated {
            let age = ctx.age(since);
            f.evidence.push(ctx.text(
                ID,
                "pending",
                &[
                    ("revision", &rev),
                    ("status", status_s),
                    ("since", &when(since)),
                    ("age", &age),
                ],
            ));
            if ctx.now.as_second() - since.as_second() < STILL_RUNNING_SECS {
                f.severity = Severity::Warning;
                f.evidence.push(ctx.text(ID, "recent", &[("age", &age)]));
            }
        }
        f.evidence.push(ctx.text(ID, "refuses", &[]));
        f.remediation.push(format!("helm history -n {ns} {name}"));
        match rel.last_good() {
            Some(good) => {
                let chart = match (&good.chart, &good.chart_version) {
                    (Some(c), Some(v)) => format!(", {c}-{v}"),
                    _ => String::new(),
                };
                f.evidence.push(ctx.text(
                    ID,
                    "last_good",
                    &[
                        ("revision", &good.revision.to_string()),
                        ("status", good.status.as_str()),
                        ("chart", &chart),
                    ],
                ));
                f.remediation
                    .push(format!("helm rollback -n {ns} {name} {}", good.revision));
            }
            None => {
                f.evidence.push(ctx.text(ID, "no_good", &[]));
                f.remediation.push(format!("helm uninstall -n {ns} {name}"));
            }
        }
        f.remediation.push(ctx.text(ID, "then_sync", &[]));
        out.push(f);
    }
    out
}
