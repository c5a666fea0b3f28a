//! The log-signature rules through the built binary: each rule on a snapshot that triggers it and
//! on a near miss that must not, in both languages, with the filled-in commands and exit codes.

mod common;

use std::time::Instant;

use assert_cmd::Command;
use serde_json::Value;

use common::{Run, copy_dir, fixture};

const LANGS: [&str; 2] = ["zh", "en"];

fn bin() -> Command {
    let mut c = Command::cargo_bin("kubectl-bkdoctor").unwrap();
    // The language must come from --lang alone, whatever the machine's locale.
    c.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG");
    c
}

fn run(args: &[&str]) -> Run {
    let started = Instant::now();
    let out = bin().args(args).output().unwrap();
    Run {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        took: started.elapsed(),
    }
}

/// `check -o json` on a fixture; returns the exit code and the findings.
fn check(scenario: &str, lang: &str, extra: &[&str]) -> (i32, Vec<Value>) {
    let dir = fixture(scenario);
    let mut args = vec![
        "check",
        "--snapshot",
        dir.to_str().unwrap(),
        "-o",
        "json",
        "--lang",
        lang,
    ];
    args.extend_from_slice(extra);
    let r = run(&args);
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{scenario}: not JSON ({e}): {}{}", r.stdout, r.stderr));
    assert!(
        v["skipped"].as_array().unwrap().is_empty(),
        "{scenario}: {v}"
    );
    (r.code, v["findings"].as_array().unwrap().clone())
}

fn rules(findings: &[Value]) -> Vec<&str> {
    let mut r: Vec<&str> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    r.sort();
    r
}

fn one<'a>(findings: &'a [Value], rule: &str, object: &str) -> &'a Value {
    let hits: Vec<_> = findings
        .iter()
        .filter(|f| f["rule"] == rule && f["object"] == object)
        .collect();
    assert_eq!(hits.len(), 1, "{rule} {object} in {findings:#?}");
    hits[0]
}

fn strings(f: &Value, field: &str) -> Vec<String> {
    f[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} in {f}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn has_line(f: &Value, field: &str, line: &str) -> bool {
    strings(f, field).iter().any(|l| l == line)
}

fn mentions(f: &Value, field: &str, text: &str) -> bool {
    strings(f, field).iter().any(|l| l.contains(text))
}

fn position(f: &Value, field: &str, pred: impl Fn(&str) -> bool) -> usize {
    strings(f, field)
        .iter()
        .position(|l| pred(l))
        .unwrap_or_else(|| panic!("no matching {field} line in {f:#}"))
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// The title is in the language asked for.
fn title_in(f: &Value, lang: &str) {
    let t = f["title"].as_str().unwrap();
    assert_eq!(is_cjk(t), lang == "zh", "title {t:?} for --lang {lang}");
}

#[test]
fn dns_unresolvable_names_pods_services_and_dns_ip() {
    for lang in LANGS {
        let (code, fs) = check("dns-redis", lang, &[]);
        assert_eq!(code, 1);
        // Linked, not repeated: the crash-looping Elasticsearch and redis-cluster pods get no
        // pod-crash-loop of their own.
        assert_eq!(rules(&fs), ["dns-unresolvable", "redis-cluster-stale-data"]);
        let f = one(&fs, "dns-unresolvable", "namespace/blueking");
        assert_eq!(f["namespace"], "blueking");
        assert_eq!(f["severity"], "error");
        title_in(f, lang);
        for pod in [
            "bk-elastic-elasticsearch-coordinating-only-0",
            "bk-elastic-elasticsearch-data-0",
            "bk-redis-cluster-0",
            "bk-redis-cluster-1",
        ] {
            assert!(
                mentions(f, "evidence", &format!("pod {pod}")),
                "{pod}: {f:#}"
            );
        }
        // Ready, so its old identical error is not evidence.
        assert!(!mentions(f, "evidence", "elasticsearch-master-0"), "{f:#}");
        assert!(mentions(f, "evidence", "10.96.0.10"));
        for name in [
            "bk-elastic-elasticsearch-master.blueking.svc.cluster.local",
            "bk-redis-cluster-1.bk-redis-cluster-headless.blueking.svc.cluster.local",
            "bk-redis-cluster-2.bk-redis-cluster-headless.blueking.svc.cluster.local",
        ] {
            assert!(
                has_line(f, "remediation", &format!("nslookup {name} 10.96.0.10")),
                "{name}: {f:#}"
            );
        }
        let nodes = position(f, "remediation", |l| l.starts_with('#'));
        let r = strings(f, "remediation");
        assert!(r[nodes].contains("node-1 10.0.0.12") && r[nodes].contains("master-1 10.0.0.11"));
        assert!(has_line(
            f,
            "remediation",
            "kubectl get pods -n kube-system -l k8s-app=kube-dns -o wide"
        ));
        let policy = if lang == "zh" {
            "网络策略"
        } else {
            "network policy"
        };
        assert!(f["explanation"].as_str().unwrap().contains(policy));
    }
}

#[test]
fn dns_near_miss_external_name_and_ready_pod() {
    for lang in LANGS {
        let (code, fs) = check("dns-near-miss", lang, &[]);
        // The crash loop is still reported, as a bare crash loop with its last log lines.
        assert_eq!(code, 1);
        assert_eq!(rules(&fs), ["pod-crash-loop"]);
        let f = one(&fs, "pod-crash-loop", "pod/bk-lesscode-5c7f9d8b6-8vxkp");
        assert!(has_line(
            f,
            "evidence",
            "> java.net.UnknownHostException: mirrors.tencent.com: Name or service not known"
        ));
        assert!(has_line(
            f,
            "remediation",
            "kubectl logs -p -n blueking bk-lesscode-5c7f9d8b6-8vxkp -c lesscode"
        ));
    }
}

#[test]
fn redis_cluster_stale_data_says_fix_dns_first() {
    for lang in LANGS {
        let (_, fs) = check("dns-redis", lang, &[]);
        let f = one(&fs, "redis-cluster-stale-data", "release/bk-redis-cluster");
        assert_eq!(f["namespace"], "blueking");
        title_in(f, lang);
        assert!(mentions(f, "evidence", "bk-redis-cluster-0"));
        assert!(mentions(f, "evidence", "bk-redis-cluster-1"));
        // Running but never restarted: not crashing.
        assert!(!mentions(f, "evidence", "bk-redis-cluster-2 "));
        assert!(mentions(f, "evidence", "redis-data-bk-redis-cluster-2"));
        let dns_first = position(f, "remediation", |l| {
            l.starts_with('#') && l.contains("dns-unresolvable")
        });
        let warn = position(f, "remediation", |l| {
            l.starts_with('#') && (l.contains("WARNING") || l.contains("警告"))
        });
        let delete = position(f, "remediation", |l| {
            l == "kubectl delete pvc -n blueking -l app.kubernetes.io/instance=bk-redis-cluster"
        });
        let sync = position(f, "remediation", |l| {
            l == "helmfile -f base-storage.yaml.gotmpl -l name=bk-redis-cluster sync"
        });
        assert!(dns_first < warn && warn < delete && delete < sync, "{f:#}");
        assert!(mentions(f, "evidence", "dns-unresolvable"));
    }
}

#[test]
fn redis_cluster_stale_data_alone_in_another_namespace() {
    for lang in LANGS {
        let (code, fs) = check("redis-cluster", lang, &[]);
        assert_eq!(code, 1);
        assert_eq!(rules(&fs), ["redis-cluster-stale-data"]);
        let f = one(&fs, "redis-cluster-stale-data", "release/bk-redis-cluster");
        assert_eq!(f["namespace"], "bkce");
        assert!(has_line(
            f,
            "remediation",
            "kubectl delete pvc -n bkce -l app.kubernetes.io/instance=bk-redis-cluster"
        ));
        assert!(has_line(
            f,
            "remediation",
            "helmfile -f base-storage.yaml.gotmpl -l name=bk-redis-cluster sync"
        ));
        assert!(!mentions(f, "remediation", "dns-unresolvable"));
        assert!(!mentions(f, "evidence", "dns-unresolvable"));
        let warn = if lang == "zh" { "警告" } else { "WARNING" };
        assert!(mentions(f, "remediation", warn));
    }
}

#[test]
fn redis_near_miss_ready_cluster_and_plain_redis() {
    for lang in LANGS {
        let (code, fs) = check("redis-near-miss", lang, &[]);
        assert_eq!(code, 1);
        assert_eq!(rules(&fs), ["pod-crash-loop"]);
        one(&fs, "pod-crash-loop", "pod/bk-redis-master-0");
    }
}

#[test]
fn ipv6_disabled_names_node_and_both_fixes() {
    for lang in LANGS {
        let (code, fs) = check("ipv6", lang, &[]);
        assert_eq!(code, 1);
        assert_eq!(rules(&fs), ["ipv6-disabled"]);
        let f = one(
            &fs,
            "ipv6-disabled",
            "pod/bk-repo-bkrepo-gateway-6b8d9f7c5-qz4tn",
        );
        assert_eq!(f["namespace"], "bkce");
        assert_eq!(f["severity"], "error");
        title_in(f, lang);
        assert!(f["title"].as_str().unwrap().contains("node-2"));
        assert!(mentions(
            f,
            "evidence",
            "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)"
        ));
        assert!(mentions(f, "remediation", "node-2"));
        assert!(mentions(f, "remediation", "10.0.0.13"));
        for cmd in [
            "sysctl -w net.ipv6.conf.all.disable_ipv6=0",
            "grep -o 'ipv6.disable=1' /proc/cmdline",
            "helmfile -f base-blueking.yaml.gotmpl -l name=bk-repo sync",
            "kubectl delete pod -n bkce bk-repo-bkrepo-gateway-6b8d9f7c5-qz4tn",
        ] {
            assert!(has_line(f, "remediation", cmd), "{cmd}: {f:#}");
        }
        let ext = position(f, "remediation", |l| l.contains("gateway.extIp"));
        let r = strings(f, "remediation");
        assert!(r[ext].contains("\"0.0.0.0\"") && r[ext].contains("extIP"));
        assert!(mentions(f, "remediation", "ipv6.disable=1"));
    }
}

#[test]
fn ipv6_near_miss_ready_gateway_and_other_socket_errors() {
    for lang in LANGS {
        let (code, fs) = check("ipv6-near-miss", lang, &[]);
        assert_eq!(code, 1);
        assert_eq!(rules(&fs), ["pod-crash-loop"]);
        one(&fs, "pod-crash-loop", "pod/bk-paas-webfe-5d7b9c6f8-zz9kk");
    }
}

#[test]
fn gse_agent_missing_per_node() {
    for lang in LANGS {
        let (code, fs) = check("gse", lang, &[]);
        assert_eq!(code, 1);
        assert_eq!(rules(&fs), ["gse-agent-missing", "gse-agent-missing"]);
        for (suffix, node, ip) in [
            ("7xk2p", "node-1", "10.0.0.12"),
            ("m4q9z", "node-2", "10.0.0.13"),
        ] {
            let pod = format!("bkmonitor-operator-bkmonitorbeat-daemonset-{suffix}");
            let f = one(&fs, "gse-agent-missing", &format!("pod/{pod}"));
            assert_eq!(f["namespace"], "bkmonitor-operator");
            title_in(f, lang);
            let title = f["title"].as_str().unwrap();
            assert!(title.contains(node) && title.contains(ip), "{title}");
            let install = position(f, "remediation", |l| l.contains("节点管理"));
            let delete = position(f, "remediation", |l| {
                l == format!("kubectl delete pod -n bkmonitor-operator {pod}")
            });
            assert!(install < delete);
            assert!(strings(f, "remediation")[install].contains(ip));
            assert!(mentions(
                f,
                "evidence",
                "dial unix /data/ipc/ipc.state.report"
            ));
        }
    }
}

#[test]
fn gse_near_miss_ready_pods_are_healthy() {
    for lang in LANGS {
        let (code, fs) = check("gse-near-miss", lang, &[]);
        assert_eq!(code, 0);
        assert!(fs.is_empty(), "{fs:#?}");
        let dir = fixture("gse-near-miss");
        let r = run(&["check", "--snapshot", dir.to_str().unwrap(), "--lang", lang]);
        assert_eq!(r.code, 0);
        let none = if lang == "zh" {
            "未发现已知问题"
        } else {
            "No known issue found"
        };
        assert!(r.stdout.contains(none), "{}", r.stdout);
    }
}

#[test]
fn pod_crash_loop_shows_previous_log_and_command() {
    for lang in LANGS {
        let (code, fs) = check("crash-loop", lang, &[]);
        assert_eq!(code, 1);
        // The docker.sock error is not GSE's socket; the ready pod with old restarts is fine.
        assert_eq!(rules(&fs), ["pod-crash-loop"; 3]);
        let job = one(&fs, "pod-crash-loop", "pod/bk-job-execute-6f9c7d5b8-w2x7m");
        assert_eq!(job["severity"], "warning");
        title_in(job, lang);
        assert!(job["title"].as_str().unwrap().contains("job-execute"));
        assert!(has_line(
            job,
            "remediation",
            "kubectl logs -p -n blueking bk-job-execute-6f9c7d5b8-w2x7m -c job-execute"
        ));
        assert!(has_line(
            job,
            "evidence",
            "> Caused by: java.sql.SQLException: Access denied for user 'job'@'10.244.1.77' (using password: YES)"
        ));
        assert!(mentions(job, "evidence", "CrashLoopBackOff"));
        // Only the last lines, not the whole log.
        assert!(
            strings(job, "evidence")
                .iter()
                .filter(|l| l.starts_with("> "))
                .count()
                <= 5
        );
        let ci = one(
            &fs,
            "pod-crash-loop",
            "pod/bk-ci-dispatch-docker-7c6b5d9f4-p8r2s",
        );
        assert!(has_line(
            ci,
            "remediation",
            "kubectl logs -p -n blueking bk-ci-dispatch-docker-7c6b5d9f4-p8r2s -c dispatch-docker"
        ));
        assert!(mentions(ci, "evidence", "docker.sock"));
        let nodeman = one(
            &fs,
            "pod-crash-loop",
            "pod/bk-nodeman-nodeman-api-6d8f7b9c5-k3j7h",
        );
        // The snapshot holds only its current log, saved while the container waited out its
        // back-off: the kubelet served that read from the instance that exited last, so it is read
        // as the previous log, as a live collection reads it.
        let header = if lang == "zh" {
            "上次日志的最后几行："
        } else {
            "last lines of its previous log:"
        };
        assert!(has_line(nodeman, "evidence", header), "{nodeman:#}");
        assert!(mentions(
            nodeman,
            "evidence",
            "> 2026-11-20 10:57:59,311 CRITICAL"
        ));
    }
}

#[test]
fn custom_rules_file_adds_a_signature() {
    let rules_file = fixture("custom-rules.yaml");
    let rules_arg = rules_file.to_str().unwrap();
    for lang in LANGS {
        let (code, fs) = check("custom-rules", lang, &["--rules", rules_arg]);
        assert_eq!(code, 1);
        // The operator's rule explains the crash loop, so it is not reported twice.
        assert_eq!(rules(&fs), ["cmdb-mongodb-unreachable"]);
        let f = one(
            &fs,
            "cmdb-mongodb-unreachable",
            "pod/bk-cmdb-coreservice-84d6f9c7b-9nq4x",
        );
        assert_eq!(f["namespace"], "bk-system");
        assert_eq!(f["severity"], "error");
        title_in(f, lang);
        assert!(has_line(
            f,
            "remediation",
            "kubectl get pods -n bk-system -l app.kubernetes.io/instance=bk-mongodb -o wide"
        ));
        assert!(has_line(
            f,
            "remediation",
            "kubectl logs -p -n bk-system bk-cmdb-coreservice-84d6f9c7b-9nq4x -c coreservice --tail=50"
        ));
        assert!(mentions(f, "evidence", "server selection timeout"));
        let comment = if lang == "zh" {
            "# bk-system 中 MongoDB 的 pod："
        } else {
            "# MongoDB's pods in bk-system:"
        };
        assert!(has_line(f, "remediation", comment), "{f:#}");

        // Without the file it is only a crash loop.
        let (code, fs) = check("custom-rules", lang, &[]);
        assert_eq!(code, 1);
        assert_eq!(rules(&fs), ["pod-crash-loop"]);
    }
}

#[test]
fn bad_rules_files_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let snap = fixture("custom-rules");
    let cases = [
        ("missing.yaml", None, "cannot read rules file"),
        (
            "dup.yaml",
            Some(
                "rules:\n- id: pod-crash-loop\n  severity: info\n  title: {en: x, zh: x}\n  explanation: {en: x, zh: x}\n  patterns: [x]\n",
            ),
            "already defined",
        ),
        (
            "regex.yaml",
            Some(
                "rules:\n- id: mine\n  severity: info\n  title: {en: x, zh: x}\n  explanation: {en: x, zh: x}\n  patterns: ['(unclosed']\n",
            ),
            "pattern",
        ),
    ];
    for (name, body, says) in cases {
        let path = dir.path().join(name);
        if let Some(b) = body {
            std::fs::write(&path, b).unwrap();
        }
        let r = run(&[
            "check",
            "--snapshot",
            snap.to_str().unwrap(),
            "--rules",
            path.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(r.stdout.is_empty());
        assert!(
            r.stderr.contains(says) && r.stderr.contains(name),
            "{name}: {}",
            r.stderr
        );
    }
}

#[test]
fn commands_are_the_same_in_both_languages() {
    let rules_file = fixture("custom-rules.yaml");
    for scenario in [
        "dns-redis",
        "dns-near-miss",
        "redis-cluster",
        "ipv6",
        "gse",
        "crash-loop",
        "custom-rules",
    ] {
        let (_, zh) = check(scenario, "zh", &["--rules", rules_file.to_str().unwrap()]);
        let (_, en) = check(scenario, "en", &["--rules", rules_file.to_str().unwrap()]);
        assert_eq!(zh.len(), en.len());
        assert!(!zh.is_empty(), "{scenario}");
        for (z, e) in zh.iter().zip(&en) {
            assert_eq!(z["rule"], e["rule"]);
            assert_eq!(z["object"], e["object"]);
            // Commands, and commands quoted as steps for later (`#   cmd`): the same in both.
            let quoted = |l: &str| l.starts_with("#   ");
            let commands = |f: &Value| -> Vec<String> {
                strings(f, "remediation")
                    .into_iter()
                    .filter(|l| !l.starts_with('#') || quoted(l))
                    .collect()
            };
            assert_eq!(commands(z), commands(e), "{scenario} {}", z["rule"]);
            assert!(!commands(z).is_empty());
            // Advice lines and explanations are translated.
            assert!(is_cjk(z["explanation"].as_str().unwrap()));
            // 节点管理 is the name of the product page, so English text keeps it.
            let english = |s: &str| !is_cjk(&s.replace("节点管理", ""));
            assert!(english(e["explanation"].as_str().unwrap()));
            for l in strings(e, "remediation")
                .iter()
                .filter(|l| l.starts_with('#') && !quoted(l))
            {
                assert!(english(l), "{l}");
            }
            for l in strings(z, "remediation")
                .iter()
                .filter(|l| l.starts_with('#') && !quoted(l))
            {
                assert!(is_cjk(l), "{l}");
            }
        }
    }
}

#[test]
fn table_shows_commands_verbatim() {
    let dir = fixture("dns-redis");
    for lang in LANGS {
        let r = run(&["check", "--snapshot", dir.to_str().unwrap(), "--lang", lang]);
        assert_eq!(r.code, 1);
        for cmd in [
            "nslookup bk-elastic-elasticsearch-master.blueking.svc.cluster.local 10.96.0.10",
            "kubectl delete pvc -n blueking -l app.kubernetes.io/instance=bk-redis-cluster",
            "helmfile -f base-storage.yaml.gotmpl -l name=bk-redis-cluster sync",
        ] {
            assert!(r.stdout.contains(cmd), "{cmd}\n{}", r.stdout);
        }
    }
}

#[test]
fn bundled_example_shows_dns_case_and_stuck_bk_paas() {
    let (code, fs) = check("../../examples/snapshot", "en", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        rules(&fs),
        [
            "dns-unresolvable",
            "helm-operation-in-progress",
            "redis-cluster-stale-data"
        ]
    );
    one(&fs, "helm-operation-in-progress", "release/bk-paas");
}

#[test]
fn rules_lists_the_catalog() {
    let rules_file = fixture("custom-rules.yaml");
    for lang in LANGS {
        let r = run(&[
            "rules",
            "-o",
            "json",
            "--lang",
            lang,
            "--rules",
            rules_file.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let list = v["rules"].as_array().unwrap();
        let get = |id: &str| {
            list.iter()
                .find(|r| r["id"] == id)
                .unwrap_or_else(|| panic!("{id} not listed"))
        };
        for (id, sev) in [
            ("dns-unresolvable", "error"),
            ("redis-cluster-stale-data", "error"),
            ("ipv6-disabled", "error"),
            ("gse-agent-missing", "error"),
            ("pod-crash-loop", "warning"),
            ("helm-operation-in-progress", "error"),
            ("cmdb-mongodb-unreachable", "error"),
        ] {
            let e = get(id);
            assert_eq!(e["severity"], sev, "{id}");
            let title = e["title"].as_str().unwrap();
            assert_eq!(is_cjk(title), lang == "zh", "{id}: {title}");
            assert!(!e["reads"].as_array().unwrap().is_empty(), "{id}");
            assert!(e["patterns"].is_array());
        }
        assert!(
            get("dns-unresolvable")["patterns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "UnknownHostException")
        );
        assert_eq!(get("cmdb-mongodb-unreachable")["custom"], true);
        // The BlueKing versions an issue is known on, where the catalog says; none for a custom one.
        let versions = get("monitor-builtin-labels")["blueking"].as_str().unwrap();
        assert!(versions.starts_with("7.2"), "{versions}");
        assert!(get("cmdb-mongodb-unreachable").get("blueking").is_none());
        assert_eq!(get("ipv6-disabled")["custom"], false);

        let r = run(&["rules", "--lang", lang]);
        assert_eq!(r.code, 0);
        for id in [
            "dns-unresolvable",
            "redis-cluster-stale-data",
            "ipv6-disabled",
            "gse-agent-missing",
            "pod-crash-loop",
        ] {
            assert!(r.stdout.contains(id), "{id}");
        }
        assert!(
            r.stdout
                .contains(if lang == "zh" { "规则" } else { "Rule" })
        );
    }
}

#[test]
fn namespace_filter_keeps_data_derived_namespaces() {
    let dir = fixture("gse");
    let r = run(&[
        "check",
        "--snapshot",
        dir.to_str().unwrap(),
        "-n",
        "blueking",
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["findings"].as_array().unwrap().is_empty());
}

#[test]
fn dns_without_a_dns_service_in_the_snapshot_says_so() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("dns-redis"), dir.path());
    // Only kube-system's list holds kube-dns; the application services stay.
    std::fs::remove_file(dir.path().join("services.yaml")).unwrap();
    for lang in LANGS {
        let r = run(&[
            "check",
            "--snapshot",
            dir.path().to_str().unwrap(),
            "-o",
            "json",
            "--lang",
            lang,
        ]);
        assert_eq!(r.code, 1);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let fs = v["findings"].as_array().unwrap();
        let f = one(fs, "dns-unresolvable", "namespace/blueking");
        assert!(has_line(
            f,
            "remediation",
            "nslookup bk-elastic-elasticsearch-master.blueking.svc.cluster.local <dns-ip>"
        ));
        assert!(mentions(f, "evidence", "<dns-ip>"));
        assert!(!mentions(f, "remediation", "10.96.0.10"));
    }
}

#[test]
fn crash_loop_without_a_previous_log_says_so() {
    for lang in LANGS {
        let (code, fs) = check("release-failed", lang, &[]);
        assert_eq!(code, 1);
        let f = one(
            &fs,
            "pod-crash-loop",
            "pod/bk-repo-bkrepo-gateway-7d9c8b6f5-h4x8q",
        );
        let none = if lang == "zh" {
            "未读取到该容器的日志"
        } else {
            "no log of this container was read"
        };
        assert!(has_line(f, "evidence", none), "{f:#}");
        assert!(has_line(
            f,
            "remediation",
            "kubectl logs -p -n blueking bk-repo-bkrepo-gateway-7d9c8b6f5-h4x8q -c gateway"
        ));
    }
}

#[test]
fn signatures_are_read_from_cluster_info_dump_logs() {
    for lang in LANGS {
        let (code, fs) = check("cluster-info-dump", lang, &[]);
        assert_eq!(code, 1);
        // The ipv6 finding explains the gateway's crash loop; helm's failed release stays.
        assert_eq!(rules(&fs), ["helm-release-failed", "ipv6-disabled"]);
        let f = one(
            &fs,
            "ipv6-disabled",
            "pod/bk-repo-bkrepo-gateway-7d9c8b6f5-h4x8q",
        );
        assert!(has_line(
            f,
            "remediation",
            "kubectl delete pod -n blueking bk-repo-bkrepo-gateway-7d9c8b6f5-h4x8q"
        ));
    }
}

#[test]
fn release_view_includes_log_findings_of_its_pods() {
    let dir = fixture("cluster-info-dump");
    let rules_file = fixture("custom-rules.yaml");
    for lang in LANGS {
        let r = run(&[
            "release",
            "bk-repo",
            "--snapshot",
            dir.to_str().unwrap(),
            "-o",
            "json",
            "--lang",
            lang,
            "--rules",
            rules_file.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let fs = v["findings"].as_array().unwrap();
        assert_eq!(rules(fs), ["helm-release-failed", "ipv6-disabled"]);
        one(
            fs,
            "ipv6-disabled",
            "pod/bk-repo-bkrepo-gateway-7d9c8b6f5-h4x8q",
        );
    }
}
