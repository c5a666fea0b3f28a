//! A broken cluster, systematically: every list, every helm payload GET and every log GET the live
//! doctor makes is answered with a 500, cut mid-body, left hanging or slowed down, one at a time,
//! against the fake API server. Whatever fails, the run finishes, names what it could not read and
//! why, still reports what the rest shows, and never panics.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fake_apiserver::{FakeApi, Fault, RecordedRequest, Respond};
use serde_json::Value;

use common::{BIN, Live, Run, copy_dir, finding_keys, fixture, serve, skipped};

/// Generous: the runs below take a second or two; this only tells a hang from a slow machine.
const HANG_GUARD: Duration = Duration::from_secs(90);

impl Run {
    /// Finished, in bounded time, without a panic, with an exit code the README promises.
    fn sane(&self, what: &str) {
        assert!(
            !self.stderr.contains("panicked"),
            "{what}: panicked\n{}",
            self.stderr
        );
        assert!(
            self.took < HANG_GUARD,
            "{what}: took {:?}; stderr {}",
            self.took,
            self.stderr
        );
        assert!(
            [0, 1, 2].contains(&self.code),
            "{what}: exit {}\n{}",
            self.code,
            self.stderr
        );
    }
}

fn offline(dir: &Path, args: &[&str]) -> Run {
    let started = Instant::now();
    let o = Command::new(BIN)
        .args(args)
        .args(["--snapshot", dir.to_str().unwrap()])
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("run kubectl-bkdoctor");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// One cluster with a stuck helm release (read from helm storage), DNS failures and a stale
/// redis-cluster (read from logs) and a missing GSE agent (logs of a DaemonSet in another
/// namespace): every kind of evidence the lists, payloads and logs give, so that whichever one
/// fails, findings from the others must still be there.
fn cluster() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["pending-upgrade", "dns-redis", "gse"] {
        copy_dir(&fixture(f), &tmp.path().join(f));
    }
    let dir = tmp.path().to_path_buf();
    (tmp, dir)
}

/// The offline report of the same objects: what every live run is measured against.
fn baseline(dir: &Path) -> (String, Value) {
    let r = offline(dir, &["check", "-o", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let now = v["summary"]["snapshotTime"].as_str().unwrap().to_string();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for r in [
        "helm-operation-in-progress",
        "dns-unresolvable",
        "redis-cluster-stale-data",
        "gse-agent-missing",
    ] {
        assert!(rules.contains(&r), "{r} not in the baseline: {rules:?}");
    }
    assert_eq!(v["skipped"], serde_json::json!([]));
    (now, v)
}

/// A read of bk-paas v3's payload in namespace blueking: the object by name, or a label-selected
/// list of helm storage that names the release (how payloads come from the watch cache).
fn bk_paas_v3_payload(r: &RecordedRequest) -> bool {
    let names_it = |selector: &str| {
        selector.split(',').any(|part| part == "name=bk-paas")
            || selector
                .split_once("name in (")
                .and_then(|(_, rest)| rest.split_once(')'))
                .is_some_and(|(names, _)| names.split(',').any(|n| n == "bk-paas"))
    };
    r.path == "/api/v1/namespaces/blueking/secrets/sh.helm.release.v1.bk-paas.v3"
        || (r.path.ends_with("/secrets")
            && r.param("labelSelector")
                .is_some_and(|s| s.starts_with("owner=helm,status=") && names_it(s)))
}

fn reason_for<'a>(s: &'a [(String, String)], what: &str) -> &'a str {
    s.iter()
        .find(|(w, _)| w == what)
        .map(|(_, r)| r.as_str())
        .unwrap_or_else(|| panic!("no skipped entry for {what:?} in {s:#?}"))
}

/// Rules named by a "rules A, B could not run fully" entry.
fn starved_rules(s: &[(String, String)]) -> Vec<String> {
    s.iter()
        .filter_map(|(w, _)| w.strip_prefix("rules "))
        .flat_map(|ids| ids.split(", ").map(str::to_string))
        .collect()
}

/// Every finding of a rule that was not starved is still reported.
fn rest_still_found(base: &Value, live: &Value, what: &str) {
    let starved = starved_rules(&skipped(live));
    let have = finding_keys(live);
    for (rule, object) in finding_keys(base) {
        if starved.contains(&rule) {
            continue;
        }
        assert!(
            have.contains(&(rule.clone(), object.clone())),
            "{what}: {rule} {object} missing although {rule} was not starved; live findings {have:?}; skipped {:#?}",
            skipped(live)
        );
    }
}

/// What etcd trouble looks like through the API server.
fn internal_error() -> Respond {
    Respond::Status {
        code: 500,
        reason: "InternalError".into(),
        message: "an error on the server (\"etcdserver: request timed out\") has prevented the request from succeeding".into(),
    }
}

const INTERNAL_ERROR_DESCRIBED: &str = "InternalError (500): an error on the server (\"etcdserver: request timed out\") has prevented the request from succeeding";

/// Every list `check` makes across all namespaces, as (skipped name, request matcher).
type Matcher = fn(&RecordedRequest) -> bool;
const LISTS: &[(&str, Matcher)] = &[
    ("secrets (helm release records)", |r| {
        r.path == "/api/v1/secrets" && r.param("labelSelector") == Some("owner=helm")
    }),
    ("secrets (metadata)", |r| {
        r.path == "/api/v1/secrets" && r.param("labelSelector") == Some("owner!=helm")
    }),
    ("configmaps (helm release records)", |r| {
        r.path == "/api/v1/configmaps" && r.param("labelSelector") == Some("owner=helm")
    }),
    ("configmaps", |r| {
        r.path == "/api/v1/configmaps" && r.param("labelSelector") == Some("owner!=helm")
    }),
    ("pods", |r| r.path == "/api/v1/pods"),
    ("nodes", |r| r.path == "/api/v1/nodes"),
    ("services", |r| r.path == "/api/v1/services"),
    ("namespaces", |r| r.path == "/api/v1/namespaces"),
    ("events (Warning)", |r| {
        r.path == "/api/v1/events" && r.param("fieldSelector") == Some("type=Warning")
    }),
    ("events (of PersistentVolumeClaims)", |r| {
        r.path == "/api/v1/events"
            && r.param("fieldSelector")
                == Some("type!=Warning,involvedObject.kind=PersistentVolumeClaim")
    }),
    ("persistentvolumeclaims", |r| {
        r.path == "/api/v1/persistentvolumeclaims"
    }),
    ("persistentvolumes", |r| {
        r.path == "/api/v1/persistentvolumes"
    }),
    ("storageclasses", |r| {
        r.path == "/apis/storage.k8s.io/v1/storageclasses"
    }),
    ("deployments", |r| r.path == "/apis/apps/v1/deployments"),
    ("daemonsets", |r| r.path == "/apis/apps/v1/daemonsets"),
    ("statefulsets", |r| r.path == "/apis/apps/v1/statefulsets"),
    ("jobs", |r| r.path == "/apis/batch/v1/jobs"),
    ("leases", |r| {
        r.path == "/apis/coordination.k8s.io/v1/leases"
    }),
    ("customresourcedefinitions", |r| {
        r.path == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    }),
    ("ingresses", |r| {
        r.path == "/apis/networking.k8s.io/v1/ingresses"
    }),
    ("storageclasses", |r| {
        r.path == "/apis/storage.k8s.io/v1/storageclasses"
    }),
    ("clusterrolebindings (metadata)", |r| {
        r.path == "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
    }),
    ("serviceaccounts (metadata)", |r| {
        r.path == "/api/v1/serviceaccounts"
    }),
    ("cronjobs", |r| r.path == "/apis/batch/v1/cronjobs"),
    ("replicasets", |r| r.path == "/apis/apps/v1/replicasets"),
    ("endpointslices", |r| {
        r.path == "/apis/discovery.k8s.io/v1/endpointslices"
    }),
    ("validatingwebhookconfigurations", |r| {
        r.path == "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    }),
    ("mutatingwebhookconfigurations", |r| {
        r.path == "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
    }),
    ("ingressclasses", |r| {
        r.path == "/apis/networking.k8s.io/v1/ingressclasses"
    }),
];

#[test]
fn a_500_on_any_one_list_skips_that_list_only() {
    let (_tmp, dir) = cluster();
    let (now, base) = baseline(&dir);
    for (what, matches) in LISTS {
        let live = serve(
            FakeApi::new()
                .load_dir(&dir)
                .fault(Fault::new(*matches, internal_error())),
        );
        let r = live.run(&["check", "-o", "json", "--now", &now]);
        r.sane(what);
        assert!(
            live.server.requests().iter().any(matches),
            "{what}: the list was never asked for"
        );
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        assert_eq!(r.stderr, "", "{what}");
        let v = r.json();
        let s = skipped(&v);
        assert_eq!(reason_for(&s, what), INTERNAL_ERROR_DESCRIBED, "{what}");
        // Nothing else was lost: the failed list and the rules it starves, no more.
        assert!(
            s.iter().all(|(w, _)| w == what || w.starts_with("rules ")),
            "{what}: {s:#?}"
        );
        rest_still_found(&base, &v, what);
    }
}

#[test]
fn a_500_on_a_helm_payload_keeps_the_labels_verdict() {
    let (_tmp, dir) = cluster();
    let (now, _) = baseline(&dir);
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .fault(Fault::new(bk_paas_v3_payload, internal_error())),
    );
    let r = live.run(&["check", "-o", "json", "--now", &now]);
    r.sane("payload 500");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let s = skipped(&v);
    assert_eq!(
        reason_for(&s, "secret blueking/sh.helm.release.v1.bk-paas.v3"),
        format!("payload not read: {INTERNAL_ERROR_DESCRIBED}")
    );
    // helm's labels still say the revision is pending-upgrade.
    let keys = finding_keys(&v);
    assert!(
        keys.contains(&(
            "helm-operation-in-progress".into(),
            "release/bk-paas".into()
        )),
        "{keys:?}"
    );
    assert!(keys.iter().any(|(r, _)| r == "dns-unresolvable"));

    // `release` reads every revision: the unreadable one is named, the others still decode.
    let r = live.run(&[
        "release", "bk-paas", "-n", "blueking", "-o", "json", "--now", &now,
    ]);
    r.sane("release with a payload 500");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert!(
        skipped(&v).iter().any(
            |(w, r)| w == "secret blueking/sh.helm.release.v1.bk-paas.v3" && r.contains("500")
        ),
        "{:#?}",
        skipped(&v)
    );
    assert!(v["revisions"].as_array().unwrap().len() >= 2, "{v:#}");
}

#[test]
fn a_500_on_logs_names_each_log_and_the_other_logs_still_count() {
    let (_tmp, dir) = cluster();
    let (now, base) = baseline(&dir);
    // One redis pod's logs fail; the DNS and GSE evidence comes from other pods.
    let live = serve(FakeApi::new().load_dir(&dir).fault(Fault::path(
        "/api/v1/namespaces/blueking/pods/bk-redis-cluster-0/log",
        internal_error(),
    )));
    let r = live.run(&["check", "-o", "json", "--now", &now]);
    r.sane("log 500");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let s = skipped(&v);
    assert_eq!(
        reason_for(
            &s,
            "log of blueking/bk-redis-cluster-0 container bk-redis-cluster (previous)"
        ),
        INTERNAL_ERROR_DESCRIBED
    );
    assert!(starved_rules(&s).contains(&"dns-unresolvable".to_string()));
    let keys = finding_keys(&v);
    for rule in ["helm-operation-in-progress", "gse-agent-missing"] {
        assert!(keys.iter().any(|(r, _)| r == rule), "{rule}: {keys:?}");
    }
    // DNS failures are still seen in the elasticsearch pods' logs.
    assert!(
        keys.iter().any(|(r, _)| r == "dns-unresolvable"),
        "{keys:?}"
    );
    assert!(finding_keys(&base).len() >= keys.len());
}

#[test]
fn an_unreachable_kubelet_is_named_as_the_api_server_says_it() {
    let (_tmp, dir) = cluster();
    let (now, _) = baseline(&dir);
    let pod = "bkmonitor-operator-bkmonitorbeat-daemonset-7xk2p";
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .kubelet_unreachable("bkmonitor-operator", pod),
    );
    let r = live.run(&["check", "-o", "json", "--now", &now]);
    r.sane("kubelet unreachable");
    assert_eq!(r.code, 1);
    let v = r.json();
    let s = skipped(&v);
    let reason = reason_for(
        &s,
        &format!("log of bkmonitor-operator/{pod} container bkmonitorbeat (previous)"),
    );
    // The recorded answer of a real API server, with this pod's names and the options sent.
    let recorded: Value = serde_json::from_str(include_str!(
        "../tests/api-responses/error-pod-log-kubelet-unreachable.json"
    ))
    .unwrap();
    let shape = |m: &str| {
        let (get, dial) = m.split_once("\": dial tcp ").unwrap();
        let (scheme_host, path) = get.split_once(":10250/containerLogs/").unwrap();
        (
            scheme_host.split("https://").next().unwrap().to_string(),
            path.split('/').count(),
            dial.split_once(':').unwrap().1.to_string(),
        )
    };
    let message = reason.strip_prefix("HTTP 500: ").expect(reason);
    assert_eq!(
        shape(message),
        shape(recorded["message"].as_str().unwrap()),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "/containerLogs/bkmonitor-operator/{pod}/bkmonitorbeat?"
        )),
        "{message}"
    );
    assert!(message.ends_with("connect: connection refused"));
    // The other bkmonitorbeat pod's kubelet answers: its node still gets a finding.
    let gse: Vec<_> = finding_keys(&v)
        .into_iter()
        .filter(|(r, _)| r == "gse-agent-missing")
        .collect();
    assert_eq!(
        gse,
        [(
            "gse-agent-missing".to_string(),
            "pod/bkmonitor-operator-bkmonitorbeat-daemonset-m4q9z".to_string()
        )]
    );
}

#[test]
fn a_response_cut_mid_body_is_skipped_wherever_it_happens() {
    let (_tmp, dir) = cluster();
    let (now, base) = baseline(&dir);
    let cases: [(&str, Fault, &str); 3] = [
        (
            "a list",
            Fault::path("/api/v1/pods", Respond::CutAfter(100)),
            "pods",
        ),
        (
            "a helm payload",
            Fault::new(bk_paas_v3_payload, Respond::CutAfter(64)),
            "secret blueking/sh.helm.release.v1.bk-paas.v3",
        ),
        (
            "a log",
            Fault::path(
                "/api/v1/namespaces/bkmonitor-operator/pods/bkmonitor-operator-bkmonitorbeat-daemonset-m4q9z/log",
                Respond::CutAfter(10),
            ),
            "log of bkmonitor-operator/bkmonitor-operator-bkmonitorbeat-daemonset-m4q9z container bkmonitorbeat (previous)",
        ),
    ];
    for (case, fault, what) in cases {
        let live = serve(FakeApi::new().load_dir(&dir).fault(fault));
        let r = live.run(&["check", "-o", "json", "--now", &now]);
        r.sane(case);
        assert_eq!(r.code, 1, "{case}: {}", r.stderr);
        let v = r.json();
        let s = skipped(&v);
        let reason = reason_for(&s, what);
        assert!(!reason.is_empty(), "{case}");
        // A cut body is never taken for a short, complete one.
        if what == "pods" {
            assert!(!reason.contains("InternalError"), "{reason}");
        }
        rest_still_found(&base, &v, case);
    }
}

#[test]
fn an_expired_continue_restarts_once_and_a_second_expiry_is_skipped() {
    let (_tmp, dir) = cluster();
    let (now, base) = baseline(&dir);
    let expired_pods =
        |r: &RecordedRequest| r.path == "/api/v1/pods" && r.param("continue").is_some();
    let status = || Respond::Status {
        code: 410,
        reason: "Expired".into(),
        message: fake_apiserver::EXPIRED_CONTINUE.into(),
    };

    // Only a consistent read is paged. Once: the list starts over and nothing is lost.
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .page_size(2)
            .fault(Fault::new(expired_pods, status()).times(1)),
    );
    let r = live.run(&["check", "-o", "json", "--now", &now, "--consistent-read"]);
    r.sane("one expiry");
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["skipped"], serde_json::json!([]), "{:#?}", skipped(&v));
    assert_eq!(finding_keys(&v), finding_keys(&base));
    let starts = |live: &Live| {
        live.server
            .requests()
            .iter()
            .filter(|r| r.path == "/api/v1/pods" && r.param("continue").is_none())
            .count()
    };
    assert_eq!(starts(&live), 2);

    // Every time: one restart, then the list is given up, named, and the rest still runs.
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .page_size(2)
            .fault(Fault::new(expired_pods, status())),
    );
    let r = live.run(&["check", "-o", "json", "--now", &now, "--consistent-read"]);
    r.sane("repeated expiry");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(starts(&live), 2, "restarted once, not in a loop");
    let v = r.json();
    let s = skipped(&v);
    assert_eq!(
        reason_for(&s, "pods"),
        format!("Expired (410): {}", fake_apiserver::EXPIRED_CONTINUE)
    );
    rest_still_found(&base, &v, "repeated expiry");
    assert!(
        finding_keys(&v)
            .iter()
            .any(|(r, _)| r == "helm-operation-in-progress")
    );
}

#[test]
fn requests_that_never_answer_time_out_and_the_run_finishes_with_the_rest() {
    let (_tmp, dir) = cluster();
    let (now, base) = baseline(&dir);
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .fault(Fault::path("/apis/apps/v1/daemonsets", Respond::Hang))
            .fault(Fault::new(bk_paas_v3_payload, Respond::Hang))
            .fault(Fault::path(
                "/api/v1/namespaces/blueking/pods/bk-redis-cluster-1/log",
                Respond::Hang,
            )),
    );
    for format in ["json", "table"] {
        let r = live.run(&[
            "check",
            "-o",
            format,
            "--now",
            &now,
            "--request-timeout",
            "1s",
        ]);
        r.sane("hangs");
        // Findings from what did answer: still exit 1, not 2.
        assert_eq!(r.code, 1, "{format}: {}", r.stderr);
        assert_eq!(r.stderr, "");
        if format == "table" {
            assert!(r.stdout.contains("timed out after 1s"), "{}", r.stdout);
            continue;
        }
        let v = r.json();
        let s = skipped(&v);
        for what in [
            "daemonsets",
            "secret blueking/sh.helm.release.v1.bk-paas.v3",
            "log of blueking/bk-redis-cluster-1 container bk-redis-cluster (previous)",
        ] {
            assert!(
                reason_for(&s, what).ends_with("timed out after 1s"),
                "{what}: {s:#?}"
            );
        }
        rest_still_found(&base, &v, "hangs");
    }

    // Nothing but /version answers: no list at all, so the run cannot say anything; it says so
    // in one line, exit 2, in bounded time.
    let mut api = FakeApi::new().load_dir(&dir);
    for (_, matches) in LISTS {
        api = api.fault(Fault::new(*matches, Respond::Hang));
    }
    let live = serve(api);
    let r = live.run(&["check", "--request-timeout", "1s"]);
    r.sane("every list hangs");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("timed out after 1s"), "{}", r.stderr);
}

#[test]
fn a_slow_server_gives_the_same_report_in_bounded_time() {
    let (_tmp, dir) = cluster();
    let (now, base) = baseline(&dir);
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .latency(Duration::from_millis(400)),
    );
    let r = live.run(&["check", "-o", "json", "--now", &now]);
    r.sane("latency on every request");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["findings"], base["findings"]);
    assert_eq!(v["skipped"], serde_json::json!([]));
    let requests = live.server.requests().len() as u32;
    // A hang guard, not a speed target: serially every request would take 400 ms; the lists and
    // the payload and log fetches overlap, so the run must stay well under that sum.
    assert!(
        r.took < Duration::from_millis(400) * requests,
        "{requests} requests took {:?}",
        r.took
    );

    // Slower than the request timeout: every request times out and the run ends, exit 2.
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .latency(Duration::from_secs(3)),
    );
    let r = live.run(&["check", "--request-timeout", "1s"]);
    r.sane("latency over the request timeout");
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("timed out after 1s"), "{}", r.stderr);
}

#[test]
fn a_snapshot_taken_during_failures_keeps_saying_what_it_missed() {
    let (_tmp, dir) = cluster();
    let (now, _) = baseline(&dir);
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .fault(Fault::path("/apis/apps/v1/statefulsets", internal_error()))
            .fault(Fault::path(
                "/api/v1/namespaces/blueking/pods/bk-redis-cluster-0/log",
                Respond::CutAfter(5),
            ))
            .kubelet_unreachable(
                "bkmonitor-operator",
                "bkmonitor-operator-bkmonitorbeat-daemonset-7xk2p",
            ),
    );
    let r = live.run(&["check", "-o", "json", "--now", &now]);
    r.sane("check");
    let checked = r.json();
    let out = tempfile::tempdir().unwrap();
    let snap = out.path().join("snap");
    let r = live.run(&["snapshot", snap.to_str().unwrap()]);
    r.sane("snapshot");
    // The snapshot was written: what is missing is in it, not a reason to fail.
    assert_eq!(r.code, 0, "{}", r.stderr);
    let back = offline(&snap, &["check", "-o", "json", "--now", &now]);
    back.sane("read back");
    let back = back.json();
    assert_eq!(back["findings"], checked["findings"]);
    let (was, is) = (skipped(&checked), skipped(&back));
    assert_eq!(was, is);
    assert_eq!(reason_for(&is, "statefulsets"), INTERNAL_ERROR_DESCRIBED);
    assert!(
        is.iter().any(|(w, _)| w
            == "log of bkmonitor-operator/bkmonitor-operator-bkmonitorbeat-daemonset-7xk2p container bkmonitorbeat (previous)"),
        "{is:#?}"
    );
}
