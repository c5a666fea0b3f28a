//! `pod-sandbox-failed`: a pod stays `ContainerCreating` because the kubelet cannot create its
//! sandbox (`FailedCreatePodSandBox`): the CNI plugin (calico, flannel, …) cannot set up its network
//! on that node, or the runtime cannot get its pause image. The fix is on the node, not in the pod:
//! the plugin's own pod there, its config and binaries. The kubelet retries on its own.
//! Only pods older than a minute: a node's network plugin may still be starting.

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{Event, Pod};
use regex::Regex;

use super::containers::{node_label, on_node};
use super::events::{self, Recent};
use super::{Ctx, logs};
use crate::findings::Finding;
use crate::snapshot::pod;

pub const ID: &str = "pod-sandbox-failed";

const REASON: &str = "FailedCreatePodSandBox";
/// A sandbox that fails in a pod's first minute may be a plugin that is still starting.
const YOUNG_SECS: i64 = 60;

static PLUGIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"plugin type="([^"]+)""#).expect("regex"));
static SANDBOX_IMAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"sandbox image "([^"]+)""#).expect("regex"));

/// What keeps the sandbox from being made, read from the kubelet's message.
#[derive(Debug, PartialEq, Eq)]
pub enum Cause {
    /// `plugin type="calico" failed (add): ...`
    Plugin(String),
    /// `failed to get sandbox image "registry.k8s.io/pause:3.9": ...`
    PauseImage(String),
    /// `cni config uninitialized`, `no networks found in /etc/cni/net.d`
    NoCniConfig,
    Other,
}

pub fn cause(message: &str) -> Cause {
    if let Some(c) = SANDBOX_IMAGE.captures(message) {
        return Cause::PauseImage(c[1].to_string());
    }
    if let Some(c) = PLUGIN.captures(message) {
        return Cause::Plugin(c[1].to_string());
    }
    if message.contains("cni config uninitialized") || message.contains("no networks found") {
        return Cause::NoCniConfig;
    }
    Cause::Other
}

fn creating(p: &Pod) -> bool {
    pod::phase(p) == "Pending"
        && pod::container_statuses(p)
            .all(|c| matches!(pod::waiting_reason(c), Some("ContainerCreating") | None))
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let recent = Recent::new(ctx.snap, ctx.now, events::RECENT);
    let mut out = Vec::new();
    for p in ctx.snap.pods.iter().filter(|p| creating(p)) {
        let (ns, name) = (pod::namespace(p), pod::name(p));
        let young = p
            .metadata
            .creation_timestamp
            .as_ref()
            .is_some_and(|t| ctx.now.as_second() - t.0.as_second() < YOUNG_SECS);
        if young {
            continue;
        }
        if let Some(e) = recent.with_reason("Pod", ns, name, &[REASON]).next() {
            out.push(finding(ctx, p, e));
        }
    }
    out
}

fn finding(ctx: &Ctx, p: &Pod, e: &Event) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let node = pod::node(p).unwrap_or("?");
    let message = events::message(e);
    let why = cause(message);
    let plugin = match &why {
        Cause::Plugin(p) => p.clone(),
        _ => "-".to_string(),
    };
    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("pod/{name}"),
        &[("pod", name), ("node", node), ("plugin", &plugin)],
    );
    f.evidence.push(ctx.text(
        ID,
        "event",
        &[
            ("count", &events::count(e).to_string()),
            ("node", &node_label(ctx.snap, p)),
            ("message", &logs::clip(message)),
        ],
    ));
    if let Some(r) = pod::release(p) {
        f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
    }
    match &why {
        Cause::Plugin(plugin) => {
            f.evidence
                .push(ctx.text(ID, "plugin", &[("plugin", plugin), ("node", node)]));
            f.remediation
                .push(ctx.text(ID, "fix_plugin", &[("plugin", plugin), ("node", node)]));
            f.remediation.push(format!(
                "kubectl get pods -A -o wide --field-selector spec.nodeName={node}"
            ));
            if let Some(cni) = plugin_pod(ctx, node, plugin) {
                f.remediation.push(format!(
                    "kubectl logs -n {} {} --tail=50",
                    pod::namespace(cni),
                    pod::name(cni)
                ));
            }
            f.remediation.push(ctx.text(ID, "fix_cni_files", &[]));
            f.remediation
                .push(on_node(ctx.snap, p, "ls -l /etc/cni/net.d /opt/cni/bin"));
        }
        Cause::PauseImage(image) => {
            f.evidence.push(ctx.text(ID, "pause", &[("image", image)]));
            f.remediation
                .push(ctx.text(ID, "fix_pause", &[("image", image)]));
            f.remediation
                .push(on_node(ctx.snap, p, &format!("crictl pull {image}")));
        }
        Cause::NoCniConfig => {
            f.evidence.push(ctx.text(ID, "no_config", &[]));
            f.remediation.push(ctx.text(ID, "fix_cni_files", &[]));
            f.remediation
                .push(on_node(ctx.snap, p, "ls -l /etc/cni/net.d /opt/cni/bin"));
            f.remediation.push(format!(
                "kubectl get pods -A -o wide --field-selector spec.nodeName={node}"
            ));
        }
        Cause::Other => {
            f.remediation.push(on_node(
                ctx.snap,
                p,
                "journalctl -u kubelet --since -30min --no-pager | grep -i sandbox | tail -n 20",
            ));
        }
    }
    f.remediation.push(ctx.text(ID, "retries", &[]));
    f.remediation
        .push(format!("kubectl describe pod -n {ns} {name}"));
    f.covers.push((ns.to_string(), name.to_string()));
    f
}

/// The network plugin's own pod on that node: calico-node-*, kube-flannel-ds-*, cilium-*.
fn plugin_pod<'a>(ctx: &Ctx<'a>, node: &str, plugin: &str) -> Option<&'a Pod> {
    let prefixes: &[&str] = match plugin {
        "calico" => &["calico-node-"],
        "flannel" => &["kube-flannel-ds-", "kube-flannel-"],
        "cilium-cni" | "cilium" => &["cilium-"],
        "weave-net" => &["weave-net-"],
        _ => return None,
    };
    ctx.snap.pods.iter().find(|q| {
        pod::node(q) == Some(node) && prefixes.iter().any(|pre| pod::name(q).starts_with(pre))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes() {
        let calico = r#"Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "5e1c": plugin type="calico" failed (add): stat /var/lib/calico/nodename: no such file or directory: check that the calico/node container is running and has mounted /var/lib/calico/"#;
        assert_eq!(cause(calico), Cause::Plugin("calico".into()));
        let pause = r#"Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox image "registry.k8s.io/pause:3.9": failed to pull image "registry.k8s.io/pause:3.9""#;
        assert_eq!(
            cause(pause),
            Cause::PauseImage("registry.k8s.io/pause:3.9".into())
        );
        assert_eq!(cause("something else"), Cause::Other);
    }
}
