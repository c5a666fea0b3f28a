//! Every command the doctor prints is filled in: over every fixture snapshot, in both languages, no
//! remediation line that is not a `#` comment keeps a catalog placeholder (`{workload}`,
//! `{text.restart}`). A command the data cannot fill in must be quoted as advice instead.

mod common;

use std::path::{Path, PathBuf};

use regex::Regex;

use common::{check_fixture, lines, of_rule, one};

fn fixture_names() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 40,
        "fixtures missing under {}",
        root.display()
    );
    dirs.iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// A catalog placeholder: `{name}` or `{text.name}`, lower-case. A jsonpath (`{.data}`), a curl
/// format (`%{http_code}`) or a JSON patch (`{"metadata":...}`) is not one.
fn placeholder() -> Regex {
    Regex::new(r"(^|[^%$])\{[a-z][a-z0-9_]*(\.[a-z0-9_]+)?\}").unwrap()
}

#[test]
fn the_placeholder_pattern_tells_templates_from_shell_syntax() {
    let re = placeholder();
    assert!(re.is_match("kubectl rollout restart -n blueking {workload}"));
    assert!(re.is_match("{text.restart}"));
    assert!(!re.is_match("kubectl get cm coredns -o jsonpath='{.data.Corefile}'"));
    assert!(!re.is_match("curl -sk -w '%{http_code}\\n' https://10.0.0.13:10250/healthz"));
    assert!(!re.is_match(r#"kubectl patch sc x -p '{"metadata":{"annotations":{}}}'"#));
}

#[test]
fn no_command_of_any_fixture_keeps_a_placeholder() {
    let re = placeholder();
    let mut checked = 0;
    let mut bad = Vec::new();
    for name in fixture_names() {
        for lang in ["en", "zh"] {
            let dir = common::fixture(&name);
            let r = common::run(&[
                "check",
                "--snapshot",
                dir.to_str().unwrap(),
                "-o",
                "json",
                "--lang",
                lang,
            ]);
            assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
            let Ok(report) = serde_json::from_str::<serde_json::Value>(&r.stdout) else {
                // A snapshot the doctor refuses (a corrupt one) prints no report, only its message.
                assert!(!r.stderr.trim().is_empty(), "{name}: no report, no message");
                continue;
            };
            for f in report["findings"].as_array().unwrap() {
                for line in lines(f, "remediation") {
                    checked += 1;
                    if !line.starts_with('#') && re.is_match(&line) {
                        bad.push(format!("{name} {lang} {}: {line}", f["rule"]));
                    }
                }
            }
        }
    }
    assert!(checked > 200, "only {checked} remediation lines read");
    assert!(bad.is_empty(), "unfilled placeholders:\n{}", bad.join("\n"));
}

/// The case that leaked `{workload}`: a log signature whose fix restarts the pod's workload, on a
/// pod no controller owns. The command is quoted as advice naming what is missing.
#[test]
fn a_restart_with_no_workload_to_name_is_advice_not_a_command() {
    for lang in ["en", "zh"] {
        let (_, r) = check_fixture("bkjob-esb-bare-pod", lang);
        let f = one(&r, "bkjob-esb-jwt", "pod/bk-job-gateway-debug");
        let fix = lines(f, "remediation");
        assert!(
            fix.iter().all(|l| l.starts_with('#')),
            "{lang}: a command with no workload: {fix:?}"
        );
        assert!(
            fix.iter()
                .any(|l| l.contains("workload") && l.contains("kubectl rollout restart")),
            "{lang}: {fix:?}"
        );
    }
    // A Deployment's pod whose labels lack pod-template-hash still names its Deployment.
    let (_, r) = check_fixture("bkjob-esb-bare-pod", "en");
    let f = one(&r, "bkjob-esb-jwt", "pod/bk-job-gateway-6f7d9c8b5-7kq2m");
    assert!(
        lines(f, "remediation")
            .contains(&"kubectl rollout restart -n blueking deployment/bk-job-gateway".to_string()),
        "{f:#}"
    );
    assert_eq!(of_rule(&r, "bkjob-esb-jwt").len(), 2, "{r:#}");
}
