//! `image-pull-failed`: a container (or init container) that cannot get its image. The kubelet's
//! message says why, and the why decides the fix: a tag that does not exist, credentials, a node
//! that cannot resolve or reach the registry, a certificate the node does not trust, a rate limit.
//! Pulling by hand on that node shows the registry's answer; the tool is the node's runtime's own
//! (`crictl` for containerd, `docker` for dockerd).
//!
//! BlueKing adds three cases of its own: the one-click script's `nsenter-XXXXXX` probe pod, which
//! `kubectl run --rm` deletes, so often only its events are left; `manifest unknown` from
//! hub.bktencent.com, whose overseas node lacks some images; and dockerd falling back to Docker
//! Hub because every configured mirror is dead.

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateWaiting, ContainerStatus, Event, Pod, PodSpec,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use regex::Regex;

use super::containers::{self, node_label, on_node};
use super::events::{self, Recent};
use super::{Ctx, logs, site};
use crate::findings::Finding;
use crate::snapshot::pod;

pub const ID: &str = "image-pull-failed";

const WAITING: &[&str] = &["ErrImagePull", "ImagePullBackOff", "InvalidImageName"];

/// What went wrong, read from the kubelet's message. The order matters: a DNS failure is also a
/// failed request, a rate limit also says "denied" on some registries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    InvalidName,
    RateLimit,
    Certificate,
    Resolve,
    Unreachable,
    Credentials,
    NotFound,
    Unknown,
}

impl Cause {
    pub fn of(reason: &str, message: &str) -> Cause {
        let m = message.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
        if reason == "InvalidImageName" || has(&["invalid reference format"]) {
            Cause::InvalidName
        } else if has(&["toomanyrequests", "too many requests", "rate limit"]) {
            Cause::RateLimit
        } else if has(&["x509", "certificate signed by unknown authority", "tls: "]) {
            Cause::Certificate
        } else if has(&["no such host", "server misbehaving"])
            || (m.contains("lookup ") && m.contains("i/o timeout"))
        {
            Cause::Resolve
        } else if has(&[
            "i/o timeout",
            "connection refused",
            "client.timeout",
            "no route to host",
            "network is unreachable",
            "connection reset",
        ]) {
            Cause::Unreachable
        } else if has(&[
            "unauthorized",
            "authentication required",
            "denied",
            "no basic auth credentials",
            "401",
            "403 forbidden",
        ]) {
            Cause::Credentials
        } else if has(&["not found", "manifest unknown", "does not exist"]) {
            Cause::NotFound
        } else {
            Cause::Unknown
        }
    }

    fn key(self) -> &'static str {
        match self {
            Cause::InvalidName => "cause_invalid",
            Cause::RateLimit => "cause_rate_limit",
            Cause::Certificate => "cause_x509",
            Cause::Resolve => "cause_resolve",
            Cause::Unreachable => "cause_unreachable",
            Cause::Credentials => "cause_credentials",
            Cause::NotFound => "cause_not_found",
            Cause::Unknown => "cause_unknown",
        }
    }
}

/// The registry host of an image reference, as the runtime reads it: the first path part when it
/// looks like a host (has a dot or a port, or is localhost), else Docker Hub.
pub fn registry(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// BlueKing's public registry, and the address its docs give for the mainland node when the name
/// resolves to the overseas one.
const BK_HUB: &str = "hub.bktencent.com";
const BK_HUB_MAINLAND: &str = "49.234.165.79";
/// Where dockerd goes when no configured mirror answers.
const DOCKER_HUB: &str = "registry-1.docker.io";

/// The probe pod `setup_bkce7.sh` starts to find Docker's root directory.
pub fn is_nsenter_probe(name: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^nsenter-[a-z0-9]{6}$").unwrap());
    RE.is_match(name)
}

/// A namespace BlueKing is installed in: the default one, or one whose Ingresses serve a BlueKing
/// host.
fn is_blueking_ns(ctx: &Ctx, ns: &str) -> bool {
    ns == "blueking"
        || ctx.snap.ingresses.iter().any(|i| {
            site::ingress_ns(i) == ns
                && site::ingress_hosts(i).any(|h| site::domain_of_host(h).is_some())
        })
}

/// The image a `Failed to pull image "IMAGE": ...` event names.
fn event_image(e: &Event) -> Option<&str> {
    let rest = events::message(e).strip_prefix("Failed to pull image \"")?;
    rest.split_once('"').map(|(image, _)| image)
}

/// The probe pods that are gone but whose recent pull failures remain, rebuilt from those events
/// as the pod was: its container waiting on the pull, on the node that reported it.
fn vanished_probes(ctx: &Ctx) -> Vec<Pod> {
    let mut out: Vec<Pod> = Vec::new();
    let mut failed: Vec<&Event> = ctx
        .snap
        .events
        .iter()
        .filter(|e| {
            let o = &e.involved_object;
            o.kind.as_deref() == Some("Pod")
                && o.name.as_deref().is_some_and(is_nsenter_probe)
                && events::reason(e) == "Failed"
                && event_image(e).is_some()
                && events::is_recent(ctx, e)
        })
        .collect();
    failed.sort_by_key(|e| std::cmp::Reverse(events::last_seen(e)));
    for e in failed {
        let o = &e.involved_object;
        let (Some(ns), Some(name)) = (
            o.namespace.as_deref().or(e.metadata.namespace.as_deref()),
            o.name.as_deref(),
        ) else {
            continue;
        };
        let exists = |p: &Pod| pod::namespace(p) == ns && pod::name(p) == name;
        if !is_blueking_ns(ctx, ns) || ctx.snap.pods.iter().any(exists) || out.iter().any(exists) {
            continue;
        }
        let image = event_image(e).unwrap_or_default().to_string();
        let container = events::container(e).unwrap_or("nsenter").to_string();
        let node = e.source.as_ref().and_then(|s| s.host.clone());
        out.push(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: node,
                containers: vec![Container {
                    name: container.clone(),
                    image: Some(image.clone()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                container_statuses: Some(vec![ContainerStatus {
                    name: container,
                    image,
                    state: Some(ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some("ErrImagePull".into()),
                            message: Some(events::message(e).into()),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        });
    }
    out
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let recent = Recent::new(ctx.snap, ctx.now, events::RECENT);
    let mut out = Vec::new();
    let vanished = vanished_probes(ctx);
    let pods = ctx.snap.pods.iter().map(|p| (p, false));
    let pods = pods.chain(vanished.iter().map(|p| (p, true)));
    for (p, gone) in pods.filter(|(p, _)| !pod::is_ready(p)) {
        let (ns, name) = (pod::namespace(p), pod::name(p));
        let pull_events: Vec<_> = recent
            .with_reason("Pod", ns, name, &["Failed"])
            .filter(|e| events::message(e).starts_with("Failed to pull image"))
            .collect();
        let failing: Vec<(&ContainerStatus, String)> = pod::container_statuses(p)
            .filter_map(|c| {
                let waiting = c.state.as_ref()?.waiting.as_ref()?;
                let reason = waiting.reason.as_deref().unwrap_or("");
                let event = pull_events
                    .iter()
                    .find(|e| events::container(e) == Some(c.name.as_str()));
                if !WAITING.contains(&reason) && event.is_none() {
                    return None;
                }
                // The event carries the registry's own words; the waiting message repeats them
                // after "Back-off pulling image ...: ErrImagePull:".
                let message = event
                    .map(|e| events::message(e).to_string())
                    .or_else(|| waiting.message.clone())
                    .unwrap_or_else(|| reason.to_string());
                Some((c, message))
            })
            .collect();
        if !failing.is_empty() {
            out.push(finding(ctx, p, gone, &failing, &pull_events));
        }
    }
    out
}

fn finding(
    ctx: &Ctx,
    p: &Pod,
    gone: bool,
    failing: &[(&ContainerStatus, String)],
    pull_events: &[&Event],
) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let node = pod::node(p);
    let node_s = node_label(ctx.snap, p);
    let image_of = |c: &ContainerStatus| {
        containers::spec(p, &c.name)
            .and_then(|s| s.image.clone())
            .unwrap_or_else(|| c.image.clone())
    };
    let first_image = image_of(failing[0].0);
    let mut f = ctx.finding(
        ID,
        Some(ns),
        format!("pod/{name}"),
        &[("pod", name), ("image", &first_image)],
    );
    let runtime = node
        .and_then(|n| ctx.snap.node(n))
        .map(containers::runtime)
        .unwrap_or("");
    let docker = runtime.starts_with("docker://");
    let probe = is_nsenter_probe(name) && is_blueking_ns(ctx, ns);
    if gone {
        f.evidence
            .push(ctx.text(ID, "probe_gone", &[("pod", name)]));
    }
    for (c, message) in failing {
        let image = image_of(c);
        let reg = registry(&image);
        let reason = pod::waiting_reason(c).unwrap_or("-");
        f.evidence.push(ctx.text(
            ID,
            "container",
            &[
                ("container", &c.name),
                ("image", &image),
                ("node", &node_s),
                ("reason", reason),
            ],
        ));
        f.evidence
            .push(ctx.text(ID, "message", &[("message", &logs::clip_middle(message))]));
        if let Some(e) = pull_events
            .iter()
            .find(|e| events::container(e) == Some(c.name.as_str()))
        {
            f.evidence.push(ctx.text(
                ID,
                "event_count",
                &[("count", &events::count(e).to_string())],
            ));
        }
        let cause = Cause::of(reason, message);
        let node_ip = containers::node_ip(ctx.snap, p)
            .or(node)
            .unwrap_or("NODE_IP");
        let vars = [
            ("image", image.as_str()),
            ("registry", reg),
            ("node", node_s.as_str()),
            ("namespace", ns),
            ("pod", name),
            ("node_ip", node_ip),
        ];
        f.evidence.push(ctx.text(ID, cause.key(), &vars));
        if !runtime.is_empty() {
            f.evidence
                .push(ctx.text(ID, "runtime", &[("runtime", runtime)]));
        }
        let lower = message.to_ascii_lowercase();
        let hub_missing = cause == Cause::NotFound && reg == BK_HUB;
        let mirrors_dead = cause == Cause::Unreachable && lower.contains(DOCKER_HUB);
        if hub_missing {
            f.evidence.push(ctx.text(ID, "hub_overseas", &vars));
        }
        if mirrors_dead {
            f.evidence.push(ctx.text(ID, "mirrors_dead", &vars));
        }
        let mut also = Vec::new();
        if hub_missing {
            let hosts = format!("{BK_HUB_MAINLAND} {BK_HUB}");
            also.push(ctx.text(ID, "fix_hub_hosts", &[("hosts", &hosts), ("node", &node_s)]));
        }
        if mirrors_dead {
            also.push(ctx.text(ID, "fix_mirrors", &vars));
        }
        push_fix(ctx, &mut f.remediation, cause, docker, p, &vars, also);
    }
    if !gone {
        for line in containers::retry_now(ctx, ID, p) {
            push_new(&mut f.remediation, line);
        }
    }
    if probe {
        f.evidence.push(ctx.text(ID, "probe", &[("pod", name)]));
        push_rerun(ctx, &mut f.remediation);
    }
    f.covers.push((ns.to_string(), name.to_string()));
    f
}

fn push_fix(
    ctx: &Ctx,
    out: &mut Vec<String>,
    cause: Cause,
    docker: bool,
    p: &Pod,
    vars: &[(&str, &str)],
    also: Vec<String>,
) {
    let reg = vars[1].1;
    let on = |cmd: String| on_its_node(ctx, p, cmd);
    match cause {
        Cause::InvalidName => {
            push_new(out, ctx.text(ID, "fix_invalid", vars));
            return;
        }
        Cause::Resolve => {
            push_new(out, ctx.text(ID, "fix_resolve", vars));
            push_new(out, on(format!("nslookup {reg}")));
        }
        Cause::Unreachable => {
            for line in also {
                push_new(out, line);
            }
            push_new(out, ctx.text(ID, "fix_unreachable", vars));
            // Docker Hub's images are served from another name than the one in the reference.
            let host = if reg == "docker.io" { DOCKER_HUB } else { reg };
            push_new(
                out,
                on(format!("curl -sS -m 10 -o /dev/null https://{host}/v2/")),
            );
            push_pull(ctx, out, docker, p, vars);
            return;
        }
        Cause::Certificate if docker => push_new(out, ctx.text(ID, "fix_x509_docker", vars)),
        Cause::Certificate => push_new(out, ctx.text(ID, "fix_x509_containerd", vars)),
        Cause::Credentials => push_new(out, ctx.text(ID, "fix_credentials", vars)),
        Cause::NotFound => {
            push_new(out, ctx.text(ID, "fix_not_found", vars));
            for line in also {
                push_new(out, line);
            }
        }
        Cause::RateLimit => push_new(out, ctx.text(ID, "fix_rate_limit", vars)),
        Cause::Unknown => {}
    }
    push_pull(ctx, out, docker, p, vars);
}

/// A command on the pod's node; not scheduled yet, it has no node to run anything on.
fn on_its_node(ctx: &Ctx, p: &Pod, cmd: String) -> String {
    match pod::node(p) {
        Some(_) => on_node(ctx.snap, p, &cmd),
        None => format!("# {cmd}"),
    }
}

/// Pulling by hand on the pod's node: the check that the fix worked.
fn push_pull(ctx: &Ctx, out: &mut Vec<String>, docker: bool, p: &Pod, vars: &[(&str, &str)]) {
    let image = vars[0].1;
    let on = |cmd: String| on_its_node(ctx, p, cmd);
    push_new(out, ctx.text(ID, "pull_by_hand", vars));
    let pull = if docker {
        format!("docker pull {image}")
    } else {
        format!("crictl pull {image}")
    };
    push_new(out, on(pull));
}

/// The one-click script stopped at the probe: once the node can pull, it is run again, with the
/// domain it was first given where the Ingresses tell it.
fn push_rerun(ctx: &Ctx, out: &mut Vec<String>) {
    push_new(out, ctx.text(ID, "probe_rerun", &[]));
    let rerun = "scripts/setup_bkce7.sh -i base --domain";
    match site::ingress_domains(ctx.snap).first() {
        Some((domain, _)) => push_new(out, format!("{rerun} {domain}")),
        None => push_new(
            out,
            ctx.text(ID, "probe_rerun_domain", &[("command", rerun)]),
        ),
    }
    push_new(out, ctx.text(ID, "probe_registry", &[]));
}

fn push_new(list: &mut Vec<String>, s: String) {
    if !list.contains(&s) {
        list.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_from_real_kubelet_messages() {
        let cases = [
            (
                "failed to do request: Head \"https://hub.bktencent.com/v2/blueking/bk-user-api/manifests/v9.9.9\": dial tcp: lookup hub.bktencent.com on 127.0.0.53:53: no such host",
                Cause::Resolve,
            ),
            (
                "rpc error: code = Unknown desc = Error response from daemon: manifest for hub.bktencent.com/blueking/x:1 not found: manifest unknown: manifest unknown",
                Cause::NotFound,
            ),
            (
                "failed to resolve reference \"docker.io/library/nginx:1\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
                Cause::Credentials,
            ),
            (
                "Get https://docker.bkce7.bktencent.com/v2/: x509: certificate is valid for ingress.local, not docker.bkce7.bktencent.com",
                Cause::Certificate,
            ),
            (
                "Error response from daemon: Get https://registry-1.docker.io/v2/: net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)",
                Cause::Unreachable,
            ),
            (
                "429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.",
                Cause::RateLimit,
            ),
            (
                "dial tcp 10.0.0.5:443: connect: connection refused",
                Cause::Unreachable,
            ),
        ];
        for (m, want) in cases {
            assert_eq!(Cause::of("ErrImagePull", m), want, "{m}");
        }
        assert_eq!(
            Cause::of("InvalidImageName", "Failed to apply default image tag"),
            Cause::InvalidName
        );
    }

    #[test]
    fn the_one_click_scripts_probe_pod_by_name() {
        assert!(is_nsenter_probe("nsenter-x7k2pq"));
        for name in [
            "nsenter-x7k2p",
            "nsenter-x7k2pqz",
            "nsenter-X7K2PQ",
            "my-nsenter-x7k2pq",
        ] {
            assert!(!is_nsenter_probe(name), "{name}");
        }
    }

    #[test]
    fn registry_of_an_image() {
        assert_eq!(
            registry("hub.bktencent.com/blueking/bk-user-api:v9.9.9"),
            "hub.bktencent.com"
        );
        assert_eq!(registry("10.0.0.5:5000/x/y:1"), "10.0.0.5:5000");
        assert_eq!(registry("busybox:1.36"), "docker.io");
        assert_eq!(registry("library/busybox"), "docker.io");
    }
}
