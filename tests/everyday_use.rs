//! Everyday use of the binary: output formats, colour, completions, help, version, language.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use common::BIN;

const STUCK: &str = "tests/fixtures/pending-upgrade";
const HEALTHY: &str = "tests/fixtures/healthy";
const ROLLBACK: &str = "helm rollback -n blueking bk-paas 2";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with a clean, English environment; `env` adds to it.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(root())
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("NO_COLOR")
        .env_remove("HELM_PLUGIN_NAME");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run kubectl-bkdoctor")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

fn stdout_ok(o: &Output) -> String {
    assert!(
        o.status.code().is_some_and(|c| c < 2),
        "{:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(o)
}

/// The same command under a pseudo-terminal (util-linux `script`), as a person at a terminal runs it.
fn run_on_terminal(args: &str, env: &[(&str, &str)]) -> String {
    let mut c = Command::new("script");
    c.args(["-qec", &format!("{BIN} {args}"), "/dev/null"])
        .current_dir(root())
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c
        .output()
        .expect("util-linux `script` runs the binary on a pty");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn yaml_is_the_json_document_with_the_same_field_names() {
    for args in [
        &["check", "--snapshot", STUCK][..],
        &["check", "--snapshot", HEALTHY, "-n", "blueking"],
        &["release", "bk-paas", "--snapshot", STUCK],
    ] {
        let json: Value =
            serde_json::from_str(&stdout_ok(&run(&[args, &["-o", "json"]].concat(), &[]))).unwrap();
        let yaml_text = stdout_ok(&run(&[args, &["-o", "yaml"]].concat(), &[]));
        let yaml: Value = serde_yaml_ng::from_str(&yaml_text).unwrap();
        assert_eq!(yaml, json, "{args:?}:\n{yaml_text}");
    }
    let yaml: Value = serde_yaml_ng::from_str(&stdout(&run(
        &["check", "--snapshot", STUCK, "-o", "yaml"],
        &[],
    )))
    .unwrap();
    let f = &yaml["findings"][0];
    for field in [
        "rule",
        "severity",
        "namespace",
        "object",
        "title",
        "evidence",
        "remediation",
    ] {
        assert!(f.get(field).is_some(), "finding has no {field}: {f}");
    }
    assert!(yaml["summary"].is_object() && yaml["skipped"].is_array());
}

#[test]
fn markdown_is_a_ticket_report_with_fenced_commands() {
    let md = stdout(&run(&["check", "--snapshot", STUCK, "-o", "markdown"], &[]));
    assert!(md.starts_with("## kubectl-bkdoctor report\n"), "{md}");
    assert!(
        md.contains(env!("CARGO_PKG_VERSION")),
        "names the build:\n{md}"
    );
    assert!(md.contains("`helm-operation-in-progress`"), "{md}");
    assert!(
        md.contains("- revision 3 has been pending-upgrade since"),
        "evidence is listed:\n{md}"
    );
    let fence = format!("```sh\nhelm history -n blueking bk-paas\n{ROLLBACK}\n");
    assert!(md.contains(&fence), "commands in a fenced block:\n{md}");
    assert_eq!(
        md.matches("```").count() % 2,
        0,
        "every fence is closed:\n{md}"
    );

    let zh = stdout(&run(
        &[
            "check",
            "--snapshot",
            STUCK,
            "-o",
            "markdown",
            "--lang",
            "zh",
        ],
        &[],
    ));
    assert!(zh.starts_with("## kubectl-bkdoctor 诊断报告\n"), "{zh}");
    assert!(zh.contains("处理方法"), "{zh}");
    assert!(
        zh.contains(&format!("{ROLLBACK}\n")),
        "commands are not translated"
    );

    let rel = stdout(&run(
        &["release", "bk-paas", "--snapshot", STUCK, "-o", "markdown"],
        &[],
    ));
    assert!(
        rel.contains("| 3 | pending-upgrade | bk-paas-1.5.0 |"),
        "revision history as a table:\n{rel}"
    );
    assert!(rel.contains(&format!("{ROLLBACK}\n")), "{rel}");

    let healthy = stdout(&run(
        &["check", "--snapshot", HEALTHY, "-o", "markdown"],
        &[],
    ));
    assert!(healthy.contains("No known issue found."), "{healthy}");
}

#[test]
fn exit_status_is_the_same_in_every_format() {
    for format in ["table", "json", "yaml", "markdown", "html"] {
        let stuck = run(&["check", "--snapshot", STUCK, "-o", format], &[]);
        assert_eq!(stuck.status.code(), Some(1), "{format}");
        let healthy = run(&["check", "--snapshot", HEALTHY, "-o", format], &[]);
        assert_eq!(healthy.status.code(), Some(0), "{format}");
    }
    assert_eq!(
        run(&["check", "--snapshot", STUCK, "-o", "xml"], &[])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn no_colour_unless_stdout_is_a_terminal() {
    for format in ["table", "json", "yaml", "markdown"] {
        let out = stdout(&run(&["check", "--snapshot", STUCK, "-o", format], &[]));
        assert!(
            !out.contains('\u{1b}'),
            "{format} in a pipe has escapes:\n{out}"
        );
    }
}

#[test]
fn colour_on_a_terminal_only_on_the_severity_and_opt_outs_work() {
    let args = format!("check --snapshot {STUCK}");
    let tty = run_on_terminal(&args, &[]);
    assert!(tty.contains(ROLLBACK), "the pty run worked:\n{tty}");
    assert!(tty.contains("\u{1b}["), "a terminal gets colour:\n{tty}");
    let fix_line = tty.lines().find(|l| l.contains(ROLLBACK)).unwrap();
    assert!(
        !fix_line.contains('\u{1b}'),
        "commands stay plain: {fix_line:?}"
    );

    let no_color_env = run_on_terminal(&args, &[("NO_COLOR", "1")]);
    assert!(no_color_env.contains(ROLLBACK), "{no_color_env}");
    assert!(
        !no_color_env.contains('\u{1b}'),
        "NO_COLOR:\n{no_color_env}"
    );

    let flag = run_on_terminal(&format!("{args} --no-color"), &[]);
    assert!(flag.contains(ROLLBACK), "{flag}");
    assert!(!flag.contains('\u{1b}'), "--no-color:\n{flag}");
}

#[test]
fn completions_for_each_shell_know_the_subcommands() {
    // PowerShell's generator completes flags but not their values, so it is not asked for `markdown`.
    let shells = [
        ("bash", "complete -F", true),
        ("zsh", "#compdef kubectl-bkdoctor", true),
        ("fish", "complete -c kubectl-bkdoctor", true),
        ("powershell", "Register-ArgumentCompleter", false),
    ];
    for (shell, marker, completes_values) in shells {
        let o = run(&["completion", shell], &[]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = stdout(&o);
        assert!(script.contains(marker), "{shell}:\n{script}");
        for word in ["check", "release", "completion", "snapshot", "no-color"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        if completes_values {
            assert!(
                script.contains("markdown"),
                "{shell} does not offer -o markdown"
            );
        }
    }
    // The bash script is valid bash.
    let bash = stdout(&run(&["completion", "bash"], &[]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.bash");
    std::fs::write(&file, bash).unwrap();
    let o = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    assert_eq!(run(&["completion", "tcsh"], &[]).status.code(), Some(2));
}

#[test]
fn version_names_the_commit_and_the_target() {
    let out = stdout(&run(&["--version"], &[]));
    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let arch = std::env::consts::ARCH;
    let os = std::env::consts::OS;
    assert!(
        out.starts_with(&format!(
            "kubectl-bkdoctor {} (commit {git}, {arch}-",
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
    assert!(out.contains(os), "{out}");
}

#[test]
fn every_subcommand_help_has_a_kubectl_style_example() {
    for sub in ["check", "release", "completion"] {
        let help = stdout(&run(&[sub, "--help"], &[]));
        assert!(help.contains("Examples:"), "{sub}:\n{help}");
        assert!(
            help.contains(&format!("kubectl bkdoctor {sub} ")),
            "{sub}:\n{help}"
        );
    }
    let top = stdout(&run(&["--help"], &[]));
    assert!(top.contains("kubectl bkdoctor check"), "{top}");
}

#[test]
fn under_helm_help_says_helm_bkdoctor() {
    let help = stdout(&run(
        &["release", "--help"],
        &[("HELM_PLUGIN_NAME", "bkdoctor")],
    ));
    assert!(help.contains("Usage: helm bkdoctor release"), "{help}");
    assert!(help.contains("helm bkdoctor release bk-paas"), "{help}");
    assert!(!help.contains("kubectl bkdoctor"), "{help}");
    let err = run(&["chekc"], &[("HELM_PLUGIN_NAME", "bkdoctor")]);
    assert_eq!(err.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&err.stderr).contains("helm bkdoctor"));
}

#[test]
fn language_follows_the_locale_unless_lang_is_given() {
    let table = |env: &[(&str, &str)], extra: &[&str]| {
        stdout(&run(
            &[&["check", "--snapshot", STUCK][..], extra].concat(),
            env,
        ))
    };
    assert!(table(&[("LANG", "zh_CN.UTF-8")], &[]).contains("处理"));
    assert!(table(&[("LANG", "zh_CN.UTF-8")], &["--lang", "en"]).contains("Fix"));
    assert!(table(&[], &[]).contains("Fix"));
    assert!(table(&[], &["--lang", "zh"]).contains("处理"));
    // Every format speaks the chosen language; the contract fields of json/yaml do not change.
    let json = stdout(&run(
        &["check", "--snapshot", STUCK, "-o", "json", "--lang", "zh"],
        &[],
    ));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert!(v["findings"][0]["title"].as_str().unwrap().contains("卡在"));
    assert_eq!(v["findings"][0]["severity"], "error");
}
