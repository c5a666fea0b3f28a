//! Findings from the node probes (`--probe`): what each node's probe pod saw becomes a finding
//! under the same rule id as the passive evidence for the same failure (`dns-unresolvable`,
//! `clock-skew`, `ipv6-disabled`), on `node/NAME`; a node whose probe did not run to its end gets
//! `probe-failed`, so that a quiet report is never read as "every node is fine".

use jiff::Timestamp;

use super::{Ctx, clock_skew};
use crate::findings::{Finding, Severity};
use crate::format::when;
use crate::snapshot::node;
use crate::snapshot::probe_report::{DNS_TIMEOUT_SECS, LookupResult, NodeProbe, Outcome, Report};

pub const PROBE_FAILED: &str = "probe-failed";
const DNS: &str = super::dns_unresolvable::ID;
const CLOCK: &str = clock_skew::ID;
const IPV6: &str = "ipv6-disabled";

/// Waiting reasons that mean the image could not be had.
const IMAGE_REASONS: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
];

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &ctx.snap.probes {
        match &p.outcome {
            Outcome::Failed { reason, message } => out.push(failed(ctx, p, reason, message)),
            Outcome::Ran {
                report,
                server_time,
                margin_secs,
            } => {
                if !report.complete {
                    out.push(failed(
                        ctx,
                        p,
                        "IncompleteOutput",
                        &ctx.text(PROBE_FAILED, "incomplete", &[]),
                    ));
                }
                out.extend(dns(ctx, p, report));
                if let (Some(clock), Some(server)) = (report.clock, server_time) {
                    out.extend(clock_finding(ctx, p, clock, *server, *margin_secs));
                }
                out.extend(ipv6(ctx, p, report));
            }
        }
    }
    out
}

fn node_ip<'a>(ctx: &Ctx<'a>, name: &str) -> &'a str {
    ctx.snap
        .node(name)
        .and_then(node::internal_ip)
        .unwrap_or("-")
}

fn dns(ctx: &Ctx, p: &NodeProbe, report: &Report) -> Option<Finding> {
    let failures: Vec<_> = report
        .dns
        .iter()
        .filter(|l| !matches!(l.result, LookupResult::Resolved(_)))
        .collect();
    let ip = failures.first()?.server.as_str();
    let mut f = ctx.finding(DNS, None, format!("node/{}", p.node), &[]);
    f.title = ctx.text(DNS, "probe_title", &[("node", &p.node), ("ip", ip)]);
    let mut nxdomain = false;
    for l in &failures {
        let result = match &l.result {
            LookupResult::TimedOut => ctx.text(
                DNS,
                "probe_timeout",
                &[("secs", &DNS_TIMEOUT_SECS.to_string())],
            ),
            LookupResult::NxDomain => {
                nxdomain = true;
                ctx.text(DNS, "probe_nxdomain", &[])
            }
            LookupResult::Error(d) => ctx.text(DNS, "probe_error", &[("detail", d)]),
            LookupResult::Resolved(_) => continue,
        };
        f.evidence.push(ctx.text(
            DNS,
            "probe_lookup",
            &[
                ("node", &p.node),
                ("name", &l.name),
                ("ip", &l.server),
                ("result", &result),
            ],
        ));
    }
    // The guide's case: the master resolves, the other nodes time out. Which nodes succeed tells a
    // blocked path from a broken DNS service.
    let elsewhere: Vec<&str> = ctx
        .snap
        .probes
        .iter()
        .filter(|o| o.node != p.node)
        .filter(|o| match &o.outcome {
            Outcome::Ran { report, .. } => {
                !report.dns.is_empty()
                    && failures.iter().all(|fl| {
                        report.dns.iter().any(|l| {
                            l.name == fl.name && matches!(l.result, LookupResult::Resolved(_))
                        })
                    })
            }
            Outcome::Failed { .. } => false,
        })
        .map(|o| o.node.as_str())
        .collect();
    if !elsewhere.is_empty() {
        f.evidence.push(ctx.text(
            DNS,
            "probe_elsewhere",
            &[("nodes", &elsewhere.join(", ")), ("node", &p.node)],
        ));
    }
    if nxdomain && let Some(domain) = domain_of(report) {
        f.evidence
            .push(ctx.text(DNS, "probe_domain", &[("domain", domain)]));
    }
    f.remediation.push(ctx.text(
        DNS,
        "probe_on_node",
        &[("node", &p.node), ("node_ip", node_ip(ctx, &p.node))],
    ));
    for l in &failures {
        f.remediation
            .push(format!("nslookup {} {}", l.name, l.server));
    }
    f.remediation.push(ctx.text(DNS, "dns_pods", &[]));
    f.remediation
        .push("kubectl get pods -n kube-system -l k8s-app=kube-dns -o wide".into());
    f.remediation.push("kubectl get networkpolicy -A".into());
    f.remediation.push(ctx.text(DNS, "firewall", &[]));
    Some(f)
}

/// The cluster domain the probe used: what follows `kubernetes.default.svc.`.
fn domain_of(report: &Report) -> Option<&str> {
    report
        .dns
        .iter()
        .find_map(|l| l.name.strip_prefix("kubernetes.default.svc."))
}

/// The node's clock was read at most `margin` seconds before the server's, so the true offset lies
/// in [measured, measured + margin]. Judged by the part of it that is certain.
pub fn certain_offset(measured: i64, margin: i64) -> i64 {
    if measured > 0 {
        measured
    } else {
        (measured + margin).min(0)
    }
}

fn clock_finding(
    ctx: &Ctx,
    p: &NodeProbe,
    clock: i64,
    server: Timestamp,
    margin: i64,
) -> Option<Finding> {
    let measured = clock - server.as_second();
    let severity = clock_skew::severity_for(certain_offset(measured, margin))?;
    let mut f = ctx.finding(
        CLOCK,
        None,
        format!("node/{}", p.node),
        &[("node", &p.node)],
    );
    f.severity = severity;
    let node_time = Timestamp::from_second(clock)
        .map(when)
        .unwrap_or_else(|_| clock.to_string());
    let key = if measured > 0 {
        "probe_ahead"
    } else {
        "probe_behind"
    };
    f.evidence.push(ctx.text(
        CLOCK,
        key,
        &[
            ("node", &p.node),
            ("node_time", &node_time),
            ("server", &when(server)),
            ("margin", &margin.to_string()),
            ("secs", &measured.abs().to_string()),
        ],
    ));
    clock_skew::fix_node(ctx, &mut f, &p.node);
    Some(f)
}

fn ipv6(ctx: &Ctx, p: &NodeProbe, report: &Report) -> Option<Finding> {
    let v6 = report.ipv6.filter(|v| !v.usable())?;
    let mut f = ctx.finding(IPV6, None, format!("node/{}", p.node), &[]);
    f.title = ctx.text(IPV6, "probe_title", &[("node", &p.node)]);
    let ip = node_ip(ctx, &p.node);
    if v6.in_kernel {
        // The kernel has IPv6 and sockets on [::] still open; only addresses are off.
        f.severity = Severity::Warning;
        f.evidence
            .push(ctx.text(IPV6, "probe_sysctl", &[("node", &p.node)]));
    } else {
        f.evidence
            .push(ctx.text(IPV6, "probe_no_kernel", &[("node", &p.node)]));
    }
    f.remediation
        .push(ctx.text(IPV6, "enable", &[("node", &p.node), ("node_ip", ip)]));
    f.remediation
        .push("sysctl -w net.ipv6.conf.all.disable_ipv6=0".into());
    if !v6.in_kernel {
        f.remediation.push(ctx.text(IPV6, "cmdline", &[]));
        f.remediation
            .push("grep -o 'ipv6.disable=1' /proc/cmdline".into());
    }
    Some(f)
}

fn failed(ctx: &Ctx, p: &NodeProbe, reason: &str, message: &str) -> Finding {
    let mut f = ctx.finding(
        PROBE_FAILED,
        None,
        format!("node/{}", p.node),
        &[("node", &p.node), ("reason", reason)],
    );
    f.evidence.push(ctx.text(
        PROBE_FAILED,
        "status",
        &[
            ("namespace", &p.namespace),
            ("pod", &p.pod),
            ("image", &p.image),
            ("reason", reason),
            ("message", message),
        ],
    ));
    if IMAGE_REASONS.contains(&reason) {
        f.remediation
            .push(ctx.text(PROBE_FAILED, "image", &[("image", &p.image)]));
    }
    match reason {
        "NodeNotReady" => {
            f.remediation.push(ctx.text(PROBE_FAILED, "node", &[]));
            f.remediation
                .push(format!("kubectl describe node {}", p.node));
        }
        "IncompleteOutput" => {}
        _ => {
            if reason == "TimedOut" {
                f.remediation.push(ctx.text(PROBE_FAILED, "timeout", &[]));
            }
            f.remediation.push(ctx.text(PROBE_FAILED, "events", &[]));
            f.remediation.push(format!(
                "kubectl get events -n {} --field-selector involvedObject.name={}",
                p.namespace, p.pod
            ));
        }
    }
    f
}

/// Adds the probe findings to the passive ones. A node the passive rules already named under the
/// same rule (a lease that shows the same skewed clock) gets the probe's evidence on that finding
/// rather than a second finding for the same thing.
pub fn merge(out: &mut Vec<Finding>, probed: Vec<Finding>) {
    for f in probed {
        match out
            .iter_mut()
            .find(|o| o.rule == f.rule && o.object == f.object && o.namespace == f.namespace)
        {
            Some(o) => {
                o.severity = o.severity.max(f.severity);
                for e in f.evidence {
                    if !o.evidence.contains(&e) {
                        o.evidence.push(e);
                    }
                }
            }
            None => out.push(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::i18n::Lang;
    use crate::snapshot::Snapshot;
    use crate::snapshot::probe_report::{Ipv6, Lookup};

    const NOW: &str = "2026-11-20T11:00:00Z";

    fn ran(node: &str, report: Report) -> NodeProbe {
        NodeProbe {
            node: node.into(),
            namespace: "default".into(),
            pod: format!("bkdoctor-probe-r-{node}"),
            image: "busybox:1.36".into(),
            outcome: Outcome::Ran {
                report,
                server_time: Some(NOW.parse().unwrap()),
                margin_secs: 3,
            },
        }
    }

    fn healthy() -> Report {
        Report {
            dns: vec![Lookup {
                name: "kubernetes.default.svc.cluster.local".into(),
                server: "10.96.0.10".into(),
                result: LookupResult::Resolved("10.96.0.1".into()),
            }],
            ipv6: Some(Ipv6 {
                in_kernel: true,
                disabled_by_sysctl: Some(false),
            }),
            clock: Some(NOW.parse::<Timestamp>().unwrap().as_second()),
            complete: true,
        }
    }

    fn findings(probes: Vec<NodeProbe>) -> Vec<Finding> {
        let snap = Snapshot {
            probes,
            ..Snapshot::default()
        };
        let catalog = Catalog::builtin();
        let ctx = Ctx::new(&snap, &catalog, Lang::En, NOW.parse().unwrap());
        check(&ctx)
    }

    #[test]
    fn a_healthy_node_gives_nothing() {
        assert_eq!(findings(vec![ran("n1", healthy())]), []);
    }

    #[test]
    fn ipv6_off_by_sysctl_is_a_warning_and_without_kernel_support_an_error() {
        let mut r = healthy();
        r.ipv6 = Some(Ipv6 {
            in_kernel: true,
            disabled_by_sysctl: Some(true),
        });
        let f = findings(vec![ran("n1", r.clone())]);
        assert_eq!(
            (f[0].rule.as_str(), f[0].severity),
            (IPV6, Severity::Warning)
        );
        r.ipv6 = Some(Ipv6 {
            in_kernel: false,
            disabled_by_sysctl: None,
        });
        let f = findings(vec![ran("n1", r)]);
        assert_eq!((f[0].rule.as_str(), f[0].severity), (IPV6, Severity::Error));
        assert!(f[0].remediation.iter().any(|c| c.contains("/proc/cmdline")));
    }

    #[test]
    fn a_clock_behind_is_judged_by_what_is_certain() {
        let at = |off: i64| {
            let mut r = healthy();
            r.clock = r.clock.map(|c| c + off);
            findings(vec![ran("n1", r)])
        };
        // 62 s measured, up to 3 s of it the wait for the status: certainly 59 s, a warning.
        let f = at(-62);
        assert_eq!(
            (f[0].rule.as_str(), f[0].severity),
            (CLOCK, Severity::Warning)
        );
        assert!(
            f[0].evidence[0].contains("62 s behind"),
            "{:?}",
            f[0].evidence
        );
        assert_eq!(at(-31), []);
        assert_eq!(at(61)[0].severity, Severity::Error);
    }

    #[test]
    fn a_cut_short_report_is_a_failed_probe_and_what_it_said_still_counts() {
        let mut r = healthy();
        r.complete = false;
        r.clock = None;
        r.dns[0].result = LookupResult::NxDomain;
        let f = findings(vec![ran("n1", r)]);
        let rules: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, [PROBE_FAILED, DNS]);
        assert!(f[0].title.contains("IncompleteOutput"));
        assert!(f[1].evidence.iter().any(|e| e.contains("--cluster-domain")));
    }

    #[test]
    fn a_node_the_leases_already_named_gets_the_probes_evidence() {
        let snap = Snapshot::default();
        let catalog = Catalog::builtin();
        let ctx = Ctx::new(&snap, &catalog, Lang::En, NOW.parse().unwrap());
        let mut passive = ctx.finding(CLOCK, None, "node/n1".into(), &[("node", "n1")]);
        passive.evidence.push("lease".into());
        let mut out = vec![passive];
        let mut r = healthy();
        r.clock = r.clock.map(|c| c + 90);
        let probed = findings(vec![ran("n1", r)]);
        merge(&mut out, probed);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].severity, Severity::Error);
        assert_eq!(out[0].evidence[0], "lease");
        assert!(out[0].evidence[1].contains("90 s ahead"));
    }

    #[test]
    fn only_the_certain_part_of_an_offset_counts() {
        assert_eq!(certain_offset(90, 3), 90);
        assert_eq!(certain_offset(-2, 3), 0);
        assert_eq!(certain_offset(-62, 3), -59);
        assert_eq!(certain_offset(0, 3), 0);
    }
}
