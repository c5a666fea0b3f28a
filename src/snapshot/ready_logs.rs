//! Which pods' current logs are read even when they are ready and never restarted, and how much
//! of them. Some failures leave a pod Ready while it serves errors (a gateway that could not fetch
//! a key at start and answers 401 ever after); their signatures name the workloads they concern,
//! by labels, and only those pods' logs are read: a handful of reads, not every pod's. It decides
//! nothing about what a log means, and reads no log itself.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use super::{LOG_TAIL_BYTES, LOG_TAIL_LINES, pod};

/// Of a ready pod's log, the first lines since its container started (an error logged once at
/// start-up falls out of any tail) and the last ones; together within the bounds of one tail.
pub const LOG_HEAD_LINES: usize = LOG_TAIL_LINES / 4;
pub const LOG_HEAD_BYTES: usize = LOG_TAIL_BYTES / 4;
pub const READY_TAIL_LINES: usize = LOG_TAIL_LINES - LOG_HEAD_LINES;
pub const READY_TAIL_BYTES: usize = LOG_TAIL_BYTES - LOG_HEAD_BYTES;

/// The key that stands for the release label, whichever a chart sets (`app.kubernetes.io/instance`
/// or `release`).
pub const RELEASE_KEY: &str = "release";

/// Pods by labels: every label must match. `release` matches the release labels charts set.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(transparent)]
pub struct PodSelector(pub BTreeMap<String, String>);

impl PodSelector {
    pub fn matches(&self, p: &Pod) -> bool {
        let labels = p.metadata.labels.as_ref();
        !self.0.is_empty()
            && self.0.iter().all(|(k, v)| {
                if k == RELEASE_KEY {
                    pod::releases(p).any(|r| r == v)
                } else {
                    labels.and_then(|l| l.get(k)) == Some(v)
                }
            })
    }

    /// `kubectl get pods -l ...` for the same pods, where the chart uses the standard label.
    pub fn kubectl_selector(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| {
                let k = if k == RELEASE_KEY {
                    "app.kubernetes.io/instance"
                } else {
                    k
                };
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Whether one of `selectors` names the pod: its running containers' current logs are read
/// start and end, in trouble or not.
pub fn is_named(selectors: &[PodSelector], p: &Pod) -> bool {
    selectors.iter().any(|s| s.matches(p))
}

/// Whether a pod is one whose current log is read though it is healthy: it is not in trouble
/// (those are read anyway) and one of `selectors` names it.
pub fn is_watched(selectors: &[PodSelector], p: &Pod) -> bool {
    !pod::is_troubled(p) && is_named(selectors, p)
}

/// The running containers of the pods `selectors` names: (namespace, pod, container).
pub fn running_named<'a>(
    selectors: &'a [PodSelector],
    pods: &'a [Pod],
) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
    pods.iter()
        .filter(move |p| !selectors.is_empty() && is_named(selectors, p))
        .flat_map(|p| {
            let statuses = p
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref());
            statuses
                .into_iter()
                .flatten()
                .filter(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
                .map(move |c| (pod::namespace(p), pod::name(p), c.name.as_str()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_key_matches_either_label() {
        let sel: PodSelector =
            serde_yaml_ng::from_str("{release: bk-job, app.kubernetes.io/component: job-gateway}")
                .unwrap();
        let pod = |labels: serde_json::Value| -> Pod {
            serde_json::from_value(serde_json::json!({"metadata": {"name": "p", "labels": labels}}))
                .unwrap()
        };
        assert!(sel.matches(&pod(serde_json::json!({
            "app.kubernetes.io/instance": "bk-job", "app.kubernetes.io/component": "job-gateway"}))));
        assert!(sel.matches(&pod(serde_json::json!({
            "release": "bk-job", "app.kubernetes.io/component": "job-gateway"}))));
        assert!(
            !sel.matches(&pod(serde_json::json!({
            "app.kubernetes.io/instance": "bk-job", "app.kubernetes.io/component": "job-manage"})))
        );
        assert!(!PodSelector::default().matches(&pod(serde_json::json!({}))));
        assert_eq!(
            sel.kubectl_selector(),
            "app.kubernetes.io/component=job-gateway,app.kubernetes.io/instance=bk-job"
        );
    }
}
