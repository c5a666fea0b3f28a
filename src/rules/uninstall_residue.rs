//! `uninstall-residue`: what an uninstall of BlueKing leaves behind when the guide's last step
//! (卸载整个蓝鲸, step 6) was skipped: the `bk-paasengine` ClusterRoleBinding and ServiceAccount
//! that a script made for bk-paas, BlueKing's `*.tencent.com` CRDs, and the ConfigMaps and Jobs
//! labelled with a release that no longer exists. A new install on top of them starts from stale
//! state (bk-paas then keeps a token of the old account). It reads metadata only, and says nothing
//! when helm's release records could not be read, since then no release is known to be gone.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Ctx;
use crate::findings::Finding;
use crate::snapshot::meta;

pub const ID: &str = "uninstall-residue";

/// The account and binding `create_k8s_cluster_admin_for_paas3.sh` makes for bk-paas.
pub const PAAS_ENGINE: &str = "bk-paasengine";
pub const PAAS: &str = "bk-paas";
/// The releases whose labelled ConfigMaps, Secrets and Jobs the guide deletes by label.
const LABELLED: &[&str] = &["bk-job", "bk-repo", "bk-paas"];
/// ConfigMaps the guide deletes by name, with the release that made them.
const NAMED_CONFIGMAPS: &[(&str, &str)] = &[
    ("bk-log-search-builtin-collect-configmap", "bk-log-search"),
    ("bk-log-search-grafana-ini", "bk-log-search"),
    ("bkpaas3-apiserver-3rd-apps", "bk-paas"),
];
/// Secrets the guide deletes by name once bk-paas is gone (never read: only deleted if present).
const NAMED_SECRETS: &[&str] = &[
    "bkpaas3-engine-bkrepo-envs",
    "bkpaas3-workloads-bkrepo-envs",
];
const CRD_GROUP: &str = "tencent.com";

/// Whether the helm release records were read: without them no release is known to be absent.
pub fn releases_known(ctx: &Ctx) -> bool {
    !ctx.snap
        .skipped
        .iter()
        .any(|s| s.what.contains("helm release records"))
}

/// A release of this name exists in `namespace` (`None`: anywhere), in any state.
fn exists(ctx: &Ctx, name: &str, namespace: Option<&str>) -> bool {
    ctx.releases
        .iter()
        .any(|r| r.name == name && namespace.is_none_or(|ns| r.namespace == ns))
}

/// Any BlueKing release at all: a CRD that names no release is residue only when none is left.
fn any_blueking(ctx: &Ctx) -> bool {
    ctx.releases
        .iter()
        .any(|r| r.name.starts_with("bk") || r.name.starts_with("bcs-"))
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !releases_known(ctx) {
        return Vec::new();
    }
    let snap = ctx.snap;
    let mut evidence: Vec<String> = Vec::new();
    let mut fix: Vec<String> = Vec::new();
    let paas_gone = !exists(ctx, PAAS, None);
    let text = |key: &str, vars: &[(&str, &str)]| ctx.text(ID, key, vars);

    if paas_gone {
        let crb = snap
            .cluster_role_bindings
            .iter()
            .find(|m| meta::name(m) == PAAS_ENGINE);
        if let Some(m) = crb {
            evidence.push(text("crb", &[("name", PAAS_ENGINE), ("age", &age(ctx, m))]));
            fix.push(format!("kubectl delete clusterrolebinding {PAAS_ENGINE}"));
        }
        for sa in snap
            .service_accounts
            .iter()
            .filter(|m| meta::name(m) == PAAS_ENGINE)
        {
            let ns = meta::namespace(sa);
            evidence.push(text(
                "sa",
                &[
                    ("name", PAAS_ENGINE),
                    ("namespace", ns),
                    ("age", &age(ctx, sa)),
                ],
            ));
            fix.push(format!("kubectl -n {ns} delete sa {PAAS_ENGINE}"));
        }
    }

    let crds: Vec<&str> = if any_blueking(ctx) {
        Vec::new()
    } else {
        snap.crds
            .iter()
            .filter(|c| c.spec.group.ends_with(CRD_GROUP))
            .filter(|c| meta::releases(&c.metadata).all(|r| !exists(ctx, r, None)))
            .filter_map(|c| c.metadata.name.as_deref())
            .collect()
    };
    if !crds.is_empty() {
        evidence.push(text("crds", &[("crds", &crds.join(", "))]));
        fix.push(format!("kubectl delete crd {}", crds.join(" ")));
    }

    // Labelled ConfigMaps and Jobs, by namespace: the releases whose objects are left.
    let mut labelled: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = BTreeMap::new();
    let metas = (snap.config_maps.iter().map(|c| (&c.metadata, "configmap")))
        .chain(snap.jobs.iter().map(|j| (&j.metadata, "job")));
    for (m, kind) in metas {
        let ns = meta::namespace(m);
        let Some(r) = meta::releases(m).find(|r| LABELLED.contains(r)) else {
            continue;
        };
        if exists(ctx, r, Some(ns)) {
            continue;
        }
        labelled
            .entry(ns)
            .or_default()
            .entry(r)
            .or_default()
            .push(format!("{kind}/{}", meta::name(m)));
    }
    for (ns, by_release) in &labelled {
        let releases: Vec<&str> = by_release.keys().copied().collect();
        let objects: Vec<String> = by_release.values().flatten().cloned().collect();
        evidence.push(text(
            "labelled",
            &[
                ("namespace", ns),
                ("releases", &releases.join(", ")),
                ("objects", &objects.join(", ")),
            ],
        ));
        let selector = format!("app.kubernetes.io/instance in ({})", releases.join(","));
        fix.push(format!(
            "kubectl delete secret,configmap,job -n {ns} -l '{selector}'"
        ));
    }

    for (name, release) in NAMED_CONFIGMAPS {
        for cm in snap
            .config_maps
            .iter()
            .filter(|c| meta::name(&c.metadata) == *name)
        {
            let ns = meta::namespace(&cm.metadata);
            if exists(ctx, release, Some(ns)) {
                continue;
            }
            evidence.push(text(
                "named",
                &[("namespace", ns), ("configmap", name), ("release", release)],
            ));
            fix.push(format!(
                "kubectl delete configmap -n {ns} {name} --ignore-not-found"
            ));
        }
    }

    if evidence.is_empty() {
        return Vec::new();
    }
    if paas_gone {
        let ns = snap
            .service_accounts
            .iter()
            .find(|m| meta::name(m) == PAAS_ENGINE)
            .map_or("blueking", meta::namespace);
        fix.push(format!(
            "kubectl delete secret -n {ns} {} --ignore-not-found",
            NAMED_SECRETS.join(" ")
        ));
    }
    let object = evidence_object(ctx, &labelled, &crds, paas_gone);
    let mut f = ctx.finding(ID, None, object, &[]);
    f.evidence = evidence;
    f.remediation.push(text("cleanup", &[]));
    f.remediation.extend(fix);
    f.remediation.push(text("pvcs", &[]));
    f.remediation.push(text("move_dir", &[]));
    vec![f]
}

fn evidence_object(
    ctx: &Ctx,
    labelled: &BTreeMap<&str, BTreeMap<&str, Vec<String>>>,
    crds: &[&str],
    paas_gone: bool,
) -> String {
    let has_crb = ctx
        .snap
        .cluster_role_bindings
        .iter()
        .any(|m| meta::name(m) == PAAS_ENGINE);
    if paas_gone && has_crb {
        return format!("clusterrolebinding/{PAAS_ENGINE}");
    }
    if let Some(c) = crds.first() {
        return format!("crd/{c}");
    }
    labelled
        .values()
        .flat_map(|m| m.values().flatten())
        .next()
        .cloned()
        .unwrap_or_else(|| "configmap".to_string())
}

fn age(ctx: &Ctx, m: &ObjectMeta) -> String {
    m.creation_timestamp
        .as_ref()
        .map_or_else(|| "?".to_string(), |t| ctx.age(t.0))
}
