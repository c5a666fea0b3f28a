//! The watch benchmark: `kubectl-bkdoctor watch -A -o json` (the release binary) following a
//! synthetic BlueKing cluster served by the fake API server, while pods change at a steady rate.
//!
//!     cargo bench --bench watch                                  # 1,000 releases, 5,000 pods, 20 changes/s
//!     cargo bench --bench watch -- --releases 100 --pods 500 --quiet 10s --load 10s
//!
//! Measures, in order: a quiet spell (the CPU of doing nothing, scaled to a minute); then the load
//! (`--rate` pod status changes a second for `--load`), during which one healthy pod a second is
//! made unable to pull its image and the time from that write on the server to the printed finding
//! is taken (the finding latency); the CPU per change; the peak resident set over the whole run.
//! Prints a Markdown table (BENCHMARKS.md holds the measured one). CPU is the child's own
//! (utime + stime from /proc), peak memory its VmHWM.

#[path = "support/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use synthetic::Shape;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-bkdoctor");

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn secs(s: &str) -> Duration {
    Duration::from_secs(
        s.trim_end_matches('s')
            .parse()
            .expect("a number of seconds"),
    )
}

/// utime + stime of a process, in seconds.
fn cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn hwm_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0)
}

fn with_waiting(pod: &Value, reason: &str, image: &str, message: &str) -> Value {
    let mut p = pod.clone();
    p["spec"]["containers"][0]["image"] = Value::String(image.into());
    p["status"]["phase"] = "Pending".into();
    p["status"]["conditions"] =
        serde_json::json!([{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]);
    p["status"]["containerStatuses"] = serde_json::json!([{"name": "app", "ready": false,
        "started": false, "restartCount": 0, "image": image, "imageID": "",
        "state": {"waiting": {"reason": reason, "message": message}}}]);
    p
}

fn main() {
    let shape = Shape {
        releases: arg("--releases").map_or(1000, |v| v.parse().unwrap()),
        revisions: 10,
        pods: arg("--pods").map_or(5000, |v| v.parse().unwrap()),
        nodes: 50,
    };
    let rate: u64 = arg("--rate").map_or(20, |v| v.parse().unwrap());
    let quiet = arg("--quiet").map_or(Duration::from_secs(60), |v| secs(&v));
    let load = arg("--load").map_or(Duration::from_secs(30), |v| secs(&v));
    let t = Instant::now();
    let cluster = synthetic::generate(shape);
    eprintln!(
        "generated {} objects in {:.1?}",
        cluster.objects.len(),
        t.elapsed()
    );
    let failing: std::collections::BTreeSet<(String, String)> =
        cluster.failing_pods.iter().cloned().collect();
    let healthy: Vec<Value> = cluster
        .objects
        .iter()
        .filter(|o| o["kind"] == "Pod")
        .filter(|o| {
            let m = &o["metadata"];
            !failing.contains(&(
                m["namespace"].as_str().unwrap_or("").to_string(),
                m["name"].as_str().unwrap_or("").to_string(),
            ))
        })
        .cloned()
        .collect();
    let server = cluster.into_server().start();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig_with_token(tmp.path().join("config"));

    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args([
            "watch",
            "-A",
            "-o",
            "json",
            "--timeout",
            "0",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .env("LANG", "C")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    // Each pod's finding, when it was read.
    let found: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let ready = Arc::new(Mutex::new(None::<Instant>));
    {
        let (found, ready) = (found.clone(), ready.clone());
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut copy =
                std::env::var_os("WATCH_BENCH_OUT").map(|p| std::fs::File::create(p).unwrap());
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let now = Instant::now();
                if let Some(f) = copy.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(f, "{line}");
                }
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                ready.lock().unwrap().get_or_insert(now);
                if v["event"] == "found" && v["finding"]["rule"] == "image-pull-failed" {
                    let object = v["finding"]["object"].as_str().unwrap_or("").to_string();
                    found.lock().unwrap().insert(object, now);
                }
            }
        });
    }
    let settle = Instant::now() + Duration::from_secs(600);
    // Ready: the first findings printed, then the feeds' lists done (quiet for a few seconds).
    while ready.lock().unwrap().is_none() && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(50));
    }
    let startup = ready
        .lock()
        .unwrap()
        .map_or(started.elapsed(), |r| r - started);
    // The feeds' own lists after the first report: let them finish before measuring quiet.
    std::thread::sleep(Duration::from_secs(10));
    let startup_cpu = cpu(pid);
    let startup_mib = hwm_mib(pid);
    eprintln!("watching after {startup:.1?} ({startup_cpu:.1} s CPU, {startup_mib:.0} MiB)");

    let c0 = cpu(pid);
    std::thread::sleep(quiet);
    let quiet_cpu = (cpu(pid) - c0) * 60.0 / quiet.as_secs_f64();
    eprintln!("quiet: {quiet_cpu:.2} s CPU a minute");

    let c1 = cpu(pid);
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let load_end = Instant::now() + load;
    let mut changes = 0usize;
    let mut written: Vec<(String, Instant)> = Vec::new();
    let mut next_fail = Instant::now();
    let mut i = 0usize;
    while Instant::now() < load_end {
        let tick = Instant::now();
        let pod = &healthy[i % healthy.len()];
        i += 1;
        if tick >= next_fail && written.len() < healthy.len() / 2 {
            next_fail = tick + Duration::from_secs(1);
            let name = pod["metadata"]["name"].as_str().unwrap().to_string();
            let image = format!("hub.bktencent.com/blueking/missing-{i}:0.0.0");
            let message = format!(
                "rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": {image}: not found"
            );
            server.add_objects([with_waiting(pod, "ErrImagePull", &image, &message)]);
            written.push((format!("pod/{name}"), Instant::now()));
        } else {
            // A status change the rules see and nothing comes of: the pod's IP list refreshed.
            let mut p = pod.clone();
            p["status"]["podIPs"] =
                serde_json::json!([{"ip": format!("10.244.{}.{}", i % 250, i % 200)}]);
            server.add_objects([p]);
        }
        changes += 1;
        if let Some(rest) = every.checked_sub(tick.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    std::thread::sleep(Duration::from_secs(5));
    let load_cpu = cpu(pid) - c1;
    let peak = hwm_mib(pid);
    if std::env::var_os("WATCH_BENCH_DEBUG").is_some() {
        for r in server.requests() {
            eprintln!("{} {} {}?{}", r.status, r.method, r.path, r.query);
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    let found = found.lock().unwrap();
    let mut latencies: Vec<f64> = written
        .iter()
        .filter_map(|(o, at)| {
            found
                .get(o)
                .map(|seen| seen.duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let missed = written.len() - latencies.len();
    let median = latencies
        .get(latencies.len() / 2)
        .copied()
        .unwrap_or(f64::NAN);
    let worst = latencies.last().copied().unwrap_or(f64::NAN);
    println!(
        "| releases | pods | changes/s | first report | finding latency median / worst | missed | CPU per change | CPU of a quiet minute | peak memory |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {rate} | {:.1} s ({startup_cpu:.1} s CPU by +10 s) | {median:.0} ms / {worst:.0} ms | {missed} of {} | {:.2} ms | {quiet_cpu:.2} s | {peak:.0} MiB (target 200) |",
        shape.releases,
        shape.pods,
        startup.as_secs_f64(),
        written.len(),
        load_cpu * 1000.0 / changes.max(1) as f64,
    );
}
