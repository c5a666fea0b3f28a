//! Issue 7's request budget, counted (not timed) on small synthetic clusters: a fixed number of
//! lists per kind plus pages, one log request per failing container instance, one payload request
//! per revision a rule needs; never a request per healthy pod or per historic revision.

#[path = "../benches/support/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

mod common;

use std::process::Command;

use fake_apiserver::RecordedRequest;
use synthetic::Shape;

use common::BIN;

struct Counted {
    lists: Vec<String>,
    payloads: Vec<String>,
    logs: Vec<String>,
    other: Vec<String>,
}

fn check(shape: Shape) -> (synthetic::Cluster, Counted) {
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
    let server = cluster.into_server().start();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig_with_token(tmp.path().join("config"));
    let out = Command::new(BIN)
        .args(["check", "-A", "-o", "json", "--kubeconfig"])
        .arg(&kubeconfig)
        .env_remove("KUBECONFIG")
        .env_remove("HELM_PLUGIN_NAME")
        .env("LANG", "C")
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests: Vec<RecordedRequest> = server.requests();
    assert!(requests.iter().all(|r| r.method == "GET"));
    let mut c = Counted {
        lists: Vec::new(),
        payloads: Vec::new(),
        logs: Vec::new(),
        other: Vec::new(),
    };
    for r in requests {
        let what = format!("{}?{}", r.path, r.query);
        if r.path.ends_with("/log") {
            c.logs.push(what);
        } else if r.params.contains_key("limit") {
            c.lists.push(what);
        } else if r.path.contains("/secrets/") || r.path.contains("/configmaps/") {
            c.payloads.push(r.path);
        } else {
            c.other.push(what);
        }
    }
    (bookkeeping, c)
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
    let (cluster, c) = check(small);
    let needed: Vec<String> = cluster
        .needed()
        .into_iter()
        .map(|(ns, name, rev)| {
            format!("/api/v1/namespaces/{ns}/secrets/sh.helm.release.v1.{name}.v{rev}")
        })
        .collect();
    let mut fetched = c.payloads.clone();
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

    let failing = cluster.failing_pods.len();
    assert!(failing > 0, "the generator makes some pods fail");
    assert!(c.logs.len() <= 2 * failing, "{:?}", c.logs);
    for log in &c.logs {
        assert!(
            cluster
                .failing_pods
                .iter()
                .any(|(ns, pod)| log.starts_with(&format!("/api/v1/namespaces/{ns}/pods/{pod}/"))),
            "log of a healthy pod: {log}"
        );
    }

    // Four times the pods, still within one page each: the same lists, the same other requests.
    let (_, bigger) = check(Shape { pods: 400, ..small });
    assert_eq!(c.lists.len(), bigger.lists.len(), "{:?}", bigger.lists);
    assert_eq!(c.other.len(), bigger.other.len(), "{:?}", bigger.other);
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
