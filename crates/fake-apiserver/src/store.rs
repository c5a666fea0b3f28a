//! The objects and logs the server holds, and loading them from a snapshot directory
//! (kubectl-bkdoctor's offline format: `kubectl get -o json|yaml` files, typed lists,
//! `logs/<ns>/<pod>/<container>[.previous].log`, `kubectl cluster-info dump` output).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use crate::resources::{self, ResourceType};

/// Deeper than this is a loop or a trap, as the doctor's own loader says.
const MAX_DEPTH: usize = 16;

#[derive(Clone, Debug, Default)]
pub struct ContainerLog {
    /// Bytes, not text: a container writes whatever it likes, and the kubelet passes it on as is.
    pub current: Option<Vec<u8>>,
    pub previous: Option<Vec<u8>>,
}

pub type LogKey = (String, String, String);

#[derive(Default)]
pub struct Store {
    pub types: Vec<ResourceType>,
    /// (group, resource) → `ns/name` (or `name` when cluster-scoped) → object: etcd's keys under
    /// /registry/<resource>/, whose byte order is the order lists come in and what `continue`
    /// tokens point into.
    pub objects: BTreeMap<(String, String), BTreeMap<String, Value>>,
    pub logs: HashMap<LogKey, ContainerLog>,
    pub resource_version: u64,
    /// The `serverTime` of a snapshot's `SnapshotInfo`, if a loaded directory had one.
    pub snapshot_server_time: Option<String>,
    /// Pods whose kubelet a snapshot recorded as out of reach (its `SnapshotInfo`'s
    /// `logFailures`): (namespace, pod, the dial error after `dial tcp IP:PORT: `).
    pub unreachable_kubelets: Vec<(String, String, String)>,
    /// Other log reads a snapshot recorded as answered with an error (a pod gone, a container's
    /// previous log rotated away, `pods/log` forbidden): served with that answer again.
    pub recorded_log_answers: Vec<RecordedLogAnswer>,
    /// Whether objects get the `managedFields` a real server writes (see [`crate::managed`]).
    pub managed_fields: bool,
    /// Files of a loaded directory that could not be read, with why.
    pub load_warnings: Vec<String>,
    /// Where changes go once the server runs, for watches. Loading sends nothing.
    pub changes: Option<tokio::sync::broadcast::Sender<Change>>,
    /// The changes a watch may resume from, as the watch cache keeps them.
    pub history: crate::watch::History,
}

/// A log read and the error a snapshot recorded for it.
#[derive(Clone, Debug)]
pub struct RecordedLogAnswer {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub previous: bool,
    pub code: u16,
    pub reason: String,
    pub message: String,
}

/// One watch event: an object added, modified or deleted while the server runs.
#[derive(Clone, Debug)]
pub struct Change {
    pub group: String,
    pub resource: String,
    /// `ADDED`, `MODIFIED` or `DELETED`, as in the watch stream.
    pub kind: &'static str,
    pub object: Value,
}

/// What follows `dial tcp HOST:PORT: ` in an API server's message about a kubelet it cannot reach,
/// e.g. `connect: no route to host`.
fn dial_error(message: &str) -> Option<&str> {
    let rest = &message[message.find("dial tcp ")? + "dial tcp ".len()..];
    Some(rest.split_once(": ")?.1.trim())
}

impl Store {
    pub fn new() -> Self {
        Store {
            types: resources::builtin(),
            resource_version: 1000,
            managed_fields: true,
            ..Default::default()
        }
    }

    /// Gives every stored object without `managedFields` those a real server would have written.
    pub fn fill_managed_fields(&mut self) {
        if !self.managed_fields {
            return;
        }
        let types = self.types.clone();
        for ((group, resource), bucket) in &mut self.objects {
            let Some(t) = types
                .iter()
                .find(|t| t.group == *group && t.resource == *resource)
            else {
                continue;
            };
            let api_version = t.api_version();
            for object in bucket.values_mut() {
                crate::managed::fill_in(&t.kind, &api_version, object);
            }
        }
    }

    /// The median renew time of the node leases: a snapshot directory is a cluster frozen at the
    /// moment it was taken, and its kubelets renewed their leases seconds before. Serving that as the
    /// `Date` keeps the fake's clock consistent with its objects.
    pub fn lease_time(&self) -> Option<String> {
        let leases = self
            .objects
            .get(&("coordination.k8s.io".to_string(), "leases".to_string()))?;
        let mut times: Vec<jiff::Timestamp> = leases
            .iter()
            .filter(|(key, _)| key.starts_with("kube-node-lease/"))
            .filter_map(|(_, l)| l["spec"]["renewTime"].as_str()?.parse().ok())
            .collect();
        times.sort();
        times.get(times.len() / 2).map(|t| t.to_string())
    }

    pub fn find_type(&self, group: &str, resource: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.resource == resource)
    }

    fn type_for(&mut self, api_version: &str, kind: &str, namespaced: bool) -> ResourceType {
        let (group, _) = resources::split_api_version(api_version);
        let found = self.types.iter().find(|t| {
            t.kind == kind && (t.group == group || (api_version.is_empty() && t.group.is_empty()))
        });
        let found = found.or_else(|| {
            // A kind-hinted item without apiVersion: take the first group that has that kind.
            api_version
                .is_empty()
                .then(|| self.types.iter().find(|t| t.kind == kind))
                .flatten()
        });
        if let Some(t) = found {
            return t.clone();
        }
        let t = ResourceType::guessed(api_version, kind, namespaced);
        self.types.push(t.clone());
        t
    }

    /// Adds an object, a `List` or a typed list (whose items carry no kind). The first of two
    /// objects with the same name wins when `replace` is false, as in the doctor's loader.
    pub fn add(&mut self, value: Value, kind_hint: Option<&str>, replace: bool) {
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
            if let Value::Object(mut map) = value
                && let Some(Value::Array(items)) = map.remove("items")
            {
                for item in items {
                    self.add(item, item_kind.as_deref(), replace);
                }
            }
            return;
        }
        let Some(kind) = kind else { return };
        let api_version = value["apiVersion"].as_str().unwrap_or("").to_string();
        if kind == "SnapshotInfo" {
            if let Some(t) = value["serverTime"].as_str() {
                self.snapshot_server_time.get_or_insert(t.to_string());
            }
            for f in value["logFailures"].as_array().into_iter().flatten() {
                let (Some(ns), Some(pod), Some(message)) = (
                    f["namespace"].as_str(),
                    f["pod"].as_str(),
                    f["message"].as_str(),
                ) else {
                    continue;
                };
                if let Some(error) = dial_error(message) {
                    let entry = (ns.to_string(), pod.to_string(), error.to_string());
                    if !self.unreachable_kubelets.contains(&entry) {
                        self.unreachable_kubelets.push(entry);
                    }
                } else if let (Some(container), Some(code)) =
                    (f["container"].as_str(), f["code"].as_u64())
                {
                    self.recorded_log_answers.push(RecordedLogAnswer {
                        namespace: ns.to_string(),
                        pod: pod.to_string(),
                        container: container.to_string(),
                        previous: f["previous"] == true,
                        code: code as u16,
                        reason: f["reason"].as_str().unwrap_or("").to_string(),
                        message: message.to_string(),
                    });
                }
            }
            return;
        }
        let namespace = value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = value["metadata"]["name"].as_str().unwrap_or("").to_string();
        let t = self.type_for(&api_version, &kind, !namespace.is_empty());
        let mut value = value;
        // As the API server does when the namespace comes only from the request.
        let namespace = if t.namespaced && namespace.is_empty() {
            value["metadata"]["namespace"] = Value::String("default".into());
            "default".to_string()
        } else {
            namespace
        };
        // Stored as the API returns single objects: with kind and apiVersion.
        value["kind"] = Value::String(t.kind.clone());
        value["apiVersion"] = Value::String(t.api_version());
        // As every object a real server stores: who wrote which fields. Objects loaded before the
        // start get theirs at the start ([`Store::fill_managed_fields`]), unless asked not to.
        if self.changes.is_some() && self.managed_fields {
            crate::managed::fill_in(&t.kind, &t.api_version(), &mut value);
        }
        // The store's revision stays ahead of every object's, as etcd's does; once the server
        // runs, every write is a new revision.
        let given = value["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|_| self.changes.is_none());
        if let Some(rv) = given {
            self.resource_version = self.resource_version.max(rv);
        } else {
            self.resource_version += 1;
            value["metadata"]["resourceVersion"] = Value::String(self.resource_version.to_string());
        }
        let key = key(t.namespaced.then_some(namespace.as_str()), &name);
        if t.group.is_empty() && t.kind == "Event" {
            // The API server serves every Event through both APIs; events.k8s.io/v1 renames fields.
            self.add(events_v1(&value), None, replace);
        }
        let bucket = self
            .objects
            .entry((t.group.clone(), t.resource.clone()))
            .or_default();
        let existed = bucket.contains_key(&key);
        if replace || !existed {
            let change = self.changes.is_some().then(|| Change {
                group: t.group.clone(),
                resource: t.resource.clone(),
                kind: if existed { "MODIFIED" } else { "ADDED" },
                object: value.clone(),
            });
            bucket.insert(key, value);
            if let Some(change) = change {
                self.publish(change);
            }
        }
    }

    /// A Namespace object for every namespace that holds objects, and for those every cluster has,
    /// unless given: a real cluster cannot hold objects in a namespace that does not exist, and
    /// kubectl asks for the namespace when a get finds nothing.
    pub fn add_implicit_namespaces(&mut self) {
        let mut oldest: BTreeMap<String, Option<String>> =
            ["default", "kube-system", "kube-public", "kube-node-lease"]
                .into_iter()
                .map(|n| (n.to_string(), None))
                .collect();
        for bucket in self.objects.values() {
            for (key, obj) in bucket {
                let Some((ns, _)) = key.split_once('/') else {
                    continue;
                };
                let created = obj["metadata"]["creationTimestamp"].as_str();
                let entry = oldest.entry(ns.to_string()).or_default();
                if let Some(c) = created
                    && entry.as_deref().is_none_or(|e| c < e)
                {
                    *entry = Some(c.to_string());
                }
            }
        }
        for (name, created) in oldest {
            let mut metadata = serde_json::json!({
                "name": name,
                "labels": {"kubernetes.io/metadata.name": name},
                // Older than anything in them, and leaves the lists' revision as it was.
                "resourceVersion": "1",
            });
            if let Some(c) = created {
                metadata["creationTimestamp"] = Value::String(c);
            }
            self.add(
                serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": metadata,
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }),
                None,
                false,
            );
        }
    }

    /// Removes an object as a running server deletes one: watchers see it go.
    pub fn remove(&mut self, group: &str, resource: &str, key: &str) -> Option<Value> {
        let object = self
            .objects
            .get_mut(&(group.to_string(), resource.to_string()))?
            .remove(key)?;
        self.resource_version += 1;
        if self.changes.is_some() {
            let mut gone = object.clone();
            gone["metadata"]["resourceVersion"] = Value::String(self.resource_version.to_string());
            self.publish(Change {
                group: group.to_string(),
                resource: resource.to_string(),
                kind: "DELETED",
                object: gone,
            });
        }
        Some(object)
    }

    /// Keeps a change for watches that resume later, then hands it to the running ones.
    fn publish(&mut self, change: Change) {
        let before = self.resource_version - 1;
        self.history.keep(before, self.resource_version, &change);
        if let Some(tx) = &self.changes {
            let _ = tx.send(change);
        }
    }

    pub fn set_log(&mut self, key: LogKey, previous: bool, text: Vec<u8>) {
        let entry = self.logs.entry(key).or_default();
        if previous {
            entry.previous = Some(text);
        } else {
            entry.current = Some(text);
        }
    }

    pub fn load_dir(&mut self, root: &Path) -> std::io::Result<()> {
        if !std::fs::metadata(root)?.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        self.walk(root, 0);
        Ok(())
    }

    fn walk(&mut self, dir: &Path, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            self.load_warnings
                .push(format!("{}: cannot read directory", dir.display()));
            return;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                self.walk(&path, depth + 1);
                continue;
            }
            let lower = name.to_ascii_lowercase();
            if lower.ends_with(".json") || lower.ends_with(".yaml") || lower.ends_with(".yml") {
                if let Err(e) = self.load_object_file(&path) {
                    self.load_warnings.push(format!("{}: {e}", path.display()));
                }
            } else if name == "logs.txt" {
                match std::fs::read(&path) {
                    Ok(bytes) => self.add_dump_logs(&String::from_utf8_lossy(&bytes)),
                    Err(e) => self.load_warnings.push(format!("{}: {e}", path.display())),
                }
            } else if let Some((key, previous)) = log_file(&path) {
                match std::fs::read(&path) {
                    Ok(bytes) => self.set_log(key, previous, bytes),
                    Err(e) => self.load_warnings.push(format!("{}: {e}", path.display())),
                }
            }
        }
    }

    fn load_object_file(&mut self, path: &Path) -> Result<(), String> {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let hint = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(resources::kind_from_file_stem);
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let values: Vec<Value> = if is_json {
            serde_json::Deserializer::from_slice(&bytes)
                .into_iter::<Value>()
                .collect::<Result<_, _>>()
                .map_err(|e| format!("not valid JSON: {e}"))?
        } else {
            use serde::Deserialize;
            let text = std::str::from_utf8(&bytes).map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for doc in serde_yaml_ng::Deserializer::from_str(text) {
                let v = Value::deserialize(doc).map_err(|e| format!("not valid YAML: {e}"))?;
                if !v.is_null() {
                    out.push(v);
                }
            }
            out
        };
        for v in values {
            self.add(v, hint, false);
        }
        Ok(())
    }

    /// `kubectl cluster-info dump` puts every container's current log of a pod in one `logs.txt`
    /// between START and END marker lines.
    fn add_dump_logs(&mut self, text: &str) {
        let mut current: Option<(LogKey, String)> = None;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_end();
            if let Some(key) = marker(trimmed, "==== START logs for container ") {
                current = Some((key, String::new()));
            } else if marker(trimmed, "==== END logs for container ").is_some() {
                if let Some((key, body)) = current.take() {
                    self.logs
                        .entry(key)
                        .or_default()
                        .current
                        .get_or_insert(body.into_bytes());
                }
            } else if let Some((_, body)) = current.as_mut() {
                body.push_str(line);
            }
        }
        if let Some((key, body)) = current {
            self.logs
                .entry(key)
                .or_default()
                .current
                .get_or_insert(body.into_bytes());
        }
    }
}

/// The etcd key of an object under its resource's prefix.
pub fn key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// A core v1 Event as events.k8s.io/v1 shows it (k8s.io/kubernetes pkg/apis/events/v1
/// conversion).
fn events_v1(core: &Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("apiVersion".into(), "events.k8s.io/v1".into());
    out.insert("kind".into(), "Event".into());
    for (from, to) in [
        ("metadata", "metadata"),
        ("eventTime", "eventTime"),
        ("series", "series"),
        ("reportingComponent", "reportingController"),
        ("reportingInstance", "reportingInstance"),
        ("action", "action"),
        ("reason", "reason"),
        ("involvedObject", "regarding"),
        ("related", "related"),
        ("message", "note"),
        ("type", "type"),
        ("source", "deprecatedSource"),
        ("firstTimestamp", "deprecatedFirstTimestamp"),
        ("lastTimestamp", "deprecatedLastTimestamp"),
        ("count", "deprecatedCount"),
    ] {
        if let Some(v) = core.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    }
    Value::Object(out)
}

fn marker(line: &str, prefix: &str) -> Option<LogKey> {
    let rest = line.strip_prefix(prefix)?.strip_suffix(" ====")?;
    let (container, pod) = rest.split_once(" of pod ")?;
    let (ns, pod) = pod.split_once('/')?;
    Some((ns.to_string(), pod.to_string(), container.to_string()))
}

fn log_file(path: &Path) -> Option<(LogKey, bool)> {
    let file = path.file_name()?.to_str()?;
    let pod_dir = path.parent()?;
    let ns_dir = pod_dir.parent()?;
    if ns_dir.parent()?.file_name()?.to_str()? != "logs" {
        return None;
    }
    let stem = file.strip_suffix(".log")?;
    let (container, previous) = match stem.strip_suffix(".previous") {
        Some(c) => (c, true),
        None => (stem, false),
    };
    Some((
        (
            ns_dir.file_name()?.to_str()?.to_string(),
            pod_dir.file_name()?.to_str()?.to_string(),
            container.to_string(),
        ),
        previous,
    ))
}
