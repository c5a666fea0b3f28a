//! The only door to the API server: GET requests, each with its own time limit, counted. Every
//! answer that is not a success becomes a [`Failure`] the collector can put into words; nothing
//! here panics on what a server sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use jiff::Timestamp;
use kube::Client;
use kube::api::LogParams;
use kube::client::Body;
use kube::core::Request;
use kube::core::params::ListParams;
use serde_json::Value;

/// Items per list page: kubectl's own `--chunk-size` default. Small enough that the API server
/// never builds one giant response for a 10,000-pod cluster, large enough that a small one takes a
/// single round trip.
pub const PAGE_SIZE: u32 = 500;

/// A list that has not ended after this many pages is a server handing out continue tokens in a
/// loop.
const MAX_PAGES: usize = 10_000;

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
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
            } => {
                let class = match (*code, reason.as_str()) {
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
            Failure::Timeout(d) => format!("timed out after {}", humantime(*d)),
            Failure::Transport(e) => e.clone(),
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

#[derive(Clone)]
pub struct Api {
    client: Client,
    timeout: Option<Duration>,
    pub stats: Arc<Stats>,
}

impl Api {
    pub fn new(client: Client, timeout: Option<Duration>) -> Api {
        Api {
            client,
            timeout,
            stats: Arc::default(),
        }
    }

    /// Sends one request and reads the whole answer. Refuses anything but GET: `check`, `release`
    /// and `snapshot` promise to change nothing in the cluster, and this is the one place that
    /// could break that promise.
    pub async fn send(&self, req: http::Request<Vec<u8>>) -> Result<Raw, Failure> {
        if req.method() != http::Method::GET {
            return Err(Failure::Transport(format!(
                "refused to send {} {}: the doctor only reads",
                req.method(),
                req.uri()
            )));
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let client = self.client.clone();
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
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(|e| Failure::Transport(root_cause(&e)))?
                .to_bytes();
            Ok(Raw { status, date, body })
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
        let raw = self.send(req).await?;
        if (200..300).contains(&raw.status) {
            Ok(raw.body)
        } else {
            Err(api_failure(raw.status, &raw.body))
        }
    }

    pub async fn get_json(&self, req: http::Request<Vec<u8>>) -> Result<Value, Failure> {
        let body = self.get(req).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Failure::Transport(format!("the server's answer is not JSON: {e}")))
    }

    /// Every page of a list (`limit` + `continue`), as the API returns them: `PodList` and so on,
    /// or `PartialObjectMetadataList` when only metadata is asked for.
    pub async fn list(
        &self,
        path: &str,
        label_selector: Option<&str>,
        metadata_only: bool,
    ) -> Result<Vec<Value>, Failure> {
        let mut pages = Vec::new();
        self.list_pages(path, label_selector, metadata_only, |page| match page {
            Some(p) => pages.push(p),
            None => pages.clear(),
        })
        .await?;
        Ok(pages)
    }

    /// Hands each page to `on_page` as it arrives, so that a big list never sits in memory as JSON
    /// all at once; `None` means start over (the list was restarted, see below).
    pub async fn list_pages(
        &self,
        path: &str,
        label_selector: Option<&str>,
        metadata_only: bool,
        mut on_page: impl FnMut(Option<Value>),
    ) -> Result<(), Failure> {
        let request = Request::new(path);
        let mut token: Option<String> = None;
        let mut restarted = false;
        for _ in 0..MAX_PAGES {
            let lp = ListParams {
                label_selector: label_selector.map(str::to_string),
                limit: Some(PAGE_SIZE),
                continue_token: token.clone(),
                ..ListParams::default()
            };
            let req = if metadata_only {
                request.list_metadata(&lp)
            } else {
                request.list(&lp)
            }
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
            let page = match self.get_json(req).await {
                // A continue token expires with its etcd compaction (about 5 minutes): on a big,
                // busy cluster a slow list can outlive it. Start over once, as kubectl does.
                Err(Failure::Api { code: 410, .. }) if token.is_some() && !restarted => {
                    restarted = true;
                    token = None;
                    on_page(None);
                    continue;
                }
                page => page?,
            };
            let next = page["metadata"]["continue"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            on_page(Some(page));
            match next {
                Some(t) if token.as_deref() != Some(t.as_str()) => token = Some(t),
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// One object by name, e.g. a helm storage Secret.
    pub async fn get_object(&self, path: &str, name: &str) -> Result<Value, Failure> {
        let req = Request::new(path)
            .get(name, &Default::default())
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
        self.get_json(req).await
    }

    /// The bounded tail of one container's log. `Ok(None)` when there is none to read: the API
    /// answers 400 for a container that has no previous instance or has not started, and 404 for a
    /// pod deleted since it was listed; neither is a failure to collect.
    pub async fn log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        tail_lines: i64,
        limit_bytes: i64,
    ) -> Result<Option<bytes::Bytes>, Failure> {
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
        match self.get(req).await {
            Ok(b) => Ok(Some(b)),
            Err(Failure::Api {
                code: 400 | 404, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
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
