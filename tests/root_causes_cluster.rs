//! Root causes in the cluster's state through the built binary: job-failed, pvc-unbound,
//! node-not-ready, workload-create-failed, pod-not-ready, and the link from a failed or pending
//! release to the findings that block it. Each rule has a fixture that triggers it and near misses
//! that must not (tests/fixtures/gen.py), checked in both languages.

mod common;

use serde_json::Value;

use common::{fixture, lines, of_rule, one, run};

const LANGS: [&str; 2] = ["zh", "en"];

fn check(name: &str, lang: &str, extra: &[&str]) -> (i32, Value) {
    let dir = fixture(name);
    let mut args = vec![
        "check",
        "-o",
        "json",
        "--lang",
        lang,
        "--snapshot",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let r = run(&args);
    let v = r.json();
    assert!(
        v["skipped"].as_array().unwrap().is_empty(),
        "{name}: fixture did not load cleanly: {}",
        v["skipped"]
    );
    (r.code, v)
}

fn evidence(f: &Value) -> String {
    lines(f, "evidence").join("\n")
}

fn commands(f: &Value) -> Vec<String> {
    lines(f, "remediation")
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .collect()
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

fn objects(v: &Value, rule: &str) -> Vec<String> {
    let mut o: Vec<String> = of_rule(v, rule)
        .iter()
        .map(|f| f["object"].as_str().unwrap().to_string())
        .collect();
    o.sort();
    o
}

/// The same findings in both languages: real Chinese in zh, none in en, identical commands.
fn assert_bilingual(name: &str, rule: &str) {
    let (_, zh) = check(name, "zh", &[]);
    let (_, en) = check(name, "en", &[]);
    assert!(!of_rule(&en, rule).is_empty(), "{rule} in {name}");
    assert_eq!(objects(&zh, rule), objects(&en, rule));
    for e in of_rule(&en, rule) {
        let z = one(&zh, rule, e["object"].as_str().unwrap());
        assert!(has_cjk(z["title"].as_str().unwrap()), "{z:#}");
        assert!(has_cjk(z["explanation"].as_str().unwrap()), "{z:#}");
        assert!(!has_cjk(&e.to_string()), "{e:#}");
        assert_eq!(z["severity"], e["severity"]);
        assert_eq!(
            commands(z),
            commands(e),
            "{rule}: commands differ between languages"
        );
    }
}

// ---------------------------------------------------------------- job-failed

#[test]
fn a_failed_hook_job_is_reported_with_its_log_and_the_fix() {
    let (code, v) = check("job-failed", "en", &[]);
    assert_eq!(code, 1);
    let f = one(&v, "job-failed", "job/bk-cmdb-migrate-db");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["namespace"], "blueking");
    let ev = evidence(f);
    assert!(
        ev.contains("BackoffLimitExceeded: Job has reached the specified backoff limit"),
        "{ev}"
    );
    assert!(
        ev.contains("helm hook pre-upgrade of release bk-cmdb"),
        "{ev}"
    );
    assert!(
        ev.contains("> ERROR 2003 (HY000): Can not connect to MySQL server on bk-mysql-mysql:3306"),
        "{ev}"
    );
    assert!(ev.contains("bk-cmdb-migrate-db-5dhpf"), "{ev}");
    assert_eq!(
        commands(f),
        [
            "kubectl logs -n blueking job/bk-cmdb-migrate-db",
            "kubectl delete job -n blueking bk-cmdb-migrate-db",
        ]
    );
    assert!(
        lines(f, "remediation")
            .last()
            .unwrap()
            .contains("helmfile -l name=bk-cmdb sync")
    );
    // The completed Job of bk-paas is no finding, nor are the failed Job's pods on their own.
    assert_eq!(objects(&v, "job-failed"), ["job/bk-cmdb-migrate-db"]);
    assert!(of_rule(&v, "pod-crash-loop").is_empty());
    assert!(!v.to_string().contains("bk-paas-init-data"), "{v:#}");
    assert_bilingual("job-failed", "job-failed");
}

#[test]
fn a_failed_release_names_what_blocks_it() {
    for (lang, line) in [
        ("en", "blocked by job-failed on job/bk-cmdb-migrate-db"),
        ("zh", "受阻于 job/bk-cmdb-migrate-db 的 job-failed"),
    ] {
        let (_, v) = check("job-failed", lang, &[]);
        let f = one(&v, "helm-release-failed", "release/bk-cmdb");
        assert!(lines(f, "evidence").contains(&line.to_string()), "{f:#}");
        // Found through the pod the finding covers, not by name.
        assert!(evidence(f).contains("pod-not-ready"), "{f:#}");
    }
}

// ---------------------------------------------------------------- pod-not-ready

#[test]
fn a_not_ready_pod_of_a_failed_release_that_nothing_explains_is_named() {
    let (_, v) = check("job-failed", "en", &[]);
    // bk-iam's not-ready pod belongs to a deployed release; the Job's pods are job-failed's.
    assert_eq!(
        objects(&v, "pod-not-ready"),
        ["pod/bk-cmdb-admin-7f8d9c5b6-kl2mn"]
    );
    let f = one(&v, "pod-not-ready", "pod/bk-cmdb-admin-7f8d9c5b6-kl2mn");
    assert_eq!(f["severity"], "warning");
    let ev = evidence(f);
    assert!(ev.contains("phase Running"), "{ev}");
    assert!(
        ev.contains("Ready is False: ContainersNotReady: containers with unready status: [admin]"),
        "{ev}"
    );
    assert!(ev.contains("no event of this pod in the last hour"), "{ev}");
    assert_eq!(
        commands(f)[0],
        "kubectl describe pod -n blueking bk-cmdb-admin-7f8d9c5b6-kl2mn"
    );
    assert_bilingual("job-failed", "pod-not-ready");
}

// ---------------------------------------------------------------- pvc-unbound

#[test]
fn unbound_claims_get_the_fix_their_cause_needs() {
    let (code, v) = check("pvc-unbound", "en", &[]);
    assert_eq!(code, 1);
    // The bound claim and the WaitForFirstConsumer claim no pod uses yet are no findings.
    assert_eq!(
        objects(&v, "pvc-unbound"),
        [
            "persistentvolumeclaim/bk-repo-bkrepo-storage",
            "persistentvolumeclaim/data-bk-mysql-mysql-0",
            "persistentvolumeclaim/datadir-bcs-mongodb-0",
        ]
    );

    let mysql = one(
        &v,
        "pvc-unbound",
        "persistentvolumeclaim/data-bk-mysql-mysql-0",
    );
    assert_eq!(mysql["severity"], "error");
    let ev = evidence(mysql);
    assert!(
        ev.contains(
            "no storage class is named and none is the default; classes that exist: local-storage"
        ),
        "{ev}"
    );
    assert!(ev.contains("FailedBinding: no persistent volumes available for this claim and no storage class is set (×62)"), "{ev}");
    assert!(ev.contains("pods waiting for it: bk-mysql-mysql-0"), "{ev}");
    assert_eq!(
        commands(mysql),
        [
            r#"kubectl patch storageclass local-storage -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'"#
        ]
    );
    assert!(
        lines(mysql, "remediation")
            .iter()
            .any(|l| l.starts_with('#') && l.contains("helmfile -f 00-localpv.yaml.gotmpl sync"))
    );

    let repo = one(
        &v,
        "pvc-unbound",
        "persistentvolumeclaim/bk-repo-bkrepo-storage",
    );
    let ev = evidence(repo);
    assert!(ev.contains("needs 90Gi; no free volume of class local-storage is large enough: the largest is local-pv-6c1b2a9e (20Gi)"), "{ev}");
    // BlueKing's local volumes: mount points under localpv.hostDir, then the localpv release again.
    let fix = lines(repo, "remediation").join("\n");
    assert!(
        fix.contains("localpv.hostDir (default /mnt/blueking/)"),
        "{fix}"
    );
    assert!(fix.contains("./system/mount_localpv"), "{fix}");
    assert!(
        fix.contains("helmfile -f 00-localpv.yaml.gotmpl sync"),
        "{fix}"
    );

    let bcs = one(
        &v,
        "pvc-unbound",
        "persistentvolumeclaim/datadir-bcs-mongodb-0",
    );
    assert_eq!(bcs["namespace"], "bcs-system");
    let ev = evidence(bcs);
    assert!(
        ev.contains("storage class cbs does not exist; classes that exist: local-storage"),
        "{ev}"
    );
    assert!(
        ev.contains(r#"ProvisioningFailed: storageclass.storage.k8s.io "cbs" not found"#),
        "{ev}"
    );

    // The pods waiting for the claims are explained: no pod-not-ready, no bare "Pending".
    assert!(of_rule(&v, "pod-not-ready").is_empty(), "{v:#}");
    let failed = one(&v, "helm-release-failed", "release/bk-mysql");
    assert!(
        lines(failed, "evidence").contains(
            &"blocked by pvc-unbound on persistentvolumeclaim/data-bk-mysql-mysql-0".to_string()
        ),
        "{failed:#}"
    );
    let pending = one(&v, "helm-operation-in-progress", "release/bk-repo");
    assert!(
        evidence(pending)
            .contains("blocked by pvc-unbound on persistentvolumeclaim/bk-repo-bkrepo-storage"),
        "{pending:#}"
    );
    assert_bilingual("pvc-unbound", "pvc-unbound");
}

#[test]
fn a_claim_younger_than_two_minutes_is_a_warning() {
    // The claims were made at 10:40; a minute later they may still be provisioning.
    let (_, v) = check("pvc-unbound", "en", &["--now", "2026-11-20T10:41:00Z"]);
    for f in of_rule(&v, "pvc-unbound") {
        assert_eq!(f["severity"], "warning", "{f:#}");
    }
    assert!(!of_rule(&v, "pvc-unbound").is_empty());
}

// ---------------------------------------------------------------- node-not-ready

#[test]
fn a_dead_node_a_node_under_pressure_and_a_cordoned_one() {
    let (code, v) = check("node-not-ready", "en", &[]);
    assert_eq!(code, 1);
    let dead = one(&v, "node-not-ready", "node/node-2");
    assert_eq!(dead["severity"], "error");
    assert!(dead["namespace"].is_null());
    let ev = evidence(dead);
    assert!(
        ev.contains("Ready is Unknown since 2026-11-20T10:50:00Z"),
        "{ev}"
    );
    assert!(ev.contains("Kubelet stopped posting node status."), "{ev}");
    assert!(
        ev.contains("the kubelet last renewed its lease at 2026-11-20T10:49:20Z"),
        "{ev}"
    );
    assert!(
        ev.contains("blueking/bk-paas-webfe-5d7b9c6f8-mq7rt"),
        "{ev}"
    );
    assert!(lines(dead, "remediation")[0].contains("node-2 (10.0.0.13)"));
    assert_eq!(
        commands(dead),
        [
            "systemctl status kubelet",
            "journalctl -u kubelet --since -30min"
        ]
    );

    let disk = one(&v, "node-not-ready", "node/node-1");
    assert_eq!(disk["severity"], "warning");
    assert!(evidence(disk).contains("DiskPressure is True"), "{disk:#}");
    let c = commands(disk);
    assert!(
        c.contains(&"df -h /var/lib/kubelet /var/lib/containerd".to_string()),
        "{c:?}"
    );
    assert!(c.contains(&"crictl rmi --prune".to_string()), "{c:?}");

    let cordoned = one(&v, "node-not-ready", "node/master-1");
    assert_eq!(cordoned["severity"], "info");
    assert_eq!(commands(cordoned), ["kubectl uncordon master-1"]);

    // The failed release's pods are on those nodes: the link says so, and nothing else repeats them.
    let failed = one(&v, "helm-release-failed", "release/bk-paas");
    let ev = lines(failed, "evidence");
    assert!(
        ev.contains(&"blocked by node-not-ready on node/node-2".to_string()),
        "{ev:?}"
    );
    assert!(
        ev.contains(&"blocked by node-not-ready on node/node-1".to_string()),
        "{ev:?}"
    );
    assert!(of_rule(&v, "pod-not-ready").is_empty(), "{v:#}");
    assert_bilingual("node-not-ready", "node-not-ready");
}

#[test]
fn a_node_not_ready_for_seconds_and_pressure_false_are_no_finding() {
    for lang in LANGS {
        let (code, v) = check("node-near-miss", lang, &[]);
        assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v:#}");
        assert_eq!(code, 0);
    }
}

// ---------------------------------------------------------------- workload-create-failed

#[test]
fn controllers_that_cannot_create_pods_say_why() {
    let (code, v) = check("workload-create-failed", "en", &[]);
    assert_eq!(code, 1);
    // A two-hour-old event and one for a Deployment that has its pods now are no findings.
    assert_eq!(
        objects(&v, "workload-create-failed"),
        [
            "daemonset/bk-log-collector",
            "replicaset/bk-user-api-6c7d9f8b5",
            "statefulset/bk-gse-data",
        ]
    );
    let quota = one(
        &v,
        "workload-create-failed",
        "replicaset/bk-user-api-6c7d9f8b5",
    );
    assert!(
        evidence(quota).contains("exceeded quota: blueking-quota"),
        "{quota:#}"
    );
    assert_eq!(
        commands(quota)[0],
        "kubectl describe resourcequota -n blueking"
    );

    let psa = one(&v, "workload-create-failed", "statefulset/bk-gse-data");
    assert!(
        evidence(psa).contains("namespace blueking enforces level baseline"),
        "{psa:#}"
    );
    assert_eq!(
        commands(psa)[0],
        "kubectl get namespace blueking --show-labels"
    );

    let sa = one(&v, "workload-create-failed", "daemonset/bk-log-collector");
    assert_eq!(sa["namespace"], "bkmonitor-operator");
    assert!(
        evidence(sa).contains("service account bkmonitor-operator/bk-log-collector does not exist"),
        "{sa:#}"
    );
    assert_eq!(
        commands(sa)[0],
        "kubectl get serviceaccount -n bkmonitor-operator bk-log-collector"
    );

    let pending = one(&v, "helm-operation-in-progress", "release/bk-user");
    assert!(
        lines(pending, "evidence").contains(
            &"blocked by workload-create-failed on replicaset/bk-user-api-6c7d9f8b5".to_string()
        ),
        "{pending:#}"
    );
    assert_bilingual("workload-create-failed", "workload-create-failed");
}

#[test]
fn an_event_older_than_an_hour_is_history() {
    // Two hours on, every FailedCreate of the fixture is older than an hour.
    let (_, v) = check(
        "workload-create-failed",
        "en",
        &["--now", "2026-11-20T13:00:00Z"],
    );
    assert!(of_rule(&v, "workload-create-failed").is_empty(), "{v:#}");
}

// ---------------------------------------------------------------- release NAME

#[test]
fn release_lists_its_workloads_and_what_blocks_them() {
    let dir = fixture("workload-create-failed");
    let d = dir.to_str().unwrap();
    let r = run(&["release", "bk-user", "--snapshot", d, "-o", "json"]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(
        v["workloads"],
        serde_json::json!([{"kind": "Deployment", "name": "bk-user-api", "ready": 0, "desired": 1,
            "blockedBy": [{"rule": "workload-create-failed", "object": "replicaset/bk-user-api-6c7d9f8b5"}]}])
    );
    // The finding on the ReplicaSet concerns the release: it is listed with the release's own.
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "workload-create-failed")
    );
    for lang in LANGS {
        let t = run(&["release", "bk-user", "--snapshot", d, "--lang", lang]);
        assert!(t.stdout.contains("Deployment/bk-user-api"), "{}", t.stdout);
        assert!(t.stdout.contains("0/1"), "{}", t.stdout);
        let md = run(&[
            "release",
            "bk-user",
            "--snapshot",
            d,
            "--lang",
            lang,
            "-o",
            "markdown",
        ]);
        assert!(
            md.stdout.contains("- `Deployment/bk-user-api` 0/1 — `workload-create-failed` `replicaset/bk-user-api-6c7d9f8b5`"),
            "{}",
            md.stdout
        );
    }
    // A ready workload is listed with nothing behind it.
    let r = run(&["release", "bk-paas", "--snapshot", d, "-o", "json"]);
    assert_eq!(
        r.json()["workloads"],
        serde_json::json!([{"kind": "Deployment", "name": "bk-paas-apiserver", "ready": 1, "desired": 1, "blockedBy": []}])
    );
}
