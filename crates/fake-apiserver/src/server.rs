//! The HTTP side: TLS accept loop, authentication, faults and latency, the headers every answer
//! carries, and the `Status` bodies errors share, shaped as the recordings in `recorded/` show the
//! real server's. Which handler answers a path is [`routing`]'s job; each resource's answers are in
//! the modules beside it. Nothing here reads a stored object.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::body::{Frame, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Map, Value, json};

use crate::resources::ResourceType;
use crate::store::Store;
use crate::{Config, Respond};

mod discovery;
mod lists;
mod logs;
mod order;
mod routing;
mod tables;
mod watches;

use lists::ReadCost;
use routing::route;

/// How a request proved who sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    Token,
    ClientCert,
    /// A bearer token that is not the configured one.
    BadToken,
    /// A client certificate that is expired or not signed by the cluster's CA.
    BadCert,
}

#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// `HTTP/1.1` or `HTTP/2.0`: Go clients negotiate HTTP/2 as with a real API server.
    pub version: String,
    pub path: String,
    /// The raw query string, `""` if none.
    pub query: String,
    pub params: BTreeMap<String, String>,
    pub accept: Option<String>,
    /// The request body (lossy UTF-8, at most 4 MiB): what a write would have written.
    pub body: String,
    pub user_agent: Option<String>,
    pub auth: Auth,
    /// The status the server answered; 0 while it has not answered.
    pub status: u16,
    /// Length of the response body (0 for watches, which stream): what the client received, so
    /// that benchmarks compare clients by the bytes they cost.
    pub response_bytes: u64,
}

impl RecordedRequest {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    pub fn authenticated(&self) -> bool {
        matches!(self.auth, Auth::Token | Auth::ClientCert)
    }
}

pub struct State {
    /// Read-locked by every GET, so that reads run side by side as on a real server; written by
    /// handlers and by tests changing objects.
    pub store: RwLock<Store>,
    pub client_verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    pub config: Config,
    pub requests: Mutex<Vec<RecordedRequest>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    audit_ids: AtomicU64,
    /// Every answer's delay in microseconds: [`Config::latency`] at start, changeable while
    /// serving.
    pub latency_us: AtomicU64,
}

impl State {
    pub fn new(
        store: Store,
        config: Config,
        client_verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    ) -> Self {
        State {
            store: RwLock::new(store),
            client_verifier,
            requests: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            audit_ids: AtomicU64::new(1),
            latency_us: AtomicU64::new(config.latency.map_or(0, |d| d.as_micros() as u64)),
            config,
        }
    }
}

pub async fn serve(
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let setup = u64::from(state.config.setup_round_trips);
            let us = state.latency_us.load(Ordering::Relaxed) * setup;
            if us > 0 {
                tokio::time::sleep(std::time::Duration::from_micros(us)).await;
            }
            // A failed handshake (wrong CA on the client side) is the client's error to report.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let client_cert = match tls.get_ref().1.peer_certificates() {
                Some([leaf, intermediates @ ..]) => Some(
                    state
                        .client_verifier
                        .verify_client_cert(leaf, intermediates, rustls::pki_types::UnixTime::now())
                        .is_ok(),
                ),
                _ => None,
            };
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(state, req, client_cert).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

type Resp = Response<Bytes>;

/// A whole body; or one that stops after `cut` bytes with an error while its Content-Length
/// promised all of them (the connection drops mid-response); or a watch stream.
pub enum Body {
    Full {
        data: Option<Bytes>,
        len: u64,
        fail: bool,
    },
    Stream(tokio::sync::mpsc::Receiver<Bytes>),
}

impl Body {
    fn new(data: Bytes, cut: Option<usize>) -> Self {
        let len = data.len() as u64;
        match cut {
            Some(n) if n < data.len() => Body::Full {
                data: Some(data.slice(..n)),
                len,
                fail: true,
            },
            _ => Body::Full {
                data: Some(data),
                len,
                fail: false,
            },
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        use std::task::Poll;
        match self.get_mut() {
            Body::Full { data, fail, .. } => {
                if let Some(d) = data.take().filter(|d| !d.is_empty()) {
                    return Poll::Ready(Some(Ok(Frame::data(d))));
                }
                if std::mem::take(fail) {
                    return Poll::Ready(Some(Err(std::io::Error::other("response cut"))));
                }
                Poll::Ready(None)
            }
            Body::Stream(rx) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|c| Ok(Frame::data(c)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full { data, fail, .. } => data.as_ref().is_none_or(Bytes::is_empty) && !fail,
            Body::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full { len, .. } => SizeHint::with_exact(*len),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// Carries a watch's event stream out of the synchronous router, in the response's extensions
/// (which must be Clone).
#[derive(Clone)]
struct WatchStream(Arc<Mutex<Option<tokio::sync::mpsc::Receiver<Bytes>>>>);

struct InFlight<'a>(&'a State);

impl<'a> InFlight<'a> {
    fn enter(state: &'a State) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `client_cert`: whether the connection presented one, and whether it is valid.
async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
    client_cert: Option<bool>,
) -> Response<Body> {
    let _in_flight = InFlight::enter(&state);
    let (parts, body) = req.into_parts();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let auth = match header(header::AUTHORIZATION) {
        Some(a) => match a.strip_prefix("Bearer ") {
            Some(t) if state.config.token.as_deref() == Some(t.trim()) => Auth::Token,
            _ => Auth::BadToken,
        },
        None => match client_cert {
            Some(true) => Auth::ClientCert,
            Some(false) => Auth::BadCert,
            None => Auth::None,
        },
    };
    let query = parts.uri.query().unwrap_or("").to_string();
    let body = match http_body_util::Limited::new(body, 4 << 20).collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let record = RecordedRequest {
        method: parts.method.as_str().to_string(),
        version: format!("{:?}", parts.version),
        path: parts.uri.path().to_string(),
        params: parse_query(&query),
        query,
        accept: header(header::ACCEPT),
        body,
        user_agent: header(header::USER_AGENT),
        auth,
        status: 0,
        response_bytes: 0,
    };
    let index = {
        let mut requests = state.requests.lock().unwrap();
        requests.push(record.clone());
        requests.len() - 1
    };

    match state.latency_us.load(Ordering::Relaxed) {
        0 => {}
        us => tokio::time::sleep(std::time::Duration::from_micros(us)).await,
    }
    let mut response = None;
    let mut cut = None;
    for (fault, count) in &state.config.faults {
        if !(fault.matches)(&record) {
            continue;
        }
        if let Some(limit) = fault.times
            && count.fetch_add(1, Ordering::SeqCst) >= limit
        {
            continue;
        }
        match &fault.respond {
            Respond::Delay(d) => tokio::time::sleep(*d).await,
            Respond::Hang => std::future::pending::<()>().await,
            Respond::CutAfter(n) => cut = Some(*n),
            Respond::Status {
                code,
                reason,
                message,
            } => {
                response = Some(status(*code, reason, message, None));
                break;
            }
            Respond::Raw {
                code,
                content_type,
                body,
            } => {
                response = Some(raw(*code, content_type, body.clone()));
                break;
            }
        }
    }
    let mut response = response.unwrap_or_else(|| route(&state, &record));
    if let Some(ReadCost(d)) = response.extensions_mut().remove::<ReadCost>() {
        tokio::time::sleep(d).await;
    }

    let headers = response.headers_mut();
    let now = now(&state.config);
    if let Ok(v) = HeaderValue::from_str(&now.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        headers.insert(header::DATE, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    let audit = state.audit_ids.fetch_add(1, Ordering::SeqCst);
    if let Ok(v) = HeaderValue::from_str(&format!("00000000-0000-4000-8000-{audit:012x}")) {
        headers.insert("audit-id", v);
    }
    {
        let mut requests = state.requests.lock().unwrap();
        requests[index].status = response.status().as_u16();
        requests[index].response_bytes = response.body().len() as u64;
    }
    let stream = response
        .extensions_mut()
        .remove::<WatchStream>()
        .and_then(|w| w.0.lock().unwrap().take());
    match stream {
        Some(rx) => response.map(|_| Body::Stream(rx)),
        None => response.map(|b| Body::new(b, cut)),
    }
}

/// The server's clock: fixed by the test, started from the loaded objects' time, or the real one.
fn now(config: &Config) -> jiff::Timestamp {
    if let Some(t) = config.server_time {
        return t;
    }
    match config.clock_from {
        Some((t, at)) => jiff::SignedDuration::try_from(at.elapsed())
            .ok()
            .and_then(|d| t.checked_add(d).ok())
            .unwrap_or(t),
        None => jiff::Timestamp::now(),
    }
}

fn raw(code: u16, content_type: &str, body: String) -> Resp {
    let mut r = Response::new(Bytes::from(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn json_response(code: u16, body: &Value) -> Resp {
    raw(code, "application/json", body.to_string())
}

/// A `Status` error body exactly as kube-apiserver writes them (see `recorded/error-*.json`).
fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Resp {
    let mut body = Map::new();
    body.insert("kind".into(), "Status".into());
    body.insert("apiVersion".into(), "v1".into());
    body.insert("metadata".into(), json!({}));
    body.insert("status".into(), "Failure".into());
    body.insert("message".into(), message.into());
    if !reason.is_empty() {
        body.insert("reason".into(), reason.into());
    }
    if let Some(d) = details {
        body.insert("details".into(), d);
    }
    body.insert("code".into(), code.into());
    json_response(code, &Value::Object(body))
}

fn details(name: Option<&str>, t: &ResourceType) -> Value {
    let mut d = Map::new();
    if let Some(n) = name {
        d.insert("name".into(), n.into());
    }
    if !t.group.is_empty() {
        d.insert("group".into(), t.group.clone().into());
    }
    d.insert("kind".into(), t.resource.clone().into());
    Value::Object(d)
}

/// `pods`, or `deployments.apps`: how the API server names a resource in messages.
fn qualified(t: &ResourceType) -> String {
    if t.group.is_empty() {
        t.resource.clone()
    } else {
        format!("{}.{}", t.resource, t.group)
    }
}

fn not_found_resource() -> Resp {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

fn not_found(t: &ResourceType, name: &str) -> Resp {
    status(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", qualified(t)),
        Some(details(Some(name), t)),
    )
}

fn bad_request(message: &str) -> Resp {
    status(400, "BadRequest", message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("labelSelector=owner%3Dhelm%2Cstatus+in+%28a%29&limit=2");
        assert_eq!(q["labelSelector"], "owner=helm,status in (a)");
        assert_eq!(q["limit"], "2");
    }
}
