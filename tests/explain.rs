//! `explain` end to end: the real binary reads a deployment's output (a file, standard input or
//! `--error`), finds its errors and answers them with a snapshot, a live (fake) cluster or the text
//! alone. Inputs are under tests/fixtures/explain/, each run against the snapshot it happened on.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

use fake_apiserver::FakeApi;
use serde_json::Value;

use common::{Run, command, fixture, run, serve};

fn input(name: &str) -> PathBuf {
    fixture("explain").join(name)
}

fn explain(log: &str, snapshot: &str, extra: &[&str]) -> Run {
    let log = input(log);
    let snap = fixture(snapshot);
    let mut args = vec![
        "explain",
        log.to_str().unwrap(),
        "--snapshot",
        snap.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Runs the binary with `stdin` as its standard input.
fn with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut c = command(args);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = std::time::Instant::now();
    let mut child = c.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The binary may stop reading early only if it fails; a closed pipe is its answer then.
        let _ = pipe.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// (line, release, rule, [(finding rule, object)]) of each error.
type ErrorKey = (
    String,
    Option<String>,
    Option<String>,
    Vec<(String, String)>,
);

fn errors(report: &Value) -> Vec<ErrorKey> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_str().unwrap().to_string(),
                e["release"].as_str().map(str::to_string),
                e["rule"].as_str().map(str::to_string),
                e["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        (
                            f["rule"].as_str().unwrap().to_string(),
                            f["object"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

fn remediation(report: &Value, i: usize) -> Vec<String> {
    report["errors"][i]["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

fn s(v: &str) -> String {
    v.to_string()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (s(a), s(b))).collect()
}

/// (input, snapshot, release, rule, the findings that explain it).
type SeedCase = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[test]
fn the_seed_errors_are_answered_by_the_cluster_they_happened_on() {
    let timeout = "Error: timed out waiting for the condition";
    let cases: &[SeedCase] = &[
        (
            "seed-elastic-timeout.log",
            "dns-redis",
            "bk-elastic",
            "deploy-timed-out",
            &[("dns-unresolvable", "namespace/blueking")],
        ),
        (
            "seed-repo-timeout.log",
            "ipv6",
            "bk-repo",
            "deploy-timed-out",
            &[(
                "ipv6-disabled",
                "pod/bk-repo-bkrepo-gateway-6b8d9f7c5-qz4tn",
            )],
        ),
        (
            "seed-paas-no-deployed.log",
            "no-deployed",
            "bk-paas",
            "helm-no-deployed-release",
            // Its history is failed revisions only: helm 3.3 and later upgrade that, so the
            // cluster's finding is the failed release, whose cause the operator's older helm hid.
            &[("helm-release-failed", "release/bk-paas")],
        ),
        (
            "seed-paas-in-progress.log",
            "pending-upgrade",
            "bk-paas",
            "helm-operation-in-progress",
            &[("helm-operation-in-progress", "release/bk-paas")],
        ),
    ];
    for (log, snap, release, rule, found) in cases {
        let r = explain(log, snap, &["-o", "json"]);
        assert_eq!(r.code, 1, "{log}: {}", r.stderr);
        let report = r.json();
        let e = errors(&report);
        assert_eq!(e.len(), 1, "{log}: {e:?}");
        assert_eq!(e[0].1.as_deref(), Some(*release), "{log}");
        assert_eq!(e[0].2.as_deref(), Some(*rule), "{log}");
        assert_eq!(e[0].3, pairs(found), "{log}");
        if *rule == "deploy-timed-out" {
            assert_eq!(e[0].0, timeout);
        }
        // Every finding an error cites is in the report's findings.
        let listed: Vec<(String, String)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    s(f["rule"].as_str().unwrap()),
                    s(f["object"].as_str().unwrap()),
                )
            })
            .collect();
        assert!(e[0].3.iter().all(|f| listed.contains(f)), "{log}");
        assert!(report["summary"]["nodes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn the_fix_is_the_clusters_own_when_it_knows_one() {
    // bk-paas is stuck in pending-upgrade; its last deployed revision is 2.
    let r = explain(
        "seed-paas-in-progress.log",
        "pending-upgrade",
        &["-o", "json"],
    );
    assert_eq!(
        remediation(&r.json(), 0)[..2],
        [
            s("helm history -n blueking bk-paas"),
            s("helm rollback -n blueking bk-paas 2")
        ]
    );
    // The snippet refusal: the controller's own ConfigMap, patched.
    let r = explain(
        "seed-apigateway-snippet.log",
        "snippet-failed",
        &["-o", "json"],
    );
    let report = r.json();
    let e = errors(&report);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].1.as_deref(), Some("bk-apigateway"));
    assert_eq!(e[0].2.as_deref(), Some("ingress-snippet-disabled"));
    assert!(
        e[0].3
            .contains(&(s("ingress-snippet-disabled"), s("release/bk-apigateway")))
    );
    assert!(
        remediation(&report, 0)[0].starts_with(
            "kubectl patch configmap -n ingress-system ingress-nginx-controller --type merge"
        ),
        "{:?}",
        remediation(&report, 0)
    );
    // The BCS upgrade refused for an old bk-apigateway: the cluster's finding about it.
    let r = explain("seed-bcs-apigateway-old.log", "apigw-old", &["-o", "json"]);
    let e = errors(&r.json());
    assert_eq!(e[0].2.as_deref(), Some("apigateway-too-old"));
    assert_eq!(
        e[0].3,
        pairs(&[("apigateway-too-old", "release/bk-apigateway")])
    );
}

#[test]
fn a_helmfile_run_with_several_releases_crlf_colour_and_timestamps() {
    let r = explain(
        "helmfile-storage-timeouts.log",
        "dns-redis",
        &["-o", "json"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let e = errors(&r.json());
    let timeout = s("Error: timed out waiting for the condition");
    assert_eq!(
        e,
        [
            (
                timeout.clone(),
                Some(s("bk-redis-cluster")),
                Some(s("deploy-timed-out")),
                pairs(&[
                    ("dns-unresolvable", "namespace/blueking"),
                    ("redis-cluster-stale-data", "release/bk-redis-cluster")
                ])
            ),
            (
                timeout,
                Some(s("bk-elastic")),
                Some(s("deploy-timed-out")),
                pairs(&[("dns-unresolvable", "namespace/blueking")])
            ),
        ]
    );
    // bk-mysql deployed: nothing about it.
    assert!(!r.stdout.contains("bk-mysql"), "{}", r.stdout);
    let table = explain("helmfile-storage-timeouts.log", "dns-redis", &[]);
    assert!(!table.stdout.contains('\r') && !table.stdout.contains('\u{1b}'));
    assert!(
        table
            .stdout
            .contains("line 67 · bk-redis-cluster · deploy-timed-out"),
        "{}",
        table.stdout
    );
}

#[test]
fn a_successful_run_explains_nothing_and_exits_0() {
    for extra in [&["--snapshot", "SNAP"][..], &["--no-cluster"][..]] {
        let snap = fixture("dns-redis");
        let extra: Vec<&str> = extra
            .iter()
            .map(|a| {
                if *a == "SNAP" {
                    snap.to_str().unwrap()
                } else {
                    a
                }
            })
            .collect();
        let log = input("helmfile-storage-ok.log");
        let mut args = vec!["explain", log.to_str().unwrap()];
        args.extend(&extra);
        let table = run(&args);
        assert_eq!(table.code, 0, "{extra:?}: {}{}", table.stdout, table.stderr);
        assert!(
            table.stdout.starts_with("No error found in the output."),
            "{}",
            table.stdout
        );
        args.extend(["-o", "json"]);
        let report = run(&args).json();
        assert_eq!(report["errors"], Value::Array(vec![]));
        // The cluster's own trouble (DNS) is check's business, not this run's.
        assert_eq!(report["findings"], Value::Array(vec![]));
    }
}

#[test]
fn standard_input_and_a_file_give_the_same_report() {
    let log = input("helmfile-storage-timeouts.log");
    let snap = fixture("dns-redis");
    let from_file = explain(
        "helmfile-storage-timeouts.log",
        "dns-redis",
        &["-o", "json"],
    );
    let from_stdin = with_stdin(
        &[
            "explain",
            "-",
            "--snapshot",
            snap.to_str().unwrap(),
            "-o",
            "json",
        ],
        &std::fs::read(&log).unwrap(),
    );
    assert_eq!(from_stdin.code, 1, "{}", from_stdin.stderr);
    assert_eq!(from_file.json(), from_stdin.json());
}

#[test]
fn chinese_and_english_differ_in_words_not_in_commands() {
    let en = explain("seed-paas-no-deployed.log", "no-deployed", &["-o", "json"]).json();
    let zh = explain(
        "seed-paas-no-deployed.log",
        "no-deployed",
        &["-o", "json", "--lang", "zh"],
    )
    .json();
    let commands = |r: &Value| -> Vec<String> {
        remediation(r, 0)
            .into_iter()
            .filter(|l| !l.starts_with('#'))
            .collect()
    };
    assert_eq!(commands(&en), commands(&zh));
    assert!(commands(&en).contains(&s("helm uninstall -n blueking bk-paas")));
    assert_eq!(
        en["errors"][0]["title"],
        "bk-paas was never deployed successfully, so helm cannot upgrade it"
    );
    assert_eq!(
        zh["errors"][0]["title"],
        "bk-paas 从未部署成功，helm 无法升级它"
    );
    let table = explain("seed-elastic-timeout.log", "dns-redis", &["--lang", "zh"]);
    assert!(
        table.stdout.contains("bk-elastic 未能按时就绪"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("这些错误背后的集群问题"),
        "{}",
        table.stdout
    );
}

#[test]
fn the_text_alone_without_the_cluster() {
    let cases = [
        (
            "bcs-passwords.log",
            "bcs-services-stack",
            "bcs-passwords-error",
        ),
        (
            "servicemonitor-missing.log",
            "bk-iam",
            "servicemonitor-crd-missing",
        ),
        (
            "bcs-helm-too-old.log",
            "bcs-services-stack",
            "helm-too-old-for-bcs",
        ),
    ];
    for (log, release, rule) in cases {
        let path = input(log);
        let r = run(&[
            "explain",
            path.to_str().unwrap(),
            "--no-cluster",
            "-o",
            "json",
        ]);
        assert_eq!(r.code, 1, "{log}: {}", r.stderr);
        let report = r.json();
        let e = errors(&report);
        assert_eq!(e.len(), 1, "{log}: {e:?}");
        assert_eq!(
            (e[0].1.as_deref(), e[0].2.as_deref()),
            (Some(release), Some(rule)),
            "{log}"
        );
        assert_eq!(report["findings"], Value::Array(vec![]));
        assert_eq!(report["summary"]["pods"], 0);
        for line in remediation(&report, 0) {
            assert!(!line.contains('{'), "{log}: unfilled template: {line}");
        }
    }
    let path = input("bklogconfig-missing.log");
    let report = run(&[
        "explain",
        path.to_str().unwrap(),
        "--no-cluster",
        "-o",
        "json",
    ])
    .json();
    assert_eq!(report["errors"][0]["rule"], "bklogconfig-crd-missing");
    assert_eq!(report["errors"][0]["release"], Value::Null);
    assert!(
        remediation(&report, 0).contains(&s("helmfile -f 04-bklog-collector.yaml.gotmpl sync"))
    );
}

#[test]
fn a_name_the_data_does_not_give_never_lands_in_a_command() {
    // No cluster: bk-paas's namespace is unknown, so the commands needing it stay comments after
    // the one that finds it.
    let r = run(&[
        "explain",
        "--error",
        "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
        "--no-cluster",
        "-o",
        "json",
    ]);
    let report = r.json();
    let fix = remediation(&report, 0);
    assert_eq!(fix[0], "helm list -A -a");
    for line in &fix {
        if !line.starts_with('#') {
            assert!(
                !line.contains("RELEASE") && !line.contains("NAMESPACE"),
                "{line}"
            );
        }
    }
    let r = run(&[
        "explain",
        "--error",
        "Error: UPGRADE FAILED: \"bk-paas\" has no deployed releases",
        "--no-cluster",
        "-o",
        "json",
    ]);
    let fix = remediation(&r.json(), 0);
    assert_eq!(fix[0], "helm list -A -a --filter '^bk-paas$'");
    assert!(
        fix.contains(&s("# helm uninstall -n NAMESPACE bk-paas")),
        "{fix:?}"
    );
}

#[test]
fn error_flag_with_a_snapshot_fills_in_the_namespace() {
    let snap = fixture("no-deployed");
    let r = run(&[
        "explain",
        "--error",
        "Error: UPGRADE FAILED: \"bk-paas\" has no deployed releases",
        "--snapshot",
        snap.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 1);
    let report = r.json();
    assert_eq!(report["errors"][0]["release"], "bk-paas");
    assert!(remediation(&report, 0).contains(&s("helm uninstall -n blueking bk-paas")));
    // Text without helm's prefix is still taken as the error.
    let r = run(&[
        "explain",
        "--error",
        "the job said: no such thing",
        "--no-cluster",
        "-o",
        "json",
    ]);
    let report = r.json();
    assert_eq!(report["errors"][0]["rule"], Value::Null);
    assert_eq!(
        report["errors"][0]["line"],
        "Error: the job said: no such thing"
    );
}

#[test]
fn a_timeout_nothing_explains_says_what_was_looked_at() {
    let snap = fixture("healthy");
    let text = b"Release \"bk-cmdb\" does not exist. Installing it now.\nError: timed out waiting for the condition\n";
    for lang in ["en", "zh"] {
        let r = with_stdin(
            &[
                "explain",
                "-",
                "--snapshot",
                snap.to_str().unwrap(),
                "-o",
                "json",
                "--lang",
                lang,
            ],
            text,
        );
        let report = r.json();
        let e = &report["errors"][0];
        assert_eq!(e["rule"], "deploy-timed-out");
        assert_eq!(e["findings"], Value::Array(vec![]));
        let explanation = e["explanation"].as_str().unwrap();
        assert!(
            explanation.contains("pod bk-cmdb-admin-7f8d9c5b6-kl2mn")
                && explanation.contains("Running, ready"),
            "{lang}: {explanation}"
        );
        assert!(remediation(&report, 0).contains(&s(
            "kubectl get pods,jobs,pvc -n blueking -l app.kubernetes.io/instance=bk-cmdb"
        )));
    }
}

#[test]
fn nothing_of_the_input_is_printed_beyond_the_error_lines() {
    // The ARGS hold a --set password, the NOTES a password command, the PASSWORDS ERROR the chart's
    // advice with a value's name: none of it may show in any format or language.
    let planted = [
        "Pl4nted",
        "/tmp/helmfile",
        "echo Password",
        "MONGODB_PASSWORD",
        "bytes)",
        "ARGS",
    ];
    for (log, snap) in [
        ("helmfile-storage-timeouts.log", "dns-redis"),
        ("bcs-passwords.log", "healthy"),
    ] {
        for format in ["table", "json", "yaml", "markdown"] {
            for lang in ["en", "zh"] {
                let r = explain(log, snap, &["-o", format, "--lang", lang]);
                assert_eq!(r.code, 1, "{log} {format} {lang}: {}", r.stderr);
                for p in planted {
                    assert!(
                        !r.stdout.contains(p),
                        "{log} {format} {lang}: {p} printed:\n{}",
                        r.stdout
                    );
                }
            }
        }
    }
    let r = explain("bcs-passwords.log", "healthy", &["-o", "json"]);
    assert_eq!(
        r.json()["errors"][0]["line"],
        "PASSWORDS ERROR: You must provide your current passwords when upgrading the release."
    );
}

#[test]
fn markdown_puts_the_error_line_and_the_fix_in_fenced_blocks() {
    let r = explain(
        "seed-paas-in-progress.log",
        "pending-upgrade",
        &["-o", "markdown"],
    );
    assert_eq!(r.code, 1);
    let md = &r.stdout;
    assert!(md.starts_with("## kubectl-bkdoctor explain\n"), "{md}");
    assert!(md.contains("```text\nUPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n```"), "{md}");
    assert!(
        md.contains(
            "```sh\nhelm history -n blueking bk-paas\nhelm rollback -n blueking bk-paas 2\n"
        ),
        "{md}"
    );
}

#[test]
fn operators_add_their_own_output_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mine.yaml");
    std::fs::write(
        &rules,
        r#"rules:
  - id: job-field-immutable
    severity: error
    output:
      - 'cannot patch "[^"]+" with kind Job: .*field is immutable'
    title: {en: "An old Job of {release} blocks the upgrade", zh: "{release} 的旧 Job 阻止了升级"}
    explanation: {en: "A Job's template cannot change; delete the old Job first.", zh: "Job 的模板不能修改，请先删除旧的 Job。"}
    output_remediation:
      - "kubectl get jobs -n {namespace} -l app.kubernetes.io/instance={release}"
"#,
    )
    .unwrap();
    let snap = fixture("healthy");
    let r = run(&[
        "explain",
        "--error",
        "Error: UPGRADE FAILED: cannot patch \"bk-cmdb-migrate\" with kind Job: Job.batch \"bk-cmdb-migrate\" is invalid: spec.template: Invalid value: ...: field is immutable",
        "--snapshot",
        snap.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let report = r.json();
    assert_eq!(
        report["errors"][0]["rule"], "job-field-immutable",
        "{}",
        r.stderr
    );
}

#[test]
fn bad_input_is_one_clear_line() {
    let missing = run(&["explain", "/nonexistent/deploy.log", "--no-cluster"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("cannot read /nonexistent/deploy.log"),
        "{}",
        missing.stderr
    );
    let dir = fixture("explain");
    let is_dir = run(&["explain", dir.to_str().unwrap(), "--no-cluster"]);
    assert_eq!(is_dir.code, 2);
    assert!(
        is_dir.stderr.contains("is a directory"),
        "{}",
        is_dir.stderr
    );
    let neither = run(&["explain"]);
    assert_eq!(neither.code, 2);
    // Without a cluster to read, the message says how to explain the text alone.
    let log = input("seed-elastic-timeout.log");
    let no_kube = common::run_env(
        &["explain", log.to_str().unwrap()],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    );
    assert_eq!(no_kube.code, 2, "{}", no_kube.stdout);
    assert!(
        no_kube.stderr.contains("--no-cluster"),
        "{}",
        no_kube.stderr
    );
    assert_eq!(
        no_kube.stderr.trim().lines().count(),
        1,
        "{}",
        no_kube.stderr
    );
    assert!(!no_kube.stderr.contains("panicked"));
}

#[test]
fn a_long_output_is_read_in_bounded_memory() {
    // ~24 MiB of a helmfile run that keeps succeeding, one 8 MiB line, then the error at the end,
    // read under a 48 MiB heap limit: holding the input, or one copy of that line, would fail.
    let ok = std::fs::read_to_string(input("helmfile-storage-ok.log")).unwrap();
    let mut text = String::with_capacity(26 << 20);
    text.push_str(&"A".repeat(8 << 20));
    text.push('\n');
    while text.len() < 24 << 20 {
        text.push_str(&ok);
    }
    text.push_str("Release \"bk-paas\" does not exist. Installing it now.\nError: timed out waiting for the condition\n");
    let mut c = command(&["explain", "-", "--no-cluster", "-o", "json"]);
    limit_heap(&mut c, 48 << 20);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = std::time::Instant::now();
    let mut child = c.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(text.as_bytes());
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["errors"].as_array().unwrap().len(), 1, "{report:#}");
    assert_eq!(report["errors"][0]["release"], "bk-paas");
    assert!(
        report["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("read only in part")
    );
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
}

/// Caps the child's heap (RLIMIT_DATA): an allocation past it fails and the binary aborts.
fn limit_heap(c: &mut std::process::Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent's state.
    unsafe {
        c.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn live_as_offline() {
    let live = serve(FakeApi::new().load_dir(fixture("dns-redis")));
    let offline = explain(
        "helmfile-storage-timeouts.log",
        "dns-redis",
        &["-o", "json"],
    );
    let now = offline.json()["summary"]["snapshotTime"]
        .as_str()
        .unwrap()
        .to_string();
    let log = input("helmfile-storage-timeouts.log");
    let r = live.run(&[
        "explain",
        log.to_str().unwrap(),
        "-o",
        "json",
        "--now",
        &now,
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = r.json();
    assert_eq!(errors(&report), errors(&offline.json()));
    assert_eq!(report["findings"], offline.json()["findings"]);
    // And through standard input, in Chinese.
    let zh = with_stdin(
        &["explain", "-", "--kubeconfig", live.kc(), "--lang", "zh"],
        &std::fs::read(&log).unwrap(),
    );
    assert_eq!(zh.code, 1, "{}", zh.stderr);
    assert!(
        zh.stdout.contains("bk-redis-cluster 未能按时就绪"),
        "{}",
        zh.stdout
    );
}

#[test]
fn a_build_error_says_whether_the_crd_it_lacked_is_there_now() {
    let r = explain("servicemonitor-missing.log", "healthy", &["-o", "json"]);
    let explanation = r.json()["errors"][0]["explanation"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        explanation
            .contains("CRD servicemonitors.monitoring.coreos.com is not in the cluster data"),
        "{explanation}"
    );
    // bk-apigateway was upgraded since: the CRD exists, the BCS upgrade can run again.
    let r = explain(
        "seed-bcs-apigateway-old.log",
        "apigw-ok",
        &["-o", "json", "--lang", "zh"],
    );
    let explanation = r.json()["errors"][0]["explanation"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        explanation.contains("集群中现在已有 CRD bkgatewaypluginmetadatas.gateway.bk.tencent.com"),
        "{explanation}"
    );
}
