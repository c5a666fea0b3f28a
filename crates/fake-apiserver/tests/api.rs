//! The fake answers as the real kube-apiserver: compared with the recordings in `recorded/`, and
//! through the real kube client.

mod common;
#[path = "api/logs.rs"]
mod logs;
#[path = "api/serving.rs"]
mod serving;

use common::{METADATA_ACCEPT, client, client_from, fixture, get, recorded};
use fake_apiserver::{Auth, FakeApi, Fault};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};

/// A recorded answer with what the fake cannot know left out: when each manager last wrote (the
/// fake has only the objects' own times, to the second).
fn without_write_times(mut v: Value) -> Value {
    for i in v["items"].as_array_mut().into_iter().flatten() {
        for e in i["metadata"]["managedFields"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            e.as_object_mut().unwrap().remove("time");
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
        without_write_times(page1.json()),
        without_write_times(recorded("secrets-metadata-page1.json"))
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
        without_write_times(page2.json()),
        without_write_times(recorded("secrets-metadata-page2.json"))
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
