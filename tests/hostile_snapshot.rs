//! Snapshot directories come from strangers. Whatever is in one, the doctor finishes, in bounded time
//! and memory, and says what it could not read.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

use common::skipped;

fn check(dir: &Path) -> (i32, Value, Duration) {
    let start = Instant::now();
    let out = Command::cargo_bin("kubectl-bkdoctor")
        .unwrap()
        .args([
            "check",
            "--snapshot",
            dir.to_str().unwrap(),
            "-o",
            "json",
            "--lang",
            "en",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let took = start.elapsed();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v, took)
}

fn node_yaml(name: &str) -> String {
    format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\nspec: {{}}\nstatus: {{}}\n")
}

#[test]
fn billion_laughs_yaml_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for c in "bcdefghi".chars() {
        doc.push_str(&format!(
            "{c}: &{c} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
        prev = c;
    }
    doc.push_str("kind: Pod\n");
    std::fs::write(dir.path().join("laughs.yaml"), doc).unwrap();
    std::fs::write(dir.path().join("node.yaml"), node_yaml("node-1")).unwrap();
    let (code, v, _) = check(dir.path());
    assert_eq!(code, 0);
    let s = skipped(&v);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].0, "laughs.yaml");
    assert!(s[0].1.contains("repetition limit exceeded"), "{s:?}");
    assert_eq!(v["summary"]["nodes"], 1, "the other file still loads");
}

#[test]
fn deeply_nested_json_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(dir.path().join("deep.json"), deep).unwrap();
    let (code, v, _) = check(dir.path());
    assert_eq!(code, 0);
    let s = skipped(&v);
    assert_eq!(s[0].0, "deep.json");
    assert!(s[0].1.contains("recursion limit"), "{s:?}");
}

#[test]
fn binary_and_non_utf8_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("garbage.json"),
        [0u8, 159, 146, 150, 0xff, b'{'],
    )
    .unwrap();
    std::fs::write(
        dir.path().join("latin1.yaml"),
        b"kind: Pod\nmetadata:\n  name: caf\xe9\n",
    )
    .unwrap();
    let (code, v, _) = check(dir.path());
    assert_eq!(code, 0);
    let s = skipped(&v);
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(
        s.iter()
            .any(|(w, r)| w == "garbage.json" && r.contains("not valid JSON"))
    );
    assert!(
        s.iter()
            .any(|(w, r)| w == "latin1.yaml" && r.contains("not UTF-8"))
    );
}

#[test]
fn a_flood_of_broken_objects_is_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<Value> = (0..50_000)
        .map(|i| serde_json::json!({"kind": "Pod", "metadata": {"name": format!("p{i}"), "namespace": "x"}, "spec": "not an object"}))
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(dir.path().join("pods.json"), list.to_string()).unwrap();
    let (code, v, _) = check(dir.path());
    assert_eq!(code, 0);
    let s = skipped(&v);
    assert_eq!(s.len(), 11, "ten problems named, the rest counted");
    assert!(s[0].0.starts_with("pods.json: Pod x/p0"), "{:?}", s[0]);
    assert_eq!(
        s[10].1,
        "and 49990 more objects in this file that could not be used"
    );
}

#[test]
fn directory_depth_is_bounded_and_links_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let mut deep = dir.path().to_path_buf();
    for i in 0..20 {
        deep = deep.join(format!("d{i}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("node.yaml"), node_yaml("too-deep")).unwrap();
    std::fs::write(dir.path().join("d0/node.yaml"), node_yaml("shallow")).unwrap();
    // A link back to the top would loop forever if followed.
    std::os::unix::fs::symlink(dir.path(), dir.path().join("d0/loop")).unwrap();
    let (code, v, took) = check(dir.path());
    assert_eq!(code, 0);
    assert_eq!(v["summary"]["nodes"], 1);
    let s = skipped(&v);
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(s[0].1.contains("deeper than 16 directories"), "{s:?}");
    assert!(took < Duration::from_secs(30));
}

#[test]
fn fifos_and_devices_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pods.json");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo");
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.yaml")).unwrap();
    std::fs::write(dir.path().join("node.yaml"), node_yaml("node-1")).unwrap();
    let (code, v, _) = check(dir.path());
    assert_eq!(code, 0);
    assert_eq!(v["summary"]["nodes"], 1);
}

#[test]
fn a_huge_sparse_log_is_read_from_its_tail_only() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs/blueking/bk-repo-gateway-0");
    std::fs::create_dir_all(&logs).unwrap();
    let path = logs.join("gateway.previous.log");
    let f = std::fs::File::create(&path).unwrap();
    // 2 GiB of holes: reading it whole would take seconds and gigabytes.
    f.set_len(2 << 30).unwrap();
    drop(f);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, b"\nthe last line\n").unwrap();
    let start = Instant::now();
    let text = kubectl_bkdoctor::collect::logs::read_tail(&path).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(text.ends_with("the last line\n"));
    assert!(text.len() <= kubectl_bkdoctor::snapshot::LOG_TAIL_BYTES);
    let (code, _, took) = check(dir.path());
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_file_over_the_size_limit_is_named_not_read() {
    let dir = tempfile::tempdir().unwrap();
    // Sparse: 600 MiB on paper, nothing on disk; reading it would take seconds and the memory.
    let f = std::fs::File::create(dir.path().join("pods.json")).unwrap();
    f.set_len(600 << 20).unwrap();
    drop(f);
    std::fs::write(dir.path().join("node.yaml"), node_yaml("node-1")).unwrap();
    let (code, v, took) = check(dir.path());
    assert_eq!(code, 0);
    assert_eq!(
        skipped(&v),
        [(
            "pods.json".to_string(),
            "600 MiB is larger than the 512 MiB limit for one file; not read".to_string()
        )]
    );
    assert_eq!(v["summary"]["nodes"], 1);
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn objects_past_the_per_file_limit_are_counted_not_read() {
    let dir = tempfile::tempdir().unwrap();
    // Nameless pods are all the same object: cheap, so only the count is tested.
    let mut text = String::from("{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"items\":[");
    text.push_str(&vec!["{}"; 500_001].join(","));
    text.push_str("]}");
    std::fs::write(dir.path().join("pods.json"), text).unwrap();
    let (code, v, _) = check(dir.path());
    assert_eq!(code, 0);
    assert_eq!(
        skipped(&v),
        [(
            "pods.json".to_string(),
            "holds 500001 objects; only the first 500000 were read".to_string()
        )]
    );
}
