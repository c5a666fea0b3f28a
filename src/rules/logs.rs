//! Scanning pod logs for signatures. Only pods that are not ready or have restarted are looked at
//! (a healthy pod that once logged an error is not a problem now), and only the bounded tail the
//! collector kept.

use regex::Regex;

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

/// One hit per container and log stream (current, previous): the last line that matches any pattern.
pub fn scan<'a>(snap: &'a Snapshot, patterns: &[Regex]) -> Vec<LogHit<'a>> {
    if patterns.is_empty() {
        return Vec::new();
    }
    let mut hits = Vec::new();
    for (key, logs) in &snap.logs {
        let pod_obj = snap
            .pods
            .iter()
            .find(|p| pod::namespace(p) == key.namespace && pod::name(p) == key.pod);
        // Logs of a pod the snapshot has no object for are still evidence (a pod deleted since).
        if pod_obj.is_some_and(|p| !pod::is_troubled(p)) {
            continue;
        }
        for (previous, text) in [(true, &logs.previous), (false, &logs.current)] {
            let Some(text) = text else { continue };
            if let Some(line) = text
                .lines()
                .rev()
                .find(|l| patterns.iter().any(|r| r.is_match(l)))
            {
                hits.push(LogHit {
                    namespace: &key.namespace,
                    pod: &key.pod,
                    container: &key.container,
                    previous,
                    line,
                    node: pod_obj.and_then(pod::node),
                });
            }
        }
    }
    hits
}
