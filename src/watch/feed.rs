//! One kube `runtime` watcher per [`Kind`], each turning its stream into [`Update`]s on one
//! channel. The watcher lists, then watches from the list's resourceVersion; it resumes from the
//! last one it saw after a dropped connection or an API server restart, and relists on `410 Gone`
//! (every relist is an [`Update::Relist`] … [`Update::Listed`] pair, so nothing deleted meanwhile
//! lingers). Helm's Secrets are watched metadata-only; the payload of a release's newest revision
//! is fetched only when it changes to failed or in progress. GET and watch requests only; it parses no
//! object itself ([`super::state`] does).

use std::time::Duration;

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::mpsc;

use super::state::{Kind, Update};
use crate::collect::live::api::Api;
use crate::snapshot::event;

/// What the feeds say besides objects: a watch that keeps failing, for the log.
#[derive(Debug)]
pub enum Note {
    Update(Update),
    /// A watch failed and is retried (with backoff): kind, why.
    Trouble(Kind, String),
}

fn resource(kind: Kind) -> ApiResource {
    let (group, version, k, plural, _) = kind.api();
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, k), plural)
}

fn config(kind: Kind) -> watcher::Config {
    let config = watcher::Config::default();
    match kind {
        Kind::HelmSecrets => config.labels("owner=helm"),
        // Warnings only, as `check` lists them; the volume controller's Normal events about
        // claims are read once at the start.
        Kind::Events => config.fields(event::LIVE_SELECTORS[0]),
        _ => config,
    }
}

/// Starts every feed; they run until the receiver is dropped.
pub fn start(api: &Api, namespace: Option<&str>, tx: mpsc::Sender<Note>) {
    for kind in Kind::ALL {
        let client = api.client();
        let ar = resource(kind);
        let namespaced = kind.api().4;
        let tx = tx.clone();
        let api = api.clone();
        let namespace = namespace.filter(|_| namespaced).map(str::to_string);
        tokio::spawn(async move {
            if kind == Kind::HelmSecrets {
                // Metadata-only: helm's payloads are most of a cluster's Secret bytes.
                let meta: kube::Api<PartialObjectMeta<DynamicObject>> = match &namespace {
                    Some(ns) => kube::Api::namespaced_with(client, ns, &ar),
                    None => kube::Api::all_with(client, &ar),
                };
                let stream = watcher::watcher(meta, config(kind))
                    .default_backoff()
                    .map(|e| e.map(as_values));
                run(kind, stream, tx, Some(api)).await;
            } else {
                let dynamic: kube::Api<DynamicObject> = match &namespace {
                    Some(ns) => kube::Api::namespaced_with(client, ns, &ar),
                    None => kube::Api::all_with(client, &ar),
                };
                let stream = watcher::watcher(dynamic, config(kind))
                    .default_backoff()
                    .map(|e| e.map(as_values));
                run(kind, stream, tx, None).await;
            }
        });
    }
}

/// An event's object as JSON, the form [`super::state`] reads every object in.
fn as_values<K: serde::Serialize>(e: Event<K>) -> Event<Value> {
    let v = |o: K| serde_json::to_value(o).unwrap_or_default();
    match e {
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
        Event::InitApply(o) => Event::InitApply(v(o)),
        Event::Apply(o) => Event::Apply(v(o)),
        Event::Delete(o) => Event::Delete(v(o)),
    }
}

async fn run(
    kind: Kind,
    stream: impl futures::Stream<Item = Result<Event<Value>, watcher::Error>>,
    tx: mpsc::Sender<Note>,
    payloads: Option<Api>,
) {
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let update = match item {
            Ok(Event::Init) => Update::Relist(kind),
            Ok(Event::InitDone) => Update::Listed(kind),
            // A (re)list brings every record: the first reading fetched the payloads the rules
            // need, and a record whose labels did not change keeps its payload.
            Ok(Event::InitApply(o)) => Update::Seen(kind, o),
            Ok(Event::Apply(o)) => {
                let o = match &payloads {
                    Some(api) => with_payload(api, o).await,
                    None => o,
                };
                Update::Seen(kind, o)
            }
            Ok(Event::Delete(o)) => Update::Gone(kind, o),
            Err(e) => {
                if tx.send(Note::Trouble(kind, describe(&e))).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if tx.send(Note::Update(update)).await.is_err() {
            return;
        }
    }
}

/// The whole Secret of a helm record that failed or is in progress: its payload says why
/// (`context deadline exceeded`, the hook that failed). Any other record stays label-only.
async fn with_payload(api: &Api, meta: Value) -> Value {
    let labels = &meta["metadata"]["labels"];
    let status = labels["status"].as_str().unwrap_or("");
    if status != "failed" && !status.starts_with("pending-") {
        return meta;
    }
    let (Some(ns), Some(name)) = (
        meta["metadata"]["namespace"].as_str(),
        meta["metadata"]["name"].as_str(),
    ) else {
        return meta;
    };
    let path = format!("/api/v1/namespaces/{ns}/secrets");
    match tokio::time::timeout(Duration::from_secs(30), api.get_object(&path, name)).await {
        Ok(Ok(whole)) => whole,
        _ => meta,
    }
}

fn describe(e: &watcher::Error) -> String {
    match e {
        watcher::Error::WatchError(s) if s.code == 410 => {
            "410 Gone: the resourceVersion was compacted; listing again".to_string()
        }
        other => crate::collect::live::api::root_cause(other),
    }
}
