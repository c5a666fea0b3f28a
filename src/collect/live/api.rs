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
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// Items per list page: kubectl's own `--chunk-size` default. Small enough that the API server
/// never builds one giant response for a 10,000-pod cluster, large enough that a small one takes a
/// single round trip.
pub const PAGE_SIZE: u32 = 500;

/// Items per page of a metadata-only list (helm release storage). Such an item is ~400 bytes, so a
/// page is under 1 MiB; each page waits for the previous one's continue token, and 30,000 records
/// (3,000 releases × 10 revisions) are then 15 round trips instead of 60: at R = 3000 in
/// BENCHMARKS.md the difference is ~0.4 s on loopback, more over a WAN.
pub const METADATA_PAGE_SIZE: u32 = 2_000;

/// A list that has not ended after this many pages is a server handing out continue tokens in a
/// loop: 2,000 full pages are a million objects, twice [`MAX_LIST_ITEMS`].
pub const MAX_PAGES: usize = 2_000;

/// Objects read from one list at most, as from one snapshot file: no real cluster comes near it,
/// and every object is held in memory.
pub const MAX_LIST_ITEMS: usize = crate::collect::ingest::MAX_OBJECTS_PER_FILE;

/// A whole list from the watch cache with more objects than one list may hold.
struct TooMany;

/// The items of one list, and why it stopped before its end if it did.
pub struct Listed {
    pub items: Vec<Box<RawValue>>,
    pub cut: Option<String>,
}

/// One page of a list with its items still as JSON text, borrowed from the answer's body: each is
/// parsed straight into its type by whoever takes the page. Going through `serde_json::Value`
/// first allocated every field of every object twice, and malloc was then a quarter of a big
/// cluster's `check` (BENCHMARKS.md); owning the items copied every byte of the body once more.
#[derive(Deserialize)]
pub struct Page<'a> {
    #[serde(borrow, default, deserialize_with = "null_is_empty")]
    pub items: Vec<&'a RawValue>,
    #[serde(default)]
    metadata: PageMeta,
}

impl<'a> Page<'a> {
    /// The page a list's body holds.
    pub fn parse(body: &'a [u8]) -> Result<Page<'a>, Failure> {
        serde_json::from_slice(body)
            .map_err(|e| Failure::Transport(format!("the server's answer is not JSON: {e}")))
    }
}

#[derive(Deserialize, Default)]
struct PageMeta {
    #[serde(rename = "continue", default)]
    next: Option<String>,
}

fn null_is_empty<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<&'a RawValue>, D::Error> {
    Ok(Option::<Vec<&'a RawValue>>::deserialize(d)?.unwrap_or_default())
}

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

    /// The one exception to read-only, taken only with `--probe`: creating and deleting the
    /// doctor's own probe pods. It cannot be talked into anything else: a create must carry the
    /// probe labels and name prefix, a delete must name a probe pod, and both address
    /// `/api/v1/namespaces/NS/pods` only.
    pub async fn probe_write(&self, write: ProbeWrite<'_>) -> Result<Raw, Failure> {
        let refuse = |why: &str| Err(Failure::Transport(format!("refused to write: {why}")));
        let req = match write {
            ProbeWrite::Create { namespace, pod } => {
                let name = pod["metadata"]["name"].as_str().unwrap_or("");
                let labels = &pod["metadata"]["labels"];
                if pod["kind"] != "Pod"
                    || !name.starts_with(PROBE_POD_PREFIX)
                    || labels[MANAGED_BY_LABEL] != MANAGED_BY
                    || labels[COMPONENT_LABEL] != PROBE_COMPONENT
                {
                    return refuse("not a probe pod");
                }
                http::Request::post(format!("/api/v1/namespaces/{namespace}/pods"))
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(pod).unwrap_or_default())
            }
            ProbeWrite::Delete { namespace, name } => {
                if !name.starts_with(PROBE_POD_PREFIX) || name.contains('/') {
                    return refuse("not a probe pod");
                }
                // Probe pods hold no state worth a grace period, and a pod left Terminating on a
                // node that is down would outlive the run.
                http::Request::delete(format!("/api/v1/namespaces/{namespace}/pods/{name}"))
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(
                        br#"{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0}"#
                            .to_vec(),
                    )
            }
        };
        if !is_namespace_name(write_namespace(&write)) {
            return refuse("bad namespace");
        }
        let req = req.map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
        self.exchange(req, None).await
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

    /// Every item of a list (`limit` + `continue`), as the API returns them: of a `PodList` and so
    /// on, or of a `PartialObjectMetadataList` when only metadata is asked for. A list that does not end
    /// within [`MAX_PAGES`] pages or [`MAX_LIST_ITEMS`] objects is cut there, and says so.
    pub async fn list(
        &self,
        path: &str,
        label_selector: Option<&str>,
        metadata_only: bool,
    ) -> Result<Listed, Failure> {
        let mut items = Vec::new();
        let cut = self
            .list_pages(
                path,
                label_selector,
                None,
                metadata_only,
                |page| match page {
                    Some(p) => items.extend(p.items.into_iter().map(RawValue::to_owned)),
                    None => items.clear(),
                },
            )
            .await?;
        Ok(Listed { items, cut })
    }

    /// Hands each page to `on_page` as it arrives, so that a big list never sits in memory as JSON
    /// all at once; `None` means start over (the list was restarted, see below). Returns why the
    /// list was cut short, if it was.
    ///
    /// Unless reads are consistent, the list is first asked of the watch cache
    /// (`resourceVersion=0`, no `limit`), which answers from memory, the whole list at once (a
    /// server without one reads it from etcd, unpaged). A cache answer past the bounds (larger than
    /// the body limit, more than [`MAX_LIST_ITEMS`] objects) or refused is read again the
    /// consistent way: paged, from etcd.
    pub async fn list_pages(
        &self,
        path: &str,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
        metadata_only: bool,
        mut on_page: impl FnMut(Option<Page<'_>>),
    ) -> Result<Option<String>, Failure> {
        if !self.consistent {
            let listed = self
                .list_paged(
                    path,
                    label_selector,
                    field_selector,
                    metadata_only,
                    true,
                    &mut on_page,
                )
                .await;
            match listed {
                Err(Failure::TooLarge(_)) => {}
                Err(Failure::Api { code, .. }) if !matches!(code, 401 | 403 | 404) => {}
                Ok(Err(TooMany)) => {}
                Ok(Ok(cut)) => return Ok(cut),
                Err(f) => return Err(f),
            }
            // Whatever pages a server paging anyway gave before failing.
            on_page(None);
        }
        let cut = self
            .list_paged(
                path,
                label_selector,
                field_selector,
                metadata_only,
                false,
                &mut on_page,
            )
            .await?;
        // Only an answer from the cache is judged whole; a paged read stops at the bound itself.
        Ok(cut.unwrap_or_else(|TooMany| Some(format!("more than {MAX_LIST_ITEMS} objects"))))
    }

    /// Pages of one list; `from_cache`: the first request asks the watch cache, and its answer,
    /// when it is the whole list, must be within [`MAX_LIST_ITEMS`] (else `Err(TooMany)`, with
    /// nothing handed on). A failure of that first request is returned before `on_page` is called.
    async fn list_paged(
        &self,
        path: &str,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
        metadata_only: bool,
        from_cache: bool,
        on_page: &mut impl FnMut(Option<Page<'_>>),
    ) -> Result<Result<Option<String>, TooMany>, Failure> {
        let request = Request::new(path);
        let mut token: Option<String> = None;
        let mut restarted = false;
        let mut items = 0;
        let mut pages = 0;
        for _ in 0..MAX_PAGES {
            // The watch cache ignores `limit` (kube would then leave `resourceVersion=0` out);
            // its answer is the whole list, whose bounds are checked below.
            let cached = from_cache && pages == 0 && token.is_none();
            let lp = ListParams {
                label_selector: label_selector.map(str::to_string),
                field_selector: field_selector.map(str::to_string),
                limit: (!cached).then_some(if metadata_only {
                    METADATA_PAGE_SIZE
                } else {
                    PAGE_SIZE
                }),
                continue_token: token.clone(),
                resource_version: cached.then(|| "0".to_string()),
                ..ListParams::default()
            };
            let req = if metadata_only {
                request.list_metadata(&lp)
            } else {
                request.list(&lp)
            }
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
            let body = match self.get(req).await {
                // A continue token expires with its etcd compaction (about 5 minutes): on a big,
                // busy cluster a slow list can outlive it. Start over once, as kubectl does.
                Err(Failure::Api { code: 410, .. }) if token.is_some() && !restarted => {
                    restarted = true;
                    token = None;
                    items = 0;
                    pages = 0;
                    on_page(None);
                    continue;
                }
                body => body?,
            };
            let mut page = Page::parse(&body)?;
            let next = page.metadata.next.take().filter(|t| !t.is_empty());
            if cached && next.is_none() && page.items.len() > MAX_LIST_ITEMS {
                return Ok(Err(TooMany));
            }
            items += page.items.len();
            pages += 1;
            on_page(Some(page));
            match next {
                None => return Ok(Ok(None)),
                Some(t) if token.as_deref() == Some(t.as_str()) => {
                    return Ok(Ok(Some(
                        "the server gave the same continue token twice; the rest was not read"
                            .into(),
                    )));
                }
                Some(_) if items >= MAX_LIST_ITEMS => {
                    return Ok(Ok(Some(format!(
                        "stopped after {items} objects in {pages} pages; the rest was not read"
                    ))));
                }
                Some(t) => token = Some(t),
            }
        }
        Ok(Ok(Some(format!(
            "stopped after {MAX_PAGES} pages; the rest was not read"
        ))))
    }

    /// A label-selected list read whole from the watch cache (`resourceVersion=0`, no `limit`):
    /// helm payloads the plan needs, found by their labels in the server's memory.
    /// The body: [`Page::parse`] gives its items.
    pub async fn list_cached(
        &self,
        path: &str,
        label_selector: &str,
    ) -> Result<bytes::Bytes, Failure> {
        let lp = ListParams {
            label_selector: Some(label_selector.to_string()),
            resource_version: Some("0".to_string()),
            ..ListParams::default()
        };
        let req = Request::new(path)
            .list(&lp)
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
        self.get(req).await
    }

    /// One object by name, e.g. a helm storage Secret.
    pub async fn get_object(&self, path: &str, name: &str) -> Result<Value, Failure> {
        let req = Request::new(path)
            .get(name, &Default::default())
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
        self.get_json(req).await
    }

    /// The bounded tail of one container's log: never more than `limit_bytes`, even from a server
    /// that ignores `limitBytes`; a body that long was cut. `Ok(None)` when there is none to read:
    /// the API answers 400 for a container that has no previous instance or has not started, and
    /// 404 for a pod deleted since it was listed; neither is a failure to collect.
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
        match self
            .get_capped(req, Some(limit_bytes.max(0) as usize))
            .await
        {
            Ok(b) => Ok(Some(b)),
            Err(Failure::Api {
                code: 400 | 404, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The labels every probe pod carries; leftovers are found by them.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "kubectl-bkdoctor";
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
pub const PROBE_COMPONENT: &str = "node-probe";
pub const PROBE_POD_PREFIX: &str = "bkdoctor-probe-";

/// The writes `--probe` needs, and no others.
pub enum ProbeWrite<'a> {
    Create { namespace: &'a str, pod: &'a Value },
    Delete { namespace: &'a str, name: &'a str },
}

fn write_namespace<'a>(w: &ProbeWrite<'a>) -> &'a str {
    match w {
        ProbeWrite::Create { namespace, .. } | ProbeWrite::Delete { namespace, .. } => namespace,
    }
}

/// An RFC 1123 label, as namespace names are.
pub fn is_namespace_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
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

    #[tokio::test]
    async fn probe_writes_touch_probe_pods_only() {
        let config = kube::Config::new("https://127.0.0.1:9".parse().unwrap());
        let api = Api::new(Client::try_from(config).unwrap(), None);
        let refused = |r: Result<Raw, Failure>| match r {
            Err(Failure::Transport(m)) => m.starts_with("refused to write"),
            _ => false,
        };
        let probe = serde_json::json!({"kind": "Pod", "metadata": {"name": "bkdoctor-probe-r-n1",
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, COMPONENT_LABEL: PROBE_COMPONENT}}});
        let mut unlabelled = probe.clone();
        unlabelled["metadata"]["labels"] = serde_json::json!({});
        let mut renamed = probe.clone();
        renamed["metadata"]["name"] = "bk-paas-web-0".into();
        let mut other_kind = probe.clone();
        other_kind["kind"] = "DaemonSet".into();
        for pod in [&unlabelled, &renamed, &other_kind] {
            let w = ProbeWrite::Create {
                namespace: "default",
                pod,
            };
            assert!(refused(api.probe_write(w).await), "{pod}");
        }
        for (namespace, name) in [
            ("default", "bk-paas-web-0"),
            ("default", "bkdoctor-probe-x/../../secrets/s"),
            ("../kube-system", "bkdoctor-probe-x"),
        ] {
            let w = ProbeWrite::Delete { namespace, name };
            assert!(refused(api.probe_write(w).await), "{namespace}/{name}");
        }
        // A probe pod passes the checks and only then fails to connect.
        let w = ProbeWrite::Create {
            namespace: "default",
            pod: &probe,
        };
        assert!(!refused(api.probe_write(w).await));
        let get_only = api
            .send(
                http::Request::delete("/api/v1/namespaces/default/pods/x")
                    .body(Vec::new())
                    .unwrap(),
            )
            .await;
        assert!(
            matches!(get_only, Err(Failure::Transport(m)) if m.contains("the doctor only reads"))
        );
    }

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
