//! `paas-k8s-token-stale`: bk-paas reaches the cluster with the token of the `bk-paasengine`
//! ServiceAccount, which `create_k8s_cluster_admin_for_paas3.sh` writes into
//! `environments/default/paas3_initial_cluster.yaml` once; bk-paas takes it at deploy. When the
//! account is made again later (a reinstall in a bkhelmfile directory that was not renamed), the
//! cluster holds a new token and bk-paas the old one: deploying a SaaS fails with "unable to
//! provision instance for services<mysql>". Seen in the data as an account newer than bk-paas's
//! last deploy. A heuristic on ages; it reads no token.

use jiff::SignedDuration;

use super::Ctx;
use super::site;
use super::uninstall_residue::{PAAS, PAAS_ENGINE, releases_known};
use crate::findings::Finding;
use crate::snapshot::meta;

pub const ID: &str = "paas-k8s-token-stale";

/// The script runs right before bk-paas is synced, never after it in a normal install.
const SLACK: SignedDuration = SignedDuration::from_mins(1);

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !releases_known(ctx) {
        return Vec::new();
    }
    let Some(paas) = site::release(&ctx.releases, PAAS).filter(|r| site::installed(r)) else {
        return Vec::new();
    };
    let latest = paas.latest();
    let Some(deployed) = latest.updated else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for sa in ctx
        .snap
        .service_accounts
        .iter()
        .filter(|m| meta::name(m) == PAAS_ENGINE)
    {
        let Some(created) = sa.creation_timestamp.as_ref().map(|t| t.0) else {
            continue;
        };
        if created.duration_since(deployed) <= SLACK {
            continue;
        }
        let ns = meta::namespace(sa);
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("serviceaccount/{PAAS_ENGINE}"),
            &[("release", &paas.name)],
        );
        f.evidence.push(ctx.text(
            ID,
            "account",
            &[
                ("namespace", ns),
                ("name", PAAS_ENGINE),
                ("age", &ctx.age(created)),
            ],
        ));
        f.evidence.push(ctx.text(
            ID,
            "deployed",
            &[
                ("release", &paas.name),
                ("namespace", &paas.namespace),
                ("revision", &latest.revision.to_string()),
                ("age", &ctx.age(deployed)),
            ],
        ));
        if let Some(crb) = ctx
            .snap
            .cluster_role_bindings
            .iter()
            .find(|m| meta::name(m) == PAAS_ENGINE)
            .and_then(|m| m.creation_timestamp.as_ref())
        {
            f.evidence.push(ctx.text(
                ID,
                "binding",
                &[("name", PAAS_ENGINE), ("age", &ctx.age(crb.0))],
            ));
        }
        f.remediation.push(ctx.text(ID, "dir", &[]));
        f.remediation
            .push("rm -f environments/default/paas3_initial_cluster.yaml".into());
        f.remediation
            .push("./scripts/create_k8s_cluster_admin_for_paas3.sh".into());
        f.remediation.push(format!(
            "helmfile -f base-blueking.yaml.gotmpl -l name={} sync",
            paas.name
        ));
        f.remediation.push(ctx.text(ID, "retry", &[]));
        out.push(f);
    }
    out
}
