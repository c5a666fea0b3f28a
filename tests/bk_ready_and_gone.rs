//! BlueKing failures that leave little to see, through the built binary in both languages, offline
//! and live: Ready pods whose current log holds the error (start and end of it read, only for the
//! workloads a signature names), a SaaS pre-release hook known only by its events, uninstall
//! residue, the ages of what a reinstall made again, and the GSE socket that refuses. Each against
//! its near miss. Also the extra log reads this costs a live check.

#[path = "../benches/support/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

mod common;

use fake_apiserver::FakeApi;
use serde_json::Value;

use common::{check_fixture as check, fixture, lines, one, run, serve};

const LANGS: [&str; 2] = ["zh", "en"];

fn rules(v: &Value) -> Vec<String> {
    let mut r: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    r.sort();
    r
}

fn commands(f: &Value) -> Vec<String> {
    lines(f, "remediation")
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .collect()
}

fn mentions(f: &Value, field: &str, text: &str) -> bool {
    lines(f, field).iter().any(|l| l.contains(text))
}

/// Fires on `trigger` with the same commands in both languages, in the language asked for; the
/// near miss reports nothing of it.
fn fires(rule: &str, trigger: &str, object: &str, near_miss: &str) -> Vec<String> {
    let mut per_lang = Vec::new();
    for lang in LANGS {
        let (code, v) = check(trigger, lang);
        assert_eq!(code, 1, "{trigger}: {v:#}");
        let f = match object.split_once(':') {
            Some((ns, object)) => {
                let hits: Vec<&Value> = v["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["rule"] == rule && f["object"] == object && f["namespace"] == ns)
                    .collect();
                assert_eq!(hits.len(), 1, "{rule} {ns}:{object}: {v:#}");
                hits[0]
            }
            None => one(&v, rule, object),
        };
        let title = f["title"].as_str().unwrap();
        let cjk = title
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        assert_eq!(cjk, lang == "zh", "{rule} title {title:?} for {lang}");
        assert!(!lines(f, "evidence").is_empty());
        per_lang.push(commands(f));
        let (_, v) = check(near_miss, lang);
        assert!(
            !rules(&v).iter().any(|r| r == rule),
            "{near_miss}: {rule} fired: {v:#}"
        );
    }
    assert_eq!(
        per_lang[0], per_lang[1],
        "{rule}: commands differ by language"
    );
    per_lang.remove(0)
}

const GW: &str = "pod/bk-job-gateway-6f7d9c8b5-2xq7k";

#[test]
fn ready_pods_are_judged_by_their_current_log_start_and_end() {
    // The ESB error is the gateway's 2nd line of 600: only a read of the log's start finds it.
    let cmds = fires(
        "bkjob-esb-jwt",
        "bk-ready-errors",
        GW,
        "bk-ready-errors-near-miss",
    );
    assert_eq!(
        cmds,
        ["kubectl rollout restart -n blueking deployment/bk-job-gateway"]
    );
    let (_, v) = check("bk-ready-errors", "en");
    let f = one(&v, "bkjob-esb-jwt", GW);
    assert!(mentions(f, "evidence", "(current log): "), "{f:#}");
    assert!(mentions(
        f,
        "evidence",
        "Build esb jwt public key caught error"
    ));
    let cmds = fires(
        "bklogin-static-missing",
        "bk-ready-errors",
        "pod/bk-login-web-7d8c9b6f5-q4w2e",
        "bk-ready-errors-near-miss",
    );
    assert_eq!(
        cmds,
        ["kubectl rollout restart -n blueking deployment/bk-login-web"]
    );
    // A healthy pod no signature names is not read: the cmdb pod's ESB line says nothing.
    assert_eq!(
        rules(&v),
        ["bkjob-esb-jwt", "bklogin-static-missing"],
        "{v:#}"
    );
    let cmds = fires(
        "bkjob-rsa-key",
        "bk-ready-rsa",
        GW,
        "bk-ready-errors-near-miss",
    );
    assert_eq!(
        cmds,
        ["helmfile -f base-blueking.yaml.gotmpl -l name=bk-job sync"]
    );
    let (code, v) = check("bk-ready-errors-near-miss", "en");
    assert_eq!((code, rules(&v)), (0, vec![]), "{v:#}");
    // Not ready, its log as long: the start is read all the same.
    let cmds = fires(
        "bkjob-esb-jwt",
        "bk-notready-long",
        GW,
        "bk-ready-errors-near-miss",
    );
    assert_eq!(
        cmds,
        ["kubectl rollout restart -n blueking deployment/bk-job-gateway"]
    );
}

#[test]
fn deleted_pre_release_hooks_are_found_by_their_events() {
    let dns = fires(
        "saas-registry-unreachable",
        "saas-hook-gone",
        "bkapp-bk0us0itsm-prod:pod/pre-release-hook",
        "saas-hook-gone-near-miss",
    );
    assert!(
        dns.iter().any(|c| c
            == "grep -qxF \"10.96.122.168 docker.bkce7.bktencent.com\" /etc/hosts || echo \"10.96.122.168 docker.bkce7.bktencent.com\" >> /etc/hosts"),
        "{dns:?}"
    );
    for lang in LANGS {
        let (_, v) = check("saas-hook-gone", lang);
        let found: Vec<&Value> = v["findings"].as_array().unwrap().iter().collect();
        assert_eq!(found.len(), 2, "{v:#}");
        let tls = found
            .iter()
            .find(|f| f["namespace"] == "bkapp-bk0us0sops-prod")
            .unwrap();
        assert!(mentions(
            tls,
            "evidence",
            "x509: certificate is valid for ingress.local"
        ));
        assert!(mentions(tls, "evidence", "node-2"));
        let deleted = if lang == "zh" {
            "已被删除"
        } else {
            "deleted"
        };
        assert!(mentions(tls, "evidence", deleted), "{tls:#}");
        assert!(
            commands(tls).iter().any(|c| c
                == "ssh -n 10.0.0.12 \"cd /root/bcs-ops && ./k8s/insecure_registry.sh -c containerd -a docker.bkce7.bktencent.com\""),
            "{tls:#}"
        );
    }
    let (code, v) = check("saas-hook-gone-near-miss", "en");
    assert_eq!((code, rules(&v)), (0, vec![]), "{v:#}");
}

#[test]
fn uninstall_residue_without_its_releases() {
    let cmds = fires(
        "uninstall-residue",
        "bk-residue",
        "clusterrolebinding/bk-paasengine",
        "bk-residue-near-miss",
    );
    assert_eq!(
        cmds,
        [
            "kubectl delete clusterrolebinding bk-paasengine",
            "kubectl -n blueking delete sa bk-paasengine",
            "kubectl delete crd bkapps.paas.bk.tencent.com bklogconfigs.bk.tencent.com",
            "kubectl delete secret,configmap,job -n blueking -l 'app.kubernetes.io/instance in (bk-job,bk-repo)'",
            "kubectl delete configmap -n blueking bk-log-search-grafana-ini --ignore-not-found",
            "kubectl delete secret -n blueking bkpaas3-engine-bkrepo-envs bkpaas3-workloads-bkrepo-envs --ignore-not-found",
        ]
    );
    let (_, v) = check("bk-residue", "en");
    let f = one(&v, "uninstall-residue", "clusterrolebinding/bk-paasengine");
    assert!(!mentions(f, "evidence", "bk-cmdb"), "{f:#}");
    let (code, v) = check("bk-residue-near-miss", "en");
    assert_eq!((code, rules(&v)), (0, vec![]), "{v:#}");
}

#[test]
fn ages_of_what_a_reinstall_made_again() {
    let token = fires(
        "paas-k8s-token-stale",
        "bk-ages",
        "serviceaccount/bk-paasengine",
        "bk-ages-near-miss",
    );
    assert_eq!(
        token,
        [
            "rm -f environments/default/paas3_initial_cluster.yaml",
            "./scripts/create_k8s_cluster_admin_for_paas3.sh",
            "helmfile -f base-blueking.yaml.gotmpl -l name=bk-paas sync",
        ]
    );
    let storage = fires(
        "bkrepo-storage-lost",
        "bk-ages",
        "pvc/bk-repo-bkrepo-storage",
        "bk-ages-near-miss",
    );
    assert!(storage.contains(&"helm history -n blueking bk-paas --max 256".to_string()));
    let auth = fires(
        "bkrepo-auth-not-restarted",
        "bk-ages",
        "deployment/bk-repo-bkrepo-auth",
        "bk-ages-near-miss",
    );
    assert_eq!(
        auth,
        ["kubectl rollout restart deployment -n blueking bk-repo-bkrepo-auth"]
    );
    let (code, v) = check("bk-ages-near-miss", "en");
    assert_eq!((code, rules(&v)), (0, vec![]), "{v:#}");
}

#[test]
fn gse_socket_that_refuses() {
    for lang in LANGS {
        let (_, v) = check("gse-refused", lang);
        let f = one(
            &v,
            "gse-agent-missing",
            "pod/bkmonitor-operator-bkmonitorbeat-daemonset-7xk2p",
        );
        assert!(mentions(f, "evidence", "connect: connection refused"));
        // Another socket refusing is not GSE's.
        assert!(
            !v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["rule"] == "gse-agent-missing"
                    && f["object"] == "pod/bkmonitor-operator-bkmonitorbeat-daemonset-m4q9z"),
            "{v:#}"
        );
    }
}

const FIXTURES: &[&str] = &[
    "bk-ready-errors",
    "bk-ready-rsa",
    "bk-ready-errors-near-miss",
    "bk-notready-long",
    "saas-hook-gone",
    "saas-hook-gone-near-miss",
    "bk-residue",
    "bk-residue-near-miss",
    "bk-ages",
    "bk-ages-near-miss",
    "gse-refused",
];

#[test]
fn live_findings_equal_offline_and_survive_a_snapshot() {
    for name in FIXTURES {
        let dir = fixture(name);
        let d = dir.to_str().unwrap();
        let now = run(&["check", "--snapshot", d, "-o", "json"]).json()["summary"]["snapshotTime"]
            .as_str()
            .unwrap()
            .to_string();
        let offline = run(&["check", "--snapshot", d, "-o", "json", "--now", &now]);
        let live = serve(FakeApi::new().load_dir(&dir));
        let online = live.run(&["check", "-o", "json", "--now", &now]);
        assert_eq!(
            offline.json()["findings"],
            online.json()["findings"],
            "{name}: live and offline differ"
        );
        // What `snapshot DIR` writes (the Ready pods' logs, start and end; the metadata-only
        // lists) gives the same findings read back.
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("snap");
        let written = live.run(&["snapshot", out.to_str().unwrap()]);
        assert_eq!(written.code, 0, "{name}: {}", written.stderr);
        let again = run(&[
            "check",
            "--snapshot",
            out.to_str().unwrap(),
            "-o",
            "json",
            "--now",
            &now,
        ]);
        assert_eq!(
            offline.json()["findings"],
            again.json()["findings"],
            "{name}: a snapshot of the live cluster differs"
        );
    }
}

/// The log requests of a live `check -A` against `api`.
fn log_requests(api: FakeApi) -> Vec<String> {
    let live = serve(api);
    live.server.clear_requests();
    let r = live.run(&["check", "-A", "-o", "json"]);
    assert!(matches!(r.code, 0 | 1), "{}", r.stderr);
    let mut logs: Vec<String> = live
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/log"))
        .map(|r| format!("{}?{}", r.path, r.query))
        .collect();
    logs.sort();
    logs
}

#[test]
fn extra_log_reads_are_the_named_workloads_only() {
    // The gateway's log is longer than the head bound: its start and its tail; bk-login-web's fits
    // in one read; the cmdb pod, Ready and named by no signature, is not read.
    let logs = log_requests(FakeApi::new().load_dir(fixture("bk-ready-errors")));
    assert_eq!(logs.len(), 3, "{logs:#?}");
    let gw: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("bk-job-gateway"))
        .collect();
    assert_eq!(gw.len(), 2, "{logs:#?}");
    assert!(
        gw.iter()
            .any(|l| l.contains("sinceTime=") && l.contains("limitBytes=65536"))
    );
    assert!(gw.iter().any(|l| l.contains("tailLines=150")));
    assert!(!logs.iter().any(|l| l.contains("bk-cmdb")), "{logs:#?}");

    // The bench's synthetic cluster has no workload a signature names: not one read more than
    // its failing containers.
    let cluster = synthetic::generate(synthetic::Shape {
        releases: 20,
        revisions: 3,
        pods: 200,
        nodes: 5,
    });
    let failing = cluster.failing_pods.len();
    let logs = log_requests(cluster.into_server());
    eprintln!(
        "synthetic cluster: {failing} failing pods, {} log reads",
        logs.len()
    );
    assert_eq!(logs.len(), failing, "{logs:#?}");
}

#[test]
fn no_residue_is_claimed_when_the_releases_could_not_be_read() {
    // With helm's Secrets forbidden, no release is known to be gone: the leftovers are not called
    // residue, and the report says what could not be read.
    let live = serve(
        FakeApi::new()
            .load_dir(fixture("bk-residue"))
            .forbid("secrets", None),
    );
    let r = live.run(&["check", "-A", "-o", "json"]);
    let v = r.json();
    assert!(!rules(&v).iter().any(|r| r == "uninstall-residue"), "{v:#}");
    assert!(
        common::skipped(&v)
            .iter()
            .any(|(what, _)| what.contains("uninstall-residue")),
        "{v:#}"
    );
}
