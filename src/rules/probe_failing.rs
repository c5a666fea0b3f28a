//! `probe-failing`: a container that runs but whose readiness, liveness or startup probe keeps
//! failing, so it is never ready (helm --wait waits for it) or the kubelet restarts it. The kubelet's
//! `Unhealthy` events carry the probe's answer; an exec probe's failure has an empty message.

use jiff::SignedDuration;
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::containers;
use super::events::{self, Recent};
use super::{Ctx, logs};
use crate::findings::{Finding, Severity};
use crate::format::when;
use crate::snapshot::pod;

pub const ID: &str = "probe-failing";

/// Probes run every few seconds: what failed more than ten minutes ago says nothing about now.
const WINDOW: SignedDuration = SignedDuration::from_mins(10);

/// BlueKing's guide: running, not ready and restarted more than 3 times, while the events and logs
/// look normal, is a container its resource limits keep from starting in time.
const GUIDE_RESTARTS: i32 = 3;

const KINDS: &[(&str, &str)] = &[
    ("Readiness", "readiness"),
    ("Liveness", "liveness"),
    ("Startup", "startup"),
];

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let recent = Recent::new(ctx.snap, ctx.now, WINDOW);
    let mut out = Vec::new();
    for p in ctx.snap.pods.iter().filter(|p| !pod::is_ready(p)) {
        let (ns, name) = (pod::namespace(p), pod::name(p));
        let unhealthy: Vec<&Event> = recent
            .with_reason("Pod", ns, name, &["Unhealthy"])
            .collect();
        if unhealthy.is_empty() {
            continue;
        }
        let mut f: Option<Finding> = None;
        let mut restarting: Vec<&str> = Vec::new();
        for c in pod::container_statuses(p) {
            let running = c.state.as_ref().is_some_and(|s| s.running.is_some());
            if c.ready || !(running || c.restart_count > 0) {
                continue;
            }
            let mine: Vec<&Event> = unhealthy
                .iter()
                .copied()
                .filter(|e| events::container(e) == Some(c.name.as_str()))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let f = f.get_or_insert_with(|| {
                ctx.finding(
                    ID,
                    Some(ns),
                    format!("pod/{name}"),
                    &[("pod", name), ("container", &c.name)],
                )
            });
            add_container(ctx, f, p, c, &mine);
            if c.restart_count > GUIDE_RESTARTS {
                restarting.push(&c.name);
            }
        }
        if let Some(mut f) = f {
            if containers::release_blocked(ctx, p) {
                f.severity = Severity::Error;
                f.evidence.push(ctx.text(ID, "release_waits", &[]));
            }
            f.remediation
                .push(format!("kubectl describe pod -n {ns} {name}"));
            f.remediation.push(ctx.text(ID, "slow_start", &[]));
            for c in restarting {
                f.remediation.extend(containers::limits_advice(ctx, p, c));
            }
            f.covers.push((ns.to_string(), name.to_string()));
            out.push(f);
        }
    }
    out
}

fn add_container(ctx: &Ctx, f: &mut Finding, p: &Pod, c: &ContainerStatus, mine: &[&Event]) {
    let (ns, name) = (pod::namespace(p), pod::name(p));
    let spec = containers::spec(p, &c.name);
    f.evidence.push(ctx.text(
        ID,
        "container",
        &[
            ("container", &c.name),
            ("state", &containers::state(c)),
            ("restarts", &c.restart_count.to_string()),
        ],
    ));
    for (word, kind) in KINDS {
        let prefix = format!("{word} probe failed:");
        let of_kind: Vec<&Event> = mine
            .iter()
            .copied()
            .filter(|e| events::message(e).starts_with(&prefix))
            .collect();
        let Some(newest) = of_kind.first() else {
            continue;
        };
        let answer = events::message(newest)[prefix.len()..].trim();
        let answer = if answer.is_empty() {
            ctx.text(ID, "empty_message", &[])
        } else {
            logs::clip(answer)
        };
        let count: i32 = of_kind.iter().map(|e| events::count(e)).sum();
        let kind_s = ctx.text(ID, &format!("kind_{kind}"), &[]);
        f.evidence.push(
            ctx.text(
                ID,
                "failed",
                &[
                    ("kind", &kind_s),
                    ("count", &count.to_string()),
                    (
                        "first",
                        &of_kind
                            .iter()
                            .filter_map(|e| events::first_seen(e))
                            .min()
                            .map(when)
                            .unwrap_or("-".into()),
                    ),
                    (
                        "last",
                        &events::last_seen(newest).map(when).unwrap_or("-".into()),
                    ),
                    ("message", &answer),
                ],
            ),
        );
        let probe = spec.and_then(|s| match *kind {
            "readiness" => s.readiness_probe.as_ref(),
            "liveness" => s.liveness_probe.as_ref(),
            _ => s.startup_probe.as_ref(),
        });
        if let Some(probe) = probe {
            f.evidence.push(ctx.text(
                ID,
                "probe",
                &[("kind", &kind_s), ("probe", &describe(probe))],
            ));
        }
    }
    containers::push_log_tail(ctx, ID, &mut f.evidence, p, &c.name, 5);
    f.remediation.push(format!(
        "kubectl logs -n {ns} {name} -c {} --tail=50",
        c.name
    ));
}

/// A probe as `kubectl describe` prints it: `http-get http://:8080/healthz delay=0s timeout=1s
/// period=5s #success=1 #failure=3`.
pub fn describe(p: &Probe) -> String {
    let port = |p: &IntOrString| match p {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    };
    let action = if let Some(h) = &p.http_get {
        format!(
            "http-get {}://{}:{}{}",
            h.scheme.as_deref().unwrap_or("HTTP").to_ascii_lowercase(),
            h.host.as_deref().unwrap_or(""),
            port(&h.port),
            h.path.as_deref().unwrap_or("/")
        )
    } else if let Some(t) = &p.tcp_socket {
        format!("tcp-socket :{}", port(&t.port))
    } else if let Some(e) = &p.exec {
        format!("exec [{}]", e.command.as_deref().unwrap_or(&[]).join(" "))
    } else if let Some(g) = &p.grpc {
        format!("grpc :{}", g.port)
    } else {
        "-".into()
    };
    format!(
        "{action} delay={}s timeout={}s period={}s #success={} #failure={}",
        p.initial_delay_seconds.unwrap_or(0),
        p.timeout_seconds.unwrap_or(1),
        p.period_seconds.unwrap_or(10),
        p.success_threshold.unwrap_or(1),
        p.failure_threshold.unwrap_or(3)
    )
}
