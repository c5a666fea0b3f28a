//! Turns Kubernetes objects into the typed snapshot: JSON values from files, JSON text from a live
//! list page. Shared by every collector.

use std::collections::HashSet;

use k8s_openapi::Metadata;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::findings::Skipped;
use crate::helm;
use crate::snapshot::secret::SecretMeta;
use crate::snapshot::{LogFailure, PodSpecRead, Snapshot, event};

mod prune;

/// The tool's own marker object in a snapshot directory it wrote: when and from where.
pub const INFO_KIND: &str = "SnapshotInfo";
pub const INFO_API_VERSION: &str = "bkdoctor/v1";

/// Objects of one file beyond this are not read: a list that long is not a real cluster dump.
pub const MAX_OBJECTS_PER_FILE: usize = 500_000;

/// Items of a page from which [`Ingest::add_page`] parses on two threads.
const PARALLEL_PAGE: usize = 1_000;

#[derive(Default)]
pub struct Ingest {
    seen: HashSet<(String, String, String)>,
    pub objects: usize,
    pub ignored: usize,
    /// Keep of a pod's spec only what the rules read (`None`: pods whole). A typed `PodSpec` is
    /// most of a live `check`'s memory on a cluster of thousands of pods (BENCHMARKS.md), and the
    /// rules read mostly the status. A live `snapshot` keeps pods whole for the support engineer.
    pod_spec: Option<PodSpecRead>,
}

impl Ingest {
    /// `pod_spec`: what to keep of each pod's spec, as the caller was given it (the collector
    /// knows no rule); `None` keeps pods whole.
    pub fn new(pod_spec: Option<PodSpecRead>) -> Self {
        Ingest {
            pod_spec,
            ..Ingest::default()
        }
    }

    /// Adds one value: an object, a `List`, or a typed list such as `PodList` whose items carry no
    /// `kind` (as the API and `kubectl cluster-info dump` write them). `kind_hint` names the kind when
    /// the value itself does not say (a dump's `pods.json`).
    pub fn add(
        &mut self,
        snap: &mut Snapshot,
        value: Value,
        origin: &str,
        kind_hint: Option<&str>,
    ) {
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| kind_hint.map(str::to_string));
        let is_list = value.get("items").is_some_and(Value::is_array)
            && kind.as_deref().is_none_or(|k| k.ends_with("List"));
        if is_list {
            let item_kind = kind
                .as_deref()
                .and_then(|k| k.strip_suffix("List"))
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .or_else(|| kind_hint.map(str::to_string));
            let Value::Object(mut map) = value else {
                return;
            };
            let Some(Value::Array(items)) = map.remove("items") else {
                return;
            };
            too_many(snap, items.len(), origin);
            for item in items.into_iter().take(MAX_OBJECTS_PER_FILE) {
                self.add(snap, item, origin, item_kind.as_deref());
            }
            return;
        }
        match kind {
            Some(k) => self.add_object(snap, value, &k, origin),
            None if value.is_null() => {}
            None => snap
                .skipped
                .push(Skipped::new(origin, "an object without \"kind\"")),
        }
    }

    fn add_object(&mut self, snap: &mut Snapshot, value: Value, kind: &str, origin: &str) {
        let meta = &value["metadata"];
        let ns = meta["namespace"].as_str().unwrap_or("").to_string();
        let name = meta["name"].as_str().unwrap_or("").to_string();
        let api_version = value["apiVersion"].as_str().unwrap_or("");
        // The same object often comes twice (an all-namespaces file and a per-namespace one); the
        // first one read wins so that findings are not doubled.
        if kind != INFO_KIND
            && !self
                .seen
                .insert((kind.to_string(), ns.clone(), name.clone()))
        {
            return;
        }
        self.objects += 1;
        let what = || {
            if ns.is_empty() {
                format!("{origin}: {kind} {name}")
            } else {
                format!("{origin}: {kind} {ns}/{name}")
            }
        };
        match kind {
            "Secret" => {
                // Helm release storage is decoded; of any other Secret, only that it exists and its
                // key names are kept, never a value.
                if helm::secrets::is_release(&value) {
                    match helm::secrets::from_object(&value) {
                        Some(r) => snap.helm_records.push(r),
                        None => snap.skipped.push(Skipped::new(
                            what(),
                            "helm release Secret with unusable metadata",
                        )),
                    }
                } else if let Some(s) = SecretMeta::from_value(&value) {
                    snap.secrets.push(s);
                }
            }
            "ConfigMap" if helm::configmaps::is_release(&value) => {
                match helm::configmaps::from_object(&value) {
                    Some(r) => snap.helm_records.push(r),
                    None => snap.skipped.push(Skipped::new(
                        what(),
                        "helm release ConfigMap with unusable metadata",
                    )),
                }
            }
            INFO_KIND if api_version == INFO_API_VERSION => {
                let time = |k: &str| value[k].as_str().and_then(|s| s.parse().ok());
                snap.collected_at = snap.collected_at.or(time("collectedAt"));
                snap.server_time = snap.server_time.or(time("serverTime"));
                if let (None, Some(context), Some(server)) = (
                    &snap.source,
                    value["context"].as_str(),
                    value["server"].as_str(),
                ) {
                    snap.source = Some(format!("context \"{context}\" ({server})"));
                }
                // What the live collection could not read stays part of the picture: "no
                // findings" from a snapshot whose secrets were forbidden is not "healthy".
                for s in value["skipped"].as_array().into_iter().flatten() {
                    if let (Some(what), Some(reason)) = (s["what"].as_str(), s["reason"].as_str()) {
                        snap.skipped.push(Skipped::new(what, reason));
                    }
                }
                // The log reads the live collection could not make: a kubelet out of reach is
                // evidence the rules read from these.
                for f in value["logFailures"].as_array().into_iter().flatten() {
                    match serde_json::from_value::<LogFailure>(f.clone()) {
                        Ok(f) => snap.log_failures.push(f),
                        Err(e) => snap.skipped.push(Skipped::new(
                            what(),
                            format!(
                                "logFailures entry does not parse: {}",
                                without_values(&e.to_string())
                            ),
                        )),
                    }
                }
                crate::collect::live::logs::say_recorded_failures(snap);
            }
            _ => {
                let api_version = api_version.to_string();
                if !self.add_typed(snap, Source::Value(value), kind, &api_version, what) {
                    self.objects -= 1;
                    self.ignored += 1;
                }
            }
        }
    }

    /// The items of one page of a live list of `kind`. A page of thousands (a big cluster's pods,
    /// read whole from the watch cache) is parsed in two halves side by side, in order: its typed
    /// parsing is the longest step between its arrival and the requests that wait for it.
    pub fn add_page(&mut self, snap: &mut Snapshot, kind: &str, items: &[&RawValue], origin: &str) {
        too_many(snap, items.len(), origin);
        let items = &items[..items.len().min(MAX_OBJECTS_PER_FILE)];
        // Asked only of a big page: it reads the cgroup's CPU limit from files.
        let one_core = || std::thread::available_parallelism().map_or(1, |n| n.get()) < 2;
        if items.len() < PARALLEL_PAGE || one_core() {
            for item in items {
                self.add_raw(snap, kind, item, origin);
            }
            return;
        }
        let (first, second) = items.split_at(items.len() / 2);
        let mut rest = Snapshot::default();
        let mut other = Ingest::new(self.pod_spec);
        std::thread::scope(|scope| {
            let helper = scope.spawn(|| {
                for item in second {
                    other.add_raw(&mut rest, kind, item, origin);
                }
            });
            for item in first {
                self.add_raw(snap, kind, item, origin);
            }
            // A panic in the helper is one here too: the same as parsing on this thread.
            if let Err(panic) = helper.join() {
                std::panic::resume_unwind(panic);
            }
        });
        self.objects += other.objects;
        self.ignored += other.ignored;
        snap.absorb(rest);
    }

    /// One item of a live list of `kind`, parsed straight from its JSON text. The API gives each
    /// object once, so there is nothing to deduplicate.
    pub fn add_raw(&mut self, snap: &mut Snapshot, kind: &str, item: &RawValue, origin: &str) {
        self.objects += 1;
        let what = || {
            let named: Result<MetaOnly, _> = serde_json::from_str(item.get());
            let meta = named.map(|n| n.metadata).unwrap_or_default();
            match (meta.namespace, meta.name) {
                (Some(ns), Some(name)) => format!("{origin}: {kind} {ns}/{name}"),
                (None, Some(name)) => format!("{origin}: {kind} {name}"),
                _ => format!("{origin}: {kind}"),
            }
        };
        if !self.add_typed(snap, Source::Raw(item), kind, "", what) {
            self.objects -= 1;
            self.ignored += 1;
        }
    }

    /// The kinds rules read as typed objects; `false` for any other kind.
    fn add_typed(
        &self,
        snap: &mut Snapshot,
        src: Source,
        kind: &str,
        api_version: &str,
        what: impl FnOnce() -> String,
    ) -> bool {
        let s = &mut snap.skipped;
        let pod_spec = self.pod_spec;
        match kind {
            "ConfigMap" => typed(src, &mut snap.config_maps, s, what, |_| {}),
            "Pod" => typed(src, &mut snap.pods, s, what, |p| {
                if let Some(read) = &pod_spec {
                    prune::slim_pod(p, read)
                }
            }),
            "Node" => typed(src, &mut snap.nodes, s, what, |_| {}),
            "Service" => typed(src, &mut snap.services, s, what, |_| {}),
            "Namespace" => typed(src, &mut snap.namespaces, s, what, |_| {}),
            "Deployment" => typed(src, &mut snap.deployments, s, what, |_| {}),
            "DaemonSet" => typed(src, &mut snap.daemon_sets, s, what, |_| {}),
            "StatefulSet" => typed(src, &mut snap.stateful_sets, s, what, |_| {}),
            "Job" => typed(src, &mut snap.jobs, s, what, |_| {}),
            // events.k8s.io/v1 Events have another shape; kubectl get events writes core v1.
            "Event" if api_version.is_empty() || api_version == "v1" => {
                let before = snap.events.len();
                typed(src, &mut snap.events, s, what, |_| {});
                // Only the events a live collection lists (`snapshot::event`).
                if snap.events.len() > before
                    && snap.events.last().is_some_and(|e| !event::is_kept(e))
                {
                    snap.events.pop();
                }
            }
            "Lease"
                if api_version.is_empty() || api_version.starts_with("coordination.k8s.io/") =>
            {
                typed(src, &mut snap.leases, s, what, |_| {})
            }
            "CustomResourceDefinition" => typed(src, &mut snap.crds, s, what, |_| {}),
            "PersistentVolumeClaim" => typed(src, &mut snap.pvcs, s, what, |_| {}),
            "PersistentVolume" => typed(src, &mut snap.persistent_volumes, s, what, |_| {}),
            // extensions/v1beta1 and networking.k8s.io/v1beta1 Ingresses have another shape; every
            // cluster BlueKing 7.x supports (1.20+) serves v1.
            "Ingress" if api_version.is_empty() || api_version == "networking.k8s.io/v1" => {
                typed(src, &mut snap.ingresses, s, what, |_| {})
            }
            "StorageClass" => typed(src, &mut snap.storage_classes, s, what, |_| {}),
            "IngressClass" => typed(src, &mut snap.ingress_classes, s, what, |_| {}),
            // discovery.k8s.io/v1beta1 slices have another shape (`topology`); v1 is served from
            // Kubernetes 1.21.
            "EndpointSlice" if api_version.is_empty() || api_version == "discovery.k8s.io/v1" => {
                typed(
                    src,
                    &mut snap.endpoint_slices,
                    s,
                    what,
                    prune::endpoint_slice,
                )
            }
            "ValidatingWebhookConfiguration" => {
                typed(src, &mut snap.validating_webhooks, s, what, |w| {
                    prune::webhooks(w.webhooks.as_mut(), |h| &mut h.client_config)
                })
            }
            "MutatingWebhookConfiguration" => {
                typed(src, &mut snap.mutating_webhooks, s, what, |w| {
                    prune::webhooks(w.webhooks.as_mut(), |h| &mut h.client_config)
                })
            }
            "ReplicaSet" => typed(src, &mut snap.replica_sets, s, what, prune::replica_set),
            "CronJob" => typed(src, &mut snap.cron_jobs, s, what, prune::cron_job),
            // A live list item (metadata-only); a file's Secret is read in `add_object`.
            "Secret" => match src
                .parse::<Value>()
                .ok()
                .and_then(|v| SecretMeta::from_value(&v))
            {
                Some(meta) => snap.secrets.push(meta),
                None => s.push(Skipped::new(what(), "a Secret without a name")),
            },
            // Listed metadata-only live; of a whole object in a file, the same part is kept.
            "ClusterRoleBinding" => meta_only(src, &mut snap.cluster_role_bindings, s, what),
            "ServiceAccount" => meta_only(src, &mut snap.service_accounts, s, what),
            _ => return false,
        }
        true
    }
}

/// A list (a file, or one page from a server that ignores `limit`) longer than any real cluster's
/// is read up to the limit, and says so.
fn too_many(snap: &mut Snapshot, n: usize, origin: &str) {
    if n > MAX_OBJECTS_PER_FILE {
        snap.skipped.push(Skipped::new(
            origin,
            format!("holds {n} objects; only the first {MAX_OBJECTS_PER_FILE} were read"),
        ));
    }
}

/// An item of a metadata-only list, or the part of any object that says which one it is.
#[derive(serde::Deserialize)]
pub struct MetaOnly {
    #[serde(default)]
    pub metadata: ObjectMeta,
}

/// Where an object's JSON is: a parsed value (files) or the text of a list item (live).
enum Source<'a> {
    Value(Value),
    Raw(&'a RawValue),
}

impl Source<'_> {
    fn parse<T: DeserializeOwned>(self) -> serde_json::Result<T> {
        match self {
            Source::Value(v) => serde_json::from_value(v),
            Source::Raw(r) => serde_json::from_str(r.get()),
        }
    }
}

/// The metadata of an object (a `PartialObjectMetadata` list item, or a whole object), without
/// `managedFields`.
fn meta_only(
    src: Source,
    into: &mut Vec<ObjectMeta>,
    skipped: &mut Vec<Skipped>,
    what: impl FnOnce() -> String,
) {
    match src.parse::<MetaOnly>() {
        Ok(MetaOnly { mut metadata }) => {
            metadata.managed_fields = None;
            into.push(metadata);
        }
        Err(e) => skipped.push(Skipped::new(
            what(),
            format!("does not parse: {}", without_values(&e.to_string())),
        )),
    }
}

fn typed<T: DeserializeOwned + Metadata<Ty = ObjectMeta>>(
    src: Source,
    into: &mut Vec<T>,
    skipped: &mut Vec<Skipped>,
    what: impl FnOnce() -> String,
    then: impl FnOnce(&mut T),
) {
    match src.parse::<T>() {
        Ok(mut v) => {
            // The API server's field ownership records: bulk that no rule reads and kubectl hides.
            v.metadata_mut().managed_fields = None;
            then(&mut v);
            into.push(v);
        }
        Err(e) => skipped.push(Skipped::new(
            what(),
            format!("does not parse: {}", without_values(&e.to_string())),
        )),
    }
}

/// serde quotes a string it did not expect (`invalid type: string "s3cr3t", expected a sequence`);
/// in a Pod that string can be an environment variable's value. Field names, which serde puts in
/// backticks, are what helps; the quoted values are left out.
fn without_values(message: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) => {
                quoted = true;
                out.push_str("\"…");
            }
            // serde writes the value with Rust's escapes: `\"` inside does not end it.
            ('\\', true) => {
                chars.next();
            }
            ('"', true) => {
                quoted = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::prune::tests::{READ, pod};
    use super::*;
    use crate::snapshot::pod;

    #[test]
    fn a_big_page_parsed_in_halves_is_the_page_parsed_in_order() {
        // 1,501 items, one of them broken in the second half: the pods in the list's order, the
        // broken one a skipped entry, every item counted as in one pass.
        let texts: Vec<String> = (0..1501)
            .map(|i| {
                if i == 1200 {
                    r#"{"metadata": {"name": "broken", "namespace": "blueking"}, "spec": 7}"#
                        .to_string()
                } else {
                    let mut p = pod();
                    p["metadata"]["name"] = format!("bk-paas-{i}").into();
                    p.to_string()
                }
            })
            .collect();
        let raws: Vec<Box<RawValue>> = texts
            .iter()
            .map(|t| RawValue::from_string(t.clone()).unwrap())
            .collect();
        let items: Vec<&RawValue> = raws.iter().map(|r| r.as_ref()).collect();
        let mut snap = Snapshot::default();
        let mut ingest = Ingest::new(Some(READ));
        ingest.add_page(&mut snap, "Pod", &items, "pods");
        let names: Vec<&str> = snap.pods.iter().map(pod::name).collect();
        let expected: Vec<String> = (0..1501)
            .filter(|i| *i != 1200)
            .map(|i| format!("bk-paas-{i}"))
            .collect();
        assert_eq!(names, expected);
        assert_eq!((ingest.objects, ingest.ignored), (1501, 0));
        assert_eq!(snap.skipped.len(), 1, "{:?}", snap.skipped);
        assert!(
            snap.skipped[0].what.contains("blueking/broken"),
            "{:?}",
            snap.skipped
        );
    }

    #[test]
    fn only_warnings_and_claim_events_are_kept() {
        let ev = |name: &str, type_: &str, kind: &str| {
            serde_json::json!({"apiVersion": "v1", "kind": "Event", "type": type_, "reason": "R",
                "metadata": {"name": name, "namespace": "blueking"},
                "involvedObject": {"kind": kind, "name": "x", "namespace": "blueking"}})
        };
        let mut snap = Snapshot::default();
        let mut ingest = Ingest::default();
        for v in [
            ev("pulled", "Normal", "Pod"),
            ev("failed", "Warning", "Pod"),
            ev("binding", "Normal", "PersistentVolumeClaim"),
        ] {
            ingest.add(&mut snap, v, "events.yaml", None);
        }
        let names: Vec<_> = snap
            .events
            .iter()
            .map(|e| e.metadata.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["failed", "binding"]);
        assert!(snap.skipped.is_empty());
    }

    #[test]
    fn a_live_item_that_does_not_parse_is_skipped_by_name() {
        let mut snap = Snapshot::default();
        let raw = RawValue::from_string(
            r#"{"metadata": {"name": "p0", "namespace": "x"}, "spec": {"containers": "PASSWORD=do-not-print"}}"#
                .to_string(),
        )
        .unwrap();
        Ingest::new(Some(READ)).add_raw(&mut snap, "Pod", &raw, "pods");
        assert!(snap.pods.is_empty());
        assert_eq!(snap.skipped.len(), 1);
        assert_eq!(snap.skipped[0].what, "pods: Pod x/p0");
        assert!(snap.skipped[0].reason.starts_with("does not parse"));
        assert!(!snap.skipped[0].reason.contains("do-not-print"));
    }

    #[test]
    fn a_parse_error_names_the_field_not_the_value() {
        for env in [
            "PASSWORD=s3cr3t-do-not-print",
            "PASSWORD=\"x do-not-print\"",
        ] {
            let pod = serde_json::json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "x"},
                "spec": {"containers": [{"name": "c", "env": env}]}});
            let mut snap = Snapshot::default();
            Ingest::default().add(&mut snap, pod, "pods.json", None);
            assert_eq!(snap.skipped.len(), 1);
            let reason = &snap.skipped[0].reason;
            assert!(!reason.contains("do-not-print"), "{reason}");
            assert!(
                reason.starts_with("does not parse: invalid type: string \"…\", expected"),
                "{reason}"
            );
        }
    }
}
