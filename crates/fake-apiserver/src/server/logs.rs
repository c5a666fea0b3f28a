//! `pods/log`: a container's current or previous log with the checks the API server and kubelet
//! make, answering 400 and 404 with their words. It holds no log itself (the store does).

use bytes::Bytes;
use hyper::Response;
use hyper::header::{self, HeaderValue};
use serde_json::Value;

use super::routing::Target;
use super::{RecordedRequest, Resp, bad_request, not_found};
use crate::store::Store;

pub(super) fn container_names(pod: &Value) -> Vec<String> {
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .flat_map(|f| pod["spec"][f].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// The status of a container, app or init container.
pub(super) fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|k| pod["status"][k].as_array())
        .flatten()
        .find(|s| s["name"] == container)
}

/// `GET /api/v1/namespaces/NS/pods/P/log`, with the checks the API server and kubelet make.
pub(super) fn pod_log(store: &Store, req: &RecordedRequest, target: &Target, name: &str) -> Resp {
    let namespace = target.namespace.unwrap_or("");
    let pod = store
        .objects
        .get(&(String::new(), "pods".to_string()))
        .and_then(|b| b.get(&crate::store::key(Some(namespace), name)));
    // A snapshot may hold logs of pods it has no object for; those are served as if it had.
    let logged: Vec<String> = store
        .logs
        .keys()
        .filter(|(ns, p, _)| ns == namespace && p == name)
        .map(|(_, _, c)| c.clone())
        .collect();
    let containers = match pod {
        Some(p) => container_names(p),
        None if !logged.is_empty() => logged,
        None => return not_found(target.t, name),
    };
    let main_containers: Vec<String> = match pod {
        Some(p) => p["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect(),
        None => containers.clone(),
    };
    let container = match req.param("container").filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if main_containers.len() == 1 => main_containers[0].clone(),
        None => {
            return bad_request(&format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                main_containers.join(" ")
            ));
        }
    };
    if !containers.contains(&container) {
        return bad_request(&format!(
            "container {container} is not valid for pod {name}"
        ));
    }
    let status = pod.and_then(|p| container_status(p, &container));
    // The id of its last terminated instance.
    let previous_id = status.and_then(|s| s["lastState"]["terminated"]["containerID"].as_str());
    // The kubelet serves the current read of a container that neither runs nor has ended from
    // its last terminated instance: the same log as `previous=true`, whichever file holds it (a
    // snapshot made by `kubectl logs` or a cluster-info dump holds it as the current one).
    let state = status.map(|s| &s["state"]);
    let own_instance = state.is_none_or(|st| {
        st["running"].is_object()
            || st["terminated"]["containerID"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
            || !(st["waiting"].is_object() || st["terminated"].is_object())
    });
    let last_instance = !own_instance && previous_id.is_some();
    let previous = matches!(req.param("previous"), Some("true" | "1")) || last_instance;
    let log = store
        .logs
        .get(&(namespace.to_string(), name.to_string(), container.clone()));
    let text = if previous {
        let saved = log.and_then(|l| {
            l.previous
                .as_ref()
                .or(l.current.as_ref().filter(|_| last_instance))
        });
        match saved {
            Some(t) => t.clone(),
            // The container restarted, but the kubelet keeps no log of the instance before: a
            // real node answers 200 with this sentence (recorded between restarts of a crash loop).
            None => match previous_id {
                Some(id) => format!("unable to retrieve container logs for {id}").into_bytes(),
                None => {
                    return bad_request(&format!(
                        "previous terminated container \"{container}\" in pod \"{name}\" not found"
                    ));
                }
            },
        }
    } else {
        match log.and_then(|l| l.current.as_ref()) {
            Some(t) if own_instance || state.is_some_and(|st| !st["waiting"].is_object()) => {
                t.clone()
            }
            _ => {
                let waiting = state.and_then(|st| st["waiting"]["reason"].as_str());
                if let Some(reason) = waiting {
                    return bad_request(&format!(
                        "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
                    ));
                }
                Vec::new()
            }
        }
    };
    let mut body = text;
    if let Some(n) = req.param("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let lines: Vec<&[u8]> = body.split_inclusive(|&b| b == b'\n').collect();
        body = lines[lines.len().saturating_sub(n)..].concat();
    }
    if let Some(n) = req
        .param("limitBytes")
        .and_then(|n| n.parse::<usize>().ok())
    {
        body.truncate(n);
    }
    let mut r = Response::new(Bytes::from(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}
