//! Helm release storage, read the way helm 3 stores it (`pkg/storage/driver`): one Secret (default
//! driver) or ConfigMap (`HELM_DRIVER=configmap`) per revision, named
//! `sh.helm.release.v1.<name>.v<revision>` and labelled `owner=helm`, `name`, `status`, `version`.
//!
//! The labels alone give name, revision and status, so a record whose payload is unreadable, or was
//! not fetched at all, still takes part in the analysis.

pub mod configmaps;
pub mod decode;
pub mod secrets;

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

pub use decode::{DecodeError, ReleaseInfo};

/// Prefix of every storage object's name; helm `storage.go` calls it the storage key.
pub const STORAGE_PREFIX: &str = "sh.helm.release.v1.";
pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// A snapshot this tool writes (`kubectl-bkdoctor snapshot`) keeps every storage record, but a record
/// whose payload was not fetched, or could not be decoded, goes without `data`; this annotation says
/// which, so that reading the snapshot back gives the same analysis instead of "payload missing".
pub const PAYLOAD_ANNOTATION: &str = "kubectl-bkdoctor/payload";
/// Value of [`PAYLOAD_ANNOTATION`]: only the metadata was collected.
pub const PAYLOAD_NOT_COLLECTED: &str = "not-collected";
/// Value of [`PAYLOAD_ANNOTATION`]: the payload did not decode; the reason is in
/// [`UNREADABLE_ANNOTATION`].
pub const PAYLOAD_UNREADABLE: &str = "unreadable";
pub const UNREADABLE_ANNOTATION: &str = "kubectl-bkdoctor/unreadable-reason";

/// The payload of a record without `data.release`: what the snapshot writer's annotation says, else
/// `missing` (helm itself cannot read such a record).
pub(crate) fn payload_without_data(obj: &serde_json::Value, missing: &str) -> Payload {
    let ann = &obj["metadata"]["annotations"];
    match ann[PAYLOAD_ANNOTATION].as_str() {
        Some(PAYLOAD_NOT_COLLECTED) => Payload::NotLoaded,
        Some(PAYLOAD_UNREADABLE) => Payload::Unreadable(
            ann[UNREADABLE_ANNOTATION]
                .as_str()
                .unwrap_or(missing)
                .to_string(),
        ),
        _ => Payload::Unreadable(missing.to_string()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Secret,
    ConfigMap,
}

impl Driver {
    /// The kind as kubectl takes it on the command line.
    pub fn kubectl_kind(self) -> &'static str {
        match self {
            Driver::Secret => "secret",
            Driver::ConfigMap => "configmap",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Only the metadata was read (a live collection fetches payloads a rule needs, not all).
    NotLoaded,
    Decoded(Box<ReleaseInfo>),
    Unreadable(String),
}

/// One revision as stored: one Secret or ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub driver: Driver,
    pub object_name: String,
    pub namespace: String,
    pub name: String,
    pub revision: u32,
    pub label_status: Option<String>,
    /// From the `createdAt`/`modifiedAt` labels (unix seconds), else the object's creation time.
    pub created_at: Option<Timestamp>,
    pub modified_at: Option<Timestamp>,
    pub payload: Payload,
}

impl ReleaseRecord {
    /// Builds a record from an object's metadata; `None` when the object is not helm storage.
    pub fn from_meta(driver: Driver, meta: &ObjectMeta, payload: Payload) -> Option<ReleaseRecord> {
        let object_name = meta.name.clone()?;
        let labels = meta.labels.as_ref();
        let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
        let (name_from_key, rev_from_key) = parse_storage_key(&object_name)?;
        let name = label("name").unwrap_or(name_from_key).to_string();
        let revision = label("version")
            .and_then(|v| v.parse().ok())
            .unwrap_or(rev_from_key);
        let unix = |k: &str| {
            label(k)
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(|s| Timestamp::from_second(s).ok())
        };
        let created = unix("createdAt").or_else(|| meta.creation_timestamp.as_ref().map(|t| t.0));
        Some(ReleaseRecord {
            driver,
            namespace: meta.namespace.clone().unwrap_or_default(),
            object_name,
            name,
            revision,
            label_status: label("status").map(str::to_string),
            created_at: created,
            modified_at: unix("modifiedAt"),
            payload,
        })
    }

    pub fn info(&self) -> Option<&ReleaseInfo> {
        match &self.payload {
            Payload::Decoded(i) => Some(i),
            _ => None,
        }
    }

    /// The payload's status is what helm itself reads; the label is a copy helm keeps in step, used
    /// when the payload is missing or unreadable.
    pub fn status(&self) -> Status {
        let s = self
            .info()
            .map(|i| i.status.as_str())
            .filter(|s| !s.is_empty())
            .or(self.label_status.as_deref())
            .unwrap_or("unknown");
        Status::parse(s)
    }
}

/// `sh.helm.release.v1.bk-paas.v3` → (`bk-paas`, 3).
pub fn parse_storage_key(object_name: &str) -> Option<(&str, u32)> {
    let rest = object_name.strip_prefix(STORAGE_PREFIX)?;
    let (name, rev) = rest.rsplit_once(".v")?;
    Some((name, rev.parse().ok()?))
}

/// Helm's release statuses (`pkg/release/status.go`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Unknown,
    Deployed,
    Uninstalled,
    Superseded,
    Failed,
    Uninstalling,
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
    Other(String),
}

impl Status {
    pub fn parse(s: &str) -> Status {
        match s {
            "unknown" => Status::Unknown,
            "deployed" => Status::Deployed,
            "uninstalled" => Status::Uninstalled,
            "superseded" => Status::Superseded,
            "failed" => Status::Failed,
            "uninstalling" => Status::Uninstalling,
            "pending-install" => Status::PendingInstall,
            "pending-upgrade" => Status::PendingUpgrade,
            "pending-rollback" => Status::PendingRollback,
            other => Status::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
            Status::Other(s) => s,
        }
    }

    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }

    /// A revision that was running at some point and can be rolled back to.
    pub fn was_deployed(&self) -> bool {
        matches!(self, Status::Deployed | Status::Superseded)
    }
}

/// One revision of a release, merged from its labels and (when read) its payload.
#[derive(Debug, Clone, Serialize)]
pub struct Revision {
    pub revision: u32,
    pub status: String,
    pub chart: Option<String>,
    #[serde(rename = "chartVersion")]
    pub chart_version: Option<String>,
    #[serde(rename = "appVersion")]
    pub app_version: Option<String>,
    /// When helm last acted on this revision: for a pending one, when the operation started.
    pub updated: Option<Timestamp>,
    pub description: Option<String>,
    #[serde(skip)]
    pub driver: Driver,
    #[serde(skip)]
    pub object_name: String,
    #[serde(skip)]
    pub unreadable: Option<String>,
}

impl Revision {
    pub fn status(&self) -> Status {
        Status::parse(&self.status)
    }
}

#[derive(Debug, Clone)]
pub struct Release {
    pub namespace: String,
    pub name: String,
    /// Oldest first.
    pub revisions: Vec<Revision>,
}

impl Release {
    pub fn latest(&self) -> &Revision {
        self.revisions
            .last()
            .expect("a release has at least one revision")
    }

    /// The newest revision failed, and helm's description of it contains `message`.
    pub fn latest_failed_with(&self, message: &str) -> bool {
        let latest = self.latest();
        latest.status() == Status::Failed
            && latest
                .description
                .as_deref()
                .is_some_and(|d| d.contains(message))
    }

    /// The newest revision that ran, before the latest: what `helm rollback` should go back to.
    pub fn last_good(&self) -> Option<&Revision> {
        self.revisions
            .iter()
            .rev()
            .find(|r| r.status().was_deployed())
    }
}

/// Groups storage records into releases. When both drivers hold the same revision (a cluster that
/// switched HELM_DRIVER), the Secret wins, as it is helm's default.
pub fn releases(records: &[ReleaseRecord]) -> Vec<Release> {
    let mut by_release: BTreeMap<(&str, &str), BTreeMap<u32, &ReleaseRecord>> = BTreeMap::new();
    for r in records {
        let revs = by_release
            .entry((r.namespace.as_str(), r.name.as_str()))
            .or_default();
        match revs.get(&r.revision) {
            Some(existing) if existing.driver == Driver::Secret => {}
            _ => {
                revs.insert(r.revision, r);
            }
        }
    }
    by_release
        .into_iter()
        .map(|((ns, name), revs)| Release {
            namespace: ns.to_string(),
            name: name.to_string(),
            revisions: revs.into_values().map(revision).collect(),
        })
        .collect()
}

fn revision(r: &ReleaseRecord) -> Revision {
    let info = r.info();
    Revision {
        revision: r.revision,
        status: r.status().as_str().to_string(),
        chart: info.and_then(|i| i.chart_name.clone()),
        chart_version: info.and_then(|i| i.chart_version.clone()),
        app_version: info.and_then(|i| i.app_version.clone()),
        updated: info
            .and_then(|i| i.last_deployed)
            .or(r.modified_at)
            .or(r.created_at),
        description: info.and_then(|i| i.description.clone()),
        driver: r.driver,
        object_name: r.object_name.clone(),
        unreadable: match &r.payload {
            Payload::Unreadable(e) => Some(e.clone()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_key_parsing() {
        assert_eq!(
            parse_storage_key("sh.helm.release.v1.bk-paas.v3"),
            Some(("bk-paas", 3))
        );
        assert_eq!(
            parse_storage_key("sh.helm.release.v1.a.v2.b.v10"),
            Some(("a.v2.b", 10))
        );
        assert_eq!(parse_storage_key("sh.helm.release.v1.x.vX"), None);
        assert_eq!(parse_storage_key("default-token-abc"), None);
    }

    #[test]
    fn last_good_skips_failed_and_pending() {
        let rev = |n, s: &str| Revision {
            revision: n,
            status: s.into(),
            chart: None,
            chart_version: None,
            app_version: None,
            updated: None,
            description: None,
            driver: Driver::Secret,
            object_name: String::new(),
            unreadable: None,
        };
        let rel = Release {
            namespace: "blueking".into(),
            name: "bk-paas".into(),
            revisions: vec![
                rev(1, "superseded"),
                rev(2, "failed"),
                rev(3, "pending-upgrade"),
            ],
        };
        assert_eq!(rel.last_good().unwrap().revision, 1);
        assert!(rel.latest().status().is_pending());
    }
}
