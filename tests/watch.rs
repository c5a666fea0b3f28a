//! `watch` through the real binary against the fake API server while a scripted deployment
//! changes the cluster: a release's new revision starts, its pod cannot pull its image (printed
//! once, with its fix, as fatal), the image is fixed and the finding clears, the release settles
//! and the watch ends; the same through an API server restart with its history compacted. And
//! `watch -- COMMAND`: the command's output and exit status pass through, and its failure is
//! explained.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Live, command, serve};
use fake_apiserver::FakeApi;
use kubectl_bkdoctor::helm::decode::encode;
use serde_json::{Value, json};

const NS: &str = "blueking";
const IMAGE: &str = "hub.bktencent.com/blueking/bk-repo-gateway:9.9.9";

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn release(rev: u32, status: &str) -> Value {
    let release = json!({
        "name": "bk-repo", "namespace": NS, "version": rev,
        "info": {"status": status, "description": if status == "deployed" {"Upgrade complete"} else {"Preparing upgrade"},
                 "first_deployed": "2026-11-01T00:00:00Z", "last_deployed": now()},
        "chart": {"metadata": {"name": "bk-repo", "version": "1.4.2", "appVersion": "1.4.2"}},
    });
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.bk-repo.v{rev}"), "namespace": NS,
                     "creationTimestamp": now(),
                     "labels": {"owner": "helm", "name": "bk-repo", "status": status,
                                "version": rev.to_string(),
                                "modifiedAt": jiff::Timestamp::now().as_second().to_string()}},
        "data": {"release": STANDARD.encode(encode(release.to_string().as_bytes()))},
    })
}

fn node() -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1", "creationTimestamp": "2026-11-01T00:00:00Z",
                     "labels": {"kubernetes.io/hostname": "node-1"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "lastHeartbeatTime": now(), "lastTransitionTime": "2026-11-01T00:00:00Z"}],
                   "addresses": [{"type": "InternalIP", "address": "10.0.0.12"}]}})
}

fn deployment(ready: i32) -> Value {
    let mut status = json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1});
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(ready);
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bk-repo-gateway", "namespace": NS, "generation": 2,
                     "creationTimestamp": "2026-11-01T00:00:00Z",
                     "labels": {"app.kubernetes.io/instance": "bk-repo", "app.kubernetes.io/managed-by": "Helm"},
                     "annotations": {"meta.helm.sh/release-name": "bk-repo", "meta.helm.sh/release-namespace": NS}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bk-repo-gateway"}}},
        "status": status})
}

/// The gateway's pod: `reason` waiting (with the kubelet's message), or running and ready.
fn pod(reason: Option<(&str, &str)>) -> Value {
    let (state, ready) = match reason {
        Some((r, m)) => (json!({"waiting": {"reason": r, "message": m}}), false),
        None => (json!({"running": {"startedAt": now()}}), true),
    };
    let image = if ready {
        "hub.bktencent.com/blueking/bk-repo-gateway:1.4.2"
    } else {
        IMAGE
    };
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "bk-repo-gateway-7d9f6c5b4-x2k8p", "namespace": NS,
                     "creationTimestamp": now(),
                     "labels": {"app": "bk-repo-gateway", "app.kubernetes.io/instance": "bk-repo"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": "bk-repo-gateway-7d9f6c5b4", "uid": "6f1d0c8e-3b2a-4c61-9d7e-2f4a5b6c7d8e", "controller": true}]},
        "spec": {"nodeName": "node-1", "containers": [{"name": "gateway", "image": image}]},
        "status": {"phase": if ready {"Running"} else {"Pending"}, "podIP": "10.244.1.17",
            "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
            "containerStatuses": [{"name": "gateway", "image": image, "imageID": "", "ready": ready,
                                   "restartCount": 0, "started": ready, "state": state}]}})
}

/// The binary's output lines as they come, and the process.
fn spawn(live: &Live, args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut argv = vec!["watch", "--kubeconfig", live.kc()];
    argv.extend(args);
    let mut child = command(&argv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    (child, rx)
}

/// Reads lines until one contains `text`; every line read is kept in `seen`.
fn wait_for(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let found = line.contains(text);
            seen.push(line);
            if found {
                return;
            }
        }
    }
    panic!("no line with {text:?} in:\n{}", seen.join("\n"));
}

#[test]
fn a_deployment_is_followed_from_start_to_settled() {
    let live =
        serve(FakeApi::new().objects([node(), release(1, "deployed"), deployment(1), pod(None)]));
    let (mut child, rx) = spawn(
        &live,
        &["-n", NS, "--release", "bk-repo", "--timeout", "1m"],
    );
    let mut seen = Vec::new();
    wait_for(&rx, &mut seen, "watching blueking");

    live.server
        .add_objects([release(2, "pending-upgrade"), deployment(0)]);
    wait_for(&rx, &mut seen, "bk-repo: upgrade to revision 2 started");
    let message = format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{IMAGE}\": failed to resolve reference \"{IMAGE}\": {IMAGE}: not found"
    );
    live.server
        .add_objects([pod(Some(("ErrImagePull", &message)))]);
    wait_for(&rx, &mut seen, "fatal: this will not heal by itself");
    // The kubelet backs off: the same finding, not a new one.
    let backoff = format!("Back-off pulling image \"{IMAGE}\"");
    live.server
        .add_objects([pod(Some(("ImagePullBackOff", &backoff)))]);
    std::thread::sleep(Duration::from_millis(1500));

    live.server.add_objects([pod(None), deployment(1)]);
    wait_for(
        &rx,
        &mut seen,
        "cleared: image-pull-failed on pod/bk-repo-gateway-7d9f6c5b4-x2k8p",
    );
    live.server
        .add_objects([release(1, "superseded"), release(2, "deployed")]);
    wait_for(&rx, &mut seen, "bk-repo: revision 2 deployed");

    let status = wait_exit(&mut child);
    seen.extend(rx.try_iter());
    let text = seen.join("\n");
    assert_eq!(status, Some(0), "{text}");
    let headings = seen
        .iter()
        .filter(|l| l.contains("· image-pull-failed ·"))
        .count();
    assert_eq!(headings, 1, "printed once:\n{text}");
    assert!(text.contains(IMAGE), "{text}");
    assert!(
        text.contains("kubectl delete pod -n blueking bk-repo-gateway-7d9f6c5b4-x2k8p"),
        "the fix:\n{text}"
    );
    assert!(text.contains("nothing wrong found"), "{text}");
}

const REPOSITORY: &str = "bk-repo-repository-5c8d7b9f6-q4m2n";

/// The repository's pod: no node takes it (its nodeSelector matches none), or running on node-1.
fn repository_pod(scheduled: bool) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": REPOSITORY, "namespace": NS, "creationTimestamp": now(),
                     "labels": {"app": "bk-repo-repository", "app.kubernetes.io/instance": "bk-repo"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": "bk-repo-repository-5c8d7b9f6", "uid": "0b7e4d2a-91c3-4f5e-8a6d-3c2b1a0f9e8d", "controller": true}]},
        "spec": {"nodeSelector": {"disktype": "ssd"},
                 "containers": [{"name": "repository", "image": "hub.bktencent.com/blueking/bk-repo-repository:1.4.2"}]},
        "status": {"phase": "Pending", "qosClass": "BestEffort",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "lastTransitionTime": now(),
                "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."}]}});
    if scheduled {
        p["spec"]["nodeSelector"] = json!({});
        p["spec"]["nodeName"] = json!("node-1");
        p["status"] = json!({"phase": "Running", "podIP": "10.244.1.18", "qosClass": "BestEffort",
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "repository", "image": "hub.bktencent.com/blueking/bk-repo-repository:1.4.2",
                "imageID": "", "ready": true, "restartCount": 0, "started": true,
                "state": {"running": {"startedAt": now()}}}]});
    }
    p
}

/// The API server restarts mid-deployment with its history compacted: every watch ends, and
/// resuming from the last version it saw is `410 Gone`. A pod that fails meanwhile is still
/// found (by the relist), and the finding already printed is not printed again.
#[test]
fn a_dropped_watch_and_410_gone_neither_repeat_nor_lose_a_finding() {
    let live =
        serve(FakeApi::new().objects([node(), release(1, "deployed"), deployment(1), pod(None)]));
    let (mut child, rx) = spawn(
        &live,
        &["-n", NS, "--release", "bk-repo", "--timeout", "1m"],
    );
    let mut seen = Vec::new();
    wait_for(&rx, &mut seen, "watching blueking");
    live.server
        .add_objects([release(2, "pending-upgrade"), deployment(0)]);
    wait_for(&rx, &mut seen, "bk-repo: upgrade to revision 2 started");
    let message = format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{IMAGE}\": failed to resolve reference \"{IMAGE}\": {IMAGE}: not found"
    );
    live.server
        .add_objects([pod(Some(("ErrImagePull", &message)))]);
    wait_for(&rx, &mut seen, "· image-pull-failed ·");

    // A change nobody here watches moves the server past every version the watches have seen,
    // so the compaction below leaves each of them too old to resume from.
    live.server
        .add_objects([json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "elsewhere", "namespace": "default", "creationTimestamp": now()}})]);
    live.server.with_objects(|o| {
        o.end_watches();
        o.compact();
    });
    // While the watches are down: a second pod no node takes.
    live.server.add_objects([repository_pod(false)]);
    wait_for(&rx, &mut seen, "410 Gone");
    wait_for(&rx, &mut seen, "· pod-unschedulable ·");
    // Relisted with the image still failing: the same finding, not a new one.
    std::thread::sleep(Duration::from_millis(1500));

    live.server.add_objects([pod(None), deployment(1)]);
    wait_for(
        &rx,
        &mut seen,
        "cleared: image-pull-failed on pod/bk-repo-gateway-7d9f6c5b4-x2k8p",
    );
    live.server.add_objects([repository_pod(true)]);
    wait_for(
        &rx,
        &mut seen,
        &format!("cleared: pod-unschedulable on pod/{REPOSITORY}"),
    );
    live.server
        .add_objects([release(1, "superseded"), release(2, "deployed")]);
    wait_for(&rx, &mut seen, "bk-repo: revision 2 deployed");

    let status = wait_exit(&mut child);
    seen.extend(rx.try_iter());
    let text = seen.join("\n");
    assert_eq!(status, Some(0), "{text}");
    let count = |needle: &str| seen.iter().filter(|l| l.contains(needle)).count();
    for needle in [
        "· image-pull-failed ·",
        "· pod-unschedulable ·",
        "cleared: image-pull-failed",
        "cleared: pod-unschedulable",
    ] {
        assert_eq!(count(needle), 1, "{needle:?} once:\n{text}");
    }
    assert!(text.contains("nothing wrong found"), "{text}");
}

fn wait_exit(child: &mut std::process::Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("watch did not end");
}

#[test]
fn json_lines_one_event_each() {
    let live =
        serve(FakeApi::new().objects([node(), release(1, "deployed"), deployment(1), pod(None)]));
    let (mut child, rx) = spawn(&live, &["-n", NS, "--release", "bk-repo", "-o", "json"]);
    let mut seen = Vec::new();
    wait_for(&rx, &mut seen, "\"note\"");
    seen.clear();
    live.server.add_objects([release(2, "pending-upgrade")]);
    wait_for(&rx, &mut seen, "\"started\"");
    live.server
        .add_objects([release(1, "superseded"), release(2, "deployed")]);
    wait_for(&rx, &mut seen, "\"settled\"");
    assert_eq!(wait_exit(&mut child), Some(0));
    seen.extend(rx.try_iter());
    let events: Vec<Value> = seen
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["started", "progress", "settled", "summary"],
        "{seen:?}"
    );
    assert_eq!(events[0]["revision"], 2);
    assert_eq!(events[0]["action"], "upgrade");
    assert_eq!(
        (&events[1]["ready"], &events[1]["total"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(events[2]["status"], "deployed");
    assert!(events.iter().all(|e| e["time"].is_string()));
}

#[test]
fn a_command_runs_through_and_its_failure_is_explained() {
    let live = serve(FakeApi::new().objects([node(), release(1, "deployed")]));
    let script = "echo 'Upgrading bk-repo'; echo 'Error: UPGRADE FAILED: \"bk-repo\" has no deployed releases' >&2; exit 3";
    let argv = [
        "watch",
        "--kubeconfig",
        live.kc(),
        "-n",
        NS,
        "--",
        "sh",
        "-c",
        script,
    ];
    let out = common::output(command(&argv));
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    // The command's standard output is its own, unchanged.
    assert_eq!(out.stdout, "Upgrading bk-repo\n", "{}", out.stderr);
    assert!(
        out.stderr.contains("Error: UPGRADE FAILED"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the command exited with status 3"),
        "{}",
        out.stderr
    );
    // explain's answer to the error it printed.
    assert!(
        out.stderr.contains("has no deployed releases"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Fix (run in order):"), "{}", out.stderr);
}

/// The scripted deployment alone, slowly, for a person to watch in a terminal (`--ignored`):
/// writes the kubeconfig to `$WATCH_DEMO_DIR/config`, waits for `$WATCH_DEMO_DIR/go`, then plays.
#[test]
#[ignore]
fn demo_for_a_terminal() {
    let dir = std::path::PathBuf::from(std::env::var("WATCH_DEMO_DIR").unwrap());
    let server = FakeApi::new()
        .objects([node(), release(1, "deployed"), deployment(1), pod(None)])
        .start();
    server.kubeconfig_with_token(dir.join("config"));
    while !dir.join("go").exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let step = || std::thread::sleep(Duration::from_secs(3));
    let message = format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{IMAGE}\": failed to resolve reference \"{IMAGE}\": {IMAGE}: not found"
    );
    server.add_objects([release(2, "pending-upgrade"), deployment(0)]);
    step();
    server.add_objects([pod(Some(("ErrImagePull", &message)))]);
    step();
    let backoff = format!("Back-off pulling image \"{IMAGE}\"");
    server.add_objects([pod(Some(("ImagePullBackOff", &backoff)))]);
    step();
    server.add_objects([pod(None), deployment(1)]);
    step();
    server.add_objects([release(1, "superseded"), release(2, "deployed")]);
    step();
}
