//! A synthetic BlueKing cluster for the scale benchmark (`benches/scale.rs`) and the request-count
//! test (`tests/scale_requests.rs`): R releases × H revisions stored as helm stores them, P pods of
//! which a few per cent crash with logs, N nodes with their leases, and the deployments, services,
//! config maps and events that go with them. Deterministic: the same [`Shape`] gives the same bytes.
//!
//! Payloads are shaped after real BlueKing charts: 50–200 KiB gzipped, most of it a bundled file
//! that does not compress (dashboards, binary assets), the rest rendered manifests; encoded with the
//! doctor's own copy of helm's `encodeRelease` (gzip at best compression, then base64).

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fake_apiserver::FakeApi;
use jiff::{Timestamp, ToSpan};
use kubectl_bkdoctor::helm::decode::encode;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub releases: usize,
    /// Revisions kept per release (helm's `--history-max`, 10 by default).
    pub revisions: u32,
    pub pods: usize,
    pub nodes: usize,
}

/// One release's history, as its storage labels say.
#[derive(Debug, Clone)]
pub struct History {
    pub namespace: String,
    pub name: String,
    /// Status of revision 1, 2, ... H.
    pub statuses: Vec<&'static str>,
}

impl History {
    /// The revisions a doctor has to look inside: none of a release whose newest
    /// revision is deployed, unless `wanted` (a pod of it is failing); otherwise the newest and the
    /// newest deployed or superseded one (what a rollback goes back to).
    pub fn needed(&self, wanted: bool) -> Vec<u32> {
        let newest = self.statuses.len() as u32;
        if self.statuses.last() == Some(&"deployed") && !wanted {
            return Vec::new();
        }
        let good = (1..=newest)
            .rev()
            .find(|r| matches!(self.statuses[*r as usize - 1], "deployed" | "superseded"));
        (1..=newest)
            .filter(|r| *r == newest || Some(*r) == good)
            .collect()
    }
}

pub struct Cluster {
    pub shape: Shape,
    pub objects: Vec<Value>,
    /// (namespace, pod, container, previous, text)
    pub logs: Vec<(String, String, String, bool, String)>,
    pub histories: Vec<History>,
    /// Pods in CrashLoopBackOff: one container each, restarted, not ready.
    pub failing_pods: Vec<(String, String)>,
    /// Gzipped size of every payload, in bytes.
    pub payload_gzip_bytes: Vec<usize>,
    /// (namespace, release) of the releases that own a failing pod.
    pub owners_of_failing_pods: BTreeSet<(String, String)>,
}

impl Cluster {
    /// (namespace, release, revision) of every payload the doctor needs.
    pub fn needed(&self) -> Vec<(String, String, u32)> {
        self.histories
            .iter()
            .flat_map(|h| {
                let wanted = self
                    .owners_of_failing_pods
                    .contains(&(h.namespace.clone(), h.name.clone()));
                h.needed(wanted)
                    .into_iter()
                    .map(|rev| (h.namespace.clone(), h.name.clone(), rev))
            })
            .collect()
    }

    pub fn needed_revisions(&self) -> usize {
        self.needed().len()
    }

    /// A fake API server serving it; `objects` and logs are moved into the server's store.
    pub fn into_server(self) -> FakeApi {
        let mut api = FakeApi::new().objects(self.objects);
        for (ns, pod, container, previous, text) in &self.logs {
            api = api.log(ns, pod, container, *previous, text);
        }
        api
    }
}

/// xorshift64*: deterministic, fast, and its output does not compress.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// BlueKing puts its releases in a handful of namespaces; the rest spread over tenant ones.
fn namespace_of(release: usize) -> String {
    match release % 4 {
        0 | 1 => "blueking".to_string(),
        _ => format!("bk-tenant-{:02}", release % 19),
    }
}

fn release_name(i: usize) -> String {
    format!("bk-app-{i:04}")
}

/// Statuses of a history as helm leaves them: superseded up to the deployed one, with a few
/// releases whose last upgrade failed, one stuck in pending-upgrade, and some with an old failure.
fn statuses(rng: &mut Rng, revisions: u32) -> Vec<&'static str> {
    let h = revisions as usize;
    let mut s = vec!["superseded"; h];
    s[h - 1] = "deployed";
    match rng.below(100) {
        // The last upgrade failed: the previous revision is still the deployed one.
        0..=2 if h >= 2 => {
            s[h - 1] = "failed";
            s[h - 2] = "deployed";
        }
        // An upgrade interrupted (helm killed, API timeout): helm-operation-in-progress.
        3 if h >= 2 => {
            s[h - 1] = "pending-upgrade";
            s[h - 2] = "deployed";
        }
        // A failure long ago, fixed by a later upgrade; helm keeps it as failed.
        4..=8 if h >= 4 => s[h / 2] = "failed",
        _ => {}
    }
    s
}

/// The parts of a release's payload that do not change between its revisions: a bundled file that
/// does not compress and the rendered manifest. Sized so the gzipped payload is 50–200 KiB.
struct Body {
    files_b64: String,
    manifest: String,
}

fn body(rng: &mut Rng, name: &str) -> Body {
    let gz_kib = 52 + rng.below(140) as usize;
    // Base64 of random bytes gzips back to about the random bytes' size: this is most of the
    // gzipped payload (the manifest adds about a tenth).
    let files_b64 = STANDARD.encode(rng.bytes(gz_kib * 1024 * 5 / 6));
    let mut manifest = String::new();
    let mut i = 0;
    // Templated YAML compresses about 10:1; this part is the other quarter of the gzipped size.
    while manifest.len() < gz_kib * 1024 * 2 {
        manifest.push_str(&format!(
            "---\n# Source: {name}/templates/deployment-{i}.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}-worker-{i}\n  labels:\n    app.kubernetes.io/instance: {name}\n    app.kubernetes.io/version: \"1.{}.{}\"\nspec:\n  replicas: {}\n  template:\n    spec:\n      containers:\n        - name: worker\n          image: hub.bktencent.com/blueking/{name}:v1.{}.{}\n          env:\n            - name: BK_CHECKSUM\n              value: \"{:016x}\"\n",
            rng.below(30),
            rng.below(99),
            1 + rng.below(3),
            rng.below(30),
            rng.below(99),
            rng.next()
        ));
        i += 1;
    }
    Body {
        files_b64,
        manifest,
    }
}

fn base_time() -> Timestamp {
    "2026-06-01T08:00:00Z".parse().unwrap()
}

fn payload(h: &History, revision: u32, body: &Body) -> String {
    let status = h.statuses[revision as usize - 1];
    let deployed = base_time() + (revision as i64 * 24).hours();
    let description = match status {
        "failed" => "Upgrade \"x\" failed: context deadline exceeded",
        "pending-upgrade" => "Preparing upgrade",
        "superseded" | "deployed" if revision == 1 => "Install complete",
        _ => "Upgrade complete",
    };
    let release = json!({
        "name": h.name,
        "namespace": h.namespace,
        "version": revision,
        "info": {
            "first_deployed": base_time().to_string(),
            "last_deployed": deployed.to_string(),
            "deleted": "",
            "description": description,
            "status": status,
            "notes": format!("{} is installed. Visit http://bk.example.com", h.name),
        },
        "chart": {
            "metadata": {"name": h.name, "version": format!("1.{revision}.0"),
                         "appVersion": format!("1.{revision}.0"), "apiVersion": "v2"},
            "templates": [{"name": "templates/deployment.yaml", "data": STANDARD.encode("kind: Deployment\n")}],
            "values": {"image": {"registry": "hub.bktencent.com"}, "replicaCount": 1},
            "files": [{"name": "files/dashboards.tgz", "data": body.files_b64}],
        },
        "config": {"global": {"bkDomain": "bk.example.com"}, "mysql": {"password": "not-a-real-secret"}},
        "manifest": body.manifest,
        "hooks": [],
    });
    encode(release.to_string().as_bytes())
}

fn storage_secret(h: &History, revision: u32, stored: &str) -> Value {
    let modified = base_time() + (revision as i64 * 24).hours();
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {
            "name": format!("sh.helm.release.v1.{}.v{revision}", h.name),
            "namespace": h.namespace,
            "labels": {"name": h.name, "owner": "helm", "status": h.statuses[revision as usize - 1],
                       "version": revision.to_string(),
                       "modifiedAt": modified.as_second().to_string()},
            "creationTimestamp": time(modified),
            "uid": format!("{:08x}-0000-4000-8000-{:012x}", revision, h.name.len()),
        },
        "data": {"release": STANDARD.encode(stored)},
    })
}

/// A `metav1.MicroTime` as the API server writes it and accepts it: six fractional digits (a real
/// server rejects nine, which is what a `Timestamp` prints).
fn micro_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A `metav1.Time`: whole seconds.
fn time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The service range of the synthetic cluster (kube-apiserver's `--service-cluster-ip-range`,
/// kubeadm's default); 10.96.0.1 is `kubernetes` and 10.96.0.10 the DNS service.
pub const SERVICE_CIDR: &str = "10.96.0.0/12";

/// A cluster IP for the `r`th release's Service, from 10.96.1.1 up, inside [`SERVICE_CIDR`].
fn cluster_ip(r: usize) -> String {
    let n = 256 + r;
    format!(
        "10.{}.{}.{}",
        96 + n / 65_024 % 16,
        n / 254 % 256,
        n % 254 + 1
    )
}

fn node(i: usize, now: Timestamp) -> [Value; 2] {
    let name = format!("bk-node-{i:03}");
    let renewed = now - 3.seconds() + (i as i64 * 7_919 % 1_000_000).microseconds();
    let renew = time(renewed);
    [
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "node-role.kubernetes.io/worker": ""},
                         "creationTimestamp": time(base_time())},
            "spec": {"podCIDR": format!("10.244.{}.0/24", i % 250)},
            "status": {
                "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", i / 250, i % 250 + 1)},
                              {"type": "Hostname", "address": name}],
                "capacity": {"cpu": "16", "memory": "65843004Ki", "pods": "110", "ephemeral-storage": "514937088Ki"},
                "allocatable": {"cpu": "16", "memory": "65740604Ki", "pods": "110", "ephemeral-storage": "474560217730"},
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                     "lastHeartbeatTime": renew, "lastTransitionTime": time(base_time())},
                    {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
                     "lastHeartbeatTime": renew, "lastTransitionTime": time(base_time())},
                    {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
                     "lastHeartbeatTime": renew, "lastTransitionTime": time(base_time())},
                    {"type": "Ready", "status": "True", "reason": "KubeletReady",
                     "lastHeartbeatTime": renew, "lastTransitionTime": time(base_time())},
                ],
                "nodeInfo": {"machineID": format!("{:032x}", i * 104_729 + 1),
                             "systemUUID": format!("{:08X}-0000-4000-8000-{:012X}", i, i * 31),
                             "bootID": format!("{:08x}-1111-4000-8000-{:012x}", i * 17, i),
                             "kernelVersion": "5.4.119-19.0009.28", "osImage": "TencentOS Server 3.1",
                             "containerRuntimeVersion": "containerd://1.6.21",
                             "kubeletVersion": "v1.24.15", "kubeProxyVersion": "v1.24.15",
                             "operatingSystem": "linux", "architecture": "amd64"},
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            },
        }),
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_time(renewed)},
        }),
    ]
}

fn pod(i: usize, h: &History, node: usize, failing: bool) -> Value {
    let name = format!("{}-{:05}-{:05x}", h.name, i, i * 7919 % 0xfffff);
    let started = base_time() + 1.hours();
    let container_status = if failing {
        json!({"name": "app", "ready": false, "started": false, "restartCount": 41,
               "image": format!("hub.bktencent.com/blueking/{}:v1.0.0", h.name), "imageID": "",
               "state": {"waiting": {"reason": "CrashLoopBackOff",
                                     "message": "back-off 5m0s restarting failed container"}},
               "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                            "startedAt": time(started), "finishedAt": time(started),
                                            "containerID": format!("containerd://{:064x}", i + (1 << 32))}}})
    } else {
        json!({"name": "app", "ready": true, "started": true, "restartCount": 0,
               "image": format!("hub.bktencent.com/blueking/{}:v1.0.0", h.name),
               "imageID": "hub.bktencent.com/blueking/app@sha256:5b0d3c2f0f0e6a8c1e0c9b0f3d5b3a3b7e6c6f0a9d8e7f6a5b4c3d2e1f0a9b8c",
               "containerID": format!("containerd://{:064x}", i),
               "state": {"running": {"startedAt": time(started)}}})
    };
    let ready = if failing { "False" } else { "True" };
    let env: Vec<Value> = (0..8)
        .map(|k| json!({"name": format!("BK_SETTING_{k}"), "value": format!("value-{k}-{}", h.name)}))
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": h.namespace,
            "uid": format!("{:08x}-1111-4000-8000-{:012x}", i, i),
            "labels": {"app.kubernetes.io/instance": h.name, "app.kubernetes.io/name": h.name,
                       "app.kubernetes.io/managed-by": "Helm", "pod-template-hash": "7d9f8c6b5"},
            "annotations": {"checksum/config": format!("{:064x}", i)},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{}-7d9f8c6b5", h.name),
                                 "uid": "0", "controller": true, "blockOwnerDeletion": true}],
            "creationTimestamp": time(base_time()),
        },
        "spec": {
            "nodeName": format!("bk-node-{node:03}"),
            "serviceAccountName": h.name,
            "containers": [{
                "name": "app", "image": format!("hub.bktencent.com/blueking/{}:v1.0.0", h.name),
                "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                "env": env,
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                "volumeMounts": [{"name": "config", "mountPath": "/app/conf"},
                                 {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
            }],
            "volumes": [{"name": "config", "configMap": {"name": format!("{}-config", h.name)}},
                        {"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": time(started)},
                {"type": "Ready", "status": ready, "lastTransitionTime": time(started)},
                {"type": "ContainersReady", "status": ready, "lastTransitionTime": time(started)},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": time(started)},
            ],
            "hostIP": format!("10.0.{}.{}", node / 250, node % 250 + 1),
            "podIP": format!("10.244.{}.{}", node % 250, i % 250 + 2),
            "podIPs": [{"ip": format!("10.244.{}.{}", node % 250, i % 250 + 2)}],
            "startTime": time(started),
            "qosClass": "Burstable",
            "containerStatuses": [container_status],
        },
    })
}

/// 500 lines, so that the doctor's `tailLines` has something to cut.
fn crash_log(name: &str, previous: bool) -> String {
    let mut log = String::new();
    for l in 0..495 {
        log.push_str(&format!(
            "2026-11-25 10:{:02}:{:02},123 INFO [{name}] handled request id={l} status=200 duration=12ms\n",
            l / 60 % 60,
            l % 60
        ));
    }
    log.push_str("2026-11-25 10:59:58,001 ERROR [main] Application run failed\n");
    log.push_str("java.net.ConnectException: Connection refused (Connection refused)\n");
    log.push_str("\tat java.net.PlainSocketImpl.socketConnect(Native Method)\n");
    log.push_str("\tat com.tencent.bk.Application.main(Application.java:42)\n");
    if previous {
        log.push_str("2026-11-25 10:59:59,000 INFO [main] Shutting down\n");
    }
    log
}

/// One release: its storage Secrets (every revision, encoded as helm does) and the workload objects
/// that go with it. Each release has its own random stream, so releases can be made in parallel.
fn release(r: usize, revisions: u32) -> (History, Vec<Value>, Vec<usize>) {
    let mut rng = Rng((0x9e37_79b9_7f4a_7c15 ^ (r as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9)) | 1);
    let h = History {
        namespace: namespace_of(r),
        name: release_name(r),
        statuses: statuses(&mut rng, revisions),
    };
    let body = body(&mut rng, &h.name);
    let mut objects = Vec::new();
    let mut sizes = Vec::new();
    for rev in 1..=revisions {
        let stored = payload(&h, rev, &body);
        sizes.push(stored.len() / 4 * 3);
        objects.push(storage_secret(&h, rev, &stored));
    }
    objects.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": h.name, "namespace": h.namespace, "labels": {"app.kubernetes.io/instance": h.name}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/instance": h.name}},
                 "template": {
                     "metadata": {"labels": {"app.kubernetes.io/instance": h.name, "app.kubernetes.io/name": h.name}},
                     "spec": {"serviceAccountName": h.name, "containers": [{
                         "name": "app", "image": format!("hub.bktencent.com/blueking/{}:v1.0.0", h.name),
                         "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                         "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "256Mi"}}}]}}},
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1},
    }));
    objects.push(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": h.name, "namespace": h.namespace, "labels": {"app.kubernetes.io/instance": h.name}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip(r), "clusterIPs": [cluster_ip(r)],
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                 "selector": {"app.kubernetes.io/instance": h.name}},
    }));
    objects.push(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("{}-config", h.name), "namespace": h.namespace},
        "data": {"app.yaml": format!("log_level: info\nbk_domain: bk.example.com\nrelease: {}\n", h.name)},
    }));
    (h, objects, sizes)
}

pub fn generate(shape: Shape) -> Cluster {
    let now = Timestamp::now();
    // gzip at best compression is most of the cost: spread the releases over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let made: Vec<(History, Vec<Value>, Vec<usize>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..shape.releases)
                        .step_by(threads)
                        .map(|r| (r, release(r, shape.revisions)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("generator thread"))
            .collect();
        all.sort_by_key(|(r, _)| *r);
        all.into_iter().map(|(_, m)| m).collect()
    });
    let mut objects = Vec::new();
    let mut histories = Vec::new();
    let mut payload_gzip_bytes = Vec::new();
    for (h, o, sizes) in made {
        histories.push(h);
        objects.extend(o);
        payload_gzip_bytes.extend(sizes);
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for i in 0..shape.nodes {
        objects.extend(node(i, now));
    }
    let mut logs = Vec::new();
    let mut failing_pods = Vec::new();
    let mut owners_of_failing_pods = BTreeSet::new();
    for i in 0..shape.pods {
        let h = &histories[i % histories.len()];
        // About 3 %: a few per cent failing, as on a cluster someone is running the doctor on.
        let failing = rng.below(100) < 3;
        let p = pod(i, h, i % shape.nodes.max(1), failing);
        if failing {
            let name = p["metadata"]["name"].as_str().unwrap().to_string();
            // Waiting out its back-off, the container has no instance of its own: the kubelet
            // serves both reads from the one that last ended.
            logs.push((
                h.namespace.clone(),
                name.clone(),
                "app".to_string(),
                true,
                crash_log(&name, true),
            ));
            objects.push(json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{name}.187a1b2c3d4e5f60"), "namespace": h.namespace},
                "involvedObject": {"kind": "Pod", "namespace": h.namespace, "name": name},
                "reason": "BackOff", "type": "Warning", "count": 41,
                "message": "Back-off restarting failed container app",
                "firstTimestamp": time(base_time()), "lastTimestamp": time(now - 30.seconds()),
            }));
            failing_pods.push((h.namespace.clone(), name));
            owners_of_failing_pods.insert((h.namespace.clone(), h.name.clone()));
        }
        objects.push(p);
    }
    Cluster {
        shape,
        objects,
        logs,
        histories,
        failing_pods,
        payload_gzip_bytes,
        owners_of_failing_pods,
    }
}
