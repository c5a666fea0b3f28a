//! The overview at the top of `check` and `release` names every object whole at any width from 80
//! columns: what a scanning eye looks for is which pod, release or node, so the title, the namespace
//! and the kind's long name give way first, never the name.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::run_env;

fn snapshots() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.push(root.join("examples/snapshot"));
    dirs
}

/// The overview: from the first line that starts with a severity to the next blank line (a release
/// report shows its history and workloads first).
fn overview(table: &str) -> Vec<&str> {
    let sev = ["error", "warning", "info", "错误", "警告", "提示"];
    table
        .lines()
        .skip_while(|l| !sev.iter().any(|s| l.starts_with(&format!("{s} "))))
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// The name a finding's object ends in: `pod/NAME` → `NAME`.
fn name(f: &Value) -> String {
    let o = f["object"].as_str().unwrap();
    o.split_once('/').map(|(_, n)| n).unwrap_or(o).to_string()
}

/// Checks the overview at each width against the findings of one `-o json` run; returns how many
/// findings it looked at.
fn names_whole(args: &[&str], widths: &[usize], lang: &str) -> usize {
    let mut json_args = args.to_vec();
    json_args.extend(["-o", "json", "--lang", lang]);
    let r = run_env(&json_args, &[]);
    let Ok(report) = serde_json::from_str::<Value>(&r.stdout) else {
        return 0;
    };
    let findings = report["findings"].as_array().unwrap();
    if findings.is_empty() {
        return 0;
    }
    let mut table_args = args.to_vec();
    table_args.extend(["--lang", lang]);
    for &width in widths {
        let cols = width.to_string();
        let table = run_env(&table_args, &[("COLUMNS", &cols)]).stdout;
        let lines = overview(&table);
        for f in findings {
            let n = name(f);
            let whole = lines.iter().any(|l| {
                l.split_whitespace()
                    .any(|word| word.rsplit('/').next() == Some(n.as_str()))
            });
            assert!(
                whole,
                "{args:?} at {width} ({lang}): {n} is not whole in the overview:\n{}",
                lines.join("\n")
            );
        }
    }
    findings.len() * widths.len()
}

#[test]
fn every_object_name_is_whole_in_the_overview_from_80_columns() {
    let dirs = snapshots();
    let checked = std::sync::atomic::AtomicUsize::new(0);
    // Two threads: the machine's CI has two cores.
    std::thread::scope(|s| {
        for half in dirs.chunks(dirs.len().div_ceil(2)) {
            let checked = &checked;
            s.spawn(move || {
                for dir in half {
                    let dir = dir.to_str().unwrap();
                    for lang in ["en", "zh"] {
                        let n = names_whole(&["check", "--snapshot", dir], &[80, 100, 120], lang);
                        checked.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let checked = checked.into_inner();
    assert!(checked > 300, "only {checked} findings looked at");
}

#[test]
fn a_release_report_names_its_blockers_whole_at_80_columns() {
    let dir = common::fixture("job-failed");
    let dir = dir.to_str().unwrap();
    for lang in ["en", "zh"] {
        let n = names_whole(
            &["release", "bk-cmdb", "-n", "blueking", "--snapshot", dir],
            &[80],
            lang,
        );
        assert!(n > 0);
    }
}

#[test]
fn long_objects_lose_their_namespace_and_long_kind_before_their_name() {
    let dir = common::fixture("volume-lost");
    let table = run_env(
        &["check", "--snapshot", dir.to_str().unwrap()],
        &[("COLUMNS", "80")],
    )
    .stdout;
    let lines = overview(&table);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" pvc/datadir-bk-mongodb-0 ")),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.contains('…') || !l.contains("pvc/d…"))
    );
    // At 200 columns there is room for the whole label and the title.
    let wide = run_env(
        &["check", "--snapshot", dir.to_str().unwrap()],
        &[("COLUMNS", "200")],
    )
    .stdout;
    assert!(
        overview(&wide)
            .iter()
            .any(|l| l.contains("persistentvolumeclaim/datadir-bk-mongodb-0 -n blueking")),
        "{wide}"
    );
}
