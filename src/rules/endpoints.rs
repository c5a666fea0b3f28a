//! What the rules share about a Service's endpoints: the pods its selector matches, and whether
//! any EndpointSlice of it holds a ready endpoint. Reads the snapshot only; it reports nothing.

use k8s_openapi::api::core::v1::{Pod, Service};

use crate::snapshot::{Snapshot, pod};

/// The label the EndpointSlice controller puts on each slice of a Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

pub fn service<'a>(snap: &'a Snapshot, ns: &str, name: &str) -> Option<&'a Service> {
    snap.services.iter().find(|s| {
        s.metadata.namespace.as_deref() == Some(ns) && s.metadata.name.as_deref() == Some(name)
    })
}

/// Whether the snapshot can say anything about endpoints: a cluster always has the slice of the
/// `kubernetes` Service, so none at all means the list was not read (an older snapshot, RBAC).
pub fn known(snap: &Snapshot) -> bool {
    !snap.endpoint_slices.is_empty()
}

/// Ready endpoints of Service `name` in `ns`, over all its slices. An endpoint whose `ready` is
/// unset counts as ready, as the API documents for consumers.
pub fn ready_count(snap: &Snapshot, ns: &str, name: &str) -> usize {
    snap.endpoint_slices
        .iter()
        .filter(|s| {
            s.metadata.namespace.as_deref() == Some(ns)
                && s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SERVICE_NAME_LABEL))
                    .is_some_and(|n| n == name)
        })
        .flat_map(|s| s.endpoints.iter())
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
        .count()
}

/// The Service's selector, when it has one: a Service without one has its endpoints made by hand.
pub fn selector(s: &Service) -> Option<&std::collections::BTreeMap<String, String>> {
    s.spec.as_ref()?.selector.as_ref().filter(|m| !m.is_empty())
}

/// The pods in the Service's namespace its selector matches.
pub fn selected_pods<'a>(snap: &'a Snapshot, s: &'a Service) -> Vec<&'a Pod> {
    let Some(sel) = selector(s) else {
        return Vec::new();
    };
    let ns = s.metadata.namespace.as_deref().unwrap_or("");
    snap.pods
        .iter()
        .filter(|p| pod::namespace(p) == ns)
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            sel.iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .collect()
}

/// `k=v,k2=v2`, as `kubectl get pods -l` takes it.
pub fn selector_text(s: &Service) -> String {
    selector(s)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
