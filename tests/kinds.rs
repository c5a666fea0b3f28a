//! The kinds read beyond pods and workloads (EndpointSlices, Ingresses and IngressClasses, admission
//! webhooks, CronJobs, Secrets by name), through the binary: each failing object named by its rule,
//! each healthy one beside it silent, offline and live alike.

mod common;

use common::{check_fixture, finding_keys, fixture, lines, one, run, serve};
use fake_apiserver::FakeApi;

const RULES: &[&str] = &[
    "service-no-endpoints",
    "ingress-backend-missing",
    "webhook-unavailable",
    "cronjob-failed",
];

fn keys(v: &serde_json::Value) -> Vec<(String, String)> {
    finding_keys(v)
        .into_iter()
        .filter(|(r, _)| RULES.contains(&r.as_str()))
        .collect()
}

#[test]
fn each_failing_object_is_named_and_the_healthy_ones_are_not() {
    let (code, v) = check_fixture("kinds", "en");
    assert_eq!(code, 1);
    let expected: Vec<(String, String)> = [
        ("cronjob-failed", "cronjob/bk-cmdb-clean"),
        ("ingress-backend-missing", "ingress/bk-notice"),
        ("ingress-backend-missing", "ingress/bk-paas-api"),
        ("service-no-endpoints", "service/bk-cmdb-web"),
        ("service-no-endpoints", "service/bk-notice-api"),
        (
            "service-no-endpoints",
            "service/ingress-nginx-controller-admission",
        ),
        (
            "webhook-unavailable",
            "validatingwebhookconfiguration/ingress-nginx-admission",
        ),
    ]
    .iter()
    .map(|(r, o)| (r.to_string(), o.to_string()))
    .collect();
    assert_eq!(keys(&v), expected, "{v:#}");
    // A CronJob's failed Jobs are its finding, not job-failed's one by one.
    assert!(common::of_rule(&v, "job-failed").is_empty(), "{v:#}");

    let notice = one(&v, "ingress-backend-missing", "ingress/bk-notice");
    let ev = lines(notice, "evidence");
    assert!(ev.contains(&"backend Service bk-notice-web does not exist".to_string()));
    assert!(ev.contains(&"TLS Secret bk-notice-tls does not exist".to_string()));
    let api = lines(
        one(&v, "ingress-backend-missing", "ingress/bk-paas-api"),
        "evidence",
    );
    assert!(api.contains(&"backend Service bk-paas has no port 8080".to_string()));
    assert!(
        api.iter()
            .any(|l| l.starts_with("ingressClassName bk-nginx"))
    );

    let hook = one(
        &v,
        "webhook-unavailable",
        "validatingwebhookconfiguration/ingress-nginx-admission",
    );
    assert_eq!(hook["severity"], "error");
    let fix = lines(hook, "remediation");
    assert!(fix.contains(
        &"kubectl delete validatingwebhookconfiguration ingress-nginx-admission".to_string()
    ));
    // The healthy webhook beside it (a Service with ready endpoints) and the one that is ignored
    // on failure are not named.
    assert!(!v.to_string().contains("bk-paas-defaults"));
    assert!(!v.to_string().contains("bk-monitor-audit"));
    let cron = lines(
        one(&v, "cronjob-failed", "cronjob/bk-cmdb-clean"),
        "evidence",
    );
    assert!(
        cron.iter().any(|l| l.starts_with("2 Jobs failed in a row")),
        "{cron:?}"
    );
}

/// A webhook with nothing behind it blocks the releases it refused: the one whose failure text
/// names it, not one that failed for another reason.
#[test]
fn a_dead_webhook_blocks_the_release_whose_install_it_refused() {
    let blocked =
        "blocked by webhook-unavailable on validatingwebhookconfiguration/ingress-nginx-admission";
    for lang in ["en", "zh"] {
        let (_, v) = check_fixture("kinds", lang);
        let log = lines(one(&v, "helm-release-failed", "release/bk-log"), "evidence");
        let nodeman = lines(
            one(&v, "helm-release-failed", "release/bk-nodeman"),
            "evidence",
        );
        if lang == "en" {
            assert!(log.contains(&blocked.to_string()), "{log:?}");
        }
        let linked = |ev: &[String]| {
            ev.iter()
                .any(|l| l.contains("validatingwebhookconfiguration/ingress-nginx-admission"))
        };
        assert!(linked(&log), "{lang}: {log:?}");
        assert!(!linked(&nodeman), "{lang}: {nodeman:?}");
    }
}

#[test]
fn the_near_misses_are_silent_and_exit_0() {
    let (code, v) = check_fixture("kinds-near-miss", "en");
    assert_eq!(v["findings"], serde_json::json!([]), "{v:#}");
    assert_eq!(code, 0);
}

#[test]
fn chinese_report_names_the_same_objects() {
    let (_, en) = check_fixture("kinds", "en");
    let (_, zh) = check_fixture("kinds", "zh");
    assert_eq!(keys(&en), keys(&zh));
    let f = one(&zh, "service-no-endpoints", "service/bk-notice-api");
    assert!(
        f["title"].as_str().unwrap().contains("没有就绪的 endpoint"),
        "{f:#}"
    );
}

#[test]
fn live_gives_the_same_findings_as_offline() {
    for name in ["kinds", "kinds-near-miss"] {
        let dir = fixture(name);
        let offline = run(&["check", "--snapshot", dir.to_str().unwrap(), "-o", "json"]);
        let now = offline.json()["summary"]["snapshotTime"]
            .as_str()
            .unwrap()
            .to_string();
        let live = serve(FakeApi::new().load_dir(&dir));
        let r = live.run(&["check", "-o", "json", "--now", &now]);
        assert_eq!(r.code, offline.code, "{name}: {}", r.stderr);
        assert_eq!(
            finding_keys(&r.json()),
            finding_keys(&offline.json()),
            "{name}"
        );
        assert_eq!(r.json()["skipped"], serde_json::json!([]), "{name}");
        // No Secret value crosses the wire: the Secrets list is metadata-only. helm's own release
        // records (owner=helm) are the one exception, read whole as they always were.
        for req in live.server.requests() {
            let helm_record = req
                .params
                .get("labelSelector")
                .is_some_and(|s| s.starts_with("owner=helm"));
            if req.path.ends_with("/secrets") && !helm_record {
                assert!(
                    req.accept
                        .as_deref()
                        .unwrap_or("")
                        .contains("as=PartialObjectMetadataList"),
                    "{name}: {req:?}"
                );
            }
        }
    }
}

#[test]
fn a_snapshot_of_the_live_cluster_keeps_the_kinds_and_no_secret_value() {
    let dir = fixture("kinds");
    let live = serve(FakeApi::new().load_dir(&dir));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("snap");
    let r = live.run(&["snapshot", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in [
        "endpointslices.json",
        "ingressclasses.json",
        "validatingwebhookconfigurations.json",
        "mutatingwebhookconfigurations.json",
        "cronjobs.json",
        "secrets.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let secrets = std::fs::read_to_string(out.join("secrets.json")).unwrap();
    assert!(secrets.contains("bk-paas-tls"));
    assert!(!secrets.contains("\"data\""), "{secrets}");
    let hooks = std::fs::read_to_string(out.join("validatingwebhookconfigurations.json")).unwrap();
    assert!(!hooks.contains("caBundle"), "{hooks}");
    let back = run(&["check", "--snapshot", out.to_str().unwrap(), "-o", "json"]);
    let offline = run(&["check", "--snapshot", dir.to_str().unwrap(), "-o", "json"]);
    assert_eq!(keys(&back.json()), keys(&offline.json()));
}
