//! `metadata.managedFields` as kube-apiserver writes them on every object it stores: one entry per
//! field manager (the client that wrote the fields: kubectl, helm, the controllers, the kubelet),
//! each with its operation and the set of fields it owns in the `FieldsV1` form. They are about
//! half the bytes of a real pods list (`recorded/secrets-metadata-page1.json` shows the form), and
//! a fake without them measures a client against answers a third lighter than a real server's.
//!
//! Objects that carry their own `managedFields` keep them; this only fills in those that do not.
//! It changes no other field of an object.

use serde_json::{Map, Value, json};

/// Metadata fields the server sets itself, which no manager owns.
const SERVER_SET: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "managedFields",
    "selfLink",
];

/// Fields whose value is a map merged key by key (`"."` marks the map itself), not a struct.
const GRANULAR_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "stringData",
    "binaryData",
    "matchLabels",
    "nodeSelector",
    "limits",
    "requests",
    "capacity",
    "allocatable",
    "parameters",
];

/// The key a list's items are merged by, as the OpenAPI schema's `x-kubernetes-list-map-keys`
/// give it for the lists objects commonly hold.
fn list_key(field: &str, item: &Map<String, Value>) -> Option<String> {
    let by = match field {
        "conditions" => "type",
        "addresses" if item.contains_key("type") => "type",
        "volumeMounts" => "mountPath",
        "ports" if item.contains_key("containerPort") => "containerPort",
        "ports" if item.contains_key("port") => "port",
        "ownerReferences" => "uid",
        "podIPs" | "hostIPs" => "ip",
        _ if item.contains_key("name") => "name",
        _ => return None,
    };
    let mut k = Map::new();
    if field == "ports" && by == "port" {
        k.insert("port".into(), item.get("port")?.clone());
        k.insert(
            "protocol".into(),
            item.get("protocol").cloned().unwrap_or("TCP".into()),
        );
    } else if field == "ports" {
        k.insert("containerPort".into(), item.get(by)?.clone());
        k.insert(
            "protocol".into(),
            item.get("protocol").cloned().unwrap_or("TCP".into()),
        );
    } else {
        k.insert(by.into(), item.get(by)?.clone());
    }
    Some(format!("k:{}", Value::Object(k)))
}

/// The `FieldsV1` set of an object's fields.
fn fields_of(field: &str, v: &Value) -> Value {
    let mut out = Map::new();
    match v {
        Value::Object(m) => {
            if GRANULAR_MAPS.contains(&field) {
                out.insert(".".into(), json!({}));
            }
            for (k, child) in m {
                out.insert(format!("f:{k}"), fields_of(k, child));
            }
        }
        Value::Array(items) => {
            for item in items {
                match item
                    .as_object()
                    .and_then(|o| Some((o, list_key(field, o)?)))
                {
                    Some((_, key)) => {
                        let mut entry = Map::new();
                        entry.insert(".".into(), json!({}));
                        if let Value::Object(fields) = fields_of("", item) {
                            entry.extend(fields);
                        }
                        out.insert(key, Value::Object(entry));
                    }
                    // An atomic list (args, command) is owned whole; a set of scalars
                    // (finalizers) item by item.
                    None if item.is_string() && field == "finalizers" => {
                        out.insert(format!("v:{item}"), json!({}));
                    }
                    None => {}
                }
            }
        }
        _ => {}
    }
    Value::Object(out)
}

/// The metadata a manager writes (labels, annotations, owners), without what the server sets.
fn metadata_fields(metadata: &Value) -> Option<(String, Value)> {
    let m = metadata.as_object()?;
    let mut owned = Map::new();
    for (k, v) in m {
        if !SERVER_SET.contains(&k.as_str()) {
            owned.insert(k.clone(), v.clone());
        }
    }
    (!owned.is_empty()).then(|| {
        (
            "f:metadata".to_string(),
            fields_of("", &Value::Object(owned)),
        )
    })
}

fn entry(
    manager: &str,
    subresource: Option<&str>,
    time: &str,
    fields: Map<String, Value>,
) -> Value {
    let mut e = Map::new();
    e.insert("manager".into(), manager.into());
    e.insert("operation".into(), "Update".into());
    e.insert("apiVersion".into(), Value::Null);
    // An object loaded without a creation time (a hand-written test object) has no write time.
    if !time.is_empty() {
        e.insert("time".into(), time.into());
    }
    e.insert("fieldsType".into(), "FieldsV1".into());
    e.insert("fieldsV1".into(), Value::Object(fields));
    if let Some(s) = subresource {
        e.insert("subresource".into(), s.into());
    }
    Value::Object(e)
}

/// The managers of an object of `kind`, as a cluster's own clients write them: helm its release
/// records, kubectl or helm what a person applied, the controllers the pods they make and the
/// status of what they run, the kubelet its node, its leases, pod statuses and events.
pub fn managed_fields(kind: &str, api_version: &str, object: &Value) -> Vec<Value> {
    let meta = &object["metadata"];
    let created = meta["creationTimestamp"].as_str().unwrap_or("");
    let labels = &meta["labels"];
    let helm_record = labels["owner"] == "helm" && matches!(kind, "Secret" | "ConfigMap");
    // A release record's labels change with its status: its last write is `modifiedAt`.
    let modified = labels["modifiedAt"]
        .as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string());
    let time = modified.as_deref().unwrap_or(created);
    let body = object.as_object();
    let mut main = Map::new();
    let mut status = Map::new();
    if let Some((k, v)) = metadata_fields(meta) {
        main.insert(k, v);
    }
    for (k, v) in body.into_iter().flatten() {
        match k.as_str() {
            "kind" | "apiVersion" | "metadata" => {}
            "status" => {
                status.insert("f:status".into(), fields_of("status", v));
            }
            _ => {
                main.insert(format!("f:{k}"), fields_of(k, v));
            }
        }
    }
    let controlled = meta["ownerReferences"].is_array();
    let (manager, status_manager) = match kind {
        _ if helm_record => ("Helm", None),
        "Pod" if controlled => ("kube-controller-manager", Some("kubelet")),
        "Pod" => ("kubectl-create", Some("kubelet")),
        "Node" => ("kubelet", Some("kubelet")),
        "Lease" | "Event" => ("kubelet", None),
        "Namespace" => ("kubectl-create", Some("kube-controller-manager")),
        "ReplicaSet" | "Job" if controlled => {
            ("kube-controller-manager", Some("kube-controller-manager"))
        }
        _ if labels["app.kubernetes.io/managed-by"] == "Helm" => {
            ("helm", Some("kube-controller-manager"))
        }
        _ => ("kubectl-client-side-apply", Some("kube-controller-manager")),
    };
    let mut out = Vec::new();
    let mut first = entry(manager, None, time, main);
    first["apiVersion"] = api_version.into();
    out.push(first);
    if let (Some(m), false) = (status_manager, status.is_empty()) {
        let mut e = entry(m, Some("status"), time, status);
        e["apiVersion"] = api_version.into();
        out.push(e);
    }
    out
}

/// Adds `managedFields` to an object stored without them.
pub fn fill_in(kind: &str, api_version: &str, object: &mut Value) {
    if object["metadata"].get("managedFields").is_some() || !object["metadata"].is_object() {
        return;
    }
    let fields = managed_fields(kind, api_version, object);
    object["metadata"]["managedFields"] = Value::Array(fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recorded release record's entry, but for its time (the fake cannot know when helm last
    /// wrote, only the `modifiedAt` it labelled, a second rounded).
    #[test]
    fn a_helm_record_is_managed_as_recorded() {
        let recorded: Value =
            serde_json::from_str(include_str!("../recorded/secrets-metadata-page1.json")).unwrap();
        let item = &recorded["items"][0];
        let mut secret = json!({"kind": "Secret", "apiVersion": "v1", "metadata": item["metadata"].clone(),
            "data": {"release": "H4sI"}, "type": "helm.sh/release.v1"});
        secret["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        let mut ours = managed_fields("Secret", "v1", &secret);
        let mut theirs = item["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .clone();
        for e in ours.iter_mut().chain(theirs.iter_mut()) {
            e.as_object_mut().unwrap().remove("time");
        }
        assert_eq!(ours, theirs);
    }

    #[test]
    fn pods_are_owned_by_their_controller_and_their_status_by_the_kubelet() {
        let pod = json!({"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "p", "namespace": "n", "creationTimestamp": "2026-11-20T09:00:00Z",
                "labels": {"app": "x"}, "ownerReferences": [{"kind": "ReplicaSet", "name": "r", "uid": "u1"}]},
            "spec": {"containers": [{"name": "app", "image": "i", "ports": [{"containerPort": 80}]}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let m = managed_fields("Pod", "v1", &pod);
        assert_eq!(m[0]["manager"], "kube-controller-manager");
        assert_eq!(m[1]["manager"], "kubelet");
        assert_eq!(m[1]["subresource"], "status");
        let spec = &m[0]["fieldsV1"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"];
        assert!(
            spec["f:ports"]
                .get("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
                .is_some(),
            "{spec:#}"
        );
        assert!(
            m[0]["fieldsV1"]["f:metadata"]["f:ownerReferences"]["k:{\"uid\":\"u1\"}"].is_object()
        );
        assert!(m[1]["fieldsV1"]["f:status"]["f:conditions"]["k:{\"type\":\"Ready\"}"].is_object());
    }
}
