//! Discovery: `/version`, `/api`, `/apis` and the resource lists of each group, from the types
//! the server holds. It serves no object.

use serde_json::{Value, json};

use crate::Config;
use crate::resources::ResourceType;
use crate::store::Store;

pub(super) const VERSION_JSON: &str = include_str!("../../recorded/version.json");

pub(super) fn groups(store: &Store, config: &Config) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in &store.types {
        if t.group.is_empty() || config.missing_groups.contains(&t.group) {
            continue;
        }
        if !out.iter().any(|(g, _)| *g == t.group) {
            out.push((t.group.clone(), t.version.clone()));
        }
    }
    out
}

pub(super) fn group_entry(store: &Store, config: &Config, group: &str) -> Option<Value> {
    groups(store, config)
        .into_iter()
        .find(|(g, _)| g == group)
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
}

pub(super) fn group_list(store: &Store, config: &Config) -> Value {
    let groups: Vec<Value> = groups(store, config)
        .iter()
        .filter_map(|(g, _)| group_entry(store, config, g))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `kubectl get all` expands to the resources in category `all`.
pub(super) fn categories(t: &ResourceType) -> Vec<&'static str> {
    let all = matches!(
        (t.group.as_str(), t.resource.as_str()),
        ("", "pods" | "services")
            | (
                "apps",
                "deployments" | "daemonsets" | "statefulsets" | "replicasets"
            )
            | ("batch", "jobs" | "cronjobs")
    );
    if all { vec!["all"] } else { Vec::new() }
}

pub(super) fn resource_list(store: &Store, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for t in store
        .types
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        resources.push(json!({
            "name": t.resource,
            "singularName": t.kind.to_ascii_lowercase(),
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": ["get", "list"],
            "shortNames": t.short_names,
            "categories": categories(t),
        }));
        if t.resource == "pods" && group.is_empty() {
            resources.push(json!({
                "name": "pods/log", "singularName": "", "namespaced": true,
                "kind": "Pod", "verbs": ["get"],
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}
