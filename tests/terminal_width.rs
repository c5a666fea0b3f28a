//! The report a person reads fits their terminal: the binary runs on pseudo-terminals of 80, 120 and
//! 200 columns (and in a pipe with `COLUMNS`), in English and Chinese, over every fixture snapshot.
//! No line is wider than the terminal, except a command that is itself wider; every command of
//! every fix is a line of its own, whole, as `-o json` gives it. And no fix undoes itself: no
//! command sets again what an earlier one of the same fix set, to another value.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use common::BIN;

const WIDTHS: [usize; 3] = [80, 120, 200];
const LANGS: [&str; 2] = ["en", "zh"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every fixture snapshot, and the example the README shows.
fn snapshots() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out.push(root().join("examples/snapshot"));
    out
}

fn command(args: &[String]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(root())
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .env_remove("KUBECONFIG")
        .env_remove("HELM_PLUGIN_NAME")
        .env_remove("HELM_NAMESPACE")
        .env_remove("HELM_KUBECONTEXT");
    c
}

/// Another thread's child must not inherit a pty end between `openpty` and `FD_CLOEXEC`, or the
/// master would never see the end of the output.
static SPAWN: Mutex<()> = Mutex::new(());

/// Runs the binary with its stdout on a pseudo-terminal of `cols` columns; returns what it printed.
fn on_terminal(args: &[String], cols: usize) -> String {
    on_terminal_env(args, cols, &[])
}

fn on_terminal_env(args: &[String], cols: usize, env: &[(&str, &str)]) -> String {
    on_pty(args, cols, env, true)
}

/// `stdout_on_pty`: the report goes to the pseudo-terminal; else it goes to a pipe and stderr to
/// the pseudo-terminal, as in `kubectl bkdoctor check | less`.
fn on_pty(args: &[String], cols: usize, env: &[(&str, &str)], stdout_on_pty: bool) -> String {
    let (master, child) = {
        let _one_at_a_time = SPAWN.lock().unwrap();
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 50,
            ws_col: cols as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: out-pointers to live locals; the fds returned are owned below.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        for fd in [master, slave] {
            // SAFETY: fd was just returned by openpty.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // SAFETY: openpty handed over both fds; each is owned exactly once.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = command(args);
        cmd.envs(env.iter().copied()).stdin(Stdio::null());
        if stdout_on_pty {
            cmd.stdout(Stdio::from(slave)).stderr(Stdio::null());
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::from(slave));
        }
        let child = cmd.spawn().expect("run kubectl-bkdoctor on a pty");
        // The Command (and with it the parent's slave end) is gone here: EOF comes when the child exits.
        (std::fs::File::from(master), child)
    };
    let mut child = child;
    if let Some(mut piped) = child.stdout.take() {
        let mut out = String::new();
        piped.read_to_string(&mut out).unwrap();
        let status = child.wait().unwrap();
        assert!(status.code().is_some_and(|c| c < 2), "{args:?}: {status:?}");
        drop(master);
        return out;
    }
    let mut master = master;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // Linux answers EIO once the last slave end is closed.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the pty: {e}"),
        }
    }
    let status = child.wait().unwrap();
    assert!(status.code().is_some_and(|c| c < 2), "{args:?}: {status:?}");
    // The terminal turns each \n into \r\n.
    String::from_utf8(out).unwrap().replace("\r\n", "\n")
}

fn in_pipe(args: &[String], env: &[(&str, &str)]) -> String {
    let o = command(args).envs(env.iter().copied()).output().unwrap();
    assert!(
        o.status.code().is_some_and(|c| c < 2),
        "{args:?}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The lines of a fix that are printed whole: commands, and commands quoted for later.
fn whole_lines(findings: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in findings.as_array().unwrap() {
        for r in strs(&f["remediation"]) {
            if !r.starts_with('#') || r.starts_with("#   ") {
                out.insert(r);
            }
        }
    }
    out
}

/// What `-o json` says must be in the table, checked against the table printed at `width`.
fn assert_fits(what: &str, table: &str, findings: &Value, width: usize, colour: bool) {
    let whole = whole_lines(findings);
    let mut lines = BTreeSet::new();
    for raw in table.lines() {
        let line = strip_ansi(raw);
        let w = line.width();
        let bare = line.trim_start().trim_start_matches("$ ");
        if w > width {
            assert!(
                whole.contains(line.as_str()),
                "{what}: line of {w} columns in {width}, not a command wider than the terminal:\n{line}\n\n{table}"
            );
        }
        if whole.contains(bare) {
            assert!(
                !raw.contains('\u{1b}'),
                "{what}: colour inside a command: {raw:?}"
            );
        }
        lines.insert(bare.to_string());
    }
    for cmd in &whole {
        assert!(
            lines.contains(cmd.as_str()),
            "{what}: the command is not a line of its own:\n{cmd}\n\n{table}"
        );
    }
    if colour && !findings.as_array().unwrap().is_empty() {
        assert!(table.contains('\u{1b}'), "{what}: a terminal gets colour");
    } else {
        assert!(!table.contains('\u{1b}'), "{what}: no colour in a pipe");
    }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Runs `job` over `items` on two threads (the machine's CI has two cores).
fn in_parallel<T: Sync>(items: &[T], job: impl Fn(&T) + Sync) {
    let half = items.len().div_ceil(2).max(1);
    std::thread::scope(|s| {
        for chunk in items.chunks(half) {
            let job = &job;
            s.spawn(move || chunk.iter().for_each(job));
        }
    });
}

fn json(args: &[String]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o".into(), "json".into()]);
    serde_json::from_str(&in_pipe(&a, &[])).unwrap()
}

/// Every snapshot's `check` and, for each release a finding names, its `release NAME`.
fn cases() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for dir in snapshots() {
        let dir = dir.to_str().unwrap().to_string();
        let check = args(&["check", "--snapshot", &dir]);
        let mut releases = BTreeSet::new();
        for f in json(&check)["findings"].as_array().unwrap() {
            if let (Some(ns), Some(name)) = (
                f["namespace"].as_str(),
                f["object"]
                    .as_str()
                    .and_then(|o| o.strip_prefix("release/")),
            ) {
                releases.insert((ns.to_string(), name.to_string()));
            }
        }
        out.push(check);
        for (ns, name) in releases {
            let release = args(&["release", &name, "-n", &ns, "--snapshot", &dir]);
            // A finding may name a release whose records are not in the snapshot.
            let mut probe = release.clone();
            probe.extend(["-o".into(), "json".into()]);
            if command(&probe).output().unwrap().status.code() != Some(2) {
                out.push(release);
            }
        }
    }
    out
}

#[test]
fn every_report_fits_80_120_and_200_columns_on_a_terminal_and_in_a_pipe() {
    let cases = cases();
    assert!(cases.len() > 40, "{} cases", cases.len());
    let runs: Vec<(usize, Vec<String>, &str)> = cases
        .iter()
        .enumerate()
        .flat_map(|(i, c)| LANGS.map(|lang| (i, c.clone(), lang)))
        .collect();
    in_parallel(&runs, |(i, case, lang)| {
        let mut case = case.clone();
        case.extend(["--lang".into(), lang.to_string()]);
        let findings = json(&case)["findings"].clone();
        let mut ttys = Vec::new();
        for width in WIDTHS {
            let what = format!("{} at {width} columns", case.join(" "));
            let tty = on_terminal(&case, width);
            assert_fits(&format!("{what} (terminal)"), &tty, &findings, width, true);
            ttys.push(tty);
        }
        // In a pipe, at one of the widths in turn (the layout code is the same; what differs is
        // where the width comes from, and the colour).
        let turn = (i + usize::from(*lang == "zh")) % WIDTHS.len();
        let width = WIDTHS[turn];
        let what = format!("{} at {width} columns", case.join(" "));
        let cols = width.to_string();
        let piped = in_pipe(&case, &[("COLUMNS", &cols)]);
        assert_fits(&format!("{what} (pipe)"), &piped, &findings, width, false);
        // The same layout either way, colour aside.
        assert_eq!(strip_ansi(&ttys[turn]), piped, "{what}");
    });
}

#[test]
fn a_pipe_without_columns_is_100_wide_unless_a_person_reads_it_and_columns_wins() {
    let case = args(&["check", "--snapshot", "examples/snapshot"]);
    let piped = in_pipe(&case, &[]);
    assert_eq!(heading_width(&piped), 100, "{piped}");
    // `COLUMNS=80 kubectl bkdoctor check` in a 200-column terminal: the person asked for 80.
    let tty = strip_ansi(&on_terminal_env(&case, 200, &[("COLUMNS", "80")]));
    assert_eq!(heading_width(&tty), 80, "{tty}");
    let tty = strip_ansi(&on_terminal(&case, 120));
    assert_eq!(heading_width(&tty), 120, "{tty}");
    // `kubectl bkdoctor check | less` in an 80-column terminal: read there, so 80 wide, and plain.
    let paged = on_pty(&case, 80, &[], false);
    assert_eq!(heading_width(&paged), 80, "{paged}");
    assert!(!paged.contains('\u{1b}'), "{paged}");
}

/// A finding's heading rule runs to the edge of the table.
fn heading_width(table: &str) -> usize {
    let widths: BTreeSet<usize> = table
        .lines()
        .filter(|l| l.starts_with("──"))
        .map(|l| l.width())
        .collect();
    assert_eq!(widths.len(), 1, "{widths:?}\n{table}");
    widths.into_iter().next().unwrap()
}

#[test]
fn the_catalog_listing_fits_the_terminal() {
    for lang in LANGS {
        for width in WIDTHS {
            let out = on_terminal(&args(&["rules", "--lang", lang]), width);
            let out = strip_ansi(&out);
            assert!(out.contains("dns-unresolvable"), "{out}");
            for l in out.lines() {
                assert!(l.width() <= width, "rules at {width}: {l}\n{out}");
            }
        }
    }
}

#[test]
fn repeated_evidence_is_condensed_in_the_table_and_whole_in_json() {
    let case = args(&["check", "--snapshot", "examples/snapshot"]);
    let table = in_pipe(&case, &[("COLUMNS", "200")]);
    let v = json(&case);
    let dns = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "dns-unresolvable")
        .unwrap();
    let evidence = strs(&dns["evidence"]);
    // JSON: each log that failed, with its line.
    assert!(
        evidence
            .iter()
            .any(|e| e.contains("previous log") && e.contains("UnknownHostException"))
    );
    // The table: one line per pod and the names it could not resolve, no log line.
    assert!(!table.contains("UnknownHostException"), "{table}");
    let pod = "bk-elastic-elasticsearch-data-0";
    let lines: Vec<_> = table.lines().filter(|l| l.contains(pod)).collect();
    assert_eq!(
        lines,
        [format!(
            "  - pod {pod} (elasticsearch) could not resolve bk-elastic-elasticsearch-master.blueking.svc.cluster.local"
        )],
        "{table}"
    );
}

// ---- no fix undoes itself ----

/// Words of a command as a shell splits them (quotes removed), one list per `&&`/`;` part.
fn shell_parts(cmd: &str) -> Vec<Vec<String>> {
    let cmd = match cmd.find("  #") {
        Some(i) => &cmd[..i],
        None => cmd,
    };
    let mut parts = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    let mut chars = cmd.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, ' ') => {
                if in_word {
                    parts.last_mut().unwrap().push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, ';') | (None, '&') => {
                if c == '&' && chars.peek() == Some(&'&') {
                    chars.next();
                }
                if in_word {
                    parts.last_mut().unwrap().push(std::mem::take(&mut word));
                    in_word = false;
                }
                parts.push(Vec::new());
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        parts.last_mut().unwrap().push(word);
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// What a command sets: (what it acts on, which setting, the value). Commands that only read set
/// nothing. The same target and setting with another value later in the same fix undoes it.
fn sets(cmd: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for words in shell_parts(cmd) {
        let flag = |names: &[&str]| -> Option<String> {
            words.iter().enumerate().find_map(|(i, w)| {
                names.iter().find_map(|n| {
                    if w == n {
                        words.get(i + 1).cloned()
                    } else {
                        w.strip_prefix(&format!("{n}=")).map(str::to_string)
                    }
                })
            })
        };
        let ns = flag(&["-n", "--namespace"]).unwrap_or_default();
        // Positional words after the verb, flags and their values left out.
        let takes_value = [
            "-n",
            "--namespace",
            "-p",
            "--patch",
            "--type",
            "-l",
            "--selector",
            "-f",
            "-o",
            "--set",
        ];
        let mut positional = Vec::new();
        let mut skip = false;
        for w in words.iter().skip(1) {
            if skip {
                skip = false;
            } else if takes_value.contains(&w.as_str()) {
                skip = true;
            } else if !w.starts_with('-') {
                positional.push(w.clone());
            }
        }
        let selector = flag(&["-l", "--selector"]).unwrap_or_default();
        let object = |from: usize| -> String {
            let rest = positional.get(from..).unwrap_or_default().join("/");
            format!("{rest} -n {ns} -l {selector}")
        };
        let mut set = |target: String, key: &str, value: String| {
            out.push((target, key.to_string(), value));
        };
        let verb = positional.first().map(String::as_str).unwrap_or("");
        match (words[0].as_str(), verb) {
            ("kubectl", "patch") => {
                let target = format!("kubectl {}", object(1));
                let patch: Value =
                    serde_json::from_str(&flag(&["-p", "--patch"]).unwrap_or_default())
                        .unwrap_or(Value::Null);
                let mut leaves = Vec::new();
                flatten(&patch, String::new(), &mut leaves);
                for (k, v) in leaves {
                    set(target.clone(), &k, v);
                }
            }
            ("kubectl", "create" | "apply" | "run" | "expose") => {
                set(format!("kubectl {}", object(1)), "exists", "yes".into())
            }
            ("kubectl", "delete") => set(format!("kubectl {}", object(1)), "exists", "no".into()),
            ("kubectl", "label" | "annotate") => {
                let target = format!("kubectl {verb} {}", object_without_pairs(&positional, &ns));
                for kv in positional.iter().skip(2) {
                    if let Some((k, v)) = kv.split_once('=') {
                        set(target.clone(), k, v.into());
                    } else if let Some(k) = kv.strip_suffix('-') {
                        set(target.clone(), k, String::new());
                    }
                }
            }
            ("kubectl", "scale") => set(
                format!("kubectl {}", object(1)),
                "replicas",
                flag(&["--replicas"]).unwrap_or_default(),
            ),
            ("kubectl", "cordon" | "uncordon") => set(
                format!("node {}", positional.get(1).cloned().unwrap_or_default()),
                "schedulable",
                (verb == "uncordon").to_string(),
            ),
            ("helm", "install" | "upgrade") => {
                let target = format!(
                    "helm {} -n {ns}",
                    positional.get(1).cloned().unwrap_or_default()
                );
                set(target.clone(), "installed", "yes".into());
                for kv in words
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| *w == "--set")
                    .filter_map(|(i, _)| words.get(i + 1))
                {
                    if let Some((k, v)) = kv.split_once('=') {
                        set(target.clone(), k, v.into());
                    }
                }
            }
            ("helm", "uninstall" | "delete") => set(
                format!(
                    "helm {} -n {ns}",
                    positional.get(1).cloned().unwrap_or_default()
                ),
                "installed",
                "no".into(),
            ),
            ("helm", "rollback") => set(
                format!(
                    "helm {} -n {ns}",
                    positional.get(1).cloned().unwrap_or_default()
                ),
                "revision",
                positional.get(2).cloned().unwrap_or_default(),
            ),
            ("sysctl", _) => {
                for kv in positional.iter() {
                    if let Some((k, v)) = kv.split_once('=') {
                        set("sysctl".into(), k, v.into());
                    }
                }
            }
            (
                "systemctl",
                "enable" | "disable" | "start" | "stop" | "restart" | "mask" | "unmask",
            ) => {
                let now = words.iter().any(|w| w == "--now");
                for unit in positional.iter().skip(1) {
                    let t = format!("unit {unit}");
                    match verb {
                        "enable" | "unmask" => {
                            set(t.clone(), "enabled", "yes".into());
                            if now {
                                set(t, "running", "yes".into());
                            }
                        }
                        "disable" | "mask" => {
                            set(t.clone(), "enabled", "no".into());
                            if now {
                                set(t, "running", "no".into());
                            }
                        }
                        "stop" => set(t, "running", "no".into()),
                        _ => set(t, "running", "yes".into()),
                    }
                }
            }
            ("timedatectl", "set-ntp") => set(
                "timedatectl".into(),
                "ntp",
                positional.get(1).cloned().unwrap_or_default(),
            ),
            _ => {}
        }
    }
    out
}

/// `kubectl label pod NAME k=v`: the object is the words before the first `k=v`.
fn object_without_pairs(positional: &[String], ns: &str) -> String {
    let obj: Vec<&str> = positional
        .iter()
        .skip(1)
        .take_while(|w| !w.contains('=') && !w.ends_with('-'))
        .map(String::as_str)
        .collect();
    format!("{} -n {ns}", obj.join("/"))
}

/// A JSON merge patch as `path = value` leaves; `null` (remove the key) is a value of its own.
fn flatten(v: &Value, path: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                flatten(v, format!("{path}.{k}"), out);
            }
        }
        other => out.push((path, other.to_string())),
    }
}

/// The first command of `remediation` (its non-`#` lines, in order) that undoes an earlier one.
fn undoing(remediation: &[String]) -> Option<(String, String)> {
    let mut seen: Vec<(String, String, String, String)> = Vec::new();
    for cmd in remediation.iter().filter(|r| !r.starts_with('#')) {
        for (target, key, value) in sets(cmd) {
            if let Some((_, _, _, earlier)) = seen
                .iter()
                .find(|(t, k, v, _)| *t == target && *k == key && *v != value)
            {
                return Some((earlier.clone(), cmd.clone()));
            }
            seen.push((target, key, value, cmd.clone()));
        }
    }
    None
}

#[test]
fn the_undo_check_catches_a_fix_that_undoes_itself() {
    let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let snippet = r#"kubectl patch configmap -n ingress-nginx ingress-nginx-controller --type merge -p '{"data":{"allow-snippet-annotations":"true"}}'"#;
    let restore = r#"kubectl patch configmap -n ingress-nginx ingress-nginx-controller --type merge -p '{"data":{"allow-snippet-annotations":null}}'"#;
    assert!(undoing(&lines(&[snippet, "# then deploy", restore])).is_some());
    // Quoted for later, it is not run with the rest.
    assert!(undoing(&lines(&[snippet, &format!("#   {restore}")])).is_none());
    // Another key, another object: no undo.
    let other_key = restore.replace("allow-snippet-annotations", "annotations-risk-level");
    assert!(undoing(&lines(&[snippet, &other_key])).is_none());
    let other_cm = restore.replace("-n ingress-nginx", "-n other");
    assert!(undoing(&lines(&[snippet, &other_cm])).is_none());
    for pair in [
        [
            "kubectl create configmap -n ingress-nginx ingress-nginx-controller --from-literal=allow-snippet-annotations=true",
            "kubectl delete configmap -n ingress-nginx ingress-nginx-controller",
        ],
        [
            "helm rollback -n blueking bk-paas 2",
            "helm rollback -n blueking bk-paas 1",
        ],
        [
            "sysctl -w net.ipv6.conf.all.disable_ipv6=0",
            "sysctl -w net.ipv6.conf.all.disable_ipv6=1",
        ],
        ["timedatectl set-ntp true", "timedatectl set-ntp false"],
        [
            "systemctl enable --now chronyd && chronyc makestep",
            "systemctl stop chronyd",
        ],
        ["kubectl cordon node-1", "kubectl uncordon node-1"],
        [
            "kubectl label node node-1 bk=yes",
            "kubectl label node node-1 bk-",
        ],
        [
            "helm upgrade -n blueking bk-paas chart --set a=1",
            "helm upgrade -n blueking bk-paas chart --set a=2",
        ],
    ] {
        assert!(undoing(&lines(&pair)).is_some(), "{pair:?}");
        assert!(undoing(&lines(&[pair[0], pair[0]])).is_none(), "{pair:?}");
    }
}

#[test]
fn no_fix_of_any_fixture_undoes_an_earlier_command() {
    let dirs = snapshots();
    let mut commands = 0;
    for dir in &dirs {
        let v = json(&args(&["check", "--snapshot", dir.to_str().unwrap()]));
        for f in v["findings"].as_array().unwrap() {
            let rem = strs(&f["remediation"]);
            commands += rem.iter().filter(|r| !r.starts_with('#')).count();
            if let Some((earlier, later)) = undoing(&rem) {
                panic!(
                    "{}: {} in {}: `{later}` undoes `{earlier}`",
                    Path::new(dir).display(),
                    f["rule"],
                    f["object"]
                );
            }
        }
    }
    assert!(commands > 50, "{commands} commands looked at");
}

#[test]
fn release_shows_its_pods_under_its_history_and_json_is_unchanged() {
    let case = args(&[
        "release",
        "bk-repo",
        "--snapshot",
        "tests/fixtures/release-failed",
    ]);
    let table = in_pipe(&case, &[("COLUMNS", "120")]);
    let pod = table
        .lines()
        .find(|l| l.starts_with("bk-repo-bkrepo-gateway-7d9c8b6f5-h4x8q "))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = pod.split_whitespace().collect();
    assert_eq!(
        cells[1..],
        ["0/1", "CrashLoopBackOff", "7", "node-2"],
        "{table}"
    );
    let history = table.find("Install complete").unwrap();
    let pods = table.find(pod).unwrap();
    let findings = table.find("Findings:").unwrap();
    assert!(history < pods && pods < findings, "{table}");
    let v = json(&case);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "findings",
            "name",
            "namespace",
            "revisions",
            "skipped",
            "workloads"
        ]
    );
}
