//! Workload facts the pod and workload rules share: which workload a pod belongs to, how many of
//! its pods are ready against how many it wants, and which pods are its. Reads only Deployments,
//! StatefulSets and DaemonSets of the snapshot; says nothing about why a workload is short.

use k8s_openapi::api::core::v1::Pod;

use super::workload_create_failed::owns_replica_set;
use crate::snapshot::{Snapshot, meta, pod};

/// The workload that controls a pod, as `(kind, name)` with the kind as the API spells it
/// (`Deployment`, `StatefulSet`, `DaemonSet`, `Job`); a ReplicaSet's pod is its Deployment's when
/// the snapshot has a Deployment that owns that ReplicaSet.
pub fn owner<'a>(snap: &'a Snapshot, p: &'a Pod) -> Option<(&'a str, &'a str)> {
    let o = p
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))?;
    if o.kind == "ReplicaSet" {
        let ns = pod::namespace(p);
        return snap
            .deployments
            .iter()
            .find(|d| {
                meta::namespace(&d.metadata) == ns
                    && owns_replica_set(meta::name(&d.metadata), &o.name)
            })
            .map(|d| ("Deployment", meta::name(&d.metadata)))
            .or(Some(("ReplicaSet", o.name.as_str())));
    }
    Some((o.kind.as_str(), o.name.as_str()))
}

/// Ready and wanted pods of a workload, `None` when the snapshot does not have it.
pub fn counts(snap: &Snapshot, ns: &str, kind: &str, name: &str) -> Option<(i32, i32)> {
    let here = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta::namespace(m) == ns && meta::name(m) == name
    };
    match kind {
        "Deployment" => snap
            .deployments
            .iter()
            .find(|d| here(&d.metadata))
            .map(|d| {
                let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let ready = d
                    .status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0);
                (ready, want)
            }),
        "StatefulSet" => snap
            .stateful_sets
            .iter()
            .find(|s| here(&s.metadata))
            .map(|s| {
                let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let ready = s
                    .status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0);
                (ready, want)
            }),
        "DaemonSet" => snap
            .daemon_sets
            .iter()
            .find(|d| here(&d.metadata))
            .map(|d| {
                d.status
                    .as_ref()
                    .map(|s| (s.number_ready, s.desired_number_scheduled))
                    .unwrap_or((0, 0))
            }),
        _ => None,
    }
}

/// Whether the pod's workload has every pod it wants now (a pod it replaced is then history).
pub fn owner_is_whole(snap: &Snapshot, p: &Pod) -> bool {
    owner(snap, p)
        .and_then(|(kind, name)| counts(snap, pod::namespace(p), kind, name))
        .is_some_and(|(ready, want)| ready >= want)
}

/// The pods a workload controls.
pub fn pods_of<'a>(
    snap: &'a Snapshot,
    ns: &'a str,
    kind: &'a str,
    name: &'a str,
) -> impl Iterator<Item = &'a Pod> + 'a {
    snap.pods.iter().filter(move |p| {
        pod::namespace(p) == ns && owner(snap, p).is_some_and(|(k, n)| k == kind && n == name)
    })
}

/// `deployment/NAME`, as kubectl and the findings name it.
pub fn object(kind: &str, name: &str) -> String {
    format!("{}/{name}", kind.to_ascii_lowercase())
}
