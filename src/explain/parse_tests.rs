//! The parser's tests: real helm, helmfile and one-click script output, line by line.

use super::*;

fn run(text: &str) -> Scan {
    scan(&mut text.as_bytes(), &Catalog::builtin()).unwrap()
}

fn summary(s: &Scan) -> Vec<(usize, &str, Option<&str>, Option<&str>)> {
    s.errors
        .iter()
        .map(|e| {
            (
                e.line_number,
                e.line.as_str(),
                e.release.as_deref(),
                e.rule.as_deref(),
            )
        })
        .collect()
}

#[test]
fn the_seed_blocks_give_one_error_with_its_release() {
    let s = run(concat!(
        "STDERR:\n",
        "  Error: timed out waiting for the condition\n",
        "\n",
        "COMBINED OUTPUT:\n",
        "  Release \"bk-elastic\" does not exist. Installing it now.\n",
        "  Error: timed out waiting for the condition\n",
    ));
    assert_eq!(
        summary(&s),
        [(
            2,
            "Error: timed out waiting for the condition",
            Some("bk-elastic"),
            Some("deploy-timed-out")
        )]
    );
}

#[test]
fn error_alone_on_its_line_takes_the_next() {
    let s = run("Error:\n  UPGRADE FAILED: \"bk-paas\" has no deployed releases\n");
    assert_eq!(
        summary(&s),
        [(
            2,
            "UPGRADE FAILED: \"bk-paas\" has no deployed releases",
            Some("bk-paas"),
            Some("helm-no-deployed-release")
        )]
    );
}

#[test]
fn helmfile_names_the_release_and_its_args_are_never_read() {
    let s = run(concat!(
        "Upgrading release=bk-repo, chart=blueking/bkrepo\n",
        "\n",
        "FAILED RELEASES:\n",
        "NAME\n",
        "bk-repo\n",
        "in ./base-blueking.yaml.gotmpl: failed processing release bk-repo: command \"/usr/local/bin/helm\" exited with non-zero status:\n",
        "\n",
        "PATH:\n",
        "  /usr/local/bin/helm\n",
        "\n",
        "ARGS:\n",
        "  0: helm (4 bytes)\n",
        "  1: Error: timed out waiting for the condition --set password=hunter2 (70 bytes)\n",
        "\n",
        "ERROR:\n",
        "  exit status 1\n",
        "\n",
        "EXIT STATUS\n",
        "  1\n",
        "\n",
        "STDERR:\n",
        "  Error: UPGRADE FAILED: release bk-repo failed, and has been rolled back due to atomic being set: timed out waiting for the condition\n",
    ));
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    assert_eq!(s.errors[0].line_number, 22);
    assert_eq!(s.errors[0].release.as_deref(), Some("bk-repo"));
    assert_eq!(s.errors[0].rule.as_deref(), Some("deploy-timed-out"));
}

#[test]
fn colour_crlf_and_timestamps_are_ignored() {
    let s = run(concat!(
        "2026-11-20T08:55:00.123Z \u{1b}[0;33mRelease \"bk-apigateway\" does not exist. Installing it now.\u{1b}[0m\r\n",
        "2026-11-20T08:55:03.001Z \u{1b}[31mError: admission webhook \"validate.nginx.ingress.kubernetes.io\" denied the request: nginx.ingress.kubernetes.io/configuration-snippet annotation cannot be used. Snippet directives are disabled by the Ingress administrator\u{1b}[0m\r\n",
    ));
    assert_eq!(s.errors.len(), 1);
    let e = &s.errors[0];
    assert_eq!(e.release.as_deref(), Some("bk-apigateway"));
    assert_eq!(e.rule.as_deref(), Some("ingress-snippet-disabled"));
    assert!(e.line.starts_with("Error: admission webhook"), "{}", e.line);
    assert!(!e.line.contains('\u{1b}') && !e.line.contains('\r'));
}

#[test]
fn parallel_upgrades_name_no_release_but_the_failed_table_does() {
    let s = run(concat!(
        "Upgrading release=bk-mysql, chart=blueking/mysql\n",
        "Upgrading release=bk-redis-cluster, chart=blueking/redis-cluster\n",
        "Error: timed out waiting for the condition\n",
        "\n",
        "FAILED RELEASES:\n",
        "NAME               NAMESPACE   CHART                     VERSION   DURATION\n",
        "bk-redis-cluster   blueking    blueking/redis-cluster    7.4.6        10m0s\n",
        "\n",
    ));
    assert_eq!(
        summary(&s),
        [(
            3,
            "Error: timed out waiting for the condition",
            Some("bk-redis-cluster"),
            Some("deploy-timed-out")
        )]
    );
}

#[test]
fn older_helmfile_numbers_its_errors() {
    let s = run(concat!(
        "in ./base-blueking.yaml.gotmpl: 2 errors:\n",
        "err 0: failed processing release bk-iam: helm exited with status 1:\n",
        "  Error: UPGRADE FAILED: \"bk-iam\" has no deployed releases\n",
        "err 1: failed processing release bk-ssm: helm exited with status 1:\n",
        "  Error: timed out waiting for the condition\n",
    ));
    assert_eq!(
        summary(&s),
        [
            (
                3,
                "Error: UPGRADE FAILED: \"bk-iam\" has no deployed releases",
                Some("bk-iam"),
                Some("helm-no-deployed-release")
            ),
            (
                5,
                "Error: timed out waiting for the condition",
                Some("bk-ssm"),
                Some("deploy-timed-out")
            ),
        ]
    );
}

#[test]
fn a_later_success_ends_an_earlier_error() {
    let s = run(concat!(
        "Release \"bk-paas\" does not exist. Installing it now.\n",
        "Error: timed out waiting for the condition\n",
        "Release \"bk-paas\" has been upgraded. Happy Helming!\n",
    ));
    assert!(s.errors.is_empty(), "{:?}", s.errors);
}

#[test]
fn unknown_errors_are_kept_without_a_rule() {
    let s = run("Error: UPGRADE FAILED: the frobnicator of \"bk-job\" is out of phase\n");
    assert_eq!(s.errors.len(), 1);
    assert_eq!(s.errors[0].rule, None);
    assert_eq!(s.errors[0].release, None);
}

#[test]
fn long_lines_are_cut_and_many_errors_keep_the_newest() {
    let mut text = "x".repeat(MAX_LINE_BYTES * 3);
    text.push('\n');
    for i in 0..(MAX_ERRORS + 5) {
        text.push_str(&format!("Error: UPGRADE FAILED: failure number {i}\n"));
    }
    let s = run(&text);
    assert_eq!(s.cut_lines, 1);
    assert_eq!(s.errors.len(), MAX_ERRORS);
    assert_eq!(s.dropped, 5);
    assert!(
        s.errors
            .last()
            .unwrap()
            .line
            .ends_with(&format!("{}", MAX_ERRORS + 4))
    );
}

#[test]
fn helm_debug_repeats_the_error_once_and_its_progress_lines_are_not_errors() {
    let s = run(concat!(
        "upgrade.go:150: [debug] preparing upgrade for bk-cmdb\n",
        "install.go:442: [debug] failed pre-install: job bk-cmdb-migrate-db failed: BackoffLimitExceeded\n",
        "Error: INSTALLATION FAILED: failed pre-install: job bk-cmdb-migrate-db failed: BackoffLimitExceeded\n",
        "helm.go:86: [debug] failed pre-install: job bk-cmdb-migrate-db failed: BackoffLimitExceeded\n",
        "main.newInstallCmd.func2\n",
        "\thelm.sh/helm/v3/cmd/helm/install.go:158\n",
    ));
    assert_eq!(
        summary(&s),
        [(
            3,
            "Error: INSTALLATION FAILED: failed pre-install: job bk-cmdb-migrate-db failed: BackoffLimitExceeded",
            None,
            Some("helm-hook-failed")
        )]
    );
}

#[test]
fn the_deployer_and_helmfile_name_errors_in_their_own_words() {
    let s = run(concat!(
        "[2026-11-20 10:43:12] DeployError: 部署失败, Pre-Release-Hook failed, please check logs for more details❌\n",
        "\n",
        "in ./base-blueking.yaml.gotmpl: 2 errors:\n",
        "in ./environments/default/custom.yaml: yaml: line 3: mapping values are not allowed in this context\n",
    ));
    assert_eq!(
        summary(&s),
        [
            (
                1,
                "DeployError: 部署失败, Pre-Release-Hook failed, please check logs for more details❌",
                None,
                Some("saas-pre-release-hook-failed")
            ),
            (
                4,
                "in ./environments/default/custom.yaml: yaml: line 3: mapping values are not allowed in this context",
                None,
                None
            ),
        ]
    );
}

#[test]
fn a_failed_release_whose_helm_output_is_cut_off_is_still_an_error() {
    let s = run(concat!(
        "in ./base-blueking.yaml.gotmpl: failed processing release bk-ssm: command \"/usr/local/bin/helm\" exited with non-zero status:\n",
        "\n",
        "ERROR:\n",
        "  exit status 1\n",
    ));
    assert_eq!(summary(&s), [(1, "bk-ssm", Some("bk-ssm"), None)]);
}
