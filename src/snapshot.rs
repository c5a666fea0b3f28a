//! The one in-memory picture of a cluster that every rule reads. Both collectors (a snapshot
//! directory, a live cluster) fill it; nothing downstream knows which one did.

pub mod probe_report;
pub mod ready_logs;
pub mod secret;

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::findings::Skipped;
use crate::helm::{self, Release, ReleaseRecord};
use secret::SecretMeta;

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

/// The kubelet's answer, with status 200, to `kubectl logs -p` when the previous instance's log is
/// already gone (a crash-looping container between restarts): `unable to retrieve container logs for
/// containerd://<id>`. It is a statement about the log, not a line of it: the log is missing.
pub fn kubelet_has_no_log(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next();
    lines.next().is_none()
        && first.is_some_and(|l| {
            l.trim()
                .starts_with("unable to retrieve container logs for ")
        })
}

#[derive(Debug, Clone, Default)]
pub struct ContainerLogs {
    pub current: Option<String>,
    /// The last terminated instance (`kubectl logs -p`): where a crash loop's reason is.
    pub previous: Option<String>,
}

/// A container log the collector asked for and the API server did not give: its answer, in its own
/// words (a pod deleted since the list, a container gone, a node's log rotated away, a kubelet out
/// of reach). A kubelet the API server cannot reach shows only here (`dial tcp IP:10250: ...`), so
/// it is data for the rules, not only a "not examined" line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFailure {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    #[serde(default)]
    pub previous: bool,
    /// The node the pod runs on, when the collector knew it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The HTTP status, if the server answered at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// The `reason` of the server's `Status` (`NotFound`, `BadRequest`), when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
}

impl LogFailure {
    /// What the server answered, as every other failed read is said: "not found: pods \"x\" not
    /// found".
    pub fn answer(&self) -> String {
        match self.code {
            Some(code) => api_answer(code, self.reason.as_deref().unwrap_or(""), &self.message),
            None => self.message.clone(),
        }
    }
}

/// An API server's error answer in words: the class an operator acts on ("forbidden", "not
/// found", "BadRequest (400)"), then the server's own message.
pub fn api_answer(code: u16, reason: &str, message: &str) -> String {
    let class = match (code, reason) {
        (403, _) => "forbidden".to_string(),
        (404, _) => "not found".to_string(),
        (401, _) => "unauthorized".to_string(),
        (_, "") => format!("HTTP {code}"),
        (_, r) => format!("{r} ({code})"),
    };
    if message.is_empty() {
        class
    } else {
        format!("{class}: {message}")
    }
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
    pub storage_classes: Vec<StorageClass>,
    pub persistent_volumes: Vec<PersistentVolume>,
    /// networking.k8s.io/v1 Ingresses: the hosts tell the site's BlueKing domain.
    pub ingresses: Vec<Ingress>,
    /// ClusterRoleBindings and ServiceAccounts, metadata only (listed as such): which exist, their
    /// labels and ages; never a subject, a role or a token.
    pub cluster_role_bindings: Vec<ObjectMeta>,
    pub service_accounts: Vec<ObjectMeta>,
    /// Secrets other than helm release storage: which exist, never a value (`secret`).
    pub secrets: Vec<SecretMeta>,
    /// discovery.k8s.io/v1: which pods back a Service, and whether they are ready.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// Admission webhooks, without their CA bundles: the Service each one calls.
    pub validating_webhooks: Vec<ValidatingWebhookConfiguration>,
    pub mutating_webhooks: Vec<MutatingWebhookConfiguration>,
    pub ingress_classes: Vec<IngressClass>,
    /// ReplicaSets and CronJobs without their pod templates: their conditions and owners.
    pub replica_sets: Vec<ReplicaSet>,
    pub cron_jobs: Vec<CronJob>,
    /// Helm release storage from both drivers. No other Secret is ever kept.
    pub helm_records: Vec<ReleaseRecord>,
    pub logs: BTreeMap<LogKey, ContainerLogs>,
    pub skipped: Vec<Skipped>,
    /// Log reads the API server refused or could not serve.
    pub log_failures: Vec<LogFailure>,
    /// When the data was collected, if the collector knew (live collection, or a snapshot directory
    /// this tool wrote).
    pub collected_at: Option<Timestamp>,
    /// The API server's clock at collection time (HTTP `Date` header).
    pub server_time: Option<Timestamp>,
    /// Which cluster was read: `context "x" (https://server)`, when the collector knew.
    pub source: Option<String>,
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
            storage_classes,
            persistent_volumes,
            ingresses,
            cluster_role_bindings,
            service_accounts,
            secrets,
            endpoint_slices,
            validating_webhooks,
            mutating_webhooks,
            ingress_classes,
            replica_sets,
            cron_jobs,
            helm_records,
            logs,
            skipped,
            log_failures,
            collected_at,
            server_time,
            source,
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
        append(&mut self.storage_classes, storage_classes);
        append(&mut self.persistent_volumes, persistent_volumes);
        append(&mut self.ingresses, ingresses);
        append(&mut self.cluster_role_bindings, cluster_role_bindings);
        append(&mut self.service_accounts, service_accounts);
        append(&mut self.secrets, secrets);
        append(&mut self.endpoint_slices, endpoint_slices);
        append(&mut self.validating_webhooks, validating_webhooks);
        append(&mut self.mutating_webhooks, mutating_webhooks);
        append(&mut self.ingress_classes, ingress_classes);
        append(&mut self.replica_sets, replica_sets);
        append(&mut self.cron_jobs, cron_jobs);
        append(&mut self.helm_records, helm_records);
        self.logs.extend(logs);
        self.skipped.extend(skipped);
        self.log_failures.extend(log_failures);
        self.collected_at = self.collected_at.or(collected_at);
        self.server_time = self.server_time.or(server_time);
        self.source = self.source.take().or(source);
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

/// What the rules read of a pod's spec: a live `check` keeps only this of each pod, the rest of
/// the pod (metadata, status) as it is. A typed `PodSpec` with its environment, commands, mounts
/// and projected volumes is most of a live `check`'s memory on a cluster of thousands of pods, and
/// its environment may hold secrets. Anything not named here is dropped, fields Kubernetes adds
/// later included. The rules declare theirs (`rules::POD_SPEC_READ`); the collector is given it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodSpecRead {
    pub node_name: bool,
    pub host_network: bool,
    pub node_selector: bool,
    /// `affinity.nodeAffinity` only: pod (anti-)affinity is left out.
    pub node_affinity: bool,
    pub tolerations: bool,
    /// `None`: no volumes. A volume keeps its name and the sources named here; one with none of
    /// them (a projected token, an emptyDir) is dropped.
    pub volumes: Option<VolumeRead>,
    /// Of each container and init container; its name is always kept, as its status is found by it.
    pub containers: ContainerRead,
    /// What is kept instead of a pod that is ready and never restarted (`None`: the same). Most
    /// rules look into the pods in trouble only; on a cluster of thousands of healthy pods, their
    /// probes, tolerations and volumes would cost tens of MiB nobody reads.
    pub of_healthy: Option<&'static PodSpecRead>,
}

impl PodSpecRead {
    /// Nothing but container names: the start of a declaration that names what it keeps.
    pub const NONE: PodSpecRead = PodSpecRead {
        node_name: false,
        host_network: false,
        node_selector: false,
        node_affinity: false,
        tolerations: false,
        volumes: None,
        containers: ContainerRead::NONE,
        of_healthy: None,
    };
}

/// The sources kept of a pod's volume beside its name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VolumeRead {
    pub persistent_volume_claim: bool,
    pub secret: bool,
    pub config_map: bool,
}

/// What is kept of a container beside its name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerRead {
    pub image: bool,
    pub resources: bool,
    /// Readiness, liveness and startup probes.
    pub probes: bool,
    pub restart_policy: bool,
    /// Environment variables kept by name, without their value or source (values can be secrets):
    /// a rule may ask whether a container has one, never what it holds.
    pub env_names: &'static [&'static str],
}

impl ContainerRead {
    pub const NONE: ContainerRead = ContainerRead {
        image: false,
        resources: false,
        probes: false,
        restart_policy: false,
        env_names: &[],
    };
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

    /// Whether a log read without `previous` is served from the container's last terminated
    /// instance, the one `previous` reads: the kubelet (`validateContainerLogStatus`) does so for a
    /// container that neither runs nor has ended with an id of its own, such as one waiting out a
    /// CrashLoopBackOff. Both reads then give the same log.
    pub fn log_is_last_instance(c: &ContainerStatus) -> bool {
        let id = |t: Option<&k8s_openapi::api::core::v1::ContainerStateTerminated>| {
            t.and_then(|t| t.container_id.as_deref())
                .is_some_and(|id| !id.is_empty())
        };
        let Some(state) = &c.state else {
            return false;
        };
        let own = state.running.is_some() || id(state.terminated.as_ref());
        let waits = state.waiting.is_some() || state.terminated.is_some();
        let last = id(c.last_state.as_ref().and_then(|s| s.terminated.as_ref()));
        !own && waits && last
    }

    /// Whether a current log read has nothing to give: the container waits for its image, its
    /// volumes or its init containers, and has never ended (the kubelet refuses the read).
    pub fn has_no_log_yet(c: &ContainerStatus) -> bool {
        let Some(state) = &c.state else {
            return false;
        };
        state.running.is_none()
            && state.terminated.is_none()
            && state.waiting.is_some()
            && c.last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .is_none()
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

/// Which helm release an object other than a pod belongs to.
pub mod meta {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    /// Helm annotates what it applies with `meta.helm.sh/release-name`; charts label it with
    /// `app.kubernetes.io/instance` (older ones `release`). Hook objects carry only the labels.
    pub fn releases(m: &ObjectMeta) -> impl Iterator<Item = &str> {
        let labels = m.labels.as_ref();
        let annotation = m
            .annotations
            .as_ref()
            .and_then(|a| a.get("meta.helm.sh/release-name"))
            .map(String::as_str);
        ["app.kubernetes.io/instance", "release"]
            .into_iter()
            .filter_map(move |k| labels?.get(k).map(String::as_str))
            .chain(annotation)
    }

    pub fn belongs_to(m: &ObjectMeta, namespace: &str, release: &str) -> bool {
        m.namespace.as_deref() == Some(namespace) && releases(m).any(|r| r == release)
    }

    pub fn name(m: &ObjectMeta) -> &str {
        m.name.as_deref().unwrap_or("")
    }

    pub fn namespace(m: &ObjectMeta) -> &str {
        m.namespace.as_deref().unwrap_or("")
    }
}

/// Which events the snapshot keeps, whoever collected them: Warning events, and every event of a
/// PersistentVolumeClaim (the volume controller reports `FailedBinding`, `WaitForFirstConsumer` and
/// `WaitForPodScheduled` as Normal). A busy cluster has tens of thousands of Normal events that no
/// rule reads; a live collection asks only for these, and a snapshot directory is read the same way
/// so that both give the same findings.
pub mod event {
    use k8s_openapi::api::core::v1::Event;

    /// The field selectors of the live lists: one list each, as a selector cannot say "or".
    pub const LIVE_SELECTORS: [&str; 2] = [
        "type=Warning",
        "type!=Warning,involvedObject.kind=PersistentVolumeClaim",
    ];

    pub fn is_kept(e: &Event) -> bool {
        e.type_.as_deref() == Some("Warning")
            || e.involved_object.kind.as_deref() == Some("PersistentVolumeClaim")
    }
}
