//! Reads a live cluster into the same [`Snapshot`] a snapshot directory gives, so the rules cannot
//! tell the two apart. Objects go through the same [`Ingest`](super::ingest::Ingest) as files do.
//!
//! What makes it fast on a big cluster: every list runs at once, in pages; helm storage is listed
//! metadata-only and only the payloads a rule looks inside are fetched ([`helm_plan`]); only
//! troubled pods' logs are read, bounded, a few at a time. What makes it safe: only GET requests
//! ([`api::Api::send`] refuses anything else). What makes it tolerant: a list that is forbidden,
//! missing or slow becomes a `skipped` entry naming the rules it starves, and the rest still runs.
//!
//! This file assembles the run: the lists ([`lists`]), then helm payloads ([`payloads`], chosen by
//! [`helm_plan`]) and pod logs ([`logs`]) side by side, into one [`Collected`]. It knows no rule:
//! what the rules need read beyond the troubled objects comes in [`Scope`]. It writes nothing to
//! disk ([`write`](mod@write) does) and parses no object itself ([`Ingest`](super::ingest::Ingest) does).

pub mod api;
pub mod connect;
pub mod helm_plan;
pub mod lists;
pub mod logs;
pub mod payloads;
pub mod progress;
pub mod ready_logs;
pub mod write;
pub mod write_archive;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::Value;
use tokio::task::JoinSet;

use self::api::api_failure;
use self::connect::Cluster;
use self::lists::{ListResult, list_all, records_named};
pub use self::lists::{RESOURCES, Resource};
use self::logs::{fetch_logs, log_jobs_for};
use self::payloads::fetch_payloads;
use crate::catalog::Catalog;
use crate::findings::Skipped;
use crate::helm::ReleaseRecord;
use crate::snapshot::{PodSpecRead, Snapshot, pod};

/// Payload requests in flight at once: each holds its answer whole until it is decoded. Six lists
/// of [`helm_plan::PAYLOADS_PER_LIST`] payloads are as many round trips for a thousand releases'
/// needs as eight (three), with a quarter less of them in memory at once.
pub const CONCURRENCY: usize = 6;

#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    /// A release whose every revision's payload is wanted.
    pub full_history_of: Option<String>,
    /// Keep what the snapshot writer needs: storage objects as fetched, payload included, and
    /// pods whole. Without it a payload is decoded as it arrives and dropped (a thousand releases'
    /// payloads are a few hundred MiB that `check` never looks at again), and pods keep only
    /// [`pod_spec_read`](Self::pod_spec_read) of their spec.
    pub for_snapshot: bool,
    /// Fetch the newest payload of healthy releases too (`--all-releases`).
    pub every_release: bool,
    /// Releases whose newest payload the rules read even when healthy, looked up in every
    /// namespace when the scope is one: the caller passes what the rules declare, so the collector
    /// knows no rule.
    pub read_by_name: &'static [&'static str],
    /// What the rules read of a pod's spec, as they declare it: all a `check` keeps of it.
    pub pod_spec_read: PodSpecRead,
    /// The ready pods whose current logs the rules read (start and end), as they declare them.
    pub ready_logs_of: Vec<crate::snapshot::ready_logs::PodSelector>,
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
    // The lists go out beside the probe, not a round trip after it; when the probe says the
    // cluster cannot be used, its one line is the answer and the lists are dropped.
    let (server_time, lists) = tokio::try_join!(probe(cluster), list_all(&cluster.api, scope))?;
    let mut c = Collector::default();
    c.add_lists(cluster, scope, lists)?;
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
    let ready = ready_logs::ready_jobs(&c.snap, &scope.ready_logs_of);
    // A named container's current log is read start and end there, not as a tail here.
    let jobs: Vec<_> = log_jobs_for(&c.snap)
        .into_iter()
        .filter(|((key, previous), _)| *previous || !ready.iter().any(|(k, _)| k == key))
        .collect();
    let (payloads, logs, ready) = tokio::join!(
        fetch_payloads(
            &cluster.api,
            &c.snap.helm_records,
            plan,
            scope.for_snapshot,
            scope.namespace.is_none(),
        ),
        fetch_logs(&cluster.api, jobs),
        ready_logs::fetch_ready_logs(&cluster.api, ready)
    );
    c.add_payloads(payloads?);
    c.add_logs(logs?);
    c.add_ready_logs(ready?);

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
}

async fn drain<T: 'static>(mut set: JoinSet<T>) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        out.push(done.map_err(|e| format!("internal error while collecting: {e}"))?);
    }
    Ok(out)
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
    use super::*;

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
