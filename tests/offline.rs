//! The offline doctor through the built binary: fixture snapshots shaped like `kubectl get -o yaml|json`
//! output with helm records encoded as helm encodes them (tests/fixtures/gen.py; tests/fixtures/recorded
//! is verbatim from a real kube-apiserver and helm 3.18).

mod common;

use std::time::Instant;

use assert_cmd::Command;
use serde_json::Value;

use common::Run;

fn fixture(name: &str) -> String {
    common::fixture(name).display().to_string()
}

fn run(args: &[&str]) -> Run {
    let started = Instant::now();
    let out = Command::cargo_bin("kubectl-bkdoctor")
        .unwrap()
        // Tests choose the language explicitly; the developer's locale must not leak in.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        took: started.elapsed(),
    }
}

fn check_json(fixture_name: &str, extra: &[&str]) -> (i32, Value) {
    let dir = fixture(fixture_name);
    let mut args = vec!["check", "--snapshot", dir.as_str(), "-o", "json"];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert!(r.stderr.is_empty(), "stderr: {}", r.stderr);
    (
        r.code,
        serde_json::from_str(&r.stdout).expect("check -o json prints JSON"),
    )
}

fn findings<'a>(v: &'a Value, rule: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn healthy_cluster_with_history_has_no_findings() {
    let (code, v) = check_json("healthy", &[]);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(v["summary"]["errors"], 0);
    assert_eq!(v["summary"]["pods"], 3);
    assert_eq!(v["summary"]["nodes"], 3);
    assert_eq!(v["summary"]["releases"], 2);
    assert_eq!(v["skipped"].as_array().unwrap().len(), 0);
    // The snapshot's time comes from the node leases, not from the wall clock.
    assert_eq!(v["summary"]["snapshotTime"], "2026-11-20T10:59:55Z");
}

#[test]
fn stuck_upgrade_is_rolled_back_to_the_newest_deployed_revision() {
    let (code, v) = check_json("pending-upgrade", &[]);
    assert_eq!(code, 1);
    let f = findings(&v, "helm-operation-in-progress");
    assert_eq!(f.len(), 1);
    let f = f[0];
    assert_eq!(f["severity"], "error");
    assert_eq!(f["namespace"], "blueking");
    assert_eq!(f["object"], "release/bk-paas");
    let fix = strings(&f["remediation"]);
    assert!(
        fix.contains(&"helm rollback -n blueking bk-paas 2".to_string()),
        "{fix:?}"
    );
    assert!(!fix.iter().any(|c| c.starts_with("helm uninstall")));
    let ev = strings(&f["evidence"]).join("\n");
    assert!(
        ev.contains("revision 3 has been pending-upgrade since 2026-11-20T08:55:00Z (2h 4m)"),
        "{ev}"
    );
    assert!(ev.contains("another operation (install/upgrade/rollback) is in progress"));
    assert_eq!(v["findings"].as_array().unwrap().len(), 1, "{v:#}");
}

#[test]
fn a_pending_operation_under_15_minutes_is_information_whose_commands_only_look() {
    let (code, v) = check_json("pending-recent", &[]);
    let f = findings(&v, "helm-operation-in-progress");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["severity"], "info");
    let ev = strings(&f[0]["evidence"]).join("\n");
    assert!(ev.contains("may still be running"), "{ev}");
    // helm may still be running it: every command only looks, the rollback waits behind a `#`.
    let fix = strings(&f[0]["remediation"]);
    assert_eq!(
        fix,
        [
            "helm status -n blueking bk-paas",
            "kubectl bkdoctor watch -n blueking --release bk-paas",
            "# if it is still pending after 15 minutes: helm rollback -n blueking bk-paas 1, then run the deployment again",
        ],
        "{fix:?}"
    );
    // Information does not fail a script.
    assert_eq!(code, 0, "{v:#}");
    // Measured against a later time, the same snapshot is an error whose fix rolls back.
    let (code, later) = check_json("pending-recent", &["--now", "2026-11-20T12:00:00Z"]);
    assert_eq!(code, 1);
    let f = findings(&later, "helm-operation-in-progress");
    assert_eq!(f[0]["severity"], "error");
    assert!(
        strings(&f[0]["remediation"]).contains(&"helm rollback -n blueking bk-paas 1".to_string())
    );
}

#[test]
fn pending_install_without_history_is_uninstalled_in_its_own_namespace() {
    let (code, v) = check_json("pending-install", &[]);
    assert_eq!(code, 1);
    let f = findings(&v, "helm-operation-in-progress");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["namespace"], "bk-system");
    let fix = strings(&f[0]["remediation"]);
    assert!(
        fix.contains(&"helm uninstall -n bk-system bk-paas".to_string()),
        "{fix:?}"
    );
    assert!(!fix.iter().any(|c| c.contains("rollback")));
    // The same release is not reported twice.
    assert!(findings(&v, "helm-no-deployed-release").is_empty());
}

#[test]
fn a_release_uninstalled_with_its_history_is_uninstalled_then_synced() {
    let (code, v) = check_json("no-deployed", &[]);
    assert_eq!(code, 1);
    let f = findings(&v, "helm-no-deployed-release");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["object"], "release/bk-lesscode");
    assert_eq!(f[0]["severity"], "error");
    assert_eq!(
        strings(&f[0]["remediation"])[0],
        "helm uninstall -n blueking bk-lesscode"
    );
    let ev = strings(&f[0]["evidence"]).join("\n");
    assert!(
        ev.contains("revisions: 1 superseded, 2 uninstalled"),
        "{ev}"
    );
    assert!(ev.contains("has no deployed releases"));
    assert!(findings(&v, "helm-operation-in-progress").is_empty());
}

/// helm 3.3 and later upgrade a release whose revisions all failed (pkg/action/upgrade.go starts
/// from the failed revision): that is a failed release to fix, not one to uninstall.
#[test]
fn a_release_whose_revisions_all_failed_is_a_failed_release() {
    let (_, v) = check_json("no-deployed", &[]);
    let f = findings(&v, "helm-release-failed");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["object"], "release/bk-paas");
    let ev = strings(&f[0]["evidence"]).join("\n");
    assert!(ev.contains("helm older than 3.3 refuses"), "{ev}");
    assert!(
        !strings(&f[0]["remediation"])
            .iter()
            .any(|c| c.starts_with("helm uninstall")),
        "{f:?}"
    );
}

#[test]
fn a_failed_release_names_its_pods_that_are_not_ready() {
    let (code, v) = check_json("release-failed", &[]);
    assert_eq!(code, 1);
    let f = findings(&v, "helm-release-failed");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["object"], "release/bk-repo");
    let ev = strings(&f[0]["evidence"]).join("\n");
    assert!(ev.contains("timed out waiting for the condition"), "{ev}");
    assert!(
        ev.contains(
            "bk-repo-bkrepo-gateway-7d9c8b6f5-h4x8q is not ready: CrashLoopBackOff, 7 restarts"
        ),
        "{ev}"
    );
    let fix = strings(&f[0]["remediation"]);
    assert!(fix.contains(&"helm history -n blueking bk-repo".to_string()));
    assert!(fix.contains(
        &"kubectl describe pod -n blueking bk-repo-bkrepo-gateway-7d9c8b6f5-h4x8q".to_string()
    ));
    // The ready pod of the same release is not named.
    assert!(
        !fix.iter().any(|c| c.contains("bkrepo-repository")),
        "{fix:?}"
    );
    // It had a good revision before: not a no-deployed-release case.
    assert!(findings(&v, "helm-no-deployed-release").is_empty());
}

#[test]
fn configmap_driver_records_are_read() {
    let (_, v) = check_json("configmap-driver", &[]);
    let f = findings(&v, "helm-operation-in-progress");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(
        f[0]["title"],
        "Helm release bk-paas is stuck in pending-rollback"
    );
    assert!(
        strings(&f[0]["remediation"]).contains(&"helm rollback -n blueking bk-paas 2".to_string())
    );
}

#[test]
fn cluster_info_dump_layout_is_read() {
    let (code, v) = check_json("cluster-info-dump", &[]);
    assert_eq!(code, 1);
    // Pods come from <ns>/pods.json, a PodList whose items carry no kind.
    assert_eq!(v["summary"]["pods"], 4);
    assert_eq!(v["summary"]["nodes"], 3);
    let f = findings(&v, "helm-release-failed");
    assert_eq!(f.len(), 1);
    assert!(strings(&f[0]["remediation"]).contains(
        &"kubectl describe pod -n blueking bk-repo-bkrepo-gateway-7d9c8b6f5-h4x8q".to_string()
    ));
}

#[test]
fn records_from_a_real_apiserver_and_helm() {
    // Recorded 2026-11-25 ~20:52 with helm 3.18; measured half an hour later.
    let (code, v) = check_json("recorded", &["--now", "2026-11-25T21:30:00Z"]);
    assert_eq!(code, 1);
    let pending = findings(&v, "helm-operation-in-progress");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["object"], "release/bk-job");
    assert!(
        strings(&pending[0]["remediation"])
            .contains(&"helm uninstall -n blueking bk-job".to_string())
    );
    // helm 3.18 itself upgraded bk-nodeman after its install failed (revision 2, "Upgrade ...
    // failed"): a failed-only history does not block helm, so it is a failed release.
    assert!(findings(&v, "helm-no-deployed-release").is_empty());
    let failed = findings(&v, "helm-release-failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["object"], "release/bk-nodeman");
    assert!(
        strings(&failed[0]["evidence"])
            .join(" ")
            .contains("context deadline exceeded")
    );
    // bk-cmdb (superseded + deployed) and bk-gse (configmap driver, deployed) are healthy.
    assert!(!v.to_string().contains("release/bk-cmdb"));
    assert!(!v.to_string().contains("release/bk-gse"));
    assert_eq!(v["summary"]["releases"], 4);
    // Minutes after the kill, helm may still be running: information, not an error.
    let (_, early) = check_json("recorded", &["--now", "2026-11-25T20:58:00Z"]);
    assert_eq!(
        findings(&early, "helm-operation-in-progress")[0]["severity"],
        "info"
    );
}

#[test]
fn corrupt_payloads_are_findings_and_the_rest_still_loads() {
    let (code, v) = check_json("corrupt", &[]);
    assert_eq!(code, 1);
    let unreadable = findings(&v, "helm-release-unreadable");
    let objects: Vec<_> = unreadable
        .iter()
        .map(|f| f["object"].as_str().unwrap())
        .collect();
    assert_eq!(
        objects,
        [
            "secret/sh.helm.release.v1.bk-bomb.v1",
            "secret/sh.helm.release.v1.bk-cmdb.v1",
            "secret/sh.helm.release.v1.bk-iam.v1",
            "secret/sh.helm.release.v1.bk-job.v1",
            "secret/sh.helm.release.v1.bk-paas.v2",
        ]
    );
    let reason = |obj: &str| {
        strings(&unreadable.iter().find(|f| f["object"] == obj).unwrap()["evidence"])[0].clone()
    };
    assert!(reason("secret/sh.helm.release.v1.bk-bomb.v1").contains("more than 64 MiB"));
    assert!(reason("secret/sh.helm.release.v1.bk-cmdb.v1").contains("not valid gzip"));
    assert!(reason("secret/sh.helm.release.v1.bk-job.v1").contains("not a helm release JSON"));
    assert!(reason("secret/sh.helm.release.v1.bk-paas.v2").contains("not valid base64"));
    assert!(
        reason("secret/sh.helm.release.v1.bk-iam.v1").contains("data.release is not valid base64")
    );
    // The labels of the unreadable bk-paas v2 still say pending-upgrade; v1 decoded fine.
    let pending = findings(&v, "helm-operation-in-progress");
    assert_eq!(pending.len(), 1);
    assert!(
        strings(&pending[0]["remediation"])
            .contains(&"helm rollback -n blueking bk-paas 1".to_string())
    );
    // Files that do not parse are named with the reason; the others still load.
    let skipped: Vec<_> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["what"].as_str().unwrap())
        .collect();
    assert!(skipped.contains(&"broken.yaml"), "{skipped:?}");
    assert!(skipped.contains(&"truncated.json"), "{skipped:?}");
    assert_eq!(v["summary"]["nodes"], 3);
}

#[test]
fn chinese_report_with_the_same_commands() {
    let dir = fixture("pending-upgrade");
    let zh = run(&["check", "--snapshot", &dir, "--lang", "zh"]);
    assert_eq!(zh.code, 1);
    assert!(
        zh.stdout
            .contains("Helm release bk-paas 卡在 pending-upgrade 状态"),
        "{}",
        zh.stdout
    );
    assert!(
        zh.stdout.contains("── 错误 · helm-operation-in-progress"),
        "{}",
        zh.stdout
    );
    assert!(zh.stdout.contains("处理（按顺序执行）："));
    assert!(zh.stdout.contains("helm rollback -n blueking bk-paas 2"));
    // The locale chooses the language when --lang is absent.
    let out = Command::cargo_bin("kubectl-bkdoctor")
        .unwrap()
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "zh_CN.UTF-8")
        .args(["check", "--snapshot", &dir, "-o", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["findings"][0]["title"],
        "Helm release bk-paas 卡在 pending-upgrade 状态"
    );
    assert!(
        strings(&v["findings"][0]["remediation"])
            .contains(&"helm rollback -n blueking bk-paas 2".to_string())
    );
}

#[test]
fn table_lists_the_fix_verbatim_and_shares_the_exit_code() {
    let dir = fixture("pending-upgrade");
    let t = run(&["check", "--snapshot", &dir]);
    assert_eq!(t.code, 1);
    assert!(
        t.stdout
            .lines()
            .any(|l| l.contains("helm-operation-in-progress") && l.contains("release/bk-paas"))
    );
    // Each command stands whole on one line so that it can be copied.
    assert!(t.stdout.lines().any(|l| {
        l.trim_end()
            .ends_with("helm rollback -n blueking bk-paas 2")
    }));
    assert!(t.stdout.contains("1 error(s), 0 warning(s), 0 info"));
    let healthy = run(&["check", "--snapshot", &fixture("healthy")]);
    assert_eq!(healthy.code, 0);
    assert!(healthy.stdout.contains("No known issue found."));
}

#[test]
fn namespace_scope() {
    let (code, v) = check_json("pending-install", &["-n", "blueking"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["summary"]["namespace"], "blueking");
    let (code, v) = check_json("pending-install", &["-n", "bk-system"]);
    assert_eq!(code, 1);
    assert_eq!(findings(&v, "helm-operation-in-progress").len(), 1);
    let (_, v) = check_json("pending-install", &["-A"]);
    assert_eq!(findings(&v, "helm-operation-in-progress").len(), 1);
}

#[test]
fn release_command_decodes_the_history() {
    let dir = fixture("pending-upgrade");
    let r = run(&[
        "release",
        "bk-paas",
        "-n",
        "blueking",
        "--snapshot",
        &dir,
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["name"], "bk-paas");
    assert_eq!(v["namespace"], "blueking");
    let revs = v["revisions"].as_array().unwrap();
    assert_eq!(revs.len(), 3);
    assert_eq!(revs[0]["revision"], 1);
    assert_eq!(revs[0]["status"], "superseded");
    assert_eq!(revs[0]["chart"], "bk-paas");
    assert_eq!(revs[0]["chartVersion"], "1.4.1");
    assert_eq!(revs[0]["appVersion"], "1.4.1");
    assert_eq!(revs[0]["description"], "Install complete");
    assert_eq!(revs[2]["status"], "pending-upgrade");
    assert_eq!(revs[2]["updated"], "2026-11-20T08:55:00.123456789Z");
    assert_eq!(v["findings"][0]["rule"], "helm-operation-in-progress");

    // Without -n, the one namespace that has the release is used.
    let t = run(&["release", "bk-paas", "--snapshot", &dir]);
    assert_eq!(t.code, 1);
    assert!(t.stdout.contains("Release blueking/bk-paas"));
    assert!(t.stdout.contains("pending-upgrade"));
    assert!(t.stdout.contains("helm rollback -n blueking bk-paas 2"));
    // In Chinese, the heading and the pod states too.
    let zh = run(&["release", "bk-paas", "--snapshot", &dir, "--lang", "zh"]);
    assert!(
        zh.stdout.contains("release blueking/bk-paas 的版本历史"),
        "{}",
        zh.stdout
    );
    assert!(!zh.stdout.contains("Release blueking"), "{}", zh.stdout);
}

#[test]
fn a_failed_release_names_its_pods_in_the_report_language() {
    let (_, v) = check_json("release-failed", &["--lang", "zh"]);
    let f = findings(&v, "helm-release-failed");
    let ev = strings(&f[0]["evidence"]).join("\n");
    assert!(ev.contains("CrashLoopBackOff，已重启 7 次"), "{ev}");
    assert!(!ev.contains("restarts"), "{ev}");
}

#[test]
fn release_command_on_a_healthy_release_exits_0() {
    let r = run(&[
        "release",
        "bk-cmdb",
        "--snapshot",
        &fixture("healthy"),
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    assert_eq!(v["revisions"][0]["status"], "deployed");
}

#[test]
fn release_not_found_says_where_it_looked() {
    let r = run(&[
        "release",
        "bk-nope",
        "--snapshot",
        &fixture("pending-upgrade"),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert_eq!(
        r.stderr.trim(),
        "error: helm release bk-nope not found in any namespace (releases found: blueking/bk-paas)"
    );
    let r = run(&[
        "release",
        "bk-paas",
        "-n",
        "default",
        "--snapshot",
        &fixture("pending-upgrade"),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("it exists in namespace blueking"),
        "{}",
        r.stderr
    );
}

#[test]
fn cannot_run_is_exit_2_with_one_line() {
    let missing = run(&["check", "--snapshot", "/nonexistent/bkdoctor-snapshot"]);
    assert_eq!(missing.code, 2);
    assert_eq!(
        missing.stderr.trim(),
        "error: snapshot directory /nonexistent/bkdoctor-snapshot: no such directory"
    );
    let file = run(&["check", "--snapshot", &format!("{}/gen.py", fixture(""))]);
    assert_eq!(file.code, 2);
    assert!(file.stderr.contains("not a directory"), "{}", file.stderr);
    let bad_flag = run(&["check", "--snapshot", &fixture("healthy"), "-o", "xml"]);
    assert_eq!(bad_flag.code, 2);
    assert!(bad_flag.stderr.contains("xml"));
    let conflict = run(&[
        "check",
        "-n",
        "blueking",
        "-A",
        "--snapshot",
        &fixture("healthy"),
    ]);
    assert_eq!(conflict.code, 2);
    let bad_time = run(&[
        "check",
        "--snapshot",
        &fixture("healthy"),
        "--now",
        "yesterday",
    ]);
    assert_eq!(bad_time.code, 2);
}

/// Every place helm keeps user data holds a planted value; none may reach any output.
#[test]
fn no_helm_value_manifest_or_secret_reaches_any_output() {
    let planted = [
        "do-not-print",
        "stringData",
        "kind: Secret",
        "apiVersion: batch/v1",
        "{{ .Release.Name }}",
        "chart readme",
    ];
    // Every fixture snapshot there is, so that a new rule's fixture is covered without being listed.
    let mut fixtures: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 10, "{fixtures:?}");
    let mut outputs = 0;
    for name in &fixtures {
        let dir = fixture(name);
        for lang in ["en", "zh"] {
            for format in ["table", "json"] {
                let mut runs = vec![run(&[
                    "check",
                    "--snapshot",
                    &dir,
                    "-o",
                    format,
                    "--lang",
                    lang,
                ])];
                // `release` for the releases most fixtures have; on the others it exits 2, which is
                // checked for leaks all the same.
                if format == "json" {
                    for rel in ["bk-paas", "bk-repo"] {
                        runs.push(run(&[
                            "release",
                            rel,
                            "--snapshot",
                            &dir,
                            "-o",
                            format,
                            "--lang",
                            lang,
                        ]));
                    }
                }
                for r in runs {
                    for p in planted {
                        assert!(
                            !r.stdout.contains(p),
                            "{name} {format} {lang}: {p} in stdout"
                        );
                        assert!(
                            !r.stderr.contains(p),
                            "{name} {format} {lang}: {p} in stderr"
                        );
                    }
                    outputs += 1;
                }
            }
        }
    }
    assert_eq!(outputs, fixtures.len() * 2 * 4);
    // The planted values really are in the fixtures' helm payloads, so the check above is not vacuous.
    for (file, planted) in [
        ("recorded/helm-secrets.json", "planted-value-do-not-print"),
        (
            "pending-upgrade/helm/releases.json",
            "planted-config-value-do-not-print",
        ),
        (
            "pending-upgrade/helm/releases.json",
            "planted-manifest-text-do-not-print",
        ),
        (
            "pending-upgrade/helm/releases.json",
            "planted-chart-values-do-not-print",
        ),
        (
            "pending-upgrade/helm/releases.json",
            "planted-hook-manifest-do-not-print",
        ),
    ] {
        let list: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(file)).unwrap()).unwrap();
        let found = list["items"].as_array().unwrap().iter().any(|s| {
            let payload = decode_secret_payload(s["data"]["release"].as_str().unwrap());
            payload.contains(planted)
        });
        assert!(found, "{planted} is not planted in {file}");
    }
    let plain = std::fs::read_to_string(fixture("healthy/secrets.yaml")).unwrap();
    assert!(plain.contains("kind: Secret") && plain.contains("password:"));
}

/// Secret data → helm's base64 → gzip → JSON text, independently of the code under test.
fn decode_secret_payload(api_b64: &str) -> String {
    use base64::Engine;
    use std::io::Read;
    let b64 = base64::engine::general_purpose::STANDARD;
    let helm_text = b64.decode(api_b64).unwrap();
    let gz = b64.decode(helm_text).unwrap();
    let mut json = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut json)
        .unwrap();
    json
}
