//! `kubectl-bkdoctor snapshot DIR`: what a live collection read, as a snapshot directory in the
//! offline format (so `check --snapshot DIR` finds the same), safe to send to support; or the same
//! files as one archive (`snapshot FILE.tar.gz`, [`super::write_archive`]).
//!
//! Safe means: no Secret value (other Secrets are written by name, type and key names only), and
//! in helm release records the release re-encoded without the parts that hold user data (values, rendered manifests, notes). A record whose payload was not
//! fetched or did not decode is written without `data`, with an annotation saying which
//! ([`helm::PAYLOAD_ANNOTATION`]), so that reading it back gives the same analysis.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::{Value, json};

use super::write_archive::ArchiveOut;
use super::{Collected, StorageKey, storage_key};
use crate::collect::archive::has_archive_name;
use crate::collect::ingest::{INFO_API_VERSION, INFO_KIND};
use crate::helm::{self, Driver, Payload, ReleaseRecord, decode};

/// Keys removed from the release JSON, as paths. `config` is the user's values (passwords);
/// `chart.values` the chart's defaults; `chart.templates`/`chart.files` the chart's sources;
/// `manifest` and each hook's `manifest` the rendered objects, Secrets included; `info.notes` the
/// rendered NOTES.txt, which charts often fill with passwords.
pub const REMOVED: &[&[&str]] = &[
    &["config"],
    &["chart", "values"],
    &["chart", "templates"],
    &["chart", "files"],
    &["manifest"],
    &["info", "notes"],
];

/// Strips a stored release (helm's base64 of gzip of JSON) of everything in [`REMOVED`] and of
/// hooks' manifests, and encodes it again the way helm does.
pub fn sanitize_release(stored: &[u8]) -> Result<String, decode::DecodeError> {
    let json = decode::release_json(stored)?;
    let mut release: Value =
        serde_json::from_slice(&json).map_err(|e| decode::DecodeError::json(&e))?;
    for path in REMOVED {
        let (last, parents) = path.split_last().expect("paths are not empty");
        let mut node = &mut release;
        for p in parents {
            node = &mut node[*p];
        }
        if let Some(obj) = node.as_object_mut() {
            obj.remove(*last);
        }
    }
    if let Some(hooks) = release["hooks"].as_array_mut() {
        for h in hooks {
            if let Some(h) = h.as_object_mut() {
                h.remove("manifest");
            }
        }
    }
    let json = serde_json::to_vec(&release).expect("a JSON value serialises");
    Ok(decode::encode(&json))
}

/// The metadata worth keeping: `managedFields` is bulk, and nothing else of a storage object's
/// metadata is sensitive.
fn storage_metadata(obj: &Value) -> Value {
    let mut meta = obj["metadata"].clone();
    if let Some(m) = meta.as_object_mut() {
        m.remove("managedFields");
    }
    meta
}

fn annotate(meta: &mut Value, payload: &str, reason: Option<&str>) {
    if !meta["annotations"].is_object() {
        meta["annotations"] = json!({});
    }
    meta["annotations"][helm::PAYLOAD_ANNOTATION] = json!(payload);
    if let Some(r) = reason {
        meta["annotations"][helm::UNREADABLE_ANNOTATION] = json!(r);
    }
}

/// The object to write for one storage record.
pub fn storage_object(record: &ReleaseRecord, raw: Option<&Value>) -> Value {
    let empty = json!({});
    let raw = raw.unwrap_or(&empty);
    let mut meta = storage_metadata(raw);
    if !meta.is_object() || meta["name"].as_str().is_none() {
        meta = json!({"name": record.object_name, "namespace": record.namespace});
    }
    let stored = match record.driver {
        Driver::Secret => raw["data"]["release"]
            .as_str()
            .and_then(|s| STANDARD.decode(s.trim()).ok()),
        Driver::ConfigMap => raw["data"]["release"]
            .as_str()
            .map(|s| s.as_bytes().to_vec()),
    };
    let release = match (&record.payload, stored) {
        (Payload::Decoded(_), Some(stored)) => match sanitize_release(&stored) {
            Ok(text) => Some(text),
            Err(e) => {
                annotate(&mut meta, helm::PAYLOAD_UNREADABLE, Some(&e.to_string()));
                None
            }
        },
        (Payload::Unreadable(reason), _) => {
            annotate(&mut meta, helm::PAYLOAD_UNREADABLE, Some(reason));
            None
        }
        _ => {
            annotate(&mut meta, helm::PAYLOAD_NOT_COLLECTED, None);
            None
        }
    };
    let mut obj = match record.driver {
        Driver::Secret => json!({"apiVersion": "v1", "kind": "Secret", "type": helm::SECRET_TYPE}),
        Driver::ConfigMap => json!({"apiVersion": "v1", "kind": "ConfigMap"}),
    };
    obj["metadata"] = meta;
    if let Some(text) = release {
        obj["data"] = match record.driver {
            Driver::Secret => json!({"release": STANDARD.encode(text)}),
            Driver::ConfigMap => json!({"release": text}),
        };
    }
    obj
}

/// Who and what the snapshot is of; written as the `SnapshotInfo` object.
pub struct About<'a> {
    pub context: &'a str,
    pub server: &'a str,
    pub namespace: Option<&'a str>,
}

pub struct Written {
    pub files: usize,
    /// The files' bytes, before any compression.
    pub bytes: u64,
    /// The archive's size on disk, when one file was written.
    pub archive: Option<u64>,
}

/// Where the files go: a directory, or one archive (`FILE.tar.gz`, `FILE.tgz`).
enum Sink {
    Dir(PathBuf),
    Archive(Box<ArchiveOut>),
}

struct Out {
    sink: Sink,
    written: Written,
}

impl Out {
    fn file(&mut self, rel: &Path, bytes: &[u8]) -> Result<(), String> {
        match &mut self.sink {
            Sink::Dir(root) => {
                let path = root.join(rel);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
                }
                let mut f = std::fs::File::create(&path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                f.write_all(bytes)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            Sink::Archive(a) => a.file(rel, bytes)?,
        }
        self.written.files += 1;
        self.written.bytes += bytes.len() as u64;
        Ok(())
    }

    fn list<T: Serialize>(&mut self, name: &str, items: &[T]) -> Result<(), String> {
        if items.is_empty() {
            return Ok(());
        }
        let items: Vec<Value> = items
            .iter()
            .map(|i| serde_json::to_value(i).expect("Kubernetes objects serialise"))
            .collect();
        self.json(
            name,
            &json!({"apiVersion": "v1", "kind": "List", "items": items}),
        )
    }

    fn json(&mut self, name: &str, v: &Value) -> Result<(), String> {
        let mut bytes = serde_json::to_vec_pretty(v).expect("a JSON value serialises");
        bytes.push(b'\n');
        self.file(Path::new(name), &bytes)
    }
}

/// A path segment from the cluster (namespace, pod, container names are DNS labels); anything
/// else is not written, so a name can never climb out of the directory.
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
}

/// Writes the snapshot to `dest`: one gzip-compressed tar archive when its name ends in `.tar.gz`
/// or `.tgz`, else a new or empty directory.
pub fn write(dest: &Path, c: &Collected, about: &About) -> Result<Written, String> {
    let sink = if has_archive_name(dest) {
        let mtime = c
            .snap
            .collected_at
            .map_or(0, |t| u64::try_from(t.as_second()).unwrap_or(0));
        Sink::Archive(Box::new(ArchiveOut::create(dest, mtime)?))
    } else {
        prepare_dir(dest)?;
        Sink::Dir(dest.to_path_buf())
    };
    let mut out = Out {
        sink,
        written: Written {
            files: 0,
            bytes: 0,
            archive: None,
        },
    };
    let result = write_files(&mut out, c, about);
    match (out.sink, result) {
        (Sink::Archive(a), Ok(())) => {
            out.written.archive = Some(a.finish()?);
            Ok(out.written)
        }
        (Sink::Archive(a), Err(e)) => {
            a.abandon();
            Err(e)
        }
        (Sink::Dir(_), r) => r.map(|()| out.written),
    }
}

fn prepare_dir(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "{} exists and is not empty; give a new directory",
                    dir.display()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?,
        Err(e) => return Err(format!("cannot use {}: {e}", dir.display())),
    }
    Ok(())
}

fn write_files(out: &mut Out, c: &Collected, about: &About) -> Result<(), String> {
    let snap = &c.snap;
    let time = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string());
    out.json(
        "snapshot-info.json",
        &json!({
            "apiVersion": INFO_API_VERSION,
            "kind": INFO_KIND,
            "collectedAt": time(snap.collected_at),
            "serverTime": time(snap.server_time),
            "context": about.context,
            "server": about.server,
            "namespace": about.namespace.unwrap_or("(all namespaces)"),
            "tool": concat!("kubectl-bkdoctor ", env!("CARGO_PKG_VERSION")),
            "skipped": snap.skipped,
            // Log reads the API server could not serve: the rules read them (a kubelet out of
            // reach), so the snapshot keeps them with the same analysis.
            "logFailures": snap.log_failures,
        }),
    )?;
    out.list("nodes.json", &snap.nodes)?;
    out.list("namespaces.json", &snap.namespaces)?;
    out.list("pods.json", &snap.pods)?;
    out.list("services.json", &snap.services)?;
    out.list("configmaps.json", &snap.config_maps)?;
    out.list("deployments.json", &snap.deployments)?;
    out.list("daemonsets.json", &snap.daemon_sets)?;
    out.list("statefulsets.json", &snap.stateful_sets)?;
    out.list("jobs.json", &snap.jobs)?;
    out.list("events.json", &snap.events)?;
    out.list("leases.json", &snap.leases)?;
    out.list("customresourcedefinitions.json", &snap.crds)?;
    out.list("persistentvolumeclaims.json", &snap.pvcs)?;
    out.list("persistentvolumes.json", &snap.persistent_volumes)?;
    out.list("ingresses.json", &snap.ingresses)?;
    out.list("storageclasses.json", &snap.storage_classes)?;
    out.list("ingressclasses.json", &snap.ingress_classes)?;
    out.list("endpointslices.json", &snap.endpoint_slices)?;
    out.list(
        "validatingwebhookconfigurations.json",
        &snap.validating_webhooks,
    )?;
    out.list(
        "mutatingwebhookconfigurations.json",
        &snap.mutating_webhooks,
    )?;
    out.list("replicasets.json", &snap.replica_sets)?;
    out.list("cronjobs.json", &snap.cron_jobs)?;
    // Secrets as listed: metadata, never `data` (`snapshot::secret`).
    let secrets: Vec<Value> = snap.secrets.iter().map(|s| s.to_value()).collect();
    out.list("secrets.json", &secrets)?;
    // Read metadata-only: written as objects with nothing but their metadata.
    let meta = |api_version: &str, kind: &str, items: &[ObjectMeta]| -> Vec<Value> {
        items
            .iter()
            .map(|m| json!({"apiVersion": api_version, "kind": kind, "metadata": m}))
            .collect()
    };
    out.list(
        "clusterrolebindings.json",
        &meta(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            &snap.cluster_role_bindings,
        ),
    )?;
    out.list(
        "serviceaccounts.json",
        &meta("v1", "ServiceAccount", &snap.service_accounts),
    )?;

    for (driver, file) in [
        (Driver::Secret, "helm/secrets.json"),
        (Driver::ConfigMap, "helm/configmaps.json"),
    ] {
        let items: Vec<Value> = snap
            .helm_records
            .iter()
            .filter(|r| r.driver == driver)
            .map(|r| {
                let key: StorageKey = storage_key(r);
                storage_object(r, c.helm_objects.get(&key))
            })
            .collect();
        out.list(file, &items)?;
    }

    for (key, logs) in &snap.logs {
        if ![&key.namespace, &key.pod, &key.container]
            .iter()
            .all(|s| safe_segment(s))
        {
            continue;
        }
        let base = Path::new("logs").join(&key.namespace).join(&key.pod);
        if let Some(text) = &logs.current {
            out.file(
                &base.join(format!("{}.log", key.container)),
                text.as_bytes(),
            )?;
        }
        if let Some(text) = &logs.previous {
            out.file(
                &base.join(format!("{}.previous.log", key.container)),
                text.as_bytes(),
            )?;
        }
    }
    out.file(Path::new("README.md"), readme(about).as_bytes())?;
    Ok(())
}

fn readme(about: &About) -> String {
    let scope = match about.namespace {
        Some(ns) => format!("namespace {ns} (and cluster-scoped objects)"),
        None => "all namespaces".to_string(),
    };
    // Flush left on purpose: this is Markdown, and its list items continue on indented lines.
    format!(
        r#"# kubectl-bkdoctor snapshot

Collected by `kubectl-bkdoctor snapshot` from context "{context}" ({server}), {scope}.
Read it with `kubectl-bkdoctor check --snapshot DIR` (or `--snapshot FILE.tar.gz`, the archive
itself, unpacked or not); `snapshot-info.json` says when it was taken, the API server's clock at that moment, and what could not be read.

## What is in it

- One `kind: List` file per resource kind: nodes, namespaces, pods, services, configmaps (except
  helm release storage), deployments, daemonsets, statefulsets, jobs, events (Warning events
  and those of PVCs), leases, CRDs, PVCs, PersistentVolumes, StorageClasses,
  ClusterRoleBindings and ServiceAccounts (their metadata only).
  Objects are written as the tool parsed them; fields it does not model are not kept.
- `helm/`: helm's release records (Secrets of type `helm.sh/release.v1`, ConfigMaps of the
  configmap driver), one per revision.
- `logs/<namespace>/<pod>/<container>.log` and `.previous.log`: the last {lines} lines (at most
  {kib} KiB) of each container of the pods that were not ready or had restarted; of the Ready pods
  a log signature names (bk-job's gateway, bk-login-web), the current log's first lines and its
  last ones, within the same bounds.

## What was left out

- Every Secret that is not a helm release record: none was read, none is here.
- From each helm release record that was read, before it was encoded again as helm does:
  `config` (the values given at install and upgrade, where passwords are), `chart.values`,
  `chart.templates`, `chart.files`, `manifest`, each hook's `manifest`, and `info.notes` (the
  rendered NOTES.txt). Names, revisions, statuses, chart and app versions, times and helm's
  descriptions remain.
- Helm release records whose payload no check needed are kept by their labels only: no `data`,
  and the annotation `{ann}: {not_collected}`. Those are the older revisions, and every revision
  of a release whose newest one is deployed, unless the snapshot was taken with `--all-releases`.
  Records whose payload could not be decoded have no `data` either, the annotation
  `{ann}: {unreadable}` and the reason in `{reason_ann}`.

Still here as the cluster had them, worth a look before sending: ConfigMaps, pod specs
(environment variables) and container logs.
"#,
        context = about.context,
        server = about.server,
        lines = crate::snapshot::LOG_TAIL_LINES,
        kib = crate::snapshot::LOG_TAIL_BYTES / 1024,
        ann = helm::PAYLOAD_ANNOTATION,
        not_collected = helm::PAYLOAD_NOT_COLLECTED,
        unreadable = helm::PAYLOAD_UNREADABLE,
        reason_ann = helm::UNREADABLE_ANNOTATION,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = r#"{"name":"bk-paas","namespace":"blueking","version":3,
        "info":{"status":"deployed","description":"Upgrade complete","notes":"password: notes-do-not-print",
                "last_deployed":"2026-11-25T10:00:00Z"},
        "chart":{"metadata":{"name":"bk-paas","version":"1.4.2","appVersion":"1.4.2"},
                 "values":{"s":"values-do-not-print"},"templates":[{"name":"t","data":"dGVtcGxhdGUtZG8tbm90LXByaW50"}],
                 "files":[{"name":"f","data":"ZmlsZS1kby1ub3QtcHJpbnQ="}]},
        "config":{"password":"config-do-not-print"},"manifest":"kind: Secret manifest-do-not-print",
        "hooks":[{"name":"h","kind":"Job","manifest":"hook-do-not-print","events":["pre-upgrade"]}]}"#;

    #[test]
    fn sanitized_release_keeps_what_rules_read_and_nothing_else() {
        let stored = decode::encode(RELEASE.as_bytes());
        let clean = sanitize_release(stored.as_bytes()).unwrap();
        let json = String::from_utf8(decode::release_json(clean.as_bytes()).unwrap()).unwrap();
        assert!(!json.contains("do-not-print"), "{json}");
        assert!(!json.contains("dGVtcGxhdGU") && !json.contains("ZmlsZS"));
        assert!(json.contains(r#""events":["pre-upgrade"]"#));
        let before = decode::decode(stored.as_bytes()).unwrap();
        let after = decode::decode(clean.as_bytes()).unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn records_without_payload_read_back_the_same() {
        let meta = json!({"metadata": {"name": "sh.helm.release.v1.bk-paas.v1", "namespace": "blueking",
            "labels": {"owner": "helm", "name": "bk-paas", "status": "superseded", "version": "1"},
            "managedFields": [{"manager": "Helm"}]}});
        let m: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta =
            serde_json::from_value(meta["metadata"].clone()).unwrap();
        for payload in [
            Payload::NotLoaded,
            Payload::Unreadable("truncated gzip".into()),
        ] {
            for driver in [Driver::Secret, Driver::ConfigMap] {
                let rec = ReleaseRecord::from_meta(driver, &m, payload.clone()).unwrap();
                let obj = storage_object(&rec, Some(&meta));
                assert!(obj.get("data").is_none());
                assert!(obj["metadata"].get("managedFields").is_none());
                let back = match driver {
                    Driver::Secret => helm::secrets::from_object(&obj),
                    Driver::ConfigMap => helm::configmaps::from_object(&obj),
                }
                .unwrap();
                assert_eq!(back, rec);
            }
        }
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert!(safe_segment("bk-paas-web-7d9c8b6f5-h4x8q"));
        assert!(!safe_segment(".."));
        assert!(!safe_segment("a/b"));
        assert!(!safe_segment(""));
    }
}
