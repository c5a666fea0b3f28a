//! Loads a snapshot directory: what `kubectl get -o json|yaml`, `kubectl logs` and
//! `kubectl cluster-info dump --output-directory` write. The layout is a contract (README,
//! "Snapshot directory"); other tools write it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::ingest::Ingest;
use super::logs;
use crate::findings::Skipped;
use crate::snapshot::ready_logs::{PodSelector, is_watched, running_named};
use crate::snapshot::{ContainerLogs, LogKey, Snapshot, kubelet_has_no_log, pod};

/// Deeper than this is not a snapshot someone made by hand or with kubectl; it is a loop or a trap.
pub const MAX_DEPTH: usize = 16;
/// A single object file larger than this is not read (a 5,000-pod `-o json` list is ~100 MiB).
pub const MAX_OBJECT_FILE: u64 = 512 * 1024 * 1024;
/// Problems reported for one file before the rest are counted instead: a list of a million broken
/// objects must not become a million-line report.
pub const MAX_PROBLEMS_PER_FILE: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("snapshot directory {0}: no such directory")]
    NotFound(PathBuf),
    #[error("snapshot directory {0}: not a directory")]
    NotADirectory(PathBuf),
    #[error("snapshot directory {0}: cannot be read: {1}")]
    Unreadable(PathBuf, std::io::Error),
}

#[derive(Default)]
struct Files {
    objects: Vec<PathBuf>,
    /// `logs/<ns>/<pod>/<container>[.previous].log`
    logs: Vec<(LogKey, bool, PathBuf)>,
    /// cluster-info dump `<ns>/<pod>/logs.txt`
    dump_logs: Vec<PathBuf>,
}

pub fn load(root: &Path) -> Result<Snapshot, LoadError> {
    load_reading(root, &[])
}

/// [`load`], reading also the current logs of the ready pods `ready_logs_of` names, start and end,
/// as a live collection reads them.
pub fn load_reading(root: &Path, ready_logs_of: &[PodSelector]) -> Result<Snapshot, LoadError> {
    let meta = std::fs::metadata(root).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound(root.to_path_buf()),
        _ => LoadError::Unreadable(root.to_path_buf(), e),
    })?;
    if !meta.is_dir() {
        return Err(LoadError::NotADirectory(root.to_path_buf()));
    }
    std::fs::read_dir(root).map_err(|e| LoadError::Unreadable(root.to_path_buf(), e))?;

    let mut snap = Snapshot::default();
    let mut files = Files::default();
    walk(root, root, 0, &mut files, &mut snap.skipped);

    let mut ingest = Ingest::default();
    for path in &files.objects {
        load_object_file(root, path, &mut ingest, &mut snap);
    }

    // Logs last: only pods that are not ready or have restarted are worth reading, and the pod
    // objects say which those are. Logs of a pod the snapshot has no object for are read too.
    let known: HashSet<(&str, &str)> = snap
        .pods
        .iter()
        .map(|p| (pod::namespace(p), pod::name(p)))
        .collect();
    let troubled: HashSet<(String, String)> = snap
        .pods
        .iter()
        .filter(|p| pod::is_troubled(p))
        .map(|p| (pod::namespace(p).to_string(), pod::name(p).to_string()))
        .collect();
    let watched: HashSet<(&str, &str)> = snap
        .pods
        .iter()
        .filter(|p| is_watched(ready_logs_of, p))
        .map(|p| (pod::namespace(p), pod::name(p)))
        .collect();
    // Read start and end, as a live collection reads them: the running containers of named pods.
    let named: HashSet<(&str, &str, &str)> = running_named(ready_logs_of, &snap.pods).collect();
    let wanted = |ns: &str, name: &str| {
        !known.contains(&(ns, name)) || troubled.contains(&(ns.to_string(), name.to_string()))
    };
    let mut logs = std::mem::take(&mut snap.logs);
    for (key, previous, path) in &files.logs {
        let (ns, pod_name) = (key.namespace.as_str(), key.pod.as_str());
        let watch = !*previous && watched.contains(&(ns, pod_name));
        if !watch && !wanted(ns, pod_name) {
            continue;
        }
        let read = if !*previous && named.contains(&(ns, pod_name, key.container.as_str())) {
            logs::read_head_and_tail(path)
        } else {
            logs::read_tail(path)
        };
        match read {
            // What `kubectl logs -p > FILE` wrote when the kubelet had no previous log.
            Ok(text) if kubelet_has_no_log(&text) => {}
            Ok(text) => {
                let entry: &mut ContainerLogs = logs.entry(key.clone()).or_default();
                if *previous {
                    entry.previous = Some(text);
                } else {
                    entry.current = Some(text);
                }
            }
            Err(e) => snap
                .skipped
                .push(Skipped::new(rel(root, path), format!("cannot read: {e}"))),
        }
    }
    for path in &files.dump_logs {
        match logs::read_cluster_info_logs(path) {
            Ok(sections) => {
                for ((namespace, pod, container), text) in sections {
                    // A dump's section of a Ready pod a signature names: its tail only, as the
                    // dump is read from its end.
                    let watch = watched.contains(&(namespace.as_str(), pod.as_str()));
                    if !watch && !wanted(&namespace, &pod) {
                        continue;
                    }
                    let key = LogKey {
                        namespace,
                        pod,
                        container,
                    };
                    let entry = logs.entry(key).or_default();
                    // An explicit `logs/` file is more specific than the dump; keep it.
                    entry.current.get_or_insert(text);
                }
            }
            Err(e) => snap
                .skipped
                .push(Skipped::new(rel(root, path), format!("cannot read: {e}"))),
        }
    }
    // A current log saved while its container waited (`kubectl logs`, a cluster-info dump) is the
    // log of its last terminated instance, which a live collection reads as the previous one.
    for p in &snap.pods {
        for c in pod::container_statuses(p).filter(|c| pod::log_is_last_instance(c)) {
            let key = LogKey {
                namespace: pod::namespace(p).to_string(),
                pod: pod::name(p).to_string(),
                container: c.name.clone(),
            };
            if let Some(entry) = logs.get_mut(&key)
                && let Some(current) = entry.current.take()
            {
                entry.previous.get_or_insert(current);
            }
        }
    }
    snap.logs = logs;
    Ok(snap)
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn walk(root: &Path, dir: &Path, depth: usize, files: &mut Files, skipped: &mut Vec<Skipped>) {
    if depth > MAX_DEPTH {
        skipped.push(Skipped::new(
            rel(root, dir),
            format!("deeper than {MAX_DEPTH} directories; not read"),
        ));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            skipped.push(Skipped::new(
                rel(root, dir),
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        // A symlinked directory can point back up the tree; files behind links are fine.
        if meta.is_dir() {
            walk(root, &path, depth + 1, files, skipped);
            continue;
        }
        // Only regular files (or links to them): reading a FIFO or a device named `x.json` would
        // block forever or never end.
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") || lower.ends_with(".yaml") || lower.ends_with(".yml") {
            files.objects.push(path);
        } else if name == "logs.txt" {
            files.dump_logs.push(path);
        } else if let Some(entry) = log_file(&path) {
            files.logs.push(entry);
        }
    }
}

/// Recognises `.../logs/<ns>/<pod>/<container>.log` and `<container>.previous.log`.
fn log_file(path: &Path) -> Option<(LogKey, bool, PathBuf)> {
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
        LogKey {
            namespace: ns_dir.file_name()?.to_str()?.to_string(),
            pod: pod_dir.file_name()?.to_str()?.to_string(),
            container: container.to_string(),
        },
        previous,
        path.to_path_buf(),
    ))
}

/// `kubectl cluster-info dump` names its files after the resource; its lists may carry no kind.
fn kind_from_file_name(path: &Path) -> Option<&'static str> {
    Some(match path.file_stem()?.to_str()? {
        "pods" => "Pod",
        "nodes" => "Node",
        "services" => "Service",
        "events" => "Event",
        "deployments" => "Deployment",
        "daemonsets" => "DaemonSet",
        "statefulsets" => "StatefulSet",
        "configmaps" => "ConfigMap",
        "leases" => "Lease",
        "jobs" => "Job",
        "namespaces" => "Namespace",
        "persistentvolumeclaims" | "pvcs" => "PersistentVolumeClaim",
        "persistentvolumes" | "pvs" => "PersistentVolume",
        "storageclasses" => "StorageClass",
        "customresourcedefinitions" | "crds" => "CustomResourceDefinition",
        "clusterrolebindings" => "ClusterRoleBinding",
        "serviceaccounts" => "ServiceAccount",
        _ => return None,
    })
}

fn load_object_file(root: &Path, path: &Path, ingest: &mut Ingest, snap: &mut Snapshot) {
    let origin = rel(root, path);
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_OBJECT_FILE {
        snap.skipped.push(Skipped::new(
            origin,
            format!(
                "{} MiB is larger than the {} MiB limit for one file; not read",
                size >> 20,
                MAX_OBJECT_FILE >> 20
            ),
        ));
        return;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            snap.skipped
                .push(Skipped::new(origin, format!("cannot read: {e}")));
            return;
        }
    };
    let hint = kind_from_file_name(path);
    let is_json = origin.to_ascii_lowercase().ends_with(".json");
    let values = if is_json {
        parse_json(&bytes)
    } else {
        parse_yaml(&bytes)
    };
    let before = snap.skipped.len();
    match values {
        Ok(values) => {
            for v in values {
                ingest.add(snap, v, &origin, hint);
            }
        }
        Err(e) => snap.skipped.push(Skipped::new(origin.clone(), e)),
    }
    summarise_problems(&mut snap.skipped, before, &origin, "in this file");
}

/// Keeps the first [`MAX_PROBLEMS_PER_FILE`] problems added since `before` and counts the rest in
/// one entry; `place` says where they were ("in this file", "in this list").
pub fn summarise_problems(skipped: &mut Vec<Skipped>, before: usize, origin: &str, place: &str) {
    let added = skipped.len() - before;
    if added > MAX_PROBLEMS_PER_FILE {
        skipped.truncate(before + MAX_PROBLEMS_PER_FILE);
        skipped.push(Skipped::new(
            origin,
            format!(
                "and {} more objects {place} that could not be used",
                added - MAX_PROBLEMS_PER_FILE
            ),
        ));
    }
}

/// A JSON file may hold several concatenated values, as `kubectl get a b -o json` can print.
pub fn parse_json(bytes: &[u8]) -> Result<Vec<Value>, String> {
    serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not valid JSON: {e}"))
}

pub fn parse_yaml(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| format!("not valid YAML: {e}"))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}
