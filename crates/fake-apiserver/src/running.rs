//! Starting a built [`FakeApi`] on its own thread and runtime, and the handle of the running
//! server: its address and credentials, kubeconfigs, the record of requests, changes while it
//! serves. It decides no answer (the `server` module does).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use crate::{FakeApi, Objects, RecordedRequest, Respond, kubeconfig, server, tls};

impl FakeApi {
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
        for a in std::mem::take(&mut self.store.recorded_log_answers) {
            let status = Respond::Status {
                code: a.code,
                reason: a.reason,
                message: a.message,
            };
            self = self.log_answer(&a.namespace, &a.pod, &a.container, a.previous, status);
        }
        self.store.fill_managed_fields();
        self.store.changes = Some(tokio::sync::broadcast::channel(crate::watch::CHANGES_QUEUED).0);
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
