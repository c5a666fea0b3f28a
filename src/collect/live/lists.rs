//! The lists a collection starts with: [`RESOURCES`], every kind the rules read, each listed in
//! pages and turned into typed objects page by page; helm storage listed metadata-only, each item
//! becoming a record whose payload is not loaded. Lists only: it fetches no single object and no
//! log, and decides nothing about what else to read ([`super::helm_plan`] does).

use std::borrow::Borrow;
use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;
use tokio::task::JoinSet;

use super::api::{Api, Failure};
use super::{Scope, StorageKey, drain, storage_key};
use crate::collect::ingest::{Ingest, MetaOnly};
use crate::helm::{Driver, Payload, ReleaseRecord};
use crate::snapshot::{Snapshot, event};

/// The label helm puts on every storage object (`pkg/storage/driver`).
const HELM_SELECTOR: &str = "owner=helm";
/// ConfigMaps other than helm storage: `!=` also matches objects without the label, so the two
/// lists together cover every ConfigMap exactly once, and no helm payload comes with the full list.
const NOT_HELM_SELECTOR: &str = "owner!=helm";

/// One list the collector makes.
pub struct Resource {
    /// How skipped entries name it, and the words the catalog's `reads` use for it.
    pub what: &'static str,
    pub words: &'static [&'static str],
    /// `/api/v1` or `/apis/GROUP/VERSION`.
    pub prefix: &'static str,
    pub plural: &'static str,
    /// The kind of the items, for lists whose items carry none.
    pub kind: &'static str,
    pub namespaced: bool,
    pub selector: Option<&'static str>,
    pub field_selector: Option<&'static str>,
    /// Helm storage: listed metadata-only.
    pub helm: Option<Driver>,
    /// Listed metadata-only (`PartialObjectMetadataList`): Secrets, whose values are never asked for.
    pub metadata_only: bool,
    /// Listed in this namespace too when the scope is one namespace (node leases live in
    /// `kube-node-lease` whatever namespace is being checked).
    pub also_in: Option<&'static str>,
}

const fn res(
    what: &'static str,
    words: &'static [&'static str],
    prefix: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Resource {
    Resource {
        what,
        words,
        prefix,
        plural,
        kind,
        namespaced,
        selector: None,
        field_selector: None,
        helm: None,
        metadata_only: false,
        also_in: None,
    }
}

/// Every kind the rules read (see `Snapshot`).
pub const RESOURCES: &[Resource] = &[
    Resource {
        selector: Some(HELM_SELECTOR),
        helm: Some(Driver::Secret),
        ..res(
            "secrets (helm release records)",
            &["secrets", "helm release"],
            "/api/v1",
            "secrets",
            "Secret",
            true,
        )
    },
    Resource {
        selector: Some(HELM_SELECTOR),
        helm: Some(Driver::ConfigMap),
        ..res(
            "configmaps (helm release records)",
            &["configmaps", "helm release"],
            "/api/v1",
            "configmaps",
            "ConfigMap",
            true,
        )
    },
    Resource {
        selector: Some(NOT_HELM_SELECTOR),
        ..res(
            "configmaps",
            &["configmaps"],
            "/api/v1",
            "configmaps",
            "ConfigMap",
            true,
        )
    },
    res("pods", &["pods"], "/api/v1", "pods", "Pod", true),
    res("nodes", &["nodes"], "/api/v1", "nodes", "Node", false),
    res(
        "services",
        &["services"],
        "/api/v1",
        "services",
        "Service",
        true,
    ),
    res(
        "namespaces",
        &["namespaces"],
        "/api/v1",
        "namespaces",
        "Namespace",
        false,
    ),
    // Events bounded (`snapshot::event`): the warnings, and what the volume controller says about
    // claims. A busy cluster's Normal events outnumber its pods many times over.
    Resource {
        field_selector: Some(event::LIVE_SELECTORS[0]),
        ..res(
            "events (Warning)",
            &["events"],
            "/api/v1",
            "events",
            "Event",
            true,
        )
    },
    Resource {
        field_selector: Some(event::LIVE_SELECTORS[1]),
        ..res(
            "events (of PersistentVolumeClaims)",
            &["events"],
            "/api/v1",
            "events",
            "Event",
            true,
        )
    },
    res(
        "persistentvolumeclaims",
        &["persistentvolumeclaims", "pvcs"],
        "/api/v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
    ),
    res(
        "persistentvolumes",
        &["persistentvolumes"],
        "/api/v1",
        "persistentvolumes",
        "PersistentVolume",
        false,
    ),
    res(
        "storageclasses",
        &["storageclasses"],
        "/apis/storage.k8s.io/v1",
        "storageclasses",
        "StorageClass",
        false,
    ),
    res(
        "deployments",
        &["deployments"],
        "/apis/apps/v1",
        "deployments",
        "Deployment",
        true,
    ),
    res(
        "daemonsets",
        &["daemonsets"],
        "/apis/apps/v1",
        "daemonsets",
        "DaemonSet",
        true,
    ),
    res(
        "statefulsets",
        &["statefulsets"],
        "/apis/apps/v1",
        "statefulsets",
        "StatefulSet",
        true,
    ),
    res("jobs", &["jobs"], "/apis/batch/v1", "jobs", "Job", true),
    res(
        "cronjobs",
        &["cronjobs"],
        "/apis/batch/v1",
        "cronjobs",
        "CronJob",
        true,
    ),
    res(
        "replicasets",
        &["replicasets"],
        "/apis/apps/v1",
        "replicasets",
        "ReplicaSet",
        true,
    ),
    res(
        "endpointslices",
        &["endpointslices", "endpoints"],
        "/apis/discovery.k8s.io/v1",
        "endpointslices",
        "EndpointSlice",
        true,
    ),
    res(
        "validatingwebhookconfigurations",
        &["validatingwebhookconfigurations", "webhooks"],
        "/apis/admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
    ),
    res(
        "mutatingwebhookconfigurations",
        &["mutatingwebhookconfigurations", "webhooks"],
        "/apis/admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
    ),
    res(
        "ingressclasses",
        &["ingressclasses"],
        "/apis/networking.k8s.io/v1",
        "ingressclasses",
        "IngressClass",
        false,
    ),
    Resource {
        also_in: Some("kube-node-lease"),
        ..res(
            "leases",
            &["leases"],
            "/apis/coordination.k8s.io/v1",
            "leases",
            "Lease",
            true,
        )
    },
    res(
        "customresourcedefinitions",
        &["customresourcedefinitions", "crds"],
        "/apis/apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    ),
    res(
        "ingresses",
        &["ingresses"],
        "/apis/networking.k8s.io/v1",
        "ingresses",
        "Ingress",
        true,
    ),
    // Which bindings and accounts exist (uninstall residue), metadata only.
    Resource {
        metadata_only: true,
        ..res(
            "clusterrolebindings (metadata)",
            &["clusterrolebindings"],
            "/apis/rbac.authorization.k8s.io/v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
            false,
        )
    },
    // Which Secrets exist (a TLS Secret an Ingress names, one a pod mounts): metadata only, so
    // that no value is ever sent; helm's own are the first list.
    Resource {
        metadata_only: true,
        selector: Some(NOT_HELM_SELECTOR),
        ..res(
            "secrets (metadata)",
            &["secrets"],
            "/api/v1",
            "secrets",
            "Secret",
            true,
        )
    },
    Resource {
        metadata_only: true,
        ..res(
            "serviceaccounts (metadata)",
            &["serviceaccounts"],
            "/api/v1",
            "serviceaccounts",
            "ServiceAccount",
            true,
        )
    },
];

impl Resource {
    fn path(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => {
                format!("{}/namespaces/{ns}/{}", self.prefix, self.plural)
            }
            _ => format!("{}/{}", self.prefix, self.plural),
        }
    }

    /// `None` = cluster-wide.
    fn namespaces(&self, scope: Option<&str>) -> Vec<Option<String>> {
        match scope {
            Some(ns) if self.namespaced => {
                let mut v = vec![Some(ns.to_string())];
                if let Some(extra) = self.also_in.filter(|e| *e != ns) {
                    v.push(Some(extra.to_string()));
                }
                v
            }
            _ => vec![None],
        }
    }
}

/// The helm storage records of release `name` in every namespace, by their labels: two small
/// metadata-only lists. Best effort: an error (RBAC that grants one namespace only) means none.
pub(super) async fn records_named(api: &Api, name: &str) -> Vec<ReleaseRecord> {
    let selector = format!("{HELM_SELECTOR},name={name}");
    let (secrets, configmaps) = tokio::join!(
        api.list("/api/v1/secrets", Some(&selector), true),
        api.list("/api/v1/configmaps", Some(&selector), true)
    );
    let mut snap = Snapshot::default();
    for (driver, listed) in [(Driver::Secret, secrets), (Driver::ConfigMap, configmaps)] {
        if let Ok(listed) = listed {
            add_storage_metadata(&mut snap, None, driver, &listed.items);
        }
    }
    let mut records = snap.helm_records;
    records.sort_by(|a, b| (&a.namespace, a.revision).cmp(&(&b.namespace, b.revision)));
    records
}

/// One list, already read into a snapshot of its own: pages are turned into typed objects as they
/// arrive, so that a 5,000-pod list is never held as JSON values all at once.
#[derive(Default)]
pub(super) struct Listed {
    pub(super) snap: Snapshot,
    /// Helm storage items as listed (metadata only), kept only for the snapshot writer.
    pub(super) helm_objects: BTreeMap<StorageKey, Value>,
    /// Why the list stopped before its end, if it did.
    pub(super) cut: Option<String>,
}

pub(super) type ListResult = (usize, Option<String>, Result<Listed, Failure>);

/// Every list of [`RESOURCES`] at once, in a stable order: index, namespace (`None`: cluster-wide).
pub(super) async fn list_all(api: &Api, scope: &Scope) -> Result<Vec<ListResult>, String> {
    let mut lists = JoinSet::new();
    for (i, r) in RESOURCES.iter().enumerate() {
        for ns in r.namespaces(scope.namespace.as_deref()) {
            let api = api.clone();
            let keep_objects = scope.for_snapshot;
            let pod_spec = (!keep_objects).then_some(scope.pod_spec_read);
            lists.spawn(async move {
                let what = match &ns {
                    Some(ns) => format!("{} in namespace {ns}", r.what),
                    None => r.what.to_string(),
                };
                let mut listed = Listed::default();
                let fresh = || Ingest::new(pod_spec);
                let mut ingest = fresh();
                let res = api
                    .list_pages(
                        &r.path(ns.as_deref()),
                        r.selector,
                        r.field_selector,
                        r.helm.is_some() || r.metadata_only,
                        |page| match (page, r.helm) {
                            (None, _) => {
                                listed = Listed::default();
                                ingest = fresh();
                            }
                            (Some(page), Some(driver)) => add_storage_metadata(
                                &mut listed.snap,
                                keep_objects.then_some(&mut listed.helm_objects),
                                driver,
                                &page.items,
                            ),
                            (Some(page), None) => {
                                ingest.add_page(&mut listed.snap, r.kind, &page.items, &what)
                            }
                        },
                    )
                    .await;
                // A cluster full of objects the rules cannot parse is one entry, not a million.
                crate::collect::dir::summarise_problems(
                    &mut listed.snap.skipped,
                    0,
                    &what,
                    "in this list",
                );
                (
                    i,
                    ns,
                    res.map(|cut| {
                        listed.cut = cut;
                        listed
                    }),
                )
            });
        }
    }
    let mut results = drain(lists).await?;
    // Completion order varies; the snapshot must not.
    results.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(results)
}

/// Items of a metadata-only list of helm storage: each becomes a record with its payload not
/// loaded. `objects` keeps the items for the snapshot writer.
fn add_storage_metadata(
    snap: &mut Snapshot,
    objects: Option<&mut BTreeMap<StorageKey, Value>>,
    driver: Driver,
    items: &[impl Borrow<RawValue>],
) {
    let mut objects = objects;
    for item in items {
        let item: &RawValue = item.borrow();
        let Ok(MetaOnly { metadata: meta }) = serde_json::from_str(item.get()) else {
            continue;
        };
        // Labelled owner=helm but not named as storage: some other tool's object.
        let Some(record) = ReleaseRecord::from_meta(driver, &meta, Payload::NotLoaded) else {
            continue;
        };
        if let Some(objects) = objects.as_deref_mut()
            && let Ok(whole) = serde_json::from_str(item.get())
        {
            objects.insert(storage_key(&record), whole);
        }
        snap.helm_records.push(record);
    }
}

#[cfg(test)]
mod tests {
    use super::super::api::Page;
    use super::*;

    #[test]
    fn paths_cluster_wide_and_per_namespace() {
        let pods = RESOURCES.iter().find(|r| r.what == "pods").unwrap();
        assert_eq!(pods.path(None), "/api/v1/pods");
        assert_eq!(
            pods.path(Some("blueking")),
            "/api/v1/namespaces/blueking/pods"
        );
        let crds = RESOURCES
            .iter()
            .find(|r| r.plural == "customresourcedefinitions")
            .unwrap();
        assert_eq!(
            crds.path(Some("blueking")),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        );
        let leases = RESOURCES.iter().find(|r| r.plural == "leases").unwrap();
        assert_eq!(
            leases.namespaces(Some("blueking")),
            [Some("blueking".into()), Some("kube-node-lease".into())]
        );
        assert_eq!(leases.namespaces(None), [None]);
    }

    #[test]
    fn metadata_page_gives_records_without_payload() {
        let page: Page = serde_json::from_str(include_str!(
            "../../../tests/api-responses/secrets-metadata-page1.json"
        ))
        .unwrap();
        let mut snap = Snapshot::default();
        let mut objects = BTreeMap::new();
        add_storage_metadata(&mut snap, Some(&mut objects), Driver::Secret, &page.items);
        assert_eq!(snap.helm_records.len(), 2);
        let r = &snap.helm_records[0];
        assert_eq!((r.name.as_str(), r.revision), ("bk-cmdb", 1));
        assert_eq!(r.label_status.as_deref(), Some("superseded"));
        assert_eq!(r.payload, Payload::NotLoaded);
        assert_eq!(objects.len(), 2);
    }
}
