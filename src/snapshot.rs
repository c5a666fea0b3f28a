//! The one in-memory picture of a cluster that every rule reads. Both collectors (a snapshot
//! directory, a live cluster) fill it; nothing downstream knows which one did.

pub mod probe_report;

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, Node, PersistentVolumeClaim, Pod, Service,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use crate::findings::Skipped;
use crate::helm::{self, Release, ReleaseRecord};

/// Bounds on what is kept of one container's log. Rules look for recent errors; the tail is where
/// they are, and a crash-looping pod's log can be gigabytes.
pub const LOG_TAIL_LINES: usize = 200;
pub const LOG_TAIL_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogKey {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

#[derive(Debug, Clone, Default)]
pub struct ContainerLogs {
    pub current: Option<String>,
    /// The last terminated instance (`kubectl logs -p`): where a crash loop's reason is.
    pub previous: Option<String>,
}

#[derive(Debug, Default)]
pub struct Snapshot {
    pub pods: Vec<Pod>,
    pub nodes: Vec<Node>,
    pub services: Vec<Service>,
    /// ConfigMaps other than helm release storage.
    pub config_maps: Vec<ConfigMap>,
    pub namespaces: Vec<Namespace>,
    pub deployments: Vec<Deployment>,
    pub daemon_sets: Vec<DaemonSet>,
    pub stateful_sets: Vec<StatefulSet>,
    pub jobs: Vec<Job>,
    pub events: Vec<Event>,
    pub leases: Vec<Lease>,
    pub crds: Vec<CustomResourceDefinition>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    /// Helm release storage from both drivers. No other Secret is ever kept.
    pub helm_records: Vec<ReleaseRecord>,
    pub logs: BTreeMap<LogKey, ContainerLogs>,
    pub skipped: Vec<Skipped>,
    /// When the data was collected, if the collector knew (live collection, or a snapshot directory
    /// this tool wrote).
    pub collected_at: Option<Timestamp>,
    /// The API server's clock at collection time (HTTP `Date` header).
    pub server_time: Option<Timestamp>,
    /// What the node probes found (`--probe`); empty otherwise, and never written to a snapshot
    /// directory.
    pub probes: Vec<probe_report::NodeProbe>,
}

impl Snapshot {
    /// Adds what another collection read (one list of the live collector) to this one.
    pub fn absorb(&mut self, other: Snapshot) {
        let Snapshot {
            pods,
            nodes,
            services,
            config_maps,
            namespaces,
            deployments,
            daemon_sets,
            stateful_sets,
            jobs,
            events,
            leases,
            crds,
            pvcs,
            helm_records,
            logs,
            skipped,
            collected_at,
            server_time,
            probes,
        } = other;
        append(&mut self.pods, pods);
        append(&mut self.nodes, nodes);
        append(&mut self.services, services);
        append(&mut self.config_maps, config_maps);
        append(&mut self.namespaces, namespaces);
        append(&mut self.deployments, deployments);
        append(&mut self.daemon_sets, daemon_sets);
        append(&mut self.stateful_sets, stateful_sets);
        append(&mut self.jobs, jobs);
        append(&mut self.events, events);
        append(&mut self.leases, leases);
        append(&mut self.crds, crds);
        append(&mut self.pvcs, pvcs);
        append(&mut self.helm_records, helm_records);
        self.logs.extend(logs);
        self.skipped.extend(skipped);
        self.collected_at = self.collected_at.or(collected_at);
        self.server_time = self.server_time.or(server_time);
        self.probes.extend(probes);
    }

    pub fn releases(&self) -> Vec<Release> {
        helm::releases(&self.helm_records)
    }

    /// The "now" that ages are measured against. A support engineer may read a snapshot days
    /// after it was taken; measuring against the wall clock would make every pending release look
    /// days old. Without a recorded time, the node leases tell: kubelets renew them every ~10 s,
    /// so their median renew time is the moment of collection, and the median ignores a node whose
    /// clock is off or that died.
    pub fn reference_time(&self) -> Option<Timestamp> {
        if let Some(t) = self.server_time.or(self.collected_at) {
            return Some(t);
        }
        let mut renewals: Vec<Timestamp> = self
            .leases
            .iter()
            .filter(|l| l.metadata.namespace.as_deref() == Some("kube-node-lease"))
            .filter_map(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0))
            .collect();
        if renewals.is_empty() {
            return None;
        }
        renewals.sort();
        Some(renewals[renewals.len() / 2])
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
    }

    pub fn logs_of(&self, namespace: &str, pod: &str, container: &str) -> Option<&ContainerLogs> {
        self.logs.get(&LogKey {
            namespace: namespace.into(),
            pod: pod.into(),
            container: container.into(),
        })
    }

    /// Pods helm installed for a release: charts label them with the standard
    /// `app.kubernetes.io/instance`, older ones (and many Bitnami-based BlueKing charts) with
    /// `release`.
    pub fn release_pods<'a>(
        &'a self,
        namespace: &'a str,
        release: &'a str,
    ) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods.iter().filter(move |p| {
            p.metadata.namespace.as_deref() == Some(namespace)
                && pod::releases(p).any(|r| r == release)
        })
    }
}

/// Moves rather than copies when `into` is empty, as it is for all but one list of a kind: a
/// 5,000-pod list's `Vec` is ~10 MiB, and copying it would hold two of them at the peak.
fn append<T>(into: &mut Vec<T>, mut from: Vec<T>) {
    if into.is_empty() {
        *into = from;
    } else {
        into.append(&mut from);
    }
}

/// Node facts the rules share.
pub mod node {
    use k8s_openapi::api::core::v1::Node;

    pub fn is_ready(n: &Node) -> bool {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    }

    /// The address an operator uses to reach the host (ssh, 节点管理).
    pub fn internal_ip(n: &Node) -> Option<&str> {
        n.status
            .as_ref()?
            .addresses
            .as_ref()?
            .iter()
            .find(|a| a.type_ == "InternalIP")
            .map(|a| a.address.as_str())
    }
}

/// Pod health as `kubectl get pods` shows it, reduced to what the rules need.
pub mod pod {
    use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

    pub fn name(p: &Pod) -> &str {
        p.metadata.name.as_deref().unwrap_or("")
    }

    pub fn namespace(p: &Pod) -> &str {
        p.metadata.namespace.as_deref().unwrap_or("")
    }

    pub fn phase(p: &Pod) -> &str {
        p.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("")
    }

    pub fn node(p: &Pod) -> Option<&str> {
        p.spec.as_ref()?.node_name.as_deref()
    }

    pub fn container_statuses(p: &Pod) -> impl Iterator<Item = &ContainerStatus> {
        let s = p.status.as_ref();
        s.and_then(|s| s.init_container_statuses.as_ref())
            .into_iter()
            .flatten()
            .chain(
                s.and_then(|s| s.container_statuses.as_ref())
                    .into_iter()
                    .flatten(),
            )
    }

    pub fn restarts(p: &Pod) -> i32 {
        container_statuses(p).map(|c| c.restart_count).sum()
    }

    /// A pod that finished its work (a Job's) is healthy though not ready.
    pub fn is_ready(p: &Pod) -> bool {
        if phase(p) == "Succeeded" {
            return true;
        }
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    }

    /// The pods whose logs are worth reading: not ready, or restarted at least once.
    /// The helm releases a pod's labels name: charts set `app.kubernetes.io/instance`, older
    /// ones `release`.
    pub fn releases(p: &Pod) -> impl Iterator<Item = &str> {
        let labels = p.metadata.labels.as_ref();
        ["app.kubernetes.io/instance", "release"]
            .into_iter()
            .filter_map(move |k| labels?.get(k).map(String::as_str))
    }

    /// The release a pod belongs to, by the label charts set first.
    pub fn release(p: &Pod) -> Option<&str> {
        releases(p).next()
    }

    pub fn is_troubled(p: &Pod) -> bool {
        !is_ready(p) || restarts(p) > 0
    }

    /// The reason a container is waiting, e.g. `CrashLoopBackOff`, `ImagePullBackOff`.
    pub fn waiting_reason(c: &ContainerStatus) -> Option<&str> {
        c.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
    }
}
