//! Active node probes (`--probe`): one short-lived pod per node that tests, from the node's own
//! network and kernel, what passive evidence only shows after the damage: whether cluster names
//! resolve through the cluster DNS, whether the clock agrees with the API server, whether the
//! kernel has IPv6.
//!
//! The only code that changes a cluster. What keeps that safe: writes go through
//! [`Api::probe_write`], which creates and deletes labelled `bkdoctor-probe-*` pods and nothing
//! else; every pod this run created (or tried to) is deleted before it returns, on success, error,
//! timeout and Ctrl-C/SIGTERM; each pod has its own `activeDeadlineSeconds` in case the process is
//! killed outright, and the next run deletes such leftovers by label once their deadline is past.

mod cleanup;
pub mod pod;
pub mod report;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use kube::core::Request;
use kube::core::params::ListParams;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use self::cleanup::{Created, delete_all, interrupted, remove_leftovers};
use self::pod::{PodPlan, PodState};
use self::report::{NodeProbe, Outcome};
use crate::collect::live::CONCURRENCY;
use crate::collect::live::api::{Api, Failure, ProbeWrite, api_failure, humantime};
use crate::findings::Skipped;
use crate::snapshot::node;

/// Busybox has sh, nslookup, awk, timeout and date in about 4 MB. Air-gapped sites pass their own
/// registry's copy with `--probe-image`.
pub const DEFAULT_IMAGE: &str = "busybox:1.36";
pub const DEFAULT_DOMAIN: &str = "cluster.local";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
pub use crate::snapshot::probe_report::DNS_TIMEOUT_SECS;
/// How often the pods are looked at: one list for all of them, whatever the number of nodes.
const POLL: Duration = Duration::from_millis(500);
/// The kubelet reports a finished container within a second or two (PLEG relists every second);
/// with the poll interval and the Date header's whole seconds, the node's clock was read at most
/// this long before the API server's time it is compared with.
pub const CLOCK_MARGIN_SECS: i64 = 3;
/// kubeadm's `kube-dns` Service fronts CoreDNS too; some installers name it `coredns`.
const DNS_SERVICES: &[&str] = &["kube-dns", "coredns"];

#[derive(Debug, Clone)]
pub struct Options {
    pub namespace: String,
    pub image: String,
    pub cluster_domain: String,
    /// Resolved besides `kubernetes.default.svc.<domain>`, e.g. the elasticsearch master service.
    pub names: Vec<String>,
    pub timeout: Duration,
}

impl Options {
    pub fn names(&self) -> Vec<String> {
        let mut names = vec![format!("kubernetes.default.svc.{}", self.cluster_domain)];
        for n in &self.names {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        names
    }

    /// The pod stops itself this long after starting: past the doctor's own wait, so that a pod
    /// is never killed while the doctor still expects its answer.
    pub fn deadline_secs(&self) -> u64 {
        self.timeout.as_secs() + 60
    }
}

pub struct Probed {
    pub probes: Vec<NodeProbe>,
    pub nodes: Vec<Node>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug)]
pub enum ProbeError {
    Fatal(String),
    /// Ctrl-C or SIGTERM; the pods were deleted (those named in `left` could not be).
    Interrupted {
        deleted: usize,
        left: Vec<String>,
    },
}

/// Probes every Ready node and deletes every pod it made, whatever happens.
pub async fn run(api: &Api, opts: &Options) -> Result<Probed, ProbeError> {
    let created = Created::default();
    let outcome = tokio::select! {
        r = probe_all(api, opts, &created) => r.map_err(ProbeError::Fatal),
        () = interrupted() => Err(ProbeError::Interrupted { deleted: 0, left: Vec::new() }),
    };
    let names = created.all();
    let (left, cut_short) = tokio::select! {
        left = delete_all(api, &opts.namespace, &names) => (left, false),
        // Ctrl-C during the cleanup (a second one, or the first): the user wants out now, and the
        // next run deletes what is left.
        () = interrupted() => (names.clone(), true),
    };
    match outcome {
        Err(ProbeError::Interrupted { .. }) => Err(ProbeError::Interrupted {
            deleted: names.len() - left.len(),
            left,
        }),
        _ if cut_short => Err(ProbeError::Interrupted { deleted: 0, left }),
        other => {
            if !left.is_empty() {
                eprintln!(
                    "warning: could not delete probe pods {} in namespace {}; the next --probe run deletes them, or: kubectl delete pod -n {} -l {}",
                    left.join(", "),
                    opts.namespace,
                    opts.namespace,
                    pod::SELECTOR
                );
            }
            other
        }
    }
}

async fn probe_all(api: &Api, opts: &Options, created: &Created) -> Result<Probed, String> {
    let nodes = list_nodes(api).await?;
    let mut skipped = Vec::new();
    let dns_server = match dns_service_ip(api).await {
        Ok(ip) => Some(ip),
        Err(why) => {
            skipped.push(Skipped::new("DNS checks of the node probes", why));
            None
        }
    };
    remove_leftovers(api, &opts.namespace).await;

    let run = run_id();
    let mut tally = Tally {
        opts,
        probes: BTreeMap::new(),
        progress: Progress::new(),
    };
    let planned = plan(
        opts,
        &run,
        &nodes,
        dns_server.as_deref(),
        &mut tally,
        &mut skipped,
    );
    tally.progress.line(&format!(
        "probing {} nodes with {} in namespace {} (up to {})",
        planned.len(),
        opts.image,
        opts.namespace,
        humantime(opts.timeout)
    ));
    let waiting = create_all(api, opts, created, planned, &mut tally).await?;
    wait_all(api, &run, waiting, &mut tally).await?;
    tally.progress.done();
    Ok(Probed {
        probes: tally.probes.into_values().collect(),
        nodes,
        skipped,
    })
}

/// The outcome of every node so far, and the progress lines that announce them.
struct Tally<'a> {
    opts: &'a Options,
    probes: BTreeMap<String, NodeProbe>,
    progress: Progress,
}

impl Tally<'_> {
    fn record(&mut self, node: String, pod: String, outcome: Outcome) {
        let word = match &outcome {
            Outcome::Ran { .. } => "done".to_string(),
            Outcome::Failed { reason, .. } => format!("failed ({reason})"),
        };
        self.progress.line(&format!("probe {node}: {word}"));
        self.probes.insert(
            node.clone(),
            NodeProbe {
                node,
                namespace: self.opts.namespace.clone(),
                pod,
                image: self.opts.image.clone(),
                outcome,
            },
        );
    }
}

/// A pod to create: (node, pod name, spec).
type Planned = (String, String, Value);

/// A pod for every node that can run one; the others are recorded or skipped with the reason.
fn plan(
    opts: &Options,
    run: &str,
    nodes: &[Node],
    dns_server: Option<&str>,
    tally: &mut Tally,
    skipped: &mut Vec<Skipped>,
) -> Vec<Planned> {
    let names = opts.names();
    let mut planned = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let Some(node_name) = n.metadata.name.as_deref() else {
            continue;
        };
        let pod_name = pod::pod_name(run, node_name, i);
        // The probe is a Linux shell script; a Windows node cannot run it at all.
        let os = n
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/os"));
        if let Some(os) = os.filter(|os| *os != "linux") {
            skipped.push(Skipped::new(
                format!("node probe of {node_name}"),
                format!("not a Linux node (kubernetes.io/os={os})"),
            ));
            continue;
        }
        // Its kubelet would never start the pod: no point waiting for the timeout.
        if !node::is_ready(n) {
            tally.record(
                node_name.to_string(),
                pod_name,
                Outcome::Failed {
                    reason: "NodeNotReady".into(),
                    message: "the node is not Ready, so no pod can run on it".into(),
                },
            );
            continue;
        }
        let spec = pod::spec(&PodPlan {
            namespace: &opts.namespace,
            name: pod_name.clone(),
            node: node_name,
            run,
            image: &opts.image,
            dns_server,
            names: &names,
            dns_timeout_secs: DNS_TIMEOUT_SECS,
            deadline_secs: opts.deadline_secs(),
        });
        planned.push((node_name.to_string(), pod_name, spec));
    }
    planned
}

/// Pods waiting to finish: pod name -> (node, the state last seen).
type Waiting = BTreeMap<String, (String, String)>;

async fn create_all(
    api: &Api,
    opts: &Options,
    created: &Created,
    planned: Vec<Planned>,
    tally: &mut Tally<'_>,
) -> Result<Waiting, String> {
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let mut set = JoinSet::new();
    for (node_name, pod_name, spec) in planned {
        created.add(&pod_name);
        let (api, sem, ns) = (api.clone(), sem.clone(), opts.namespace.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let res = api
                .probe_write(ProbeWrite::Create {
                    namespace: &ns,
                    pod: &spec,
                })
                .await
                .and_then(|raw| match raw.status {
                    200..=299 => Ok(()),
                    code => Err(api_failure(code, &raw.body)),
                });
            (node_name, pod_name, res)
        });
    }
    let mut waiting = Waiting::new();
    while let Some(done) = set.join_next().await {
        let (node_name, pod_name, res) =
            done.map_err(|e| format!("internal error while creating probe pods: {e}"))?;
        match res {
            Ok(()) => {
                waiting.insert(pod_name, (node_name, "Pending".into()));
            }
            Err(f) if f.code() == Some(401) => return Err(f.describe()),
            Err(f) => {
                if f.code().is_some() {
                    created.forget(&pod_name);
                }
                // Pod Security Admission and RBAC answer 403 Forbidden, a quota 403 too.
                let reason = match &f {
                    Failure::Api { reason, .. } if !reason.is_empty() => reason.clone(),
                    _ => "CreateFailed".into(),
                };
                let message = format!("creating the probe pod failed: {}", f.describe());
                tally.record(node_name, pod_name, Outcome::Failed { reason, message });
            }
        }
    }
    Ok(waiting)
}

/// Polls until every pod has finished or failed, or the timeout; what is left then timed out.
async fn wait_all(
    api: &Api,
    run: &str,
    mut waiting: Waiting,
    tally: &mut Tally<'_>,
) -> Result<(), String> {
    let ns = tally.opts.namespace.clone();
    let timeout = tally.opts.timeout;
    let started = Instant::now();
    let selector = format!("{},{}={run}", pod::SELECTOR, pod::RUN_LABEL);
    while !waiting.is_empty() && started.elapsed() < timeout {
        tally.progress.status(&format!(
            "waiting for {} probe pod(s), {}s",
            waiting.len(),
            started.elapsed().as_secs()
        ));
        let (pods, date) = match list_pods(api, &ns, &selector).await {
            Ok(v) => v,
            Err(f) if f.code() == Some(401) => return Err(f.describe()),
            // A slow or failing poll is retried until the timeout.
            Err(_) => {
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        let by_name: BTreeMap<&str, &Value> = pods
            .iter()
            .filter_map(|p| Some((p["metadata"]["name"].as_str()?, p)))
            .collect();
        let names: Vec<String> = waiting.keys().cloned().collect();
        for pod_name in names {
            let state = match by_name.get(pod_name.as_str()) {
                Some(p) => pod::state(p),
                None => PodState::Failed {
                    reason: "PodDeleted".into(),
                    message: "the probe pod disappeared before it finished (deleted or evicted)"
                        .into(),
                },
            };
            let outcome = match state {
                PodState::Waiting(s) => {
                    if let Some(w) = waiting.get_mut(&pod_name) {
                        w.1 = s;
                    }
                    continue;
                }
                PodState::Failed { reason, message } => Outcome::Failed { reason, message },
                PodState::Succeeded => finished(api, &ns, &pod_name, date).await,
            };
            if let Some((node_name, _)) = waiting.remove(&pod_name) {
                tally.record(node_name, pod_name, outcome);
            }
        }
        if !waiting.is_empty() {
            tokio::time::sleep(POLL).await;
        }
    }
    for (pod_name, (node_name, last)) in waiting {
        let message = format!(
            "the probe pod was still {last} after {}",
            humantime(timeout)
        );
        let reason = "TimedOut".to_string();
        tally.record(node_name, pod_name, Outcome::Failed { reason, message });
    }
    Ok(())
}

/// The report of a pod seen finished; `date` is the API server's clock at that sighting.
async fn finished(api: &Api, ns: &str, pod_name: &str, date: Option<Timestamp>) -> Outcome {
    let log = match api
        .log(ns, pod_name, pod::CONTAINER, false, 200, 64 * 1024)
        .await
    {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        // A probe that printed nothing, or whose pod is already gone: its report says so.
        Err(Failure::Api {
            code: 400 | 404, ..
        }) => String::new(),
        Err(f) => {
            return Outcome::Failed {
                reason: "LogUnreadable".into(),
                message: format!(
                    "the probe ran but its log could not be read: {}",
                    f.describe()
                ),
            };
        }
    };
    Outcome::Ran {
        report: report::parse(&log),
        server_time: date,
        margin_secs: CLOCK_MARGIN_SECS,
    }
}

async fn list_nodes(api: &Api) -> Result<Vec<Node>, String> {
    let pages = api
        .list("/api/v1/nodes", None, false)
        .await
        .map_err(|f| format!("cannot list nodes to probe: {}", f.describe()))?;
    let mut nodes: Vec<Node> = pages
        .items
        .iter()
        .filter_map(|i| serde_json::from_str(i.get()).ok())
        .collect();
    nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(nodes)
}

async fn dns_service_ip(api: &Api) -> Result<String, String> {
    let mut last = String::new();
    for name in DNS_SERVICES {
        match api
            .get_object("/api/v1/namespaces/kube-system/services", name)
            .await
        {
            Ok(svc) => {
                if let Some(ip) = svc["spec"]["clusterIP"]
                    .as_str()
                    .filter(|ip| !ip.is_empty() && *ip != "None")
                {
                    return Ok(ip.to_string());
                }
            }
            Err(f) => last = f.describe(),
        }
    }
    Err(format!(
        "no kube-dns or coredns Service with a cluster IP in kube-system ({last})"
    ))
}

/// One list of the probe pods (they are few: one per node), with the API server's clock.
async fn list_pods(
    api: &Api,
    ns: &str,
    selector: &str,
) -> Result<(Vec<Value>, Option<Timestamp>), Failure> {
    let lp = ListParams::default().labels(selector);
    let req = Request::new(format!("/api/v1/namespaces/{ns}/pods"))
        .list(&lp)
        .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
    let raw = api.send(req).await?;
    if !(200..300).contains(&raw.status) {
        return Err(api_failure(raw.status, &raw.body));
    }
    let list: Value = serde_json::from_slice(&raw.body)
        .map_err(|e| Failure::Transport(format!("the server's answer is not JSON: {e}")))?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    Ok((items, raw.date))
}

/// Short and unique enough that two runs, even at the same second, label different pods.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}",
        (nanos as u32) ^ std::process::id().rotate_left(16)
    )
}

/// Progress on stderr, for a person at a terminal only.
struct Progress {
    on: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
        }
    }

    fn line(&self, s: &str) {
        if self.on {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "\r\x1b[2K{s}");
        }
    }

    fn status(&self, s: &str) {
        if self.on {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K{s}");
            let _ = e.flush();
        }
    }

    fn done(&self) {
        self.status("");
    }
}
