//! Release archives and the krew manifest: scripts/dist.sh packs the binary we just built, and the
//! manifest it writes passes krew's own validation rules (krew's internal/index/validation) with the
//! archive's real sha256.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};

const NAME: &str = "kubectl-bkdoctor";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tag() -> String {
    format!("v{VERSION}")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn dist(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(root().join("scripts/dist.sh"))
        .args(args)
        .output()
        .expect("run scripts/dist.sh")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn load_yaml(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// krew's rules for a plugin manifest (internal/index/validation/validate.go), plus what this project
/// promises in it: the four platforms, and caveats that say which permissions are needed.
fn krew_problems(file_name: &str, m: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    if s(m, "apiVersion").as_deref() != Some("krew.googlecontainertools.github.com/v1alpha2") {
        p.push("apiVersion".into());
    }
    if s(m, "kind").as_deref() != Some("Plugin") {
        p.push("kind".into());
    }
    let name = m.pointer("/metadata/name").and_then(Value::as_str);
    let expected = file_name.trim_end_matches(".yaml");
    if name != Some(expected) {
        p.push(format!(
            "metadata.name {name:?} does not match file {file_name}"
        ));
    }
    if !Regex::new(r"^[\w-]+$").unwrap().is_match(expected) {
        p.push("unsafe plugin name".into());
    }
    let spec = m.get("spec").cloned().unwrap_or(Value::Null);
    let version = s(&spec, "version").unwrap_or_default();
    let semver = Regex::new(
        r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$",
    )
    .unwrap();
    if !semver.is_match(&version) {
        p.push(format!(
            "spec.version {version:?} is not semver with a leading v"
        ));
    }
    match s(&spec, "shortDescription") {
        Some(d) if !d.is_empty() && !d.contains(['\r', '\n']) => {}
        other => p.push(format!("shortDescription {other:?}")),
    }
    for k in ["description", "homepage", "caveats"] {
        if s(&spec, k).is_none_or(|v| v.trim().is_empty()) {
            p.push(format!("spec.{k} missing"));
        }
    }
    let caveats = s(&spec, "caveats").unwrap_or_default();
    for needed in [
        "get and list",
        "pods",
        "pods/log",
        "nodes",
        "services",
        "configmaps",
        "secrets",
        "namespaces",
        "events",
        "leases",
        "customresourcedefinitions",
        "deployments",
        "daemonsets",
        "statefulsets",
        "jobs",
        "persistentvolumeclaims",
        "persistentvolumes",
        "storageclasses",
    ] {
        if !caveats.contains(needed) {
            p.push(format!("caveats do not mention {needed}"));
        }
    }
    let sha = Regex::new(r"^[a-f0-9]{64}$").unwrap();
    let platforms = spec
        .get("platforms")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if platforms.is_empty() {
        p.push("no platforms".into());
    }
    let mut seen = BTreeSet::new();
    for (i, pl) in platforms.iter().enumerate() {
        match s(pl, "uri") {
            Some(u) if u.starts_with("https://") && u.ends_with(".tar.gz") => {}
            other => p.push(format!("platform {i}: uri {other:?}")),
        }
        match s(pl, "sha256") {
            Some(h) if sha.is_match(&h) => {}
            other => p.push(format!("platform {i}: sha256 {other:?}")),
        }
        if s(pl, "bin").as_deref() != Some(NAME) {
            p.push(format!("platform {i}: bin"));
        }
        if pl
            .get("files")
            .is_some_and(|f| f.as_array().is_none_or(Vec::is_empty))
        {
            p.push(format!("platform {i}: files must be absent or non-empty"));
        }
        let labels = pl
            .pointer("/selector/matchLabels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if labels.is_empty() || pl.pointer("/selector/matchExpressions").is_some() {
            p.push(format!(
                "platform {i}: selector must be non-empty matchLabels"
            ));
        }
        if let Some(k) = labels.keys().find(|k| *k != "os" && *k != "arch") {
            p.push(format!("platform {i}: selector key {k:?} not supported"));
        }
        let os = labels.get("os").and_then(Value::as_str).unwrap_or("?");
        let arch = labels.get("arch").and_then(Value::as_str).unwrap_or("?");
        if !seen.insert(format!("{os}/{arch}")) {
            p.push(format!("platform {os}/{arch} listed twice"));
        }
    }
    p
}

fn platform<'a>(m: &'a Value, os: &str, arch: &str) -> &'a Value {
    m.pointer("/spec/platforms")
        .and_then(Value::as_array)
        .and_then(|ps| {
            ps.iter().find(|p| {
                p.pointer("/selector/matchLabels/os") == Some(&Value::from(os))
                    && p.pointer("/selector/matchLabels/arch") == Some(&Value::from(arch))
            })
        })
        .unwrap_or_else(|| panic!("no {os}/{arch} platform in {m:#}"))
}

const RELEASE_TARGETS: [&str; 4] = [
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
];

/// What CI hands the manifest job: one `sha256sum` line per archive built on another runner.
fn sha_file(dir: &Path, target: &str, hash: &str) -> PathBuf {
    let archive = format!("{NAME}-{}-{target}.tar.gz", tag());
    let path = dir.join(format!("{archive}.sha256"));
    fs::write(&path, format!("{hash}  {archive}\n")).unwrap();
    path
}

#[test]
fn dist_packs_the_binary_and_writes_a_manifest_with_its_real_sha256() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dist");
    let manifest = tmp.path().join("bkdoctor.yaml");
    let collected = tmp.path().join("collected");
    fs::create_dir(&collected).unwrap();
    // The three targets this machine cannot build arrive as .sha256 files, as in the release workflow.
    let others: Vec<(String, String)> = RELEASE_TARGETS[1..]
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), format!("{i}").repeat(64)))
        .collect();
    let mut args = vec![
        "--target".to_string(),
        "x86_64-unknown-linux-gnu".into(),
        "--binary".into(),
        env!("CARGO_BIN_EXE_kubectl-bkdoctor").into(),
        "--out".into(),
        out.to_str().unwrap().into(),
        "--manifest".into(),
        manifest.to_str().unwrap().into(),
    ];
    for (t, h) in &others {
        args.push("--sha256".into());
        args.push(sha_file(&collected, t, h).to_str().unwrap().into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&dist(&args));

    let archive_name = format!("{NAME}-{}-x86_64-unknown-linux-gnu.tar.gz", tag());
    let archive = out.join(&archive_name);
    let bytes = fs::read(&archive).expect("dist.sh made the archive");
    let real = sha256_hex(&bytes);
    assert_eq!(
        fs::read_to_string(out.join(format!("{archive_name}.sha256"))).unwrap(),
        format!("{real}  {archive_name}\n"),
        "the .sha256 file is sha256sum's format for the archive"
    );

    // The archive holds the binary, LICENSE and README at its top level, as krew extracts it.
    let mut entries = Vec::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mode = e.header().mode().unwrap();
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        entries.push((path, mode, content));
    }
    let mut names: Vec<&str> = entries.iter().map(|(p, _, _)| p.as_str()).collect();
    names.sort();
    assert_eq!(names, ["LICENSE", "README.md", NAME], "archive contents");
    let find = |n: &str| entries.iter().find(|(p, _, _)| p == n).unwrap();
    assert_eq!(find("LICENSE").2, fs::read(root().join("LICENSE")).unwrap());
    let (_, mode, binary) = find(NAME);
    assert_eq!(mode & 0o111, 0o111, "the binary is executable");
    assert_eq!(
        binary,
        &fs::read(env!("CARGO_BIN_EXE_kubectl-bkdoctor")).unwrap()
    );

    let m = load_yaml(&manifest);
    assert_eq!(krew_problems("bkdoctor.yaml", &m), Vec::<String>::new());
    assert_eq!(m.pointer("/spec/version"), Some(&Value::from(tag())));
    let linux = platform(&m, "linux", "amd64");
    assert_eq!(linux["sha256"], Value::from(real.clone()));
    assert!(
        linux["uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{archive_name}")),
        "{linux}"
    );
    for ((os, arch), (_, h)) in [("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64")]
        .into_iter()
        .zip(&others)
    {
        assert_eq!(platform(&m, os, arch)["sha256"], Value::from(h.clone()));
    }

    // The same archive listed with a different hash is a stale download: refuse to publish it.
    fs::write(
        out.join(format!("{archive_name}.sha256")),
        format!("{}  {archive_name}\n", "f".repeat(64)),
    )
    .unwrap();
    let o = dist(&[
        "--manifest-only",
        "--sha256",
        out.join(format!("{archive_name}.sha256")).to_str().unwrap(),
        "--manifest",
        tmp.path().join("stale.yaml").to_str().unwrap(),
    ]);
    assert!(
        !o.status.success(),
        "a .sha256 that does not match its archive is refused"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not match"));
}

#[test]
fn template_renders_the_release_manifest_from_collected_sha256_files() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = tmp.path().join("bkdoctor.yaml");
    let mut args = vec![
        "--manifest-only".to_string(),
        "--require-all".into(),
        "--manifest".into(),
        manifest.to_str().unwrap().into(),
    ];
    let hashes: Vec<String> = (0..4).map(|i| format!("{:064x}", 0xabc0 + i)).collect();
    for (t, h) in RELEASE_TARGETS.iter().zip(&hashes) {
        args.push("--sha256".into());
        args.push(sha_file(tmp.path(), t, h).to_str().unwrap().into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = dist(&args);
    ok(&o);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("note:"),
        "a release uses exactly the archives the template names"
    );
    let m = load_yaml(&manifest);
    assert_eq!(krew_problems("bkdoctor.yaml", &m), Vec::<String>::new());
    let text = fs::read_to_string(&manifest).unwrap();
    assert!(!text.contains("{{"), "no template syntax left:\n{text}");
    for ((os, arch), (t, h)) in [
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
    ]
    .into_iter()
    .zip(RELEASE_TARGETS.iter().zip(&hashes))
    {
        let p = platform(&m, os, arch);
        assert_eq!(p["sha256"], Value::from(h.clone()));
        assert_eq!(
            p["uri"].as_str().unwrap(),
            format!(
                "https://github.com/bkdoctor/kubectl-bkdoctor/releases/download/{0}/{NAME}-{0}-{t}.tar.gz",
                tag()
            )
        );
    }

    // A release must not go out with a platform missing.
    let o = dist(&[
        "--manifest-only",
        "--require-all",
        "--sha256",
        sha_file(tmp.path(), RELEASE_TARGETS[0], &hashes[0])
            .to_str()
            .unwrap(),
        "--manifest",
        tmp.path().join("partial.yaml").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no archive for darwin/arm64"));
    assert!(!tmp.path().join("partial.yaml").exists());
}

#[test]
fn dist_refuses_a_tag_that_is_not_the_crate_version() {
    let o = dist(&["--manifest-only", "--expect-tag", "v999.0.0"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not match Cargo.toml"));
}

/// The validator above is what keeps the manifest honest, so it must reject what krew rejects.
#[test]
fn krew_rules_reject_bad_manifests() {
    let good: Value = serde_json::json!({
        "apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
        "kind": "Plugin",
        "metadata": {"name": "bkdoctor"},
        "spec": {
            "version": "v0.1.0",
            "homepage": "https://example.invalid",
            "shortDescription": "x",
            "description": "x",
            "caveats": "get and list on pods, pods/log, nodes, services, configmaps, secrets, namespaces, events, leases, customresourcedefinitions, deployments, daemonsets, statefulsets, jobs, persistentvolumeclaims, persistentvolumes, storageclasses",
            "platforms": [{
                "selector": {"matchLabels": {"os": "linux", "arch": "amd64"}},
                "uri": "https://example.invalid/a.tar.gz",
                "sha256": "a".repeat(64),
                "bin": NAME,
            }],
        },
    });
    assert_eq!(krew_problems("bkdoctor.yaml", &good), Vec::<String>::new());
    let bad = |f: &dyn Fn(&mut Value)| {
        let mut m = good.clone();
        f(&mut m);
        krew_problems("bkdoctor.yaml", &m)
    };
    assert!(!bad(&|m| m["spec"]["version"] = "0.1.0".into()).is_empty());
    assert!(!bad(&|m| m["spec"]["shortDescription"] = "two\nlines".into()).is_empty());
    assert!(!bad(&|m| m["metadata"]["name"] = "kubectl-bkdoctor".into()).is_empty());
    assert!(!bad(&|m| m["spec"]["platforms"][0]["sha256"] = "A".repeat(64).into()).is_empty());
    assert!(!bad(&|m| m["spec"]["platforms"][0]["sha256"] = "abc".into()).is_empty());
    assert!(
        !bad(&|m| m["spec"]["platforms"][0]["selector"]["matchLabels"]["distro"] = "x".into())
            .is_empty()
    );
    assert!(!bad(&|m| m["spec"]["caveats"] = "needs access".into()).is_empty());
    assert!(!bad(&|m| m["spec"]["platforms"] = serde_json::json!([])).is_empty());
}

#[test]
fn krew_template_lists_the_four_release_archives() {
    let text = fs::read_to_string(root().join("krew/.krew.yaml")).unwrap();
    assert!(text.contains("version: {{ .TagName }}"));
    let add = Regex::new(r#"\{\{addURIAndSha "([^"]+)" \.TagName \}\}"#).unwrap();
    let uris: Vec<&str> = add
        .captures_iter(&text)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    let expected: Vec<String> = RELEASE_TARGETS
        .iter()
        .map(|t| {
            format!("https://github.com/bkdoctor/kubectl-bkdoctor/releases/download/{{{{ .TagName }}}}/{NAME}-{{{{ .TagName }}}}-{t}.tar.gz")
        })
        .collect();
    assert_eq!(uris, expected);
}

#[test]
fn license_file_is_the_license_cargo_declares() {
    let cargo = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(cargo.contains("license = \"Apache-2.0\""));
    let license = fs::read_to_string(root().join("LICENSE")).unwrap();
    assert!(license.contains("Apache License"));
    assert!(license.contains("Version 2.0, January 2004"));
    assert!(
        license.contains("END OF TERMS AND CONDITIONS"),
        "the full text"
    );
}

/// Without --binary the script builds the host target itself; a stand-in for cargo (CARGO=...) shows
/// the exact build it asks for, without a several-minute release build inside the tests.
#[test]
fn dist_builds_the_host_target_with_cargo_release_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("cargo.log");
    let fake = tmp.path().join("fake-cargo");
    fs::write(
        &fake,
        r#"#!/bin/sh
echo "args: $*" >>"$FAKE_LOG"
echo "commit: $BKDOCTOR_GIT_COMMIT" >>"$FAKE_LOG"
while [ $# -gt 0 ]; do [ "$1" = --target ] && target=$2; shift; done
mkdir -p "$CARGO_TARGET_DIR/$target/release"
cp "$FAKE_BIN" "$CARGO_TARGET_DIR/$target/release/kubectl-bkdoctor"
"#,
    )
    .unwrap();
    let host = String::from_utf8(Command::new("rustc").arg("-vV").output().unwrap().stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .unwrap();
    let out = tmp.path().join("dist");
    let manifest = tmp.path().join("bkdoctor.yaml");
    let o = Command::new("bash")
        .arg(root().join("scripts/dist.sh"))
        .arg("--out")
        .arg(&out)
        .arg("--manifest")
        .arg(&manifest)
        .env("CARGO", format!("sh {}", fake.display()))
        .env("CARGO_TARGET_DIR", tmp.path().join("target"))
        .env("FAKE_LOG", &log)
        .env("FAKE_BIN", env!("CARGO_BIN_EXE_kubectl-bkdoctor"))
        .env_remove("BKDOCTOR_GIT_COMMIT")
        .output()
        .unwrap();
    ok(&o);
    let log = fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!("args: build --release --locked --target {host} ")),
        "{log}"
    );
    assert!(
        !log.contains("commit: \n"),
        "the commit is passed to build.rs: {log}"
    );
    let archive = out.join(format!("{NAME}-{}-{host}.tar.gz", tag()));
    let real = sha256_hex(&fs::read(&archive).unwrap());
    let m = load_yaml(&manifest);
    assert_eq!(krew_problems("bkdoctor.yaml", &m), Vec::<String>::new());
    assert_eq!(
        m.pointer("/spec/platforms")
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(1),
        "only the platform that was built is listed"
    );
    assert_eq!(
        m.pointer("/spec/platforms/0/sha256"),
        Some(&Value::from(real))
    );
}
