//! Events as evidence. An event is a record of something that happened, not of how things are: it
//! stays readable for about an hour after its last occurrence, long after a pod recovered. Rules
//! therefore read only events whose last occurrence is within [`RECENT`] of the snapshot's time, and
//! only for objects that are in trouble now (the caller decides that from the object itself).

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Event;

use super::Ctx;
use crate::snapshot::Snapshot;

/// How far back an event still counts: the API server's default event TTL.
pub const RECENT: SignedDuration = SignedDuration::from_hours(1);

/// When the event last happened: the newest of its series, its `lastTimestamp`, its `eventTime`
/// (events.k8s.io writers), its `firstTimestamp`, its creation.
pub fn last_seen(e: &Event) -> Option<Timestamp> {
    e.series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0)
        .or_else(|| e.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// When it first happened.
pub fn first_seen(e: &Event) -> Option<Timestamp> {
    e.first_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// How many times it happened (`×11` in `kubectl describe`).
pub fn count(e: &Event) -> i32 {
    e.series
        .as_ref()
        .and_then(|s| s.count)
        .or(e.count)
        .unwrap_or(1)
        .max(1)
}

pub fn reason(e: &Event) -> &str {
    e.reason.as_deref().unwrap_or("")
}

pub fn message(e: &Event) -> &str {
    e.message.as_deref().unwrap_or("")
}

/// The container an event is about, from `involvedObject.fieldPath` (`spec.containers{web}`,
/// `spec.initContainers{check-mysql}`).
pub fn container(e: &Event) -> Option<&str> {
    let path = e.involved_object.field_path.as_deref()?;
    let (_, rest) = path.split_once('{')?;
    rest.strip_suffix('}')
}

/// The recent events of each object, newest first, indexed once: rules look up many pods, and a
/// big cluster has thousands of events.
pub struct Recent<'a> {
    /// By object name; kind and namespace are checked on the few events of one name.
    by_name: HashMap<&'a str, Vec<&'a Event>>,
}

impl<'a> Recent<'a> {
    /// Events whose last occurrence is within `within` before `now` (a little after it too: the
    /// node that reported it may have a clock ahead of the reference).
    pub fn new(snap: &'a Snapshot, now: Timestamp, within: SignedDuration) -> Self {
        let mut by_name: HashMap<&str, Vec<&Event>> = HashMap::new();
        for e in &snap.events {
            let Some(t) = last_seen(e) else { continue };
            if now.duration_since(t) > within {
                continue;
            }
            let name = e.involved_object.name.as_deref().unwrap_or("");
            by_name.entry(name).or_default().push(e);
        }
        for list in by_name.values_mut() {
            list.sort_by_key(|e| std::cmp::Reverse(last_seen(e)));
        }
        Recent { by_name }
    }

    /// The recent events of one object, newest first.
    pub fn of<'s>(
        &'s self,
        kind: &'s str,
        namespace: &'s str,
        name: &str,
    ) -> impl Iterator<Item = &'a Event> + 's {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |e| {
                let o = &e.involved_object;
                o.kind.as_deref() == Some(kind)
                    && o.namespace.as_deref().or(e.metadata.namespace.as_deref()) == Some(namespace)
            })
    }

    /// The recent events of one object with one of these reasons, newest first.
    pub fn with_reason<'s>(
        &'s self,
        kind: &'s str,
        namespace: &'s str,
        name: &str,
        reasons: &'s [&'s str],
    ) -> impl Iterator<Item = &'a Event> + 's {
        self.of(kind, namespace, name)
            .filter(move |e| reasons.contains(&reason(e)))
    }
}

/// Whether an event happened within [`RECENT`] of the snapshot's time.
pub fn is_recent(ctx: &Ctx, e: &Event) -> bool {
    last_seen(e).is_some_and(|t| ctx.now.duration_since(t) <= RECENT)
}

/// The recent events of one object (`kind` as the API spells it: `Pod`, `PersistentVolumeClaim`),
/// newest first. Events of a cluster-scoped object (a Node) have no namespace in their
/// `involvedObject`: pass `None`. For a rule that looks up one object; one that looks up many
/// pods indexes them once with [`Recent`].
pub fn recent<'a>(
    ctx: &Ctx<'a>,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> Vec<&'a Event> {
    let mut out: Vec<&Event> = ctx
        .snap
        .events
        .iter()
        .filter(|e| {
            let o = &e.involved_object;
            o.kind.as_deref() == Some(kind)
                && o.name.as_deref() == Some(name)
                && namespace.is_none_or(|ns| o.namespace.as_deref() == Some(ns))
        })
        .filter(|e| is_recent(ctx, e))
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(last_seen(e)));
    out
}

/// `Reason: message (×N)`, as `kubectl describe` lists an event.
pub fn describe(e: &Event) -> String {
    let times = match count(e) {
        n if n > 1 => format!(" (×{n})"),
        _ => String::new(),
    };
    format!("{}: {}{times}", reason(e), message(e).trim())
}
