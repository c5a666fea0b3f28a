//! `bkrepo-storage-lost`: bk-repo keeps every platform's files (节点管理's agent scripts, the PaaS
//! runtimes, SaaS packages) on one volume. Uninstalling bk-repo deletes that PVC; installed again,
//! bk-repo starts empty while the platforms deployed before still list their files, and fetching
//! one answers 404 (`setup_agent.sh`). Seen in the data as a storage PVC newer than the first
//! deploy of the platforms that filled it. A heuristic on ages; it reads no file of bk-repo.

use jiff::{SignedDuration, Timestamp};

use super::Ctx;
use super::uninstall_residue::releases_known;
use crate::findings::Finding;
use crate::helm::Release;

pub const ID: &str = "bkrepo-storage-lost";

const PVC_SUFFIX: &str = "-bkrepo-storage";
/// The platforms whose files live in bk-repo and that the guide names.
const USERS: &[&str] = &["bk-paas", "bk-nodeman"];
/// A fresh install deploys them in one run, bk-repo first; minutes apart are not a reinstall.
const SLACK: SignedDuration = SignedDuration::from_mins(30);

/// When a release was first deployed: its oldest revision kept (helm prunes old ones, which only
/// makes this later than the truth).
pub fn first_deploy(r: &Release) -> Option<Timestamp> {
    r.revisions.first()?.updated
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !releases_known(ctx) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for pvc in &ctx.snap.pvcs {
        let m = &pvc.metadata;
        let (Some(ns), Some(name), Some(created)) = (
            m.namespace.as_deref(),
            m.name.as_deref(),
            m.creation_timestamp.as_ref().map(|t| t.0),
        ) else {
            continue;
        };
        if !name.ends_with(PVC_SUFFIX) {
            continue;
        }
        let older: Vec<(&Release, Timestamp)> = ctx
            .releases
            .iter()
            .filter(|r| USERS.contains(&r.name.as_str()))
            .filter_map(|r| Some((r, first_deploy(r)?)))
            .filter(|(_, t)| created.duration_since(*t) > SLACK)
            .collect();
        if older.is_empty() {
            continue;
        }
        let mut f = ctx.finding(ID, Some(ns), format!("pvc/{name}"), &[("pvc", name)]);
        f.evidence.push(ctx.text(
            ID,
            "pvc",
            &[("pvc", name), ("namespace", ns), ("age", &ctx.age(created))],
        ));
        for (r, t) in &older {
            f.evidence.push(ctx.text(
                ID,
                "older",
                &[
                    ("release", &r.name),
                    ("namespace", &r.namespace),
                    ("revision", &r.revisions[0].revision.to_string()),
                    ("age", &ctx.age(*t)),
                ],
            ));
        }
        f.remediation.push(ctx.text(ID, "see", &[]));
        f.remediation.push(format!(
            "kubectl get pvc -n {ns} {name} -o jsonpath='{{.metadata.creationTimestamp}}{{\"\\n\"}}'"
        ));
        for (r, _) in &older {
            f.remediation.push(format!(
                "helm history -n {} {} --max 256",
                r.namespace, r.name
            ));
        }
        f.remediation.push(ctx.text(ID, "reinstall", &[]));
        out.push(f);
    }
    out
}
