//! Limits and strange log content through the real binary: each limit hit is a `skipped` entry
//! naming what was cut and why, never an abort; a log that is CRLF, coloured and partly binary still
//! gives its finding, offline and live, and never drives the terminal.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Run, copy_dir, fixture, run, serve, skipped};

use fake_apiserver::{FakeApi, Fault, Respond};
use serde_json::{Value, json};

const NS: &str = "bkce";
const POD: &str = "bk-repo-bkrepo-gateway-6b8d9f7c5-qz4tn";
const SIGNATURE: &str =
    "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)";
/// The same as `kubectl_bkdoctor::snapshot::LOG_TAIL_BYTES`, spelled out so a change is noticed.
const LOG_TAIL_BYTES: usize = 256 * 1024;

impl Run {
    fn sane(&self, what: &str) {
        assert!(!self.stderr.contains("panicked"), "{what}: {}", self.stderr);
        assert!(
            self.took < Duration::from_secs(120),
            "{what}: {:?}",
            self.took
        );
        assert!(
            [0, 1].contains(&self.code),
            "{what}: exit {}: {}",
            self.code,
            self.stderr
        );
    }
}

fn ipv6_finding(v: &Value) -> Option<&Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "ipv6-disabled" && f["object"] == format!("pod/{POD}"))
}

/// What nginx under a container runtime on a Windows-edited image can leave: CRLF line ends, colour
/// codes, NULs and invalid UTF-8 from a binary written to the same stream, a terminal title escape.
fn hostile_log() -> Vec<u8> {
    let mut log = Vec::new();
    log.extend_from_slice(
        b"\x1b[32m2026/11/20 10:58:50 [notice]\x1b[0m 1#1: using the \"epoll\" event method\r\n",
    );
    log.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\xff\xfe\xfd binary\r\n");
    log.extend_from_slice(b"\x1b]0;you have been pwned\x07\x1b[2J\r\n");
    log.extend_from_slice(b"\xe6\x97\xa5\xe5\xbf\x97 \xc3\x28 half a character\r\n");
    log.extend_from_slice(format!("\x1b[31m{SIGNATURE}\x1b[0m\r\n").as_bytes());
    log
}

/// No control character but the line ends reaches a report meant for people.
fn assert_printable(text: &str, what: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: control characters {bad:?} in\n{text}"
    );
}

fn assert_hostile_log_understood(report: &Run, table: &Run, markdown: &Run, what: &str) {
    report.sane(what);
    assert_eq!(report.code, 1, "{what}: {}", report.stderr);
    let v = report.json();
    let f = ipv6_finding(&v).unwrap_or_else(|| panic!("{what}: no ipv6-disabled in {v:#}"));
    let evidence = f["evidence"].to_string();
    assert!(evidence.contains(SIGNATURE), "{what}: {evidence}");
    assert!(
        !evidence.contains("\\r") && !evidence.contains("\\u001b"),
        "{what}: {evidence}"
    );
    assert_eq!(v["skipped"], json!([]), "{what}");
    for (r, format) in [(table, "table"), (markdown, "markdown")] {
        r.sane(what);
        assert!(r.stdout.contains("ipv6-disabled"), "{what} {format}");
        assert_printable(&r.stdout, &format!("{what} {format}"));
    }
}

#[test]
fn a_crlf_coloured_partly_binary_log_still_fires_its_signature_offline_and_live() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ipv6");
    copy_dir(&fixture("ipv6"), &dir);
    let log = dir.join(format!("logs/{NS}/{POD}/gateway.previous.log"));
    std::fs::write(&log, hostile_log()).unwrap();
    let d = dir.to_str().unwrap();

    let offline = |format: &str| run(&["check", "--snapshot", d, "-o", format]);
    assert_hostile_log_understood(
        &offline("json"),
        &offline("table"),
        &offline("markdown"),
        "offline",
    );

    let live = serve(FakeApi::new().load_dir(&dir));
    let online = |format: &str| live.run(&["check", "-o", format]);
    assert_hostile_log_understood(
        &online("json"),
        &online("table"),
        &online("markdown"),
        "live",
    );
    // The fake served the bytes as they are, so the live run saw the same hostile log.
    let previous: Vec<_> = live
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(&format!("/{POD}/log")) && r.param("previous") == Some("true"))
        .collect();
    assert!(!previous.is_empty());

    // A snapshot of it reads back the same, and the log written is plain text.
    let out = tmp.path().join("snap");
    let r = live.run(&["snapshot", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let written =
        std::fs::read_to_string(out.join(format!("logs/{NS}/{POD}/gateway.previous.log"))).unwrap();
    assert!(written.contains(SIGNATURE));
    assert_printable(&written, "snapshot log");
    let back = run(&["check", "--snapshot", out.to_str().unwrap(), "-o", "json"]);
    assert!(ipv6_finding(&back.json()).is_some());
}

fn long_lines(n: usize, width: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let line = format!("{i:05} {}\n", "x".repeat(width));
        s.push_str(&line);
    }
    s
}

#[test]
fn a_live_log_longer_than_limit_bytes_is_asked_again_for_its_last_lines() {
    // 200 lines of 2 KiB: the kubelet cuts the tail at limitBytes before the signature.
    let mut log = long_lines(199, 2048);
    log.push_str(SIGNATURE);
    log.push('\n');
    assert!(log.len() > LOG_TAIL_BYTES);
    let live = serve(
        FakeApi::new()
            .load_dir(fixture("ipv6"))
            .log(NS, POD, "gateway", true, &log),
    );
    let r = live.run(&["check", "-o", "json"]);
    r.sane("long lines");
    assert_eq!(r.code, 1);
    let v = r.json();
    assert!(ipv6_finding(&v).is_some(), "{v:#}");
    assert_eq!(v["skipped"], json!([]));
    let asked: Vec<Option<String>> = live
        .server
        .requests()
        .iter()
        .filter(|q| q.path.ends_with(&format!("/{POD}/log")) && q.param("previous") == Some("true"))
        .map(|q| q.param("tailLines").map(str::to_string))
        .collect();
    assert_eq!(asked, [Some("200".to_string()), Some("20".to_string())]);

    // Even the last 20 lines are longer than the limit: what was read is used, without the cut
    // fragment, and the report says the end was not read.
    let mut log = long_lines(40, 20 * 1024);
    log.push_str(SIGNATURE);
    log.push('\n');
    let live = serve(
        FakeApi::new()
            .load_dir(fixture("ipv6"))
            .log(NS, POD, "gateway", true, &log),
    );
    let r = live.run(&["check", "-o", "json"]);
    r.sane("huge lines");
    let v = r.json();
    let s = skipped(&v);
    assert!(
        s.contains(&(
            format!("log of {NS}/{POD} container gateway (previous)"),
            "its last 20 lines are longer than 256 KiB; only their first 256 KiB were read"
                .to_string()
        )),
        "{s:#?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("snap");
    assert_eq!(live.run(&["snapshot", out.to_str().unwrap()]).code, 0);
    let written =
        std::fs::read_to_string(out.join(format!("logs/{NS}/{POD}/gateway.previous.log"))).unwrap();
    assert!(written.len() <= LOG_TAIL_BYTES);
    // Only whole lines: each one is a full 20 KiB line.
    assert!(
        written.lines().all(|l| l.len() == 6 + 20 * 1024),
        "a cut line was kept"
    );

    // A server that ignores limitBytes altogether is read no further than the limit.
    let flood = "y".repeat(1023) + "\n";
    let live = serve(FakeApi::new().load_dir(fixture("ipv6")).fault(Fault::new(
        |q| q.path.ends_with(&format!("/{POD}/log")),
        Respond::Raw {
            code: 200,
            content_type: "text/plain".into(),
            body: flood.repeat(8 * 1024),
        },
    )));
    let r = live.run(&["check", "-o", "json", "-v"]);
    r.sane("limitBytes ignored");
    let v = r.json();
    assert!(
        skipped(&v)
            .iter()
            .any(|(w, r)| w.starts_with(&format!("log of {NS}/{POD}")) && r.contains("256 KiB")),
        "{:#?}",
        skipped(&v)
    );
}

/// The list of Warning events, one of the two event lists a check makes.
fn warnings(q: &fake_apiserver::RecordedRequest) -> bool {
    q.path == "/api/v1/events" && q.param("fieldSelector") == Some("type=Warning")
}

/// `{}` items: cheap to send and parse, and all the same object, so that only the count matters.
fn page(kind: &str, items: usize, continue_token: Option<String>) -> Value {
    json!({
        "kind": kind, "apiVersion": "v1",
        "metadata": {"resourceVersion": "1", "continue": continue_token.unwrap_or_default()},
        "items": vec![json!({}); items],
    })
}

#[test]
fn enormous_and_endless_live_lists_are_cut_and_named() {
    // One page far over the limit, from a server or proxy that ignores `limit`.
    let huge = page("EventList", 500_001, None).to_string();
    let live = serve(FakeApi::new().load_dir(fixture("ipv6")).fault(Fault::path(
        "/api/v1/events",
        Respond::Raw {
            code: 200,
            content_type: "application/json".into(),
            body: huge,
        },
    )));
    let r = live.run(&["check", "-o", "json"]);
    r.sane("huge page");
    let v = r.json();
    assert!(
        skipped(&v).contains(&(
            "events (Warning)".to_string(),
            "holds 500001 objects; only the first 500000 were read".to_string()
        )),
        "{:#?}",
        skipped(&v)
    );
    assert!(ipv6_finding(&v).is_some());

    // Pages that never end, each with a new continue token: cut at the object limit.
    let pages = Arc::new(AtomicUsize::new(0));
    let served = pages.clone();
    let live = serve(
        FakeApi::new()
            .load_dir(fixture("ipv6"))
            .handler(move |q, _| {
                if !warnings(q) {
                    return None;
                }
                let n = served.fetch_add(1, Ordering::SeqCst);
                Some((200, page("EventList", 10_000, Some(format!("token-{n}")))))
            }),
    );
    let r = live.run(&["check", "-o", "json"]);
    r.sane("endless list");
    assert_eq!(
        pages.load(Ordering::SeqCst),
        50,
        "stopped at 500,000 objects"
    );
    let v = r.json();
    let s = skipped(&v);
    assert!(
        s.contains(&(
            "events (Warning)".to_string(),
            "stopped after 500000 objects in 50 pages; the rest was not read".to_string()
        )),
        "{s:#?}"
    );
    assert!(ipv6_finding(&v).is_some());

    // The same continue token twice is a loop, not more data.
    let live =
        serve(FakeApi::new().load_dir(fixture("ipv6")).handler(|q, _| {
            warnings(q).then(|| (200, page("EventList", 1, Some("again".into()))))
        }));
    let r = live.run(&["check", "-o", "json"]);
    r.sane("repeated token");
    let s = skipped(&r.json());
    assert!(
        s.contains(&(
            "events (Warning)".to_string(),
            "the server gave the same continue token twice; the rest was not read".to_string()
        )),
        "{s:#?}"
    );
    assert_eq!(
        live.server
            .requests()
            .iter()
            .filter(|q| warnings(q))
            .count(),
        2
    );
}

#[test]
fn a_live_list_of_broken_objects_is_summarised() {
    let pods: Vec<Value> = (0..5_000)
        .map(|i| json!({"metadata": {"name": format!("p{i}"), "namespace": "x"}, "spec": "not an object"}))
        .collect();
    let body =
        json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods}).to_string();
    let live = serve(FakeApi::new().load_dir(fixture("ipv6")).fault(Fault::path(
        "/api/v1/pods",
        Respond::Raw {
            code: 200,
            content_type: "application/json".into(),
            body,
        },
    )));
    let r = live.run(&["check", "-o", "json"]);
    r.sane("broken pods");
    let s = skipped(&r.json());
    assert_eq!(s.len(), 11, "{s:#?}");
    assert!(s[0].0.starts_with("pods: Pod x/p0"), "{:?}", s[0]);
    assert_eq!(
        s[10],
        (
            "pods".to_string(),
            "and 4990 more objects in this list that could not be used".to_string()
        )
    );
}

#[test]
fn an_inflated_release_is_a_finding_not_an_abort() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use std::io::Write;
    // 65 MiB of zeros gzips to ~65 KiB: over the 64 MiB inflate limit, tiny on the wire.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..65 {
        gz.write_all(&zeros).unwrap();
    }
    let stored = STANDARD.encode(gz.finish().unwrap());
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.bk-bomb.v1", "namespace": "blueking",
                     "labels": {"owner": "helm", "name": "bk-bomb", "status": "deployed", "version": "1"}},
        "data": {"release": STANDARD.encode(stored)},
    });
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("bomb.json"), secret.to_string()).unwrap();
    let offline = run(&[
        "check",
        "--snapshot",
        tmp.path().to_str().unwrap(),
        "-o",
        "json",
    ]);
    let live = serve(FakeApi::new().object(secret));
    // The release looks healthy by its labels: a plain live `check` does not read its payload,
    // `check --all-releases` and `release NAME` do.
    let plain = live.run(&["check", "-o", "json"]);
    plain.sane("live, plain check");
    assert_eq!(plain.json()["findings"], json!([]), "{}", plain.stdout);
    let release = live.run(&["release", "bk-bomb", "-n", "blueking", "-o", "json"]);
    let online = live.run(&["check", "--all-releases", "-o", "json"]);
    for (r, what) in [
        (offline, "offline"),
        (online, "live --all-releases"),
        (release, "live release"),
    ] {
        r.sane(what);
        let v = r.json();
        let f = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "helm-release-unreadable")
            .unwrap_or_else(|| panic!("{what}: {v:#}"));
        assert!(
            f["evidence"]
                .to_string()
                .contains("inflates to more than 64 MiB"),
            "{what}: {f}"
        );
    }
}

#[test]
fn an_answer_over_the_body_limit_is_refused_not_read() {
    use kubectl_bkdoctor::collect::live::connect;
    let pod = |i: usize| {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": format!("p{i}"), "namespace": "blueking",
                            "annotations": {"padding": "z".repeat(1024)}}})
    };
    let live = serve(
        FakeApi::new()
            .objects((0..2_000).map(pod))
            .fault(Fault::path(
                "/api/v1/events",
                Respond::Raw {
                    code: 200,
                    content_type: "application/json".into(),
                    body: page("EventList", 400_000, None).to_string(),
                },
            )),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cluster = connect::connect(Some(&live.kubeconfig), None, Some(Duration::from_secs(20)))
            .await
            .unwrap();
        let api = cluster.api.with_max_body(1 << 20);
        let refused = "the answer is larger than 1 MiB; not read";

        // Announced by Content-Length: refused before the body is read.
        let e = api.list("/api/v1/events", None, false).await.err().unwrap();
        assert_eq!(e.describe(), refused);

        // Streamed without a length (a watch sends every pod, 2 MiB, chunked): read up to the
        // limit, then refused.
        let watch = http::Request::get("/api/v1/pods?watch=true")
            .body(Vec::new())
            .unwrap();
        let e = api.send(watch).await.err().unwrap();
        assert_eq!(e.describe(), refused);

        // Under the limit, the same server answers normally: the whole list from the watch cache
        // is 2 MiB, over it, so the list is read again in pages from etcd, each under it.
        live.server.clear_requests();
        let listed = api.list("/api/v1/pods", None, false).await.unwrap();
        assert_eq!(listed.items.len(), 2_000);
        let asked: Vec<(Option<String>, Option<String>)> = live
            .server
            .requests()
            .iter()
            .map(|r| {
                let p = |k: &str| r.param(k).map(str::to_string);
                (p("resourceVersion"), p("limit"))
            })
            .collect();
        let page = (None, Some("500".to_string()));
        assert_eq!(
            asked,
            [
                (Some("0".to_string()), None),
                page.clone(),
                page.clone(),
                page.clone(),
                page
            ]
        );
    });
}
