//! A log the doctor wanted and the API server did not give is said, with the server's answer, in
//! every format, live and from a snapshot that recorded it: a pod deleted between the list and the
//! read (404, the body a real kube-apiserver v1.36 sends, `recorded/error-404-pod.json`), a
//! container whose previous instance's log is gone (400), a kubelet out of reach (500). A live run
//! never speaks of a snapshot.

mod common;

use common::{fixture, run, serve, skipped};
use fake_apiserver::{FakeApi, Fault, Respond};
use serde_json::{Value, json};

const NS: &str = "blueking";
const POD: &str = "bk-job-execute-6f9c7d5b8-w2x7m";
const CONTAINER: &str = "job-execute";

fn log_path() -> String {
    format!("/api/v1/namespaces/{NS}/pods/{POD}/log")
}

/// The API server's answer for the log of a pod that no longer exists, as recorded from a real one
/// with this pod's name.
fn not_found() -> Fault {
    let mut body: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("crates/fake-apiserver/recorded/error-404-pod.json"),
        )
        .unwrap(),
    )
    .unwrap();
    body["message"] = json!(format!("pods \"{POD}\" not found"));
    body["details"]["name"] = json!(POD);
    Fault::path(
        &log_path(),
        Respond::Raw {
            code: 404,
            content_type: "application/json".into(),
            body: body.to_string(),
        },
    )
}

/// The kubelet's refusal when the previous instance's log is gone (rotated away, or the runtime
/// kept none).
fn previous_gone() -> Fault {
    Fault::path(
        &log_path(),
        Respond::Status {
            code: 400,
            reason: "BadRequest".into(),
            message: format!(
                "previous terminated container \"{CONTAINER}\" in pod \"{POD}\" not found"
            ),
        },
    )
}

fn what() -> String {
    format!("log of {NS}/{POD} container {CONTAINER} (previous)")
}

/// The evidence lines of the crash-loop finding on the pod.
fn evidence(report: &Value) -> Vec<String> {
    let object = format!("pod/{POD}");
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["objects"].to_string().contains(&object) || f["object"] == object)
        .flat_map(|f| f["evidence"].as_array().cloned().unwrap_or_default())
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect()
}

/// The same answer said in every format: the JSON `skipped` and `logFailures`, and each report's
/// "Not examined" part.
fn said_everywhere(args: &dyn Fn(&[&str]) -> common::Run, answer: &str) {
    let r = args(&["check", "-o", "json"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let v = r.json();
    let s = skipped(&v);
    let reason = s
        .iter()
        .find(|(w, _)| *w == what())
        .map(|(_, r)| r.clone())
        .unwrap_or_else(|| panic!("{} not in skipped: {s:#?}", what()));
    assert_eq!(reason, answer);
    let ev = evidence(&v);
    assert!(
        ev.iter()
            .any(|l| l == &format!("the log of {CONTAINER} could not be read: {answer}")),
        "{ev:#?}"
    );
    assert!(v.to_string().find("snapshot has no log").is_none(), "{v:#}");
    for format in ["table", "markdown", "html", "yaml"] {
        let r = args(&["check", "-o", format]);
        assert!(r.code == 0 || r.code == 1, "{format}: {}", r.stderr);
        let title = if format == "yaml" {
            "skipped:"
        } else {
            "Not examined"
        };
        assert!(r.stdout.contains(title), "{format}: {}", r.stdout);
        let shown = if format == "html" {
            answer.replace('"', "&quot;")
        } else {
            answer.to_string()
        };
        // The table wraps long lines at the terminal's width: compare words, not line breaks.
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let out = words(&r.stdout);
        assert!(
            out.contains(&words(&shown))
                || out.contains(&words(&answer.replace('"', "\\\"")))
                || out.contains(&words(&answer.replace('"', "&#34;"))),
            "{format}: {answer} not in\n{}",
            r.stdout
        );
    }
}

#[test]
fn a_log_the_server_would_not_give_is_said_with_its_answer() {
    let cases: Vec<(Fault, u16, String)> = vec![
        (
            not_found(),
            404,
            format!("not found: pods \"{POD}\" not found"),
        ),
        (
            previous_gone(),
            400,
            format!(
                "BadRequest (400): previous terminated container \"{CONTAINER}\" in pod \"{POD}\" not found"
            ),
        ),
    ];
    for (fault, code, answer) in cases {
        let live = serve(FakeApi::new().load_dir(fixture("crash-loop")).fault(fault));
        said_everywhere(&|a: &[&str]| live.run(a), &answer);
        // The snapshot keeps the answer, and a check of it says the same.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        let r = live.run(&["snapshot", dir.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let info: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("snapshot-info.json")).unwrap())
                .unwrap();
        let recorded = info["logFailures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["pod"] == POD && f["previous"] == true)
            .unwrap_or_else(|| panic!("{info:#}"))
            .clone();
        assert_eq!(recorded["code"], code);
        assert_eq!(
            recorded["reason"],
            if code == 404 {
                "NotFound"
            } else {
                "BadRequest"
            }
        );
        let d = dir.to_str().unwrap().to_string();
        said_everywhere(
            &|a: &[&str]| {
                let mut argv = a.to_vec();
                argv.extend(["--snapshot", &d]);
                run(&argv)
            },
            &answer,
        );
        // A snapshot that kept the answers but not the lines (written by another tool, or an
        // older version): said all the same.
        let mut bare = info.clone();
        bare["skipped"] = json!([]);
        std::fs::write(dir.join("snapshot-info.json"), bare.to_string()).unwrap();
        said_everywhere(
            &|a: &[&str]| {
                let mut argv = a.to_vec();
                argv.extend(["--snapshot", &d]);
                run(&argv)
            },
            &answer,
        );
    }
}

#[test]
fn a_kubelet_out_of_reach_is_said_with_the_servers_500() {
    let live = serve(
        FakeApi::new()
            .load_dir(fixture("crash-loop"))
            .kubelet_unreachable(NS, POD),
    );
    let r = live.run(&["check", "-o", "json"]);
    let v = r.json();
    let s = skipped(&v);
    let (_, reason) = s.iter().find(|(w, _)| *w == what()).unwrap();
    assert!(reason.starts_with("HTTP 500: Get \"https://"), "{reason}");
    assert!(reason.contains(":10250/containerLogs/"), "{reason}");
    assert!(
        evidence(&v).iter().any(|l| l.starts_with(&format!(
            "the log of {CONTAINER} could not be read: HTTP 500"
        ))),
        "{:#?}",
        evidence(&v)
    );
}

#[test]
fn a_live_run_never_speaks_of_a_snapshot_when_a_log_is_missing() {
    // No log at all for the crash-looping container, and the kubelet says so (200, one sentence):
    // the evidence says the log was not read, not that a snapshot lacks it.
    let live = serve(FakeApi::new().load_dir(fixture("crash-loop")));
    let r = live.run(&["check", "-o", "json", "--lang", "en"]);
    assert!(!r.stdout.contains("snapshot has no log"), "{}", r.stdout);
    let r = live.run(&["check", "-o", "json", "--lang", "zh"]);
    assert!(!r.stdout.contains("快照中没有"), "{}", r.stdout);
}
