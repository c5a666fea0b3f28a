//! `explain` knows helm's client error vocabulary (helm 3.12 to 3.18), the API server's refusals,
//! helmfile's and BlueKing's deployer's errors: the real binary reads each in the form the tools
//! print it (helmfile's blocks, helm --debug, kubectl, CRLF, colour) from
//! tests/fixtures/explain/vocabulary/, and the snapshot explain-vocabulary answers what the cluster
//! can tell.

mod common;

use serde_json::Value;

use fake_apiserver::FakeApi;

use common::{Run, fixture, run, serve};

fn explain(log: &str, extra: &[&str]) -> Run {
    let log = fixture("explain").join("vocabulary").join(log);
    let snap = fixture("explain-vocabulary");
    let mut args = vec![
        "explain",
        log.to_str().unwrap(),
        "--snapshot",
        snap.to_str().unwrap(),
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// (input, entry, release, a command of the fix, a sentence of the explanation or cluster note).
const CLASSES: &[(&str, &str, Option<&str>, &str, &str)] = &[
    (
        "resource-exists-3.12.log",
        "helm-resource-exists",
        Some("bk-paas"),
        "kubectl annotate Service bk-paas-mysql -n blueking meta.helm.sh/release-name=bk-paas meta.helm.sh/release-namespace=blueking --overwrite",
        "Service bk-paas-mysql now belongs to release bk-mysql (namespace blueking), managed-by Helm",
    ),
    (
        "resource-exists-3.18.log",
        "helm-resource-exists",
        Some("bk-paas"),
        "kubectl label ConfigMap bk-paas-settings -n blueking app.kubernetes.io/managed-by=Helm --overwrite",
        "ConfigMap bk-paas-settings has no helm owner annotations",
    ),
    (
        "immutable-job.log",
        "helm-field-immutable",
        None,
        "# kubectl delete Job bk-cmdb-bootstrap -n NAMESPACE",
        "a Job's template",
    ),
    (
        "statefulset-forbidden.log",
        "helm-statefulset-spec-forbidden",
        Some("bk-mysql"),
        "kubectl delete statefulset bk-mysql-mysql -n blueking --cascade=orphan",
        "--cascade=orphan",
    ),
    (
        "service-clusterip.log",
        "helm-field-immutable",
        None,
        "# kubectl delete Service bk-redis-headless -n NAMESPACE",
        "a Service's clusterIP",
    ),
    (
        "pvc-immutable.log",
        "helm-pvc-spec-immutable",
        None,
        "# kubectl get pvc data-bk-mongodb-0 -n NAMESPACE -o yaml",
        "deleting the claim deletes its data",
    ),
    (
        "hook-failed-3.12.log",
        "helm-hook-failed",
        Some("bk-cmdb"),
        "kubectl logs -n blueking job/bk-cmdb-migrate-db --all-containers",
        "hook job bk-cmdb-migrate-db: Failed: BackoffLimitExceeded",
    ),
    (
        "hook-failed-3.18-debug.log",
        "helm-hook-failed",
        None,
        "# kubectl logs -n NAMESPACE job/bk-cmdb-migrate-db --all-containers",
        "hook job bk-cmdb-migrate-db: Failed: BackoffLimitExceeded",
    ),
    (
        "hook-timed-out.log",
        "helm-hook-timed-out",
        Some("bk-job"),
        "kubectl describe job -n blueking bk-job-migrate-db",
        "pod bk-job-migrate-db-q7m2x: Pending, not ready: ImagePullBackOff",
    ),
    (
        "hook-timed-out-rate-limiter.log",
        "helm-hook-timed-out",
        Some("bk-job"),
        "kubectl get jobs,pods -n blueking -l app.kubernetes.io/instance=bk-job",
        "hook job bk-job-migrate-db: 1 active, 0 failed",
    ),
    (
        "webhook-deadline.log",
        "admission-webhook-unreachable",
        Some("bk-apigateway"),
        "kubectl get endpoints -n ingress-nginx ingress-nginx-controller-admission",
        "Service ingress-nginx/ingress-nginx-controller-admission: 0 of 1 pod(s) it selects are ready",
    ),
    (
        "webhook-no-endpoints-kubectl.log",
        "admission-webhook-unreachable",
        None,
        "kubectl get endpoints -n ingress-nginx ingress-nginx-controller-admission",
        "webhook-unavailable",
    ),
    (
        "webhook-x509.log",
        "admission-webhook-unreachable",
        None,
        "kubectl get pods -n ingress-nginx -o wide",
        "x509",
    ),
    (
        "webhook-refused.log",
        "admission-webhook-unreachable",
        Some("bk-ingress-nginx"),
        "kubectl get endpoints -n blueking bk-ingress-nginx-controller-admission",
        "Service blueking/bk-ingress-nginx-controller-admission is not in the cluster data",
    ),
    (
        "parse-error.log",
        "chart-render-failed",
        None,
        "# read bk-monitor/templates/_helpers.tpl around line 42 in the chart",
        "bk-monitor/templates/_helpers.tpl line 42",
    ),
    (
        "download.log",
        "chart-not-found",
        None,
        "helm search repo blueking/bk-paas --versions",
        "helm repo update",
    ),
    (
        "webhook-denied.log",
        "admission-webhook-denied",
        None,
        "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o custom-columns=NAME:.metadata.name,WEBHOOKS:.webhooks[*].name | grep -F validation.gatekeeper.sh",
        "The webhook answered and said no",
    ),
    (
        "name-in-use.log",
        "helm-name-in-use",
        Some("bk-iam"),
        "helm uninstall -n blueking bk-iam",
        "release bk-iam in namespace blueking: revision 1 is failed",
    ),
    (
        "crd-other-version.log",
        "crd-kind-missing",
        Some("bk-apigateway"),
        "kubectl api-resources | grep -iw Certificate",
        "CRD certificates.cert-manager.io is in the cluster and serves cert-manager.io/v1; the chart asks for cert-manager.io/v1alpha2",
    ),
    (
        "crd-podmonitor.log",
        "crd-kind-missing",
        None,
        "kubectl api-resources | grep -iw PodMonitor",
        "kind PodMonitor is provided by 04-bkmonitor-operator.yaml.gotmpl (bkmonitor-operator): deploy it first",
    ),
    (
        "removed-api.log",
        "helm-removed-api",
        None,
        "# helm mapkubeapis RELEASE --namespace NAMESPACE",
        "This is not a missing CRD",
    ),
    (
        "nil-pointer.log",
        "chart-render-failed",
        Some("bk-paas"),
        "helm get values -n blueking bk-paas",
        "bk-paas/templates/apiserver/deployment.yaml line 56",
    ),
    (
        "yaml-parse.log",
        "chart-render-failed",
        None,
        "# read bk-cmdb/templates/configmap.yaml around line 12 in the chart",
        "YAML parse error",
    ),
    (
        "execution-error.log",
        "chart-render-failed",
        Some("bk-job"),
        "# read bk-job/templates/secret.yaml around line 9 in the chart",
        "execution error",
    ),
    (
        "schema.log",
        "chart-values-schema",
        None,
        "# helm get values -n NAMESPACE RELEASE",
        "values.schema.json",
    ),
    (
        "repo-unreachable.log",
        "chart-repo-unreachable",
        None,
        "curl -sSI https://hub.bktencent.com/chartrepo/blueking/index.yaml",
        "index.yaml",
    ),
    (
        "chart-not-found.log",
        "chart-not-found",
        None,
        "helm search repo bk-paas --versions",
        "helm repo update",
    ),
    (
        "repo-not-found.log",
        "chart-not-found",
        None,
        "helm repo add blueking https://hub.bktencent.com/chartrepo/blueking",
        "helm repo add",
    ),
    (
        "cluster-unreachable.log",
        "cluster-unreachable",
        None,
        "kubectl cluster-info",
        "Nothing was deployed",
    ),
    (
        "cluster-x509.log",
        "cluster-unreachable",
        None,
        "kubectl config current-context",
        "x509",
    ),
    (
        "forbidden.log",
        "rbac-forbidden",
        None,
        "kubectl auth can-i create roles -n blueking",
        "cluster-admin",
    ),
    (
        "quota.log",
        "quota-exceeded",
        None,
        "# kubectl describe resourcequota blueking-quota -n NAMESPACE",
        "ResourceQuota",
    ),
    (
        "wait-deadline.log",
        "deploy-timed-out",
        None,
        "# kubectl get events -n NAMESPACE --sort-by=.lastTimestamp",
        "--wait",
    ),
    (
        "wait-rate-limiter.log",
        "deploy-timed-out",
        None,
        "# kubectl get events -n NAMESPACE --sort-by=.lastTimestamp",
        "--wait",
    ),
    (
        "helmfile-hook.log",
        "helmfile-hook-failed",
        Some("bk-paas"),
        "# run the command named in the error by hand in the bkhelmfile directory to see its output, fix it, then sync bk-paas again (helmfile --debug ... -l name=bk-paas sync)",
        "hooks:",
    ),
    (
        "saas-pre-release-hook.log",
        "saas-pre-release-hook-failed",
        None,
        "kubectl get pods -A --field-selector metadata.name=pre-release-hook",
        "saas-registry-unreachable",
    ),
    (
        "saas-provision-mysql.log",
        "saas-provision-mysql-failed",
        None,
        "rm -f environments/default/paas3_initial_cluster.yaml",
        "paas3_initial_cluster.yaml",
    ),
    (
        "saas-provision-redis.log",
        "saas-provision-redis-failed",
        None,
        "./scripts/setup_bkce7.sh -u redis",
        "pool",
    ),
    (
        "bkrepo-project.log",
        "bkrepo-project-missing",
        None,
        "grep -n bkrepo /etc/hosts",
        "/etc/hosts",
    ),
];

#[test]
fn every_class_is_answered_in_the_words_real_tools_print() {
    let mut failures = Vec::new();
    for (log, rule, release, command, said) in CLASSES {
        let r = explain(log, &[]);
        assert_eq!(r.code, 1, "{log}: {}", r.stderr);
        let v = r.json();
        let errors = v["errors"].as_array().unwrap();
        if errors.len() != 1 {
            failures.push(format!("{log}: {} errors: {errors:?}", errors.len()));
            continue;
        }
        let e = &errors[0];
        if e["rule"].as_str() != Some(rule) {
            failures.push(format!("{log}: rule {} not {rule}", e["rule"]));
        }
        if e["release"].as_str() != *release {
            failures.push(format!("{log}: release {} not {release:?}", e["release"]));
        }
        let fix = strings(&e["remediation"]);
        // A `#` step may go on after the words checked.
        let has = |l: &String| l == command || (command.starts_with('#') && l.starts_with(command));
        if !fix.iter().any(has) {
            failures.push(format!("{log}: no {command:?} in {fix:#?}"));
        }
        let text = format!("{} {}", e["title"], e["explanation"]);
        if !text.contains(said) {
            failures.push(format!("{log}: {said:?} not in {text}"));
        }
        for l in &fix {
            // Skipping hooks is never the fix, and no command is left with a name to fill in.
            assert!(!l.contains("--no-hooks"), "{log}: {l}");
            if !l.starts_with('#') {
                let unfilled = l.contains('{')
                    || l.split_whitespace()
                        .any(|w| ["RELEASE", "NAMESPACE", "KIND", "OBJECT"].contains(&w));
                assert!(!unfilled, "{log}: a command with a name to fill in: {l}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_timed_out_hook_a_webhook_deadline_and_pods_not_ready_are_told_apart() {
    let rule = |log: &str| explain(log, &[]).json()["errors"][0]["rule"].clone();
    assert_eq!(rule("hook-timed-out.log"), "helm-hook-timed-out");
    assert_eq!(
        rule("webhook-deadline.log"),
        "admission-webhook-unreachable"
    );
    assert_eq!(rule("wait-deadline.log"), "deploy-timed-out");
}

#[test]
fn helm_debug_output_is_one_error_shown_by_its_error_line() {
    let v = explain("hook-failed-3.18-debug.log", &[]).json();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["line"]
            .as_str()
            .unwrap()
            .starts_with("Error: INSTALLATION FAILED: failed pre-install"),
        "{}",
        errors[0]["line"]
    );
}

#[test]
fn every_form_of_an_error_line_exits_1() {
    let dir = std::env::temp_dir().join(format!("bkdoctor-forms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let forms = [
        "error: unable to recognize the frobnicator\n",
        "Error from server (NotFound): frobnicators.example.com \"x\" not found\n",
        "Internal error occurred: the frobnicator is out of phase\n",
        "DeployError: 部署失败, 未知原因❌\n",
        "[ERROR] 部署 bk-paas 失败\n",
        "helm.go:84: [debug] the frobnicator is out of phase\n",
        "in ./helmfile.yaml: the frobnicator is out of phase\n",
        "\u{1b}[31mError: the frobnicator is out of phase\u{1b}[0m\r\n",
    ];
    for (i, text) in forms.iter().enumerate() {
        let path = dir.join(format!("{i}.log"));
        std::fs::write(&path, text).unwrap();
        let r = run(&[
            "explain",
            path.to_str().unwrap(),
            "--no-cluster",
            "-o",
            "json",
        ]);
        assert_eq!(r.code, 1, "{text:?}: {}", r.stdout);
        assert_eq!(r.json()["errors"].as_array().unwrap().len(), 1, "{text:?}");
    }
    // A helmfile's numbered list heads its errors; it is not one itself.
    let path = dir.join("header.log");
    std::fs::write(&path, "in ./helmfile.yaml: 2 errors:\n").unwrap();
    let r = run(&["explain", path.to_str().unwrap(), "--no-cluster"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn names_of_the_text_fill_the_fix_without_the_cluster_and_nothing_else_of_it_is_repeated() {
    let log = fixture("explain")
        .join("vocabulary")
        .join("resource-exists-3.12.log");
    let r = run(&[
        "explain",
        log.to_str().unwrap(),
        "--no-cluster",
        "-o",
        "json",
    ]);
    let v = r.json();
    let fix = strings(&v["errors"][0]["remediation"]);
    assert!(
        fix.contains(&"kubectl label Service bk-paas-mysql -n blueking app.kubernetes.io/managed-by=Helm --overwrite".to_string()),
        "{fix:#?}"
    );
    // The webhook's reason (the chart's container name, its securityContext) stays in the line.
    let r = explain("webhook-denied.log", &[]);
    let v = r.json();
    let e = &v["errors"][0];
    for field in ["title", "explanation"] {
        assert!(!e[field].as_str().unwrap().contains("gse-agent"), "{field}");
    }
    assert!(
        strings(&e["remediation"])
            .iter()
            .all(|l| !l.contains("gse-agent"))
    );
    // A name of the wrong shape is never taken into a command.
    let dir = std::env::temp_dir().join(format!("bkdoctor-shape-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.log");
    std::fs::write(
        &path,
        "Error: UPGRADE FAILED: cannot patch \"x$(reboot)\" with kind Job: field is immutable\n",
    )
    .unwrap();
    let r = run(&[
        "explain",
        path.to_str().unwrap(),
        "--no-cluster",
        "-o",
        "json",
    ]);
    let fix = strings(&r.json()["errors"][0]["remediation"]);
    assert!(fix.iter().all(|l| !l.contains("reboot")), "{fix:#?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn chinese_and_english_give_the_same_commands() {
    for log in [
        "resource-exists-3.12.log",
        "webhook-deadline.log",
        "name-in-use.log",
    ] {
        let en = explain(log, &["--lang", "en"]).json();
        let zh = explain(log, &["--lang", "zh"]).json();
        let commands = |v: &Value| -> Vec<String> {
            strings(&v["errors"][0]["remediation"])
                .into_iter()
                .filter(|l| !l.starts_with('#'))
                .collect()
        };
        assert_eq!(commands(&en), commands(&zh), "{log}");
        assert_ne!(en["errors"][0]["title"], zh["errors"][0]["title"], "{log}");
    }
}

/// docs/explain.md lists every class with an example line: each example is answered by its class.
#[test]
fn the_documented_examples_are_answered_by_their_class() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/explain.md"),
    )
    .unwrap();
    let mut checked = 0;
    for row in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let id = cells[0].trim_start_matches("| ").trim_matches('`');
        // The first code span of the example cell; `` ` `` spans hold a backquote.
        let cell = cells[1];
        let example = match cell.strip_prefix("``") {
            Some(rest) => rest.split("``").next().unwrap().trim(),
            None => cell.split('`').nth(1).unwrap(),
        };
        let r = run(&["explain", "--error", example, "--no-cluster", "-o", "json"]);
        let v = r.json();
        assert_eq!(v["errors"][0]["rule"], id, "{example}");
        checked += 1;
    }
    assert!(checked >= 32, "{checked}");
}

/// Live, the cluster answers as the snapshot does: owners, CRDs, hook Jobs, webhook Services and
/// release states are read from the API server.
#[test]
fn live_the_cluster_answers_as_the_snapshot_does() {
    let live = serve(FakeApi::new().load_dir(fixture("explain-vocabulary")));
    for log in [
        "resource-exists-3.12.log",
        "resource-exists-3.18.log",
        "crd-other-version.log",
        "hook-timed-out.log",
        "webhook-deadline.log",
        "name-in-use.log",
    ] {
        let offline = explain(log, &[]).json();
        let now = offline["summary"]["snapshotTime"]
            .as_str()
            .unwrap()
            .to_string();
        let path = fixture("explain").join("vocabulary").join(log);
        let r = live.run(&[
            "explain",
            path.to_str().unwrap(),
            "-o",
            "json",
            "--now",
            &now,
        ]);
        assert_eq!(r.code, 1, "{log}: {}", r.stderr);
        let online = r.json();
        for field in ["rule", "release", "explanation", "remediation"] {
            assert_eq!(
                online["errors"][0][field], offline["errors"][0][field],
                "{log}: {field}"
            );
        }
    }
}
