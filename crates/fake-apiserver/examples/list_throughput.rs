//! How fast the fake serves a big cluster, so tests can size their fixtures:
//! `cargo run -p fake-apiserver --example list_throughput [PODS]`.

use std::time::Instant;

use fake_apiserver::FakeApi;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::json;

fn pod(i: usize) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("bk-app-{i:05}"), "namespace": format!("ns-{}", i % 20),
            "labels": {"app.kubernetes.io/instance": format!("bk-{}", i % 50), "owner": "bench"},
            "creationTimestamp": "2026-11-20T09:00:00Z",
        },
        "spec": {"nodeName": format!("node-{}", i % 30), "containers": [
            {"name": "app", "image": "hub.bktencent.com/blueking/app:1.0", "resources": {}},
        ]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 0, "image": "app", "imageID": "", "state": {"running": {"startedAt": "2026-11-20T09:01:00Z"}}},
        ]},
    })
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let t = Instant::now();
    let server = FakeApi::new().objects((0..n).map(pod)).start();
    println!(
        "start with {n} pods (certificates included): {:?}",
        t.elapsed()
    );

    let dir = tempfile::tempdir().unwrap();
    let path = server.kubeconfig_with_token(dir.path().join("config"));
    let kc = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::all(client);

    for (what, metadata) in [("typed", false), ("metadata-only", true)] {
        let t = Instant::now();
        let mut params = ListParams::default().limit(500);
        let mut count = 0;
        let mut pages = 0;
        loop {
            let token = if metadata {
                let page = pods.list_metadata(&params).await.unwrap();
                count += page.items.len();
                page.metadata.continue_
            } else {
                let page = pods.list(&params).await.unwrap();
                count += page.items.len();
                page.metadata.continue_
            };
            pages += 1;
            match token {
                Some(c) if !c.is_empty() => params = params.continue_token(&c),
                _ => break,
            }
        }
        assert_eq!(count, n);
        println!(
            "{what} list of {n} pods in {pages} pages of 500: {:?}",
            t.elapsed()
        );
    }
}
