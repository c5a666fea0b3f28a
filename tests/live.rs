//! The live doctor end to end: the real binary, through the real kube client, over real HTTPS, against
//! the in-process fake API server serving the same fixtures the offline tests read.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fake_apiserver::{Auth, FakeApi, Fault, Respond};
use kubectl_bkdoctor::helm::decode::encode;
use serde_json::{Value, json};

use common::{BIN, command, finding_keys, output, run, serve, walk};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 8, "fixtures missing under {}", root.display());
    dirs
}

fn name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// The offline report's own time, so that both runs measure ages against the same moment.
fn offline_time(dir: &Path) -> String {
    let r = run(&["check", "--snapshot", dir.to_str().unwrap(), "-o", "json"]);
    r.json()["summary"]["snapshotTime"]
        .as_str()
        .unwrap()
        .to_string()
}

fn release_objects(findings: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let name = f["object"].as_str()?.strip_prefix("release/")?;
            Some((f["namespace"].as_str()?.to_string(), name.to_string()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether the fixture's snapshot recorded log reads the API server answered with an error (a
/// kubelet out of reach, `pods/log` forbidden); served that way, its live run cannot read those
/// logs either.
fn records_unread_logs(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("snapshot-info.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|v| v["logFailures"].as_array().is_some_and(|a| !a.is_empty()))
}

/// A report's `skipped` entries about single logs, sorted.
fn log_entries(v: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["what"].as_str().is_some_and(|w| w.starts_with("log of ")))
        .cloned()
        .collect();
    out.sort_by_key(|s| s["what"].to_string());
    assert!(!out.is_empty(), "no log entries in {v:#}");
    out
}

#[test]
fn same_findings_live_as_offline_for_every_fixture() {
    for dir in fixtures() {
        let fixture = name(&dir);
        let now = offline_time(&dir);
        let d = dir.to_str().unwrap();
        let offline = run(&["check", "--snapshot", d, "-o", "json", "--now", &now]);
        // --all-releases reads every release's newest record, as offline does: the same findings.
        let all = serve(FakeApi::new().load_dir(&dir));
        let every = all.run(&["check", "--all-releases", "-o", "json", "--now", &now]);
        assert_eq!(
            offline.json()["findings"],
            every.json()["findings"],
            "{fixture}: findings differ with --all-releases"
        );
        // By default a release that is healthy by its storage labels is not read, so a broken
        // record in it goes unseen: only in `corrupt`, whose healthy releases have broken records.
        let unseen: &[&str] = if fixture == "corrupt" {
            &["bk-bomb", "bk-cmdb", "bk-iam", "bk-job"]
        } else {
            &[]
        };
        let mut expected = offline.json();
        expected["findings"].as_array_mut().unwrap().retain(|f| {
            !(f["rule"] == "helm-release-unreadable"
                && unseen
                    .iter()
                    .any(|r| f["object"] == format!("secret/sh.helm.release.v1.{r}.v1").as_str()))
        });
        let removed = offline.json()["findings"].as_array().unwrap().len()
            - expected["findings"].as_array().unwrap().len();
        assert_eq!(removed, unseen.len(), "{fixture}: {:#}", offline.json());
        let live = serve(FakeApi::new().load_dir(&dir));
        let started = Instant::now();
        let online = live.run(&["check", "-o", "json", "--now", &now, "-v"]);
        let elapsed = started.elapsed();
        let (off, on) = (expected, online.json());
        assert_eq!(
            off["findings"], on["findings"],
            "{fixture}: findings differ"
        );
        assert_eq!(offline.code, online.code, "{fixture}: exit codes differ");
        for k in ["pods", "nodes", "releases"] {
            assert_eq!(
                off["summary"][k], on["summary"][k],
                "{fixture}: summary.{k}"
            );
        }
        for (k, severity) in [
            ("errors", "error"),
            ("warnings", "warning"),
            ("info", "info"),
        ] {
            let n = off["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] == severity)
                .count();
            assert_eq!(on["summary"][k], n, "{fixture}: summary.{k}");
        }
        // A snapshot that recorded logs it could not read is served that way: the live run cannot
        // read those logs either, and says so in the same words the snapshot kept.
        if records_unread_logs(&dir) {
            assert_eq!(
                log_entries(&on),
                log_entries(&offline.json()),
                "{fixture}: the unreadable logs"
            );
        } else {
            assert_eq!(
                on["skipped"],
                json!([]),
                "{fixture}: live run skipped something"
            );
        }
        assert!(
            live.server.writes().is_empty(),
            "{fixture}: a write was sent"
        );
        let requests = live.server.requests();
        eprintln!(
            "{fixture}: {} requests ({} helm payloads, {} logs) in {:.0} ms; {}",
            requests.len(),
            requests
                .iter()
                .filter(|r| r.path.contains("/sh.helm.release.v1."))
                .count(),
            requests.iter().filter(|r| r.path.ends_with("/log")).count(),
            elapsed.as_secs_f64() * 1000.0,
            online.stderr.trim()
        );

        // `release` decodes a release's whole history; it must read the same live.
        for (ns, rel) in release_objects(&off["findings"]) {
            let args = [
                "release",
                rel.as_str(),
                "-n",
                ns.as_str(),
                "-o",
                "json",
                "--now",
                &now,
            ];
            let mut off_args = args.to_vec();
            off_args.extend(["--snapshot", d]);
            let off = run(&off_args);
            let on = live.run(&args);
            // A finding may name a release by its pods' labels that has no helm records (the
            // fixture has none): both sides then say it was not found.
            if off.code == 2 {
                assert_eq!(on.code, 2, "{fixture}: release {ns}/{rel}: {}", on.stderr);
                continue;
            }
            let (mut off_v, mut on_v) = (off.json(), on.json());
            // The offline run also reports the fixture's deliberately broken files.
            off_v.as_object_mut().unwrap().remove("skipped");
            assert_eq!(
                on_v.as_object_mut().unwrap().remove("skipped"),
                Some(json!([]))
            );
            // Live, `release` reads the release's own namespace and cluster-scoped objects, and
            // looks up by name the releases a rule weighs it against (bk-apigateway for BCS) in
            // any other. The ingress-nginx controller in another namespace is not looked up, so
            // its evidence can be shorter; the history and which findings there are must agree.
            assert_eq!(
                off_v["revisions"], on_v["revisions"],
                "{fixture}: release {ns}/{rel}"
            );
            let key = |v: &Value| {
                let mut k: Vec<(String, String, String)> = v["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        (
                            f["rule"].to_string(),
                            f["object"].to_string(),
                            f["severity"].to_string(),
                        )
                    })
                    .collect();
                k.sort();
                k
            };
            assert_eq!(
                key(&off_v),
                key(&on_v),
                "{fixture}: release {ns}/{rel} differs"
            );
            if fixture.starts_with("apigw") {
                assert_eq!(off_v, on_v, "{fixture}: release {ns}/{rel} differs");
            }
            assert_eq!(off.code, on.code, "{fixture}: release {ns}/{rel}");
        }
    }
}

#[test]
fn snapshot_round_trips_and_is_safe_to_send() {
    for dir in fixtures() {
        let fixture = name(&dir);
        let now = offline_time(&dir);
        // The server's clock stands still at the snapshot's time: a running one moves between the
        // check and the snapshot, and a skew measured a second apart rounds differently.
        let live = serve(
            FakeApi::new()
                .load_dir(&dir)
                .server_time(now.parse().unwrap()),
        );
        let online = live.run(&["check", "-o", "json", "--now", &now]);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("snap");
        let written = live.run(&["snapshot", out.to_str().unwrap()]);
        assert_eq!(written.code, 0, "{fixture}: {}", written.stderr);
        assert!(written.stderr.is_empty(), "{fixture}: {}", written.stderr);
        let back = run(&[
            "check",
            "--snapshot",
            out.to_str().unwrap(),
            "-o",
            "json",
            "--now",
            &now,
        ]);
        assert_eq!(
            online.json()["findings"],
            back.json()["findings"],
            "{fixture}: findings differ after the round trip"
        );
        assert_eq!(online.code, back.code);
        // What the live run could not read, the snapshot says it could not read.
        let expected = if records_unread_logs(&dir) {
            online.json()["skipped"].clone()
        } else {
            json!([])
        };
        assert_eq!(back.json()["skipped"], expected, "{fixture}");
        assert!(out.join("README.md").is_file());
        assert_safe(&out, &fixture);
        assert!(live.server.writes().is_empty());
    }
}

/// No planted value, no decoded helm payload part, no Secret's data but helm release storage.
fn assert_safe(dir: &Path, fixture: &str) {
    for entry in walk(dir) {
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(
            !text.contains("do-not-print"),
            "{fixture}: {} holds a planted value",
            entry.display()
        );
        if entry.extension().is_some_and(|e| e == "json") {
            let v: Value = serde_json::from_str(&text).unwrap();
            for item in v["items"].as_array().into_iter().flatten() {
                if item["kind"] == "Secret" && item["type"] != "helm.sh/release.v1" {
                    // Any other Secret: that it exists, never a value.
                    assert!(item.get("data").is_none(), "{fixture}: {item}");
                    assert!(item.get("stringData").is_none(), "{fixture}: {item}");
                } else if item["kind"] == "Secret"
                    && let Some(b64) = item["data"]["release"].as_str()
                {
                    let stored = STANDARD.decode(b64).unwrap();
                    let json = kubectl_bkdoctor::helm::decode::release_json(&stored).unwrap();
                    let release: Value = serde_json::from_slice(&json).unwrap();
                    for k in ["config", "manifest"] {
                        assert!(release.get(k).is_none(), "{fixture}: {k} kept");
                    }
                    for k in ["values", "templates", "files"] {
                        assert!(release["chart"].get(k).is_none(), "{fixture}: chart.{k}");
                    }
                }
            }
        }
    }
}

/// A helm storage Secret as helm writes it, for histories longer than the fixtures'.
fn storage_secret(name: &str, ns: &str, rev: u32, status: &str) -> Value {
    let release = json!({
        "name": name, "namespace": ns, "version": rev,
        "info": {"status": status, "description": format!("{status} {rev}"),
                 "first_deployed": "2026-11-01T00:00:00Z", "last_deployed": "2026-11-19T00:00:00Z"},
        "chart": {"metadata": {"name": name, "version": "1.0.0", "appVersion": "1.0.0"},
                  "values": {"password": "chart-do-not-print"}},
        "config": {"password": "config-do-not-print"},
        "manifest": "kind: Secret # manifest-do-not-print",
    });
    let stored = encode(release.to_string().as_bytes());
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v{rev}"), "namespace": ns,
                     "creationTimestamp": "2026-11-19T00:00:00Z",
                     "labels": {"owner": "helm", "name": name, "status": status,
                                "version": rev.to_string(), "modifiedAt": "1795564800"}},
        "data": {"release": STANDARD.encode(stored)},
    })
}

fn long_histories() -> Vec<Value> {
    let mut objs: Vec<Value> = (1..=9)
        .map(|r| storage_secret("bk-paas", "blueking", r, "superseded"))
        .collect();
    objs.push(storage_secret("bk-paas", "blueking", 10, "deployed"));
    objs.push(storage_secret("bk-cmdb", "blueking", 1, "superseded"));
    objs.push(storage_secret("bk-cmdb", "blueking", 2, "failed"));
    objs.push(storage_secret("bk-cmdb", "blueking", 3, "pending-upgrade"));
    objs.push(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "bk-db", "namespace": "blueking"},
        "data": {"password": STANDARD.encode("secret-do-not-print")}}),
    );
    objs
}

#[test]
fn helm_payloads_are_fetched_only_for_the_revisions_rules_read() {
    // Consistent reads: lists paged, payloads by name, so each fetched payload is a request.
    let live = serve(FakeApi::new().objects(long_histories()).page_size(4));
    let r = live.run(&["check", "-o", "json", "--consistent-read"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let requests = live.server.requests();
    let mut fetched: Vec<&str> = requests
        .iter()
        .filter_map(|r| r.path.strip_prefix("/api/v1/namespaces/blueking/secrets/"))
        .collect();
    fetched.sort();
    assert_eq!(
        fetched,
        [
            "sh.helm.release.v1.bk-cmdb.v1",
            "sh.helm.release.v1.bk-cmdb.v3",
        ]
    );
    // Every Secret list is metadata-only, selects helm storage, and follows continue tokens.
    let lists: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/api/v1/secrets" && r.param("labelSelector") == Some("owner=helm"))
        .collect();
    assert!(
        lists.len() >= 4,
        "13 records in pages of 4: {}",
        lists.len()
    );
    for l in &lists {
        assert!(
            l.accept
                .as_deref()
                .unwrap_or("")
                .contains("as=PartialObjectMetadataList"),
            "{:?}",
            l.accept
        );
        assert_eq!(l.param("labelSelector"), Some("owner=helm"));
    }
    assert!(lists.iter().skip(1).all(|l| l.param("continue").is_some()));
    let v = r.json();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["helm-operation-in-progress"]);
    assert!(
        v["findings"][0]["remediation"]
            .as_array()
            .unwrap()
            .contains(&json!("helm rollback -n blueking bk-cmdb 1")),
        "{}",
        v["findings"][0]
    );
    assert!(!r.stdout.contains("do-not-print"));

    // `release` shows the whole history, so it reads every revision of that release.
    live.server.clear_requests();
    let r = live.run(&[
        "release",
        "bk-paas",
        "-n",
        "blueking",
        "-o",
        "json",
        "--consistent-read",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["revisions"].as_array().unwrap().len(), 10);
    assert_eq!(r.json()["revisions"][0]["chartVersion"], "1.0.0");
    let paas = live
        .server
        .requests()
        .iter()
        .filter(|r| r.path.contains("/secrets/sh.helm.release.v1.bk-paas."))
        .count();
    assert_eq!(paas, 10);
    // From the watch cache the same ten come in one list per status (superseded, deployed; and
    // bk-cmdb's, in trouble in the same namespace, pending-upgrade).
    live.server.clear_requests();
    let cached = live.run(&["release", "bk-paas", "-n", "blueking", "-o", "json"]);
    assert_eq!(cached.json()["revisions"], r.json()["revisions"]);
    let requests = live.server.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.path.contains("/secrets/sh.helm.release.v1."))
    );
    let payload_lists = requests
        .iter()
        .filter(|r| {
            r.param("labelSelector")
                .is_some_and(|s| s.starts_with("owner=helm,status="))
        })
        .count();
    assert_eq!(payload_lists, 3);

    // The snapshot keeps every record, the unfetched ones by their labels only.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    assert_eq!(live.run(&["snapshot", out.to_str().unwrap()]).code, 0);
    let secrets: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("helm/secrets.json")).unwrap())
            .unwrap();
    let items = secrets["items"].as_array().unwrap();
    assert_eq!(items.len(), 13);
    let without_data = items.iter().filter(|i| i.get("data").is_none()).count();
    assert_eq!(without_data, 11);
    assert_safe(&out, "long-histories");
    let back = run(&["check", "--snapshot", out.to_str().unwrap(), "-o", "json"]);
    assert_eq!(back.json()["findings"].as_array().unwrap().len(), 1);

    // --all-releases adds the newest record of the healthy release, to check and to snapshot.
    live.server.clear_requests();
    let r = live.run(&["check", "--all-releases", "-o", "json", "--consistent-read"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut fetched: Vec<String> = live
        .server
        .requests()
        .iter()
        .filter_map(|r| {
            let name = r
                .path
                .strip_prefix("/api/v1/namespaces/blueking/secrets/")?;
            Some(name.to_string())
        })
        .collect();
    fetched.sort();
    assert_eq!(
        fetched,
        [
            "sh.helm.release.v1.bk-cmdb.v1",
            "sh.helm.release.v1.bk-cmdb.v3",
            "sh.helm.release.v1.bk-paas.v10",
        ]
    );
    let out = tmp.path().join("all");
    let args = ["snapshot", "--all-releases", out.to_str().unwrap()];
    assert_eq!(live.run(&args).code, 0);
    let secrets: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("helm/secrets.json")).unwrap())
            .unwrap();
    let with_data: Vec<&str> = secrets["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i.get("data").is_some())
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(with_data.len(), 3, "{with_data:?}");
    assert!(with_data.contains(&"sh.helm.release.v1.bk-paas.v10"));
    assert_safe(&out, "long-histories --all-releases");
    assert!(live.server.writes().is_empty());
}

#[test]
fn only_get_requests_for_every_command() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-failed");
    let live = serve(FakeApi::new().load_dir(&dir));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    for args in [
        vec!["check"],
        vec!["check", "-n", "blueking", "-o", "json"],
        vec!["release", "bk-repo", "-n", "blueking"],
        vec!["snapshot", out.to_str().unwrap()],
    ] {
        let r = live.run(&args);
        assert!(r.code == 0 || r.code == 1, "{args:?}: {}", r.stderr);
    }
    let requests = live.server.requests();
    assert!(requests.len() > 20);
    assert!(requests.iter().all(|r| r.method == "GET"));
    assert!(live.server.writes().is_empty());
}

#[test]
fn forbidden_secrets_degrade_to_a_skipped_entry() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let live = serve(FakeApi::new().load_dir(&dir).forbid("secrets", None));
    let r = live.run(&["check", "-o", "json"]);
    // Nothing readable says anything is wrong; the report says what it could not see.
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["findings"], json!([]));
    assert_eq!(v["summary"]["pods"], 3);
    let skipped = v["skipped"].as_array().unwrap();
    let secrets = skipped
        .iter()
        .find(|s| s["what"] == "secrets (helm release records)")
        .unwrap_or_else(|| panic!("{skipped:?}"));
    assert!(
        secrets["reason"]
            .as_str()
            .unwrap()
            .starts_with("forbidden: secrets is forbidden: User \"system:serviceaccount:default:viewer\" cannot list resource \"secrets\""),
        "{secrets}"
    );
    let rules = skipped
        .iter()
        .find(|s| s["what"].as_str().unwrap().starts_with("rules "))
        .unwrap();
    assert!(
        rules["what"]
            .as_str()
            .unwrap()
            .contains("helm-operation-in-progress")
    );

    // The table says it too.
    let t = live.run(&["check"]);
    assert!(
        t.stdout.contains("secrets (helm release records)"),
        "{}",
        t.stdout
    );
    assert!(t.stderr.is_empty());

    // And a snapshot taken under the same RBAC keeps saying it when read back.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    assert_eq!(live.run(&["snapshot", out.to_str().unwrap()]).code, 0);
    let back = run(&["check", "--snapshot", out.to_str().unwrap(), "-o", "json"]);
    assert_eq!(back.json()["skipped"], v["skipped"]);
}

#[test]
fn nothing_readable_is_exit_2_with_one_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/healthy");
    let mut api = FakeApi::new().load_dir(&dir);
    for r in [
        "secrets",
        "configmaps",
        "pods",
        "nodes",
        "services",
        "namespaces",
        "events",
        "persistentvolumeclaims",
        "persistentvolumes",
        "storageclasses",
        "deployments",
        "daemonsets",
        "statefulsets",
        "jobs",
        "leases",
        "customresourcedefinitions",
        "ingresses",
        "storageclasses",
        "clusterrolebindings",
        "serviceaccounts",
        "cronjobs",
        "replicasets",
        "endpointslices",
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "ingressclasses",
    ] {
        api = api.forbid(r, None);
    }
    let live = serve(api);
    let r = live.run(&["check"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("could not read anything from context \"fake\""),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(live.server.url()));
    assert!(r.stderr.contains("forbidden"));
}

#[test]
fn token_and_client_certificate_kubeconfigs_both_work() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let now = offline_time(&dir);
    let server = FakeApi::new().load_dir(&dir).start();
    let tmp = tempfile::tempdir().unwrap();
    let token = server.kubeconfig_with_token(tmp.path().join("token"));
    let cert = server.kubeconfig_with_client_cert(tmp.path().join("cert"));
    let mut results = Vec::new();
    for (kc, auth) in [(token, Auth::Token), (cert, Auth::ClientCert)] {
        server.clear_requests();
        let r = run(&[
            "check",
            "-o",
            "json",
            "--now",
            &now,
            "--kubeconfig",
            kc.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        let requests = server.requests();
        assert!(!requests.is_empty());
        assert!(requests.iter().all(|r| r.auth == auth), "{auth:?}");
        results.push(r.json()["findings"].clone());
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].as_array().unwrap().len(), 1);
}

#[test]
fn wrong_token_is_one_line_exit_2() {
    let server = FakeApi::new().start();
    let tmp = tempfile::tempdir().unwrap();
    let yaml = server
        .kubeconfig_yaml(false, "default")
        .replace(server.token().unwrap(), "wrong-token");
    let kc = tmp.path().join("config");
    std::fs::write(&kc, yaml).unwrap();
    let r = run(&["check", "--kubeconfig", kc.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("context \"fake\""));
    assert!(r.stderr.contains(server.url()));
    assert!(
        r.stderr.contains("rejected the credentials"),
        "{}",
        r.stderr
    );
}

#[test]
fn unreachable_server_is_one_line_exit_2() {
    let server = FakeApi::new().start();
    let yaml = server.kubeconfig_yaml(false, "default");
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = format!("https://127.0.0.1:{port}");
    let tmp = tempfile::tempdir().unwrap();
    let kc = tmp.path().join("config");
    std::fs::write(&kc, yaml.replace(server.url(), &dead)).unwrap();
    let r = run(&["check", "--kubeconfig", kc.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("context \"fake\""), "{}", r.stderr);
    assert!(r.stderr.contains(&dead), "{}", r.stderr);
    assert!(
        r.stderr.to_lowercase().contains("connection refused"),
        "{}",
        r.stderr
    );

    // A server that never answers: the request timeout ends it, in one line too.
    let hanging = FakeApi::new()
        .fault(Fault::path("/version", Respond::Hang))
        .start();
    let kc = hanging.kubeconfig_with_token(tmp.path().join("hang"));
    let started = Instant::now();
    let r = run(&[
        "check",
        "--kubeconfig",
        kc.to_str().unwrap(),
        "--request-timeout",
        "1s",
    ]);
    assert!(started.elapsed().as_secs() < 20);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("timed out after 1s"), "{}", r.stderr);

    // A kubeconfig that names no such context.
    let r = run(&[
        "check",
        "--kubeconfig",
        kc.to_str().unwrap(),
        "--context",
        "nope",
    ]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("context \"nope\" is not in the kubeconfig (contexts: fake)")
    );
}

#[test]
fn slow_list_times_out_into_skipped() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-failed");
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .fault(Fault::path("/api/v1/events", Respond::Hang))
            .missing_group("apiextensions.k8s.io"),
    );
    let r = live.run(&["check", "-o", "json", "--request-timeout", "1s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let skipped = v["skipped"].as_array().unwrap();
    let find = |what: &str| {
        skipped
            .iter()
            .find(|s| s["what"] == what)
            .unwrap_or_else(|| panic!("no {what} in {skipped:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Both event lists (the warnings, and the claims' events) time out.
    assert_eq!(find("events (Warning)"), "timed out after 1s");
    assert_eq!(
        find("events (of PersistentVolumeClaims)"),
        "timed out after 1s"
    );
    assert!(find("customresourcedefinitions").starts_with("not found"));
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "helm-release-failed"),
        "{v:#}"
    );
}

#[test]
fn logs_only_of_troubled_pods_bounded_and_no_previous_is_normal() {
    let pod = |name: &str, ready: bool, restarts: i32| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "blueking", "labels": {"app.kubernetes.io/instance": "bk-x"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "x"}, {"name": "sidecar", "image": "y"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                "containerStatuses": [
                    {"name": "app", "ready": ready, "restartCount": restarts, "image": "x", "imageID": "",
                     "state": {"running": {}}},
                    {"name": "sidecar", "ready": true, "restartCount": 0, "image": "y", "imageID": "",
                     "state": {"running": {}}}]}})
    };
    let live = serve(
        FakeApi::new()
            .objects([
                pod("healthy", true, 0),
                pod("crashing", false, 4),
                pod("unready", false, 0),
                pod("far-away", false, 0),
            ])
            .log("blueking", "healthy", "app", false, "fine\n")
            .log("blueking", "crashing", "app", false, "starting\n")
            .log("blueking", "crashing", "app", true, "panic: boom\n")
            .log("blueking", "crashing", "sidecar", false, "ok\n")
            .log("blueking", "unready", "app", false, "waiting for db\n")
            .kubelet_unreachable("blueking", "far-away"),
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let r = live.run(&["snapshot", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let logs: Vec<_> = live
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/log"))
        .collect();
    assert!(logs.iter().all(|l| !l.path.contains("/healthy/")));
    for l in &logs {
        assert_eq!(l.param("tailLines"), Some("200"));
        assert_eq!(l.param("limitBytes"), Some("262144"));
    }
    let previous: Vec<_> = logs
        .iter()
        .filter(|l| l.param("previous") == Some("true"))
        .map(|l| (l.path.as_str(), l.param("container").unwrap()))
        .collect();
    assert_eq!(
        previous,
        [("/api/v1/namespaces/blueking/pods/crashing/log", "app")]
    );
    assert_eq!(
        logs.len(),
        7,
        "current of 2 containers x 3 pods, previous of one"
    );
    let read = |p: &str| std::fs::read_to_string(out.join("logs/blueking").join(p)).unwrap();
    assert_eq!(read("crashing/app.previous.log"), "panic: boom\n");
    assert_eq!(read("crashing/app.log"), "starting\n");
    assert_eq!(read("unready/app.log"), "waiting for db\n");
    assert!(!out.join("logs/blueking/healthy").exists());
    // The kubelet that cannot be reached is a skipped entry; the missing previous logs are not.
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("snapshot-info.json")).unwrap())
            .unwrap();
    let skipped = info["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["what"] == "log of blueking/far-away container app"
                && s["reason"].as_str().unwrap().contains("10250")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .all(|s| !s["what"].as_str().unwrap().contains("unready")),
        "{skipped:?}"
    );
}

#[test]
fn lists_run_concurrently_and_scope_follows_flags_and_context() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let server = FakeApi::new()
        .load_dir(&dir)
        .latency(std::time::Duration::from_millis(150))
        .start();
    let tmp = tempfile::tempdir().unwrap();
    let kc = server.kubeconfig_in_namespace(tmp.path().join("config"), "blueking");
    let kc = kc.to_str().unwrap();

    // check: all namespaces by default, whatever the context's namespace.
    let r = run(&["check", "--kubeconfig", kc]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        server.max_in_flight() >= 8,
        "max in flight {}",
        server.max_in_flight()
    );
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(paths.iter().any(|p| p == "/api/v1/pods"));
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("/api/v1/namespaces/blueking/pods"))
    );

    // release without -n: the context's namespace.
    server.clear_requests();
    let r = run(&["release", "bk-paas", "--kubeconfig", kc, "-o", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json()["namespace"], "blueking");
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths
            .iter()
            .any(|p| p == "/api/v1/namespaces/blueking/pods")
    );
    assert!(!paths.iter().any(|p| p == "/api/v1/pods"));
    // Node leases are read wherever the release is.
    assert!(
        paths
            .iter()
            .any(|p| p == "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")
    );

    // check -n: that namespace only.
    server.clear_requests();
    let r = run(&[
        "check",
        "-n",
        "kube-system",
        "--kubeconfig",
        kc,
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths
            .iter()
            .any(|p| p == "/api/v1/namespaces/kube-system/pods")
    );
    assert!(!paths.iter().any(|p| p.contains("/namespaces/blueking/")));
}

#[test]
fn helm_plugin_environment_is_honoured() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let server = FakeApi::new().load_dir(&dir).start();
    let tmp = tempfile::tempdir().unwrap();
    // helm passes the kubeconfig in KUBECONFIG and the context in HELM_KUBECONTEXT; the file's
    // current-context points elsewhere to prove which one is used.
    let yaml = server
        .kubeconfig_yaml(false, "default")
        .replace("current-context: fake", "current-context: elsewhere");
    let kc = tmp.path().join("config");
    std::fs::write(&kc, yaml).unwrap();
    let helm = |args: &[&str], ns: &str| {
        let mut c = command(args);
        c.env("HELM_PLUGIN_NAME", "bkdoctor")
            .env("HELM_NAMESPACE", ns)
            .env("HELM_KUBECONTEXT", "fake")
            .env("KUBECONFIG", &kc);
        output(c)
    };
    let r = helm(&["release", "bk-paas", "-o", "json"], "blueking");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json()["namespace"], "blueking");

    // HELM_NAMESPACE equal to the context's namespace is helm's default, not a choice: check
    // keeps its all-namespaces scope.
    server.clear_requests();
    let r = helm(&["check", "-o", "json"], "default");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(server.requests().iter().any(|r| r.path == "/api/v1/pods"));
}

#[test]
fn server_time_is_the_reference_and_goes_into_the_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-recent");
    let t: jiff::Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
    let live = serve(FakeApi::new().load_dir(&dir).server_time(t));
    let r = live.run(&["check", "-o", "json"]);
    let v = r.json();
    assert_eq!(v["summary"]["snapshotTime"], "2026-11-20T12:00:00Z");
    // An hour later than the leases say, the "recent" pending upgrade is no longer recent.
    assert_eq!(v["findings"][0]["severity"], "error");
    assert_eq!(r.code, 1);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    assert_eq!(live.run(&["snapshot", out.to_str().unwrap()]).code, 0);
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("snapshot-info.json")).unwrap())
            .unwrap();
    assert_eq!(info["kind"], "SnapshotInfo");
    assert_eq!(info["serverTime"], "2026-11-20T12:00:00Z");
    assert!(info["collectedAt"].is_string());
    let back = run(&["check", "--snapshot", out.to_str().unwrap(), "-o", "json"]);
    assert_eq!(back.json()["findings"], v["findings"]);
}

#[test]
fn snapshot_refuses_a_directory_with_files() {
    let live = serve(FakeApi::new());
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let r = live.run(&["snapshot", tmp.path().to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not empty"));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn kubectl_finds_the_plugin_on_path() {
    let Some(kubectl) = find_on_path("kubectl") else {
        eprintln!("kubectl is not installed here; skipping");
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let now = offline_time(&dir);
    let live = serve(FakeApi::new().load_dir(&dir));
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new(&kubectl)
        .args([
            "bkdoctor",
            "check",
            "-o",
            "json",
            "--now",
            &now,
            "--kubeconfig",
            live.kc(),
        ])
        .env("PATH", path)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["rule"], "helm-operation-in-progress");
    let offline = run(&[
        "check",
        "--snapshot",
        dir.to_str().unwrap(),
        "-o",
        "json",
        "--now",
        &now,
    ]);
    assert_eq!(offline.json()["findings"], v["findings"]);
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[test]
fn an_expired_continue_token_restarts_the_list_once() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let now = offline_time(&dir);
    let expired = Fault::new(
        |r| {
            r.path == "/api/v1/secrets"
                && r.param("labelSelector") == Some("owner=helm")
                && r.param("continue").is_some()
        },
        Respond::Status {
            code: 410,
            reason: "Expired".into(),
            message:
                "The provided continue parameter is too old to display a consistent list result."
                    .into(),
        },
    )
    .times(1);
    // Only a consistent read is paged.
    let live = serve(FakeApi::new().load_dir(&dir).page_size(1).fault(expired));
    let r = live.run(&["check", "-o", "json", "--now", &now, "--consistent-read"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["skipped"], json!([]));
    assert_eq!(v["findings"][0]["rule"], "helm-operation-in-progress");
    let firsts = live
        .server
        .requests()
        .iter()
        .filter(|r| {
            r.path == "/api/v1/secrets"
                && r.param("labelSelector") == Some("owner=helm")
                && r.param("continue").is_none()
        })
        .count();
    assert_eq!(firsts, 2, "the list started over once");
}

#[test]
fn progress_only_on_a_terminal_and_never_on_stdout() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .latency(std::time::Duration::from_millis(250)),
    );
    // Not a terminal: stderr stays empty.
    let r = live.run(&["check", "-o", "json"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    r.json();

    let Some(script) = find_on_path("script") else {
        eprintln!("script(1) is not installed here; skipping the terminal half");
        return;
    };
    // Under script(1) stderr is a pseudo-terminal while stdout goes to a file.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.json");
    let inner = format!(
        "{BIN} check -o json --kubeconfig {} > {}",
        live.kc(),
        out.display()
    );
    let o = Command::new(script)
        .args(["-qec", &inner, "/dev/null"])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let terminal = String::from_utf8_lossy(&o.stdout);
    assert!(
        terminal.contains("reading context \"fake\""),
        "{terminal:?}"
    );
    assert!(terminal.contains("requests"));
    let stdout = std::fs::read_to_string(&out).unwrap();
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["findings"][0]["rule"], "helm-operation-in-progress");
}

#[test]
fn untrusted_server_certificate_is_one_line_exit_2() {
    // The kubeconfig trusts another server's CA: the TLS handshake must fail, and say so briefly.
    let server = FakeApi::new().start();
    let other = FakeApi::new().start();
    let b64 = |s: &str| STANDARD.encode(s.as_bytes());
    let yaml = server
        .kubeconfig_yaml(false, "default")
        .replace(&b64(server.ca_pem()), &b64(other.ca_pem()));
    let tmp = tempfile::tempdir().unwrap();
    let kc = tmp.path().join("config");
    std::fs::write(&kc, yaml).unwrap();
    let r = run(&["check", "--kubeconfig", kc.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains(server.url()), "{}", r.stderr);
    assert!(r.stderr.contains("certificate"), "{}", r.stderr);
    assert!(server.requests().is_empty());
}

#[test]
fn broken_answers_and_forbidden_logs_are_skipped_not_fatal() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-failed");
    let now = offline_time(&dir);
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .fault(Fault::path("/api/v1/services", Respond::CutAfter(40)))
            .fault(Fault::path(
                "/apis/apps/v1/deployments",
                Respond::Raw {
                    code: 502,
                    content_type: "text/html".into(),
                    body: "<html><body>502 Bad Gateway</body></html>".into(),
                },
            ))
            .forbid("pods/log", None),
    );
    let r = live.run(&["check", "-o", "json", "--now", &now]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "helm-release-failed"),
        "{v:#}"
    );
    let skipped = v["skipped"].as_array().unwrap();
    let reason = |what: &str| {
        skipped
            .iter()
            .find(|s| s["what"] == what)
            .unwrap_or_else(|| panic!("no {what} in {skipped:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(!reason("services").is_empty());
    assert_eq!(
        reason("deployments"),
        "HTTP 502: <html><body>502 Bad Gateway</body></html>"
    );
    let logs: Vec<_> = skipped
        .iter()
        .filter(|s| s["what"].as_str().unwrap().starts_with("log of "))
        .collect();
    assert!(!logs.is_empty());
    assert!(
        logs.iter()
            .all(|s| s["reason"].as_str().unwrap().starts_with("forbidden"))
    );
    assert_eq!(r.stderr, "");
}

#[test]
fn release_in_the_wrong_namespace_says_where_it_is() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let live = serve(FakeApi::new().load_dir(&dir));
    let r = live.run(&["release", "bk-paas"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert_eq!(
        r.stderr.trim(),
        "error: helm release bk-paas not found in namespace default (it exists in namespace blueking)"
    );
    assert!(live.server.writes().is_empty());
}

#[test]
fn one_namespace_looks_up_bcs_elsewhere_only_where_rbac_allows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apigw-old");
    let now = offline_time(&dir);
    let args = [
        "release",
        "bk-apigateway",
        "-n",
        "blueking",
        "-o",
        "json",
        "--now",
        &now,
    ];
    // BCS lives in bcs-system: found by name with a cluster-wide metadata list.
    let live = serve(FakeApi::new().load_dir(&dir));
    let r = live.run(&args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        finding_keys(&r.json()),
        [(
            "apigateway-too-old".to_string(),
            "release/bk-apigateway".to_string()
        )]
    );
    assert!(
        live.server
            .requests()
            .iter()
            .any(|q| q.path == "/api/v1/secrets"
                && q.param("labelSelector") == Some("owner=helm,name=bcs-services-stack"))
    );

    // RBAC that denies bcs-system (and so every cluster-wide secrets list): no lookup, no noise.
    let live = serve(
        FakeApi::new()
            .load_dir(&dir)
            .forbid("secrets", Some("bcs-system")),
    );
    let r = live.run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(finding_keys(&v), []);
    assert_eq!(v["skipped"], json!([]));
}

/// Without RBAC on StorageClasses, an unbound claim is still reported, the list is named as not
/// read, and the doctor does not claim the class is missing.
#[test]
fn unbound_claims_when_storage_classes_are_forbidden() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pvc-unbound");
    let now = offline_time(&dir);
    let live = serve(FakeApi::new().load_dir(&dir).forbid("storageclasses", None));
    let r = live.run(&["check", "-o", "json", "--now", &now]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let skipped = v["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["what"] == "storageclasses"
            && s["reason"]
                .as_str()
                .unwrap()
                .starts_with("forbidden: storageclasses.storage.k8s.io is forbidden")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|s| s["what"].as_str().unwrap().starts_with("rules ")
                && s["what"].as_str().unwrap().contains("pvc-unbound")),
        "{skipped:?}"
    );
    let claims: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "pvc-unbound")
        .collect();
    assert_eq!(claims.len(), 3, "{v:#}");
    for f in claims {
        let ev = f["evidence"].to_string();
        assert!(ev.contains("the StorageClasses could not be read"), "{f:#}");
        assert!(!ev.contains("does not exist"), "{f:#}");
        assert!(
            !f["remediation"].to_string().contains("kubectl patch"),
            "{f:#}"
        );
    }
    // The event lists are asked with the field selectors a real server supports.
    let mut asked: Vec<String> = live
        .server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/events")
        .filter_map(|r| r.param("fieldSelector").map(str::to_string))
        .collect();
    asked.sort();
    assert_eq!(
        asked,
        [
            "type!=Warning,involvedObject.kind=PersistentVolumeClaim",
            "type=Warning"
        ]
    );
}

/// The report a fixture gives offline, at its own time.
fn offline_findings(dir: &Path, now: &str) -> Value {
    run(&[
        "check",
        "--snapshot",
        dir.to_str().unwrap(),
        "-o",
        "json",
        "--now",
        now,
    ])
    .json()["findings"]
        .clone()
}

#[test]
fn a_refused_cache_read_falls_back_to_the_paged_consistent_one() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let now = offline_time(&dir);
    let expected = offline_findings(&dir, &now);
    // A server that cannot serve from its cache (an aggregated API, a proxy that strips the
    // parameter and errs): every resourceVersion=0 read is a 500.
    let from_cache = |r: &fake_apiserver::RecordedRequest| r.param("resourceVersion") == Some("0");
    let live = serve(FakeApi::new().load_dir(&dir).page_size(1).fault(Fault::new(
        from_cache,
        Respond::Status {
            code: 500,
            reason: "InternalError".into(),
            message: "the watch cache is not ready".into(),
        },
    )));
    let r = live.run(&["check", "-o", "json", "--now", &now]);
    assert_eq!(r.json()["skipped"], json!([]), "{}", r.stderr);
    assert_eq!(r.json()["findings"], expected);
    let requests = live.server.requests();
    let pods: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/api/v1/pods")
        .collect();
    assert_eq!(pods[0].param("resourceVersion"), Some("0"));
    assert!(
        pods[1..]
            .iter()
            .all(|r| r.param("resourceVersion").is_none())
    );
    assert!(
        pods.len() > 2,
        "paged by 1 after the refusal: {}",
        pods.len()
    );
    // Payloads came by name, since their lists failed too.
    assert!(
        requests.iter().any(|r| r
            .path
            .starts_with("/api/v1/namespaces/blueking/secrets/sh.helm.release.v1.")),
        "no payload GET"
    );

    // A server run without a watch cache answers resourceVersion=0 from etcd: the same report.
    let live = serve(FakeApi::new().load_dir(&dir).without_watch_cache());
    let r = live.run(&["check", "-o", "json", "--now", &now]);
    assert_eq!(r.json()["skipped"], json!([]), "{}", r.stderr);
    assert_eq!(r.json()["findings"], expected);
}

#[test]
fn consistent_reads_give_the_same_report_paged_and_payloads_by_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pending-upgrade");
    let now = offline_time(&dir);
    let live = serve(FakeApi::new().load_dir(&dir).page_size(1));
    let cached = live.run(&["check", "-o", "json", "--now", &now, "-v"]);
    let from_cache = live.server.requests();
    live.server.clear_requests();
    let consistent = live.run(&[
        "check",
        "-o",
        "json",
        "--now",
        &now,
        "--consistent-read",
        "-v",
    ]);
    assert_eq!(cached.json()["findings"], consistent.json()["findings"]);
    assert_eq!(cached.json()["findings"], offline_findings(&dir, &now));
    let lists = |rs: &[fake_apiserver::RecordedRequest]| {
        rs.iter()
            .filter(|r| r.params.contains_key("limit") || r.params.contains_key("resourceVersion"))
            .count()
    };
    let paged = live.server.requests();
    assert!(
        lists(&paged) > lists(&from_cache),
        "{} vs {}",
        lists(&paged),
        lists(&from_cache)
    );
    assert!(paged.iter().all(|r| r.param("resourceVersion").is_none()));
    let payload_list = |r: &&fake_apiserver::RecordedRequest| {
        r.param("labelSelector")
            .is_some_and(|s| s.starts_with("owner=helm,status="))
    };
    assert!(from_cache.iter().any(|r| payload_list(&r)));
    assert!(!paged.iter().any(|r| payload_list(&r)));
    assert!(
        paged
            .iter()
            .any(|r| r.path.contains("/secrets/sh.helm.release.v1."))
    );
    // -v counts the waves: more of them when every page waits for the one before.
    let waves = |stderr: &str| -> u32 {
        let words: Vec<&str> = stderr.split_whitespace().collect();
        let i = words.iter().position(|w| *w == "waves,").expect(stderr);
        words[i - 1].parse().unwrap()
    };
    assert!(
        waves(&consistent.stderr) > waves(&cached.stderr),
        "{} / {}",
        consistent.stderr,
        cached.stderr
    );
}
