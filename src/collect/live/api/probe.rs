//! The one exception to read-only: the writes `--probe` makes, creating and deleting the doctor's
//! own labelled probe pods, checked here so that no other write can pass. It decides nothing about
//! when to probe (that is `probe`).

use serde_json::Value;

use super::{Api, Failure, Raw};

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

impl Api {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::Client;

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
}
