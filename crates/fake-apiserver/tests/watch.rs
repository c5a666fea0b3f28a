//! Watches as kube-apiserver's watch cache serves them: resuming from a resourceVersion, `410
//! Gone` once that version is compacted away, bookmarks, metadata-only events, every stream ended
//! at once; and kube's own `runtime::watcher` relisting through a 410 without losing a change.

mod common;

use std::time::Duration;

use common::{client, get};
use fake_apiserver::{FakeApi, FakeApiServer};
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{Value, json};

fn pod(name: &str, phase: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "blueking",
                     "creationTimestamp": "2026-11-20T08:00:00Z"},
        "spec": {"containers": [{"name": "app", "image": "hub.bktencent.com/blueking/app:1.0"}]},
        "status": {"phase": phase},
    })
}

/// The event lines a watch sends in `wait`, then the watch is dropped.
async fn events(
    client: &kube::Client,
    uri: &str,
    accept: Option<&str>,
    wait: Duration,
) -> Vec<Value> {
    let mut req = http::Request::get(uri);
    if let Some(a) = accept {
        req = req.header(http::header::ACCEPT, a);
    }
    let resp = client
        .send(req.body(Vec::new()).unwrap().map(Into::into))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut text = Vec::new();
    let _ = tokio::time::timeout(wait, async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(d) = frame.data_ref() {
                text.extend_from_slice(d);
            }
        }
    })
    .await;
    String::from_utf8(text)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn list_rv(server: &FakeApiServer) -> u64 {
    server.with_objects(|o| {
        o.get("", "pods", Some("blueking"), "bk-repo-0")
            .map_or(0, |p| {
                p["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
    })
}

#[tokio::test]
async fn a_watch_resumes_after_the_version_it_was_given() {
    let server = FakeApi::new().object(pod("bk-repo-0", "Pending")).start();
    let (client, _dir) = client(&server).await;
    let listed = get(&client, "/api/v1/namespaces/blueking/pods", None).await;
    let from = listed.json()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    server.add_objects([pod("bk-repo-0", "Running"), pod("bk-repo-1", "Pending")]);
    let seen = events(
        &client,
        &format!("/api/v1/namespaces/blueking/pods?watch=true&resourceVersion={from}"),
        None,
        Duration::from_millis(500),
    )
    .await;
    let kinds: Vec<(&str, &str)> = seen
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("MODIFIED", "bk-repo-0"), ("ADDED", "bk-repo-1")]);
    // Resuming from the newest of them sends nothing again.
    let last = seen[1]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap();
    let again = events(
        &client,
        &format!("/api/v1/namespaces/blueking/pods?watch=true&resourceVersion={last}"),
        None,
        Duration::from_millis(300),
    )
    .await;
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_compacted_version_is_410_gone_in_the_stream() {
    let server = FakeApi::new().object(pod("bk-repo-0", "Pending")).start();
    let (client, _dir) = client(&server).await;
    let from = list_rv(&server);
    server.add_objects([pod("bk-repo-0", "Running")]);
    server.with_objects(|o| o.compact());
    let seen = events(
        &client,
        &format!("/api/v1/pods?watch=true&resourceVersion={from}&allowWatchBookmarks=true"),
        None,
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["type"], "ERROR");
    let status = &seen[0]["object"];
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Expired");
    assert_eq!(status["code"], 410);
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("too old resource version: {from} (")),
        "{message}"
    );
}

#[tokio::test]
async fn ending_the_watches_ends_every_stream_after_what_it_had_to_send() {
    let server = FakeApi::new().object(pod("bk-repo-0", "Pending")).start();
    let (client, _dir) = client(&server).await;
    let from = list_rv(&server);
    let uri = format!("/api/v1/namespaces/blueking/pods?watch=true&resourceVersion={from}");
    let started = std::time::Instant::now();
    let watching = {
        let client = client.clone();
        tokio::spawn(async move { events(&client, &uri, None, Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.add_objects([pod("bk-repo-0", "Running")]);
    server.with_objects(|o| o.end_watches());
    let seen = watching.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the stream ended"
    );
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["type"], "MODIFIED");
    assert_eq!(seen[0]["object"]["status"]["phase"], "Running");
    // A watch started after it hears changes as before.
    let from = list_rv(&server);
    let uri = format!("/api/v1/namespaces/blueking/pods?watch=true&resourceVersion={from}");
    let watching = {
        let client = client.clone();
        tokio::spawn(async move { events(&client, &uri, None, Duration::from_millis(800)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.add_objects([pod("bk-repo-1", "Pending")]);
    let seen = watching.await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["type"], "ADDED");
}

#[tokio::test]
async fn bookmarks_carry_the_newest_version_and_only_when_allowed() {
    let server = FakeApi::new().object(pod("bk-repo-0", "Pending")).start();
    server.with_objects(|o| o.bookmark_every(Duration::from_millis(100)));
    let (client, _dir) = client(&server).await;
    let from = list_rv(&server);
    // A change elsewhere moves the bookmark's version on without an event for this watch.
    server.add_objects([json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "other", "namespace": "default"}})]);
    let uri = format!("/api/v1/pods?watch=true&resourceVersion={from}");
    let seen = events(
        &client,
        &format!("{uri}&allowWatchBookmarks=true"),
        None,
        Duration::from_millis(450),
    )
    .await;
    assert!(seen.len() >= 2, "{seen:?}");
    for e in &seen {
        assert_eq!(e["type"], "BOOKMARK");
        assert_eq!(e["object"]["kind"], "Pod");
        assert_eq!(e["object"]["apiVersion"], "v1");
        assert_eq!(
            e["object"]["metadata"]["resourceVersion"],
            (from + 1).to_string()
        );
    }
    let without = events(&client, &uri, None, Duration::from_millis(300)).await;
    assert!(without.is_empty(), "{without:?}");
}

#[tokio::test]
async fn a_metadata_only_watch_sends_partial_objects() {
    let server = FakeApi::new().start();
    let (client, _dir) = client(&server).await;
    let accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
    let watching = tokio::spawn({
        let client = client.clone();
        async move {
            events(
                &client,
                "/api/v1/secrets?watch=true&labelSelector=owner%3Dhelm",
                Some(accept),
                Duration::from_millis(600),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.add_objects([json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.bk-repo.v1", "namespace": "blueking",
                     "labels": {"owner": "helm", "name": "bk-repo", "status": "pending-install", "version": "1"}},
        "data": {"release": "c2VjcmV0"}})]);
    let seen = watching.await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let o = &seen[0]["object"];
    assert_eq!(o["kind"], "PartialObjectMetadata");
    assert_eq!(o["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(o["metadata"]["labels"]["status"], "pending-install");
    assert!(o.get("data").is_none());
}

#[tokio::test]
async fn kubes_watcher_relists_after_410_and_loses_nothing() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::watcher::{self, Event};
    let server = FakeApi::new().object(pod("bk-repo-0", "Pending")).start();
    let (client, _dir) = client(&server).await;
    let api: kube::Api<Pod> = kube::Api::namespaced(client, "blueking");
    // Without bookmarks, and a watch the server ends after a second: the watcher comes back with
    // the version of the last pod it saw, which the compaction below has made too old.
    let config = watcher::Config::default().timeout(1).disable_bookmarks();
    let mut stream = watcher::watcher(api, config).boxed();
    let mut phases = std::collections::BTreeMap::new();
    let (mut lists, mut gone, mut compacted, mut changed) = (0, 0, false, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
            Ok(Some(Ok(Event::Init))) => lists += 1,
            Ok(Some(Ok(Event::InitApply(p) | Event::Apply(p)))) => {
                let name = p.metadata.name.clone().unwrap();
                phases.insert(name, p.status.and_then(|s| s.phase).unwrap());
            }
            Ok(Some(Ok(Event::Delete(p)))) => {
                phases.remove(p.metadata.name.as_deref().unwrap());
            }
            Ok(Some(Ok(Event::InitDone))) if lists == 1 && !compacted => {
                server.add_objects([json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "elsewhere", "namespace": "default"}})]);
                server.with_objects(|o| o.compact());
                compacted = true;
            }
            Ok(Some(Ok(Event::InitDone))) if lists == 2 && !changed => {
                server.add_objects([pod("bk-repo-0", "Running"), pod("bk-repo-1", "Pending")]);
                changed = true;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) if format!("{e:?}").contains("410") => gone += 1,
            Ok(Some(Err(e))) => panic!("{e:?}"),
            Ok(None) => break,
            Err(_) => {}
        }
        if changed && phases.len() == 2 && phases["bk-repo-0"] == "Running" {
            break;
        }
    }
    assert_eq!(gone, 1, "one 410, then a relist");
    assert_eq!(lists, 2);
    assert_eq!(phases.get("bk-repo-0").map(String::as_str), Some("Running"));
    assert_eq!(phases.get("bk-repo-1").map(String::as_str), Some("Pending"));
}
