//! Lists read through the [`Api`]: page by page from etcd, or whole from the watch cache when
//! reads may come from it, bounded in pages and objects. Items stay JSON text borrowed from the
//! answer for whoever parses them; this file parses no object and knows no resource.

use kube::core::Request;
use kube::core::params::ListParams;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Api, Failure};

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

impl Api {
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
}
