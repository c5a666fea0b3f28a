//! The fake API server is as heavy as a real one, so that what the benchmarks measure against it
//! predicts a real cluster: its lists carry the `managedFields` kube-apiserver writes on every
//! object, in the recorded form and about the recorded share of the bytes. And the doctor keeps
//! none of them: nothing it writes (a snapshot holds what it parsed) carries one.

mod common;

#[path = "../benches/support/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use common::{serve, walk};
use fake_apiserver::FakeApi;
use serde_json::Value;

/// Bytes of every answer of one `check`, and of one list among them, read whole from the watch
/// cache as the doctor reads it.
fn bytes(api: FakeApi, path: &str) -> (usize, usize) {
    let live = serve(api);
    let r = live.run(&["check", "-o", "json"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let requests = live.server.requests();
    let total = requests.iter().map(|q| q.response_bytes as usize).sum();
    let list = requests
        .iter()
        .find(|q| q.path == path && q.param("resourceVersion") == Some("0"))
        .unwrap_or_else(|| panic!("no list of {path}"))
        .response_bytes as usize;
    (total, list)
}

fn cluster() -> synthetic::Cluster {
    synthetic::generate(synthetic::Shape {
        releases: 20,
        revisions: 3,
        pods: 300,
        nodes: 5,
    })
}

/// On a real kube-apiserver (v1.36.2, the scale bench's cluster at R=300 and R=1000) the answers
/// to a `check` were 27–30 % bigger than the fake's without managedFields, and managedFields were
/// about 46 % of the pods list's bytes. The fake's are within 10 % of both.
#[test]
fn lists_weigh_what_a_real_servers_do() {
    let path = "/api/v1/pods";
    let (heavy_total, heavy) = bytes(cluster().into_server(), path);
    let (light_total, light) = bytes(cluster().into_server().without_managed_fields(), path);
    let share = 1.0 - light as f64 / heavy as f64;
    let more = heavy_total as f64 / light_total as f64 - 1.0;
    eprintln!(
        "pods list: {heavy} bytes, {light} without managedFields ({:.0} % of it); every answer: {heavy_total} bytes, {light_total} without (+{:.0} %)",
        share * 100.0,
        more * 100.0
    );
    assert!((0.46 * 0.9..=0.46 * 1.1).contains(&share), "{share:.2}");
    assert!((0.27 * 0.9..=0.30 * 1.1).contains(&more), "{more:.2}");
}

/// The recorded metadata page of helm release records, served from the same objects without their
/// managedFields: the fake writes them back within 10 % of the real server's bytes.
#[test]
fn the_recorded_page_weighs_what_the_real_one_did() {
    let recorded: Value = serde_json::from_str(include_str!(
        "../crates/fake-apiserver/recorded/secrets-metadata-page1.json"
    ))
    .unwrap();
    let real = serde_json::to_vec(&recorded).unwrap().len();
    let mut bare = recorded.clone();
    for i in bare["items"].as_array_mut().unwrap() {
        i["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
    }
    let without = serde_json::to_vec(&bare).unwrap().len();
    // The same objects as Secrets, served by the fake and read back metadata-only.
    let secrets: Vec<Value> = bare["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": i["metadata"],
                "type": "helm.sh/release.v1", "data": {"release": "SDRzSQ=="}})
        })
        .collect();
    let live = serve(FakeApi::new().objects(secrets).resource_version(344));
    let r = live.run(&["check", "-o", "json"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let served = live
        .server
        .requests()
        .iter()
        .filter(|q| q.path == "/api/v1/secrets")
        .map(|q| q.response_bytes as usize)
        .max()
        .unwrap();
    eprintln!(
        "recorded page: {real} bytes (without managedFields {without}); the fake's: {served}"
    );
    let ratio = served as f64 / real as f64;
    assert!((0.9..=1.1).contains(&ratio), "× {ratio:.2}");
}

#[test]
fn the_doctor_keeps_no_managed_fields() {
    let live = serve(cluster().into_server());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let r = live.run(&["snapshot", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The fake sent them on every object...
    assert!(
        live.server
            .requests()
            .iter()
            .any(|q| q.path == "/api/v1/pods" && q.response_bytes > 0)
    );
    // ...and nothing the doctor parsed and wrote holds one.
    for f in walk(&out) {
        let text = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&text).contains("managedFields"),
            "{}",
            f.display()
        );
    }
}
