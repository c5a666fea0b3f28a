//! Collectors fill a [`Snapshot`](crate::snapshot::Snapshot): from a snapshot directory ([`dir`]) or
//! from a live cluster ([`live`]). They share [`ingest`], so an object means the same wherever it
//! came from.

pub mod dir;
pub mod ingest;
pub mod live;
pub mod logs;
