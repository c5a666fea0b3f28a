//! What an operator hands to support: the snapshot as one archive (`snapshot FILE.tar.gz`, read
//! back with `--snapshot FILE.tar.gz`) and the report as one HTML page (`-o html`). Through the
//! binary: an archive reads as its directory does; a hostile archive is refused with one line; the
//! page of every fixture parses, carries every command of the JSON verbatim, no planted secret and
//! nothing fetched from outside.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fake_apiserver::FakeApi;
use flate2::Compression;
use flate2::write::GzEncoder;
use scraper::{Html, Selector};
use serde_json::Value;

use common::{Run, fixture, run, serve};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap() != "explain")
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 8, "fixtures missing under {}", root.display());
    dirs
}

fn name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn check_json(snapshot: &Path, now: Option<&str>) -> Run {
    let mut args = vec![
        "check",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "-o",
        "json",
        "--lang",
        "en",
    ];
    if let Some(now) = now {
        args.extend(["--now", now]);
    }
    run(&args)
}

/// Every entry of a gzip-compressed tar archive: (path, entry type, content).
fn entries(archive: &Path) -> Vec<(String, tar::EntryType, Vec<u8>)> {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let kind = e.header().entry_type();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            (path, kind, body)
        })
        .collect()
}

#[test]
fn an_archive_written_by_snapshot_reads_back_as_its_directory() {
    for fixture_name in [
        "job-failed",
        "crash-loop",
        "kubelet-unreachable",
        "bk-signatures",
    ] {
        let dir = fixture(fixture_name);
        let now = check_json(&dir, None).json()["summary"]["snapshotTime"]
            .as_str()
            .unwrap()
            .to_string();
        let live = serve(FakeApi::new().load_dir(&dir));
        let tmp = tempfile::tempdir().unwrap();
        let as_dir = tmp.path().join("snap");
        let as_file = tmp.path().join("bundle.tar.gz");
        let d = live.run(&["snapshot", as_dir.to_str().unwrap()]);
        assert_eq!(d.code, 0, "{fixture_name}: {}", d.stderr);
        let a = live.run(&["snapshot", as_file.to_str().unwrap()]);
        assert_eq!(a.code, 0, "{fixture_name}: {}", a.stderr);
        assert!(as_file.is_file() && !as_dir.join("bundle.tar.gz").exists());
        // It says what it wrote and how big it is.
        eprintln!("{fixture_name}: {}", a.stdout.trim_end());
        let on_disk = std::fs::metadata(&as_file).unwrap().len().div_ceil(1024);
        assert!(
            a.stdout
                .contains(&format!("KiB, {on_disk} KiB compressed) to "))
                && a.stdout.contains(as_file.to_str().unwrap()),
            "{}",
            a.stdout
        );

        let from_dir = check_json(&as_dir, Some(&now));
        let from_file = check_json(&as_file, Some(&now));
        assert_eq!(from_dir.json(), from_file.json(), "{fixture_name}");
        assert_eq!(from_dir.code, from_file.code, "{fixture_name}");
        assert!(from_file.stderr.is_empty(), "{}", from_file.stderr);

        // The same files, plain and relative, and nothing planted in them.
        let mut names: Vec<String> = Vec::new();
        for (path, kind, body) in entries(&as_file) {
            assert_eq!(kind, tar::EntryType::Regular, "{path}");
            assert!(!path.starts_with('/') && !path.contains(".."), "{path}");
            let text = String::from_utf8_lossy(&body);
            assert!(!text.contains("do-not-print"), "{fixture_name}: {path}");
            // The two were collected a moment apart; the time in it differs.
            if path == "snapshot-info.json" {
                names.push(path);
                continue;
            }
            assert_eq!(
                std::fs::read(as_dir.join(&path)).unwrap(),
                body,
                "{fixture_name}: {path} differs from the directory's"
            );
            names.push(path);
        }
        let mut in_dir: Vec<String> = common::walk(&as_dir)
            .iter()
            .map(|p| p.strip_prefix(&as_dir).unwrap().display().to_string())
            .collect();
        in_dir.sort();
        names.sort();
        assert_eq!(names, in_dir, "{fixture_name}");
        assert!(names.iter().any(|n| n == "README.md"));

        // An existing file is never overwritten.
        let again = live.run(&["snapshot", as_file.to_str().unwrap()]);
        assert_eq!(again.code, 2);
        assert!(again.stderr.contains("exists"), "{}", again.stderr);
    }
}

#[test]
fn tar_czf_of_every_fixture_reads_as_the_directory() {
    if std::process::Command::new("tar")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no tar command");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for dir in fixtures() {
        let fixture_name = name(&dir);
        // Both ways people make one: the directory itself, and its contents (`./pods.json`).
        let wrapped = tmp.path().join(format!("{fixture_name}.tgz"));
        let flat = tmp.path().join(format!("{fixture_name}-flat.tar.gz"));
        for (archive, args) in [
            (
                &wrapped,
                vec!["-C", dir.parent().unwrap().to_str().unwrap(), &fixture_name],
            ),
            (&flat, vec!["-C", dir.to_str().unwrap(), "."]),
        ] {
            let status = std::process::Command::new("tar")
                .arg("czf")
                .arg(archive)
                .args(args)
                .status()
                .unwrap();
            assert!(status.success());
        }
        // One moment for both: a snapshot without a time of its own is measured against now.
        let now = Some("2026-12-01T00:00:00Z");
        let expected = check_json(&dir, now);
        for archive in [&wrapped, &flat] {
            let got = check_json(archive, now);
            assert_eq!(
                expected.json(),
                got.json(),
                "{fixture_name}: {} reads differently",
                archive.display()
            );
            assert_eq!(expected.code, got.code, "{fixture_name}");
        }
    }
}

/// A tar header, written by hand so that it can say what `tar::Builder` refuses to write.
fn raw_header(path: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> [u8; 512] {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(kind);
    let bytes = h.as_mut_bytes();
    bytes[..100].fill(0);
    bytes[..path.len()].copy_from_slice(path.as_bytes());
    if let Some(l) = link {
        bytes[157..257].fill(0);
        bytes[157..157 + l.len()].copy_from_slice(l.as_bytes());
    }
    h.set_cksum();
    *h.as_bytes()
}

fn gzip(parts: &[&[u8]]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    for p in parts {
        gz.write_all(p).unwrap();
    }
    gz.finish().unwrap()
}

/// A small valid object and then one hostile entry.
fn hostile(header: [u8; 512], body: &[u8]) -> Vec<u8> {
    let node = b"apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n";
    let mut tar = Vec::new();
    tar.extend_from_slice(&raw_header(
        "nodes.yaml",
        tar::EntryType::Regular,
        node.len() as u64,
        None,
    ));
    tar.extend_from_slice(node);
    tar.resize(tar.len().next_multiple_of(512), 0);
    tar.extend_from_slice(&header);
    tar.extend_from_slice(body);
    tar.resize(tar.len().next_multiple_of(512) + 1024, 0);
    gzip(&[&tar])
}

/// Refused: exit 2, nothing on stdout, one line on stderr that says why.
fn assert_refused(archive: &Path, why: &str) {
    let r = run(&[
        "check",
        "--snapshot",
        archive.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 2, "{why}: {} {}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "{why}: {}", r.stdout);
    assert_eq!(
        r.stderr.trim_end().lines().count(),
        1,
        "{why}: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("snapshot archive") && r.stderr.contains(why),
        "{why}: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn hostile_archives_are_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let body = b"{}";
    let regular = tar::EntryType::Regular;
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            write(
                "up.tgz",
                &hostile(
                    raw_header("../../etc/cron.d/x.json", regular, 2, None),
                    body,
                ),
            ),
            "climbs out",
        ),
        (
            write(
                "abs.tgz",
                &hostile(raw_header("/etc/passwd.json", regular, 2, None), body),
            ),
            "absolute path",
        ),
        (
            write(
                "symlink.tgz",
                &hostile(
                    raw_header("pods.json", tar::EntryType::Symlink, 0, Some("/etc/shadow")),
                    b"",
                ),
            ),
            "symbolic link",
        ),
        (
            write(
                "hardlink.tgz",
                &hostile(
                    raw_header("pods.json", tar::EntryType::Link, 0, Some("nodes.yaml")),
                    b"",
                ),
            ),
            "hard link",
        ),
        (
            write(
                "fifo.tgz",
                &hostile(raw_header("pods.json", tar::EntryType::Fifo, 0, None), b""),
            ),
            "not a plain file",
        ),
        (
            write("plain.tar.gz", b"just text, not gzip"),
            "not a gzip-compressed tar archive",
        ),
        (tmp.path().join("missing.tgz"), "no such file"),
    ];
    for (archive, why) in &cases {
        assert_refused(archive, why);
    }
}

#[test]
fn an_archive_of_too_many_entries_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tar = Vec::with_capacity(100_001 * 512 + 1024);
    for i in 0..100_001 {
        tar.extend_from_slice(&raw_header(
            &format!("f{i}.txt"),
            tar::EntryType::Regular,
            0,
            None,
        ));
    }
    tar.resize(tar.len() + 1024, 0);
    let p = tmp.path().join("many.tar.gz");
    std::fs::write(&p, gzip(&[&tar])).unwrap();
    assert_refused(&p, "more than 100000 entries");
}

/// A gzip stream of `total` zero bytes, made of one compressed block repeated: gzip members may be
/// concatenated (RFC 1952), so ten gibibytes cost a few megabytes and no time to build.
fn zeros(total: u64, out: &mut Vec<u8>) {
    const BLOCK: usize = 64 * 1024 * 1024;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&vec![0u8; BLOCK]).unwrap();
    let member = gz.finish().unwrap();
    for _ in 0..total / BLOCK as u64 {
        out.extend_from_slice(&member);
    }
}

#[test]
fn an_entry_inflating_to_ten_gibibytes_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ten_gib = 10u64 << 30;
    let mut bytes = gzip(&[&raw_header(
        "pods.json",
        tar::EntryType::Regular,
        ten_gib,
        None,
    )]);
    zeros(ten_gib, &mut bytes);
    assert!(bytes.len() < 64 << 20, "{} bytes", bytes.len());
    let p = tmp.path().join("bomb.tar.gz");
    std::fs::write(&p, &bytes).unwrap();
    assert_refused(&p, "inflates to 10240 MiB");

    // Entries each within the limit for one file, together more than the whole may inflate to.
    let mut bytes = Vec::new();
    for i in 0..5 {
        let size = 448u64 << 20;
        bytes.extend(gzip(&[&raw_header(
            &format!("blob{i}.bin"),
            tar::EntryType::Regular,
            size,
            None,
        )]));
        zeros(size, &mut bytes);
    }
    let p = tmp.path().join("many-big.tar.gz");
    std::fs::write(&p, &bytes).unwrap();
    assert_refused(&p, "inflates to more than 2048 MiB");
}

/// The commands a fix asks to run: every line not starting with `#`, and the quoted steps for later.
fn commands(f: &Value) -> Vec<String> {
    f["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| {
            let l = l.as_str().unwrap();
            match l.strip_prefix("#   ") {
                Some(later) => Some(later.trim_start().to_string()),
                None => (!l.starts_with('#')).then(|| l.to_string()),
            }
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// The page parses without an error, fetches nothing, and each of `commands` is a whole line of
/// a copyable block.
fn assert_page(html: &str, commands: &[String], what: &str) -> Html {
    let doc = Html::parse_document(html);
    assert!(doc.errors.is_empty(), "{what}: {:?}", doc.errors);
    let sel = |s: &str| Selector::parse(s).unwrap();
    assert_eq!(
        doc.select(&sel("[src], link, iframe, object, embed, img"))
            .count(),
        0,
        "{what}"
    );
    for a in doc.select(&sel("[href]")) {
        assert!(
            a.value().attr("href").unwrap().starts_with('#'),
            "{what}: {:?}",
            a.value()
        );
    }
    for s in doc.select(&sel("style, script")) {
        let text: String = s.text().collect();
        for bad in ["http://", "https://", "url(", "@import", "//"] {
            // `//` starts no comment in the script or the style: a protocol-relative URL would.
            if bad == "//" && s.value().name() == "style" {
                continue;
            }
            assert!(
                !text.contains(bad),
                "{what}: {bad} in <{}>",
                s.value().name()
            );
        }
    }
    let blocks: Vec<String> = doc
        .select(&sel(".cmd code"))
        .map(|c| c.text().collect())
        .collect();
    for cmd in commands {
        assert!(
            blocks.iter().any(|b| b.lines().any(|l| l == cmd)),
            "{what}: command not in a copyable block: {cmd}"
        );
    }
    doc
}

fn planted_secrets() -> Vec<String> {
    vec![
        "do-not-print".to_string(),
        STANDARD.encode("planted-secret-data-do-not-print"),
        "planted".to_string(),
    ]
}

#[test]
fn the_page_of_every_fixture_parses_and_carries_every_command() {
    for dir in fixtures() {
        let fixture_name = name(&dir);
        let d = dir.to_str().unwrap();
        for lang in ["en", "zh"] {
            let json = run(&["check", "--snapshot", d, "-o", "json", "--lang", lang]);
            let html = run(&["check", "--snapshot", d, "-o", "html", "--lang", lang]);
            assert_eq!(
                json.code, html.code,
                "{fixture_name} {lang}: {}",
                html.stderr
            );
            let what = format!("{fixture_name} ({lang})");
            let v = json.json();
            let cmds: Vec<String> = v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(commands)
                .collect();
            let doc = assert_page(&html.stdout, &cmds, &what);
            for secret in planted_secrets() {
                assert!(!html.stdout.contains(&secret), "{what}: {secret}");
            }
            // Every finding, its severity in words, and every release of the report.
            let sel = Selector::parse("article.finding").unwrap();
            assert_eq!(
                doc.select(&sel).count(),
                v["findings"].as_array().unwrap().len(),
                "{what}"
            );
            let text: String = doc.root_element().text().collect();
            for f in v["findings"].as_array().unwrap() {
                assert!(text.contains(f["title"].as_str().unwrap()), "{what}");
            }
            let rows = Selector::parse("table tbody tr").unwrap();
            assert_eq!(
                doc.select(&rows).count(),
                v["summary"]["releases"].as_u64().unwrap() as usize,
                "{what}"
            );
            let lang_attr = Selector::parse(&format!("html[lang^=\"{lang}\"]")).unwrap();
            assert_eq!(doc.select(&lang_attr).count(), 1, "{what}");
        }
    }
}

#[test]
fn release_and_explain_pages_parse_and_carry_their_commands() {
    let d = fixture("job-failed");
    let d = d.to_str().unwrap();
    let base = ["release", "bk-cmdb", "-n", "blueking", "--snapshot", d];
    let json = run(&[&base[..], &["-o", "json"]].concat());
    let html = run(&[&base[..], &["-o", "html"]].concat());
    assert_eq!(json.code, html.code, "{}", html.stderr);
    let cmds: Vec<String> = json.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(commands)
        .collect();
    assert!(!cmds.is_empty());
    assert_page(&html.stdout, &cmds, "release");

    let log = fixture("explain").join("seed-paas-in-progress.log");
    let snap = fixture("pending-upgrade");
    let base = [
        "explain",
        log.to_str().unwrap(),
        "--snapshot",
        snap.to_str().unwrap(),
    ];
    let json = run(&[&base[..], &["-o", "json"]].concat());
    let html = run(&[&base[..], &["-o", "html", "--lang", "zh"]].concat());
    assert_eq!(json.code, html.code, "{}", html.stderr);
    let v = json.json();
    let mut cmds: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(commands)
        .collect();
    cmds.extend(v["errors"].as_array().unwrap().iter().flat_map(commands));
    assert!(!cmds.is_empty());
    assert_page(&html.stdout, &cmds, "explain");
}

#[test]
fn names_from_the_cluster_never_become_markup() {
    let tmp = tempfile::tempdir().unwrap();
    let evil = "x\"><img src=https://evil.example/p onerror=alert(1)><script>alert(2)</script>";
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": evil, "namespace": "blue</code>king", "uid": "u1",
                     "creationTimestamp": "2026-11-20T10:00:00Z"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "c", "ready": false, "restartCount": 9, "image": "i", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                "finishedAt": "2026-11-20T10:58:00Z"}}}]}
    });
    std::fs::write(tmp.path().join("pods.json"), pod.to_string()).unwrap();
    let logs = tmp
        .path()
        .join("logs/blue</code>king")
        .join(evil.replace('/', "_"));
    let _ = std::fs::create_dir_all(&logs);
    let _ = std::fs::write(logs.join("c.previous.log"), "<b>boom</b> & </pre>\n");
    let d = tmp.path().to_str().unwrap();
    let json = run(&[
        "check",
        "--snapshot",
        d,
        "-o",
        "json",
        "--now",
        "2026-11-20T11:00:00Z",
    ]);
    let html = run(&[
        "check",
        "--snapshot",
        d,
        "-o",
        "html",
        "--now",
        "2026-11-20T11:00:00Z",
    ]);
    let v = json.json();
    assert!(!v["findings"].as_array().unwrap().is_empty(), "{v}");
    let cmds: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(commands)
        .collect();
    let doc = assert_page(&html.stdout, &cmds, "hostile names");
    let count = |s: &str| doc.select(&Selector::parse(s).unwrap()).count();
    assert_eq!(count("img"), 0);
    assert_eq!(count("script"), 1, "only the page's own");
    assert_eq!(count("[onerror]"), 0);
    let text: String = doc.root_element().text().collect();
    assert!(text.contains(evil), "the name is shown as it is");
}

/// Opened in a real browser when one is installed (Debian's `chromium`): the page renders at phone
/// width in both languages. Skipped, and says so, where there is none (CI may have none).
#[test]
fn the_page_renders_in_a_headless_browser() {
    let Some(browser) = ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        eprintln!("skipped: no chromium to render the page with");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = fixture("job-failed");
    for lang in ["en", "zh"] {
        let html = run(&[
            "check",
            "--snapshot",
            d.to_str().unwrap(),
            "-o",
            "html",
            "--lang",
            lang,
        ]);
        let page = tmp.path().join(format!("report-{lang}.html"));
        std::fs::write(&page, &html.stdout).unwrap();
        let png = tmp.path().join(format!("report-{lang}.png"));
        let profile = tempfile::tempdir().unwrap();
        let status = std::process::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=390,1600",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let bytes = std::fs::read(&png).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{lang}: {} bytes",
            bytes.len()
        );
    }
}
