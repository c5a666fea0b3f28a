//! kubectl's global flags before the verb, as kubectl takes them (`kubectl -n blueking get pods`):
//! `kubectl bkdoctor -v check`, `-n NS check`, `--context x check`, `-A`, `--kubeconfig`,
//! `--request-timeout`, `-o`, `--lang`, for every subcommand that has them. An unknown flag still
//! gets clap's one clear message.

mod common;

use common::{fixture, run, serve};
use fake_apiserver::FakeApi;
use serde_json::Value;

fn not_a_flag_error(r: &common::Run) {
    assert!(
        !r.stderr.contains("unexpected argument") && !r.stderr.contains("Usage:"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_takes_them_before_the_verb() {
    let live = serve(FakeApi::new().load_dir(fixture("crash-loop")));
    let kc = live.kc().to_string();
    let r = run(&[
        "--kubeconfig",
        &kc,
        "--context",
        "fake",
        "-v",
        "-n",
        "blueking",
        "--request-timeout",
        "10s",
        "-o",
        "json",
        "--lang",
        "en",
        "check",
    ]);
    not_a_flag_error(&r);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let v: Value = r.json();
    assert!(v["findings"].is_array());
    // -v said what it did; -n kept every list in the namespace.
    assert!(!r.stderr.is_empty());
    let pods: Vec<_> = live
        .server
        .requests()
        .into_iter()
        .filter(|q| q.path.ends_with("/pods"))
        .collect();
    assert!(
        pods.iter()
            .all(|q| q.path == "/api/v1/namespaces/blueking/pods"),
        "{pods:#?}"
    );
    live.server.clear_requests();
    // kubectl's spellings: -A, -v=6, -v 6, -ojson, --context=x.
    for argv in [
        &["-A", "-ojson", "check"][..],
        &["-v=6", "-o", "json", "check"],
        &["-v", "6", "-o", "json", "check"],
        &["--context=fake", "-o=json", "check"],
    ] {
        let mut a = vec!["--kubeconfig", &kc];
        a.extend_from_slice(argv);
        let r = run(&a);
        not_a_flag_error(&r);
        assert!(r.code == 0 || r.code == 1, "{argv:?}: {}", r.stderr);
        r.json();
    }
    assert!(
        live.server
            .requests()
            .iter()
            .any(|q| q.path == "/api/v1/pods")
    );
}

#[test]
fn every_subcommand_takes_them_before_the_verb() {
    let live = serve(FakeApi::new().load_dir(fixture("crash-loop")));
    let kc = live.kc().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let d = dir.to_str().unwrap();
    let r = run(&["--kubeconfig", &kc, "-n", "blueking", "snapshot", d]);
    not_a_flag_error(&r);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("snapshot-info.json")).unwrap())
            .unwrap();
    assert_eq!(info["namespace"], "blueking");
    for argv in [
        &["-o", "json", "check", "--snapshot", d][..],
        &["-o", "json", "rules"],
        &[
            "-o",
            "json",
            "--lang",
            "zh",
            "explain",
            "--no-cluster",
            "--error",
            "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
        ],
    ] {
        let r = run(argv);
        not_a_flag_error(&r);
        assert!(r.code == 0 || r.code == 1, "{argv:?}: {}", r.stderr);
        r.json();
    }
    // The snapshot holds no helm release: the answer names the namespace given before the verb.
    let r = run(&[
        "-n",
        "blueking",
        "-o",
        "json",
        "release",
        "bk-job",
        "--snapshot",
        d,
    ]);
    not_a_flag_error(&r);
    assert!(
        r.stderr.contains("bk-job not found in namespace blueking"),
        "{}",
        r.stderr
    );
    // The probe runs against the fake, which refuses its pods: a failure of the probe, not of the
    // flags.
    let r = run(&["--kubeconfig", &kc, "--request-timeout", "5s", "probe"]);
    not_a_flag_error(&r);
}

#[test]
fn an_unknown_flag_before_the_verb_gets_one_clear_message() {
    let r = run(&["--frobnicate", "check"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unexpected argument '--frobnicate'"),
        "{}",
        r.stderr
    );
    // A flag the verb does not have, moved after it, is that verb's clap error.
    let r = run(&["-A", "rules"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("'-A'"), "{}", r.stderr);
}
