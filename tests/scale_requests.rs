//! The request budget, counted (not timed) on small synthetic clusters: one list per kind (plus
//! pages when reads are consistent), one log request per failing container instance, payloads of
//! the revisions a rule needs only (by name when reads are consistent, else in a few
//! label-selected lists carrying the same bytes); never a request per healthy pod or per historic
//! revision.

#[path = "../benches/support/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

mod common;

use std::process::Command;

use fake_apiserver::RecordedRequest;
use synthetic::Shape;

use common::BIN;

struct Counted {
    lists: Vec<RecordedRequest>,
    payloads: Vec<RecordedRequest>,
    logs: Vec<String>,
    other: Vec<String>,
    /// The doctor's `-v` line.
    summary: String,
}

impl Counted {
    fn payload_bytes(&self) -> u64 {
        self.payloads.iter().map(|r| r.response_bytes).sum()
    }
}

/// A synthetic cluster served by the fake API server, and the generator's bookkeeping of it.
fn serve(shape: Shape) -> (synthetic::Cluster, fake_apiserver::FakeApiServer) {
    let cluster = synthetic::generate(shape);
    // The server takes the objects; keep the bookkeeping.
    let bookkeeping = synthetic::Cluster {
        shape,
        objects: Vec::new(),
        logs: cluster.logs.clone(),
        histories: cluster.histories.clone(),
        failing_pods: cluster.failing_pods.clone(),
        payload_gzip_bytes: cluster.payload_gzip_bytes.clone(),
        owners_of_failing_pods: cluster.owners_of_failing_pods.clone(),
    };
    (bookkeeping, cluster.into_server().start())
}

/// `check -A -v` with `extra` flags; the requests it made, sorted by what they were for.
fn check(server: &fake_apiserver::FakeApiServer, extra: &[&str]) -> Counted {
    server.clear_requests();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig_with_token(tmp.path().join("config"));
    let out = Command::new(BIN)
        .args(["check", "-A", "-o", "json", "-v"])
        .args(extra)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env_remove("KUBECONFIG")
        .env_remove("HELM_PLUGIN_NAME")
        .env("LANG", "C")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let requests: Vec<RecordedRequest> = server.requests();
    assert!(requests.iter().all(|r| r.method == "GET"));
    let mut c = Counted {
        lists: Vec::new(),
        payloads: Vec::new(),
        logs: Vec::new(),
        other: Vec::new(),
        summary: stderr,
    };
    for r in requests {
        let what = format!("{}?{}", r.path, r.query);
        let storage = r.path.contains("/secrets") || r.path.contains("/configmaps");
        let metadata_only = r
            .accept
            .as_deref()
            .is_some_and(|a| a.contains("as=PartialObjectMetadata"));
        let named = r.path.contains("/secrets/") || r.path.contains("/configmaps/");
        let helm = r
            .param("labelSelector")
            .is_some_and(|s| s.starts_with("owner=helm,"));
        if r.path.ends_with("/log") {
            c.logs.push(what);
        } else if storage && !metadata_only && (named || helm) {
            c.payloads.push(r);
        } else if r.params.contains_key("limit") || r.params.contains_key("resourceVersion") {
            c.lists.push(r);
        } else {
            c.other.push(what);
        }
    }
    c
}

#[test]
fn generated_payloads_are_bluekings_size() {
    let cluster = synthetic::generate(Shape {
        releases: 4,
        revisions: 3,
        pods: 10,
        nodes: 2,
    });
    assert_eq!(cluster.payload_gzip_bytes.len(), 12);
    for b in &cluster.payload_gzip_bytes {
        assert!(
            (50 << 10..=200 << 10).contains(b),
            "{} KiB gzipped",
            b >> 10
        );
    }
}

#[test]
fn requests_grow_with_needed_revisions_and_failing_pods_only() {
    let small = Shape {
        releases: 20,
        revisions: 10,
        pods: 100,
        nodes: 5,
    };
    let (cluster, server) = serve(small);
    let needed: Vec<String> = cluster
        .needed()
        .into_iter()
        .map(|(ns, name, rev)| {
            format!("/api/v1/namespaces/{ns}/secrets/sh.helm.release.v1.{name}.v{rev}")
        })
        .collect();
    // Consistent reads fetch each payload by name: exactly the needed revisions.
    let consistent = check(&server, &["--consistent-read"]);
    let mut fetched: Vec<String> = consistent.payloads.iter().map(|r| r.path.clone()).collect();
    fetched.sort();
    let mut expected = needed.clone();
    expected.sort();
    assert_eq!(
        fetched, expected,
        "payload requests are the needed revisions"
    );
    // The cluster has all three kinds of release, so the comparison above means something: in
    // trouble by its labels, healthy but owning a failing pod, healthy and left unread.
    let troubled = |h: &synthetic::History| h.statuses.last() != Some(&"deployed");
    let owns = |h: &synthetic::History| {
        cluster
            .owners_of_failing_pods
            .contains(&(h.namespace.clone(), h.name.clone()))
    };
    let hs = &cluster.histories;
    assert!(hs.iter().any(troubled), "no troubled release");
    assert!(
        hs.iter().any(|h| !troubled(h) && owns(h)),
        "no healthy release owning a failing pod"
    );
    let unread = hs.iter().filter(|h| !troubled(h) && !owns(h)).count();
    assert!(unread > 0, "no healthy release");
    assert!(
        needed.len() <= 2 * (hs.len() - unread),
        "at most two payloads per release read: {}",
        needed.len()
    );

    // From the watch cache the same payloads come in a few label-selected lists, with no more
    // bytes than the GETs by name (list items carry no kind and apiVersion: a few bytes less).
    let cached = check(&server, &[]);
    assert!(
        cached.payloads.len() <= 3 && cached.payloads.len() < needed.len(),
        "{} payload requests for {} payloads: {:?}",
        cached.payloads.len(),
        needed.len(),
        cached.payloads.iter().map(|r| &r.query).collect::<Vec<_>>()
    );
    for r in &cached.payloads {
        assert_eq!(r.param("resourceVersion"), Some("0"), "{}", r.query);
    }
    let (by_name, by_list) = (consistent.payload_bytes(), cached.payload_bytes());
    assert!(
        by_list <= by_name + by_name / 10 && by_list >= by_name - by_name / 10,
        "payload bytes: {by_list} in lists, {by_name} by name"
    );

    for c in [&consistent, &cached] {
        let failing = cluster.failing_pods.len();
        assert!(failing > 0, "the generator makes some pods fail");
        // One read per crash-looping container: its current read would be the same log.
        assert_eq!(c.logs.len(), failing, "{:?}", c.logs);
        assert!(
            c.logs.iter().all(|l| l.contains("previous=true")),
            "{:?}",
            c.logs
        );
        for log in &c.logs {
            assert!(
                cluster.failing_pods.iter().any(|(ns, pod)| {
                    log.starts_with(&format!("/api/v1/namespaces/{ns}/pods/{pod}/"))
                }),
                "log of a healthy pod: {log}"
            );
        }
    }
    // Waves: the version probe beside the lists, then payloads and logs side by side.
    assert!(
        cached.summary.contains(" in 2 waves,"),
        "{}",
        cached.summary
    );

    // Four times the pods, still within one page each: the same lists, the same other requests.
    let (_, bigger_server) = serve(Shape { pods: 400, ..small });
    let bigger = check(&bigger_server, &["--consistent-read"]);
    assert_eq!(
        consistent.lists.len(),
        bigger.lists.len(),
        "{:?}",
        bigger.lists.iter().map(|r| &r.query).collect::<Vec<_>>()
    );
    assert_eq!(
        consistent.other.len(),
        bigger.other.len(),
        "{:?}",
        bigger.other
    );
}

#[test]
fn lists_come_from_the_watch_cache_unless_reads_are_consistent() {
    let shape = Shape {
        releases: 4,
        revisions: 3,
        pods: 1200,
        nodes: 3,
    };
    let (_, server) = serve(shape);
    let cached = check(&server, &[]);
    let pods = |c: &Counted| {
        c.lists
            .iter()
            .filter(|r| r.path == "/api/v1/pods")
            .map(|r| {
                (
                    r.param("resourceVersion").map(str::to_string),
                    r.param("continue").is_some(),
                )
            })
            .collect::<Vec<_>>()
    };
    // 1,200 pods, more than a page of 500: the watch cache answers them whole.
    assert_eq!(pods(&cached), [(Some("0".to_string()), false)]);
    for r in &cached.lists {
        assert_eq!(
            r.param("resourceVersion"),
            Some("0"),
            "{}?{}",
            r.path,
            r.query
        );
    }
    // Consistent: from etcd, without resourceVersion, in pages of 500.
    let consistent = check(&server, &["--consistent-read"]);
    assert_eq!(
        pods(&consistent),
        [(None, false), (None, true), (None, true)]
    );
    assert!(
        consistent
            .lists
            .iter()
            .all(|r| r.param("resourceVersion").is_none())
    );
}

#[test]
fn generated_objects_are_ones_a_real_api_server_accepts() {
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::Node};
    let cluster = synthetic::generate(Shape {
        releases: 260,
        revisions: 1,
        pods: 10,
        nodes: 3,
    });
    let of = |kind: &'static str| cluster.objects.iter().filter(move |o| o["kind"] == kind);
    for lease in of("Lease") {
        // metav1.MicroTime: a real server rejects more than six fractional digits.
        let t = lease["spec"]["renewTime"].as_str().unwrap();
        let fraction = t.split_once('.').unwrap().1;
        assert_eq!(fraction.len(), 7, "{t}");
        assert!(
            fraction.ends_with('Z') && t.parse::<jiff::Timestamp>().is_ok(),
            "{t}"
        );
    }
    for node in of("Node") {
        // Every field of NodeSystemInfo is required: the typed parse fails on a missing one.
        let node: Node = serde_json::from_value(node.clone()).unwrap();
        let info = node.status.unwrap().node_info.unwrap();
        assert!(!info.machine_id.is_empty() && !info.boot_id.is_empty());
    }
    for d in of("Deployment") {
        let d: Deployment = serde_json::from_value(d.clone()).unwrap();
        let spec = d.spec.unwrap();
        let template = spec.template.metadata.unwrap().labels.unwrap();
        for (k, v) in spec.selector.match_labels.unwrap() {
            assert_eq!(
                template.get(&k),
                Some(&v),
                "the selector selects the template"
            );
        }
    }
    let mut ips: Vec<[u8; 4]> = of("Service")
        .map(|s| {
            let ip = s["spec"]["clusterIP"].as_str().unwrap();
            assert_eq!(s["spec"]["clusterIPs"][0], ip);
            let ip: std::net::Ipv4Addr = ip.parse().unwrap();
            ip.octets()
        })
        .collect();
    let count = ips.len();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), count, "cluster IPs are unique");
    // Inside 10.96.0.0/12, past the addresses the cluster's own services hold.
    assert!(
        ips.iter()
            .all(|o| o[0] == 10 && o[1] & 0xf0 == 96 && o[2] > 0)
    );
}
