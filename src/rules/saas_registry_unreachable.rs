//! `saas-registry-unreachable`: a SaaS deployment (its `pre-release-hook` pod first) pulls the
//! app's image from bk-repo's docker registry, `docker.<BK_DOMAIN>`, through the node's container
//! runtime, which does not use the cluster DNS. Two ways it fails (guide: 部署 SaaS 在执行部署前置命令
//! 步骤出错): the node cannot resolve the name (`no such host`), or the runtime insists on TLS and
//! gets ingress-nginx's default certificate (`x509: certificate is valid for ingress.local`).
//! BlueKing's deployer deletes the hook pod once the step fails; its pull failures stay readable as
//! events for about an hour, and the finding is rebuilt from them alone.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event, Pod};

use super::Ctx;
use super::events;
use super::saas_ingress_class::SAAS_NS_PREFIX;
use super::site;
use crate::findings::Finding;
use crate::snapshot::{node, pod};

pub const ID: &str = "saas-registry-unreachable";

const PULL_REASONS: &[&str] = &["ErrImagePull", "ImagePullBackOff"];
const NO_SUCH_HOST: &str = "no such host";
const INGRESS_LOCAL: &str = "x509: certificate is valid for ingress.local";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cause {
    NoSuchHost,
    Certificate,
}

fn cause_of(text: &str) -> Option<Cause> {
    if text.contains(NO_SUCH_HOST) {
        Some(Cause::NoSuchHost)
    } else if text.contains(INGRESS_LOCAL) {
        Some(Cause::Certificate)
    } else {
        None
    }
}

/// One pod's failed pull: (namespace, pod, node, image, why).
type Pull<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// The part of a pull error that says why: containerd and dockerd both put the failed request
/// first (`failed to resolve reference ...: Head "https://...": `) and the reason last.
fn why(error: &str) -> &str {
    ["dial tcp", "tls: ", "x509: "]
        .iter()
        .find_map(|k| error.find(k))
        .map_or(error, |i| &error[i..])
}

/// `docker.DOMAIN` of an image reference `docker.DOMAIN/bkpaas/docker/...`.
fn registry_of(image: &str) -> Option<&str> {
    let host = image.split_once('/')?.0;
    host.strip_prefix("docker.")
        .filter(|d| d.contains('.'))
        .map(|_| host)
}

/// The pull error the kubelet reported for this pod: the container's waiting message
/// (ErrImagePull carries it) or the newest `Failed` event that names the image.
fn pull_error<'a>(
    ctx: &Ctx<'a>,
    p: &'a Pod,
    image: &str,
    waiting: Option<&'a str>,
) -> Option<&'a str> {
    let from_events = ctx
        .snap
        .events
        .iter()
        .filter(|e| {
            let o = &e.involved_object;
            o.kind.as_deref() == Some("Pod")
                && o.namespace.as_deref() == Some(pod::namespace(p))
                && o.name.as_deref() == Some(pod::name(p))
                && e.reason.as_deref() == Some("Failed")
        })
        .filter_map(|e| e.message.as_deref())
        .rfind(|m| m.contains(image) && cause_of(m).is_some());
    waiting.filter(|m| cause_of(m).is_some()).or(from_events)
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let mut found: BTreeMap<(&str, Cause), Vec<Pull>> = BTreeMap::new();
    for p in &snap.pods {
        if !pod::namespace(p).starts_with(SAAS_NS_PREFIX) {
            continue;
        }
        for c in pod::container_statuses(p) {
            if !pod::waiting_reason(c).is_some_and(|r| PULL_REASONS.contains(&r)) {
                continue;
            }
            let Some(registry) = registry_of(&c.image) else {
                continue;
            };
            let waiting = c
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.message.as_deref());
            let Some(error) = pull_error(ctx, p, &c.image, waiting) else {
                continue;
            };
            let Some(cause) = cause_of(error) else {
                continue;
            };
            found.entry((registry, cause)).or_default().push((
                pod::namespace(p),
                pod::name(p),
                pod::node(p).unwrap_or("?"),
                &c.image,
                why(error),
            ));
        }
    }
    let mut gone: Vec<(&str, &str)> = Vec::new();
    for (ns, name, node, image, error) in vanished_pulls(ctx) {
        let (Some(registry), Some(cause)) = (registry_of(image), cause_of(error)) else {
            continue;
        };
        let pulls = found.entry((registry, cause)).or_default();
        if !pulls.iter().any(|p| (p.0, p.1) == (ns, name)) {
            pulls.push((ns, name, node, image, why(error)));
            gone.push((ns, name));
        }
    }
    let nginx_ip = site::ingress_nginx_service(snap).and_then(site::cluster_ip);
    let mut out = Vec::new();
    for ((registry, cause), mut pods) in found {
        pods.sort();
        let (ns, first) = (pods[0].0, pods[0].1);
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("pod/{first}"),
            &[("registry", registry)],
        );
        for (ns, p, n, image, error) in &pods {
            let key = if gone.contains(&(*ns, *p)) {
                "pull_gone"
            } else {
                "pull"
            };
            f.evidence.push(ctx.text(
                ID,
                key,
                &[
                    ("namespace", ns),
                    ("pod", p),
                    ("node", n),
                    ("image", image),
                    ("error", &super::logs::clip(error)),
                ],
            ));
            f.covers.push((ns.to_string(), p.to_string()));
        }
        match cause {
            Cause::NoSuchHost => no_such_host(ctx, &mut f, registry, nginx_ip),
            Cause::Certificate => certificate(ctx, &mut f, registry),
        }
        f.remediation.push(ctx.text(ID, "retry", &[]));
        out.push(f);
    }
    out
}

/// The failed pulls of SaaS pods that no longer exist, from their recent `Failed` events, newest
/// first: (namespace, pod, node, image, error).
fn vanished_pulls<'a>(ctx: &Ctx<'a>) -> Vec<Pull<'a>> {
    let mut failed: Vec<&Event> = ctx
        .snap
        .events
        .iter()
        .filter(|e| {
            let o = &e.involved_object;
            o.kind.as_deref() == Some("Pod")
                && o.namespace
                    .as_deref()
                    .is_some_and(|ns| ns.starts_with(SAAS_NS_PREFIX))
                && events::reason(e) == "Failed"
                && events::is_recent(ctx, e)
        })
        .collect();
    failed.sort_by_key(|e| std::cmp::Reverse(events::last_seen(e)));
    let mut out = Vec::new();
    for e in failed {
        let o = &e.involved_object;
        let (Some(ns), Some(name)) = (o.namespace.as_deref(), o.name.as_deref()) else {
            continue;
        };
        if ctx
            .snap
            .pods
            .iter()
            .any(|p| pod::namespace(p) == ns && pod::name(p) == name)
        {
            continue;
        }
        let message = events::message(e);
        let Some(image) = message
            .strip_prefix("Failed to pull image \"")
            .and_then(|r| r.split_once('"'))
            .map(|(image, _)| image)
        else {
            continue;
        };
        let node = e.source.as_ref().and_then(|s| s.host.as_deref());
        out.push((ns, name, node.unwrap_or("?"), image, message));
    }
    out
}

fn nodes<'a>(ctx: &Ctx<'a>) -> Vec<(&'a str, &'a str, &'a str)> {
    ctx.snap
        .nodes
        .iter()
        .filter_map(|n| {
            let runtime = n
                .status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map_or("", |i| i.container_runtime_version.as_str());
            Some((n.metadata.name.as_deref()?, node::internal_ip(n)?, runtime))
        })
        .collect()
}

fn no_such_host(ctx: &Ctx, f: &mut Finding, registry: &str, nginx_ip: Option<&str>) {
    f.evidence
        .push(ctx.text(ID, "why_dns", &[("registry", registry)]));
    let ip = match nginx_ip {
        Some(ip) => ip.to_string(),
        None => {
            f.remediation.push(
                "IP1=$(kubectl get svc -A -l app.kubernetes.io/instance=ingress-nginx -o jsonpath='{.items[0].spec.clusterIP}')"
                    .into(),
            );
            "$IP1".to_string()
        }
    };
    let line = format!("{ip} {registry}");
    let nodes = nodes(ctx);
    let names: Vec<String> = nodes.iter().map(|(n, i, _)| format!("{n} {i}")).collect();
    f.remediation.push(ctx.text(
        ID,
        "hosts",
        &[("nodes", &names.join(", ")), ("registry", registry)],
    ));
    f.remediation.push(format!(
        "grep -qxF \"{line}\" /etc/hosts || echo \"{line}\" >> /etc/hosts"
    ));
    f.remediation.push(ctx.text(ID, "verify", &[]));
    f.remediation.push(format!("curl -v http://{registry}/v2/"));
}

fn certificate(ctx: &Ctx, f: &mut Finding, registry: &str) {
    f.evidence
        .push(ctx.text(ID, "why_tls", &[("registry", registry)]));
    let nodes = nodes(ctx);
    let (containerd, other): (Vec<_>, Vec<_>) = nodes
        .iter()
        .partition(|(_, _, r)| r.starts_with("containerd://"));
    if !containerd.is_empty() {
        f.remediation.push(ctx.text(ID, "containerd", &[]));
        for (_, ip, _) in &containerd {
            f.remediation.push(format!(
                "ssh -n {ip} \"cd /root/bcs-ops && ./k8s/insecure_registry.sh -c containerd -a {registry}\""
            ));
        }
    }
    for (n, ip, _) in other.iter().filter(|(_, _, r)| r.starts_with("docker://")) {
        f.remediation.push(ctx.text(
            ID,
            "docker",
            &[("node", n), ("ip", ip), ("registry", registry)],
        ));
        f.remediation.push("systemctl reload docker".into());
    }
    if nodes.is_empty() {
        f.remediation
            .push(ctx.text(ID, "no_nodes", &[("registry", registry)]));
    }
}
