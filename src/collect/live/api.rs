//! The only door to the API server: GET requests, each with its own time limit, counted. Every
//! answer that is not a success becomes a [`Failure`] the collector can put into words; nothing
//! here panics on what a server sends. Paging lists is [`lists`]'s job, the `--probe` writes are
//! [`probe`]'s; this file holds the exchange itself and what an answer means.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use jiff::Timestamp;
use kube::Client;
use kube::api::LogParams;
use kube::client::Body;
use kube::core::Request;
use serde_json::Value;

mod lists;
mod probe;

pub use lists::{Listed, MAX_LIST_ITEMS, MAX_PAGES, METADATA_PAGE_SIZE, PAGE_SIZE, Page};
pub use probe::{
    COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, PROBE_COMPONENT, PROBE_POD_PREFIX, ProbeWrite,
    is_namespace_name,
};

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
    /// Sequential waves of requests so far: a request sent after another one's answer came back
    /// is one wave later than it. Over a remote link each wave costs a round trip, however many
    /// requests run side by side in it.
    pub waves: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error status (a `metav1.Status`, or plain text from a proxy or an
    /// API group that is not installed).
    Api {
        code: u16,
        reason: String,
        message: String,
    },
    Timeout(Duration),
    /// No answer: connection refused, TLS failure, DNS, a broken body.
    Transport(String),
    /// An answer larger than the body limit (in MiB), not read.
    TooLarge(usize),
}

impl Failure {
    /// "forbidden: secrets is forbidden: User ..." — the class an operator acts on, then the API's
    /// own words.
    pub fn describe(&self) -> String {
        match self {
            Failure::Api {
                code,
                reason,
                message,
            } => crate::snapshot::api_answer(*code, reason, message),
            Failure::Timeout(d) => format!("timed out after {}", humantime(*d)),
            Failure::Transport(e) => e.clone(),
            Failure::TooLarge(mib) => format!("the answer is larger than {mib} MiB; not read"),
        }
    }

    pub fn code(&self) -> Option<u16> {
        match self {
            Failure::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The innermost error of a chain: "Connection refused (os error 111)" rather than five layers of
/// client, connector and TLS wrappers each repeating it.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    // Bounded: an error type whose source() cycles must not hang the tool.
    for _ in 0..32 {
        match cur.source() {
            Some(s) => cur = s,
            None => break,
        }
    }
    cur.to_string()
}

/// What came back, before it is judged.
pub struct Raw {
    pub status: u16,
    /// The server's clock (`Date` header), when it sent one.
    pub date: Option<Timestamp>,
    pub body: bytes::Bytes,
}

/// The largest answer read, as the largest snapshot file: a page of 500 objects is a few MiB, and a
/// body past this is a server or proxy gone wrong that would otherwise fill the memory.
pub const MAX_BODY: usize = crate::collect::dir::MAX_OBJECT_FILE as usize;

#[derive(Clone)]
pub struct Api {
    client: Client,
    timeout: Option<Duration>,
    max_body: usize,
    consistent: bool,
    pub stats: Arc<Stats>,
}

impl Api {
    pub fn new(client: Client, timeout: Option<Duration>) -> Api {
        Api {
            client,
            timeout,
            max_body: MAX_BODY,
            consistent: false,
            stats: Arc::default(),
        }
    }

    /// Lists read from etcd, paged, as of one moment (`--consistent-read`), instead of from the
    /// API server's watch cache in one answer.
    pub fn consistent_reads(mut self, yes: bool) -> Api {
        self.consistent = yes;
        self
    }

    /// The client itself, for watches: long-lived streams, not the bounded reads this door makes.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Whether reads may come from the watch cache: not with `--consistent-read`.
    pub fn reads_from_cache(&self) -> bool {
        !self.consistent
    }

    /// Another limit than [`MAX_BODY`], so that tests need not send half a gigabyte.
    pub fn with_max_body(mut self, bytes: usize) -> Api {
        self.max_body = bytes;
        self
    }

    /// Sends one request and reads the whole answer. Refuses anything but GET: `check`, `release`
    /// and `snapshot` promise to change nothing in the cluster, and this is the one place that
    /// could break that promise. The only writes are [`Api::probe_write`]'s.
    pub async fn send(&self, req: http::Request<Vec<u8>>) -> Result<Raw, Failure> {
        self.send_capped(req, None).await
    }

    /// As [`Api::send`], but keeps at most `cap` bytes of the body and drops the connection after
    /// them: a server that ignores `limitBytes` must not fill the memory. Without `cap`, a body
    /// larger than the [`MAX_BODY`] limit is a failure.
    async fn send_capped(
        &self,
        req: http::Request<Vec<u8>>,
        cap: Option<usize>,
    ) -> Result<Raw, Failure> {
        if req.method() != http::Method::GET {
            return Err(Failure::Transport(format!(
                "refused to send {} {}: the doctor only reads",
                req.method(),
                req.uri()
            )));
        }
        self.exchange(req, cap).await
    }

    /// Sends and reads the answer: at most `cap` bytes of the body when given, else at most the
    /// body limit.
    async fn exchange(
        &self,
        req: http::Request<Vec<u8>>,
        cap: Option<usize>,
    ) -> Result<Raw, Failure> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let wave = self.stats.waves.load(Ordering::Relaxed) + 1;
        let answer = self.exchange_counted(req, cap).await;
        self.stats.waves.fetch_max(wave, Ordering::Relaxed);
        answer
    }

    async fn exchange_counted(
        &self,
        req: http::Request<Vec<u8>>,
        cap: Option<usize>,
    ) -> Result<Raw, Failure> {
        let client = self.client.clone();
        let max_body = self.max_body;
        let too_large = move || Failure::TooLarge(max_body >> 20);
        let exchange = async move {
            let res = client
                .send(req.map(Body::from))
                .await
                .map_err(|e| Failure::Transport(root_cause(&e)))?;
            let status = res.status().as_u16();
            let date = res
                .headers()
                .get(http::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_http_date);
            let announced = res
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if cap.is_none() && announced.is_some_and(|n| n > max_body as u64) {
                return Err(too_large());
            }
            let mut body = res.into_body();
            let mut buf = bytes::BytesMut::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| Failure::Transport(root_cause(&e)))?;
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                    match cap {
                        Some(cap) if buf.len() >= cap => {
                            buf.truncate(cap);
                            break;
                        }
                        None if buf.len() > max_body => return Err(too_large()),
                        _ => {}
                    }
                }
            }
            Ok(Raw {
                status,
                date,
                body: buf.freeze(),
            })
        };
        let raw = match self.timeout {
            Some(t) => tokio::time::timeout(t, exchange)
                .await
                .map_err(|_| Failure::Timeout(t))??,
            None => exchange.await?,
        };
        self.stats
            .bytes
            .fetch_add(raw.body.len() as u64, Ordering::Relaxed);
        Ok(raw)
    }

    /// The body of a successful answer; an error status becomes [`Failure::Api`].
    pub async fn get(&self, req: http::Request<Vec<u8>>) -> Result<bytes::Bytes, Failure> {
        self.get_capped(req, None).await
    }

    pub(super) async fn get_capped(
        &self,
        req: http::Request<Vec<u8>>,
        cap: Option<usize>,
    ) -> Result<bytes::Bytes, Failure> {
        let raw = self.send_capped(req, cap).await?;
        if (200..300).contains(&raw.status) {
            Ok(raw.body)
        } else {
            Err(api_failure(raw.status, &raw.body))
        }
    }

    pub async fn get_json(&self, req: http::Request<Vec<u8>>) -> Result<Value, Failure> {
        self.get_parsed(req).await
    }

    async fn get_parsed<T: serde::de::DeserializeOwned>(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<T, Failure> {
        let body = self.get(req).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Failure::Transport(format!("the server's answer is not JSON: {e}")))
    }

    /// One object by name, e.g. a helm storage Secret.
    pub async fn get_object(&self, path: &str, name: &str) -> Result<Value, Failure> {
        let req = Request::new(path)
            .get(name, &Default::default())
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
        self.get_json(req).await
    }

    /// The bounded tail of one container's log: never more than `limit_bytes`, even from a server
    /// that ignores `limitBytes`; a body that long was cut. Every other answer is a [`Failure`]: a
    /// 400 (no previous instance, not started, the node's log rotated away) or a 404 (the pod
    /// deleted since it was listed) is a log the caller wanted and did not get, and says so.
    pub async fn log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        tail_lines: i64,
        limit_bytes: i64,
    ) -> Result<bytes::Bytes, Failure> {
        let lp = LogParams {
            container: Some(container.to_string()),
            previous,
            tail_lines: Some(tail_lines),
            limit_bytes: Some(limit_bytes),
            ..LogParams::default()
        };
        let req = Request::new(format!("/api/v1/namespaces/{namespace}/pods"))
            .logs(pod, &lp)
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
        self.get_capped(req, Some(limit_bytes.max(0) as usize))
            .await
    }
}

/// A non-success answer, in the API's own words when it sent a `Status`.
pub fn api_failure(code: u16, body: &[u8]) -> Failure {
    let status: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        status
            .as_ref()
            .and_then(|s| s[k].as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut message = field("message");
    if message.is_empty() && status.is_none() {
        // A bare "404 page not found" from an API group that is not installed, or a proxy's page:
        // keep a short, single line of it.
        let text = String::from_utf8_lossy(body);
        let line = text.lines().next().unwrap_or("").trim();
        message = line.chars().take(200).collect();
    }
    Failure::Api {
        code,
        reason: field("reason"),
        message,
    }
}

/// `Wed, 25 Nov 2026 21:13:17 GMT` (RFC 9110's IMF-fixdate, a profile of RFC 2822).
pub fn parse_http_date(s: &str) -> Option<Timestamp> {
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(s)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date() {
        assert_eq!(
            parse_http_date("Wed, 25 Nov 2026 21:13:17 GMT").map(|t| t.to_string()),
            Some("2026-11-25T21:13:17Z".to_string())
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn failures_in_the_apis_words() {
        let forbidden = include_bytes!("../../../tests/api-responses/error-403-forbidden.json");
        let f = api_failure(403, forbidden);
        assert_eq!(f.code(), Some(403));
        assert!(
            f.describe()
                .starts_with("forbidden: secrets is forbidden: User ")
        );
        let kubelet =
            include_bytes!("../../../tests/api-responses/error-pod-log-kubelet-unreachable.json");
        let d = api_failure(500, kubelet).describe();
        assert!(d.starts_with("HTTP 500: Get \"https://"), "{d}");
        assert_eq!(
            api_failure(404, b"404 page not found\n").describe(),
            "not found: 404 page not found"
        );
        assert_eq!(
            Failure::Timeout(Duration::from_secs(30)).describe(),
            "timed out after 30s"
        );
    }
}
