//! The bounded picture `watch` keeps: the same [`Snapshot`] a `check` reads, kept current one
//! watch event at a time. Each object goes through the same [`Ingest`] as a list item, so a pod
//! keeps only the spec the rules read and a Secret only its helm record; a relist (after `410
//! Gone`) replaces its kind whole, so an object deleted while disconnected does not linger. It
//! knows no rule and makes no request.

use std::collections::HashSet;

use k8s_openapi::Metadata;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::collect::ingest::{Ingest, MetaOnly};
use crate::helm::{Driver, Payload, ReleaseRecord};
use crate::snapshot::{PodSpecRead, Snapshot};

/// Warning events kept at most: the rules read recent ones only, and a long watch of a busy
/// cluster would otherwise keep every event it ever saw.
const MAX_EVENTS: usize = 5_000;

/// The kinds that change while a deployment runs, each followed by one watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Pods,
    Deployments,
    StatefulSets,
    DaemonSets,
    Jobs,
    Pvcs,
    Events,
    Nodes,
    /// Helm's release Secrets, watched metadata-only.
    HelmSecrets,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::HelmSecrets,
        Kind::Pods,
        Kind::Deployments,
        Kind::StatefulSets,
        Kind::DaemonSets,
        Kind::Jobs,
        Kind::Pvcs,
        Kind::Events,
        Kind::Nodes,
    ];

    /// (group, version, kind, plural, namespaced)
    pub fn api(self) -> (&'static str, &'static str, &'static str, &'static str, bool) {
        match self {
            Kind::Pods => ("", "v1", "Pod", "pods", true),
            Kind::Deployments => ("apps", "v1", "Deployment", "deployments", true),
            Kind::StatefulSets => ("apps", "v1", "StatefulSet", "statefulsets", true),
            Kind::DaemonSets => ("apps", "v1", "DaemonSet", "daemonsets", true),
            Kind::Jobs => ("batch", "v1", "Job", "jobs", true),
            Kind::Pvcs => (
                "",
                "v1",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                true,
            ),
            Kind::Events => ("", "v1", "Event", "events", true),
            Kind::Nodes => ("", "v1", "Node", "nodes", false),
            Kind::HelmSecrets => ("", "v1", "Secret", "secrets", true),
        }
    }
}

/// What a feed saw.
#[derive(Debug)]
pub enum Update {
    /// A (re)list starts: what follows until `Listed` is the whole kind.
    Relist(Kind),
    Listed(Kind),
    Seen(Kind, Value),
    Gone(Kind, Value),
}

pub struct State {
    pub snap: Snapshot,
    pod_spec: PodSpecRead,
    /// The objects each relist in progress has brought so far (namespace, name): those it did not
    /// bring are dropped when it ends. Marked, not staged: a second copy of 5,000 pods is memory.
    relisting: Vec<(Kind, HashSet<(String, String)>)>,
}

fn key(m: &ObjectMeta) -> (&str, &str) {
    (
        m.namespace.as_deref().unwrap_or(""),
        m.name.as_deref().unwrap_or(""),
    )
}

/// Puts `new` in `v` in place of the objects of the same namespace and name.
fn upsert<T: Metadata<Ty = ObjectMeta>>(v: &mut Vec<T>, new: Vec<T>) {
    for n in new {
        let k = key(n.metadata());
        match v.iter().position(|o| key(o.metadata()) == k) {
            Some(i) => v[i] = n,
            None => v.push(n),
        }
    }
}

fn remove<T: Metadata<Ty = ObjectMeta>>(v: &mut Vec<T>, ns: &str, name: &str) {
    v.retain(|o| key(o.metadata()) != (ns, name));
}

impl State {
    pub fn new(snap: Snapshot, pod_spec: PodSpecRead) -> State {
        State {
            snap,
            pod_spec,
            relisting: Vec::new(),
        }
    }

    /// One object as a snapshot of its own, parsed as a list item of its kind would be.
    fn parse(&self, kind: Kind, value: Value) -> Snapshot {
        let mut one = Snapshot::default();
        if kind == Kind::HelmSecrets {
            // A fetched payload decodes as in a `check`; a metadata-only event is a label-only record.
            let record = match value.get("data") {
                Some(_) => crate::helm::secrets::from_object(&value),
                None => serde_json::from_value::<MetaOnly>(value)
                    .ok()
                    .and_then(|m| {
                        ReleaseRecord::from_meta(Driver::Secret, &m.metadata, Payload::NotLoaded)
                    }),
            };
            one.helm_records.extend(record);
            return one;
        }
        let mut ingest = Ingest::new(Some(self.pod_spec));
        ingest.add(&mut one, value, "watch", Some(kind.api().2));
        one
    }

    pub fn apply(&mut self, update: Update) {
        match update {
            Update::Relist(kind) => {
                self.relisting.retain(|(k, _)| *k != kind);
                self.relisting.push((kind, HashSet::new()));
            }
            Update::Listed(kind) => {
                let Some(i) = self.relisting.iter().position(|(k, _)| *k == kind) else {
                    return;
                };
                let (_, seen) = self.relisting.swap_remove(i);
                self.sweep(kind, &seen);
            }
            Update::Seen(kind, value) => {
                if let Some((_, seen)) = self.relisting.iter_mut().find(|(k, _)| *k == kind) {
                    let meta = &value["metadata"];
                    seen.insert((
                        meta["namespace"].as_str().unwrap_or("").to_string(),
                        meta["name"].as_str().unwrap_or("").to_string(),
                    ));
                }
                let one = self.parse(kind, value);
                merge(&mut self.snap, kind, one);
            }
            Update::Gone(kind, value) => {
                let meta = &value["metadata"];
                let ns = meta["namespace"].as_str().unwrap_or("");
                let name = meta["name"].as_str().unwrap_or("");
                let s = &mut self.snap;
                match kind {
                    Kind::Pods => remove(&mut s.pods, ns, name),
                    Kind::Deployments => remove(&mut s.deployments, ns, name),
                    Kind::StatefulSets => remove(&mut s.stateful_sets, ns, name),
                    Kind::DaemonSets => remove(&mut s.daemon_sets, ns, name),
                    Kind::Jobs => remove(&mut s.jobs, ns, name),
                    Kind::Pvcs => remove(&mut s.pvcs, ns, name),
                    Kind::Events => remove(&mut s.events, ns, name),
                    Kind::Nodes => remove(&mut s.nodes, ns, name),
                    Kind::HelmSecrets => s
                        .helm_records
                        .retain(|r| !(r.namespace == ns && r.object_name == name)),
                }
            }
        }
    }

    /// After a relist: what it did not bring is gone from the cluster.
    fn sweep(&mut self, kind: Kind, seen: &HashSet<(String, String)>) {
        fn keep<T: Metadata<Ty = ObjectMeta>>(v: &mut Vec<T>, seen: &HashSet<(String, String)>) {
            v.retain(|o| {
                let (ns, name) = key(o.metadata());
                seen.contains(&(ns.to_string(), name.to_string()))
            });
        }
        let s = &mut self.snap;
        match kind {
            Kind::Pods => keep(&mut s.pods, seen),
            Kind::Deployments => keep(&mut s.deployments, seen),
            Kind::StatefulSets => keep(&mut s.stateful_sets, seen),
            Kind::DaemonSets => keep(&mut s.daemon_sets, seen),
            Kind::Jobs => keep(&mut s.jobs, seen),
            Kind::Pvcs => keep(&mut s.pvcs, seen),
            // Only Warnings are watched; the claims' Normal events of the first reading stay.
            Kind::Events => s.events.retain(|e| {
                let (ns, name) = key(&e.metadata);
                e.type_.as_deref() != Some("Warning")
                    || seen.contains(&(ns.to_string(), name.to_string()))
            }),
            Kind::Nodes => keep(&mut s.nodes, seen),
            Kind::HelmSecrets => s
                .helm_records
                .retain(|r| seen.contains(&(r.namespace.clone(), r.object_name.clone()))),
        }
    }
}

/// Adds one parsed object (or a batch) to `into`, replacing the same object.
fn merge(into: &mut Snapshot, kind: Kind, one: Snapshot) {
    match kind {
        Kind::Pods => upsert(&mut into.pods, one.pods),
        Kind::Deployments => upsert(&mut into.deployments, one.deployments),
        Kind::StatefulSets => upsert(&mut into.stateful_sets, one.stateful_sets),
        Kind::DaemonSets => upsert(&mut into.daemon_sets, one.daemon_sets),
        Kind::Jobs => upsert(&mut into.jobs, one.jobs),
        Kind::Pvcs => upsert(&mut into.pvcs, one.pvcs),
        Kind::Nodes => upsert(&mut into.nodes, one.nodes),
        Kind::Events => {
            upsert(&mut into.events, one.events);
            if into.events.len() > MAX_EVENTS {
                let extra = into.events.len() - MAX_EVENTS;
                into.events.drain(..extra);
            }
        }
        Kind::HelmSecrets => {
            for r in one.helm_records {
                let same = |o: &ReleaseRecord| {
                    o.namespace == r.namespace && o.object_name == r.object_name
                };
                match into.helm_records.iter().position(same) {
                    // A label-only event does not undo a payload already read for the same status.
                    Some(i)
                        if matches!(r.payload, Payload::NotLoaded)
                            && into.helm_records[i].label_status == r.label_status => {}
                    Some(i) => into.helm_records[i] = r,
                    None => into.helm_records.push(r),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, reason: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "blueking"},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false,
                "restartCount": 0, "image": "app:1", "imageID": "",
                "state": {"waiting": {"reason": reason}}}]}})
    }

    #[test]
    fn an_object_seen_twice_is_kept_once_and_a_relist_replaces_the_kind() {
        let mut s = State::new(Snapshot::default(), crate::snapshot::PodSpecRead::default());
        s.apply(Update::Seen(Kind::Pods, pod("a", "ErrImagePull")));
        s.apply(Update::Seen(Kind::Pods, pod("a", "ImagePullBackOff")));
        s.apply(Update::Seen(Kind::Pods, pod("b", "ErrImagePull")));
        assert_eq!(s.snap.pods.len(), 2);
        s.apply(Update::Relist(Kind::Pods));
        s.apply(Update::Seen(Kind::Pods, pod("b", "ErrImagePull")));
        // What the relist has not brought yet stays until it has ended.
        assert_eq!(s.snap.pods.len(), 2);
        s.apply(Update::Listed(Kind::Pods));
        assert_eq!(s.snap.pods.len(), 1);
        s.apply(Update::Gone(Kind::Pods, pod("b", "")));
        assert!(s.snap.pods.is_empty());
    }

    #[test]
    fn helm_secrets_become_label_only_records() {
        let mut s = State::new(Snapshot::default(), crate::snapshot::PodSpecRead::default());
        let meta = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"name": "sh.helm.release.v1.bk-repo.v4", "namespace": "blueking",
                "labels": {"owner": "helm", "name": "bk-repo", "status": "pending-upgrade", "version": "4"}}});
        s.apply(Update::Seen(Kind::HelmSecrets, meta));
        let r = &s.snap.helm_records[0];
        assert_eq!((r.name.as_str(), r.revision), ("bk-repo", 4));
        assert_eq!(r.label_status.as_deref(), Some("pending-upgrade"));
    }
}
