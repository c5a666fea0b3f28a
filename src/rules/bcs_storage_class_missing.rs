//! `bcs-storage-class-missing`: BCS (bcs-services-stack) asks for the StorageClass
//! `bcs.storageClass` names, `local-storage` unless custom.yaml says otherwise (guide: 确认
//! storageClass). On a cluster whose class has another name its PVCs stay Pending, and the
//! deployment times out waiting for the pods that mount them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;

use super::Ctx;
use super::apigateway_too_old::BCS;
use super::site;
use crate::findings::Finding;

pub const ID: &str = "bcs-storage-class-missing";

const BCS_NS: &str = "bcs-system";
const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

fn class_of(p: &PersistentVolumeClaim) -> Option<&str> {
    p.spec
        .as_ref()?
        .storage_class_name
        .as_deref()
        .filter(|c| !c.is_empty())
}

fn pending(p: &PersistentVolumeClaim) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending")
}

/// The class a PVC's events say does not exist: the persistentvolume-controller's
/// `storageclass.storage.k8s.io "NAME" not found`.
fn not_found_in_events<'a>(ctx: &Ctx<'a>, ns: &str, pvc: &str) -> Option<&'a str> {
    ctx.snap.events.iter().find_map(|e| {
        let o = &e.involved_object;
        if o.kind.as_deref() != Some("PersistentVolumeClaim")
            || o.namespace.as_deref() != Some(ns)
            || o.name.as_deref() != Some(pvc)
        {
            return None;
        }
        let m = e.message.as_deref()?;
        let rest = &m[m.find("storageclass.storage.k8s.io \"")? + 29..];
        let class = &rest[..rest.find('"')?];
        rest[class.len()..]
            .starts_with("\" not found")
            .then_some(class)
    })
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let ns = site::release(&ctx.releases, BCS).map_or(BCS_NS, |r| r.namespace.as_str());
    let classes: Vec<(&str, bool)> = snap
        .storage_classes
        .iter()
        .filter_map(|c| {
            let default = c
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .is_some_and(|v| v == "true");
            Some((c.metadata.name.as_deref()?, default))
        })
        .collect();
    // class → PVCs asking for it
    let mut missing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in snap
        .pvcs
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
    {
        let Some(name) = p.metadata.name.as_deref() else {
            continue;
        };
        if !pending(p) {
            continue;
        }
        let by_list =
            class_of(p).filter(|c| !classes.is_empty() && !classes.iter().any(|(n, _)| n == c));
        // Without StorageClasses in the snapshot only the controller's own event proves it.
        if let Some(c) = by_list.or_else(|| not_found_in_events(ctx, ns, name)) {
            missing.entry(c).or_default().push(name);
        }
    }
    for pvcs in missing.values_mut() {
        pvcs.sort();
    }
    let Some((class, _)) = missing.iter().next() else {
        return Vec::new();
    };
    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("storageclass/{class}"),
        &[("class", class), ("namespace", ns)],
    );
    for (c, pvcs) in &missing {
        f.evidence
            .push(ctx.text(ID, "pvcs", &[("class", c), ("pvcs", &pvcs.join(", "))]));
    }
    let listed: Vec<String> = classes
        .iter()
        .map(|(n, d)| {
            if *d {
                format!("{n} (default)")
            } else {
                n.to_string()
            }
        })
        .collect();
    let suggestion = classes
        .iter()
        .find(|(_, d)| *d)
        .or(classes.first())
        .map(|(n, _)| *n);
    f.evidence.push(if listed.is_empty() {
        ctx.text(ID, "no_classes", &[])
    } else {
        ctx.text(ID, "classes", &[("classes", &listed.join(", "))])
    });
    f.remediation.push("kubectl get storageclass".into());
    f.remediation.push(ctx.text(
        ID,
        "custom_yaml",
        &[("class", suggestion.unwrap_or("CLASS"))],
    ));
    f.remediation.push(ctx.text(ID, "in_bkhelmfile", &[]));
    f.remediation
        .push("helmfile -f 03-bcs.yaml.gotmpl sync".into());
    let pvcs: Vec<&str> = missing.values().flatten().copied().collect();
    f.remediation.push(ctx.text(
        ID,
        "still_pending",
        &[("namespace", ns), ("pvcs", &pvcs.join(" "))],
    ));
    vec![f]
}
