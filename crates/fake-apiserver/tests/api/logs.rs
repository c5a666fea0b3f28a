//! Pod logs as the kubelet serves them through the API server: bytes, tails, previous instances,
//! the kubelet out of reach, and RBAC on `pods/log` apart from `pods`.

use crate::common::{client, fixture, get};
use fake_apiserver::FakeApi;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

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
