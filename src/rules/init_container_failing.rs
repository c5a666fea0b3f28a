//! `init-container-failing`: a pod stuck in `Init:N/M` because one of its init containers fails,
//! crash-loops or never finishes. Init containers of BlueKing charts mostly wait for another
//! service (MySQL, Redis, the API gateway); their log names it, and that service is where to look.

use std::collections::BTreeSet;

use jiff::SignedDuration;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::Ctx;
use super::containers::{self, last_termination};
use crate::findings::Finding;
use crate::snapshot::pod;

pub const ID: &str = "init-container-failing";

/// An init container that waits for a service usually gives up or gets it within minutes.
const TOO_LONG: SignedDuration = SignedDuration::from_mins(5);

fn failing(ctx: &Ctx, c: &ContainerStatus) -> bool {
    if c.ready {
        return false;
    }
    let state = c.state.as_ref();
    if let Some(r) = state.and_then(|s| s.running.as_ref()) {
        return r
            .started_at
            .as_ref()
            .is_some_and(|t| ctx.now.duration_since(t.0) > TOO_LONG);
    }
    if pod::waiting_reason(c) == Some("CrashLoopBackOff") {
        return true;
    }
    last_termination(c).is_some_and(|t| t.exit_code != 0)
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in ctx.snap.pods.iter().filter(|p| !pod::is_ready(p)) {
        if matches!(pod::phase(p), "Succeeded" | "Failed") {
            continue;
        }
        let Some(inits) = p
            .status
            .as_ref()
            .and_then(|s| s.init_container_statuses.as_ref())
        else {
            continue;
        };
        // Init containers run one after another: the first that is not done holds the rest. A
        // sidecar (an init container with restartPolicy Always) runs for the pod's whole life.
        let sidecar = |c: &ContainerStatus| {
            containers::spec(p, &c.name).and_then(|s| s.restart_policy.as_deref()) == Some("Always")
        };
        if let Some((i, c)) = inits
            .iter()
            .enumerate()
            .find(|(_, c)| !sidecar(c) && failing(ctx, c))
        {
            out.push(finding(ctx, p, c, i + 1, inits.len()));
        }
    }
    out
}

fn finding(ctx: &Ctx, p: &Pod, c: &ContainerStatus, index: usize, total: usize) -> Finding {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let container = c.name.as_str();
    let mut f = containers::pod_finding(ctx, ID, p, container);
    let running_since = c
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.as_ref());
    f.evidence.push(ctx.text(
        ID,
        "state",
        &[
            ("container", container),
            ("index", &index.to_string()),
            ("total", &total.to_string()),
            ("state", &containers::state(c)),
            ("restarts", &c.restart_count.to_string()),
        ],
    ));
    if let Some(t) = running_since {
        f.evidence
            .push(ctx.text(ID, "running_long", &[("age", &ctx.age(t.0))]));
    } else if let Some(t) = last_termination(c) {
        f.evidence.push(containers::last_exit(ctx, ID, t));
    }
    let tail = containers::log_tail(ctx.snap, ns, name, container, 5);
    containers::push_log_tail(ctx, ID, &mut f.evidence, p, container, 5);
    let previous = tail.as_ref().is_some_and(|(prev, _)| *prev);
    f.remediation.push(format!(
        "kubectl logs -n {ns} {name} -c {container}{}",
        if previous { " -p" } else { "" }
    ));
    let lines = tail.map(|(_, l)| l).unwrap_or_default();
    for (kind, target) in named_services(ctx, ns, &lines) {
        f.evidence
            .push(ctx.text(ID, "waits_for", &[("name", &target)]));
        f.remediation
            .push(ctx.text(ID, "check_target", &[("name", &target)]));
        f.remediation.push(match kind {
            Named::Release => {
                format!("kubectl get pods -n {ns} -l app.kubernetes.io/instance={target}")
            }
            Named::Service => format!("kubectl get endpoints -n {ns} {target}"),
        });
    }
    f.remediation
        .push(format!("kubectl describe pod -n {ns} {name}"));
    f.covers.push((ns.to_string(), name.to_string()));
    f
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Named {
    Service,
    Release,
}

/// Services of the namespace and helm releases the log lines name (`cannot reach bk-mysql`,
/// `waiting for bk-mysql-mysql:3306`, `bk-redis.blueking.svc.cluster.local`).
fn named_services(ctx: &Ctx, ns: &str, lines: &[&str]) -> BTreeSet<(Named, String)> {
    let mut out = BTreeSet::new();
    for word in lines
        .iter()
        .flat_map(|l| l.split(|ch: char| !(ch.is_ascii_alphanumeric() || "-.:".contains(ch))))
    {
        let host = word.split(':').next().unwrap_or("");
        let host = host
            .strip_suffix(&format!(".{ns}.svc.cluster.local"))
            .or_else(|| host.strip_suffix(&format!(".{ns}.svc")))
            .or_else(|| host.strip_suffix(&format!(".{ns}")))
            .unwrap_or(host)
            .trim_matches('.');
        if host.len() < 3 {
            continue;
        }
        let service = ctx.snap.services.iter().any(|s| {
            s.metadata.namespace.as_deref() == Some(ns) && s.metadata.name.as_deref() == Some(host)
        });
        let release = ctx
            .releases
            .iter()
            .any(|r| r.namespace == ns && r.name == host)
            || ctx.snap.release_pods(ns, host).next().is_some();
        if release {
            out.insert((Named::Release, host.to_string()));
        } else if service {
            out.insert((Named::Service, host.to_string()));
        }
    }
    out
}
