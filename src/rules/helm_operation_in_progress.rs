//! `helm-operation-in-progress`: the newest revision of a release is pending-install/-upgrade/
//! -rollback, so helm refuses every further operation ("another operation (install/upgrade/rollback)
//! is in progress"). The guide's fix: roll back to the newest revision that ran, or uninstall when
//! there is none. An operation younger than helm's timeout may be one still running: it is only
//! information then, and its commands only look; rolling back under a running helm must never be
//! among the commands.

use super::Ctx;
use crate::findings::{Finding, Severity};
use crate::format::when;
use crate::helm::Release;

pub const ID: &str = "helm-operation-in-progress";

/// helm's own default `--timeout` is 5 minutes and BlueKing's helmfiles raise it to 10 or 15; an
/// operation younger than that may still be running and must not be rolled back under it.
pub const STILL_RUNNING_SECS: i64 = 15 * 60;

/// The newest revision is pending and younger than helm's timeout: helm may be running it now.
pub fn may_still_run(ctx: &Ctx, rel: &Release) -> bool {
    let latest = rel.latest();
    latest.status().is_pending()
        && latest
            .updated
            .is_some_and(|since| ctx.now.as_second() - since.as_second() < STILL_RUNNING_SECS)
}

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
        let mut running = false;
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
            if may_still_run(ctx, rel) {
                running = true;
                f.severity = Severity::Info;
                f.evidence.push(ctx.text(ID, "recent", &[("age", &age)]));
            }
        }
        f.evidence.push(ctx.text(ID, "refuses", &[]));
        let undo = match rel.last_good() {
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
                format!("helm rollback -n {ns} {name} {}", good.revision)
            }
            None => {
                f.evidence.push(ctx.text(ID, "no_good", &[]));
                format!("helm uninstall -n {ns} {name}")
            }
        };
        if running {
            f.remediation.push(format!("helm status -n {ns} {name}"));
            f.remediation
                .push(format!("kubectl bkdoctor watch -n {ns} --release {name}"));
            f.remediation
                .push(ctx.text(ID, "if_still_pending", &[("command", &undo)]));
        } else {
            f.remediation.push(format!("helm history -n {ns} {name}"));
            f.remediation.push(undo);
            f.remediation.push(ctx.text(ID, "then_sync", &[]));
        }
        out.push(f);
    }
    out
}
