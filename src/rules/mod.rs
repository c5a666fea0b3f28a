//! Rules: one module per known issue, each a pure function from the snapshot to findings.
//!
//! How to add a rule:
//! 1. Add its entry (id, severity, what it reads, every sentence in `en` and `zh`) to
//!    `src/catalog.yaml`. A problem recognised by a log line alone may need nothing more: give the entry
//!    `patterns` and `remediation` templates.
//! 2. Otherwise write `src/rules/<id_with_underscores>.rs` with `pub fn check(ctx: &Ctx) -> Vec<Finding>`:
//!    read `ctx.snap`, never the network; take namespaces, release and pod names from the data.
//!    Build findings with [`Ctx::finding`] and sentences with [`Ctx::text`].
//!    Running every non-`#` remediation line in order must leave the cluster fixed: a command that
//!    must wait (restoring a setting once BlueKing is deployed) is quoted with
//!    [`findings::later`]. Evidence that repeats itself (the same log line under every pod) may
//!    get a short telling for the table in [`Finding::brief`]; JSON keeps the full evidence.
//!    A rule that must know what other rules found takes `earlier: &[Finding]`; a pod a finding
//!    accounts for goes into [`Finding::covers`] so that `pod-crash-loop` does not report it again.
//!    Two things a live `check` leaves out to stay fast on big clusters: of a pod's spec it keeps
//!    only what [`POD_SPEC_READ`] declares (add a field there if a rule reads it), and it reads
//!    helm payloads only of releases in trouble, of releases owning a troubled pod, and of those
//!    named in [`RELEASES_READ_BY_NAME`]. `app` hands both to the collector, which knows no rule.
//! 3. Call it from [`run_all`] (before `pod-crash-loop`, which stays last), and add a fixture
//!    snapshot under `tests/fixtures/` that triggers it and a near miss that must not.
//! 4. Regenerate the rule reference, `docs/rules.md` and `docs/rules.zh.md`, with
//!    `rules -o markdown`, and give a new file its row in `docs/architecture.md`'s module map
//!    (`tests/docs.rs` names the commands when either is stale).

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
pub mod ipv6_disabled;
pub mod log_signatures;
pub mod node_probe;
pub mod pod_crash_loop;
pub mod redis_cluster_stale_data;
// Why a pod is not running: root causes read from pod states and their recent events.
pub mod container_oom_killed;
pub mod containers;
pub mod events;
pub mod image_pull_failed;
pub mod init_container_failing;
pub mod pod_unschedulable;
pub mod probe_failing;
pub mod volume_mount_failed;
// Root causes in the cluster's state: why a release's objects are blocked.
pub mod job_failed;
pub mod node_not_ready;
pub mod pod_not_ready;
pub mod pvc_unbound;
pub mod release_link;
pub mod workload_create_failed;
// BlueKing 7.x's own troubleshooting pages: cluster objects that show a documented failure.
pub mod bcs_storage_class_missing;
pub mod bkrepo_auth_realm;
pub mod coredns_hosts_stale;
pub mod domain_changed;
pub mod kubelet_unreachable;
pub mod monitor_builtin_labels;
pub mod saas_ingress_class;
pub mod saas_registry_unreachable;
pub mod site;
// What is left when a pod or a release is gone, and the ages of what stayed behind.
pub mod bkrepo_auth_restart;
pub mod bkrepo_storage_lost;
pub mod paas_token_stale;
pub mod uninstall_residue;
// The Kubernetes failure vocabulary beyond helm releases: pods, workloads, nodes and volumes that
// fail on their own, in a release or not.
pub mod container_config_error;
pub mod container_hook_failed;
pub mod job_retrying;
pub mod node_condition;
pub mod pod_failed;
pub mod pod_sandbox_failed;
pub mod storage_class_default_ambiguous;
pub mod volume_lost;
pub mod workload_not_ready;
pub mod workloads;
// Kinds beyond pods and workloads: Services, Ingresses, admission webhooks, CronJobs.
pub mod cronjob_failed;
pub mod endpoints;
pub mod ingress_backend_missing;
pub mod service_no_endpoints;
pub mod webhook_unavailable;

use jiff::Timestamp;

use crate::catalog::{Catalog, fill};
use crate::findings::{self, Finding};
use crate::helm::Release;
use crate::i18n::Lang;
use crate::snapshot::{ContainerRead, PodSpecRead, Snapshot, VolumeRead};

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
            brief: Vec::new(),
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

/// The ready pods whose current logs the rules read (start and end), as the log signatures of the
/// catalog name them by labels (`workloads`), an operator's `--rules` included: `app` hands the list
/// to the collectors, which read no healthy pod's log otherwise.
pub fn ready_logs_read(catalog: &Catalog) -> Vec<crate::snapshot::ready_logs::PodSelector> {
    let mut out: Vec<_> = catalog
        .rules
        .iter()
        .filter(|e| log_signatures::is_generic(e))
        .flat_map(|e| e.workloads.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What the rules read of a pod's spec: `app` hands it to a live `check`, which keeps only this of
/// each pod (a `snapshot` keeps pods whole). A rule that reads another field of a pod's spec adds
/// it here, or a live `check` never sees it.
pub const POD_SPEC_READ: PodSpecRead = PodSpecRead {
    // Where a pod runs (the node rules, image-pull-failed) and may run (pod-unschedulable,
    // pvc-unbound).
    node_name: true,
    // pod-ip-not-private: a host-network pod has the node's address.
    host_network: true,
    node_selector: true,
    node_affinity: true,
    tolerations: true,
    // The claims a pod waits for (pvc-unbound, pod-unschedulable), and which Secrets and
    // ConfigMaps it mounts: names only, never their data.
    volumes: Some(VolumeRead {
        persistent_volume_claim: true,
        secret: true,
        config_map: true,
    }),
    containers: ContainerRead {
        // image-pull-failed, saas-registry-unreachable.
        image: true,
        // container-oom-killed, pod-unschedulable.
        resources: true,
        // probe-failing.
        probes: true,
        // init-container-failing: a sidecar (restartPolicy Always) is not a failed init step.
        restart_policy: true,
        // ipv6-disabled: which bk-repo gateway reads `gateway.extIp`.
        env_names: &[ipv6_disabled::EXT_IP_ENV],
    },
    of_healthy: Some(&HEALTHY_POD_SPEC_READ),
};

/// What the rules read of a pod that is ready and never restarted: where it runs and, for
/// pod-unschedulable's count of what each node has left, what its containers request. Every other
/// field above is read only of pods in trouble (not ready, or restarted).
const HEALTHY_POD_SPEC_READ: PodSpecRead = PodSpecRead {
    node_name: true,
    host_network: true,
    node_selector: false,
    node_affinity: false,
    tolerations: false,
    volumes: None,
    containers: ContainerRead {
        image: true,
        resources: true,
        probes: false,
        restart_policy: false,
        env_names: &[],
    },
    of_healthy: None,
};

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
    out.extend(coredns_hosts_stale::check(ctx));
    out.extend(domain_changed::check(ctx));
    out.extend(saas_ingress_class::check(ctx));
    out.extend(saas_registry_unreachable::check(ctx));
    out.extend(bcs_storage_class_missing::check(ctx));
    out.extend(bkrepo_auth_realm::check(ctx));
    out.extend(monitor_builtin_labels::check(ctx));
    out.extend(kubelet_unreachable::check(ctx));
    out.extend(uninstall_residue::check(ctx));
    out.extend(paas_token_stale::check(ctx));
    out.extend(bkrepo_storage_lost::check(ctx));
    out.extend(bkrepo_auth_restart::check(ctx));

    // Why pods do not run: each finding covers its pods, so pod-crash-loop stays quiet on them.
    // A SaaS pod that cannot pull from BlueKing's own registry is explained, with the
    // BlueKing-specific fix, by saas-registry-unreachable above.
    let pulls = image_pull_failed::check(ctx);
    out.extend(not_covered(pulls, &out));
    // A pod whose claim lost its volume cannot be scheduled: volume-lost says why.
    let lost = volume_lost::check(ctx);
    out.extend(not_covered(pod_unschedulable::check(ctx), &lost));
    out.extend(container_oom_killed::check(ctx));
    out.extend(probe_failing::check(ctx));
    out.extend(init_container_failing::check(ctx));
    out.extend(volume_mount_failed::check(ctx));
    out.extend(container_config_error::check(ctx));
    out.extend(pod_sandbox_failed::check(ctx));
    out.extend(container_hook_failed::check(ctx));

    // redis-cluster-stale-data reads the findings before it to say "fix DNS first".
    out.extend(dns_unresolvable::check(ctx));
    out.extend(ipv6_disabled::check(ctx));
    out.extend(log_signatures::check(ctx));
    let redis = redis_cluster_stale_data::check(ctx, &out);
    out.extend(redis);

    // What the node probes (--probe) saw, under the same ids as the passive evidence.
    let probed = node_probe::check(ctx);
    node_probe::merge(&mut out, probed);

    // Root causes in the cluster's state.
    out.extend(job_failed::check(ctx));
    out.extend(cronjob_failed::check(ctx));
    out.extend(webhook_unavailable::check(ctx));
    out.extend(ingress_backend_missing::check(ctx));
    out.extend(pvc_unbound::check(ctx));
    out.extend(node_not_ready::check(ctx));
    out.extend(workload_create_failed::check(ctx));
    out.extend(job_retrying::check(ctx));
    out.extend(lost);
    out.extend(storage_class_default_ambiguous::check(ctx));
    out.extend(node_condition::check(ctx));
    // Evicted pods of a node under pressure are node-not-ready's.
    let failed = pod_failed::check(ctx, &out);
    out.extend(failed);

    // Then: only the crash loops that no finding above accounts for, and the not-ready pods of
    // failed or pending releases that nothing accounts for at all.
    let crash_loops = pod_crash_loop::check(ctx, &out);
    out.extend(crash_loops);
    let not_ready = pod_not_ready::check(ctx, &out);
    out.extend(not_ready);
    // A workload short of pods that nothing above explains.
    let workloads = workload_not_ready::check(ctx, &out);
    out.extend(workloads);
    // A Service whose pods no finding above accounts for.
    let services = service_no_endpoints::check(ctx, &out);
    out.extend(services);

    // Last: each finding about a release names the findings that block its objects, in the
    // report's order, so that the evidence does not depend on the order objects were read in.
    findings::sort(&mut out);
    release_link::link(ctx, &mut out);
    out
}

/// The findings whose pods are not all accounted for already by `earlier`.
fn not_covered(findings: Vec<Finding>, earlier: &[Finding]) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| {
            f.covers.is_empty()
                || !f
                    .covers
                    .iter()
                    .all(|pod| earlier.iter().any(|e| e.covers.contains(pod)))
        })
        .collect()
}
