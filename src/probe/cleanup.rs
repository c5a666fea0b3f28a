//! Leaving nothing behind: the names of the pods a run created, the signals that cut a run short,
//! and deleting probe pods (this run's, and earlier runs' once their deadline is past). It creates
//! nothing and judges no node.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{list_pods, pod};
use crate::collect::live::CONCURRENCY;
use crate::collect::live::api::{Api, ProbeWrite};

/// Deleting everything on the way out may not take longer than this; what is left, the next run
/// cleans up.
pub(super) const CLEANUP_LIMIT: Duration = Duration::from_secs(30);

/// The names of every pod this run asked the API server to create, registered before the request
/// goes out: a request cancelled by Ctrl-C may still have created its pod.
#[derive(Clone, Default)]
pub(super) struct Created(Arc<Mutex<Vec<String>>>);

impl Created {
    pub(super) fn add(&self, name: &str) {
        self.0.lock().unwrap().push(name.to_string());
    }

    /// The API server refused to create it: there is nothing to delete, and a DELETE would only
    /// be refused in turn.
    pub(super) fn forget(&self, name: &str) {
        self.0.lock().unwrap().retain(|n| n != name);
    }

    pub(super) fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

pub(super) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Pods of earlier runs that were killed before they could clean up. Best effort: a failure here
/// must not stop this run's probes.
pub(super) async fn remove_leftovers(api: &Api, ns: &str) {
    let Ok((pods, Some(now))) = list_pods(api, ns, pod::SELECTOR).await else {
        return;
    };
    let old: Vec<String> = pods
        .iter()
        .filter(|p| pod::abandoned(p, now))
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    if old.is_empty() {
        return;
    }
    let left = delete_all(api, ns, &old).await;
    let deleted: Vec<&String> = old.iter().filter(|n| !left.contains(n)).collect();
    if !deleted.is_empty() {
        eprintln!(
            "note: deleted {} probe pod(s) left by an earlier run in namespace {ns}: {}",
            deleted.len(),
            deleted
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// Deletes the named probe pods; returns those that could not be deleted. A pod that is already
/// gone (404) counts as deleted.
pub(super) async fn delete_all(api: &Api, ns: &str, names: &[String]) -> Vec<String> {
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let mut set = JoinSet::new();
    for name in names {
        let (api, sem, ns, name) = (api.clone(), sem.clone(), ns.to_string(), name.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let res = api
                .probe_write(ProbeWrite::Delete {
                    namespace: &ns,
                    name: &name,
                })
                .await;
            let ok =
                matches!(res, Ok(ref raw) if (200..300).contains(&raw.status) || raw.status == 404);
            (name, ok)
        });
    }
    let mut left = Vec::new();
    let all = async {
        while let Some(done) = set.join_next().await {
            if let Ok((name, false)) = done {
                left.push(name);
            }
        }
    };
    if tokio::time::timeout(CLEANUP_LIMIT, all).await.is_err() {
        return names.to_vec();
    }
    left.sort();
    left
}
