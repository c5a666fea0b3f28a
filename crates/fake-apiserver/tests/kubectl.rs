//! The real `kubectl` against the fake: if kubectl's discovery, paging, printing and logs work
//! against it, the fake is faithful enough for any client.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::fixture;
use fake_apiserver::{FakeApi, FakeApiServer};
use serde_json::Value;

fn kubectl_on_path() -> bool {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: kubectl is not on PATH");
    }
    found
}

/// Runs kubectl with only this kubeconfig and a private HOME, so its discovery cache is fresh.
fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("kubectl runs")
}

struct Session {
    server: FakeApiServer,
    dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

impl Session {
    fn new(api: FakeApi) -> Self {
        let server = api.start();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = server.kubeconfig_with_token(dir.path().join("config"));
        Session {
            server,
            dir,
            kubeconfig,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        kubectl(&self.kubeconfig, self.dir.path(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn get_pods_all_namespaces_json() {
    if !kubectl_on_path() {
        return;
    }
    let s = Session::new(FakeApi::new().load_dir(fixture("pending-upgrade")));
    let out: Value = serde_json::from_str(&s.ok(&["get", "pods", "-A", "-o", "json"])).unwrap();
    let got = names(&out);
    assert!(!got.is_empty());
    // kubectl puts kind back on every item it prints.
    assert_eq!(out["items"][0]["kind"], "Pod");
    assert!(s.server.writes().is_empty());
    let list = s
        .server
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/pods")
        .expect("kubectl listed pods cluster-wide");
    assert_eq!(list.param("limit"), Some("500"));
    assert_eq!(list.version, "HTTP/2.0");
}

#[test]
fn get_all_and_not_found() {
    if !kubectl_on_path() {
        return;
    }
    let s = Session::new(FakeApi::new().load_dir(fixture("pending-upgrade")));
    let out = s.ok(&["get", "all", "-n", "blueking"]);
    assert!(
        out.contains("pod/bk-paas-apiserver-6c9f7d8b4-x2k9p"),
        "{out}"
    );
    let missing = s.run(&["get", "pod", "nope", "-n", "blueking"]);
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "Error from server (NotFound): pods \"nope\" not found"
    );
}

#[test]
fn chunked_get_follows_continue_tokens() {
    if !kubectl_on_path() {
        return;
    }
    let s = Session::new(FakeApi::new().load_dir(fixture("recorded")));
    let out: Value = serde_json::from_str(&s.ok(&[
        "get",
        "secrets",
        "-A",
        "-l",
        "owner=helm",
        "--chunk-size=1",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(names(&out).len(), 5);
    let pages: Vec<_> = s
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/secrets")
        .collect();
    assert_eq!(pages.len(), 5);
    assert!(pages.iter().all(|r| r.param("limit") == Some("1")));
    assert!(pages[1..].iter().all(|r| r.param("continue").is_some()));
}

#[test]
fn human_output_is_a_server_side_table() {
    if !kubectl_on_path() {
        return;
    }
    let s = Session::new(FakeApi::new().load_dir(fixture("recorded")));
    let out = s.ok(&["get", "secrets", "-n", "blueking", "-l", "owner=helm"]);
    let header = out.lines().next().unwrap();
    assert!(header.starts_with("NAME"), "{out}");
    assert!(header.contains("TYPE") && header.contains("AGE"), "{out}");
    assert!(out.contains("sh.helm.release.v1.bk-cmdb.v2"), "{out}");
    assert!(out.contains("helm.sh/release.v1"), "{out}");
    assert_eq!(out.lines().count(), 6, "{out}");
}

#[test]
fn logs_tail_and_missing_previous() {
    if !kubectl_on_path() {
        return;
    }
    let s = Session::new(FakeApi::new().load_dir(fixture("pending-upgrade")).log(
        "blueking",
        "bk-paas-apiserver-6c9f7d8b4-x2k9p",
        "apiserver",
        false,
        "a\nb\nc\n",
    ));
    let out = s.ok(&[
        "logs",
        "-n",
        "blueking",
        "bk-paas-apiserver-6c9f7d8b4-x2k9p",
        "-c",
        "apiserver",
        "--tail=2",
    ]);
    assert_eq!(out, "b\nc\n");
    let prev = s.run(&[
        "logs",
        "-n",
        "blueking",
        "bk-paas-apiserver-6c9f7d8b4-x2k9p",
        "-c",
        "apiserver",
        "--previous",
    ]);
    assert!(!prev.status.success());
    let err = String::from_utf8_lossy(&prev.stderr);
    assert!(
        err.contains(
            "previous terminated container \"apiserver\" in pod \"bk-paas-apiserver-6c9f7d8b4-x2k9p\" not found"
        ),
        "{err}"
    );
}

#[test]
fn forbidden_and_client_certificates() {
    if !kubectl_on_path() {
        return;
    }
    let s = Session::new(
        FakeApi::new()
            .load_dir(fixture("healthy"))
            .forbid("secrets", None),
    );
    let denied = s.run(&["get", "secrets", "-A"]);
    assert!(!denied.status.success());
    let err = String::from_utf8_lossy(&denied.stderr);
    assert!(
        err.contains("Error from server (Forbidden): secrets is forbidden: User \"system:serviceaccount:default:viewer\" cannot list resource \"secrets\" in API group \"\" at the cluster scope"),
        "{err}"
    );
    let cert_config = s
        .server
        .kubeconfig_with_client_cert(s.dir.path().join("cert-config"));
    let out = kubectl(&cert_config, s.dir.path(), &["get", "nodes", "-o", "name"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("node/"));
    assert!(s.server.writes().is_empty());
}

#[test]
fn expired_certificates_as_kubectl_reports_them() {
    if !kubectl_on_path() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = FakeApi::new().expired_server_cert().start();
    let path = server.kubeconfig_with_token(dir.path().join("server"));
    let out = kubectl(&path, dir.path(), &["get", "pods"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("x509: certificate has expired or is not yet valid"),
        "{err}"
    );

    let server = FakeApi::new().expired_client_cert().start();
    let path = server.kubeconfig_with_client_cert(dir.path().join("client"));
    let out = kubectl(&path, dir.path(), &["get", "pods"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: You must be logged in to the server (the server has asked for the client to provide credentials)"),
        "{err}"
    );
}
