//! An in-process fake Kubernetes API server, over real HTTPS with real certificates, for testing
//! kubectl-bkdoctor's live collection with the real `kube` client and the real `kubectl`.
//!
//! It answers as kube-apiserver v1.36 does (the shapes and error bodies in `recorded/` were
//! captured from one): typed lists, label and field selectors, `limit`/`continue` pagination,
//! `PartialObjectMetadataList` and `Table` on request, pod logs, 401/403/404/400/405 `Status`
//! bodies, and it records every request so a test can assert what the client did.
//!
//! ```no_run
//! let server = fake_apiserver::FakeApi::new()
//!     .load_dir("tests/fixtures/healthy")
//!     .forbid("secrets", None)
//!     .start();
//! let dir = tempfile::tempdir().unwrap();
//! let kubeconfig = server.kubeconfig_with_token(dir.path().join("config"));
//! // ... run the binary with KUBECONFIG=kubeconfig ...
//! assert!(server.requests().iter().all(|r| r.method == "GET"));
//! ```
//!
//! Extending it: a new kind of misbehaviour is a [`Respond`] variant matched by a [`Fault`];
//! behaviour that depends on what was sent (issue 5's probe pods: create, phases, delete) is a
//! [`Handler`] over the served [`Objects`]. Without a handler every write is refused with 405.

mod kubeconfig;
mod resources;
mod selector;
mod server;
mod store;
mod tls;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

pub use server::{Auth, RecordedRequest};

/// The user the recorded 403 names; RBAC denials are phrased for this user.
pub const DEFAULT_USER: &str = "system:serviceaccount:default:viewer";
/// The bearer token a default server accepts.
pub const DEFAULT_TOKEN: &str = "fake-apiserver-token";

/// kube-apiserver's message for a compacted continue token (apiserver storage/etcd3).
pub const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// What a read from etcd costs a real kube-apiserver, in bytes of the objects it scans per second
/// (about their JSON size): measured on v1.36.2 with etcd 3.4, two metadata-only pages over 3,000
/// helm Secrets of ~210 KiB of JSON each (~630 MiB) took 3.06 s, since the server decodes every
/// whole object it scans before it cuts it down to metadata or drops it for not matching.
pub const MEASURED_ETCD_READ_RATE: u64 = 200 << 20;

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
    matches: Arc<dyn Fn(&RecordedRequest) -> bool + Send + Sync>,
    respond: Respond,
    times: Option<usize>,
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
/// (`None`). Runs after authentication, before the server refuses writes: issue 5's probe pods
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

#[derive(Clone)]
pub(crate) struct Config {
    pub token: Option<String>,
    pub anonymous: bool,
    pub user: String,
    pub page_size: Option<usize>,
    /// (resource or resource/subresource, namespace or every namespace)
    pub forbidden: Vec<(String, Option<String>)>,
    pub missing_groups: Vec<String>,
    pub server_time: Option<jiff::Timestamp>,
    /// A clock set from the loaded objects at start, then running: (time then, when that was).
    pub clock_from: Option<(jiff::Timestamp, std::time::Instant)>,
    pub latency: Option<Duration>,
    /// Round trips a new connection costs before its first request, see
    /// [`FakeApi::connection_setup`].
    pub setup_round_trips: u32,
    /// Bytes per second a read from etcd costs (`None`: free), see [`FakeApi::etcd_read_rate`].
    pub etcd_read_rate: Option<u64>,
    pub watch_cache: bool,
    pub implicit_namespaces: bool,
    pub handlers: Vec<Handler>,
    pub faults: Vec<(Fault, Arc<AtomicUsize>)>,
}

/// Builds a fake API server; [`FakeApi::start`] runs it.
pub struct FakeApi {
    store: store::Store,
    config: Config,
    tls: tls::Options,
    load_error: Option<String>,
}

impl Default for FakeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeApi {
    pub fn new() -> Self {
        FakeApi {
            store: store::Store::new(),
            config: Config {
                token: Some(DEFAULT_TOKEN.to_string()),
                anonymous: false,
                user: DEFAULT_USER.to_string(),
                page_size: None,
                forbidden: Vec::new(),
                missing_groups: Vec::new(),
                server_time: None,
                clock_from: None,
                latency: None,
                setup_round_trips: 0,
                etcd_read_rate: None,
                watch_cache: true,
                implicit_namespaces: true,
                handlers: Vec::new(),
                faults: Vec::new(),
            },
            load_error: None,
            tls: tls::Options::default(),
        }
    }

    /// Objects, `List`s or typed lists (`PodList` whose items have no kind). A later object with
    /// the same kind, namespace and name replaces an earlier one.
    pub fn objects(mut self, objects: impl IntoIterator<Item = Value>) -> Self {
        for o in objects {
            self.store.add(o, None, true);
        }
        self
    }

    pub fn object(self, object: Value) -> Self {
        self.objects([object])
    }

    /// Everything in a snapshot directory, in the doctor's offline layout. Files that do not parse
    /// are left out and listed by [`FakeApiServer::load_warnings`]; a missing directory panics at
    /// [`FakeApi::start`] since that is a broken test.
    pub fn load_dir(mut self, dir: impl AsRef<Path>) -> Self {
        if let Err(e) = self.store.load_dir(dir.as_ref()) {
            self.load_error = Some(format!("{}: {e}", dir.as_ref().display()));
        }
        self
    }

    /// A container's log; `previous` is the log of its last terminated instance. Any bytes, as a
    /// container may write binary or invalid UTF-8.
    pub fn log(
        mut self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        text: impl AsRef<[u8]>,
    ) -> Self {
        self.store.set_log(
            (namespace.into(), pod.into(), container.into()),
            previous,
            text.as_ref().to_vec(),
        );
        self
    }

    /// Caps every page at `n` items when the client sends `limit` (a smaller client limit wins),
    /// so a client asking `limit=500` still has to follow `continue` tokens.
    pub fn page_size(mut self, n: usize) -> Self {
        self.config.page_size = Some(n.max(1));
        self
    }

    /// The bearer token to accept instead of [`DEFAULT_TOKEN`].
    pub fn token(mut self, token: &str) -> Self {
        self.config.token = Some(token.to_string());
        self
    }

    /// Serves requests without credentials too (as with `--anonymous-auth` and a generous RBAC).
    pub fn anonymous(mut self) -> Self {
        self.config.anonymous = true;
        self
    }

    /// A serving certificate that expired in 2020: clients refuse the TLS handshake.
    pub fn expired_server_cert(mut self) -> Self {
        self.tls.expired_server_cert = true;
        self
    }

    /// A client certificate (in `kubeconfig_with_client_cert`) that expired in 2020: the TLS
    /// handshake succeeds and every request is a 401, as kube-apiserver answers it.
    pub fn expired_client_cert(mut self) -> Self {
        self.tls.expired_client_cert = true;
        self
    }

    /// The user named in 403 messages.
    pub fn user(mut self, user: &str) -> Self {
        self.config.user = user.to_string();
        self
    }

    /// Denies `resource` (e.g. `secrets`; `pods/log` for logs, which `pods` does not cover, as in
    /// RBAC) with the API server's 403.
    /// `None` denies it everywhere; `Some(ns)` in that namespace, and cluster-wide lists too,
    /// since RBAC cannot grant a cluster-wide list that excludes a namespace.
    pub fn forbid(mut self, resource: &str, namespace: Option<&str>) -> Self {
        self.config
            .forbidden
            .push((resource.to_string(), namespace.map(str::to_string)));
        self
    }

    /// An API group that is not installed: absent from discovery, 404 on every path under it.
    pub fn missing_group(mut self, group: &str) -> Self {
        self.config.missing_groups.push(group.to_string());
        self
    }

    /// The `Date` header of every response, fixed. By default the real clock, or a clock that
    /// starts at a loaded snapshot's `serverTime`, or else at the median renew time of its node
    /// leases, and runs from there as a real server's does.
    pub fn server_time(mut self, ts: jiff::Timestamp) -> Self {
        self.config.server_time = Some(ts);
        self
    }

    /// The revision lists report and `continue` tokens carry (default: 1000, or the newest
    /// object's `resourceVersion` if higher), e.g. 344 to reproduce
    /// `recorded/secrets-metadata-page1.json` byte for byte. Objects added later raise it.
    pub fn resource_version(mut self, rv: u64) -> Self {
        self.store.resource_version = rv;
        self
    }

    /// Serves only the Namespace objects given. By default every namespace that holds objects,
    /// and default, kube-system, kube-public and kube-node-lease, exist as Active namespaces.
    pub fn without_implicit_namespaces(mut self) -> Self {
        self.config.implicit_namespaces = false;
        self
    }

    /// Every request waits this long before it is answered: the round trip to a remote cluster.
    pub fn latency(mut self, d: Duration) -> Self {
        self.config.latency = Some(d);
        self
    }

    /// A new connection waits two round trips of the latency before its TLS handshake ends, as
    /// over a real link: TCP's handshake, then TLS 1.3's. Off by default: the latency is then a
    /// cost per request only, whatever the number of connections a client opens.
    pub fn connection_setup(mut self) -> Self {
        self.config.setup_round_trips = 2;
        self
    }

    /// Reads from etcd cost time, as on a real server: a list or get without `resourceVersion`
    /// (a consistent read), or any read once [`FakeApi::without_watch_cache`], waits for the bytes
    /// of every object it scans (those a selector then drops too, and one past a full page) at
    /// `bytes_per_second` ([`MEASURED_ETCD_READ_RATE`] is a real server's). Reads with
    /// `resourceVersion=0` come from the watch cache, in memory, and cost nothing extra. Off by
    /// default, so tests stay fast.
    pub fn etcd_read_rate(mut self, bytes_per_second: u64) -> Self {
        self.config.etcd_read_rate = Some(bytes_per_second.max(1));
        self
    }

    /// A server run with `--watch-cache=false`: `resourceVersion=0` is read from etcd too, and a
    /// list's `limit` is honoured. By default `resourceVersion=0` is answered from the watch
    /// cache, which ignores `limit` and returns the whole list in one answer.
    pub fn without_watch_cache(mut self) -> Self {
        self.config.watch_cache = false;
        self
    }

    /// See [`Handler`]; handlers are asked in the order added.
    pub fn handler(
        mut self,
        handler: impl Fn(&RecordedRequest, &mut Objects<'_>) -> Option<(u16, Value)>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.config.handlers.push(Arc::new(handler));
        self
    }

    pub fn fault(mut self, fault: Fault) -> Self {
        self.config
            .faults
            .push((fault, Arc::new(AtomicUsize::new(0))));
        self
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

    /// Starts serving on 127.0.0.1 on its own thread and tokio runtime, so synchronous tests can
    /// run a binary against it. Stops when the returned handle is dropped.
    pub fn start(mut self) -> FakeApiServer {
        if let Some(e) = self.load_error.take() {
            panic!("fake-apiserver: cannot load {e}");
        }
        if self.config.server_time.is_none()
            && let Some(t) = self
                .store
                .snapshot_server_time
                .clone()
                .or_else(|| self.store.lease_time())
                .and_then(|t| t.parse().ok())
        {
            self.config.clock_from = Some((t, std::time::Instant::now()));
        }
        if self.config.implicit_namespaces {
            self.store.add_implicit_namespaces();
        }
        // A snapshot that recorded a kubelet out of reach is served with that kubelet out of
        // reach, so that live and offline see the same cluster.
        for (namespace, pod, error) in std::mem::take(&mut self.store.unreachable_kubelets) {
            self = self.kubelet_unreachable_with(&namespace, &pod, &error);
        }
        self.store.changes = Some(tokio::sync::broadcast::channel(1024).0);
        let pki = tls::generate(&self.config.user, self.tls).expect("fake-apiserver: certificates");
        let state = Arc::new(server::State::new(
            self.store,
            self.config.clone(),
            pki.client_verifier.clone(),
        ));
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("fake-apiserver: bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let tls_config = pki.server_config.clone();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-apiserver-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fake-apiserver: tokio runtime");
                rt.block_on(server::serve(listener, tls_config, thread_state, stop_rx));
            })
            .expect("fake-apiserver: thread");
        FakeApiServer {
            url: format!("https://127.0.0.1:{port}"),
            pki,
            state,
            token: self.config.token.clone(),
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

/// A running fake API server. Dropping it stops it.
pub struct FakeApiServer {
    url: String,
    pki: tls::Pki,
    state: Arc<server::State>,
    token: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The context name written into generated kubeconfigs.
pub const CONTEXT: &str = "fake";

impl FakeApiServer {
    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    pub fn client_cert_pem(&self) -> &str {
        &self.pki.client_cert_pem
    }

    pub fn client_key_pem(&self) -> &str {
        &self.pki.client_key_pem
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Writes a kubeconfig authenticating with the bearer token, context [`CONTEXT`], default
    /// namespace `default`; returns its path.
    pub fn kubeconfig_with_token(&self, path: impl AsRef<Path>) -> PathBuf {
        self.write_kubeconfig(path, kubeconfig::User::Token, "default")
    }

    /// Writes a kubeconfig authenticating with the client certificate; returns its path.
    pub fn kubeconfig_with_client_cert(&self, path: impl AsRef<Path>) -> PathBuf {
        self.write_kubeconfig(path, kubeconfig::User::ClientCert, "default")
    }

    /// Writes a kubeconfig whose context has `namespace` as its default namespace.
    pub fn kubeconfig_in_namespace(&self, path: impl AsRef<Path>, namespace: &str) -> PathBuf {
        self.write_kubeconfig(path, kubeconfig::User::Token, namespace)
    }

    /// The kubeconfig text itself, for tests that need to edit it.
    pub fn kubeconfig_yaml(&self, client_cert: bool, namespace: &str) -> String {
        let user = if client_cert {
            kubeconfig::User::ClientCert
        } else {
            kubeconfig::User::Token
        };
        kubeconfig::render(self, user, namespace)
    }

    fn write_kubeconfig(
        &self,
        path: impl AsRef<Path>,
        user: kubeconfig::User,
        namespace: &str,
    ) -> PathBuf {
        let path = path.as_ref().to_path_buf();
        std::fs::write(&path, kubeconfig::render(self, user, namespace))
            .unwrap_or_else(|e| panic!("fake-apiserver: write {}: {e}", path.display()));
        path
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests other than GET: the doctor must never send one.
    pub fn writes(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    /// Changes [`FakeApi::latency`] while serving, e.g. to measure one cluster near and far.
    pub fn set_latency(&self, d: Duration) {
        self.state
            .latency_us
            .store(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn clear_requests(&self) {
        self.state.requests.lock().unwrap().clear();
    }

    /// The most requests that were being answered at the same moment: proof of concurrency
    /// (together with [`FakeApi::latency`]).
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Files of a loaded directory that could not be parsed.
    pub fn load_warnings(&self) -> Vec<String> {
        self.state.store.read().unwrap().load_warnings.clone()
    }

    /// Reads or changes the served objects and logs while the server runs.
    pub fn with_objects<R>(&self, f: impl FnOnce(&mut Objects<'_>) -> R) -> R {
        let mut store = self.state.store.write().unwrap();
        f(&mut Objects { store: &mut store })
    }

    /// Adds or replaces objects while the server runs.
    pub fn add_objects(&self, objects: impl IntoIterator<Item = Value>) {
        self.with_objects(|o| {
            for object in objects {
                o.put(object);
            }
        })
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
