//! Routing: which handler answers a path, after authentication and the RBAC denials a test set;
//! and what the client asked for by `Accept`. It answers no resource itself.

use serde_json::json;

use super::discovery::{VERSION_JSON, group_entry, group_list, resource_list};
use super::lists::{get, list};
use super::logs::pod_log;
use super::watches::watch;
use super::{
    Auth, RecordedRequest, Resp, State, details, json_response, not_found_resource, qualified, raw,
    status,
};
use crate::resources::ResourceType;
use crate::store::Store;

pub(super) fn route(state: &State, req: &RecordedRequest) -> Resp {
    let config = &state.config;
    match req.auth {
        Auth::Token | Auth::ClientCert => {}
        Auth::None if config.anonymous => {}
        Auth::None | Auth::BadToken | Auth::BadCert => {
            return status(401, "Unauthorized", "Unauthorized", None);
        }
    }
    if !config.handlers.is_empty() {
        let mut store = state.store.write().unwrap();
        for handler in &config.handlers {
            let mut objects = crate::Objects { store: &mut store };
            if let Some((code, body)) = handler(req, &mut objects) {
                return json_response(code, &body);
            }
        }
    }
    let store = state.store.read().unwrap();
    if req.method != "GET" {
        // The doctor is read-only; tests assert on the record that no write was ever tried.
        return status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            None,
        );
    }
    let segments: Vec<&str> = req
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segments.as_slice() {
        ["version"] => raw(200, "application/json", VERSION_JSON.to_string()),
        ["api"] => json_response(
            200,
            &json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
            }),
        ),
        ["apis"] => json_response(200, &group_list(&store, config)),
        ["api", "v1"] => json_response(200, &resource_list(&store, "", "v1")),
        ["apis", group] => match group_entry(&store, config, group) {
            Some(mut g) => {
                g["kind"] = "APIGroup".into();
                g["apiVersion"] = "v1".into();
                json_response(200, &g)
            }
            None => not_found_resource(),
        },
        ["apis", group, version] => {
            if config.missing_groups.iter().any(|g| g == group)
                || !store
                    .types
                    .iter()
                    .any(|t| t.group == *group && t.version == *version)
            {
                return not_found_resource();
            }
            json_response(200, &resource_list(&store, group, version))
        }
        ["api", "v1", rest @ ..] => resource_request(state, &store, req, "", "v1", rest),
        ["apis", group, version, rest @ ..] => {
            if config.missing_groups.iter().any(|g| g == group) {
                return not_found_resource();
            }
            resource_request(state, &store, req, group, version, rest)
        }
        ["healthz"] | ["livez"] | ["readyz"] => raw(200, "text/plain; charset=utf-8", "ok".into()),
        _ => raw(
            404,
            "text/plain; charset=utf-8",
            "404 page not found\n".into(),
        ),
    }
}

/// What the client asked for: the object itself, its metadata only, or a kubectl table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Shape {
    Full,
    Metadata,
    Table,
}

/// Content negotiation over `Accept`: the first media type this server can produce wins, as in
/// the API server's negotiation.
pub(super) fn shape(accept: Option<&str>) -> Shape {
    let Some(accept) = accept else {
        return Shape::Full;
    };
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let base = parts.next().unwrap_or("");
        if base != "application/json" && base != "*/*" && base != "application/*" {
            continue;
        }
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let get = |k: &str| params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        match get("as") {
            None => return Shape::Full,
            Some("PartialObjectMetadataList" | "PartialObjectMetadata")
                if get("g") == Some("meta.k8s.io") && get("v") == Some("v1") =>
            {
                return Shape::Metadata;
            }
            Some("Table") if get("g") == Some("meta.k8s.io") && get("v") == Some("v1") => {
                return Shape::Table;
            }
            Some(_) => continue,
        }
    }
    Shape::Full
}

pub(super) struct Target<'a> {
    pub(super) t: &'a ResourceType,
    pub(super) namespace: Option<&'a str>,
    pub(super) name: Option<&'a str>,
    pub(super) subresource: Option<&'a str>,
}

pub(super) fn resource_request(
    state: &State,
    store: &Store,
    req: &RecordedRequest,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Resp {
    let find = |resource: &str| {
        store
            .find_type(group, resource)
            .filter(|t| t.version == version)
    };
    let target = match rest {
        ["namespaces", ns, resource, tail @ ..] if find(resource).is_some_and(|t| t.namespaced) => {
            let t = find(resource).unwrap();
            match tail {
                [] => Target {
                    t,
                    namespace: Some(ns),
                    name: None,
                    subresource: None,
                },
                [name] => Target {
                    t,
                    namespace: Some(ns),
                    name: Some(name),
                    subresource: None,
                },
                [name, sub] => Target {
                    t,
                    namespace: Some(ns),
                    name: Some(name),
                    subresource: Some(sub),
                },
                _ => return not_found_resource(),
            }
        }
        [resource, tail @ ..] => {
            let Some(t) = find(resource) else {
                return not_found_resource();
            };
            match tail {
                [] => Target {
                    t,
                    namespace: None,
                    name: None,
                    subresource: None,
                },
                [name] if !t.namespaced => Target {
                    t,
                    namespace: None,
                    name: Some(name),
                    subresource: None,
                },
                [name, sub] if !t.namespaced => Target {
                    t,
                    namespace: None,
                    name: Some(name),
                    subresource: Some(sub),
                },
                _ => return not_found_resource(),
            }
        }
        _ => return not_found_resource(),
    };
    if let Some(denied) = forbidden(state, req, &target) {
        return denied;
    }
    match (target.name, target.subresource) {
        (None, _) => {
            if matches!(req.param("watch"), Some("true" | "1")) {
                return watch(store, req, &target);
            }
            list(state, store, req, &target)
        }
        (Some(name), None | Some("status")) => get(state, store, req, &target, name),
        (Some(name), Some("log")) if target.t.resource == "pods" && target.t.group.is_empty() => {
            pod_log(store, req, &target, name)
        }
        _ => not_found_resource(),
    }
}

/// The recorded 403: "secrets is forbidden: User \"U\" cannot list resource \"secrets\" in API
/// group \"\" at the cluster scope", phrased for the verb, name and scope of this request.
pub(super) fn forbidden(state: &State, req: &RecordedRequest, target: &Target) -> Option<Resp> {
    // RBAC names a subresource as `pods/log`, distinct from `pods`: denying one leaves the other.
    let resource = match target.subresource {
        Some(sub) => format!("{}/{sub}", target.t.resource),
        None => target.t.resource.clone(),
    };
    let denied = state.config.forbidden.iter().any(|(r, ns)| {
        let resource_matches = *r == resource;
        let scope_matches = match (ns, target.namespace) {
            (None, _) => true,
            (Some(_), None) => true,
            (Some(denied), Some(asked)) => denied == asked,
        };
        resource_matches && scope_matches
    });
    if !denied {
        return None;
    }
    let verb = match (target.name, req.param("watch")) {
        (_, Some("true" | "1")) => "watch",
        (None, _) => "list",
        (Some(_), _) => "get",
    };
    let subject = match target.name {
        Some(n) => format!("{} \"{n}\"", qualified(target.t)),
        None => qualified(target.t),
    };
    let scope = match target.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let message = format!(
        "{subject} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
        state.config.user, target.t.group
    );
    Some(status(
        403,
        "Forbidden",
        &message,
        Some(details(target.name, target.t)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert_eq!(shape(None), Shape::Full);
        assert_eq!(
            shape(Some(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
            )),
            Shape::Metadata
        );
        assert_eq!(
            shape(Some(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
            )),
            Shape::Table
        );
        assert_eq!(
            shape(Some("application/vnd.kubernetes.protobuf,application/json")),
            Shape::Full
        );
    }
}
