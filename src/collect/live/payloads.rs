//! Fetching the helm payloads [`super::helm_plan`] chose, each decoded as it arrives, and putting
//! the decoded records in place of their label-only ones. From the watch cache, the plan's records
//! come in a few label-selected lists ([`helm_plan::fetches`]); with consistent reads one GET
//! each, since a label-selected list read from etcd scans every object of its kind. It chooses no
//! record itself.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::api::{Api, Failure, Page};
use super::helm_plan::{self, Fetch};
use super::{CONCURRENCY, Collector, drain, storage_key};
use crate::findings::Skipped;
use crate::helm::{self, Driver, ReleaseRecord};

/// A fetched storage object, read into a record as it arrived; the object itself only when asked
/// to keep it.
type PayloadResult = (
    usize,
    Result<(Option<ReleaseRecord>, Option<Value>), Failure>,
);

/// What one request brought: results, and the records it was for that it did not bring (a
/// list that failed, or that no longer holds them), to be fetched by name.
type Fetched = (Vec<PayloadResult>, Vec<usize>);

fn plural(driver: Driver) -> &'static str {
    match driver {
        Driver::Secret => "secrets",
        Driver::ConfigMap => "configmaps",
    }
}

fn parse(driver: Driver, obj: Value, keep_objects: bool) -> (Option<ReleaseRecord>, Option<Value>) {
    let parsed = match driver {
        Driver::Secret => helm::secrets::from_object(&obj),
        Driver::ConfigMap => helm::configmaps::from_object(&obj),
    };
    (parsed, keep_objects.then_some(obj))
}

/// The storage objects `plan` (indices into `records`) names, [`CONCURRENCY`] requests at a time:
/// a list of [`helm_plan::PAYLOADS_PER_LIST`] payloads is a few MiB, so at most a few tens of MiB
/// of raw payloads are in memory at once. `cluster_wide`: lists may span every namespace.
pub(super) async fn fetch_payloads(
    api: &Api,
    records: &[ReleaseRecord],
    plan: Vec<usize>,
    keep_objects: bool,
    cluster_wide: bool,
) -> Result<Vec<PayloadResult>, String> {
    let fetches = if api.reads_from_cache() {
        helm_plan::fetches(records, &plan, cluster_wide)
    } else {
        plan.into_iter().map(Fetch::Get).collect()
    };
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let mut out = Vec::new();
    let mut round = fetches;
    // Twice at most: what a list did not bring is asked for by name.
    for _ in 0..2 {
        let mut set = JoinSet::new();
        for fetch in round {
            let (api, sem) = (api.clone(), sem.clone());
            let task = request(api, records, fetch, keep_objects);
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                task.await
            });
        }
        let mut left = Vec::new();
        for (results, missing) in drain(set).await? {
            out.extend(results);
            left.extend(missing);
        }
        round = left.into_iter().map(Fetch::Get).collect();
        if round.is_empty() {
            break;
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

/// One request of the fetch, owning what it needs so that it can run as its own task.
fn request(
    api: Api,
    records: &[ReleaseRecord],
    fetch: Fetch,
    keep_objects: bool,
) -> impl Future<Output = Fetched> + Send + 'static {
    let target = |i: usize| {
        let r = &records[i];
        (r.driver, r.namespace.clone(), r.object_name.clone())
    };
    let targets: Vec<(usize, (Driver, String, String))> = match &fetch {
        Fetch::Get(i) => vec![(*i, target(*i))],
        Fetch::List { wants, .. } => wants.iter().map(|&i| (i, target(i))).collect(),
    };
    async move {
        match fetch {
            Fetch::Get(i) => {
                let (driver, namespace, name) = &targets[0].1;
                let path = format!("/api/v1/namespaces/{namespace}/{}", plural(*driver));
                let res = api.get_object(&path, name).await;
                (
                    vec![(i, res.map(|obj| parse(*driver, obj, keep_objects)))],
                    Vec::new(),
                )
            }
            Fetch::List {
                driver,
                namespace,
                selector,
                ..
            } => {
                let path = match &namespace {
                    Some(ns) => format!("/api/v1/namespaces/{ns}/{}", plural(driver)),
                    None => format!("/api/v1/{}", plural(driver)),
                };
                let mut wanted: HashMap<(String, String), usize> = targets
                    .into_iter()
                    .map(|(i, (_, ns, name))| ((ns, name), i))
                    .collect();
                let mut results = Vec::new();
                // A list refused or too large is not an answer about the records: ask by name.
                if let Ok(body) = api.list_cached(&path, &selector).await
                    && let Ok(page) = Page::parse(&body)
                {
                    for item in page.items {
                        let Ok(obj) = serde_json::from_str::<Value>(item.get()) else {
                            continue;
                        };
                        let meta = &obj["metadata"];
                        let key = (
                            meta["namespace"].as_str().unwrap_or("").to_string(),
                            meta["name"].as_str().unwrap_or("").to_string(),
                        );
                        // The selector may bring a few more than the plan wants: not decoded.
                        if let Some(i) = wanted.remove(&key) {
                            results.push((i, Ok(parse(driver, obj, keep_objects))));
                        }
                    }
                }
                let mut missing: Vec<usize> = wanted.into_values().collect();
                missing.sort_unstable();
                (results, missing)
            }
        }
    }
}

impl Collector {
    pub(super) fn add_payloads(&mut self, fetched: Vec<PayloadResult>) {
        for (i, res) in fetched {
            let record = &self.snap.helm_records[i];
            let what = format!(
                "{} {}/{}",
                record.driver.kubectl_kind(),
                record.namespace,
                record.object_name
            );
            match res {
                Ok((parsed, obj)) => match parsed {
                    Some(full) => {
                        if let Some(obj) = obj {
                            self.helm_objects.insert(storage_key(&full), obj);
                        }
                        self.snap.helm_records[i] = full;
                    }
                    None => self
                        .snap
                        .skipped
                        .push(Skipped::new(what, "not helm release storage any more")),
                },
                // The labels still give status and revision; only the payload's details are missing.
                Err(f) => self.snap.skipped.push(Skipped::new(
                    what,
                    format!("payload not read: {}", f.describe()),
                )),
            }
        }
    }
}
