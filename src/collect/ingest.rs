//! Turns Kubernetes objects, as JSON values, into the typed snapshot. Shared by every collector.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::findings::Skipped;
use crate::helm;
use crate::snapshot::Snapshot;

/// The tool's own marker object in a snapshot directory it wrote: when and from where.
pub const INFO_KIND: &str = "SnapshotInfo";
pub const INFO_API_VERSION: &str = "bkdoctor/v1";

/// Objects of one file beyond this are not read: a list that long is not a real cluster dump.
pub const MAX_OBJECTS_PER_FILE: usize = 500_000;

#[derive(Default)]
pub struct Ingest {
    seen: HashSet<(String, String, String)>,
    pub objects: usize,
    pub ignored: usize,
    /// Keep of a pod's spec only what rules read: its node, host networking, and its containers'
    /// names and images. A typed `PodSpec` with its volumes, probes and environment is most of a
    /// live `check`'s memory on a cluster of thousands of pods (BENCHMARKS.md); the rules read
    /// the status. A live `snapshot` keeps pods whole for the support engineer.
    pub slim_pods: bool,
}

impl Ingest {
    pub fn new(slim_pods: bool) -> Self {
        Ingest {
            slim_pods,
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
            if items.len() > MAX_OBJECTS_PER_FILE {
                snap.skipped.push(Skipped::new(
                    origin,
                    format!(
                        "holds {} objects; only the first {MAX_OBJECTS_PER_FILE} were read",
                        items.len()
                    ),
                ));
            }
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

    fn add_object(&mut self, snap: &mut Snapshot, mut value: Value, kind: &str, origin: &str) {
        // The API server's field ownership records: bulk that no rule reads and kubectl hides.
        if let Some(m) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        if self.slim_pods && kind == "Pod" {
            slim_pod(&mut value);
        }
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
                // Only helm release storage is kept; any other Secret is dropped unread.
                if helm::secrets::is_release(&value) {
                    match helm::secrets::from_object(&value) {
                        Some(r) => snap.helm_records.push(r),
                        None => snap.skipped.push(Skipped::new(
                            what(),
                            "helm release Secret with unusable metadata",
                        )),
                    }
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
            "ConfigMap" => typed(value, &mut snap.config_maps, &mut snap.skipped, what),
            "Pod" => typed(value, &mut snap.pods, &mut snap.skipped, what),
            "Node" => typed(value, &mut snap.nodes, &mut snap.skipped, what),
            "Service" => typed(value, &mut snap.services, &mut snap.skipped, what),
            "Namespace" => typed(value, &mut snap.namespaces, &mut snap.skipped, what),
            "Deployment" => typed(value, &mut snap.deployments, &mut snap.skipped, what),
            "DaemonSet" => typed(value, &mut snap.daemon_sets, &mut snap.skipped, what),
            "StatefulSet" => typed(value, &mut snap.stateful_sets, &mut snap.skipped, what),
            "Job" => typed(value, &mut snap.jobs, &mut snap.skipped, what),
            // events.k8s.io/v1 Events have another shape; kubectl get events writes core v1.
            "Event" if api_version.is_empty() || api_version == "v1" => {
                typed(value, &mut snap.events, &mut snap.skipped, what)
            }
            "Lease"
                if api_version.is_empty() || api_version.starts_with("coordination.k8s.io/") =>
            {
                typed(value, &mut snap.leases, &mut snap.skipped, what)
            }
            "CustomResourceDefinition" => typed(value, &mut snap.crds, &mut snap.skipped, what),
            "PersistentVolumeClaim" => typed(value, &mut snap.pvcs, &mut snap.skipped, what),
            INFO_KIND if api_version == INFO_API_VERSION => {
                let time = |k: &str| value[k].as_str().and_then(|s| s.parse().ok());
                snap.collected_at = snap.collected_at.or(time("collectedAt"));
                snap.server_time = snap.server_time.or(time("serverTime"));
                // What the live collection could not read stays part of the picture: "no
                // findings" from a snapshot whose secrets were forbidden is not "healthy".
                for s in value["skipped"].as_array().into_iter().flatten() {
                    if let (Some(what), Some(reason)) = (s["what"].as_str(), s["reason"].as_str()) {
                        snap.skipped.push(Skipped::new(what, reason));
                    }
                }
            }
            _ => {
                self.objects -= 1;
                self.ignored += 1;
            }
        }
    }
}

/// What rules read of a pod's spec (`Ingest::slim_pods`); the rest of the pod stays as it is.
fn slim_pod(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let containers = |v: Option<Value>| -> Value {
        let slim = v
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let mut out = serde_json::Map::new();
                for k in ["name", "image"] {
                    if let Some(v) = c.get(k) {
                        out.insert(k.to_string(), v.clone());
                    }
                }
                Value::Object(out)
            })
            .collect();
        Value::Array(slim)
    };
    let mut slim = serde_json::Map::new();
    for k in ["nodeName", "hostNetwork"] {
        if let Some(v) = spec.remove(k) {
            slim.insert(k.to_string(), v);
        }
    }
    slim.insert("containers".into(), containers(spec.remove("containers")));
    if let Some(init) = spec.remove("initContainers") {
        slim.insert("initContainers".into(), containers(Some(init)));
    }
    *spec = slim;
}

fn typed<T: DeserializeOwned>(
    value: Value,
    into: &mut Vec<T>,
    skipped: &mut Vec<Skipped>,
    what: impl Fn() -> String,
) {
    match serde_json::from_value(value) {
        Ok(v) => into.push(v),
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
    use super::*;

    fn pod() -> Value {
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "bk-paas-0", "namespace": "blueking", "labels": {"app": "paas"},
                         "managedFields": [{"manager": "kubelet", "operation": "Update"}]},
            "spec": {"nodeName": "node-1", "hostNetwork": true, "serviceAccountName": "paas",
                     "volumes": [{"name": "conf", "configMap": {"name": "paas"}}],
                     "initContainers": [{"name": "wait", "image": "busybox:1.36", "command": ["sh"]}],
                     "containers": [{"name": "app", "image": "bk-paas:1.4.2",
                                     "env": [{"name": "DB_PASSWORD", "value": "x"}],
                                     "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}}}]},
            "status": {"phase": "Running", "podIP": "10.244.1.5",
                       "containerStatuses": [{"name": "app", "ready": true, "restartCount": 2,
                                              "image": "bk-paas:1.4.2", "imageID": ""}]}})
    }

    fn ingest(slim: bool) -> Value {
        let mut snap = Snapshot::default();
        Ingest::new(slim).add(&mut snap, pod(), "pods", None);
        assert_eq!(snap.pods.len(), 1);
        serde_json::to_value(&snap.pods[0]).unwrap()
    }

    #[test]
    fn slim_pods_keep_what_rules_read() {
        let slim = ingest(true);
        assert_eq!(
            slim["spec"],
            serde_json::json!({"nodeName": "node-1", "hostNetwork": true,
                "initContainers": [{"name": "wait", "image": "busybox:1.36"}],
                "containers": [{"name": "app", "image": "bk-paas:1.4.2"}]})
        );
        assert_eq!(slim["status"], pod()["status"]);
        assert_eq!(slim["metadata"]["labels"], pod()["metadata"]["labels"]);
        assert!(slim["metadata"].get("managedFields").is_none());

        let whole = ingest(false);
        let mut expected = pod();
        expected["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        assert_eq!(whole, expected);
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
