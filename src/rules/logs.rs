//! Scanning pod logs for signatures. Pods that are not ready or have restarted are looked at (a
//! healthy pod that once logged an error is not a problem now), and, for a signature that names the
//! workloads it concerns, those workloads' ready pods too: their failure leaves them Ready. Only
//! the bounded logs the collector kept are read.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use regex::Regex;

use crate::snapshot::ready_logs::{PodSelector, is_watched};
use crate::snapshot::{Snapshot, pod};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHit<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
    /// Found in the previous (terminated) instance's log, i.e. `kubectl logs -p`.
    pub previous: bool,
    /// The most recent matching line.
    pub line: &'a str,
    /// The node the pod runs on, when the pod object is in the snapshot.
    pub node: Option<&'a str>,
}

/// One container's log stream (current or previous) of a pod worth reading.
#[derive(Debug, Clone)]
pub struct LogStream<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
    pub previous: bool,
    pub text: &'a str,
    /// The pod object, when the snapshot has it.
    pub pod_obj: Option<&'a Pod>,
}

/// Every log stream of the pods that are not ready or have restarted, previous before current.
pub fn troubled_logs(snap: &Snapshot) -> impl Iterator<Item = LogStream<'_>> {
    // One index instead of a scan of every pod per log: a big cluster has thousands of pods and
    // hundreds of logs, and several rules walk the logs.
    let by_name: HashMap<(&str, &str), &Pod> = snap
        .pods
        .iter()
        .map(|p| ((pod::namespace(p), pod::name(p)), p))
        .rev() // the first of two pods with one name wins, as a scan would find it
        .collect();
    snap.logs.iter().flat_map(move |(key, logs)| {
        let pod_obj = by_name
            .get(&(key.namespace.as_str(), key.pod.as_str()))
            .copied();
        // Logs of a pod the snapshot has no object for are still evidence (a pod deleted since).
        let wanted = pod_obj.is_none_or(pod::is_troubled);
        [(true, &logs.previous), (false, &logs.current)]
            .into_iter()
            .filter(move |_| wanted)
            .filter_map(move |(previous, text)| {
                Some(LogStream {
                    namespace: &key.namespace,
                    pod: &key.pod,
                    container: &key.container,
                    previous,
                    text: text.as_deref()?,
                    pod_obj,
                })
            })
    })
}

/// The current logs of the ready pods `workloads` names: what the collector read of them though
/// they are healthy.
pub fn watched_logs<'a>(
    snap: &'a Snapshot,
    workloads: &'a [PodSelector],
) -> impl Iterator<Item = LogStream<'a>> {
    snap.pods
        .iter()
        .filter(move |p| !workloads.is_empty() && is_watched(workloads, p))
        .flat_map(move |p| {
            pod::container_statuses(p).filter_map(move |c| {
                let logs = snap.logs_of(pod::namespace(p), pod::name(p), &c.name)?;
                Some(LogStream {
                    namespace: pod::namespace(p),
                    pod: pod::name(p),
                    container: &c.name,
                    previous: false,
                    text: logs.current.as_deref()?,
                    pod_obj: Some(p),
                })
            })
        })
}

/// One hit per container and log stream (current, previous): the last line that matches any pattern.
pub fn scan<'a>(snap: &'a Snapshot, patterns: &[Regex]) -> Vec<LogHit<'a>> {
    scan_with(snap, patterns, &[])
}

/// [`scan`], and the current logs of the ready pods of `workloads` too.
pub fn scan_with<'a>(
    snap: &'a Snapshot,
    patterns: &[Regex],
    workloads: &'a [PodSelector],
) -> Vec<LogHit<'a>> {
    if patterns.is_empty() {
        return Vec::new();
    }
    troubled_logs(snap)
        .chain(watched_logs(snap, workloads))
        .filter_map(|s| {
            let line = s
                .text
                .lines()
                .rev()
                .find(|l| patterns.iter().any(|r| r.is_match(l)))?;
            Some(LogHit {
                namespace: s.namespace,
                pod: s.pod,
                container: s.container,
                previous: s.previous,
                line,
                node: s.pod_obj.and_then(pod::node),
            })
        })
        .collect()
}

/// A log line as evidence: long Java and Python lines would swamp the table.
pub fn clip(line: &str) -> String {
    const MAX: usize = 300;
    let line = line.trim_end();
    if line.chars().count() <= MAX {
        return line.to_string();
    }
    let mut s: String = line.chars().take(MAX).collect();
    s.push('…');
    s
}

/// A long message whose end says why (a kubelet's pull error ends with the registry's answer): the
/// start and the end, with the middle left out.
pub fn clip_middle(text: &str) -> String {
    const HEAD: usize = 100;
    const TAIL: usize = 300;
    let text = text.trim_end();
    let n = text.chars().count();
    if n <= HEAD + TAIL {
        return text.to_string();
    }
    let head: String = text.chars().take(HEAD).collect();
    let tail: String = text.chars().skip(n - TAIL).collect();
    format!("{head}…{tail}")
}

/// The node's InternalIP, which is what an operator logs in to; the pod's hostIP when the Node
/// object is missing from the snapshot.
pub fn node_ip<'a>(
    snap: &'a Snapshot,
    node: Option<&str>,
    pod_obj: Option<&'a Pod>,
) -> Option<&'a str> {
    let from_node = node
        .and_then(|n| snap.node(n))
        .and_then(crate::snapshot::node::internal_ip);
    from_node.or_else(|| pod_obj?.status.as_ref()?.host_ip.as_deref())
}
