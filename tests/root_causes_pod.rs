//! Why a pod does not run, through the built binary in both languages: each root-cause rule on the
//! fixture that triggers it and the near miss that must not, and pod-crash-loop on a crash loop as a
//! real kubelet shows it between restarts.

mod common;
use common::check_fixture as check;

use serde_json::Value;

use common::{fixture, lines, of_rule, one, run};

const ROOT_CAUSES: &[&str] = &[
    "image-pull-failed",
    "pod-unschedulable",
    "container-oom-killed",
    "probe-failing",
    "init-container-failing",
    "volume-mount-failed",
];

fn commands(f: &Value) -> Vec<String> {
    lines(f, "remediation")
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .collect()
}

fn has(list: &[String], needle: &str) -> bool {
    list.iter().any(|l| l.contains(needle))
}

/// Both languages report the same findings with the same commands; the Chinese report is in
/// Chinese. Returns the English report.
fn both_languages(name: &str) -> Value {
    let (code_en, en) = check(name, "en");
    let (code_zh, zh) = check(name, "zh");
    assert_eq!(code_en, code_zh, "{name}: exit codes differ");
    let fs_en = en["findings"].as_array().unwrap();
    let fs_zh = zh["findings"].as_array().unwrap();
    assert_eq!(fs_en.len(), fs_zh.len(), "{name}");
    for (a, b) in fs_en.iter().zip(fs_zh) {
        for k in ["rule", "object", "severity", "namespace"] {
            assert_eq!(a[k], b[k], "{name}: {k}");
        }
        assert_eq!(
            commands(a),
            commands(b),
            "{name}: {} commands differ",
            a["rule"]
        );
        if ROOT_CAUSES.contains(&a["rule"].as_str().unwrap()) {
            let zh_text = format!("{}{}", b["title"], b["explanation"]);
            assert!(
                zh_text
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{name}: {} not in Chinese: {zh_text}",
                a["rule"]
            );
            assert_ne!(a["title"], b["title"], "{name}");
        }
    }
    en
}

/// No finding of the pod root-cause rules, nor a bare crash loop in their place.
fn quiet(name: &str) {
    for lang in ["en", "zh"] {
        let (code, report) = check(name, lang);
        for rule in ROOT_CAUSES.iter().chain(&["pod-crash-loop"]) {
            assert!(
                of_rule(&report, rule).is_empty(),
                "{name} ({lang}): {rule} must not fire: {report:#}"
            );
        }
        assert_eq!(code, 0, "{name} ({lang}): {report:#}");
    }
}

fn covered_not_repeated(report: &Value) {
    let crash: Vec<&Value> = of_rule(report, "pod-crash-loop");
    for f in report["findings"].as_array().unwrap() {
        if ROOT_CAUSES.contains(&f["rule"].as_str().unwrap()) {
            assert!(
                !crash.iter().any(|c| c["object"] == f["object"]),
                "{} is explained by {}, not a bare crash loop",
                f["object"],
                f["rule"]
            );
        }
    }
}

#[test]
fn image_pull_failed_names_image_node_cause_and_the_runtimes_pull() {
    let r = both_languages("image-pull");
    assert_eq!(of_rule(&r, "image-pull-failed").len(), 3, "{r:#}");

    let user = one(&r, "image-pull-failed", "pod/bk-user-api-6c8d9f7b4-m9zqp");
    assert_eq!(user["severity"], "error");
    let ev = lines(user, "evidence");
    assert!(
        has(
            &ev,
            "image hub.bktencent.com/blueking/bk-user-api:v9.9.9 on node node-1 (10.0.0.12): ImagePullBackOff"
        ),
        "{ev:?}"
    );
    // The registry's answer is at the end of the kubelet's long message: it must survive clipping.
    assert!(
        has(
            &ev,
            "lookup hub.bktencent.com on 127.0.0.53:53: no such host"
        ),
        "{ev:?}"
    );
    assert!(
        has(&ev, "cannot resolve the registry's name hub.bktencent.com"),
        "{ev:?}"
    );
    assert!(has(&ev, "pull failed 5 time(s)"), "{ev:?}");
    assert_eq!(
        commands(user),
        [
            "ssh 10.0.0.12 nslookup hub.bktencent.com",
            "ssh 10.0.0.12 crictl pull hub.bktencent.com/blueking/bk-user-api:v9.9.9",
            "kubectl delete pod -n blueking bk-user-api-6c8d9f7b4-m9zqp",
        ]
    );

    // node-2 runs dockerd: docker's pull and docker's way of trusting a registry.
    let lesscode = one(&r, "image-pull-failed", "pod/bk-lesscode-5f8b7c9d6-q2w4e");
    let fix = lines(lesscode, "remediation");
    assert!(has(
        &lines(lesscode, "evidence"),
        "does not trust the certificate of docker.bkce7.bktencent.com"
    ));
    assert!(has(&fix, "insecure-registries"), "{fix:?}");
    assert!(
        !has(&fix, "certs.d/docker.bkce7.bktencent.com/hosts.toml"),
        "{fix:?}"
    );
    assert!(
        fix.contains(&"ssh 10.0.0.13 docker pull docker.bkce7.bktencent.com/bkpaas/docker/bk_lesscode/default:1.1.0".to_string()),
        "{fix:?}"
    );

    // A bare pod is not deleted: nothing would create it again.
    let nsenter = one(&r, "image-pull-failed", "pod/nsenter-x7k2pq");
    assert!(has(
        &lines(nsenter, "evidence"),
        "does not exist in hub.bktencent.com"
    ));
    assert_eq!(
        commands(nsenter),
        ["ssh 10.0.0.12 crictl pull hub.bktencent.com/library/busybox:1.34.0"]
    );
    assert!(has(&lines(nsenter, "remediation"), "has no controller"));
}

#[test]
fn image_pull_near_miss_recovered_pod_and_an_old_event() {
    quiet("image-pull-near-miss");
}

#[test]
fn image_pull_failed_knows_blueking_probe_pod_overseas_hub_and_dead_mirrors() {
    let r = both_languages("bk-image-pull");
    assert_eq!(of_rule(&r, "image-pull-failed").len(), 3, "{r:#}");

    // The one-click script's probe pod, deleted by `kubectl run --rm`: found from its events, the
    // script re-run with the domain the Ingresses serve.
    let probe = one(&r, "image-pull-failed", "pod/nsenter-q8w3zt");
    assert_eq!(probe["namespace"], "blueking");
    let ev = lines(probe, "evidence");
    assert!(has(&ev, "is gone (kubectl run --rm deletes it)"), "{ev:?}");
    assert!(
        has(&ev, "probe pod of BlueKing's one-click script"),
        "{ev:?}"
    );
    assert!(has(&ev, "cannot reach hub.bktencent.com"), "{ev:?}");
    assert_eq!(
        commands(probe),
        [
            "ssh 10.0.0.12 curl -sS -m 10 -o /dev/null https://hub.bktencent.com/v2/",
            "ssh 10.0.0.12 crictl pull hub.bktencent.com/library/busybox:1.34.0",
            "scripts/setup_bkce7.sh -i base --domain bkce7.bktencent.com",
        ]
    );
    let fix = lines(probe, "remediation");
    assert!(has(&fix, "export REGISTRY=IP:PORT"), "{fix:?}");
    assert!(!has(&fix, "kubectl delete pod"), "{fix:?}");

    let job = one(
        &r,
        "image-pull-failed",
        "pod/bk-job-gateway-5d7c8b9f6-k4j8n",
    );
    assert!(has(&lines(job, "evidence"), "overseas (Singapore) node"));
    let fix = lines(job, "remediation");
    let hosts = fix
        .iter()
        .position(|l| l.starts_with('#') && l.contains("\"49.234.165.79 hub.bktencent.com\""))
        .expect("the hosts workaround");
    assert!(fix[hosts].contains("node-2 (10.0.0.13)"), "{fix:?}");
    assert!(has(&fix, "ask BlueKing support"), "{fix:?}");
    let pull = fix
        .iter()
        .position(|l| {
            l == "ssh 10.0.0.13 docker pull hub.bktencent.com/blueking/bk-job-gateway:3.9.9"
        })
        .expect("pull by hand");
    assert!(
        hosts < pull,
        "the workaround comes before the check: {fix:?}"
    );

    let demo = one(&r, "image-pull-failed", "pod/nginx-demo-7f9d8c6b5-w2x4z");
    assert!(has(
        &lines(demo, "evidence"),
        "fell back to Docker Hub (registry-1.docker.io)"
    ));
    let fix = lines(demo, "remediation");
    assert!(
        has(&fix, "REPO_MIRRORS=https://hub.bktencent.com"),
        "{fix:?}"
    );
    assert_eq!(
        commands(demo),
        [
            "ssh 10.0.0.13 curl -sS -m 10 -o /dev/null https://registry-1.docker.io/v2/",
            "ssh 10.0.0.13 docker pull nginx:1.25",
            "kubectl delete pod -n default nginx-demo-7f9d8c6b5-w2x4z",
        ]
    );
    // None of these BlueKing lines where the registry said something else.
    let plain = both_languages("image-pull");
    let user = one(
        &plain,
        "image-pull-failed",
        "pod/bk-user-api-6c8d9f7b4-m9zqp",
    );
    let fix = lines(user, "remediation");
    assert!(
        !has(&fix, "49.234.165.79") && !has(&fix, "REPO_MIRRORS") && !has(&fix, "setup_bkce7.sh")
    );
    // A probe pod with no Ingress to tell the domain: the re-run is a step to fill in.
    let nsenter = one(&plain, "image-pull-failed", "pod/nsenter-x7k2pq");
    assert!(has(
        &lines(nsenter, "remediation"),
        "# scripts/setup_bkce7.sh -i base --domain BK_DOMAIN"
    ));
}

#[test]
fn bk_image_pull_near_miss_old_probe_events_other_namespace_and_a_recovered_pull() {
    quiet("bk-image-pull-near-miss");
}

#[test]
fn pod_unschedulable_compares_the_nodes_with_blueking_sizing() {
    // 16 GB nodes: smaller than BlueKing asks for.
    let r = both_languages("unschedulable");
    let mysql = one(&r, "pod-unschedulable", "pod/bk-mysql-mysql-0");
    assert!(
        has(
            &lines(mysql, "evidence"),
            "3 of 3 node(s) are smaller: master-1 (cpu 8, memory 15.5Gi), node-1 (cpu 8, memory 15.5Gi), node-2 (cpu 8, memory 15.5Gi)"
        ),
        "{mysql:#}"
    );
    assert!(has(&lines(mysql, "remediation"), "# BlueKing: add nodes"));
    // A taint or selector is no matter of size.
    let nginx = one(
        &r,
        "pod-unschedulable",
        "pod/bk-ingress-nginx-controller-6f7d8c9b5-w2x4z",
    );
    assert!(!has(&lines(nginx, "evidence"), "8 cores and 32 GB"));

    // Nodes of 8 cores and 32 GB: a pod too big for them says nothing about sizing.
    let r = both_languages("bk-unschedulable-near-miss");
    let big = one(
        &r,
        "pod-unschedulable",
        "pod/bk-log-search-api-5f6d7c8b9-z8x7c",
    );
    assert!(
        has(&lines(big, "evidence"), "the pod requests cpu 12 (12000m)"),
        "{big:#}"
    );
    assert!(
        !has(&lines(big, "evidence"), "8 cores and 32 GB"),
        "{big:#}"
    );
    assert!(!has(&lines(big, "remediation"), "32 GB"), "{big:#}");
}

#[test]
fn local_volumes_used_up_name_the_size_and_blueking_mount_points() {
    let r = both_languages("bk-localpv");
    let pod = one(&r, "pod-unschedulable", "pod/bk-mysql-mysql-0");
    assert!(has(
        &lines(pod, "evidence"),
        "local volumes (class local-storage) are used up"
    ));
    assert!(commands(pod).contains(&"kubectl get pvc -A | grep -vw Bound".to_string()));
    let claim = one(
        &r,
        "pvc-unbound",
        "persistentvolumeclaim/data-bk-mysql-mysql-0",
    );
    assert!(has(
        &lines(claim, "evidence"),
        "needs 50Gi; no free volume of class local-storage is large enough: the largest is local-pv-6c1b2a9e (20Gi)"
    ));
    let fix = lines(claim, "remediation");
    assert!(
        has(&fix, "localpv.hostDir (default /mnt/blueking/)"),
        "{fix:?}"
    );
    assert!(
        has(&fix, "helmfile -f 00-localpv.yaml.gotmpl sync"),
        "{fix:?}"
    );
    // An immediate claim that is unbound is another cause: no word of local volumes.
    let r = both_languages("unschedulable");
    let es = one(
        &r,
        "pod-unschedulable",
        "pod/bk-elastic-elasticsearch-master-0",
    );
    assert!(!has(&lines(es, "evidence"), "local volumes"), "{es:#}");
    assert!(!commands(es).iter().any(|c| c.contains("grep -vw Bound")));
}

#[test]
fn pod_unschedulable_reads_the_schedulers_reasons_back_into_the_cluster() {
    let r = both_languages("unschedulable");
    assert_eq!(of_rule(&r, "pod-unschedulable").len(), 3, "{r:#}");

    let mysql = one(&r, "pod-unschedulable", "pod/bk-mysql-mysql-0");
    let ev = lines(mysql, "evidence");
    assert!(
        has(
            &ev,
            "scheduler: 0/3 nodes are available: 1 Insufficient memory"
        ),
        "{ev:?}"
    );
    assert!(has(&ev, "the pod requests memory 6Gi"), "{ev:?}");
    assert!(
        has(
            &ev,
            "node node-2: memory allocatable 15.4Gi, requested by its pods 11.0Gi, free 4.4Gi"
        ),
        "{ev:?}"
    );
    assert!(
        has(
            &ev,
            "node master-1 has taint node-role.kubernetes.io/control-plane:NoSchedule"
        ),
        "{ev:?}"
    );
    assert!(has(&ev, "cordoned nodes: node-1"), "{ev:?}");
    // The cordon is reported as a cordon, not again as its taint.
    assert!(!has(&ev, "node.kubernetes.io/unschedulable"), "{ev:?}");
    assert_eq!(
        commands(mysql),
        [
            "kubectl uncordon node-1",
            "kubectl describe pod -n blueking bk-mysql-mysql-0"
        ]
    );
    assert!(has(
        &lines(mysql, "remediation"),
        "lower resources.requests.memory in the values of bk-mysql"
    ));

    let es = one(
        &r,
        "pod-unschedulable",
        "pod/bk-elastic-elasticsearch-master-0",
    );
    let ev = lines(es, "evidence");
    assert!(
        has(
            &ev,
            "its volume claim data-bk-elastic-elasticsearch-master-0 is Pending (see pvc-unbound)"
        ),
        "{ev:?}"
    );
    assert!(commands(es).contains(
        &"kubectl describe pvc -n blueking data-bk-elastic-elasticsearch-master-0".to_string()
    ));

    let ingress = one(
        &r,
        "pod-unschedulable",
        "pod/bk-ingress-nginx-controller-6f7d8c9b5-w2x4z",
    );
    let ev = lines(ingress, "evidence");
    assert!(
        has(&ev, "no node has the label bk.tencent.com/role=ingress"),
        "{ev:?}"
    );
    // kubernetes.io/os=linux is on every node: not a reason.
    assert!(!has(&ev, "kubernetes.io/os=linux"), "{ev:?}");
}

#[test]
fn pod_unschedulable_without_any_scheduler() {
    let r = both_languages("no-scheduler");
    let f = one(&r, "pod-unschedulable", "pod/bk-paas-webfe-5d7b9c6f8-mq7rt");
    assert!(has(
        &lines(f, "evidence"),
        "without a PodScheduled condition"
    ));
    assert_eq!(
        commands(f),
        ["kubectl get pods -n kube-system -l component=kube-scheduler"]
    );
}

#[test]
fn pod_unschedulable_near_miss_placed_since_and_just_created() {
    quiet("unschedulable-near-miss");
}

#[test]
fn container_oom_killed_error_when_it_keeps_dying_warning_for_one_kill() {
    let r = both_languages("oom");
    covered_not_repeated(&r);
    let search = one(
        &r,
        "container-oom-killed",
        "pod/bk-log-search-api-7c9d8f6b5-t4k8m",
    );
    assert_eq!(search["severity"], "error");
    let ev = lines(search, "evidence");
    assert!(
        has(
            &ev,
            "CrashLoopBackOff, 6 restarts; last killed (exit code 137)"
        ),
        "{ev:?}"
    );
    assert!(has(&ev, "memory request 512Mi, limit 512Mi"), "{ev:?}");
    assert!(has(&ev, "node node-1 (10.0.0.12)"), "{ev:?}");
    // `kubectl logs -p` gave the kubelet's "no log" sentence; the current log holds the output.
    assert!(has(&ev, "> Killed"), "{ev:?}");
    assert!(!has(&ev, "unable to retrieve"), "{ev:?}");
    let fix = lines(search, "remediation");
    assert!(has(
        &fix,
        "raise resources.limits.memory of container api (now 512Mi) in the values of bk-log-search"
    ));
    assert!(has(&fix, "# helmfile -f FILE -l name=bk-log-search sync"));
    // BlueKing's guide: the release's helmfile file, its custom-values file, the limits on the pod.
    assert!(
        commands(search).contains(&"grep -lw bk-log-search *.yaml.gotmpl".to_string()),
        "{fix:?}"
    );
    assert!(has(&fix, "custom-values.yaml.gotmpl"), "{fix:?}");
    assert!(
        has(
            &fix,
            "jq '.spec.containers[] | select(.name==\"api\") | .resources.limits'"
        ),
        "{fix:?}"
    );

    let transfer = one(
        &r,
        "container-oom-killed",
        "pod/bk-monitor-transfer-6b7c8d9e5-p9q8r",
    );
    assert_eq!(transfer["severity"], "warning");
    let ev = lines(transfer, "evidence");
    assert!(has(&ev, "Terminated (OOMKilled)"), "{ev:?}");
    assert!(
        has(&ev, "node-2 (10.0.0.13) itself reports MemoryPressure"),
        "{ev:?}"
    );
}

#[test]
fn container_oom_killed_near_miss_one_kill_yesterday() {
    quiet("oom-near-miss");
}

#[test]
fn probe_failing_quotes_the_probe_even_an_exec_probes_empty_answer() {
    let r = both_languages("probe");
    covered_not_repeated(&r);
    let paas = one(&r, "probe-failing", "pod/bk-paas-apiserver-6c9f7d8b4-x2k9p");
    // Its release failed: helm --wait waited for this pod.
    assert_eq!(paas["severity"], "error");
    let ev = lines(paas, "evidence");
    assert!(has(&ev, "readiness probe failed 65 time(s)"), "{ev:?}");
    assert!(has(&ev, "connect: connection refused"), "{ev:?}");
    assert!(
        has(
            &ev,
            "readiness probe: http-get http://:8080/healthz delay=10s timeout=1s period=5s"
        ),
        "{ev:?}"
    );
    assert!(
        has(
            &ev,
            "(no message: the exec probe's command exited non-zero)"
        ),
        "{ev:?}"
    );
    assert!(has(&ev, "exec [sh -c test -f /tmp/ready]"), "{ev:?}");
    assert!(
        has(
            &ev,
            "> 2026-11-20 10:59:40,332 WARNING [apiserver] waiting for bk-mysql-mysql:3306"
        ),
        "{ev:?}"
    );
    assert!(
        commands(paas).contains(
            &"kubectl logs -n blueking bk-paas-apiserver-6c9f7d8b4-x2k9p -c apiserver --tail=50"
                .to_string()
        )
    );

    let iam = one(&r, "probe-failing", "pod/bk-iam-saas-web-5d6c7b8f9-h2j4k");
    assert_eq!(iam["severity"], "warning");
    // Restarted more than 3 times: the guide's resource-limit advice; bk-paas, never restarted, not.
    assert!(
        commands(iam).contains(&"grep -lw bk-iam *.yaml.gotmpl".to_string()),
        "{iam:#}"
    );
    assert!(has(
        &lines(iam, "remediation"),
        "# helmfile -f FILE -l name=bk-iam sync"
    ));
    assert!(!has(&lines(paas, "remediation"), "yaml.gotmpl"), "{paas:#}");
    let ev = lines(iam, "evidence");
    assert!(has(&ev, "liveness probe failed 12 time(s)"), "{ev:?}");
    assert!(has(&ev, "HTTP probe failed with statuscode: 500"), "{ev:?}");

    let (_, zh) = check("probe", "zh");
    let zh_paas = one(
        &zh,
        "probe-failing",
        "pod/bk-paas-apiserver-6c9f7d8b4-x2k9p",
    );
    assert!(
        has(&lines(zh_paas, "evidence"), "就绪探针自"),
        "{zh_paas:#}"
    );
}

#[test]
fn probe_failing_near_miss_recovered_and_old_failures() {
    quiet("probe-near-miss");
}

#[test]
fn init_container_failing_names_what_it_waits_for() {
    let r = both_languages("init-failing");
    covered_not_repeated(&r);
    let saas = one(
        &r,
        "init-container-failing",
        "pod/bk-iam-saas-web-5d6c7b8f9-h2j4k",
    );
    assert_eq!(saas["severity"], "error");
    let ev = lines(saas, "evidence");
    assert!(
        has(
            &ev,
            "init container check-mysql (1/1): CrashLoopBackOff, 6 restarts"
        ),
        "{ev:?}"
    );
    assert!(has(&ev, "last exit: code 1 (Error)"), "{ev:?}");
    assert!(has(&ev, "> cannot reach bk-mysql"), "{ev:?}");
    assert!(!has(&ev, "unable to retrieve"), "{ev:?}");
    assert!(has(&ev, "its log names bk-mysql"), "{ev:?}");
    assert_eq!(
        commands(saas),
        [
            // Waiting out its back-off, the container's log is its last instance's: `-p` reads it.
            "kubectl logs -n blueking bk-iam-saas-web-5d6c7b8f9-h2j4k -c check-mysql -p",
            "kubectl get pods -n blueking -l app.kubernetes.io/instance=bk-mysql",
            "kubectl describe pod -n blueking bk-iam-saas-web-5d6c7b8f9-h2j4k",
        ]
    );
    let repo = one(
        &r,
        "init-container-failing",
        "pod/bk-repo-bkrepo-repository-5f6d7c8b9-2wzvd",
    );
    let ev = lines(repo, "evidence");
    assert!(
        has(&ev, "init container wait-for-redis (1/2): Running"),
        "{ev:?}"
    );
    assert!(has(&ev, "running for 19m"), "{ev:?}");
    assert!(
        commands(repo).contains(&"kubectl get endpoints -n blueking bk-redis-master".to_string())
    );
}

#[test]
fn init_container_failing_near_miss_finished_and_just_started() {
    quiet("init-near-miss");
}

#[test]
fn volume_mount_failed_names_the_missing_object() {
    let r = both_languages("volume-mount");
    let gw = one(
        &r,
        "volume-mount-failed",
        "pod/bk-apigateway-apigateway-7b8c9d6f5-k3l5m",
    );
    assert_eq!(
        gw["title"],
        "bk-apigateway-apigateway-7b8c9d6f5-k3l5m cannot mount its volumes: secret bk-apigateway-tls not found"
    );
    let ev = lines(gw, "evidence");
    assert!(
        has(&ev, "volume tls: secret bk-apigateway-tls does not exist"),
        "{ev:?}"
    );
    assert!(has(&ev, "FailedMount (×11)"), "{ev:?}");
    assert_eq!(
        commands(gw)[0],
        "kubectl get secret -n blueking bk-apigateway-tls"
    );
    assert!(has(&lines(gw, "remediation"), "helmfile's order"));
    let dash = one(
        &r,
        "volume-mount-failed",
        "pod/bk-apigateway-dashboard-6c7d8e9f5-n4m6p",
    );
    assert_eq!(
        commands(dash)[0],
        "kubectl get configmap -n blueking bk-apigateway-dashboard-config"
    );
}

#[test]
fn volume_mount_failed_near_miss_running_now_and_an_old_event() {
    quiet("volume-near-miss");
}

#[test]
fn crash_loop_between_restarts_as_a_real_kubelet_shows_it() {
    let r = both_languages("crash-loop-terminated");
    let f = one(&r, "pod-crash-loop", "pod/bk-job-execute-6d8f7c9b5-w7x2c");
    let ev = lines(f, "evidence");
    // state.terminated is the instance that just died; lastState is an older one.
    assert_eq!(ev[0], "Terminated (Error), 5 restarts");
    assert!(
        ev[1].starts_with("last exit: code 2 (Error) at 2026-11-20T10:59:55Z"),
        "{ev:?}"
    );
    assert!(
        has(&ev, "config file /data/bkee/job/job.yml is missing"),
        "{ev:?}"
    );
    assert!(!has(&ev, "unable to retrieve container logs"), "{ev:?}");
    assert_eq!(
        commands(f)[0],
        "kubectl logs -n blueking bk-job-execute-6d8f7c9b5-w7x2c -c job-execute"
    );
}

#[test]
fn table_in_chinese_names_the_rules() {
    let dir = fixture("image-pull");
    let r = run(&[
        "check",
        "--snapshot",
        dir.to_str().unwrap(),
        "--lang",
        "zh",
        "--no-color",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("image-pull-failed"), "{}", r.stdout);
    assert!(r.stdout.contains("无法拉取镜像"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("ssh 10.0.0.12 crictl pull hub.bktencent.com/blueking/bk-user-api:v9.9.9")
    );
}

const FIXTURES: &[&str] = &[
    "image-pull",
    "image-pull-near-miss",
    "bk-image-pull",
    "bk-image-pull-near-miss",
    "unschedulable",
    "bk-unschedulable-near-miss",
    "bk-localpv",
    "unschedulable-near-miss",
    "no-scheduler",
    "oom",
    "oom-near-miss",
    "probe",
    "probe-near-miss",
    "init-failing",
    "init-near-miss",
    "volume-mount",
    "volume-near-miss",
    "crash-loop-terminated",
];

fn offline_now(dir: &std::path::Path) -> String {
    let r = run(&["check", "--snapshot", dir.to_str().unwrap(), "-o", "json"]);
    r.json()["summary"]["snapshotTime"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Live, a `check` keeps of each pod only what rules read: requests, limits, probes, volumes,
/// tolerations and node selectors must survive, or these findings would differ.
#[test]
fn live_finds_the_same_root_causes_as_offline() {
    for name in FIXTURES {
        let dir = fixture(name);
        let now = offline_now(&dir);
        for lang in ["en", "zh"] {
            let offline = run(&[
                "check",
                "--snapshot",
                dir.to_str().unwrap(),
                "-o",
                "json",
                "--now",
                &now,
                "--lang",
                lang,
            ]);
            let live = common::serve(fake_apiserver::FakeApi::new().load_dir(&dir));
            let online = live.run(&["check", "-o", "json", "--now", &now, "--lang", lang]);
            assert_eq!(
                offline.json()["findings"],
                online.json()["findings"],
                "{name} ({lang}): live differs from offline"
            );
            assert_eq!(offline.code, online.code, "{name}");
            assert_eq!(online.json()["skipped"], serde_json::json!([]), "{name}");
        }
    }
}

/// Without a previous log on file the fake answers `kubectl logs -p` as the recorded kubelet does
/// between restarts: 200, `unable to retrieve container logs for containerd://<lastState's id>`.
/// The doctor takes that for "no previous log" and reads the current one, as offline.
#[test]
fn the_kubelets_no_previous_log_answer_live() {
    let dir = fixture("crash-loop-terminated");
    let now = offline_now(&dir);
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(&dir, tmp.path());
    let previous = tmp
        .path()
        .join("logs/blueking/bk-job-execute-6d8f7c9b5-w7x2c/job-execute.previous.log");
    std::fs::remove_file(&previous).unwrap();
    let live = common::serve(fake_apiserver::FakeApi::new().load_dir(tmp.path()));
    let online = live.run(&["check", "-o", "json", "--now", &now]);
    let offline = run(&[
        "check",
        "--snapshot",
        dir.to_str().unwrap(),
        "-o",
        "json",
        "--now",
        &now,
    ]);
    assert_eq!(offline.json()["findings"], online.json()["findings"]);
    let asked: Vec<u16> = live
        .server
        .requests()
        .into_iter()
        .filter(|r| {
            r.path.ends_with("/pods/bk-job-execute-6d8f7c9b5-w7x2c/log")
                && r.params.get("previous").map(String::as_str) == Some("true")
        })
        .map(|r| r.status)
        .collect();
    assert_eq!(
        asked,
        [200],
        "the previous log is asked for once, and answered as a kubelet does"
    );

    // The snapshot a live run writes keeps no previous log: the kubelet's sentence is not log text.
    let out = tmp.path().join("written");
    let w = live.run(&["snapshot", out.to_str().unwrap()]);
    assert_eq!(w.code, 0, "{}", w.stderr);
    let written = out.join("logs/blueking/bk-job-execute-6d8f7c9b5-w7x2c");
    assert!(
        written.join("job-execute.log").is_file(),
        "{:?}",
        common::walk(&out)
    );
    assert!(!written.join("job-execute.previous.log").exists());
}
