//! Watches and streaming lists: the current objects, then every change while the server runs.
//! It keeps no history: a watch from a later resourceVersion sees only new changes.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{Value, json};

use super::routing::Target;
use super::{RecordedRequest, Resp, WatchStream, bad_request, raw};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::Store;

/// A watch: the current objects as ADDED when the client starts from no resourceVersion or "0"
/// (there is no history to replay from a later one), then every change while the server runs,
/// one JSON event per line, until `timeoutSeconds` or the client goes.
pub(super) fn watch(store: &Store, req: &RecordedRequest, target: &Target) -> Resp {
    let t = target.t;
    let labels = match LabelSelector::parse(req.param("labelSelector").unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return bad_request(&e),
    };
    let fields = match FieldSelector::parse(req.param("fieldSelector").unwrap_or(""), &t.resource) {
        Ok(s) => s,
        Err(e) => return bad_request(&e),
    };
    let Some(changes) = &store.changes else {
        return bad_request("watch is not available before the server starts");
    };
    let mut changes = changes.subscribe();
    let namespace = target.namespace.map(str::to_string);
    let in_scope = move |o: &Value| {
        namespace
            .as_deref()
            .is_none_or(|ns| o["metadata"]["namespace"] == ns)
            && labels.matches(o)
            && fields.matches(o)
    };
    let send_initial = req.param("sendInitialEvents") == Some("true");
    let initial: Vec<Value> = match req.param("resourceVersion") {
        _ if send_initial => store
            .objects
            .get(&(t.group.clone(), t.resource.clone()))
            .into_iter()
            .flat_map(|b| b.values())
            .filter(|o| in_scope(o))
            .cloned()
            .collect(),
        None | Some("" | "0") => store
            .objects
            .get(&(t.group.clone(), t.resource.clone()))
            .into_iter()
            .flat_map(|b| b.values())
            .filter(|o| in_scope(o))
            .cloned()
            .collect(),
        Some(_) => Vec::new(),
    };
    let timeout = req
        .param("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .unwrap_or(1800u64);
    let (group, resource) = (t.group.clone(), t.resource.clone());
    // A streaming list (sendInitialEvents=true) ends its initial objects with this bookmark.
    let initial_end = send_initial.then(|| {
        json!({
            "kind": t.kind,
            "apiVersion": t.api_version(),
            "metadata": {
                "resourceVersion": store.resource_version.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"},
            },
        })
    });
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let line = |kind: &str, object: &Value| {
        let mut text = json!({"type": kind, "object": object}).to_string();
        text.push('\n');
        Bytes::from(text)
    };
    tokio::spawn(async move {
        for o in &initial {
            if tx.send(line("ADDED", o)).await.is_err() {
                return;
            }
        }
        if let Some(b) = &initial_end
            && tx.send(line("BOOKMARK", b)).await.is_err()
        {
            return;
        }
        let deadline = tokio::time::sleep(std::time::Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            let change = tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                c = changes.recv() => c,
            };
            match change {
                Ok(c) if c.group == group && c.resource == resource && in_scope(&c.object) => {
                    if tx.send(line(c.kind, &c.object)).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let mut r = raw(200, "application/json", String::new());
    r.extensions_mut()
        .insert(WatchStream(Arc::new(Mutex::new(Some(rx)))));
    r
}
