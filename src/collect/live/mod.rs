//! Reads a live cluster into the same [`Snapshot`] a snapshot directory gives, so the rules cannot
//! tell the two apart. Objects go through the same [`Ingest`] as files do.
//!
//! What makes it fast on a big cluster: every list runs at once, in pages; helm storage is listed
//! metadata-only and only the payloads a rule looks inside are fetched ([`helm_plan`]); only
//! troubled pods' logs are read, bounded, a few at a time. What makes it safe: only GET requests
//! ([`api::Api::send`] refuses anything else). What makes it tolerant: a list that is forbidden,
//! missing or slow becomes a `skipped` entry naming the rules it starves, and the rest still runs.

pub mod api;
pub mod connect;
pub mod helm_plan;
pub mod progress;
pub mod write;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use self::api::{Api, Failure, api_failure};
use self::connect::Cluster;
use super::ingest::{Ingest, MetaOnly};
use super::logs::tail_of;
use crate::catalog::Catalog;
use crate::findings::Skipped;
use crate::helm::{self, Driver, Payload, ReleaseRecord};
use crate::snapshot::{LOG_TAIL_BYTES, LOG_TAIL_LINES, LogKey, Snapshot, pod};

/// Requests in flight at once for single objects and logs. Logs go through the kubelets, and a
/// doctor run must not become the load that tips a struggling node over.
pub const CONCURRENCY: usize = 8;

/// The label helm puts on every storage object (`pkg/storage/driver`).
const HELM_SELECTOR: &str = "owner=helm";
/// ConfigMaps other than helm storage: `!=` also matches objects without the label, so the two
/// lists together cover every ConfigMap exactly once, and no helm payload comes with the full list.
const NOT_HELM_SELECTOR: &str = "owner!=helm";

/// One list the collector makes.
pub struct Resource {
    /// How skipped entries name it, and the words the catalog's `reads` use for it.
    pub what: &'static str,
    pub words: &'static [&'static str],
    /// `/api/v1` or `/apis/GROUP/VERSION`.
    pub prefix: &'static str,
    pub plural: &'static str,
    /// The kind of the items, for lists whose items carry none.
    pub kind: &'static str,
    pub namespaced: bool,
    pub selector: Option<&'static str>,
    /// Helm storage: listed metadata-only.
    pub helm: Option<Driver>,
    /// Listed in this namespace too when the scope is one namespace (node leases live in
    /// `kube-node-lease` whatever namespace is being checked).
    pub also_in: Option<&'static str>,
}

const fn res(
    what: &'static str,
    words: &'static [&'static str],
    prefix: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Resource {
    Resource {
        what,
        words,
        prefix,
        plural,
        kind,
        namespaced,
        selector: None,
        helm: None,
        also_in: None,
    }
}

/// Every kind the rules read (see `Snapshot`).
pub const RESOURCES: &[Resource] = &[
    Resource {
        selector: Some(HELM_SELECTOR),
        helm: Some(Driver::Secret),
        ..res(
            "secrets (helm release records)",
            &["secrets", "helm release"],
            "/api/v1",
            "secrets",
            "Secret",
            true,
        )
    },
    Resource {
        selector: Some(HELM_SELECTOR),
        helm: Some(Driver::ConfigMap),
        ..res(
            "configmaps (helm release records)",
            &["configmaps", "helm release"],
            "/api/v1",
            "configmaps",
            "ConfigMap",
            true,
        )
    },
    Resource {
        selector: Some(NOT_HELM_SELECTOR),
        ..res(
            "configmaps",
            &["configmaps"],
            "/api/v1",
            "configmaps",
            "ConfigMap",
            true,
        )
    },
    res("pods", &["pods"], "/api/v1", "pods", "Pod", true),
    res("nodes", &["nodes"], "/api/v1", "nodes", "Node", false),
    res(
        "services",
        &["services"],
        "/api/v1",
        "services",
        "Service",
        true,
    ),
    res(
        "namespaces",
        &["namespaces"],
        "/api/v1",
        "namespaces",
        "Namespace",
        false,
    ),
    res("events", &["events"], "/api/v1", "events", "Event", true),
    res(
        "persistentvolumeclaims",
        &["persistentvolumeclaims", "pvcs"],
        "/api/v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
    ),
    res(
        "deployments",
        &["deployments"],
        "/apis/apps/v1",
        "deployments",
        "Deployment",
        true,
    ),
    res(
        "daemonsets",
        &["daemonsets"],
        "/apis/apps/v1",
        "daemonsets",
        "DaemonSet",
        true,
    ),
    res(
        "statefulsets",
        &["statefulsets"],
        "/apis/apps/v1",
        "statefulsets",
        "StatefulSet",
        true,
    ),
    res("jobs", &["jobs"], "/apis/batch/v1", "jobs", "Job", true),
    Resource {
        also_in: Some("kube-node-lease"),
        ..res(
            "leases",
            &["leases"],
            "/apis/coordination.k8s.io/v1",
            "leases",
            "Lease",
            true,
        )
    },
    res(
        "customresourcedefinitions",
        &["customresourcedefinitions", "crds"],
        "/apis/apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    ),
];

impl Resource {
    fn path(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => {
                format!("{}/namespaces/{ns}/{}", self.prefix, self.plural)
            }
            _ => format!("{}/{}", self.prefix, self.plural),
        }
    }

    /// `None` = cluster-wide.
    fn namespaces(&self, scope: Option<&str>) -> Vec<Option<String>> {
        match scope {
            Some(ns) if self.namespaced => {
                let mut v = vec![Some(ns.to_string())];
                if let Some(extra) = self.also_in.filter(|e| *e != ns) {
                    v.push(Some(extra.to_string()));
                }
                v
            }
            _ => vec![None],
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    /// A release whose every revision's payload is wanted.
    pub full_history_of: Option<String>,
    /// Keep what the snapshot writer needs: storage objects as fetched, payload included, and
    /// pods whole. Without it a payload is decoded as it arrives and dropped (a thousand releases'
    /// payloads are a few hundred MiB that `check` never looks at again), and pods keep only what
    /// rules read ([`Ingest::new`]).
    pub for_snapshot: bool,
    /// Fetch the newest payload of healthy releases too (`--all-releases`).
    pub every_release: bool,
    /// Releases whose newest payload the rules read even when healthy, looked up in every
    /// namespace when the scope is one: the caller passes what the rules declare, so the collector
    /// knows no rule.
    pub read_by_name: &'static [&'static str],
}

/// Identifies a helm storage object: driver kind (`secret`/`configmap`), namespace, name.
pub type StorageKey = (&'static str, String, String);

pub fn storage_key(r: &ReleaseRecord) -> StorageKey {
    (
        r.driver.kubectl_kind(),
        r.namespace.clone(),
        r.object_name.clone(),
    )
}

pub struct Collected {
    pub snap: Snapshot,
    /// Helm storage objects as the API gave them: the full object when its payload was fetched,
    /// else the metadata-only one. The snapshot writer sanitises them.
    pub helm_objects: BTreeMap<StorageKey, Value>,
    /// For `release NAME` when the namespace collected has no such release: where it does exist.
    pub release_elsewhere: Vec<String>,
    pub elapsed: Duration,
}

/// Collects everything the rules read. `Err` is the one line to print when the cluster cannot be
/// used at all: unreachable, credentials rejected, or not a single list readable.
pub async fn collect(
    cluster: &Cluster,
    scope: &Scope,
    catalog: &Catalog,
) -> Result<Collected, String> {
    let started = Instant::now();
    let server_time = probe(cluster).await?;
    let mut c = Collector::default();
    c.add_lists(cluster, scope, list_all(&cluster.api, scope).await?)?;
    let missing = |name: &str| !c.snap.helm_records.iter().any(|r| r.name == name);
    let release_elsewhere = match &scope.full_history_of {
        Some(name) if missing(name) => {
            let mut nss: Vec<String> = records_named(&cluster.api, name)
                .await
                .into_iter()
                .map(|r| r.namespace)
                .collect();
            nss.dedup();
            nss
        }
        _ => Vec::new(),
    };
    // Scoped to one namespace, the releases a rule weighs against each other may live in others
    // (BCS and bk-apigateway): look them up by name, where RBAC lets us.
    if scope.namespace.is_some() {
        let absent: Vec<&str> = scope
            .read_by_name
            .iter()
            .copied()
            .filter(|n| missing(n))
            .collect();
        for name in absent {
            let found = records_named(&cluster.api, name).await;
            c.snap.helm_records.extend(found);
        }
    }

    // Payloads need the storage labels, logs the pod list; the two then run side by side.
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let want = helm_plan::Want {
        full_history: scope.full_history_of.as_deref(),
        every_release: scope.every_release,
        names: scope.read_by_name,
        owners: c
            .snap
            .pods
            .iter()
            .filter(|p| pod::is_troubled(p))
            .flat_map(|p| pod::releases(p).map(|r| (pod::namespace(p).to_string(), r.to_string())))
            .collect(),
    };
    let plan = helm_plan::payloads_to_fetch(&c.snap.helm_records, &want);
    let jobs = log_jobs_for(&c.snap);
    let (payloads, logs) = tokio::join!(
        fetch_payloads(
            &cluster.api,
            &sem,
            &c.snap.helm_records,
            plan,
            scope.for_snapshot
        ),
        fetch_logs(&cluster.api, &sem, jobs)
    );
    c.add_payloads(payloads?);
    c.add_logs(logs?);

    let mut snap = c.snap;
    snap.skipped.extend(rules_not_run(catalog, &c.unread));
    snap.server_time = server_time;
    snap.collected_at = Some(Timestamp::now());
    Ok(Collected {
        snap,
        helm_objects: c.helm_objects,
        release_elsewhere,
        elapsed: started.elapsed(),
    })
}

/// The helm storage records of release `name` in every namespace, by their labels: two small
/// metadata-only lists. Best effort: an error (RBAC that grants one namespace only) means none.
async fn records_named(api: &Api, name: &str) -> Vec<ReleaseRecord> {
    let selector = format!("{HELM_SELECTOR},name={name}");
    let (secrets, configmaps) = tokio::join!(
        api.list("/api/v1/secrets", Some(&selector), true),
        api.list("/api/v1/configmaps", Some(&selector), true)
    );
    let mut snap = Snapshot::default();
    for (driver, listed) in [(Driver::Secret, secrets), (Driver::ConfigMap, configmaps)] {
        if let Ok(listed) = listed {
            add_storage_metadata(&mut snap, None, driver, listed.items);
        }
    }
    let mut records = snap.helm_records;
    records.sort_by(|a, b| (&a.namespace, a.revision).cmp(&(&b.namespace, b.revision)));
    records
}

/// A cheap request every client may make: it tells whether the cluster is there at all, and its
/// `Date` header is the control plane's clock.
async fn probe(cluster: &Cluster) -> Result<Option<Timestamp>, String> {
    let version = http::Request::get("/version")
        .body(Vec::new())
        .expect("a constant request is valid");
    match cluster.api.send(version).await {
        Err(f) => Err(connect::unusable(cluster, &f)),
        Ok(raw) if raw.status == 401 => {
            Err(connect::unusable(cluster, &api_failure(401, &raw.body)))
        }
        Ok(raw) => Ok(raw.date),
    }
}

/// One list, already read into a snapshot of its own: pages are turned into typed objects as they
/// arrive, so that a 5,000-pod list is never held as JSON values all at once.
#[derive(Default)]
struct Listed {
    snap: Snapshot,
    /// Helm storage items as listed (metadata only), kept only for the snapshot writer.
    helm_objects: BTreeMap<StorageKey, Value>,
    /// Why the list stopped before its end, if it did.
    cut: Option<String>,
}

type ListResult = (usize, Option<String>, Result<Listed, Failure>);

/// Every list of [`RESOURCES`] at once, in a stable order: index, namespace (`None`: cluster-wide).
async fn list_all(api: &Api, scope: &Scope) -> Result<Vec<ListResult>, String> {
    let mut lists = JoinSet::new();
    for (i, r) in RESOURCES.iter().enumerate() {
        for ns in r.namespaces(scope.namespace.as_deref()) {
            let api = api.clone();
            let keep_objects = scope.for_snapshot;
            lists.spawn(async move {
                let what = match &ns {
                    Some(ns) => format!("{} in namespace {ns}", r.what),
                    None => r.what.to_string(),
                };
                let mut listed = Listed::default();
                let fresh = || Ingest::new(!keep_objects);
                let mut ingest = fresh();
                let res = api
                    .list_pages(
                        &r.path(ns.as_deref()),
                        r.selector,
                        r.helm.is_some(),
                        |page| match (page, r.helm) {
                            (None, _) => {
                                listed = Listed::default();
                                ingest = fresh();
                            }
                            (Some(page), Some(driver)) => add_storage_metadata(
                                &mut listed.snap,
                                keep_objects.then_some(&mut listed.helm_objects),
                                driver,
                                page.items,
                            ),
                            (Some(page), None) => {
                                ingest.add_page(&mut listed.snap, r.kind, &page.items, &what)
                            }
                        },
                    )
                    .await;
                // A cluster full of objects the rules cannot parse is one entry, not a million.
                super::dir::summarise_problems(&mut listed.snap.skipped, 0, &what, "in this list");
                (
                    i,
                    ns,
                    res.map(|cut| {
                        listed.cut = cut;
                        listed
                    }),
                )
            });
        }
    }
    let mut results = drain(lists).await?;
    // Completion order varies; the snapshot must not.
    results.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(results)
}

/// A fetched storage object, read into a record as it arrived; the object itself only when asked
/// to keep it.
type PayloadResult = (
    usize,
    Result<(Option<ReleaseRecord>, Option<Value>), Failure>,
);

/// The storage objects `plan` (indices into `records`) names, a few at a time. Each is decoded in
/// its own task, so decoding runs on every core while other payloads are still on the wire, and at
/// most [`CONCURRENCY`] raw payloads are in memory at once.
async fn fetch_payloads(
    api: &Api,
    sem: &Arc<Semaphore>,
    records: &[ReleaseRecord],
    plan: Vec<usize>,
    keep_objects: bool,
) -> Result<Vec<PayloadResult>, String> {
    let mut set = JoinSet::new();
    for i in plan {
        let r = &records[i];
        let plural = match r.driver {
            Driver::Secret => "secrets",
            Driver::ConfigMap => "configmaps",
        };
        let path = format!("/api/v1/namespaces/{}/{plural}", r.namespace);
        let name = r.object_name.clone();
        let driver = r.driver;
        let (api, sem) = (api.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let res = api.get_object(&path, &name).await.map(|obj| {
                let parsed = match driver {
                    Driver::Secret => helm::secrets::from_object(&obj),
                    Driver::ConfigMap => helm::configmaps::from_object(&obj),
                };
                (parsed, keep_objects.then_some(obj))
            });
            (i, res)
        });
    }
    let mut out = drain(set).await?;
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

/// Lines asked for again when the last [`LOG_TAIL_LINES`] do not fit in [`LOG_TAIL_BYTES`].
const LOG_RETRY_LINES: usize = 20;

type LogJob = (LogKey, bool);
type LogResult = (LogJob, Result<Option<bytes::Bytes>, Failure>);

async fn fetch_logs(
    api: &Api,
    sem: &Arc<Semaphore>,
    jobs: Vec<LogJob>,
) -> Result<Vec<LogResult>, String> {
    let mut set = JoinSet::new();
    for job in jobs {
        let (api, sem) = (api.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let (key, previous) = &job;
            let read = |lines: usize| {
                api.log(
                    &key.namespace,
                    &key.pod,
                    &key.container,
                    *previous,
                    lines as i64,
                    LOG_TAIL_BYTES as i64,
                )
            };
            let mut res = read(LOG_TAIL_LINES).await;
            // The kubelet applies limitBytes after tailLines: lines too long for the limit lose
            // their end, which is where a crash says why. Fewer lines may fit.
            if matches!(&res, Ok(Some(b)) if b.len() >= LOG_TAIL_BYTES) {
                res = read(LOG_RETRY_LINES).await;
            }
            (job, res)
        });
    }
    let mut out = drain(set).await?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// What has been read so far, and what could not be.
#[derive(Default)]
struct Collector {
    snap: Snapshot,
    helm_objects: BTreeMap<StorageKey, Value>,
    /// The catalog words of each collection that failed, and how skipped entries name it.
    unread: Vec<(&'static [&'static str], String)>,
}

impl Collector {
    fn add_lists(
        &mut self,
        cluster: &Cluster,
        scope: &Scope,
        results: Vec<ListResult>,
    ) -> Result<(), String> {
        let mut first_failure = None;
        let mut any_read = false;
        for (i, ns, res) in results {
            let r = &RESOURCES[i];
            let what = match &ns {
                Some(ns) => format!("{} in namespace {ns}", r.what),
                None => r.what.to_string(),
            };
            match res {
                Ok(listed) => {
                    any_read = true;
                    if let Some(why) = listed.cut {
                        self.snap.skipped.push(Skipped::new(what.clone(), why));
                        self.unread.push((r.words, format!("all of {what}")));
                    }
                    self.snap.absorb(listed.snap);
                    self.helm_objects.extend(listed.helm_objects);
                }
                // Credentials that expire mid-run are as fatal as wrong ones.
                Err(f) if f.code() == Some(401) => return Err(connect::unusable(cluster, &f)),
                Err(f) => {
                    let reason = f.describe();
                    first_failure.get_or_insert_with(|| format!("{what}: {reason}"));
                    self.snap.skipped.push(Skipped::new(what.clone(), reason));
                    self.unread.push((r.words, what));
                }
            }
        }
        if any_read {
            return Ok(());
        }
        // RBAC that grants one namespace cannot grant the cluster-wide lists `check` starts with.
        let hint = if scope.namespace.is_none() {
            "; with access to one namespace only, pass -n NAMESPACE"
        } else {
            ""
        };
        Err(format!(
            "could not read anything from {}: {}{hint}",
            cluster.name(),
            first_failure.unwrap_or_default()
        ))
    }

    fn add_payloads(&mut self, fetched: Vec<PayloadResult>) {
        for (i, res) in fetched {
            let record = &self.snap.helm_records[i];
            let what = format!(
                "{} {}/{}",
                record.driver.kubectl_kind(),
                record.namespace,
                record.object_name
            );
            match res {
                Ok((parsed, obj)) => match parsed {
                    Some(full) => {
                        if let Some(obj) = obj {
                            self.helm_objects.insert(storage_key(&full), obj);
                        }
                        self.snap.helm_records[i] = full;
                    }
                    None => self
                        .snap
                        .skipped
                        .push(Skipped::new(what, "not helm release storage any more")),
                },
                // The labels still give status and revision; only the payload's details are missing.
                Err(f) => self.snap.skipped.push(Skipped::new(
                    what,
                    format!("payload not read: {}", f.describe()),
                )),
            }
        }
    }

    fn add_logs(&mut self, logs: Vec<LogResult>) {
        let mut failures = Vec::new();
        for ((key, previous), res) in logs {
            match res {
                Ok(Some(mut bytes)) => {
                    if bytes.len() >= LOG_TAIL_BYTES {
                        // Cut at the limit: the last line is a fragment that could match a
                        // signature out of context, and the lines after it were not read.
                        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                        bytes.truncate(whole);
                        self.snap.skipped.push(Skipped::new(
                            log_what(&key, previous),
                            format!(
                                "its last {LOG_RETRY_LINES} lines are longer than {} KiB; only their first {} KiB were read",
                                LOG_TAIL_BYTES / 1024,
                                LOG_TAIL_BYTES / 1024
                            ),
                        ));
                    }
                    let text = tail_of(&bytes, false);
                    let entry = self.snap.logs.entry(key).or_default();
                    if previous {
                        entry.previous = Some(text);
                    } else {
                        entry.current = Some(text);
                    }
                }
                Ok(None) => {}
                Err(f) => failures.push((key, previous, f)),
            }
        }
        record_log_failures(&mut self.snap, &failures);
        if !failures.is_empty() {
            self.unread.push((LOG_WORDS, "pod logs".to_string()));
        }
    }
}

/// How the catalog's `reads` name pod logs.
const LOG_WORDS: &[&str] = &["logs"];

async fn drain<T: 'static>(mut set: JoinSet<T>) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        out.push(done.map_err(|e| format!("internal error while collecting: {e}"))?);
    }
    Ok(out)
}

/// Items of a metadata-only list of helm storage: each becomes a record with its payload not
/// loaded. `objects` keeps the items for the snapshot writer.
fn add_storage_metadata(
    snap: &mut Snapshot,
    objects: Option<&mut BTreeMap<StorageKey, Value>>,
    driver: Driver,
    items: Vec<Box<RawValue>>,
) {
    let mut objects = objects;
    for item in items {
        let Ok(MetaOnly { metadata: meta }) = serde_json::from_str(item.get()) else {
            continue;
        };
        // Labelled owner=helm but not named as storage: some other tool's object.
        let Some(record) = ReleaseRecord::from_meta(driver, &meta, Payload::NotLoaded) else {
            continue;
        };
        if let Some(objects) = objects.as_deref_mut()
            && let Ok(whole) = serde_json::from_str(item.get())
        {
            objects.insert(storage_key(&record), whole);
        }
        snap.helm_records.push(record);
    }
}

/// (container, previous?) pairs worth a log request: every container of a pod that is not ready or
/// has restarted, and the previous instance of those that restarted.
fn log_jobs_for(snap: &Snapshot) -> Vec<LogJob> {
    let mut jobs = Vec::new();
    for p in snap.pods.iter().filter(|p| pod::is_troubled(p)) {
        for c in pod::container_statuses(p) {
            let key = LogKey {
                namespace: pod::namespace(p).to_string(),
                pod: pod::name(p).to_string(),
                container: c.name.clone(),
            };
            let terminated_before = c
                .last_state
                .as_ref()
                .is_some_and(|s| s.terminated.is_some());
            if c.restart_count > 0 || terminated_before {
                jobs.push((key.clone(), true));
            }
            jobs.push((key, false));
        }
    }
    jobs
}

fn log_what(key: &LogKey, previous: bool) -> String {
    let which = if previous { " (previous)" } else { "" };
    format!(
        "log of {}/{} container {}{which}",
        key.namespace, key.pod, key.container
    )
}

/// Not every failed log deserves a line: a forbidden `pods/log` fails them all alike.
const MAX_LOG_FAILURE_ENTRIES: usize = 10;

fn record_log_failures(snap: &mut Snapshot, failures: &[(LogKey, bool, Failure)]) {
    for (key, previous, f) in failures.iter().take(MAX_LOG_FAILURE_ENTRIES) {
        snap.skipped
            .push(Skipped::new(log_what(key, *previous), f.describe()));
    }
    if failures.len() > MAX_LOG_FAILURE_ENTRIES {
        snap.skipped.push(Skipped::new(
            "pod logs",
            format!(
                "{} more logs could not be read",
                failures.len() - MAX_LOG_FAILURE_ENTRIES
            ),
        ));
    }
}

/// One entry per unread collection naming the rules that read it (the catalog's `reads`), so that
/// a quiet report is never mistaken for a healthy cluster.
pub fn rules_not_run(catalog: &Catalog, unread: &[(&[&'static str], String)]) -> Vec<Skipped> {
    let mut out = Vec::new();
    for (words, what) in unread {
        let ids: Vec<&str> = catalog
            .rules
            .iter()
            .filter(|rule| {
                rule.reads.iter().any(|read| {
                    let read = read.to_lowercase();
                    words.iter().any(|w| read.contains(w))
                })
            })
            .map(|rule| rule.id.as_str())
            .collect();
        if !ids.is_empty() {
            out.push(Skipped::new(
                format!("rules {}", ids.join(", ")),
                format!("could not run fully: {what} could not be read"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::api::Page;
    use super::*;

    #[test]
    fn paths_cluster_wide_and_per_namespace() {
        let pods = RESOURCES.iter().find(|r| r.what == "pods").unwrap();
        assert_eq!(pods.path(None), "/api/v1/pods");
        assert_eq!(
            pods.path(Some("blueking")),
            "/api/v1/namespaces/blueking/pods"
        );
        let crds = RESOURCES
            .iter()
            .find(|r| r.plural == "customresourcedefinitions")
            .unwrap();
        assert_eq!(
            crds.path(Some("blueking")),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        );
        let leases = RESOURCES.iter().find(|r| r.plural == "leases").unwrap();
        assert_eq!(
            leases.namespaces(Some("blueking")),
            [Some("blueking".into()), Some("kube-node-lease".into())]
        );
        assert_eq!(leases.namespaces(None), [None]);
    }

    #[test]
    fn metadata_page_gives_records_without_payload() {
        let page: Page = serde_json::from_str(include_str!(
            "../../../tests/api-responses/secrets-metadata-page1.json"
        ))
        .unwrap();
        let mut snap = Snapshot::default();
        let mut objects = BTreeMap::new();
        add_storage_metadata(&mut snap, Some(&mut objects), Driver::Secret, page.items);
        assert_eq!(snap.helm_records.len(), 2);
        let r = &snap.helm_records[0];
        assert_eq!((r.name.as_str(), r.revision), ("bk-cmdb", 1));
        assert_eq!(r.label_status.as_deref(), Some("superseded"));
        assert_eq!(r.payload, Payload::NotLoaded);
        assert_eq!(objects.len(), 2);
    }

    #[test]
    fn forbidden_secrets_name_the_helm_rules() {
        let catalog = Catalog::builtin();
        let skipped = rules_not_run(
            &catalog,
            &[(RESOURCES[0].words, "secrets (helm release records)".into())],
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].what.contains("helm-operation-in-progress"));
        assert!(skipped[0].what.contains("helm-release-unreadable"));
        assert!(skipped[0].reason.contains("secrets"));
    }
}
