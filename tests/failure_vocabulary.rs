//! The Kubernetes failure vocabulary beyond helm releases, through the built binary on fixture
//! snapshots (tests/fixtures/gen_workloads.py): pods that cannot get their configuration or sandbox,
//! failing lifecycle hooks, failed and evicted pods, workloads short of pods, node conditions, lost
//! volumes, two default StorageClasses, Jobs still retrying; each class's near miss; a healthy cluster
//! in the middle of a deploy; and a pod in no helm release reported like one that is.

mod common;

use serde_json::Value;

use common::{check_fixture, lines, of_rule, one};

fn commands(f: &Value) -> Vec<String> {
    lines(f, "remediation")
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .collect()
}

fn text(f: &Value, field: &str) -> String {
    lines(f, field).join("\n")
}

/// Both languages give the same findings, with the same commands.
fn both(fixture: &str) -> Value {
    let (_, en) = check_fixture(fixture, "en");
    let (_, zh) = check_fixture(fixture, "zh");
    assert_eq!(
        common::finding_keys(&en),
        common::finding_keys(&zh),
        "{fixture}"
    );
    for (a, b) in en["findings"]
        .as_array()
        .unwrap()
        .iter()
        .zip(zh["findings"].as_array().unwrap())
    {
        assert_eq!(commands(a), commands(b), "{fixture}: {}", a["rule"]);
        assert_ne!(
            a["title"], b["title"],
            "{fixture}: {} untranslated",
            a["rule"]
        );
    }
    en
}

#[test]
fn container_config_error_names_the_missing_secret_configmap_or_key() {
    let r = both("config-error");
    assert_eq!(of_rule(&r, "container-config-error").len(), 3, "{r:#}");
    let api = one(
        &r,
        "container-config-error",
        "pod/bk-notice-api-5b6c7d8e9f-r2d2x",
    );
    assert_eq!(api["severity"], "error");
    assert!(text(api, "evidence").contains(r#"secret "bk-notice-db" not found"#));
    assert_eq!(
        commands(api),
        [
            "kubectl get secret -n blueking bk-notice-db",
            "kubectl describe pod -n blueking bk-notice-api-5b6c7d8e9f-r2d2x"
        ]
    );
    assert!(text(api, "remediation").contains("-l name=bk-notice sync"));
    let worker = one(
        &r,
        "container-config-error",
        "pod/bk-notice-worker-7c8d9e0f1a-k9x8z",
    );
    // describe lists a Secret's or ConfigMap's keys, never a value.
    assert_eq!(
        commands(worker)[0],
        "kubectl describe configmap -n blueking bk-notice-config"
    );
    assert!(text(worker, "remediation").contains("has no key REDIS_HOST"));
    // A SaaS app's pod, in no helm release, is reported the same way.
    let saas = one(
        &r,
        "container-config-error",
        "pod/bk0us0notice--web-6f9d8c7b5-p4q8r",
    );
    assert_eq!(saas["namespace"], "bkapp-bk0us0notice-prod");
    assert_eq!(
        commands(saas)[0],
        "kubectl get configmap -n bkapp-bk0us0notice-prod bk0us0notice-env"
    );
    // Nothing else reports these pods again.
    assert_eq!(r["findings"].as_array().unwrap().len(), 3, "{r:#}");
}

#[test]
fn pod_sandbox_failed_points_at_the_network_plugin_on_the_node() {
    let r = both("sandbox-failed");
    let user = one(&r, "pod-sandbox-failed", "pod/bk-user-web-7d8e9f6a5-r3t5y");
    assert!(text(user, "evidence").contains("the CNI plugin calico failed on node-2"));
    let cmds = commands(user);
    assert!(cmds.contains(
        &"kubectl get pods -A -o wide --field-selector spec.nodeName=node-2".to_string()
    ));
    assert!(cmds.contains(&"kubectl logs -n kube-system calico-node-x8k2p --tail=50".to_string()));
    assert!(cmds.contains(&"ssh 10.0.0.13 ls -l /etc/cni/net.d /opt/cni/bin".to_string()));
    let saas = one(
        &r,
        "pod-sandbox-failed",
        "pod/bk0us0notice--web-6f9d8c7b5-p4q8r",
    );
    assert!(text(saas, "evidence").contains("pause) image registry.k8s.io/pause:3.8"));
    assert!(
        commands(saas).contains(&"ssh 10.0.0.12 crictl pull registry.k8s.io/pause:3.8".to_string())
    );
}

#[test]
fn container_hook_failed_says_which_hook_and_covers_the_crash_loop() {
    let r = both("hook-failed");
    let f = one(
        &r,
        "container-hook-failed",
        "pod/bk-notice-api-5b6c7d8e9f-r2d2x",
    );
    assert_eq!(f["severity"], "error");
    assert!(f["title"].as_str().unwrap().contains("postStart"));
    let ev = text(f, "evidence");
    assert!(ev.contains("FailedPostStartHook ×6"), "{ev}");
    assert!(
        ev.contains("Failed to connect to bk-apigateway port 80"),
        "{ev}"
    );
    assert!(of_rule(&r, "pod-crash-loop").is_empty(), "{r:#}");
}

#[test]
fn pod_failed_groups_evictions_and_reports_rejected_and_exited_pods() {
    let r = both("pod-failed");
    assert_eq!(of_rule(&r, "pod-failed").len(), 3, "{r:#}");
    let evicted = one(&r, "pod-failed", "pod/bk-log-collector-6d5c4b3a2-m2n3p");
    // Its Deployment has all its pods again: left behind, info.
    assert_eq!(evicted["severity"], "info");
    let ev = text(evicted, "evidence");
    assert!(
        ev.contains("The node was low on resource: ephemeral-storage"),
        "{ev}"
    );
    assert!(ev.contains("2 pods of deployment/bk-log-collector"), "{ev}");
    assert!(commands(evicted).contains(
        &"kubectl delete pod -n blueking bk-log-collector-6d5c4b3a2-m2n3p bk-log-collector-6d5c4b3a2-h7j8k"
            .to_string()
    ));
    let stress = one(&r, "pod-failed", "pod/stress-test");
    assert_eq!(stress["severity"], "error");
    assert!(text(stress, "evidence").contains("OutOfcpu"));
    // A bare pod is not deleted: nothing would make it again.
    assert!(
        !commands(stress)
            .iter()
            .any(|c| c.starts_with("kubectl delete"))
    );
    let migrate = one(&r, "pod-failed", "pod/bk0us0notice-migrate");
    assert!(text(migrate, "evidence").contains("exited with code 1"));
    assert!(text(migrate, "evidence").contains("Access denied for user 'bk_notice'"));
}

#[test]
fn workload_not_ready_only_where_no_pod_finding_explains_it() {
    let r = both("workload-not-ready");
    let web = one(&r, "workload-not-ready", "deployment/bk0us0notice--web");
    assert_eq!(web["severity"], "error");
    assert!(text(web, "evidence").contains("ProgressDeadlineExceeded"));
    assert!(commands(web).contains(
        &"kubectl get pods -n bkapp-bk0us0notice-prod -l bkapp.paas.bk.tencent.com/module-name=web -o wide"
            .to_string()
    ));
    // The DaemonSet's not-ready pod is probe-failing's: its workload is not reported again.
    assert!(of_rule(&r, "probe-failing").len() == 1, "{r:#}");
    assert!(
        of_rule(&r, "workload-not-ready")
            .iter()
            .all(|f| f["object"] != "daemonset/bk-monitor-agent"),
        "{r:#}"
    );
    // No pod, and the FailedCreate event is gone: the Deployment's ReplicaFailure condition says why.
    let api = one(&r, "workload-not-ready", "deployment/bk-notice-api");
    assert!(
        text(api, "evidence").contains("only 0 of 1 pods exist"),
        "{api:#}"
    );
    assert!(
        commands(api).contains(&"kubectl get serviceaccount -n blueking bk-notice".to_string()),
        "{api:#}"
    );
    // The release whose upgrade waited for it names it.
    let release = one(&r, "helm-release-failed", "release/bk-notice");
    assert!(
        text(release, "evidence")
            .contains("blocked by workload-not-ready on deployment/bk-notice-api"),
        "{release:#}"
    );
    let zk = one(&r, "workload-not-ready", "statefulset/bk-zookeeper");
    assert_eq!(zk["severity"], "warning");
    assert!(text(zk, "evidence").contains("serviceName bk-zookeeper-headless"));
    let gse = one(&r, "workload-not-ready", "statefulset/bk-gse-data");
    assert!(text(gse, "evidence").contains("StorageClass bk-ssd"));
}

#[test]
fn node_condition_reads_node_problem_detector() {
    let r = both("node-condition");
    let ro = one(&r, "node-condition", "node/node-2");
    assert_eq!(ro["severity"], "error");
    assert!(text(ro, "evidence").contains("ReadonlyFilesystem is True"));
    assert!(commands(ro).contains(&"ssh 10.0.0.13 \"grep ' ro,' /proc/mounts\"".to_string()));
    let restarts = one(&r, "node-condition", "node/node-1");
    assert_eq!(restarts["severity"], "warning");
    assert!(of_rule(&r, "node-not-ready").is_empty());
    assert_eq!(of_rule(&r, "node-condition").len(), 2);
}

#[test]
fn lost_and_failed_volumes_and_two_default_classes() {
    let r = both("volume-lost");
    let lost = one(
        &r,
        "volume-lost",
        "persistentvolumeclaim/datadir-bk-mongodb-0",
    );
    assert!(text(lost, "evidence").contains("local-pv-3e5f7a9b no longer exists"));
    // The pod that mounts it is volume-lost's, not pod-unschedulable's.
    assert!(of_rule(&r, "pod-unschedulable").is_empty(), "{r:#}");
    // Never a command that deletes data: that is advice.
    assert!(!commands(lost).iter().any(|c| c.contains("delete")));
    let failed = one(&r, "volume-lost", "persistentvolume/local-pv-9c1d2e3f");
    assert_eq!(failed["severity"], "warning");
    let sc = one(
        &r,
        "storage-class-default-ambiguous",
        "storageclass/local-storage",
    );
    assert_eq!(
        commands(sc),
        [
            r#"kubectl patch storageclass cbs -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"false"}}}'"#,
            "kubectl get storageclass"
        ]
    );
    assert!(text(sc, "evidence").contains("blueking/bk-repo-data"));
}

#[test]
fn a_job_still_retrying_is_info_with_the_failing_pods_log() {
    let r = both("job-retrying");
    let f = one(&r, "job-retrying", "job/bk-notice-init-data");
    assert_eq!(f["severity"], "info");
    let ev = text(f, "evidence");
    assert!(ev.contains("1 of 7 tries failed"), "{ev}");
    assert!(ev.contains("Unknown database 'bk_notice'"), "{ev}");
    assert!(of_rule(&r, "job-failed").is_empty());
    // The pending install it holds names it.
    let pending = one(&r, "helm-operation-in-progress", "release/bk-notice");
    assert!(
        text(pending, "evidence").contains("blocked by job-retrying on job/bk-notice-init-data")
    );
}

#[test]
fn a_healthy_cluster_in_the_middle_of_a_deploy_exits_0() {
    for lang in ["en", "zh"] {
        let (code, r) = check_fixture("mid-deploy", lang);
        assert_eq!(r["findings"].as_array().unwrap().len(), 0, "{r:#}");
        assert_eq!(code, 0);
    }
    // The same claim, measured eleven minutes later, is reported.
    let dir = common::fixture("mid-deploy");
    let later = common::run(&[
        "check",
        "--snapshot",
        dir.to_str().unwrap(),
        "-o",
        "json",
        "--now",
        "2026-11-20T11:11:00Z",
    ])
    .json();
    assert!(!of_rule(&later, "pvc-unbound").is_empty(), "{later:#}");
}

/// Under `helm install --wait` the revision stays pending-install while the pods come up: helm's own
/// lock, seconds old. Information whose commands only look; nothing rolls back a running helm.
#[test]
fn a_deploy_helm_is_still_waiting_for_exits_0_and_only_looks() {
    for lang in ["en", "zh"] {
        let (code, r) = check_fixture("mid-deploy-wait", lang);
        assert_eq!(code, 0, "{r:#}");
        let all = r["findings"].as_array().unwrap();
        assert_eq!(all.len(), 1, "{r:#}");
        let f = one(&r, "helm-operation-in-progress", "release/bk-notice");
        assert_eq!(f["severity"], "info");
        assert_eq!(
            commands(f),
            [
                "helm status -n blueking bk-notice",
                "kubectl bkdoctor watch -n blueking --release bk-notice"
            ]
        );
        let later = text(f, "remediation");
        assert!(
            later.contains("helm uninstall -n blueking bk-notice"),
            "{later}"
        );
    }
    // Twenty minutes on, the same record is a lock nobody holds: an error whose fix uninstalls.
    let dir = common::fixture("mid-deploy-wait");
    let (code, later) = {
        let out = common::run(&[
            "check",
            "--snapshot",
            dir.to_str().unwrap(),
            "-o",
            "json",
            "--now",
            "2026-11-20T11:20:00Z",
        ]);
        (out.code, out.json())
    };
    assert_eq!(code, 1);
    let f = one(&later, "helm-operation-in-progress", "release/bk-notice");
    assert_eq!(f["severity"], "error");
    assert!(commands(f).contains(&"helm uninstall -n blueking bk-notice".to_string()));
}

/// The FailedCreate events expired; the ReplicaSet's own ReplicaFailure condition still says why its
/// Deployment is short. A ReplicaSet whose Deployment is whole again is not named.
#[test]
fn a_replica_sets_own_failure_condition_speaks_when_its_events_are_gone() {
    let r = both("create-failed-condition");
    let f = one(
        &r,
        "workload-create-failed",
        "replicaset/bk-user-api-6c7d9f8b5",
    );
    assert!(
        text(f, "evidence").contains(
            "ReplicaFailure is True: FailedCreate: pods \"bk-user-api-6c7d9f8b5-\" is forbidden"
        ),
        "{f:#}"
    );
    assert_eq!(
        commands(f),
        [
            "kubectl get serviceaccount -n blueking bk-user-api",
            "kubectl describe replicaset -n blueking bk-user-api-6c7d9f8b5"
        ]
    );
    assert!(
        !r.to_string().contains("bk-paas-apiserver-6c9f7d8b4"),
        "{r:#}"
    );
}

#[test]
fn every_near_miss_is_quiet() {
    for lang in ["en", "zh"] {
        let (code, r) = check_fixture("failures-near-miss", lang);
        assert_eq!(r["findings"].as_array().unwrap().len(), 0, "{r:#}");
        assert_eq!(code, 0);
    }
}

/// Live, through the fake API server over HTTPS, the same findings as offline, both languages.
#[test]
fn live_and_offline_give_the_same_findings() {
    use fake_apiserver::FakeApi;
    for fixture in [
        "config-error",
        "pod-failed",
        "workload-not-ready",
        "node-condition",
        "volume-lost",
        "mid-deploy",
        "mid-deploy-wait",
        "create-failed-condition",
    ] {
        let dir = common::fixture(fixture);
        let d = dir.to_str().unwrap();
        let now = common::run(&["check", "--snapshot", d, "-o", "json"]).json()["summary"]
            ["snapshotTime"]
            .as_str()
            .unwrap()
            .to_string();
        let live = common::serve(FakeApi::new().load_dir(&dir));
        for lang in ["en", "zh"] {
            let offline = common::run(&[
                "check",
                "--snapshot",
                d,
                "-o",
                "json",
                "--now",
                &now,
                "--lang",
                lang,
            ]);
            let online = live.run(&["check", "-o", "json", "--now", &now, "--lang", lang]);
            assert_eq!(
                offline.json()["findings"],
                online.json()["findings"],
                "{fixture} ({lang}): findings differ"
            );
            assert_eq!(offline.code, online.code, "{fixture}: exit codes differ");
        }
    }
}
