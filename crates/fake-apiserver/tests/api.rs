//! The fake answers as the real kube-apiserver: compared with the recordings in `recorded/`, and
//! through the real kube client.

mod common;

use std::time::Duration;

use common::{METADATA_ACCEPT, client, client_from, fixture, get, recorded};
use fake_apiserver::{Auth, FakeApi, Fault, Respond};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};

fn without_managed_fields(mut v: Value) -> Value {
    if let Some(items) = v["items"].as_array_mut() {
        for i in items {
            if let Some(m) = i["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
        }
    }
    v
}

fn helm_secrets() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("recorded/helm-secrets.json")).unwrap())
        .unwrap()
}

#[tokio::test]
async fn metadata_pages_are_the_recorded_ones() {
    let server = FakeApi::new()
        .objects([helm_secrets()])
        .resource_version(344)
        .start();
    let (client, _dir) = client(&server).await;
    let page1 = get(
        &client,
        "/api/v1/secrets?labelSelector=owner%3Dhelm&limit=2",
        Some(METADATA_ACCEPT),
    )
    .await;
    assert_eq!(page1.status, 200);
    assert_eq!(
        page1.json(),
        without_managed_fields(recorded("secrets-metadata-page1.json"))
    );
    let token = page1.json()["metadata"]["continue"]
        .as_str()
        .unwrap()
        .to_string();
    let page2 = get(
        &client,
        &format!("/api/v1/secrets?labelSelector=owner%3Dhelm&limit=2&continue={token}"),
        Some(METADATA_ACCEPT),
    )
    .await;
    assert_eq!(
        page2.json(),
        without_managed_fields(recorded("secrets-metadata-page2.json"))
    );
}

#[tokio::test]
async fn kube_metadata_list_and_typed_list() {
    let server = FakeApi::new().objects([helm_secrets()]).start();
    let (client, _dir) = client(&server).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "blueking");
    let meta = secrets
        .list_metadata(&ListParams::default().labels("owner=helm"))
        .await
        .unwrap();
    let names: Vec<_> = meta
        .items
        .iter()
        .map(|m| m.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "sh.helm.release.v1.bk-cmdb.v1",
            "sh.helm.release.v1.bk-cmdb.v2",
            "sh.helm.release.v1.bk-job.v1",
            "sh.helm.release.v1.bk-nodeman.v1",
            "sh.helm.release.v1.bk-nodeman.v2",
        ]
    );
    let failed = secrets
        .list(&ListParams::default().labels("owner=helm,status in (failed, pending-install)"))
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 3);
    assert!(failed.items.iter().all(|s| s.data.is_some()));
    let one = secrets.get("sh.helm.release.v1.bk-job.v1").await.unwrap();
    assert_eq!(one.metadata.labels.unwrap()["status"], "pending-install");

    // Typed lists carry kind once; items do not, as from the real server.
    let raw = get(&client, "/api/v1/namespaces/blueking/secrets", None).await;
    let list = raw.json();
    assert_eq!(list["kind"], "SecretList");
    assert_eq!(list["apiVersion"], "v1");
    assert!(list["items"][0].get("kind").is_none());
    assert!(list["metadata"]["resourceVersion"].is_string());
    assert_eq!(raw.headers["content-type"], "application/json");
}

#[tokio::test]
async fn pods_of_a_snapshot_with_selectors_and_pages() {
    let server = FakeApi::new()
        .load_dir(fixture("pending-upgrade"))
        .page_size(2)
        .start();
    assert!(server.load_warnings().is_empty());
    let (client, _dir) = client(&server).await;
    let pods: Api<Pod> = Api::all(client.clone());
    let all = pods.list(&ListParams::default()).await.unwrap();
    // No limit sent: the whole list, as the real server does.
    assert!(all.items.len() > 2, "{}", all.items.len());
    assert!(all.metadata.continue_.is_none());

    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(500);
    let mut pages = 0;
    loop {
        let page = pods.list(&params).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|p| p.metadata.name.unwrap()));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => params = params.continue_token(&c),
            _ => break,
        }
    }
    let all_names: Vec<_> = all
        .items
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(seen, all_names);
    assert_eq!(pages, all_names.len().div_ceil(2));

    let node = all.items[0]
        .spec
        .as_ref()
        .unwrap()
        .node_name
        .clone()
        .unwrap();
    let on_node = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .unwrap();
    assert!(!on_node.items.is_empty());
    assert!(
        on_node
            .items
            .iter()
            .all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some(node.as_str()))
    );
    let not_running = pods
        .list(&ListParams::default().fields("status.phase!=Running"))
        .await
        .unwrap();
    assert!(not_running.items.len() < all.items.len());

    let nodes: Api<Node> = Api::all(client.clone());
    assert!(
        !nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let leases: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    assert!(
        !leases
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn errors_are_the_recorded_status_bodies() {
    let server = FakeApi::new()
        .objects([helm_secrets()])
        .forbid("secrets", None)
        .start();
    let (client, _dir) = client(&server).await;

    let forbidden = get(&client, "/api/v1/secrets", None).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.json(), recorded("error-403-forbidden.json"));

    let no_pod = get(&client, "/api/v1/namespaces/default/pods/nope/log", None).await;
    assert_eq!(no_pod.status, 404);
    assert_eq!(no_pod.json(), recorded("error-404-pod.json"));

    let bad = get(
        &client,
        "/api/v1/pods?limit=1&continue=bm90LWEtdG9rZW4",
        None,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json(), recorded("error-400-bad-continue.json"));

    // Named and namespaced requests are phrased for what they asked.
    let one = get(&client, "/api/v1/namespaces/blueking/secrets/x", None).await;
    assert_eq!(
        one.json()["message"],
        "secrets \"x\" is forbidden: User \"system:serviceaccount:default:viewer\" cannot get resource \"secrets\" in API group \"\" in the namespace \"blueking\""
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        server
            .kubeconfig_yaml(false, "default")
            .replace(fake_apiserver::DEFAULT_TOKEN, "wrong"),
    )
    .unwrap();
    let wrong = client_from(&path).await;
    let unauthorized = get(&wrong, "/api/v1/pods", None).await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.json(), recorded("error-401-unauthorized.json"));
    assert_eq!(server.requests().last().unwrap().auth, Auth::BadToken);
}

#[tokio::test]
async fn missing_group_is_absent_and_404() {
    let server = FakeApi::new().missing_group("coordination.k8s.io").start();
    let (client, _dir) = client(&server).await;
    let groups = get(&client, "/apis", None).await.json();
    let names: Vec<_> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"apps".to_string()));
    assert!(!names.contains(&"coordination.k8s.io".to_string()));
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    match leases.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 404);
            assert_eq!(
                s.message,
                "the server could not find the requested resource"
            );
        }
        other => panic!("{other:?}"),
    }
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, "v1.36.2");
}

#[tokio::test]
async fn pod_logs_as_the_kubelet_serves_them() {
    let server = FakeApi::new()
        .object(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "blueking"},
            "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}]},
        }))
        .log("blueking", "web", "app", false, "one\ntwo\nthree\n")
        .log("blueking", "web", "app", true, "crashed: boom\n")
        .start();
    let (client, _dir) = client(&server).await;
    let path = "/api/v1/namespaces/blueking/pods/web/log";
    let text = |q: &'static str| {
        let client = client.clone();
        async move { get(&client, &format!("{path}?{q}"), None).await }
    };
    assert_eq!(text("container=app").await.body, "one\ntwo\nthree\n");
    assert_eq!(text("container=app&tailLines=2").await.body, "two\nthree\n");
    assert_eq!(
        text("container=app&tailLines=2&limitBytes=5").await.body,
        "two\nt"
    );
    assert_eq!(
        text("container=app&previous=true").await.body,
        "crashed: boom\n"
    );
    let no_previous = text("container=sidecar&previous=true").await;
    assert_eq!(no_previous.status, 400);
    assert_eq!(
        no_previous.json()["message"],
        "previous terminated container \"sidecar\" in pod \"web\" not found"
    );
    assert_eq!(no_previous.json()["reason"], "BadRequest");
    let which = text("").await;
    assert_eq!(which.status, 400);
    assert_eq!(
        which.json()["message"],
        "a container name must be specified for pod web, choose one of: [app sidecar]"
    );
    assert_eq!(text("container=nope").await.status, 400);

    let pods: Api<Pod> = Api::namespaced(client, "blueking");
    let logs = pods
        .logs(
            "web",
            &kube::api::LogParams {
                container: Some("app".into()),
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(logs, "three\n");
}

/// Between restarts of a crash loop a real kubelet (recorded-kubelet/b-crashloop) no longer has the
/// previous instance's log and says so with status 200, naming `lastState`'s container.
#[tokio::test]
async fn a_restarted_container_without_a_previous_log_is_answered_as_the_kubelet_does() {
    let id = "containerd://ab67a1fe58fd13f005e34e4a7186cb16e41410a36bade711e1a576eff41b6e7a";
    let server = FakeApi::new()
        .object(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "gw", "namespace": "blueking"},
            "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "gateway"}]},
            "status": {
                "initContainerStatuses": [{"name": "init", "restartCount": 0, "lastState": {}}],
                "containerStatuses": [{"name": "gateway", "restartCount": 5,
                    "lastState": {"terminated": {"containerID": id, "exitCode": 1, "reason": "Error"}},
                    "state": {"terminated": {"containerID": "containerd://70db", "exitCode": 1, "reason": "Error"}}}]},
        }))
        .log("blueking", "gw", "gateway", false, "nginx: [emerg] socket() [::]:80 failed\n")
        .start();
    let (client, _dir) = client(&server).await;
    let path = "/api/v1/namespaces/blueking/pods/gw/log";
    let previous = get(
        &client,
        &format!("{path}?container=gateway&previous=true"),
        None,
    )
    .await;
    assert_eq!(previous.status, 200);
    assert_eq!(
        previous.body,
        format!("unable to retrieve container logs for {id}")
    );
    let current = get(&client, &format!("{path}?container=gateway"), None).await;
    assert_eq!(current.body, "nginx: [emerg] socket() [::]:80 failed\n");
    // Never restarted: no previous container at all, the kubelet's 400.
    let init = get(
        &client,
        &format!("{path}?container=init&previous=true"),
        None,
    )
    .await;
    assert_eq!(init.status, 400);
}

#[tokio::test]
async fn writes_are_refused_and_recorded() {
    let server = FakeApi::new().start();
    let (client, _dir) = client(&server).await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    match pods.delete("x", &DeleteParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 405),
        other => panic!("{other:?}"),
    }
    let writes = server.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, "DELETE");
    assert_eq!(writes[0].path, "/api/v1/namespaces/default/pods/x");
    assert_eq!(writes[0].status, 405);
}

#[tokio::test]
async fn pod_logs_are_the_bytes_the_container_wrote() {
    use http_body_util::BodyExt;
    let server = FakeApi::new()
        .object(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "blueking"},
            "spec": {"containers": [{"name": "app"}]},
        }))
        .log("blueking", "web", "app", true, b"a\r\n\xff\xfe\0b\r\nc\r\n")
        .start();
    let (client, _dir) = client(&server).await;
    let req = http::Request::get(
        "/api/v1/namespaces/blueking/pods/web/log?container=app&previous=true&tailLines=2",
    )
    .body(Vec::new())
    .unwrap();
    let res = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"\xff\xfe\0b\r\nc\r\n");
}

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
async fn kubelet_unreachable_gives_the_recorded_500() {
    let server = FakeApi::new()
        .kubelet_unreachable("blueking", "bk-repo-bkrepo-gateway-0")
        .start();
    let (client, _dir) = client(&server).await;
    let r = get(
        &client,
        "/api/v1/namespaces/blueking/pods/bk-repo-bkrepo-gateway-0/log?container=gateway&previous=true&tailLines=200",
        None,
    )
    .await;
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("recorded/error-pod-log-kubelet-unreachable.txt"),
    )
    .unwrap();
    let (body, code) = text.trim_end().rsplit_once('\n').unwrap();
    assert_eq!(r.status.to_string(), code);
    assert_eq!(r.json(), serde_json::from_str::<Value>(body).unwrap());
}

#[tokio::test]
async fn cluster_info_dump_is_served() {
    let server = FakeApi::new()
        .load_dir(fixture("cluster-info-dump"))
        .start();
    let (client, _dir) = client(&server).await;
    let nodes: Api<Node> = Api::all(client.clone());
    assert!(
        !nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let pods: Api<Pod> = Api::namespaced(client, "blueking");
    let pod = pods.get("bk-paas-apiserver-6c9f7d8b4-x2k9p").await.unwrap();
    let container = pod.spec.unwrap().containers[0].name.clone();
    let log = pods
        .logs(
            "bk-paas-apiserver-6c9f7d8b4-x2k9p",
            &kube::api::LogParams {
                container: Some(container),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!log.is_empty());
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

#[tokio::test]
async fn expired_continue_token_is_410() {
    let server = FakeApi::new()
        .objects([helm_secrets()])
        .fault(Fault::continue_expired().times(1))
        .start();
    let (client, _dir) = client(&server).await;
    let secrets: Api<Secret> = Api::all(client);
    let first = secrets.list(&ListParams::default().limit(2)).await.unwrap();
    let token = first.metadata.continue_.unwrap();
    match secrets
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 410);
            assert_eq!(s.reason, "Expired");
        }
        other => panic!("{other:?}"),
    }
    // Once: the same token works on a retry.
    let again = secrets
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(again.items.len(), 2);
}

#[tokio::test]
async fn events_are_served_by_both_apis() {
    let server = FakeApi::new()
        .object(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "bk-consul-0.1", "namespace": "blueking"},
            "involvedObject": {"kind": "Pod", "name": "bk-consul-0", "namespace": "blueking"},
            "reason": "BackOff", "message": "Back-off restarting failed container",
            "type": "Warning", "count": 12,
            "firstTimestamp": "2026-11-20T10:00:00Z", "lastTimestamp": "2026-11-20T10:59:00Z",
        }))
        .start();
    let (client, _dir) = client(&server).await;
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "blueking");
    let core = core.list(&ListParams::default()).await.unwrap();
    assert!(!core.items.is_empty());
    let v1: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client, "blueking");
    let v1 = v1.list(&ListParams::default()).await.unwrap();
    assert_eq!(v1.items.len(), core.items.len());
    assert_eq!(v1.items[0].note, core.items[0].message);
    assert_eq!(v1.items[0].deprecated_count, Some(12));
    assert_eq!(
        v1.items[0].regarding.as_ref().unwrap().name,
        core.items[0].involved_object.name
    );
}

#[tokio::test]
async fn forbidding_logs_leaves_pods_readable() {
    let server = FakeApi::new()
        .load_dir(fixture("pending-upgrade"))
        .forbid("pods/log", Some("blueking"))
        .start();
    let (client, _dir) = client(&server).await;
    let pods: Api<Pod> = Api::namespaced(client, "blueking");
    let list = pods.list(&ListParams::default()).await.unwrap();
    let name = list.items[0].metadata.name.clone().unwrap();
    match pods.logs(&name, &Default::default()).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 403);
            assert_eq!(
                s.message,
                format!(
                    "pods \"{name}\" is forbidden: User \"system:serviceaccount:default:viewer\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"blueking\""
                )
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_project_fixture_loads() {
    let root = fixture("");
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let server = FakeApi::new().load_dir(&dir).start();
        let warnings = server.load_warnings();
        if dir.ends_with("corrupt") {
            assert!(!warnings.is_empty());
        } else {
            assert!(warnings.is_empty(), "{}: {warnings:?}", dir.display());
        }
    }
}

#[tokio::test]
async fn namespaces_exist_for_what_they_hold() {
    let server = FakeApi::new().load_dir(fixture("healthy")).start();
    let (client, _dir) = client(&server).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.metadata.name.unwrap())
        .collect();
    for ns in ["blueking", "default", "kube-node-lease", "kube-system"] {
        assert!(names.contains(&ns.to_string()), "{names:?}");
    }
    let blueking = namespaces.get("blueking").await.unwrap();
    assert_eq!(blueking.status.unwrap().phase.as_deref(), Some("Active"));

    let bare = FakeApi::new().without_implicit_namespaces().start();
    let (bare_client, _bare_dir) = common::client(&bare).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(bare_client);
    assert!(
        namespaces
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// The extension point issue 5 builds on: a handler creates, advances and deletes probe pods
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
