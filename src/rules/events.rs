//! Events worth quoting: those of one object whose last occurrence is within the last hour of the
//! snapshot's time. An older event describes trouble that may be over; a pod that recovered does
//! not turn yesterday's warning into a finding.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Event;

use super::Ctx;

/// How far back an event still counts as "now".
pub const RECENT_SECS: i64 = 3600;

/// When the event last happened. A deduplicated event carries `lastTimestamp`; one written through
/// events.k8s.io carries `eventTime` and, once repeated, `series.lastObservedTime`.
pub fn last_seen(e: &Event) -> Option<Timestamp> {
    e.series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0)
        .or_else(|| e.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

pub fn is_recent(ctx: &Ctx, e: &Event) -> bool {
    last_seen(e).is_some_and(|t| ctx.now.as_second() - t.as_second() <= RECENT_SECS)
}

/// The recent events of one object (`kind` as the API spells it: `Pod`, `PersistentVolumeClaim`),
/// newest first. Events of a cluster-scoped object (a Node) have no namespace in their
/// `involvedObject`: pass `None`.
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
    let reason = e.reason.as_deref().unwrap_or("");
    let message = e.message.as_deref().unwrap_or("").trim();
    let count = e
        .series
        .as_ref()
        .and_then(|s| s.count)
        .or(e.count)
        .filter(|n| *n > 1)
        .map(|n| format!(" (×{n})"))
        .unwrap_or_default();
    format!("{reason}: {message}{count}")
}
