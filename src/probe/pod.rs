//! The probe pod: its spec, its script, and what its status says. Pure functions over JSON, so
//! every decision about a pod's fate is testable without a cluster.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::collect::live::api::{
    COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, PROBE_COMPONENT, PROBE_POD_PREFIX,
};

pub const CONTAINER: &str = "probe";
pub const RUN_LABEL: &str = "kubectl-bkdoctor/run";
/// Every probe pod, of any run.
pub const SELECTOR: &str =
    "app.kubernetes.io/managed-by=kubectl-bkdoctor,app.kubernetes.io/component=node-probe";

/// Runs in the pod with `sh -c`. Names and the DNS address come in through the environment, never
/// spliced into the script, so no value can change what it runs. Every check prints one line; the
/// clock is read last so that it is as close as possible to the moment the pod is seen finished.
///
/// nslookup: busybox's prints `Name:` then `Address: IP` (older builds `Address 1: IP name`); a
/// timeout is `connection timed out` from nslookup itself or the kill by `timeout`, whose status is
/// 143 (busybox) or 124 (coreutils).
pub const SCRIPT: &str = r#"p() { echo "bkdoctor-probe $*"; }
lookup() {
  if command -v timeout >/dev/null 2>&1; then
    out=$(timeout "$PROBE_DNS_TIMEOUT" nslookup "$1" "$2" 2>&1); rc=$?
  else
    out=$(nslookup "$1" "$2" 2>&1); rc=$?
  fi
  addr=$(printf '%s\n' "$out" | awk '/^Name:/ {n=1; next} n && /^Address/ {sub(/^Address[^:]*:[ \t]*/, ""); split($0, a, " "); print a[1]; exit}')
  if [ -n "$addr" ]; then
    p dns name="$1" server="$2" result=ok addr="$addr"
  elif [ "$rc" = 124 ] || [ "$rc" = 143 ] || printf '%s' "$out" | grep -qi 'timed out'; then
    p dns name="$1" server="$2" result=timeout
  elif printf '%s' "$out" | grep -q 'NXDOMAIN'; then
    p dns name="$1" server="$2" result=nxdomain
  else
    p dns name="$1" server="$2" result=error detail="$(printf '%s' "$out" | tr '\n\t' '  ' | cut -c1-200)"
  fi
}
if [ -n "$PROBE_DNS" ]; then
  for n in $PROBE_NAMES; do lookup "$n" "$PROBE_DNS"; done
fi
if [ -e /proc/net/if_inet6 ]; then i=1; else i=0; fi
d=$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || echo none)
p ipv6 if_inet6="$i" disable_ipv6="$d"
p clock epoch="$(date +%s)"
p end
"#;

/// What one pod needs to know.
pub struct PodPlan<'a> {
    pub namespace: &'a str,
    pub name: String,
    pub node: &'a str,
    pub run: &'a str,
    pub image: &'a str,
    pub dns_server: Option<&'a str>,
    pub names: &'a [String],
    pub dns_timeout_secs: u64,
    pub deadline_secs: u64,
}

/// `bkdoctor-probe-RUN-NODE`, within the 253 characters of a pod name. Node names are already
/// DNS subdomains, so only the length needs care.
pub fn pod_name(run: &str, node: &str, index: usize) -> String {
    let full = format!("{PROBE_POD_PREFIX}{run}-{node}");
    if full.len() <= 253 {
        return full;
    }
    // Unique by index when a long node name has to be cut.
    let mut cut = format!("{PROBE_POD_PREFIX}{run}-{index}-{node}");
    cut.truncate(253);
    cut.trim_end_matches(['-', '.']).to_string()
}

pub fn spec(plan: &PodPlan) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": plan.name,
            "namespace": plan.namespace,
            "labels": {
                MANAGED_BY_LABEL: MANAGED_BY,
                COMPONENT_LABEL: PROBE_COMPONENT,
                RUN_LABEL: plan.run,
            },
            "annotations": {"kubectl-bkdoctor/node": plan.node},
        },
        "spec": {
            // Straight to the kubelet: no scheduler, so cordoned nodes and masters are probed too.
            "nodeName": plan.node,
            // The node's own network, DNS path and kernel settings are what is being tested.
            "hostNetwork": true,
            "dnsPolicy": "Default",
            "restartPolicy": "Never",
            // The pod stops itself even if the doctor is killed before it can delete it.
            "activeDeadlineSeconds": plan.deadline_secs,
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            // Every taint, NoExecute included: masters and tainted nodes are where DNS differs.
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": CONTAINER,
                "image": plan.image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", SCRIPT],
                "env": [
                    {"name": "PROBE_DNS", "value": plan.dns_server.unwrap_or("")},
                    {"name": "PROBE_NAMES", "value": plan.names.join(" ")},
                    {"name": "PROBE_DNS_TIMEOUT", "value": plan.dns_timeout_secs.to_string()},
                ],
                // A namespace with a ResourceQuota refuses pods without limits.
                "resources": {
                    "requests": {"cpu": "10m", "memory": "16Mi"},
                    "limits": {"cpu": "100m", "memory": "64Mi"},
                },
                "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true},
            }],
        },
    })
}

/// Where a pod stands, from its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// Still on its way; the text is for the progress line and a timeout's message.
    Waiting(String),
    Succeeded,
    /// It will not run the script: reason (as Kubernetes spells it) and message.
    Failed {
        reason: String,
        message: String,
    },
}

/// Waiting reasons that no amount of waiting fixes. `ErrImagePull` is not among them: the first
/// pull failure may be a registry hiccup, and the kubelet retries it before backing off.
const HOPELESS: &[&str] = &[
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
];

pub fn state(pod: &Value) -> PodState {
    let status = &pod["status"];
    let phase = status["phase"].as_str().unwrap_or("Pending");
    let container = status["containerStatuses"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == CONTAINER));
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    match phase {
        "Succeeded" => return PodState::Succeeded,
        "Failed" => {
            // The kubelet's own verdict (DeadlineExceeded, an admission refusal such as
            // OutOfpods) says more than the container's.
            if let Some(reason) = status["reason"].as_str().filter(|r| !r.is_empty()) {
                return PodState::Failed {
                    reason: reason.to_string(),
                    message: text(&status["message"]),
                };
            }
            let terminated = container
                .map(|c| &c["state"]["terminated"])
                .filter(|t| t.is_object());
            return match terminated {
                Some(t) => PodState::Failed {
                    reason: text(&t["reason"]).if_empty("Error"),
                    message: format!(
                        "the probe container exited with code {}{}",
                        t["exitCode"].as_i64().unwrap_or(-1),
                        match t["message"].as_str() {
                            Some(m) if !m.is_empty() => format!(": {m}"),
                            _ => String::new(),
                        }
                    ),
                },
                None => PodState::Failed {
                    reason: "Failed".into(),
                    message: text(&status["message"]),
                },
            };
        }
        _ => {}
    }
    if let Some(w) = container.map(|c| &c["state"]["waiting"]) {
        let reason = text(&w["reason"]);
        if HOPELESS.contains(&reason.as_str()) {
            return PodState::Failed {
                reason,
                message: text(&w["message"]),
            };
        }
        if !reason.is_empty() {
            return PodState::Waiting(reason);
        }
    }
    let unschedulable = status["conditions"].as_array().and_then(|cs| {
        cs.iter().find(|c| {
            c["type"] == "PodScheduled" && c["status"] == "False" && c["reason"] == "Unschedulable"
        })
    });
    if let Some(c) = unschedulable {
        return PodState::Failed {
            reason: "Unschedulable".into(),
            message: text(&c["message"]),
        };
    }
    PodState::Waiting(phase.to_string())
}

trait IfEmpty {
    fn if_empty(self, default: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, default: &str) -> String {
        if self.is_empty() {
            default.into()
        } else {
            self
        }
    }
}

/// A pod of an earlier run that nobody is waiting for any more: its own deadline (counted from
/// its creation, by the API server's clock) has passed, and every run gives up before its pods'
/// deadline. A younger one may belong to a run still in progress, perhaps another operator's.
pub fn abandoned(pod: &Value, server_now: Timestamp) -> bool {
    let created: Option<Timestamp> = pod["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| t.parse().ok());
    let deadline = pod["spec"]["activeDeadlineSeconds"].as_i64().unwrap_or(0);
    match created {
        Some(c) => c.as_second() + deadline < server_now.as_second(),
        // No creation time: not written by an API server we know; treat as old.
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: Value) -> Value {
        json!({"status": status})
    }

    #[test]
    fn states_from_status() {
        assert_eq!(state(&pod(json!({}))), PodState::Waiting("Pending".into()));
        assert_eq!(
            state(&pod(json!({"phase": "Pending", "containerStatuses": [
                {"name": "probe", "state": {"waiting": {"reason": "ErrImagePull", "message": "x"}}}]}))),
            PodState::Waiting("ErrImagePull".into())
        );
        assert_eq!(
            state(&pod(json!({"phase": "Pending", "containerStatuses": [
                {"name": "probe", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"busybox:1.36\""}}}]}))),
            PodState::Failed {
                reason: "ImagePullBackOff".into(),
                message: "Back-off pulling image \"busybox:1.36\"".into()
            }
        );
        assert_eq!(
            state(&pod(json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes"}]}))),
            PodState::Failed {
                reason: "Unschedulable".into(),
                message: "0/3 nodes".into()
            }
        );
        assert_eq!(
            state(&pod(
                json!({"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active on the node longer than the specified deadline"})
            )),
            PodState::Failed {
                reason: "DeadlineExceeded".into(),
                message: "Pod was active on the node longer than the specified deadline".into()
            }
        );
        assert_eq!(
            state(&pod(json!({"phase": "Failed", "containerStatuses": [
                {"name": "probe", "state": {"terminated": {"exitCode": 127}}}]}))),
            PodState::Failed {
                reason: "Error".into(),
                message: "the probe container exited with code 127".into()
            }
        );
        assert_eq!(
            state(&pod(json!({"phase": "Succeeded"}))),
            PodState::Succeeded
        );
    }

    #[test]
    fn abandoned_only_past_the_pods_own_deadline() {
        let p = json!({"metadata": {"creationTimestamp": "2026-11-20T10:00:00Z"},
                       "spec": {"activeDeadlineSeconds": 120}});
        assert!(!abandoned(&p, "2026-11-20T10:01:59Z".parse().unwrap()));
        assert!(abandoned(&p, "2026-11-20T10:02:01Z".parse().unwrap()));
    }

    #[test]
    fn names_fit_and_the_spec_pins_the_node() {
        assert_eq!(pod_name("r1", "node-1", 0), "bkdoctor-probe-r1-node-1");
        let long = "n".repeat(300);
        let name = pod_name("r1", &long, 7);
        assert!(name.len() <= 253 && name.starts_with("bkdoctor-probe-r1-7-"));
        let names = vec!["kubernetes.default.svc.cluster.local".to_string()];
        let s = spec(&PodPlan {
            namespace: "default",
            name: "bkdoctor-probe-r1-node-1".into(),
            node: "node-1",
            run: "r1",
            image: "busybox:1.36",
            dns_server: Some("10.96.0.10"),
            names: &names,
            dns_timeout_secs: 5,
            deadline_secs: 120,
        });
        assert_eq!(s["spec"]["nodeName"], "node-1");
        assert_eq!(s["spec"]["hostNetwork"], true);
        assert_eq!(s["spec"]["tolerations"], json!([{"operator": "Exists"}]));
        assert_eq!(s["metadata"]["labels"][MANAGED_BY_LABEL], MANAGED_BY);
        assert_eq!(s["spec"]["containers"][0]["env"][0]["value"], "10.96.0.10");
    }
}
