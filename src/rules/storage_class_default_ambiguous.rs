//! `storage-class-default-ambiguous`: two or more StorageClasses are marked default. Kubernetes then
//! gives a claim without a class the newest of them (older releases refused such claims), so which
//! class a chart's PVC gets depends on which was created last, not on anyone's choice. The fix keeps
//! one default: BlueKing's `local-storage` when it is one of them, else the one Kubernetes picks now,
//! so that nothing changes for claims made from here on.

use k8s_openapi::api::storage::v1::StorageClass;

use super::{Ctx, pvc_unbound};
use crate::findings::Finding;
use crate::format::when;
use crate::snapshot::meta;

pub const ID: &str = "storage-class-default-ambiguous";

const ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut defaults: Vec<&StorageClass> = ctx
        .snap
        .storage_classes
        .iter()
        .filter(|c| pvc_unbound::is_default(c))
        .collect();
    if defaults.len() < 2 {
        return Vec::new();
    }
    // Newest first: the one Kubernetes gives a claim without a class.
    defaults.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.metadata.creation_timestamp.as_ref().map(|t| t.0)),
            meta::name(&c.metadata).to_string(),
        )
    });
    let keep = defaults
        .iter()
        .find(|c| meta::name(&c.metadata) == pvc_unbound::BLUEKING_CLASS)
        .unwrap_or(&defaults[0]);
    let keep_name = meta::name(&keep.metadata);
    let names: Vec<&str> = defaults.iter().map(|c| meta::name(&c.metadata)).collect();
    let mut f = ctx.finding(
        ID,
        None,
        format!("storageclass/{keep_name}"),
        &[("classes", &names.join(", ")), ("keep", keep_name)],
    );
    for c in &defaults {
        let created = c
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| when(t.0))
            .unwrap_or_else(|| "-".into());
        f.evidence.push(ctx.text(
            ID,
            "default",
            &[
                ("class", meta::name(&c.metadata)),
                ("provisioner", c.provisioner.as_str()),
                ("created", &created),
            ],
        ));
    }
    f.evidence.push(ctx.text(
        ID,
        "picked",
        &[("class", meta::name(&defaults[0].metadata))],
    ));
    let classless: Vec<String> = ctx
        .snap
        .pvcs
        .iter()
        .filter(|c| {
            c.spec
                .as_ref()
                .is_none_or(|s| s.storage_class_name.is_none())
        })
        .map(|c| {
            format!(
                "{}/{}",
                meta::namespace(&c.metadata),
                meta::name(&c.metadata)
            )
        })
        .collect();
    if !classless.is_empty() {
        f.evidence
            .push(ctx.text(ID, "classless", &[("claims", &classless.join(", "))]));
    }
    f.remediation
        .push(ctx.text(ID, "fix", &[("keep", keep_name)]));
    for c in defaults
        .iter()
        .filter(|c| meta::name(&c.metadata) != keep_name)
    {
        let a = c.metadata.annotations.as_ref();
        for key in ANNOTATIONS
            .iter()
            .filter(|k| a.and_then(|a| a.get(**k)).is_some_and(|v| v == "true"))
        {
            f.remediation.push(format!(
                "kubectl patch storageclass {} -p '{{\"metadata\":{{\"annotations\":{{\"{key}\":\"false\"}}}}}}'",
                meta::name(&c.metadata)
            ));
        }
    }
    f.remediation.push("kubectl get storageclass".to_string());
    vec![f]
}
