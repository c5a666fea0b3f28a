//! `pvc-unbound`: a PersistentVolumeClaim stays `Pending`, so every pod that mounts it stays
//! `Pending` too and `helm --wait` times out. Three causes cover what operators meet: no class and
//! no default class (the persistentvolume-controller says "no persistent volumes available for
//! this claim and no storage class is set"), a class that does not exist, and a class of static
//! local volumes with no free one large enough (BlueKing's `local-storage`).

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{Ctx, events};
use crate::findings::{Finding, Severity};
use crate::snapshot::{meta, pod};

pub const ID: &str = "pvc-unbound";

/// A claim younger than this may still be provisioning.
pub const YOUNG_SECS: i64 = 120;

/// How long a provisioner that says it is working (`Provisioning`, `ExternalProvisioning`) may take
/// before its claim is reported: a cloud disk takes a minute or two, a slow one a few more.
pub const PROVISIONING_SECS: i64 = 600;

/// The class BlueKing's `00-localpv.yaml.gotmpl` creates; preferred when one must become default.
pub const BLUEKING_CLASS: &str = "local-storage";
const LOCALPV_SYNC: &str = "helmfile -f 00-localpv.yaml.gotmpl sync";
const STATIC: &str = "kubernetes.io/no-provisioner";
/// How many events of the claim to quote.
const EVENTS: usize = 3;

pub fn is_default(sc: &StorageClass) -> bool {
    let a = sc.metadata.annotations.as_ref();
    [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|k| a.and_then(|a| a.get(*k)).is_some_and(|v| v == "true"))
}

pub fn is_pending(c: &PersistentVolumeClaim) -> bool {
    c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending")
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let mut classes: Vec<&StorageClass> = snap.storage_classes.iter().collect();
    classes.sort_by_key(|c| meta::name(&c.metadata));
    let defaults: Vec<&str> = classes
        .iter()
        .filter(|c| is_default(c))
        .map(|c| meta::name(&c.metadata))
        .collect();
    let names: Vec<&str> = classes.iter().map(|c| meta::name(&c.metadata)).collect();
    let mut out = Vec::new();
    for claim in snap.pvcs.iter().filter(|c| is_pending(c)) {
        if let Some(f) = finding(ctx, claim, &classes, &defaults, &names) {
            out.push(f);
        }
    }
    out
}

fn finding(
    ctx: &Ctx,
    claim: &PersistentVolumeClaim,
    classes: &[&StorageClass],
    defaults: &[&str],
    names: &[&str],
) -> Option<Finding> {
    let (ns, name) = (
        meta::namespace(&claim.metadata),
        meta::name(&claim.metadata),
    );
    let spec = claim.spec.as_ref();
    let class = spec.and_then(|s| s.storage_class_name.as_deref());
    let sc = class.and_then(|c| classes.iter().find(|s| meta::name(&s.metadata) == c));
    let request = spec
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"));
    let consumers: Vec<&str> = ctx
        .snap
        .pods
        .iter()
        .filter(|p| pod::namespace(p) == ns && mounts(p, name))
        .map(pod::name)
        .collect();
    let free = free_volumes(ctx, claim, class.unwrap_or(""));
    let fits: Vec<&PersistentVolume> = free
        .iter()
        .copied()
        .filter(|pv| match (request, capacity(pv)) {
            (Some(r), Some(c)) => bytes(c) >= bytes(r),
            _ => true,
        })
        .collect();
    let wait_for_consumer = sc
        .and_then(|s| s.volume_binding_mode.as_deref())
        .is_some_and(|m| m == "WaitForFirstConsumer");
    let recent = events::recent(ctx, "PersistentVolumeClaim", Some(ns), name);
    let provisioning_failed = recent
        .iter()
        .any(|e| e.reason.as_deref() == Some("ProvisioningFailed"));
    // Binding waits for a pod to be scheduled: nothing to say without one, and with a volume
    // that fits (or a provisioner that has not failed), the scheduler's reasons are the pod's,
    // not the claim's.
    let can_bind = !fits.is_empty() || (is_dynamic(sc) && !provisioning_failed);
    // A claim younger than its controller's normal time, with a class that exists and nothing
    // failed, is being made: not a finding, not even a warning.
    if sc.is_some() && can_bind && !provisioning_failed && in_progress(ctx, claim, &recent) {
        return None;
    }
    if wait_for_consumer && (consumers.is_empty() || can_bind) {
        return None;
    }
    // Without the classes their binding mode is unknown: a claim no pod waits for may just be
    // waiting for its first consumer.
    if consumers.is_empty() && !readable(ctx, "storageclasses") {
        return None;
    }

    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("persistentvolumeclaim/{name}"),
        &[("pvc", name)],
    );
    if let Some(created) = claim.metadata.creation_timestamp.as_ref() {
        let age = ctx.now.as_second() - created.0.as_second();
        f.evidence
            .push(ctx.text(ID, "pending", &[("age", &ctx.age(created.0))]));
        if age < YOUNG_SECS {
            f.severity = Severity::Warning;
        }
    }
    let request_s = request.map(|q| q.0.as_str()).unwrap_or("-");
    let list = |v: &[&str]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let patch = |sc: &str| {
        format!(
            "kubectl patch storageclass {sc} -p '{{\"metadata\":{{\"annotations\":{{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}}}}}'"
        )
    };
    match (class, sc) {
        // Without the classes (RBAC denied the list) nothing can be said about them: not that the
        // named one is missing, nor that none is the default.
        _ if !readable(ctx, "storageclasses") => {
            f.evidence
                .push(ctx.text(ID, "classes_unread", &[("class", class.unwrap_or("-"))]));
            f.remediation.push("kubectl get storageclass".to_string());
            f.remediation
                .push(format!("kubectl describe pvc -n {ns} {name}"));
        }
        (None, _) if defaults.is_empty() => {
            f.evidence
                .push(ctx.text(ID, "no_class", &[("classes", &list(names))]));
            match names
                .iter()
                .find(|n| **n == BLUEKING_CLASS)
                .or(names.first())
            {
                Some(pick) => {
                    f.remediation
                        .push(ctx.text(ID, "make_default", &[("class", pick)]));
                    f.remediation.push(patch(pick));
                    f.remediation
                        .push(ctx.text(ID, "or_localpv", &[("command", LOCALPV_SYNC)]));
                }
                None => {
                    f.remediation.push(ctx.text(ID, "localpv", &[]));
                    f.remediation.push(LOCALPV_SYNC.to_string());
                }
            }
        }
        (None, _) => {
            // A default exists now but did not when the claim was made: it keeps no class.
            f.evidence.push(ctx.text(
                ID,
                "no_class_default_later",
                &[("default", &defaults.join(", "))],
            ));
            f.remediation
                .push(format!("kubectl describe pvc -n {ns} {name}"));
            f.remediation.push(ctx.text(ID, "recreate", &[]));
        }
        (Some(c), None) => {
            f.evidence.push(ctx.text(
                ID,
                "class_missing",
                &[("class", c), ("classes", &list(names))],
            ));
            f.remediation.push("kubectl get storageclass".to_string());
            if c == BLUEKING_CLASS {
                f.remediation.push(ctx.text(ID, "localpv_missing", &[]));
                f.remediation.push(LOCALPV_SYNC.to_string());
            } else {
                f.remediation
                    .push(ctx.text(ID, "use_existing", &[("class", c)]));
            }
        }
        (Some(c), Some(sc)) => {
            let provisioner = sc.provisioner.as_str();
            f.evidence
                .push(ctx.text(ID, "class", &[("class", c), ("provisioner", provisioner)]));
            if is_dynamic(Some(sc)) {
                f.remediation
                    .push(format!("kubectl describe pvc -n {ns} {name}"));
                f.remediation
                    .push(ctx.text(ID, "provisioner", &[("provisioner", provisioner)]));
            } else if fits.is_empty() && readable(ctx, "persistentvolumes") {
                let largest = free
                    .iter()
                    .filter_map(|pv| Some((meta::name(&pv.metadata), capacity(pv)?)))
                    .max_by(|a, b| bytes(a.1).total_cmp(&bytes(b.1)));
                f.evidence.push(match largest {
                    Some((pv, cap)) => ctx.text(
                        ID,
                        "too_small",
                        &[
                            ("request", request_s),
                            ("class", c),
                            ("pv", pv),
                            ("capacity", &cap.0),
                        ],
                    ),
                    None => ctx.text(ID, "no_free", &[("request", request_s), ("class", c)]),
                });
                f.remediation.push("kubectl get pv".to_string());
                f.remediation.push(ctx.text(
                    ID,
                    "more_pvs",
                    &[("request", request_s), ("command", LOCALPV_SYNC)],
                ));
            } else {
                f.remediation
                    .push(format!("kubectl describe pvc -n {ns} {name}"));
            }
        }
    }
    if let Some(r) = meta::releases(&claim.metadata).next() {
        f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
    }
    for e in recent.into_iter().take(EVENTS) {
        f.evidence
            .push(ctx.text(ID, "event", &[("event", &events::describe(e))]));
    }
    if !consumers.is_empty() {
        f.evidence
            .push(ctx.text(ID, "consumers", &[("pods", &consumers.join(", "))]));
    }
    for p in consumers {
        f.covers.push((ns.to_string(), p.to_string()));
    }
    Some(f)
}

/// Young, or younger than [`PROVISIONING_SECS`] with the provisioner saying it is at work.
fn in_progress(
    ctx: &Ctx,
    claim: &PersistentVolumeClaim,
    recent: &[&k8s_openapi::api::core::v1::Event],
) -> bool {
    let Some(created) = claim.metadata.creation_timestamp.as_ref() else {
        return false;
    };
    let age = ctx.now.as_second() - created.0.as_second();
    let working = recent.iter().any(|e| {
        matches!(
            e.reason.as_deref(),
            Some("Provisioning" | "ExternalProvisioning" | "WaitForPodScheduled")
        )
    });
    age < YOUNG_SECS || (working && age < PROVISIONING_SECS)
}

/// Whether a Pending claim is still being provisioned as it should: a pod waiting for it waits for
/// its controller, not for a fix.
pub fn still_provisioning(ctx: &Ctx, ns: &str, name: &str) -> bool {
    let Some(claim) = ctx.snap.pvcs.iter().find(|c| {
        meta::namespace(&c.metadata) == ns && meta::name(&c.metadata) == name && is_pending(c)
    }) else {
        return false;
    };
    let class = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref());
    let sc = class.and_then(|c| {
        ctx.snap
            .storage_classes
            .iter()
            .find(|s| meta::name(&s.metadata) == c)
    });
    let recent = events::recent(ctx, "PersistentVolumeClaim", Some(ns), name);
    let failed = recent
        .iter()
        .any(|e| e.reason.as_deref() == Some("ProvisioningFailed"));
    sc.is_some_and(|s| s.provisioner != STATIC) && !failed && in_progress(ctx, claim, &recent)
}

/// Was the list read? What a collection could not read is in the snapshot's `skipped`, named as
/// the live collector names its lists.
fn readable(ctx: &Ctx, list: &str) -> bool {
    !ctx.snap.skipped.iter().any(|s| s.what.starts_with(list))
}

fn is_dynamic(sc: Option<&&StorageClass>) -> bool {
    sc.is_some_and(|s| s.provisioner != STATIC)
}

/// Does the pod mount this claim?
pub fn mounts(p: &k8s_openapi::api::core::v1::Pod, claim: &str) -> bool {
    p.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .any(|v| {
            v.persistent_volume_claim
                .as_ref()
                .is_some_and(|c| c.claim_name == claim)
        })
}

/// Available volumes the claim could bind to by class, access modes and volume mode (the
/// persistentvolume-controller's test, less node affinity and selectors).
fn free_volumes<'a>(
    ctx: &Ctx<'a>,
    claim: &PersistentVolumeClaim,
    class: &str,
) -> Vec<&'a PersistentVolume> {
    let spec = claim.spec.as_ref();
    let modes: Vec<&str> = spec
        .and_then(|s| s.access_modes.as_ref())
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let mode = spec
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem");
    let (ns, name) = (
        meta::namespace(&claim.metadata),
        meta::name(&claim.metadata),
    );
    ctx.snap
        .persistent_volumes
        .iter()
        .filter(|pv| pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available"))
        .filter(|pv| {
            let Some(s) = pv.spec.as_ref() else {
                return false;
            };
            let reserved_elsewhere = s.claim_ref.as_ref().is_some_and(|r| {
                r.namespace.as_deref() != Some(ns) || r.name.as_deref() != Some(name)
            });
            let pv_modes: Vec<&str> = s
                .access_modes
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            !reserved_elsewhere
                && s.storage_class_name.as_deref().unwrap_or("") == class
                && s.volume_mode.as_deref().unwrap_or("Filesystem") == mode
                && modes.iter().all(|m| pv_modes.contains(m))
        })
        .collect()
}

fn capacity(pv: &PersistentVolume) -> Option<&Quantity> {
    pv.spec.as_ref()?.capacity.as_ref()?.get("storage")
}

/// A storage quantity in bytes (`8Gi`, `500M`, `1.5Ti`, `1e9`); unparsable reads as 0.
pub fn bytes(q: &Quantity) -> f64 {
    let s = q.0.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let Ok(n) = num.parse::<f64>() else {
        return 0.0;
    };
    let k: f64 = 1024.0;
    let factor = match suffix {
        "" => 1.0,
        "Ki" => k,
        "Mi" => k.powi(2),
        "Gi" => k.powi(3),
        "Ti" => k.powi(4),
        "Pi" => k.powi(5),
        "Ei" => k.powi(6),
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        e if e.starts_with(['e', 'E']) => {
            e[1..].parse::<i32>().map(|x| 10f64.powi(x)).unwrap_or(0.0)
        }
        _ => 0.0,
    };
    n * factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        let q = |s: &str| bytes(&Quantity(s.to_string()));
        assert_eq!(q("8Gi"), 8.0 * 1024f64.powi(3));
        assert_eq!(q("500M"), 5e8);
        assert_eq!(q("1e9"), 1e9);
        assert_eq!(q("1.5Ki"), 1536.0);
        assert!(q("50Gi") > q("20Gi"));
        assert_eq!(q("nonsense"), 0.0);
    }
}
