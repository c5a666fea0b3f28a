//! Fetching the helm payloads [`super::helm_plan`] chose, a few at a time, each decoded as it
//! arrives, and putting the decoded records in place of their label-only ones. It chooses nothing
//! itself and never lists.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::api::{Api, Failure};
use super::{Collector, drain, storage_key};
use crate::findings::Skipped;
use crate::helm::{self, Driver, ReleaseRecord};

/// A fetched storage object, read into a record as it arrived; the object itself only when asked
/// to keep it.
type PayloadResult = (
    usize,
    Result<(Option<ReleaseRecord>, Option<Value>), Failure>,
);

/// The storage objects `plan` (indices into `records`) names, a few at a time. Each is decoded in
/// its own task, so decoding runs on every core while other payloads are still on the wire, and at
/// most [`CONCURRENCY`](super::CONCURRENCY) raw payloads are in memory at once.
pub(super) async fn fetch_payloads(
    api: &Api,
    sem: &Arc<Semaphore>,
    records: &[ReleaseRecord],
    plan: Vec<usize>,
    keep_objects: bool,
) -> Result<Vec<PayloadResult>, String> {
    let mut set = JoinSet::new();
    for i in plan {
        let r = &records[i];
        let plural = match r.driver {
            Driver::Secret => "secrets",
            Driver::ConfigMap => "configmaps",
        };
        let path = format!("/api/v1/namespaces/{}/{plural}", r.namespace);
        let name = r.object_name.clone();
        let driver = r.driver;
        let (api, sem) = (api.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let res = api.get_object(&path, &name).await.map(|obj| {
                let parsed = match driver {
                    Driver::Secret => helm::secrets::from_object(&obj),
                    Driver::ConfigMap => helm::configmaps::from_object(&obj),
                };
                (parsed, keep_objects.then_some(obj))
            });
            (i, res)
        });
    }
    let mut out = drain(set).await?;
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
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
