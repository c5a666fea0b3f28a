//! The cluster-state rules through the built binary: ingress-snippet-disabled, clock-skew,
//! apigateway-too-old, pod-ip-not-private. Each has fixtures that trigger it and near misses that must
//! not (tests/fixtures/gen.py), checked in both languages.

mod common;

use assert_cmd::Command;
use serde_json::Value;

use common::{fixture, lines, of_rule, one};

const LANGS: [&str; 2] = ["zh", "en"];

/// Runs `check -o json` and returns the exit code and the parsed report.
fn check(name: &str, lang: &str) -> (i32, Value) {
    let out = Command::cargo_bin("kubectl-bkdoctor")
        .unwrap()
        .args(["check", "-o", "json", "--lang", lang, "--snapshot"])
        .arg(fixture(name))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {stdout}"));
    assert!(
        report["skipped"].as_array().unwrap().is_empty(),
        "{name}: fixture did not load cleanly: {}",
        report["skipped"]
    );
    (out.status.code().unwrap(), report)
}

fn evidence_has(f: &Value, needle: &str) -> bool {
    lines(f, "evidence").iter().any(|l| l.contains(needle))
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// The commands (lines not starting with `#`) of every finding of `rule`, in order.
fn commands(report: &Value, rule: &str) -> Vec<String> {
    of_rule(report, rule)
        .iter()
        .flat_map(|f| lines(f, "remediation"))
        .filter(|l| !l.starts_with('#'))
        .collect()
}

/// The same finding in both languages: Chinese text in zh, none in en, identical commands.
fn assert_bilingual(fixture_name: &str, rule: &str) {
    let (_, zh) = check(fixture_name, "zh");
    let (_, en) = check(fixture_name, "en");
    let (zf, ef) = (of_rule(&zh, rule), of_rule(&en, rule));
    assert!(!zf.is_empty(), "{rule} in {fixture_name}");
    assert_eq!(zf.len(), ef.len());
    for (z, e) in zf.iter().zip(&ef) {
        assert!(has_cjk(z["title"].as_str().unwrap()), "{}", z["title"]);
        assert!(!has_cjk(e["title"].as_str().unwrap()), "{}", e["title"]);
        assert!(lines(z, "evidence").iter().all(|l| has_cjk(l)), "{z:#}");
        assert!(lines(e, "evidence").iter().all(|l| !has_cjk(l)), "{e:#}");
        assert_eq!(z["object"], e["object"]);
        assert_eq!(z["severity"], e["severity"]);
    }
    assert_eq!(commands(&zh, rule), commands(&en, rule));
}

fn assert_absent(fixture_name: &str, rule: &str) {
    for lang in LANGS {
        let (code, report) = check(fixture_name, lang);
        assert!(
            of_rule(&report, rule).is_empty(),
            "{rule} must not fire on {fixture_name}: {report:#}"
        );
        assert_eq!(
            code, 0,
            "{fixture_name} has no findings at warning or above"
        );
    }
}

// ---------------------------------------------------------------- ingress-snippet-disabled

#[test]
fn snippet_failed_release_names_the_controllers_configmap() {
    for lang in LANGS {
        let (code, r) = check("snippet-failed", lang);
        assert_eq!(code, 1);
        let f = one(&r, "ingress-snippet-disabled", "release/bk-apigateway");
        assert_eq!(f["severity"], "error");
        assert_eq!(f["namespace"], "bkce");
        assert!(evidence_has(f, "Snippet directives are disabled"));
        assert!(evidence_has(f, "daemonset/ingress-nginx-controller"));
        assert!(evidence_has(f, "v1.12.1"));
        let rem = lines(f, "remediation");
        // v1.12: the risk level must be raised too; restoring removes the key it did not have.
        assert_eq!(
            rem[0],
            r#"kubectl patch configmap -n ingress-system ingress-nginx-controller --type merge -p '{"data":{"allow-snippet-annotations":"true","annotations-risk-level":"Critical"}}'"#
        );
        // Restoring waits until BlueKing is deployed: run with the fix, it would undo it.
        assert_eq!(
            rem.last().unwrap(),
            r#"#   kubectl patch configmap -n ingress-system ingress-nginx-controller --type merge -p '{"data":{"allow-snippet-annotations":"false","annotations-risk-level":null}}'"#
        );
        assert!(!rem.iter().any(|l| l.contains("blueking")));
    }
    assert_bilingual("snippet-failed", "ingress-snippet-disabled");
}

#[test]
fn snippet_default_off_since_v1_9_warns_before_apigateway_is_installed() {
    for lang in LANGS {
        let (code, r) = check("snippet-default-v19", lang);
        assert_eq!(code, 1);
        let f = one(
            &r,
            "ingress-snippet-disabled",
            "configmap/ingress-nginx-controller",
        );
        assert_eq!(f["severity"], "warning");
        assert_eq!(f["namespace"], "ingress-nginx");
        assert!(evidence_has(f, "v1.10.1"));
        assert_eq!(
            commands(&r, "ingress-snippet-disabled"),
            vec![
                r#"kubectl patch configmap -n ingress-nginx ingress-nginx-controller --type merge -p '{"data":{"allow-snippet-annotations":"true"}}'"#,
            ]
        );
        assert_eq!(
            lines(
                one(
                    &r,
                    "ingress-snippet-disabled",
                    "configmap/ingress-nginx-controller"
                ),
                "remediation"
            )
            .last()
            .unwrap(),
            r#"#   kubectl patch configmap -n ingress-nginx ingress-nginx-controller --type merge -p '{"data":{"allow-snippet-annotations":null}}'"#
        );
    }
    assert_bilingual("snippet-default-v19", "ingress-snippet-disabled");
}

#[test]
fn snippet_allowed_with_critical_risk_level_is_fine() {
    assert_absent("snippet-allowed", "ingress-snippet-disabled");
}

#[test]
fn snippet_set_back_after_apigateway_deployed_is_fine() {
    assert_absent("snippet-restored", "ingress-snippet-disabled");
}

// ---------------------------------------------------------------- clock-skew

#[test]
fn clock_skew_names_nodes_offsets_and_the_failing_pod() {
    for lang in LANGS {
        let (code, r) = check("clock-skew", lang);
        assert_eq!(code, 1);
        let ahead = one(&r, "clock-skew", "node/node-2");
        assert_eq!(ahead["severity"], "error");
        assert_eq!(ahead["namespace"], Value::Null);
        assert!(evidence_has(ahead, "76"), "{ahead:#}");
        // The guide's symptom is attached to the worst clock, not reported on its own.
        assert!(evidence_has(
            ahead,
            "blue_krill.storages.blobstore.exceptions.RequestError: Service call failed"
        ));
        assert!(evidence_has(
            ahead,
            "bk-system/bkpaas3-apiserver-migrate-db-7xk2p"
        ));
        assert!(evidence_has(ahead, "60"));
        let rem = lines(ahead, "remediation");
        assert!(
            rem.iter()
                .any(|l| l.contains("node-2") && l.contains("10.0.0.13"))
        );
        assert!(rem.contains(&"timedatectl set-ntp true".to_string()));

        let behind = one(&r, "clock-skew", "node/node-4");
        assert_eq!(behind["severity"], "warning");
        assert!(evidence_has(behind, "41"), "{behind:#}");

        // node-3 is NotReady: its 10-minute-old lease is a dead kubelet, not a clock.
        assert!(
            !of_rule(&r, "clock-skew")
                .iter()
                .any(|f| f["object"] == "node/node-3")
        );
        assert_eq!(of_rule(&r, "clock-skew").len(), 2);
    }
    assert_bilingual("clock-skew", "clock-skew");
}

#[test]
fn clock_jitter_dead_node_and_healthy_pod_log_are_not_skew() {
    // The dead node is no clock problem, but it is a node problem: node-not-ready, and nothing else.
    for lang in LANGS {
        let (_, report) = check("clock-near", lang);
        assert!(of_rule(&report, "clock-skew").is_empty(), "{report:#}");
        let all = report["findings"].as_array().unwrap();
        assert_eq!(all.len(), 1, "{report:#}");
        one(&report, "node-not-ready", "node/node-3");
    }
}

#[test]
fn clock_skew_against_a_managed_api_server() {
    for lang in LANGS {
        let (code, r) = check("clock-apiserver", lang);
        assert_eq!(code, 1);
        let f = one(&r, "clock-skew", "service/kubernetes");
        assert_eq!(f["severity"], "error");
        assert_eq!(f["namespace"], "default");
        assert!(evidence_has(f, "100"), "{f:#}");
    }
    assert_bilingual("clock-apiserver", "clock-skew");
}

#[test]
fn api_server_date_is_not_trusted_over_its_own_nodes_lease() {
    assert_absent("clock-apiserver-static", "clock-skew");
}

// ---------------------------------------------------------------- apigateway-too-old

#[test]
fn apigateway_old_with_bcs_installed_warns() {
    for lang in LANGS {
        let (code, r) = check("apigw-old", lang);
        assert_eq!(code, 1);
        let f = one(&r, "apigateway-too-old", "release/bk-apigateway");
        assert_eq!(f["severity"], "warning");
        assert_eq!(f["namespace"], "blueking");
        assert!(evidence_has(f, "0.4.40"));
        assert!(evidence_has(
            f,
            "bkgatewaypluginmetadatas.gateway.bk.tencent.com"
        ));
        assert!(evidence_has(f, "bcs-services-stack"));
        assert_eq!(
            commands(&r, "apigateway-too-old"),
            vec![
                "helmfile -f base-blueking.yaml.gotmpl -l name=bk-apigateway sync",
                "helm history -n blueking bk-apigateway",
                "kubectl get crd bkgatewaypluginmetadatas.gateway.bk.tencent.com",
            ]
        );
    }
    assert_bilingual("apigw-old", "apigateway-too-old");
}

#[test]
fn apigateway_failed_bcs_upgrade_is_an_error_on_that_release() {
    for lang in LANGS {
        let (code, r) = check("apigw-failed", lang);
        assert_eq!(code, 1);
        let f = one(&r, "apigateway-too-old", "release/bcs-services-stack");
        assert_eq!(f["severity"], "error");
        assert_eq!(f["namespace"], "bcs-system");
        assert!(evidence_has(
            f,
            "no matches for kind \"BkGatewayPluginMetadata\""
        ));
        assert!(evidence_has(f, "v0.4.50"));
        // CRDs were not collected: their absence proves nothing and is not claimed.
        assert!(!evidence_has(f, "bkgatewaypluginmetadatas"));
        assert!(
            commands(&r, "apigateway-too-old")
                .contains(&"helm history -n bk-system bk-apigateway".to_string())
        );
    }
    assert_bilingual("apigw-failed", "apigateway-too-old");
}

#[test]
fn apigateway_exactly_0_4_57_with_crd_is_fine() {
    assert_absent("apigw-ok", "apigateway-too-old");
}

// ---------------------------------------------------------------- pod-ip-not-private

#[test]
fn public_pod_cidr_names_nodes_cidrs_and_consul_pods() {
    for lang in LANGS {
        let (code, r) = check("public-pod-cidr", lang);
        assert_eq!(code, 1);
        for (node, consul, ip) in [
            ("node-1", "bk-consul-0", "30.244.1.20"),
            ("node-2", "bk-consul-1", "30.244.2.21"),
        ] {
            let f = one(&r, "pod-ip-not-private", &format!("node/{node}"));
            assert_eq!(f["severity"], "error", "{f:#}");
            assert_eq!(f["namespace"], Value::Null);
            assert!(evidence_has(f, &format!("30.244.{}.0/24", &node[5..])));
            assert!(evidence_has(f, ip));
            assert!(evidence_has(f, "No private IPv4 address found"));
            let cmds = lines(f, "remediation");
            assert!(cmds.contains(&format!("kubectl delete pod -n blueking {consul}")));
            assert!(cmds.contains(&"systemctl restart kubelet".to_string()));
        }
        // The control plane node has the public CIDR too but nothing failed there yet.
        let master = one(&r, "pod-ip-not-private", "node/master-1");
        assert_eq!(master["severity"], "warning");
        assert!(evidence_has(master, "30.244.0.0/24"));
    }
    assert_bilingual("public-pod-cidr", "pod-ip-not-private");
}

#[test]
fn cgnat_pod_cidr_and_host_network_pod_are_fine() {
    assert_absent("cgnat-pod-cidr", "pod-ip-not-private");
}

// ---------------------------------------------------------------- all together

#[test]
fn near_misses_of_one_rule_do_not_trigger_the_others() {
    let mine = [
        "ingress-snippet-disabled",
        "clock-skew",
        "apigateway-too-old",
        "pod-ip-not-private",
    ];
    for fixture_name in [
        "snippet-allowed",
        "snippet-restored",
        "clock-near",
        "clock-apiserver-static",
        "apigw-ok",
        "cgnat-pod-cidr",
    ] {
        let (_, r) = check(fixture_name, "en");
        for rule in mine {
            assert!(
                of_rule(&r, rule).is_empty(),
                "{rule} fired on {fixture_name}"
            );
        }
    }
}

#[test]
fn clock_log_line_with_agreeing_leases_is_only_info() {
    for lang in LANGS {
        let (code, r) = check("clock-log-only", lang);
        // The clock finding is info; what fails the script is the init container that does
        // crash-loop, reported for what it is.
        let loud: Vec<&str> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] != "info")
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        assert_eq!(loud, ["init-container-failing"]);
        assert_eq!(code, 1);
        let f = one(&r, "clock-skew", "pod/bkpaas3-apiserver-migrate-db-7xk2p");
        assert_eq!(f["severity"], "info");
        assert_eq!(f["namespace"], "blueking");
        assert!(evidence_has(f, "RequestError: Service call failed"));
        // No node is shown to be off, so none is named in the title.
        assert!(!f["title"].as_str().unwrap().contains("node-"));
    }
    assert_bilingual("clock-log-only", "clock-skew");
}

#[test]
fn clock_log_line_without_leases_asks_to_compare_every_node() {
    for lang in LANGS {
        let (code, r) = check("clock-log-no-leases", lang);
        assert_eq!(code, 1);
        let f = one(&r, "clock-skew", "pod/bkpaas3-apiserver-migrate-db-7xk2p");
        assert_eq!(f["severity"], "warning");
        let cmds = commands(&r, "clock-skew");
        for (ip, node) in [
            ("10.0.0.11", "master-1"),
            ("10.0.0.12", "node-1"),
            ("10.0.0.13", "node-2"),
        ] {
            assert!(cmds.contains(&format!("ssh {ip} date -u +%s  # {node}")));
        }
    }
    assert_bilingual("clock-log-no-leases", "clock-skew");
}

// ---------------------------------------------------------------- covers

/// `covers` is not in the JSON; it is what keeps a generic crash-loop rule from reporting the same
/// pods again, so it is checked through the library.
fn findings_of(name: &str) -> Vec<kubectl_bkdoctor::findings::Finding> {
    use kubectl_bkdoctor::{catalog::Catalog, i18n::Lang, rules};
    let snap = kubectl_bkdoctor::collect::dir::load(&fixture(name)).unwrap();
    let catalog = Catalog::builtin();
    let now = snap.reference_time().unwrap();
    let ctx = rules::Ctx::new(&snap, &catalog, Lang::En, now);
    rules::run_all(&ctx)
}

fn covers_of(name: &str, rule: &str, object: &str) -> Vec<(String, String)> {
    let all = findings_of(name);
    let f = all
        .iter()
        .find(|f| f.rule == rule && f.object == object)
        .unwrap_or_else(|| panic!("{rule} {object} in {name}"));
    f.covers.clone()
}

#[test]
fn explained_pods_are_covered() {
    let pair = |ns: &str, p: &str| (ns.to_string(), p.to_string());
    assert_eq!(
        covers_of("public-pod-cidr", "pod-ip-not-private", "node/node-1"),
        vec![pair("blueking", "bk-consul-0")]
    );
    assert_eq!(
        covers_of("public-pod-cidr", "pod-ip-not-private", "node/master-1"),
        vec![]
    );
    assert_eq!(
        covers_of("clock-skew", "clock-skew", "node/node-2"),
        vec![pair("bk-system", "bkpaas3-apiserver-migrate-db-7xk2p")]
    );
    assert_eq!(
        covers_of(
            "clock-log-only",
            "clock-skew",
            "pod/bkpaas3-apiserver-migrate-db-7xk2p"
        ),
        vec![pair("blueking", "bkpaas3-apiserver-migrate-db-7xk2p")]
    );
}

#[test]
fn release_view_shows_the_node_finding_that_explains_its_pods() {
    for lang in LANGS {
        let out = Command::cargo_bin("kubectl-bkdoctor")
            .unwrap()
            .args(["release", "bk-paas", "-n", "bk-system", "-o", "json"])
            .args(["--lang", lang, "--snapshot"])
            .arg(fixture("clock-skew"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let f = one(&r, "clock-skew", "node/node-2");
        assert_eq!(f["severity"], "error");
        // node-4's clock explains none of bk-paas's pods.
        assert!(of_rule(&r, "clock-skew").len() == 1, "{r:#}");
    }
}

#[test]
fn without_node_objects_a_node_behind_carries_a_caveat() {
    use kubectl_bkdoctor::{catalog::Catalog, i18n::Lang, rules};
    let mut snap = kubectl_bkdoctor::collect::dir::load(&fixture("clock-skew")).unwrap();
    snap.nodes.clear();
    let catalog = Catalog::builtin();
    let now = snap.reference_time().unwrap();
    let ctx = rules::Ctx::new(&snap, &catalog, Lang::En, now);
    let found = rules::clock_skew::check(&ctx);
    let dead = found
        .iter()
        .find(|f| f.object == "node/node-3")
        .expect("node-3's old lease is reported when readiness is unknown");
    assert!(
        dead.evidence
            .iter()
            .any(|e| e.contains("if node-3 is down"))
    );
    let ahead = found.iter().find(|f| f.object == "node/node-2").unwrap();
    assert!(!ahead.evidence.iter().any(|e| e.contains("is down")));
}
