//! No secret is ever printed: values planted on purpose in every place helm keeps user data
//! (`config`, `chart.values`, `chart.templates`, `chart.files`, `manifest`, hook manifests,
//! `info.notes`) and in non-helm Secret data, read offline and live, through every output format of
//! `check` and `release`, and into every file `snapshot DIR` writes. The snapshot's helm payloads are
//! decoded here with base64 and gzip directly, not with the code under test, to prove the stripped
//! parts are really gone.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fake_apiserver::FakeApi;
use serde_json::{Value, json};

use common::{Run, copy_dir, fixture, run_env, walk};

/// Every planted value contains this; the recorded fixture's is `planted-value-do-not-print`.
const MARK: &str = "do-not-print";
const OPAQUE_VALUE: &str = "opaque-secret-data-do-not-print";
const FORMATS: [&str; 4] = ["table", "json", "yaml", "markdown"];

/// helm's stored text, made here rather than by the crate: gzip of the JSON, then base64.
fn helm_text(release: &Value) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(release.to_string().as_bytes()).unwrap();
    STANDARD.encode(gz.finish().unwrap())
}

/// The release JSON inside helm's stored text.
fn helm_json(text: &str) -> Value {
    let gz = STANDARD.decode(text.trim()).unwrap();
    let mut json = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut json)
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

fn release(name: &str, rev: u32, status: &str) -> Value {
    let b64 = |s: &str| STANDARD.encode(s);
    json!({
        "name": name, "namespace": "blueking", "version": rev,
        "info": {"status": status, "description": format!("Upgrade {status}"),
                 "first_deployed": "2026-11-01T00:00:00Z", "last_deployed": "2026-11-20T10:00:00Z",
                 "notes": format!("admin password: notes-{rev}-{MARK}")},
        "chart": {
            "metadata": {"name": name, "version": "2.0.0", "appVersion": "2.0.0"},
            "values": {"adminPassword": format!("chart-values-{MARK}")},
            "templates": [{"name": "templates/secret.yaml",
                           "data": b64(&format!("password: template-{MARK}"))}],
            "files": [{"name": "README.md", "data": b64(&format!("files-{MARK}"))}],
        },
        "config": {"mysql": {"password": format!("config-{MARK}")}},
        "manifest": format!("apiVersion: v1\nkind: Secret\nstringData:\n  password: manifest-{MARK}\n"),
        "hooks": [{"name": "migrate", "kind": "Job", "events": ["pre-upgrade"],
                   "manifest": format!("apiVersion: batch/v1\nkind: Job\n# hook-{MARK}\n")}],
    })
}

fn labels(name: &str, rev: u32, status: &str) -> Value {
    json!({"owner": "helm", "name": name, "status": status, "version": rev.to_string(),
           "modifiedAt": "1795600000"})
}

/// A stuck release in Secrets, a failed one in ConfigMaps (`HELM_DRIVER=configmap`), and Secrets that
/// are not helm storage, one of them dressed up as storage.
fn planted_objects() -> Vec<Value> {
    let mut out = Vec::new();
    for (rev, status) in [(1, "deployed"), (2, "failed")] {
        let name = "bk-planted";
        out.push(json!({
            "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": format!("sh.helm.release.v1.{name}.v{rev}"), "namespace": "blueking",
                         "labels": labels(name, rev, status)},
            "data": {"release": STANDARD.encode(helm_text(&release(name, rev, status)))},
        }));
    }
    for (rev, status) in [(1, "deployed"), (2, "pending-upgrade")] {
        let name = "bk-planted-cm";
        out.push(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("sh.helm.release.v1.{name}.v{rev}"), "namespace": "blueking",
                         "labels": labels(name, rev, status)},
            "data": {"release": helm_text(&release(name, rev, status))},
        }));
    }
    // A payload that is not a release: the unreadable-release finding must not quote it.
    out.push(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.bk-broken.v1", "namespace": "blueking",
                     "labels": labels("bk-broken", 1, "deployed")},
        "data": {"release": STANDARD.encode(STANDARD.encode(format!("{{\"config\": \"broken-{MARK}\", \"info\": \"notes-{MARK}\"")))},
    }));
    out.push(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "bk-db", "namespace": "blueking"},
        "data": {"password": STANDARD.encode(OPAQUE_VALUE)},
        "stringData": {"token": format!("string-data-{MARK}")},
    }));
    out.push(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "bk-tls", "namespace": "blueking", "labels": {"owner": "helm"}},
        "data": {"tls.key": STANDARD.encode(format!("tls-key-{MARK}"))},
    }));
    out
}

/// pending-upgrade's nodes and pods, the recorded helm storage of a real cluster, and the planted
/// records above.
fn planted_snapshot() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snap");
    copy_dir(&fixture("pending-upgrade"), &dir.join("pending-upgrade"));
    copy_dir(&fixture("recorded"), &dir.join("recorded"));
    let list = json!({"apiVersion": "v1", "kind": "List", "items": planted_objects()});
    std::fs::write(dir.join("planted.json"), list.to_string()).unwrap();
    (tmp, dir)
}

/// The planted values in every form they could leak in: as written, and the opaque Secret's value
/// base64-encoded as the API holds Secret data.
fn leaked(text: &str) -> Option<String> {
    let api_form = STANDARD.encode(OPAQUE_VALUE);
    [MARK.to_string(), api_form.trim_end_matches('=').to_string()]
        .into_iter()
        .find(|f| text.contains(f.as_str()))
}

fn assert_clean(r: &Run, what: &str) {
    assert!(
        r.code == 0 || r.code == 1,
        "{what}: exit {}: {}",
        r.code,
        r.stderr
    );
    assert!(!r.stdout.is_empty(), "{what}: nothing printed");
    if let Some(f) = leaked(&r.stdout) {
        panic!("{what}: {f} on stdout:\n{}", r.stdout);
    }
    if let Some(f) = leaked(&r.stderr) {
        panic!("{what}: {f} on stderr:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
}

/// Every format of `check` and of `release` for each planted release, in both languages. `source`
/// is `--snapshot DIR` or `--kubeconfig FILE`.
fn every_output(source: &[&str], label: &str) -> usize {
    let mut n = 0;
    for lang in ["en", "zh"] {
        for format in FORMATS {
            let mut commands: Vec<Vec<&str>> = vec![vec!["check", "-v"]];
            for rel in ["bk-planted", "bk-planted-cm", "bk-broken", "bk-cmdb"] {
                commands.push(vec!["release", rel, "-n", "blueking"]);
            }
            for mut args in commands {
                args.extend(["-o", format, "--lang", lang]);
                args.extend(source);
                let r = run_env(&args, &[]);
                assert_clean(&r, &format!("{label}: {args:?}"));
                n += 1;
            }
        }
    }
    n
}

/// The planted snapshot really holds what the test says it holds, so a clean output means something.
fn assert_planted(dir: &Path) {
    let r = run_env(
        &["check", "--snapshot", dir.to_str().unwrap(), "-o", "json"],
        &[],
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let rules: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["object"].as_str().unwrap()))
        .collect();
    for expected in [
        ("helm-release-failed", "release/bk-planted"),
        ("helm-operation-in-progress", "release/bk-planted-cm"),
        (
            "helm-release-unreadable",
            "secret/sh.helm.release.v1.bk-broken.v1",
        ),
    ] {
        assert!(rules.contains(&expected), "{expected:?} not in {rules:?}");
    }
    let text = std::fs::read_to_string(dir.join("planted.json")).unwrap();
    let list: Value = serde_json::from_str(&text).unwrap();
    let helm = list["items"][0]["data"]["release"].as_str().unwrap();
    let payload = helm_json(std::str::from_utf8(&STANDARD.decode(helm).unwrap()).unwrap());
    let payload = payload.to_string();
    for part in ["config-", "chart-values-", "manifest-", "hook-", "notes-1-"] {
        assert!(
            payload.contains(&format!("{part}{MARK}")),
            "{part} not planted"
        );
    }
    let recorded = std::fs::read_to_string(fixture("recorded/helm-secrets.json")).unwrap();
    let recorded: Value = serde_json::from_str(&recorded).unwrap();
    let planted_in_recorded = recorded["items"].as_array().unwrap().iter().any(|s| {
        let text = STANDARD
            .decode(s["data"]["release"].as_str().unwrap())
            .unwrap();
        helm_json(std::str::from_utf8(&text).unwrap())
            .to_string()
            .contains("planted-value-do-not-print")
    });
    assert!(planted_in_recorded);
}

#[test]
fn no_planted_value_in_any_offline_output() {
    let (_tmp, dir) = planted_snapshot();
    assert_planted(&dir);
    let n = every_output(&["--snapshot", dir.to_str().unwrap()], "offline");
    assert_eq!(n, 2 * 4 * 5);
}

#[test]
fn no_planted_value_in_any_live_output_or_snapshot_file() {
    let (_tmp, dir) = planted_snapshot();
    assert_planted(&dir);
    let server = FakeApi::new().load_dir(&dir).start();
    assert!(
        server.load_warnings().is_empty(),
        "{:?}",
        server.load_warnings()
    );
    let tmp = tempfile::tempdir().unwrap();
    let kc = server.kubeconfig_with_token(tmp.path().join("config"));
    let kc = kc.to_str().unwrap();
    let n = every_output(&["--kubeconfig", kc], "live");
    assert_eq!(n, 2 * 4 * 5);

    // Without -n the release is looked up in the context's namespace; say where it is, no more.
    let r = run_env(&["release", "bk-planted", "--kubeconfig", kc], &[]);
    assert_eq!(r.code, 2);
    assert!(leaked(&r.stderr).is_none());

    // `snapshot DIR`, then every file in it, and every format read back from it.
    let out = tmp.path().join("out");
    let r = run_env(
        &["snapshot", out.to_str().unwrap(), "--kubeconfig", kc, "-v"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(leaked(&r.stdout).is_none() && leaked(&r.stderr).is_none());
    let files = snapshot_files_are_clean(&out);
    assert!(files >= 5, "{files} files");
    let n = every_output(&["--snapshot", out.to_str().unwrap()], "snapshot read back");
    assert_eq!(n, 2 * 4 * 5);
    assert!(server.writes().is_empty());
}

/// Reads every file the snapshot writer made: no planted value in its text, no Secret but helm
/// storage, and in each helm payload, decoded here, none of the parts that hold user data.
fn snapshot_files_are_clean(dir: &Path) -> usize {
    let mut payloads = 0;
    let mut files = 0;
    for path in walk(dir) {
        files += 1;
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if let Some(f) = leaked(&text) {
            panic!("{}: holds {f}", path.display());
        }
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let items: Vec<&Value> = match v["items"].as_array() {
            Some(items) => items.iter().collect(),
            None => vec![&v],
        };
        for item in items {
            let helm_text = match item["kind"].as_str() {
                // Any other Secret is written by name only: never a value.
                Some("Secret") if item["type"] != "helm.sh/release.v1" => {
                    assert!(item.get("data").is_none(), "{item}");
                    assert!(item.get("stringData").is_none(), "{item}");
                    None
                }
                Some("Secret") => {
                    let keys: Vec<&String> = item["data"]
                        .as_object()
                        .map(|d| d.keys().collect())
                        .unwrap_or_default();
                    assert!(
                        keys.is_empty() || keys == ["release"],
                        "{}: {keys:?}",
                        path.display()
                    );
                    assert!(item.get("stringData").is_none());
                    item["data"]["release"]
                        .as_str()
                        .map(|b| String::from_utf8(STANDARD.decode(b).unwrap()).unwrap())
                }
                Some("ConfigMap")
                    if item["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("sh.helm.release.v1.")) =>
                {
                    item["data"]["release"].as_str().map(str::to_string)
                }
                _ => None,
            };
            let Some(helm_text) = helm_text else { continue };
            let release = helm_json(&helm_text);
            payloads += 1;
            for k in ["config", "manifest"] {
                assert!(release.get(k).is_none(), "{}: {k} kept", path.display());
            }
            for k in ["values", "templates", "files"] {
                assert!(
                    release["chart"].get(k).is_none(),
                    "{}: chart.{k} kept",
                    path.display()
                );
            }
            assert!(release["info"].get("notes").is_none(), "info.notes kept");
            for h in release["hooks"].as_array().into_iter().flatten() {
                assert!(h.get("manifest").is_none(), "a hook's manifest kept");
            }
            // What the rules need is still there.
            assert!(release["info"]["status"].is_string(), "{release}");
            assert!(release["chart"]["metadata"]["version"].is_string());
        }
    }
    // bk-planted's two revisions, bk-planted-cm's two, and the recorded releases' newest ones.
    assert!(payloads >= 4, "{payloads} helm payloads in the snapshot");
    files
}
