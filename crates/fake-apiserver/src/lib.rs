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
//! behaviour that depends on what was sent (the node probes' pods: create, phases, delete) is a
//! [`Handler`] over the served [`Objects`]. Without a handler every write is refused with 405.

mod extend;
mod kubeconfig;
mod managed;
mod resources;
mod running;
mod selector;
mod server;
mod store;
mod tls;
mod watch;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use serde_json::Value;

pub use extend::{Fault, Handler, Objects, Respond};
pub use running::{CONTEXT, FakeApiServer};
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

    /// Serves objects as they were given, without the `managedFields` a real server writes on
    /// every object (by default they are filled in at the start, as kube-apiserver would have
    /// written them): to measure what they cost a client.
    pub fn without_managed_fields(mut self) -> Self {
        self.store.managed_fields = false;
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
}
