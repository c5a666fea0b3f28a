//! Helpers shared by the integration tests: running the built binary with a clean environment,
//! fixtures, and a fake API server with a kubeconfig pointing at it. Not every test uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fake_apiserver::{FakeApi, FakeApiServer};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-bkdoctor");

/// One run of the binary: exit code, output and how long it took.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The binary with a clean environment: no kubeconfig, helm or locale variables leak in from the
/// machine.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("KUBECONFIG")
        .env_remove("HELM_PLUGIN_NAME")
        .env_remove("HELM_NAMESPACE")
        .env_remove("HELM_KUBECONTEXT")
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    c
}

/// Runs the command to the end, timing it.
pub fn output(mut c: Command) -> Run {
    let started = Instant::now();
    let o = c.output().expect("run kubectl-bkdoctor");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        took: started.elapsed(),
    }
}

pub fn run(args: &[&str]) -> Run {
    output(command(args))
}

/// As `run`, with these variables set on top of the clean environment.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = command(args);
    c.envs(env.iter().copied());
    output(c)
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The report's `skipped` entries as (what, reason).
pub fn skipped(v: &Value) -> Vec<(String, String)> {
    v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["what"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A started fake API server and a token kubeconfig for it.
pub struct Live {
    pub server: FakeApiServer,
    pub kubeconfig: PathBuf,
    pub _tmp: tempfile::TempDir,
}

/// Starts the server and writes its kubeconfig.
pub fn serve(api: FakeApi) -> Live {
    let tmp = tempfile::tempdir().unwrap();
    let server = api.start();
    let kubeconfig = server.kubeconfig_with_token(tmp.path().join("config"));
    Live {
        server,
        kubeconfig,
        _tmp: tmp,
    }
}

impl Live {
    pub fn kc(&self) -> &str {
        self.kubeconfig.to_str().unwrap()
    }

    /// `run` with `--kubeconfig` for this server.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut argv: Vec<&str> = args.to_vec();
        argv.extend(["--kubeconfig", self.kc()]);
        run(&argv)
    }
}

/// The (rule, object) pairs of a report's findings, sorted: what two reports must agree on when
/// their evidence may differ.
pub fn finding_keys(report: &Value) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["object"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The findings of one rule in a `-o json` report.
pub fn of_rule<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

/// The one finding of `rule` on `object`; fails the test unless there is exactly one.
pub fn one<'a>(report: &'a Value, rule: &str, object: &str) -> &'a Value {
    let found: Vec<&Value> = of_rule(report, rule)
        .into_iter()
        .filter(|f| f["object"] == object)
        .collect();
    assert_eq!(found.len(), 1, "{rule} on {object}: {report:#}");
    found[0]
}

/// A finding's `evidence` or `remediation` as strings.
pub fn lines(f: &Value, field: &str) -> Vec<String> {
    f[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// `check -o json --lang LANG --snapshot` on a fixture: the exit code and the report.
pub fn check_fixture(name: &str, lang: &str) -> (i32, Value) {
    let dir = fixture(name);
    let r = run(&[
        "check",
        "--snapshot",
        dir.to_str().unwrap(),
        "-o",
        "json",
        "--lang",
        lang,
    ]);
    assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
    (r.code, r.json())
}
