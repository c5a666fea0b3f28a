//! Pod logs: which containers of the troubled pods are worth a log request, reading each bounded
//! tail, as many at once as fit the count within a polite bound, and recording the logs that could
//! not be read. It reads only the pods the lists already gave, and no other object.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::api::{Api, Failure};
use super::{Collector, drain};
use crate::collect::logs::tail_of;
use crate::findings::Skipped;
use crate::snapshot::{
    LOG_TAIL_BYTES, LOG_TAIL_LINES, LogFailure, LogKey, Snapshot, kubelet_has_no_log, pod,
};

/// Lines asked for again when the last [`LOG_TAIL_LINES`] do not fit in [`LOG_TAIL_BYTES`].
const LOG_RETRY_LINES: usize = 20;

/// Log reads in flight at once, when there are that many: over a remote link every wave of them
/// is a round trip, and 300 logs 8 at a time were 38 waves. kube-apiserver serves `pods/log` as a
/// long-running request (its `LongRunningFunc` names the `log` subresource), which neither the
/// max-in-flight limit nor priority and fairness count: the load lands on the kubelets, and
/// [`LOG_CONCURRENCY_PER_NODE`] bounds that.
pub const LOG_CONCURRENCY: usize = 64;

/// Log reads in flight at once on one node: its kubelet reads them from the container runtime's
/// files, and a doctor run must not become the load that tips a struggling node over.
pub const LOG_CONCURRENCY_PER_NODE: usize = 4;

type LogJob = (LogKey, bool);
type LogResult = (LogJob, Result<bytes::Bytes, Failure>);

/// Reads the logs of `jobs` (each with the node its pod runs on): all at once when they are few,
/// else [`LOG_CONCURRENCY`] at a time and [`LOG_CONCURRENCY_PER_NODE`] per node.
pub(super) async fn fetch_logs(
    api: &Api,
    jobs: Vec<(LogJob, String)>,
) -> Result<Vec<LogResult>, String> {
    let sem = Arc::new(Semaphore::new(jobs.len().clamp(1, LOG_CONCURRENCY)));
    let mut nodes: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut set = JoinSet::new();
    for (job, node) in jobs {
        let node = nodes
            .entry(node)
            .or_insert_with(|| Arc::new(Semaphore::new(LOG_CONCURRENCY_PER_NODE)))
            .clone();
        let (api, sem) = (api.clone(), sem.clone());
        set.spawn(async move {
            // The node's turn first, so that a busy node does not hold slots others could use.
            let _node = node.acquire_owned().await;
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
            if matches!(&res, Ok(b) if b.len() >= LOG_TAIL_BYTES) {
                res = read(LOG_RETRY_LINES).await;
            }
            (job, res)
        });
    }
    let mut out = drain(set).await?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

impl Collector {
    pub(super) fn add_logs(&mut self, logs: Vec<LogResult>) {
        let mut failures = Vec::new();
        for ((key, previous), res) in logs {
            match res {
                Ok(mut bytes) => {
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
                    if kubelet_has_no_log(&text) {
                        continue;
                    }
                    let entry = self.snap.logs.entry(key).or_default();
                    if previous {
                        entry.previous = Some(text);
                    } else {
                        entry.current = Some(text);
                    }
                }
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
pub(super) const LOG_WORDS: &[&str] = &["logs"];

/// (container, previous?) pairs worth a log request: every container of a pod that is not ready or
/// has restarted, and the previous instance of those that restarted; each with its pod's node.
///
/// The kubelet picks the instance a log read means from the container's status
/// (`validateContainerLogStatus`): the current read of a container that is neither running nor
/// terminated is served from its last terminated instance, the very log `previous` reads, and is
/// refused when there is none. So a crash-looping container waiting out its back-off costs one read,
/// not two, and one waiting for its image or its volumes none.
pub(super) fn log_jobs_for(snap: &Snapshot) -> Vec<(LogJob, String)> {
    let mut jobs = Vec::new();
    for p in snap.pods.iter().filter(|p| pod::is_troubled(p)) {
        let node = pod::node(p).unwrap_or_default();
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
                jobs.push(((key.clone(), true), node.to_string()));
            }
            if !pod::log_is_last_instance(c) && !pod::has_no_log_yet(c) {
                jobs.push(((key, false), node.to_string()));
            }
        }
    }
    jobs
}

pub(crate) fn log_what(key: &LogKey, previous: bool) -> String {
    let which = if previous { " (previous)" } else { "" };
    format!(
        "log of {}/{} container {}{which}",
        key.namespace, key.pod, key.container
    )
}

/// Not every failed log deserves a line: a forbidden `pods/log` fails them all alike.
const MAX_LOG_FAILURE_ENTRIES: usize = 10;

pub(super) fn record_log_failures(snap: &mut Snapshot, failures: &[(LogKey, bool, Failure)]) {
    // Every answer the API server gave goes to the rules too, in its own words: a 5xx is how a
    // kubelet out of reach shows, a 404 or 400 names what was gone. A timeout or a broken
    // connection has no answer to keep; it is said in `skipped` alone.
    for (key, previous, f) in failures {
        let Failure::Api {
            code,
            reason,
            message,
        } = f
        else {
            continue;
        };
        let node = snap
            .pods
            .iter()
            .find(|p| pod::namespace(p) == key.namespace && pod::name(p) == key.pod)
            .and_then(pod::node)
            .map(str::to_string);
        snap.log_failures.push(LogFailure {
            namespace: key.namespace.clone(),
            pod: key.pod.clone(),
            container: key.container.clone(),
            previous: *previous,
            node,
            code: Some(*code),
            reason: (!reason.is_empty()).then(|| reason.clone()),
            message: message.clone(),
        });
    }
    say_failures(
        snap,
        failures
            .iter()
            .map(|(key, previous, f)| (log_what(key, *previous), f.describe())),
    );
}

/// The "not examined" lines of logs not read: the first [`MAX_LOG_FAILURE_ENTRIES`] by name, then
/// how many more.
fn say_failures(snap: &mut Snapshot, said: impl ExactSizeIterator<Item = (String, String)>) {
    let n = said.len();
    for (what, why) in said.take(MAX_LOG_FAILURE_ENTRIES) {
        snap.skipped.push(Skipped::new(what, why));
    }
    if n > MAX_LOG_FAILURE_ENTRIES {
        snap.skipped.push(Skipped::new(
            "pod logs",
            format!(
                "{} more logs could not be read",
                n - MAX_LOG_FAILURE_ENTRIES
            ),
        ));
    }
}

/// A snapshot whose `logFailures` were not also said in its `skipped` (one not written by this
/// tool, or by a version before it said them): the same lines a live run gives, from the recorded
/// answers, so that a log the collection could not read is never silently missing offline.
pub(crate) fn say_recorded_failures(snap: &mut Snapshot) {
    let said = snap
        .skipped
        .iter()
        .any(|s| s.what.starts_with("log of ") || s.what == "pod logs");
    if said || snap.log_failures.is_empty() {
        return;
    }
    let lines: Vec<(String, String)> = snap
        .log_failures
        .iter()
        .map(|f| {
            let key = LogKey {
                namespace: f.namespace.clone(),
                pod: f.pod.clone(),
                container: f.container.clone(),
            };
            (log_what(&key, f.previous), f.answer())
        })
        .collect();
    say_failures(snap, lines.into_iter());
}
