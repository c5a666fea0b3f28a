//! The one parsing path of an offline snapshot, whatever holds its files: a directory
//! ([`super::dir`]) or a compressed archive ([`super::archive`]). A holder lists its files as
//! [`NamedFile`]s sorted by path; this module decides what each file is (by its name, as the snapshot
//! layout says), parses it and fills the [`Snapshot`]. It never opens anything itself, so that a file
//! means the same in a directory and in an archive.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use super::dir::{MAX_OBJECT_FILE, parse_json, parse_yaml, summarise_problems};
use super::ingest::Ingest;
use super::logs::DumpLogs;
use crate::findings::Skipped;
use crate::snapshot::ready_logs::{PodSelector, is_watched, running_named};
use crate::snapshot::{ContainerLogs, LogKey, Snapshot, kubelet_has_no_log, pod};

/// One file of a snapshot. Reading is lazy: a directory's logs are read only for the pods that need
/// them, and only their tails.
pub trait NamedFile {
    /// The path as reports show it: relative to the snapshot's root, `/`-separated.
    fn name(&self) -> &str;
    /// The path whose components tell what the file is (`logs/<ns>/<pod>/<c>.log`).
    fn path(&self) -> &Path;
    fn size(&self) -> u64;
    /// The whole content; called only when [`NamedFile::size`] is within [`MAX_OBJECT_FILE`].
    fn bytes(&self) -> io::Result<Vec<u8>>;
    /// The bounded tail of a container log.
    fn log_tail(&self) -> io::Result<String>;
    /// The bounded start and end of a container log, as a live collection reads the running
    /// containers of the pods a signature names (an error logged once at start-up counts).
    fn log_head_and_tail(&self) -> io::Result<String>;
    /// The sections of a `kubectl cluster-info dump` `logs.txt`.
    fn dump_logs(&self) -> io::Result<DumpLogs>;
}

/// A holder's files sorted into what they are, in the holder's order.
#[derive(Default)]
pub struct Files {
    pub objects: Vec<Box<dyn NamedFile>>,
    /// `logs/<ns>/<pod>/<container>[.previous].log`
    pub logs: Vec<(LogKey, bool, Box<dyn NamedFile>)>,
    /// cluster-info dump `<ns>/<pod>/logs.txt`
    pub dump_logs: Vec<Box<dyn NamedFile>>,
}

impl Files {
    /// Files by their name: objects (`.json`, `.yaml`, `.yml`), container logs, cluster-info dump
    /// logs; anything else is not part of a snapshot and is passed over.
    pub fn add(&mut self, file: Box<dyn NamedFile>) {
        let Some(name) = file
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            return;
        };
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") || lower.ends_with(".yaml") || lower.ends_with(".yml") {
            self.objects.push(file);
        } else if name == "logs.txt" {
            self.dump_logs.push(file);
        } else if let Some((key, previous)) = log_file(file.path()) {
            self.logs.push((key, previous, file));
        }
    }
}

/// Recognises `.../logs/<ns>/<pod>/<container>.log` and `<container>.previous.log`.
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
        LogKey {
            namespace: ns_dir.file_name()?.to_str()?.to_string(),
            pod: pod_dir.file_name()?.to_str()?.to_string(),
            container: container.to_string(),
        },
        previous,
    ))
}

/// Parses every file into `snap`: objects first, then the logs of the pods worth reading: those in
/// trouble, and the ready pods `ready_logs_of` names.
pub fn read(files: &Files, snap: &mut Snapshot, ready_logs_of: &[PodSelector]) {
    let mut ingest = Ingest::default();
    for file in &files.objects {
        load_object_file(file.as_ref(), &mut ingest, snap);
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
    let mut skipped = Vec::new();
    for (key, previous, file) in &files.logs {
        let (ns, pod_name) = (key.namespace.as_str(), key.pod.as_str());
        let watch = !*previous && watched.contains(&(ns, pod_name));
        if !watch && !wanted(ns, pod_name) {
            continue;
        }
        let read = if !*previous && named.contains(&(ns, pod_name, key.container.as_str())) {
            file.log_head_and_tail()
        } else {
            file.log_tail()
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
            Err(e) => skipped.push(Skipped::new(file.name(), format!("cannot read: {e}"))),
        }
    }
    for file in &files.dump_logs {
        match file.dump_logs() {
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
            Err(e) => skipped.push(Skipped::new(file.name(), format!("cannot read: {e}"))),
        }
    }
    snap.skipped.extend(skipped);
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
        _ => return None,
    })
}

fn load_object_file(file: &dyn NamedFile, ingest: &mut Ingest, snap: &mut Snapshot) {
    let origin = file.name().to_string();
    let size = file.size();
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
    let bytes = match file.bytes() {
        Ok(b) => b,
        Err(e) => {
            snap.skipped
                .push(Skipped::new(origin, format!("cannot read: {e}")));
            return;
        }
    };
    let hint = kind_from_file_name(file.path());
    let is_json = origin.to_ascii_lowercase().ends_with(".json");
    let values = if is_json {
        parse_json(&bytes)
    } else {
        parse_yaml(&bytes)
    };
    drop(bytes);
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
