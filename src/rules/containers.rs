//! Container facts the pod root-cause rules share: a container's spec next to its status, the node it
//! runs on as an operator reaches it, the tail of its log, and how to retry a pod now.

use k8s_openapi::api::core::v1::{Container, ContainerStateTerminated, ContainerStatus, Node, Pod};

use super::{Ctx, logs, site};
use crate::catalog::fill;
use crate::findings::Finding;
use crate::format::when;
use crate::snapshot::{Snapshot, pod};

/// The container's spec (init or app container) by name.
pub fn spec<'a>(p: &'a Pod, name: &str) -> Option<&'a Container> {
    let s = p.spec.as_ref()?;
    s.init_containers
        .iter()
        .flatten()
        .chain(s.containers.iter())
        .find(|c| c.name == name)
}

/// Is this status an init container's?
pub fn is_init(p: &Pod, name: &str) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.name == name))
}

/// The newest termination of a container. Between restarts of a crash loop the kubelet shows the
/// container `terminated` (the instance that just died) more often than `waiting`; `lastState` then
/// describes the instance before it. So the current state wins when it is a termination.
pub fn last_termination(c: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    c.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| c.last_state.as_ref().and_then(|s| s.terminated.as_ref()))
}

/// What `kubectl get pods` would say of the container now: the waiting reason, the termination
/// reason, or Running.
pub fn state(c: &ContainerStatus) -> String {
    let s = c.state.as_ref();
    if let Some(r) = pod::waiting_reason(c) {
        return r.to_string();
    }
    if let Some(t) = s.and_then(|s| s.terminated.as_ref()) {
        return format!("Terminated ({})", t.reason.as_deref().unwrap_or("-"));
    }
    if s.is_some_and(|s| s.running.is_some()) {
        return "Running".into();
    }
    "Waiting".into()
}

/// The address an operator reaches the pod's node at: its InternalIP, else the pod's hostIP.
pub fn node_ip<'a>(snap: &'a Snapshot, p: &'a Pod) -> Option<&'a str> {
    logs::node_ip(snap, pod::node(p), Some(p))
}

/// `node-1 (10.0.0.12)`, or the name alone when its address is unknown.
pub fn node_label(snap: &Snapshot, p: &Pod) -> String {
    let name = pod::node(p).unwrap_or("?");
    match node_ip(snap, p) {
        Some(ip) => format!("{name} ({ip})"),
        None => name.to_string(),
    }
}

/// How to run a command on the pod's node from the machine the operator is at: over ssh to its
/// address, as BlueKing's own scripts reach the nodes from the 中控机.
pub fn on_node(snap: &Snapshot, p: &Pod, command: &str) -> String {
    let host = node_ip(snap, p).or(pod::node(p)).unwrap_or("NODE");
    format!("ssh {host} {command}")
}

pub fn runtime(n: &Node) -> &str {
    n.status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map(|i| i.container_runtime_version.as_str())
        .unwrap_or("")
}

/// The last non-empty lines of a container's log: the previous instance's when it has any, else the
/// current one (after a crash the current log is the instance that just died). `true` when taken
/// from the previous log.
pub fn log_tail<'a>(
    snap: &'a Snapshot,
    ns: &str,
    pod_name: &str,
    container: &str,
    n: usize,
) -> Option<(bool, Vec<&'a str>)> {
    let logs = snap.logs_of(ns, pod_name, container)?;
    [
        (true, logs.previous.as_deref()),
        (false, logs.current.as_deref()),
    ]
    .into_iter()
    .find_map(|(previous, text)| {
        let lines: Vec<&str> = text?.lines().filter(|l| !l.trim().is_empty()).collect();
        (!lines.is_empty()).then(|| (previous, lines[lines.len().saturating_sub(n)..].to_vec()))
    })
}

/// Evidence lines for a log tail: a heading from the rule's `text` (`last_lines` for the previous
/// log, `last_lines_current` for the current), then the lines; `no_log` when there is none.
pub fn push_log_tail(
    ctx: &Ctx,
    rule: &str,
    evidence: &mut Vec<String>,
    p: &Pod,
    container: &str,
    n: usize,
) -> Option<bool> {
    match log_tail(ctx.snap, pod::namespace(p), pod::name(p), container, n) {
        Some((previous, lines)) => {
            let key = if previous {
                "last_lines"
            } else {
                "last_lines_current"
            };
            evidence.push(ctx.text(rule, key, &[("container", container)]));
            evidence.extend(lines.iter().map(|l| format!("> {}", logs::clip(l))));
            Some(previous)
        }
        None => {
            // A log the collection wanted and the server did not give: its answer, not silence.
            let (ns, name) = (pod::namespace(p), pod::name(p));
            let failed = ctx
                .snap
                .log_failures
                .iter()
                .filter(|f| f.namespace == ns && f.pod == name && f.container == container)
                .max_by_key(|f| f.previous);
            evidence.push(match failed {
                Some(f) => fill(
                    ctx.catalog.ui("log_unread", ctx.lang),
                    &[("container", container), ("answer", &f.answer())],
                ),
                None => ctx.text(rule, "no_log", &[("container", container)]),
            });
            None
        }
    }
}

/// A pod that a controller recreates (ReplicaSet, StatefulSet, DaemonSet, Job) can be deleted to
/// retry at once; deleting a bare pod would remove it for good.
pub fn recreated_when_deleted(p: &Pod) -> bool {
    p.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true))
}

/// The last step of a fix that the kubelet would otherwise retry on its own back-off: delete the
/// pod so its controller creates it again now, or, for a bare pod, say why not.
pub fn retry_now(ctx: &Ctx, rule: &str, p: &Pod) -> Vec<String> {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    if recreated_when_deleted(p) {
        vec![
            ctx.text(rule, "retry", &[]),
            format!("kubectl delete pod -n {ns} {name}"),
        ]
    } else {
        vec![ctx.text(rule, "retry_bare", &[("pod", name)])]
    }
}

/// The memory and CPU a container asks for and is limited to, as `request/limit` pairs; `-` where
/// unset.
pub fn resources(c: &Container, resource: &str) -> (String, String) {
    let get = |m: Option<&std::collections::BTreeMap<String, _>>| {
        m.and_then(|m| m.get(resource))
            .map(|q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| q.0.clone())
            .unwrap_or_else(|| "-".into())
    };
    let r = c.resources.as_ref();
    (
        get(r.and_then(|r| r.requests.as_ref())),
        get(r.and_then(|r| r.limits.as_ref())),
    )
}

/// The release a pod belongs to and that release's newest revision failed or is still pending:
/// helm --wait is waiting for (or gave up on) this pod.
pub fn release_blocked(ctx: &Ctx, p: &Pod) -> bool {
    let ns = pod::namespace(p);
    pod::releases(p).any(|r| {
        ctx.releases.iter().any(|rel| {
            rel.namespace == ns && rel.name == r && {
                let s = rel.latest().status();
                s == crate::helm::Status::Failed || s.is_pending()
            }
        })
    })
}

/// BlueKing's advice for a container its resource limits hold back (its charts' limits were tuned
/// on fast CPUs): find the helmfile file that holds the release, override the limits in its
/// custom-values file, sync only that release, and see the limits on the pod. Which file grep
/// prints is not in the data, so the sync is a step to fill in.
pub fn limits_advice(ctx: &Ctx, p: &Pod, container: &str) -> Vec<String> {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let text = |key: &str, vars: &[(&str, &str)]| fill(ctx.catalog.ui(key, ctx.lang), vars);
    let Some(release) = pod::release(p) else {
        return vec![text("limits_no_release", &[("container", container)])];
    };
    let chart = site::release(&ctx.releases, release)
        .filter(|r| r.namespace == ns)
        .and_then(|r| r.latest().chart.as_deref())
        .unwrap_or("CHART");
    let field = if is_init(p, container) {
        "initContainers"
    } else {
        "containers"
    };
    let show = format!(
        "kubectl get pod -n {ns} {name} -o json | jq '.spec.{field}[] | select(.name==\"{container}\") | .resources.limits'"
    );
    let vars = [
        ("release", release),
        ("container", container),
        ("chart", chart),
    ];
    let mut out = vec![
        text("limits_find", &vars),
        format!("grep -lw {release} *.yaml.gotmpl"),
        text("limits_override", &vars),
        format!("# helmfile -f FILE -l name={release} sync"),
    ];
    // A StatefulSet's pod comes back under its name; any other is replaced by one with a new name.
    let kept = p
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.kind == "StatefulSet");
    if kept {
        out.push(text("limits_verify", &[]));
        out.push(show);
    } else {
        out.push(text("limits_verify_new", &[("command", &show)]));
    }
    out
}

/// A finding about one container of a pod, on `pod/NAME`, covering the pod.
pub fn pod_finding(ctx: &Ctx, rule: &str, p: &Pod, container: &str) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let mut f = ctx.finding(
        rule,
        Some(ns),
        format!("pod/{name}"),
        &[("pod", name), ("container", container)],
    );
    f.covers.push((ns.to_string(), name.to_string()));
    f
}

/// The rule's `last_exit` sentence for a termination: code, reason, when.
pub fn last_exit(ctx: &Ctx, rule: &str, t: &ContainerStateTerminated) -> String {
    ctx.text(
        rule,
        "last_exit",
        &[
            ("code", &t.exit_code.to_string()),
            ("reason", t.reason.as_deref().unwrap_or("-")),
            (
                "finished",
                &t.finished_at
                    .as_ref()
                    .map(|t| when(t.0))
                    .unwrap_or_else(|| "-".into()),
            ),
        ],
    )
}
