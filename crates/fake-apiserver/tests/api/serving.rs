//! How the fake serves rather than what: credentials and certificates, headers and the request
//! record, concurrency, faults, timeouts and cut bodies, handlers and watches, and what reads cost
//! (latency, connection setup, etcd scans against the watch cache, the running clock).

use std::time::Duration;

use crate::common::{self, METADATA_ACCEPT, client, client_from, fixture, get, recorded};
use fake_apiserver::{Auth, FakeApi, Fault, Respond};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};

#[tokio::test]
async fn client_certificate_authenticates() {
    let server = FakeApi::new().load_dir(fixture("healthy")).start();
    let dir = tempfile::tempdir().unwrap();
    let path = server.kubeconfig_with_client_cert(dir.path().join("config"));
    let client = client_from(&path).await;
    let nodes: Api<Node> = Api::all(client);
    assert!(
        !nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(server.requests().iter().all(|r| r.auth == Auth::ClientCert));
}

#[tokio::test]
async fn date_header_and_request_record() {
    let ts: jiff::Timestamp = "2026-11-20T11:00:00Z".parse().unwrap();
    let server = FakeApi::new().server_time(ts).start();
    let (client, _dir) = client(&server).await;
    let r = get(
        &client,
        "/api/v1/namespaces/blueking/pods?labelSelector=a%3Db",
        None,
    )
    .await;
    assert_eq!(r.headers["date"], "Fri, 20 Nov 2026 11:00:00 GMT");
    let rec = server.requests().pop().unwrap();
    assert_eq!(rec.method, "GET");
    assert_eq!(rec.path, "/api/v1/namespaces/blueking/pods");
    assert_eq!(rec.param("labelSelector"), Some("a=b"));
    assert!(rec.authenticated());
    assert_eq!(rec.status, 200);
}

#[tokio::test]
async fn concurrent_requests_are_served_concurrently() {
    let server = FakeApi::new().latency(Duration::from_millis(200)).start();
    let (client, _dir) = client(&server).await;
    let started = std::time::Instant::now();
    let calls = (0..8).map(|i| {
        let client = client.clone();
        async move { get(&client, &format!("/api/v1/namespaces/ns{i}/pods"), None).await }
    });
    let all = futures_join_all(calls).await;
    assert!(all.iter().all(|r| r.status == 200));
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.max_in_flight(), 8);
}

#[tokio::test]
async fn faults_answer_instead_once() {
    let server = FakeApi::new()
        .fault(
            Fault::path(
                "/api/v1/pods",
                Respond::Status {
                    code: 500,
                    reason: "InternalError".into(),
                    message: "etcdserver: request timed out".into(),
                },
            )
            .times(1),
        )
        .start();
    let (client, _dir) = client(&server).await;
    assert_eq!(get(&client, "/api/v1/pods", None).await.status, 500);
    assert_eq!(get(&client, "/api/v1/pods", None).await.status, 200);
}

/// join_all without a futures dependency.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_hanging_request_times_out_and_the_server_still_stops() {
    let server = FakeApi::new()
        .fault(Fault::path("/api/v1/nodes", Respond::Hang))
        .start();
    let dir = tempfile::tempdir().unwrap();
    let path = server.kubeconfig_with_token(dir.path().join("config"));
    let kc = kube::config::Kubeconfig::read_from(&path).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    config.read_timeout = Some(Duration::from_millis(300));
    let client = kube::Client::try_from(config).unwrap();
    let started = std::time::Instant::now();
    let nodes: Api<Node> = Api::all(client.clone());
    assert!(nodes.list(&ListParams::default()).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
    let pods: Api<Pod> = Api::all(client);
    assert!(pods.list(&ListParams::default()).await.is_ok());
    let hung = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/nodes")
        .unwrap();
    assert_eq!(hung.status, 0);
    let dropped = std::time::Instant::now();
    drop(server);
    assert!(dropped.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_body_cut_midway_is_an_error_for_the_client() {
    let server = FakeApi::new()
        .load_dir(fixture("healthy"))
        .fault(Fault::path("/api/v1/pods", Respond::CutAfter(100)))
        .start();
    let (client, _dir) = client(&server).await;
    let pods: Api<Pod> = Api::all(client.clone());
    assert!(pods.list(&ListParams::default()).await.is_err());
    let nodes: Api<Node> = Api::all(client);
    assert!(nodes.list(&ListParams::default()).await.is_ok());
}

/// The extension point the node probes build on: a handler creates, advances and deletes probe pods
/// while the server records every request.
#[tokio::test]
async fn a_handler_can_simulate_a_pod_lifecycle() {
    let server = FakeApi::new()
        .handler(|r, objects| {
            let pods = "/api/v1/namespaces/default/pods";
            match (r.method.as_str(), r.path.as_str()) {
                ("POST", p) if p == pods => {
                    let mut pod: Value = serde_json::from_str(&r.body).ok()?;
                    pod["apiVersion"] = "v1".into();
                    pod["kind"] = "Pod".into();
                    pod["metadata"]["namespace"] = "default".into();
                    pod["status"] = json!({"phase": "Pending"});
                    objects.put(pod.clone());
                    Some((201, pod))
                }
                ("GET", p) => {
                    let name = p.strip_prefix(pods)?.strip_prefix('/')?;
                    // Each poll moves the pod on: Pending, then Succeeded with its log.
                    let mut pod = objects.get("", "pods", Some("default"), name)?.clone();
                    if pod["status"]["phase"] == "Pending" {
                        pod["status"]["phase"] = "Succeeded".into();
                        objects.put(pod);
                        objects.set_log("default", name, "probe", false, "dns=ok\n");
                    }
                    None
                }
                ("DELETE", p) => {
                    let name = p.strip_prefix(pods)?.strip_prefix('/')?;
                    let pod = objects.remove("", "pods", Some("default"), name)?;
                    Some((200, pod))
                }
                _ => None,
            }
        })
        .start();
    let (client, _dir) = client(&server).await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "probe-node-1"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "probe", "image": "busybox"}]},
    }))
    .unwrap();
    let created = pods.create(&Default::default(), &pod).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
    let done = pods.get("probe-node-1").await.unwrap();
    assert_eq!(done.status.unwrap().phase.as_deref(), Some("Succeeded"));
    let log = pods
        .logs("probe-node-1", &Default::default())
        .await
        .unwrap();
    assert_eq!(log, "dns=ok\n");
    pods.delete("probe-node-1", &DeleteParams::default())
        .await
        .unwrap();
    assert!(pods.get("probe-node-1").await.is_err());
    let writes = server.writes();
    assert_eq!(
        writes.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["POST", "DELETE"]
    );
    assert!(writes[0].body.contains("\"nodeName\":\"node-1\""));
}

#[tokio::test]
async fn watches_see_existing_then_changed_objects() {
    use futures::{StreamExt, TryStreamExt};
    use kube::api::{WatchEvent, WatchParams};

    let server = FakeApi::new().load_dir(fixture("pending-upgrade")).start();
    let (client, _dir) = client(&server).await;
    let pods: Api<Pod> = Api::namespaced(client, "blueking");
    let existing = pods.list(&ListParams::default()).await.unwrap().items.len();
    let mut stream = pods
        .watch(&WatchParams::default().timeout(10), "0")
        .await
        .unwrap()
        .boxed();
    for _ in 0..existing {
        match stream.try_next().await.unwrap() {
            Some(WatchEvent::Added(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    server.add_objects([json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "probe", "namespace": "blueking"},
        "spec": {"containers": [{"name": "probe"}]},
    })]);
    // Another namespace: not this watch's business.
    server.add_objects([json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "elsewhere", "namespace": "default"},
    })]);
    server.with_objects(|o| o.remove("", "pods", Some("blueking"), "probe"));
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Added(p)) => assert_eq!(p.metadata.name.as_deref(), Some("probe")),
        other => panic!("{other:?}"),
    }
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Deleted(p)) => assert_eq!(p.metadata.name.as_deref(), Some("probe")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_streaming_list_ends_its_initial_events_with_a_bookmark() {
    let server = FakeApi::new().load_dir(fixture("healthy")).start();
    let (client, _dir) = client(&server).await;
    let r = get(
        &client,
        "/api/v1/nodes?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
        None,
    )
    .await;
    let mut events: Vec<Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The cache also sends a bookmark as the watch's timeout nears: the first one ends the list.
    let first_bookmark = events.iter().position(|e| e["type"] == "BOOKMARK").unwrap();
    events.truncate(first_bookmark + 1);
    let (last, added) = events.split_last().unwrap();
    assert!(!added.is_empty());
    assert!(
        added
            .iter()
            .all(|e| e["type"] == "ADDED" && e["object"]["kind"] == "Node")
    );
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(
        last["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn untrusted_or_expired_client_certificates_are_401_not_tls_failures() {
    let server = FakeApi::new().start();
    let dir = tempfile::tempdir().unwrap();

    // Another cluster's client certificate: signed by a CA this server does not trust.
    let other = FakeApi::new().start();
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let foreign = server
        .kubeconfig_yaml(true, "default")
        .replace(
            &b64(server.client_cert_pem()),
            &b64(other.client_cert_pem()),
        )
        .replace(&b64(server.client_key_pem()), &b64(other.client_key_pem()));
    let path = dir.path().join("foreign");
    std::fs::write(&path, foreign).unwrap();
    let r = get(&client_from(&path).await, "/api/v1/pods", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), recorded("error-401-unauthorized.json"));
    assert_eq!(server.requests().last().unwrap().auth, Auth::BadCert);

    let expired = FakeApi::new().expired_client_cert().start();
    let path = expired.kubeconfig_with_client_cert(dir.path().join("expired"));
    let r = get(&client_from(&path).await, "/api/v1/pods", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(expired.requests().last().unwrap().auth, Auth::BadCert);
}

#[tokio::test]
async fn an_expired_serving_certificate_fails_the_handshake() {
    let server = FakeApi::new().expired_server_cert().start();
    let (client, _dir) = client(&server).await;
    let nodes: Api<Node> = Api::all(client);
    let err = nodes.list(&ListParams::default()).await.unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("Expired"), "{text}");
    assert!(server.requests().is_empty());
}

/// Secrets of about `kib` KiB of JSON each, half of them helm storage.
fn big_secrets(n: usize, kib: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let owner = if i % 2 == 0 { "helm" } else { "someone" };
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                   "metadata": {"name": format!("s-{i:03}"), "namespace": "blueking",
                                "labels": {"owner": owner}},
                   "data": {"release": "A".repeat(kib << 10)}})
        })
        .collect()
}

async fn timed(client: &kube::Client, path: &str) -> (Duration, common::Raw) {
    let started = std::time::Instant::now();
    let answer = get(client, path, Some(METADATA_ACCEPT)).await;
    (started.elapsed(), answer)
}

#[tokio::test]
async fn consistent_reads_cost_the_bytes_etcd_scans_and_the_watch_cache_is_free() {
    // 40 Secrets of 100 KiB: 4 MiB. At 20 MiB/s a scan of all of them is 200 ms.
    let server = FakeApi::new()
        .objects(big_secrets(40, 100))
        .etcd_read_rate(20 << 20)
        .start();
    let (client, _dir) = client(&server).await;
    // The selector matches every other one, but etcd decodes every object it passes.
    let (whole, answer) = timed(&client, "/api/v1/secrets?labelSelector=owner%3Dhelm").await;
    assert_eq!(answer.json()["items"].as_array().unwrap().len(), 20);
    assert!(whole >= Duration::from_millis(190), "{whole:?}");
    // A page of 5 matches scans up to the sixth: 11 objects, about 55 ms.
    let (page, answer) = timed(
        &client,
        "/api/v1/secrets?labelSelector=owner%3Dhelm&limit=5",
    )
    .await;
    assert_eq!(answer.json()["items"].as_array().unwrap().len(), 5);
    assert!(answer.json()["metadata"]["continue"].is_string());
    assert!(
        page >= Duration::from_millis(50) && page < whole,
        "{page:?} of {whole:?}"
    );
    // From the watch cache: `limit` ignored, the whole list in one answer, no etcd cost.
    let (cached, answer) = timed(
        &client,
        "/api/v1/secrets?labelSelector=owner%3Dhelm&limit=5&resourceVersion=0",
    )
    .await;
    let list = answer.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 20);
    assert!(
        list["metadata"].get("continue").is_none(),
        "{}",
        list["metadata"]
    );
    assert!(cached < Duration::from_millis(100), "{cached:?}");
    // A get from etcd costs its one object: 5 ms.
    let (one, answer) = timed(&client, "/api/v1/namespaces/blueking/secrets/s-000").await;
    assert_eq!(answer.status, 200);
    assert!(one >= Duration::from_millis(4), "{one:?}");
}

#[tokio::test]
async fn without_a_watch_cache_resource_version_0_is_paged_from_etcd() {
    let server = FakeApi::new()
        .objects(big_secrets(10, 1))
        .without_watch_cache()
        .start();
    let (client, _dir) = client(&server).await;
    let page = get(
        &client,
        "/api/v1/secrets?limit=3&resourceVersion=0",
        Some(METADATA_ACCEPT),
    )
    .await
    .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert!(page["metadata"]["continue"].is_string());
}

#[tokio::test]
async fn latency_delays_every_answer_and_the_default_is_cheap() {
    let objects = || big_secrets(40, 100);
    let slow = FakeApi::new()
        .objects(objects())
        .latency(Duration::from_millis(50))
        .start();
    let (slow_client, _dir) = client(&slow).await;
    let (t, answer) = timed(&slow_client, "/version").await;
    assert_eq!(answer.status, 200);
    assert!(t >= Duration::from_millis(50), "{t:?}");
    // Without a cost model a consistent read of 4 MiB is as quick as memory allows.
    let fast = FakeApi::new().objects(objects()).start();
    let (fast_client, _dir2) = client(&fast).await;
    let (t, _) = timed(&fast_client, "/api/v1/secrets?labelSelector=owner%3Dhelm").await;
    assert!(t < Duration::from_millis(150), "{t:?}");
}

#[tokio::test]
async fn a_new_connection_costs_two_more_round_trips_when_asked() {
    let server = FakeApi::new()
        .latency(Duration::from_millis(100))
        .connection_setup()
        .start();
    let (client, _dir) = client(&server).await;
    // The first request opens the connection: TCP and TLS handshakes, then its own round trip.
    let (first, _) = timed(&client, "/version").await;
    assert!(first >= Duration::from_millis(300), "{first:?}");
    // The pooled connection is reused: one round trip.
    let (again, _) = timed(&client, "/version").await;
    assert!(
        again >= Duration::from_millis(100) && again < Duration::from_millis(250),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_clock_taken_from_the_objects_runs() {
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "n1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "n1", "renewTime": "2026-11-20T11:00:00.000000Z"}});
    let server = FakeApi::new().object(lease).start();
    let (client, _dir) = client(&server).await;
    let date = |a: &common::Raw| {
        let text = a.headers["date"].to_str().unwrap().to_string();
        jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(&text)
            .unwrap()
    };
    let start: jiff::Timestamp = "2026-11-20T11:00:00Z".parse().unwrap();
    let first = date(&get(&client, "/version", None).await);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = date(&get(&client, "/version", None).await);
    assert!(
        first >= start && first < start + jiff::SignedDuration::from_secs(10),
        "{first}"
    );
    assert!(later > first, "{first} then {later}");
}
