//! `image-pull-failed`: a container (or init container) that cannot get its image. The kubelet's
//! message says why, and the why decides the fix: a tag that does not exist, credentials, a node
//! that cannot resolve or reach the registry, a certificate the node does not trust, a rate limit.
//! Pulling by hand on that node shows the registry's answer; the tool is the node's runtime's own
//! (`crictl` for containerd, `docker` for dockerd).

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::containers::{self, node_label, on_node};
use super::events::{self, Recent};
use super::{Ctx, logs};
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

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let recent = Recent::new(ctx.snap, ctx.now, events::RECENT);
    let mut out = Vec::new();
    for p in ctx.snap.pods.iter().filter(|p| !pod::is_ready(p)) {
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
            out.push(finding(ctx, p, &failing, &pull_events));
        }
    }
    out
}

fn finding(
    ctx: &Ctx,
    p: &Pod,
    failing: &[(&ContainerStatus, String)],
    pull_events: &[&k8s_openapi::api::core::v1::Event],
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
        push_fix(ctx, &mut f.remediation, cause, docker, p, &vars);
    }
    for line in containers::retry_now(ctx, ID, p) {
        push_new(&mut f.remediation, line);
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
) {
    let image = vars[0].1;
    let reg = vars[1].1;
    // Not scheduled yet, it has no node to run anything on.
    let on = |cmd: String| match pod::node(p) {
        Some(_) => on_node(ctx.snap, p, &cmd),
        None => format!("# {cmd}"),
    };
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
            push_new(out, ctx.text(ID, "fix_unreachable", vars));
            push_new(
                out,
                on(format!("curl -sS -m 10 -o /dev/null https://{reg}/v2/")),
            );
        }
        Cause::Certificate if docker => push_new(out, ctx.text(ID, "fix_x509_docker", vars)),
        Cause::Certificate => push_new(out, ctx.text(ID, "fix_x509_containerd", vars)),
        Cause::Credentials => push_new(out, ctx.text(ID, "fix_credentials", vars)),
        Cause::NotFound => push_new(out, ctx.text(ID, "fix_not_found", vars)),
        Cause::RateLimit => push_new(out, ctx.text(ID, "fix_rate_limit", vars)),
        Cause::Unknown => {}
    }
    push_new(out, ctx.text(ID, "pull_by_hand", vars));
    let pull = if docker {
        format!("docker pull {image}")
    } else {
        format!("crictl pull {image}")
    };
    push_new(out, on(pull));
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
