//! Watches and streaming lists over HTTP: the request's scope and shape handed to
//! [`crate::watch`], which keeps the history and writes the events; this file only turns its
//! stream into a response. It must not decide what a watch sends.

use std::sync::{Arc, Mutex};

use super::routing::{Shape, Target, shape};
use super::{RecordedRequest, Resp, WatchStream, bad_request, raw};
use crate::store::Store;

pub(super) fn watch(store: &Store, req: &RecordedRequest, target: &Target) -> Resp {
    let w = crate::watch::Watch {
        t: target.t,
        namespace: target.namespace,
        metadata_only: matches!(shape(req.accept.as_deref()), Shape::Metadata),
    };
    match crate::watch::start(store, req, w) {
        Err(e) => bad_request(&e),
        Ok(rx) => {
            let mut r = raw(200, "application/json", String::new());
            r.extensions_mut()
                .insert(WatchStream(Arc::new(Mutex::new(Some(rx)))));
            r
        }
    }
}
