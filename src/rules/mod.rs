//! Rules: one module per known issue, each a pure function from the snapshot to findings.
//!
//! How to add a rule:
//! 1. Add its entry (id, severity, what it reads, every sentence in `en` and `zh`) to
//!    `src/catalog.yaml`. A problem recognised by a log line alone may need nothing more: give the entry
//!    `patterns` and `remediation` templates.
//! 2. Otherwise write `src/rules/<id_with_underscores>.rs` with `pub fn check(ctx: &Ctx) -> Vec<Finding>`:
//!    read `ctx.snap`, never the network; take namespaces, release and pod names from the data.
//!    Build findings with [`Ctx::finding`] and sentences with [`Ctx::text`].
//!    A rule that must know what other rules found takes `earlier: &[Finding]`; a pod a finding
//!    accounts for goes into [`Finding::covers`] so that `pod-crash-loop` does not report it again.
//!    Two things a live `check` leaves out to stay fast on big clusters: of a pod's spec it keeps
//!    only `nodeName`, `hostNetwork` and container names and images (`collect::ingest::slim_pod`:
//!    add a field there if a rule reads it), and it reads helm payloads only of releases in trouble,
//!    of releases owning a troubled pod, and of those named in [`RELEASES_READ_BY_NAME`].
//! 3. Call it from [`run_all`] (before `pod-crash-loop`, which stays last), and add a fixture
//!    snapshot under `tests/fixtures/` that triggers it and a near miss that must not.

pub mod helm_no_deployed_release;
pub mod helm_operation_in_progress;
pub mod helm_release_failed;
pub mod helm_release_unreadable;
pub mod logs;

// Rules read from the cluster's state.
pub mod apigateway_too_old;
pub mod clock_skew;
pub mod ingress_snippet_disabled;
pub mod pod_ip_not_private;
pub mod version;
// Rules read from pod logs.
pub mod dns_unresolvable;
pub mod log_signatures;
pub mod node_probe;
pub mod pod_crash_loop;
pub mod redis_cluster_stale_data;

use jiff::Timestamp;

use crate::catalog::{Catalog, fill};
use crate::findings::{self, Finding};
use crate::helm::Release;
use crate::i18n::Lang;
use crate::snapshot::Snapshot;

pub struct Ctx<'a> {
    pub snap: &'a Snapshot,
    pub catalog: &'a Catalog,
    pub lang: Lang,
    /// What ages are measured against: the snapshot's time, not necessarily the wall clock.
    pub now: Timestamp,
    pub releases: Vec<Release>,
}

impl<'a> Ctx<'a> {
    pub fn new(snap: &'a Snapshot, catalog: &'a Catalog, lang: Lang, now: Timestamp) -> Self {
        Ctx {
            releases: snap.releases(),
            snap,
            catalog,
            lang,
            now,
        }
    }

    /// A sentence of a rule's catalog entry, filled in.
    pub fn text(&self, rule: &str, key: &str, vars: &[(&str, &str)]) -> String {
        let entry = self.catalog.rule(rule);
        match entry.text.get(key) {
            Some(t) => fill(t.get(self.lang), vars),
            None => panic!("catalog entry {rule} has no text {key:?}"),
        }
    }

    /// A finding with the catalog's severity, title and explanation; the rule adds evidence and
    /// remediation.
    pub fn finding(
        &self,
        rule: &str,
        namespace: Option<&str>,
        object: String,
        vars: &[(&str, &str)],
    ) -> Finding {
        let entry = self.catalog.rule(rule);
        Finding {
            rule: entry.id.clone(),
            severity: entry.severity,
            namespace: namespace.map(str::to_string),
            object,
            title: fill(entry.title.get(self.lang), vars),
            evidence: Vec::new(),
            remediation: Vec::new(),
            explanation: fill(entry.explanation.get(self.lang), vars),
            covers: Vec::new(),
        }
    }

    /// "2h 5m" / "2小时5分钟": the two largest units are enough to judge urgency.
    pub fn age(&self, since: Timestamp) -> String {
        let secs = (self.now.as_second() - since.as_second()).max(0);
        let units = [
            ("age_days", secs / 86_400),
            ("age_hours", secs % 86_400 / 3_600),
            ("age_minutes", secs % 3_600 / 60),
            ("age_seconds", secs % 60),
        ];
        let first = units.iter().position(|(_, n)| *n > 0).unwrap_or(3);
        let sep = if self.lang == Lang::En { " " } else { "" };
        units[first..(first + 2).min(4)]
            .iter()
            .filter(|(_, n)| *n > 0 || first == 3)
            .map(|(k, n)| fill(self.catalog.ui(k, self.lang), &[("n", &n.to_string())]))
            .collect::<Vec<_>>()
            .join(sep)
    }
}

/// Releases whose chart version a rule reads even when they are healthy: `app` hands this list to a
/// live collection, which fetches their newest payloads by name, as it skips every other healthy
/// release's.
pub const RELEASES_READ_BY_NAME: &[&str] =
    &[apigateway_too_old::APIGATEWAY, apigateway_too_old::BCS];

/// Runs every rule and returns the findings, most severe first.
pub fn run_all(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(helm_operation_in_progress::check(ctx));
    out.extend(helm_no_deployed_release::check(ctx));
    out.extend(helm_release_failed::check(ctx));
    out.extend(helm_release_unreadable::check(ctx));
    // Rules read from the cluster's state.
    out.extend(ingress_snippet_disabled::check(ctx));
    out.extend(clock_skew::check(ctx));
    out.extend(apigateway_too_old::check(ctx));
    out.extend(pod_ip_not_private::check(ctx));

    // redis-cluster-stale-data reads the findings before it to say "fix DNS first".
    out.extend(dns_unresolvable::check(ctx));
    out.extend(log_signatures::check(ctx));
    let redis = redis_cluster_stale_data::check(ctx, &out);
    out.extend(redis);

    // What the node probes (--probe) saw, under the same ids as the passive evidence.
    let probed = node_probe::check(ctx);
    node_probe::merge(&mut out, probed);

    // Last: it reports only the crash loops that no finding above accounts for.
    let crash_loops = pod_crash_loop::check(ctx, &out);
    out.extend(crash_loops);
    findings::sort(&mut out);
    out
}
