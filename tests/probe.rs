//! Node probes end to end: the real binary against the fake API server, whose handler plays the
//! kubelets: a created pod goes Pending → Running → Succeeded with the log a node would print, or
//! sticks in ImagePullBackOff, or never finishes. Every test checks that each pod created was
//! deleted.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_apiserver::{FakeApi, FakeApiServer, RecordedRequest};
use kubectl_bkdoctor::probe::pod::SCRIPT;
use kubectl_bkdoctor::probe::report::{self, LookupResult};
use serde_json::{Value, json};

use common::{BIN, Live, Run, finding_keys, output};

/// The API server's clock in every test (the Date header), as epoch seconds.
const T: &str = "2026-11-20T11:00:00Z";
const T_EPOCH: i64 = 1_795_172_400;
const PODS: &str = "/api/v1/namespaces/default/pods";

/// What the fake kubelet of a node does with a probe pod.
#[derive(Clone)]
enum Kubelet {
    /// Runs it; the script's output on that node.
    Runs(Node),
    /// The image cannot be pulled.
    ImagePullBackOff,
    /// Never starts it.
    Hangs,
}

#[derive(Clone)]
struct Node {
    dns_times_out: bool,
    clock_offset: i64,
    ipv6: bool,
}

const HEALTHY: Node = Node {
    dns_times_out: false,
    clock_offset: 0,
    ipv6: true,
};

fn log_of(n: &Node) -> String {
    let dns = if n.dns_times_out {
        "result=timeout"
    } else {
        "result=ok addr=10.96.0.1"
    };
    format!(
        "bkdoctor-probe dns name=kubernetes.default.svc.cluster.local server=10.96.0.10 {dns}\n\
         bkdoctor-probe ipv6 if_inet6={} disable_ipv6={}\n\
         bkdoctor-probe clock epoch={}\n\
         bkdoctor-probe end\n",
        if n.ipv6 { 1 } else { 0 },
        if n.ipv6 { "0" } else { "none" },
        T_EPOCH + n.clock_offset
    )
}

fn node(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
        },
    })
}

fn kube_dns() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system"},
        "spec": {"clusterIP": "10.96.0.10"},
    })
}

/// `/api/v1/namespaces/NS/pods[/NAME]` as (NS, NAME).
fn pods_path(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (ns, rest) = rest.split_once('/')?;
    match rest.strip_prefix("pods")? {
        "" => Some((ns, None)),
        name => Some((ns, Some(name.strip_prefix('/')?))),
    }
}

/// The fake kubelets: each list of the probe pods moves every pod created so far one step on.
fn kubelets(api: FakeApi, nodes: BTreeMap<String, Kubelet>) -> FakeApi {
    let created = std::sync::Mutex::new(Vec::<(String, String, String)>::new());
    api.handler(move |r, objects| match (r.method.as_str(), pods_path(&r.path)?) {
        ("POST", (ns, None)) => {
            let mut pod: Value = serde_json::from_str(&r.body).ok()?;
            pod["metadata"]["creationTimestamp"] = T.into();
            pod["status"] = json!({"phase": "Pending"});
            let name = pod["metadata"]["name"].as_str()?.to_string();
            let node = pod["spec"]["nodeName"].as_str()?.to_string();
            created.lock().unwrap().push((ns.to_string(), name, node));
            objects.put(pod.clone());
            Some((201, pod))
        }
        ("GET", (_, None)) => {
            for (ns, name, node) in created.lock().unwrap().iter() {
                let Some(mut pod) = objects.get("", "pods", Some(ns), name).cloned() else {
                    continue;
                };
                let phase = pod["status"]["phase"].as_str().unwrap_or("").to_string();
                match (nodes.get(node), phase.as_str()) {
                    (Some(Kubelet::Runs(_)), "Pending") => {
                        pod["status"] = json!({"phase": "Running"});
                    }
                    (Some(Kubelet::Runs(n)), "Running") => {
                        pod["status"] = json!({"phase": "Succeeded"});
                        objects.set_log(ns, name, "probe", false, log_of(n));
                    }
                    (Some(Kubelet::ImagePullBackOff), "Pending") => {
                        pod["status"] = json!({"phase": "Pending", "containerStatuses": [{
                            "name": "probe", "ready": false, "restartCount": 0, "image": "busybox:1.36", "imageID": "",
                            "state": {"waiting": {"reason": "ImagePullBackOff",
                                "message": "Back-off pulling image \"busybox:1.36\""}},
                        }]});
                    }
                    _ => continue,
                }
                objects.put(pod);
            }
            None
        }
        ("DELETE", (ns, Some(name))) => {
            let pod = objects.remove("", "pods", Some(ns), name)?;
            Some((200, pod))
        }
        _ => None,
    })
}

fn serve(api: FakeApi) -> Live {
    let tmp = tempfile::tempdir().unwrap();
    let server = api.server_time(T.parse().unwrap()).start();
    let kubeconfig = server.kubeconfig_with_token(tmp.path().join("config"));
    Live {
        server,
        kubeconfig,
        _tmp: tmp,
    }
}

/// A cluster of these nodes, each with its kubelet's behaviour, and the kube-dns Service.
fn cluster(nodes: &[(&str, Kubelet)]) -> FakeApi {
    let api = FakeApi::new()
        .objects(nodes.iter().map(|(n, _)| node(n)))
        .object(kube_dns());
    kubelets(
        api,
        nodes
            .iter()
            .map(|(n, k)| (n.to_string(), k.clone()))
            .collect(),
    )
}

fn command(live: &Live, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .args(["--kubeconfig", live.kubeconfig.to_str().unwrap()])
        .env_remove("KUBECONFIG")
        .env_remove("HELM_PLUGIN_NAME")
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    c
}

fn run(live: &Live, args: &[&str]) -> Run {
    output(command(live, args))
}

fn pod_of(r: &RecordedRequest) -> String {
    match r.method.as_str() {
        "POST" => serde_json::from_str::<Value>(&r.body).unwrap()["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string(),
        _ => r.path.rsplit('/').next().unwrap().to_string(),
    }
}

/// (pods created, pods deleted), by name.
fn writes(server: &FakeApiServer) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut created = BTreeSet::new();
    let mut deleted = BTreeSet::new();
    for r in server.writes() {
        match r.method.as_str() {
            "POST" => {
                assert_eq!(r.path, PODS);
                created.insert(pod_of(&r));
            }
            "DELETE" => {
                assert!(r.path.starts_with(PODS), "{}", r.path);
                deleted.insert(pod_of(&r));
            }
            m => panic!("unexpected {m} {}", r.path),
        }
    }
    (created, deleted)
}

fn finding<'a>(report: &'a Value, rule: &str, object: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule && f["object"] == object)
        .unwrap_or_else(|| panic!("no {rule} on {object} in {report:#}"))
}

fn evidence(f: &Value) -> String {
    f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn each_nodes_failure_is_a_finding_naming_it_and_every_pod_is_deleted() {
    let live = serve(cluster(&[
        ("master-1", Kubelet::Runs(HEALTHY)),
        (
            "node-1",
            Kubelet::Runs(Node {
                dns_times_out: true,
                ..HEALTHY
            }),
        ),
        (
            "node-2",
            Kubelet::Runs(Node {
                clock_offset: 90,
                ..HEALTHY
            }),
        ),
        (
            "node-3",
            Kubelet::Runs(Node {
                ipv6: false,
                ..HEALTHY
            }),
        ),
        ("node-4", Kubelet::ImagePullBackOff),
    ]));
    let r = run(&live, &["probe", "-o", "json", "--probe-timeout", "20s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = r.json();
    assert_eq!(
        finding_keys(&report),
        [
            ("clock-skew".to_string(), "node/node-2".to_string()),
            ("dns-unresolvable".into(), "node/node-1".into()),
            ("ipv6-disabled".into(), "node/node-3".into()),
            ("probe-failed".into(), "node/node-4".into()),
        ]
    );

    let dns = finding(&report, "dns-unresolvable", "node/node-1");
    assert_eq!(dns["severity"], "error");
    assert!(dns["title"].as_str().unwrap().contains("node-1"));
    let e = evidence(dns);
    assert!(
        e.contains(
            "nslookup kubernetes.default.svc.cluster.local 10.96.0.10: no answer within 5 s"
        ),
        "{e}"
    );
    // The guide's elasticsearch case: the others resolve, so the path from node-1 is what is blocked.
    assert!(e.contains("succeed from master-1, node-2, node-3"), "{e}");

    let clock = finding(&report, "clock-skew", "node/node-2");
    assert_eq!(clock["severity"], "error");
    let e = evidence(clock);
    assert!(e.contains("90 s ahead"), "{e}");
    assert!(
        e.contains("2026-11-20T11:01:30Z") && e.contains("2026-11-20T11:00:00Z"),
        "{e}"
    );

    let v6 = finding(&report, "ipv6-disabled", "node/node-3");
    assert_eq!(v6["title"], "IPv6 is disabled on node node-3");
    assert!(evidence(v6).contains("/proc/net/if_inet6 does not exist"));

    let failed = finding(&report, "probe-failed", "node/node-4");
    assert!(
        failed["title"]
            .as_str()
            .unwrap()
            .contains("ImagePullBackOff")
    );
    assert!(evidence(failed).contains("Back-off pulling image"));
    assert!(
        failed["remediation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("--probe-image")),
        "{failed:#}"
    );

    let (created, deleted) = writes(&live.server);
    assert_eq!(created.len(), 5);
    assert_eq!(created, deleted);
    for r in live.server.writes().iter().filter(|r| r.method == "POST") {
        let pod: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(pod["spec"]["hostNetwork"], true);
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["tolerations"], json!([{"operator": "Exists"}]));
        assert!(pod["spec"]["activeDeadlineSeconds"].as_u64().unwrap() > 20);
        assert_eq!(
            pod["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "kubectl-bkdoctor"
        );
        assert_eq!(pod["spec"]["containers"][0]["image"], "busybox:1.36");
    }
    let nodes: BTreeSet<String> = live
        .server
        .writes()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["spec"]["nodeName"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(nodes.len(), 5, "one pod pinned to each node");
    assert!(
        r.stderr.is_empty(),
        "no progress when stderr is not a terminal: {}",
        r.stderr
    );
}

#[test]
fn pods_that_never_finish_time_out_and_are_deleted() {
    let live = serve(cluster(&[
        ("node-1", Kubelet::Hangs),
        ("node-2", Kubelet::Hangs),
        ("node-3", Kubelet::Runs(HEALTHY)),
    ]));
    let started = Instant::now();
    let r = run(&live, &["probe", "-o", "json", "--probe-timeout", "2s"]);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = r.json();
    assert_eq!(
        finding_keys(&report),
        [
            ("probe-failed".to_string(), "node/node-1".to_string()),
            ("probe-failed".into(), "node/node-2".into()),
        ]
    );
    let f = finding(&report, "probe-failed", "node/node-1");
    assert_eq!(f["title"], "Node node-1 could not be probed: TimedOut");
    assert!(evidence(f).contains("still Pending after 2s"), "{f:#}");
    let (created, deleted) = writes(&live.server);
    assert_eq!(created.len(), 3);
    assert_eq!(created, deleted);
}

#[test]
fn an_interrupted_run_deletes_the_pods_it_created() {
    // Ctrl-C at a terminal, and the TERM that `timeout`, systemd or a CI runner sends.
    for signal in ["-INT", "-TERM"] {
        let live = serve(cluster(&[
            ("node-1", Kubelet::Hangs),
            ("node-2", Kubelet::Hangs),
            ("node-3", Kubelet::ImagePullBackOff),
        ]));
        let child = command(&live, &["probe", "--probe-timeout", "5m"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Interrupt while the pods are pending: all three created, none finished.
        let deadline = Instant::now() + Duration::from_secs(30);
        while writes(&live.server).0.len() < 3 {
            assert!(Instant::now() < deadline, "the pods were never created");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            writes(&live.server).1.is_empty(),
            "nothing deleted before the signal"
        );
        let kill = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{signal}: {stderr}");
        assert!(
            stderr.contains("interrupted; deleted the 3 probe pod(s)"),
            "{signal}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "no report after an interruption");
        let (created, deleted) = writes(&live.server);
        assert_eq!(created.len(), 3);
        assert_eq!(created, deleted, "{signal}");
    }
}

fn leftover(name: &str, created: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "default", "creationTimestamp": created,
            "labels": {
                "app.kubernetes.io/managed-by": "kubectl-bkdoctor",
                "app.kubernetes.io/component": "node-probe",
                "kubectl-bkdoctor/run": "earlier",
            },
        },
        "spec": {"nodeName": "node-1", "activeDeadlineSeconds": 120,
                 "containers": [{"name": "probe", "image": "busybox:1.36"}]},
        "status": {"phase": "Pending"},
    })
}

#[test]
fn a_leftover_of_a_killed_run_is_deleted_but_not_a_running_ones_pod() {
    let live = serve(cluster(&[("node-1", Kubelet::Runs(HEALTHY))]).objects([
        // Past its own deadline: the run that made it is gone.
        leftover("bkdoctor-probe-earlier-node-1", "2026-11-20T10:00:00Z"),
        // 30 s old: another operator's run may still be waiting for it.
        leftover("bkdoctor-probe-other-node-1", "2026-11-20T10:59:30Z"),
        // Not ours, though in the same namespace.
        json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "bkdoctor-probe-lookalike", "namespace": "default",
                                "creationTimestamp": "2026-11-20T10:00:00Z"},
                   "spec": {"containers": [{"name": "x"}]}}),
    ]));
    let r = run(&live, &["probe", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("deleted 1 probe pod(s) left by an earlier run in namespace default: bkdoctor-probe-earlier-node-1"),
        "{}",
        r.stderr
    );
    let (created, deleted) = writes(&live.server);
    assert_eq!(created.len(), 1);
    let mut expected = created.clone();
    expected.insert("bkdoctor-probe-earlier-node-1".into());
    assert_eq!(deleted, expected);
}

#[test]
fn check_probe_adds_node_findings_to_the_cluster_report() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/healthy");
    let api = kubelets(
        FakeApi::new().load_dir(&dir),
        [
            ("master-1", Kubelet::Runs(HEALTHY)),
            (
                "node-1",
                Kubelet::Runs(Node {
                    dns_times_out: true,
                    ..HEALTHY
                }),
            ),
            ("node-2", Kubelet::Runs(HEALTHY)),
        ]
        .into_iter()
        .map(|(n, k)| (n.to_string(), k))
        .collect(),
    );
    let live = serve(api);
    let plain = run(&live, &["check", "-o", "json"]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(
        live.server.writes().is_empty(),
        "without --probe nothing is created"
    );

    let r = run(
        &live,
        &[
            "check",
            "--probe",
            "-o",
            "json",
            "--probe-name",
            "bk-elastic-elasticsearch-master.blueking.svc.cluster.local",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = r.json();
    assert_eq!(
        finding_keys(&report),
        [("dns-unresolvable".to_string(), "node/node-1".to_string())]
    );
    let (created, deleted) = writes(&live.server);
    assert_eq!(created.len(), 3);
    assert_eq!(created, deleted);
    let pod: Value = serde_json::from_str(&live.server.writes()[0].body).unwrap();
    let env = &pod["spec"]["containers"][0]["env"];
    assert_eq!(
        env[0]["value"], "10.96.0.10",
        "the cluster DNS from kube-system"
    );
    assert_eq!(
        env[1]["value"],
        "kubernetes.default.svc.cluster.local bk-elastic-elasticsearch-master.blueking.svc.cluster.local"
    );
}

#[test]
fn probe_flags_without_probe_are_an_error_and_create_nothing() {
    let live = serve(cluster(&[("node-1", Kubelet::Runs(HEALTHY))]));
    let r = run(
        &live,
        &["check", "--probe-image", "registry.local/busybox:1.36"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("add --probe"), "{}", r.stderr);
    assert!(live.server.requests().is_empty());
}

#[test]
fn air_gapped_image_namespace_and_cluster_domain_reach_the_pod() {
    let live = serve(
        cluster(&[("node-1", Kubelet::Runs(HEALTHY))]).object(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bk-tools"}})),
    );
    let r = run(
        &live,
        &[
            "probe",
            "-o",
            "json",
            "--probe-namespace",
            "bk-tools",
            "--probe-image",
            "registry.local/library/busybox:1.36",
            "--cluster-domain",
            "bk.local",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let posts: Vec<RecordedRequest> = live
        .server
        .writes()
        .into_iter()
        .filter(|w| w.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/api/v1/namespaces/bk-tools/pods");
    let pod: Value = serde_json::from_str(&posts[0].body).unwrap();
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        "registry.local/library/busybox:1.36"
    );
    assert_eq!(
        pod["spec"]["containers"][0]["env"][1]["value"],
        "kubernetes.default.svc.bk.local"
    );
    let deletes: Vec<String> = live
        .server
        .writes()
        .into_iter()
        .filter(|w| w.method == "DELETE")
        .map(|w| w.path)
        .collect();
    assert_eq!(
        deletes,
        [format!(
            "/api/v1/namespaces/bk-tools/pods/{}",
            pod["metadata"]["name"].as_str().unwrap()
        )]
    );
}

/// The script itself, run by the machine's sh with an nslookup that answers as busybox's does.
#[test]
fn the_script_reports_what_nslookup_says() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("nslookup");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         case \"$1\" in\n\
         good.*) printf 'Server:\\t\\t%s\\nAddress:\\t%s:53\\n\\nName:\\t%s\\nAddress: 10.96.0.1\\n\\n*** Can'\"'\"'t find %s: No answer\\n' \"$2\" \"$2\" \"$1\" \"$1\" ;;\n\
         old.*) printf 'Server:    %s\\nAddress 1: %s\\n\\nName:      %s\\nAddress 1: 10.96.3.4 %s\\n' \"$2\" \"$2\" \"$1\" \"$1\" ;;\n\
         missing.*) printf 'Server:\\t\\t%s\\nAddress:\\t%s:53\\n\\n** server can'\"'\"'t find %s: NXDOMAIN\\n' \"$2\" \"$2\" \"$1\"; exit 1 ;;\n\
         slow.*) sleep 10 ;;\n\
         *) echo 'nslookup: bad things'; exit 1 ;;\n\
         esac\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        tmp.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let out = Command::new("sh")
        .args(["-c", SCRIPT])
        .env("PATH", path)
        .env("PROBE_DNS", "10.96.0.10")
        .env(
            "PROBE_NAMES",
            "good.svc.cluster.local old.svc.cluster.local missing.svc.cluster.local slow.svc.cluster.local other.svc.cluster.local",
        )
        .env("PROBE_DNS_TIMEOUT", "1")
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the timeout cut the slow lookup"
    );
    let log = String::from_utf8_lossy(&out.stdout);
    let r = report::parse(&log);
    let results: Vec<(&str, &LookupResult)> =
        r.dns.iter().map(|l| (l.name.as_str(), &l.result)).collect();
    assert_eq!(
        results,
        [
            (
                "good.svc.cluster.local",
                &LookupResult::Resolved("10.96.0.1".into())
            ),
            (
                "old.svc.cluster.local",
                &LookupResult::Resolved("10.96.3.4".into())
            ),
            ("missing.svc.cluster.local", &LookupResult::NxDomain),
            ("slow.svc.cluster.local", &LookupResult::TimedOut),
            (
                "other.svc.cluster.local",
                &LookupResult::Error("nslookup: bad things".into())
            ),
        ],
        "{log}"
    );
    assert!(r.dns.iter().all(|l| l.server == "10.96.0.10"));
    assert!(r.ipv6.is_some(), "{log}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((r.clock.unwrap() - now).abs() < 10);
    assert!(r.complete);
}

#[test]
fn a_refused_create_is_a_finding_with_the_apis_words_and_needs_no_delete() {
    // Pod Security Admission in `baseline` refuses host networking.
    let psa = FakeApi::new().handler(|r, _| {
        (r.method == "POST").then(|| {
            (
                403,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "pods \"x\" is forbidden: violates PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true)",
                   "reason": "Forbidden", "code": 403}),
            )
        })
    });
    let live = serve(kubelets(
        psa.objects([node("node-1"), kube_dns()]),
        [("node-1".to_string(), Kubelet::Runs(HEALTHY))].into(),
    ));
    let r = run(&live, &["probe", "-o", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = r.json();
    let f = finding(&report, "probe-failed", "node/node-1");
    assert_eq!(f["title"], "Node node-1 could not be probed: Forbidden");
    assert!(evidence(f).contains("violates PodSecurity"), "{f:#}");
    let (created, deleted) = writes(&live.server);
    assert_eq!((created.len(), deleted.len()), (1, 0));
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn progress_per_node_on_a_terminal_only() {
    let Some(script) = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("script(1) is not installed here; skipping");
        return;
    };
    let live = serve(cluster(&[
        ("node-1", Kubelet::Runs(HEALTHY)),
        ("node-2", Kubelet::ImagePullBackOff),
    ]));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.json");
    let inner = format!(
        "{BIN} probe -o json --kubeconfig {} > {}",
        live.kubeconfig.display(),
        out.display()
    );
    let o = Command::new(script)
        .args(["-qec", &inner, "/dev/null"])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let terminal = String::from_utf8_lossy(&o.stdout);
    assert!(
        terminal.contains("probing 2 nodes with busybox:1.36 in namespace default"),
        "{terminal:?}"
    );
    assert!(terminal.contains("probe node-1: done"), "{terminal:?}");
    assert!(
        terminal.contains("probe node-2: failed (ImagePullBackOff)"),
        "{terminal:?}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["findings"][0]["rule"], "probe-failed");
}

#[test]
fn no_pod_for_nodes_that_cannot_run_it_and_no_dns_check_without_a_dns_service() {
    let mut down = node("node-down");
    down["status"]["conditions"][0]["status"] = "False".into();
    let mut windows = node("win-1");
    windows["metadata"]["labels"] = json!({"kubernetes.io/os": "windows"});
    let api = kubelets(
        FakeApi::new().objects([node("node-1"), down, windows]),
        [("node-1".to_string(), Kubelet::Runs(HEALTHY))].into(),
    );
    let live = serve(api);
    let r = run(&live, &["probe", "-o", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = r.json();
    assert_eq!(
        finding_keys(&report),
        [("probe-failed".to_string(), "node/node-down".to_string())]
    );
    assert!(
        finding(&report, "probe-failed", "node/node-down")["title"]
            .as_str()
            .unwrap()
            .ends_with("NodeNotReady")
    );
    let skipped = report["skipped"].to_string();
    assert!(
        skipped.contains("win-1") && skipped.contains("not a Linux node"),
        "{skipped}"
    );
    assert!(
        skipped.contains("DNS checks of the node probes") && skipped.contains("kube-dns"),
        "{skipped}"
    );
    let (created, deleted) = writes(&live.server);
    assert_eq!(created.len(), 1, "only node-1 gets a pod");
    assert_eq!(created, deleted);
    let pod: Value = serde_json::from_str(&live.server.writes()[0].body).unwrap();
    assert_eq!(pod["spec"]["nodeName"], "node-1");
    assert_eq!(pod["spec"]["containers"][0]["env"][0]["value"], "");
}

#[test]
fn check_probe_without_access_to_nodes_keeps_the_report_and_says_why() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/healthy");
    let live = serve(kubelets(
        FakeApi::new().load_dir(&dir).forbid("nodes", None),
        BTreeMap::new(),
    ));
    let r = run(&live, &["check", "--probe", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    let skipped = report["skipped"].as_array().unwrap();
    let probes = skipped
        .iter()
        .find(|s| s["what"] == "node probes")
        .unwrap_or_else(|| panic!("{skipped:?}"));
    assert!(
        probes["reason"]
            .as_str()
            .unwrap()
            .contains("cannot list nodes to probe: forbidden"),
        "{probes}"
    );
    assert!(live.server.writes().is_empty());
}
