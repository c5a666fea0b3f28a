//! Watches as kube-apiserver's watch cache serves them: the current objects as `ADDED` when a
//! watch starts from no resourceVersion (or `0`), the changes after a given resourceVersion replayed
//! from a bounded history, `410 Gone` (an `ERROR` event, as the cache sends it) for a
//! resourceVersion older than the history holds, `BOOKMARK`s when the client allows them, and then
//! every change while the server runs, one JSON event per line. It reads the store and never
//! changes an object; tests change objects through [`crate::Objects`].

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::RecordedRequest;
use crate::store::{Change, Store};

/// Changes kept for watches that resume: the watch cache keeps a window of about this many
/// (its default capacity grows to 100 000 on a busy cluster; a test needs far fewer).
const KEPT: usize = 10_000;

/// Changes a watch may fall behind by before it is closed (and its client resumes).
pub(crate) const CHANGES_QUEUED: usize = 1024;

/// The changes since the server started, the oldest dropped first, as the watch cache's ring.
#[derive(Default)]
pub struct History {
    events: VecDeque<(u64, Change)>,
    /// A watch may resume from this resourceVersion or later; `None` until the first change,
    /// when it is the revision the server started at.
    oldest: Option<u64>,
    /// How often a watch that allows bookmarks gets one; kube-apiserver sends one about every
    /// minute, and before the watch's timeout.
    bookmark_every: Option<Duration>,
}

impl History {
    pub(crate) fn keep(&mut self, before: u64, rv: u64, change: &Change) {
        self.oldest.get_or_insert(before);
        if self.events.len() == KEPT
            && let Some((dropped, _)) = self.events.pop_front()
        {
            self.oldest = Some(dropped);
        }
        self.events.push_back((rv, change.clone()));
    }

    /// Forgets every change up to now, as etcd's compaction and a restarted watch cache do: a
    /// watch resuming from an older resourceVersion is answered `410 Gone`.
    fn compact(&mut self, now: u64) {
        self.events.clear();
        self.oldest = Some(now);
    }
}

impl crate::Objects<'_> {
    /// Compacts the history watches resume from (see [`History`]).
    pub fn compact(&mut self) {
        let now = self.store.resource_version;
        self.store.history.compact(now);
    }

    /// Ends every open watch stream now, as an API server restart or a dropped connection does:
    /// each stream sends what it had queued, then ends, and its client must watch again.
    pub fn end_watches(&mut self) {
        if let Some(changes) = &mut self.store.changes {
            // The watches hear changes through this sender; without it they see the channel
            // closed once they have sent the rest, and end. New watches subscribe to the new one.
            *changes = tokio::sync::broadcast::channel(CHANGES_QUEUED).0;
        }
    }

    /// Sends watches that allow bookmarks one this often instead of about every minute.
    pub fn bookmark_every(&mut self, every: Duration) {
        self.store.history.bookmark_every = Some(every);
    }
}

/// One watch request, its resource and namespace already resolved by the router.
pub struct Watch<'a> {
    pub t: &'a ResourceType,
    pub namespace: Option<&'a str>,
    /// `Accept: ...;as=PartialObjectMetadata`: every object as metadata only.
    pub metadata_only: bool,
}

fn rv_of(o: &Value) -> u64 {
    o["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Starts a watch: `Err` is the message of a 400 answer, `Ok` the stream of event lines.
pub fn start(
    store: &Store,
    req: &RecordedRequest,
    w: Watch<'_>,
) -> Result<tokio::sync::mpsc::Receiver<Bytes>, String> {
    let t = w.t;
    let labels = LabelSelector::parse(req.param("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(req.param("fieldSelector").unwrap_or(""), &t.resource)?;
    let Some(changes) = &store.changes else {
        return Err("watch is not available before the server starts".into());
    };
    // Subscribed under the store's lock: no change falls between what is sent first and the rest.
    let mut changes = changes.subscribe();
    let namespace = w.namespace.map(str::to_string);
    let in_scope = move |o: &Value| {
        namespace
            .as_deref()
            .is_none_or(|ns| o["metadata"]["namespace"] == ns)
            && labels.matches(o)
            && fields.matches(o)
    };
    let current = || -> Vec<(&'static str, Value)> {
        store
            .objects
            .get(&(t.group.clone(), t.resource.clone()))
            .into_iter()
            .flat_map(|b| b.values())
            .filter(|o| in_scope(o))
            .map(|o| ("ADDED", o.clone()))
            .collect()
    };
    let send_initial = req.param("sendInitialEvents") == Some("true");
    let bookmarks = req.param("allowWatchBookmarks") == Some("true");
    let now = store.resource_version;
    let mut expired = None;
    let first: Vec<(&'static str, Value)> = match req.param("resourceVersion") {
        _ if send_initial => current(),
        None | Some("" | "0") => current(),
        Some(v) => {
            let Ok(from) = v.parse::<u64>() else {
                return Err(format!("invalid resource version: {v}"));
            };
            let oldest = store.history.oldest.unwrap_or(now);
            if from < oldest {
                expired = Some(format!("too old resource version: {from} ({oldest})"));
                Vec::new()
            } else {
                store
                    .history
                    .events
                    .iter()
                    .filter(|(rv, c)| {
                        *rv > from
                            && c.group == t.group
                            && c.resource == t.resource
                            && in_scope(&c.object)
                    })
                    .map(|(_, c)| (c.kind, c.object.clone()))
                    .collect()
            }
        }
    };
    let timeout = req
        .param("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .unwrap_or(1800u64);
    let bookmark_every = store
        .history
        .bookmark_every
        .unwrap_or(Duration::from_secs(60));
    let (group, resource) = (t.group.clone(), t.resource.clone());
    let (kind, api_version) = match w.metadata_only {
        true => (
            "PartialObjectMetadata".to_string(),
            "meta.k8s.io/v1".to_string(),
        ),
        false => (t.kind.clone(), t.api_version()),
    };
    let metadata_only = w.metadata_only;
    let bookmark = move |rv: u64, initial_end: bool| {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"kind": kind, "apiVersion": api_version, "metadata": metadata})
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let line = move |kind: &str, object: &Value| {
        let object = match metadata_only {
            true => json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object["metadata"],
            }),
            false => object.clone(),
        };
        let mut text = json!({"type": kind, "object": object}).to_string();
        text.push('\n');
        Bytes::from(text)
    };
    tokio::spawn(async move {
        if let Some(message) = expired {
            // The watch cache answers an expired resourceVersion inside a 200 stream, not with a
            // 410 status: the watch had already been accepted.
            let status = json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": message, "reason": "Expired", "code": 410,
            });
            let text = format!("{}\n", json!({"type": "ERROR", "object": status}));
            let _ = tx.send(Bytes::from(text)).await;
            return;
        }
        let mut latest = now;
        for (kind, o) in &first {
            latest = latest.max(rv_of(o));
            if tx.send(line(kind, o)).await.is_err() {
                return;
            }
        }
        if send_initial
            && bookmarks
            && tx
                .send(line("BOOKMARK", &bookmark(latest, true)))
                .await
                .is_err()
        {
            return;
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut ticks = tokio::time::interval(bookmark_every);
        ticks.tick().await;
        loop {
            let change = tokio::select! {
                _ = &mut deadline => {
                    if bookmarks {
                        let _ = tx.send(line("BOOKMARK", &bookmark(latest, false))).await;
                    }
                    return;
                }
                _ = tx.closed() => return,
                _ = ticks.tick(), if bookmarks => {
                    if tx.send(line("BOOKMARK", &bookmark(latest, false))).await.is_err() {
                        return;
                    }
                    continue;
                }
                c = changes.recv() => c,
            };
            match change {
                Ok(c) => {
                    let rv = rv_of(&c.object);
                    // Replayed above already, or older than where this watch started.
                    if rv <= latest {
                        continue;
                    }
                    latest = rv;
                    if c.group == group
                        && c.resource == resource
                        && in_scope(&c.object)
                        && tx.send(line(c.kind, &c.object)).await.is_err()
                    {
                        return;
                    }
                }
                // A watcher too slow for the changes is closed, as the cache closes it: the client
                // resumes from the last resourceVersion it saw, and loses nothing.
                Err(RecvError::Lagged(_) | RecvError::Closed) => return,
            }
        }
    });
    Ok(rx)
}
