//! The logs of the pods that the rules name (`Scope::ready_logs_of`), Ready or not: for each running
//! container, the start of its current log (since the container started, bounded) and, when the
//! log is longer than that, its tail; kept together as one current log. A handful of pods, each
//! read at most twice; it reads no other pod's log and decides nothing about what a log means.

use std::sync::Arc;

use jiff::Timestamp;
use kube::api::LogParams;
use kube::core::Request;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::api::{Api, Failure};
use super::{Collector, drain};
use crate::collect::logs::head_and_tail;
use crate::snapshot::ready_logs::{
    LOG_HEAD_BYTES, PodSelector, READY_TAIL_BYTES, READY_TAIL_LINES, running_named,
};
use crate::snapshot::{LogKey, Snapshot, kubelet_has_no_log, pod};

/// Reads in flight at once: the pods are few, and a doctor run must stay light on their nodes.
const CONCURRENCY: usize = 4;

/// A running container of a watched pod, and when it started.
pub(super) type ReadyJob = (LogKey, Option<Timestamp>);
pub(super) type ReadyResult = (LogKey, Result<Option<String>, Failure>);

/// The running containers of the pods `selectors` names, ready or not: their current log is read
/// start and end instead of as a tail.
pub(super) fn ready_jobs(snap: &Snapshot, selectors: &[PodSelector]) -> Vec<ReadyJob> {
    let mut jobs = Vec::new();
    for (ns, name, container) in running_named(selectors, &snap.pods) {
        let started = snap
            .pods
            .iter()
            .find(|p| pod::namespace(p) == ns && pod::name(p) == name)
            .and_then(|p| {
                pod::container_statuses(p)
                    .find(|c| c.name == container)?
                    .state
                    .as_ref()?
                    .running
                    .as_ref()?
                    .started_at
                    .as_ref()
                    .map(|t| t.0)
            });
        let key = LogKey {
            namespace: ns.to_string(),
            pod: name.to_string(),
            container: container.to_string(),
        };
        jobs.push((key, started));
    }
    jobs
}

/// Reads each job's head, then its tail when the head is not the whole log.
pub(super) async fn fetch_ready_logs(
    api: &Api,
    jobs: Vec<ReadyJob>,
) -> Result<Vec<ReadyResult>, String> {
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let mut set = JoinSet::new();
    for (key, since) in jobs {
        let (api, sem) = (api.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let (ns, p, c) = (&key.namespace, &key.pod, &key.container);
            let head = match log_head(&api, ns, p, c, since).await {
                Ok(b) => b,
                Err(f) => return (key, Err(f)),
            };
            if head.len() < LOG_HEAD_BYTES {
                return (key, Ok(Some(head_and_tail(&head, true, &[], false))));
            }
            let lines = READY_TAIL_LINES as i64;
            let tail = api
                .log(ns, p, c, false, lines, READY_TAIL_BYTES as i64)
                .await;
            let text = tail.map(|t| {
                // Cut by the byte bound: its first line may be a fragment.
                let cut = t.len() >= READY_TAIL_BYTES;
                Some(head_and_tail(&head, false, &t, cut))
            });
            (key, text)
        });
    }
    let mut out = drain(set).await?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The start of a container's current log: its first [`LOG_HEAD_BYTES`] since `since` (the
/// container's start), read from the beginning rather than the end. A pod gone or a container not
/// running (400, 404) is a failure like any other: a log wanted and not read.
async fn log_head(
    api: &Api,
    namespace: &str,
    pod: &str,
    container: &str,
    since: Option<Timestamp>,
) -> Result<bytes::Bytes, Failure> {
    let lp = LogParams {
        container: Some(container.to_string()),
        since_time: since,
        limit_bytes: Some(LOG_HEAD_BYTES as i64),
        ..LogParams::default()
    };
    let req = Request::new(format!("/api/v1/namespaces/{namespace}/pods"))
        .logs(pod, &lp)
        .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
    api.get_capped(req, Some(LOG_HEAD_BYTES)).await
}

impl Collector {
    pub(super) fn add_ready_logs(&mut self, logs: Vec<ReadyResult>) {
        let mut failures = Vec::new();
        for (key, res) in logs {
            match res {
                Ok(Some(text)) if !kubelet_has_no_log(&text) => {
                    self.snap.logs.entry(key).or_default().current = Some(text);
                }
                Ok(_) => {}
                Err(f) => failures.push((key, false, f)),
            }
        }
        if !failures.is_empty() {
            super::logs::record_log_failures(&mut self.snap, &failures);
            self.unread
                .push((super::logs::LOG_WORDS, "pod logs".to_string()));
        }
    }
}
