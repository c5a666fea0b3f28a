//! Ways to extend the fake: [`Fault`]s that make it misbehave, [`Handler`]s that answer what was
//! sent over the served [`Objects`], and the kubelet-out-of-reach answer built from both. Nothing
//! here serves a request by itself; the server asks these before answering as it would.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::{EXPIRED_CONTINUE, FakeApi, RecordedRequest, store};

/// What a [`Fault`] makes the server do instead of (or before) answering normally.
#[derive(Clone, Debug)]
pub enum Respond {
    /// A `Status` body with this code, reason and message, as the API server writes errors.
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    /// Any body, e.g. a truncated JSON or a proxy's HTML error page.
    Raw {
        code: u16,
        content_type: String,
        body: String,
    },
    /// Wait, then answer normally: a slow server.
    Delay(Duration),
    /// Never answer: the client's request timeout must fire.
    Hang,
    /// Answer normally but drop the connection after this many bytes of the body, with the
    /// Content-Length of the whole one.
    CutAfter(usize),
}

/// A misbehaviour for the requests `matches` selects; `times` limits how often (None: always).
#[derive(Clone)]
pub struct Fault {
    pub(crate) matches: Arc<dyn Fn(&RecordedRequest) -> bool + Send + Sync>,
    pub(crate) respond: Respond,
    pub(crate) times: Option<usize>,
}

impl Fault {
    pub fn new(
        matches: impl Fn(&RecordedRequest) -> bool + Send + Sync + 'static,
        respond: Respond,
    ) -> Self {
        Fault {
            matches: Arc::new(matches),
            respond,
            times: None,
        }
    }

    /// Requests whose path is exactly `path`.
    pub fn path(path: &str, respond: Respond) -> Self {
        let path = path.to_string();
        Fault::new(move |r| r.path == path, respond)
    }

    /// A list continued with a token the server no longer honours: the 410 Expired etcd gives
    /// once the token's revision is compacted. The client must start the list again.
    pub fn continue_expired() -> Self {
        Fault::new(
            |r| r.param("continue").is_some_and(|c| !c.is_empty()),
            Respond::Status {
                code: 410,
                reason: "Expired".into(),
                message: EXPIRED_CONTINUE.into(),
            },
        )
    }

    /// Only the first `n` matching requests.
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }
}

/// Answers a request itself, with a status code and a JSON body, or lets the server answer
/// (`None`). Runs after authentication, before the server refuses writes: the node probes' pods
/// (create, then phases advancing per poll, then delete) are a handler over [`Objects`].
pub type Handler =
    Arc<dyn Fn(&RecordedRequest, &mut Objects<'_>) -> Option<(u16, Value)> + Send + Sync>;

/// The objects and logs a running server holds, for handlers and tests to change.
pub struct Objects<'a> {
    pub(crate) store: &'a mut store::Store,
}

impl Objects<'_> {
    /// `group` is `""` for the core group; `namespace` is `None` for cluster-scoped objects.
    pub fn get(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&Value> {
        self.store
            .objects
            .get(&(group.to_string(), resource.to_string()))?
            .get(&store::key(namespace, name))
    }

    /// Adds or replaces an object (it must have kind and apiVersion). It gets a new
    /// resourceVersion, as every write does, and watchers see it.
    pub fn put(&mut self, mut object: Value) {
        if let Some(m) = object["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        self.store.add(object, None, true);
    }

    pub fn remove(
        &mut self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.store
            .remove(group, resource, &store::key(namespace, name))
    }

    pub fn set_log(
        &mut self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        text: impl AsRef<[u8]>,
    ) {
        self.store.set_log(
            (namespace.into(), pod.into(), container.into()),
            previous,
            text.as_ref().to_vec(),
        );
    }
}

impl FakeApi {
    /// The log reads of one container (its previous instance's when `previous`) answered with
    /// `respond` instead: a pod deleted since it was listed, a previous log rotated away. A read
    /// that names no container matches too.
    pub fn log_answer(
        self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        respond: Respond,
    ) -> Self {
        let path = format!("/api/v1/namespaces/{namespace}/pods/{pod}/log");
        let container = container.to_string();
        self.fault(Fault::new(
            move |r| {
                r.path == path
                    && r.param("container")
                        .is_none_or(|c| c.is_empty() || c == container)
                    && matches!(r.param("previous"), Some("true" | "1")) == previous
            },
            respond,
        ))
    }

    /// The kubelet of the node running `pod` cannot be reached: its log requests get the 500 a
    /// real API server gives then (recorded/error-pod-log-kubelet-unreachable.txt), naming the
    /// node's InternalIP (127.0.0.9 if unknown) and the kubelet URL the API server built.
    pub fn kubelet_unreachable(self, namespace: &str, pod: &str) -> Self {
        self.kubelet_unreachable_with(namespace, pod, "connect: connection refused")
    }

    /// As [`FakeApi::kubelet_unreachable`], with the dial error the API server met, e.g.
    /// `connect: no route to host` (a firewall's reject) or `i/o timeout` (a drop).
    pub fn kubelet_unreachable_with(self, namespace: &str, pod: &str, error: &str) -> Self {
        let error = error.to_string();
        let path = format!("/api/v1/namespaces/{namespace}/pods/{pod}/log");
        let (namespace, pod) = (namespace.to_string(), pod.to_string());
        self.handler(move |r, objects| {
            if r.path != path {
                return None;
            }
            let object = objects.get("", "pods", Some(&namespace), &pod);
            let container = match r.param("container").filter(|c| !c.is_empty()) {
                Some(c) => c.to_string(),
                None => {
                    // Without a container the API server first needs the pod to name one.
                    let containers = object?["spec"]["containers"].as_array()?;
                    (containers.len() == 1)
                        .then(|| containers[0]["name"].as_str())??
                        .to_string()
                }
            };
            let ip = object
                .and_then(|p| p["spec"]["nodeName"].as_str())
                .and_then(|n| objects.get("", "nodes", None, n))
                .and_then(|n| {
                    n["status"]["addresses"]
                        .as_array()?
                        .iter()
                        .find(|a| a["type"] == "InternalIP")?["address"]
                        .as_str()
                })
                .unwrap_or("127.0.0.9")
                .to_string();
            // The kubelet query as the API server encodes it: set options only, keys sorted.
            let query: Vec<String> = ["follow", "limitBytes", "previous", "sinceSeconds", "tailLines", "timestamps"]
                .iter()
                .filter_map(|k| {
                    let v = r.param(k).filter(|v| !v.is_empty() && *v != "false")?;
                    Some(format!("{k}={v}"))
                })
                .collect();
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            Some((
                500,
                serde_json::json!({
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": format!(
                        "Get \"https://{ip}:10250/containerLogs/{namespace}/{pod}/{container}{query}\": dial tcp {ip}:10250: {error}"
                    ),
                    "code": 500,
                }),
            ))
        })
    }
}
