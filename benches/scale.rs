//! The scale benchmark: `kubectl-bkdoctor check -A` (the release binary) against a
//! synthetic BlueKing cluster served by the fake API server over loopback HTTPS, side by side with
//! the fetch `helm list -A -a` has to make and with `kubectl get pods -A -o json`.
//!
//!     cargo bench --bench scale                         # R = 100, 1000, 3000; 0 and 50 ms
//!     cargo bench --bench scale -- --releases 1000 --runs 5 --latency 50ms
//!     cargo bench --bench scale -- --releases 1000 --consistent-read   # also the paged reads
//!     cargo bench --bench scale -- --releases 1000 --free-reads        # etcd reads cost nothing
//!     cargo bench --bench scale -- --releases 1000 --connection-setup  # + TCP and TLS handshakes
//!     cargo bench --bench scale -- --releases 1000 --serve   # serve it; run anything against it
//!
//! The server charges reads as a real one does (a read from etcd waits for the bytes it scans,
//! the watch cache is free) unless `--free-reads`, and every request waits the `--latency`.
//! Prints a Markdown table (BENCHMARKS.md holds the measured one). Times are wall clock and noisy on
//! a shared machine; requests, bytes, waves and peak RSS are not.

#[path = "support/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_apiserver::{FakeApiServer, RecordedRequest};
use http_body_util::BodyExt;
use synthetic::Shape;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-bkdoctor");

struct Options {
    releases: Vec<usize>,
    revisions: u32,
    pods: usize,
    nodes: usize,
    runs: usize,
    /// Round trips to measure at: every request waits this long (loopback is 0).
    latencies: Vec<Duration>,
    /// Reads from etcd free, as before the fake server modelled their cost.
    free_reads: bool,
    /// A new connection costs two more round trips (TCP and TLS 1.3 handshakes).
    connection_setup: bool,
    /// Also run the doctor with `--consistent-read` (the paged etcd reads it falls back to).
    consistent_too: bool,
    /// Serve the first size and wait, printing the kubeconfig: for profiling the doctor by hand.
    serve: bool,
}

/// `50ms`, `0.1s`, `0`.
fn duration(s: &str) -> Duration {
    let (n, unit) = match s.strip_suffix("ms") {
        Some(n) => (n, 1e-3),
        None => (s.strip_suffix('s').unwrap_or(s), 1.0),
    };
    let n: f64 = n
        .parse()
        .unwrap_or_else(|_| panic!("--latency {s}: a duration like 50ms"));
    Duration::from_secs_f64(n * unit)
}

fn options() -> Options {
    let mut o = Options {
        releases: vec![100, 1000, 3000],
        revisions: 10,
        pods: 5000,
        nodes: 200,
        runs: 3,
        latencies: vec![Duration::ZERO, Duration::from_millis(50)],
        free_reads: false,
        connection_setup: false,
        consistent_too: false,
        serve: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| panic!("{a} needs a value"))
                .clone()
        };
        match a.as_str() {
            "--releases" => {
                o.releases = value()
                    .split(',')
                    .map(|r| r.parse().expect("--releases 100,1000"))
                    .collect()
            }
            "--revisions" => o.revisions = value().parse().expect("--revisions N"),
            "--pods" => o.pods = value().parse().expect("--pods N"),
            "--nodes" => o.nodes = value().parse().expect("--nodes N"),
            "--runs" => o.runs = value().parse().expect("--runs N"),
            "--latency" => o.latencies = value().split(',').map(duration).collect(),
            "--free-reads" => o.free_reads = true,
            "--connection-setup" => o.connection_setup = true,
            "--consistent-read" => o.consistent_too = true,
            "--serve" => o.serve = true,
            // cargo bench passes --bench to harness=false targets.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// What a client cost the server: counted by the server, so the three clients are measured alike.
#[derive(Default, Clone, Copy)]
struct Cost {
    requests: usize,
    bytes: u64,
    lists: usize,
    payloads: usize,
    logs: usize,
}

fn cost(requests: &[RecordedRequest]) -> Cost {
    let mut c = Cost::default();
    for r in requests {
        c.requests += 1;
        c.bytes += r.response_bytes;
        let storage = r.path.contains("/secrets") || r.path.contains("/configmaps");
        let metadata_only = r
            .accept
            .as_deref()
            .is_some_and(|a| a.contains("as=PartialObjectMetadata"));
        let helm_selected = r
            .param("labelSelector")
            .is_some_and(|s| s.split(',').any(|p| p.trim() == "owner=helm"));
        let named = r.path.contains("/secrets/") || r.path.contains("/configmaps/");
        if r.path.ends_with("/log") {
            c.logs += 1;
        } else if storage && !metadata_only && (named || helm_selected) {
            // Helm storage with its payload: one object by name, or a list of the needed ones.
            c.payloads += 1;
        } else if r.params.contains_key("limit") || r.params.contains_key("resourceVersion") {
            c.lists += 1;
        }
    }
    c
}

struct Measured {
    wall: Duration,
    /// What the child wrote to stderr (the doctor's `-v` summary).
    stderr: String,
    /// Peak resident set of the child (VmHWM).
    max_rss_kib: Option<u64>,
    cost: Cost,
}

/// Runs a child to completion, with its stdout read (and counted) so a pipe never blocks it.
fn run_child(server: &FakeApiServer, mut cmd: Command) -> Measured {
    server.clear_requests();
    let started = Instant::now();
    // Reaped by wait4 below.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let rss = watch_rss(child.id());
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let out = std::io::copy(&mut stdout, &mut std::io::sink()).unwrap_or(0);
    let status = wait4(child.id() as i32);
    let rss = rss.join().unwrap_or(None);
    let wall = started.elapsed();
    let err = err.join().unwrap_or_default();
    assert!(
        matches!(status, 0 | 1),
        "{cmd:?} exited {status}: {err}\n({out} bytes of stdout)"
    );
    Measured {
        wall,
        stderr: err,
        max_rss_kib: rss,
        cost: cost(&server.requests()),
    }
}

/// The child's exit code, reaped with `wait4` (`Child::wait` would do too; this keeps one path).
fn wait4(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: plain libc call for a pid we spawned and have not waited on.
    let r = unsafe { libc::wait4(pid, &mut status, 0, std::ptr::null_mut()) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    }
}

/// Peak RSS of a running child (KiB), read from `/proc/PID/status` every few milliseconds until
/// it exits. Not `wait4`'s `ru_maxrss`: a child spawned from this process, which holds the whole
/// synthetic cluster, inherits this process's high-water mark up to its `exec`.
fn watch_rss(pid: u32) -> std::thread::JoinHandle<Option<u64>> {
    std::thread::spawn(move || {
        let mut peak = None;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            match hwm {
                Some(kib) => peak = peak.max(Some(kib)),
                // A zombie has no memory left to report: it has exited.
                None => break,
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        peak
    })
}

/// The sequential waves of requests the doctor's `-v` summary reports ("... in N waves ...").
fn waves(m: &Measured) -> Option<usize> {
    let words: Vec<&str> = m.stderr.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1].trim_end_matches(',') == "waves")
        .and_then(|w| w[0].parse().ok())
}

fn doctor(server: &FakeApiServer, kubeconfig: &Path, extra: &[&str]) -> Measured {
    let mut c = Command::new(BIN);
    c.args(["check", "-A", "-o", "json", "-v"])
        .args(extra)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env_remove("KUBECONFIG")
        .env_remove("HELM_PLUGIN_NAME")
        .env("LANG", "C");
    run_child(server, c)
}

fn kubectl_pods(server: &FakeApiServer, kubeconfig: &Path) -> Measured {
    let mut c = Command::new("kubectl");
    c.args(["get", "pods", "-A", "-o", "json", "--kubeconfig"])
        .arg(kubeconfig)
        // A fresh discovery cache each time, as on a deploy host where kubectl was not run yet.
        .env("KUBECACHEDIR", tempfile::tempdir().unwrap().keep());
    run_child(server, c)
}

/// Every `owner=helm` Secret with its payload, through the kube client, in pages of 500. helm's
/// secrets driver asks for them in one unpaginated list; pages keep the fake's memory bounded and
/// carry the same bytes. Only the transfer is timed: helm would then decode every payload too.
async fn helm_secrets_fetch(server: &FakeApiServer, kubeconfig: &Path) -> Measured {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    server.clear_requests();
    let started = Instant::now();
    let mut token: Option<String> = None;
    loop {
        let mut uri = "/api/v1/secrets?labelSelector=owner%3Dhelm&limit=500".to_string();
        if let Some(t) = &token {
            uri.push_str(&format!("&continue={t}"));
        }
        let req = http::Request::get(uri)
            .body(kube::client::Body::empty())
            .unwrap();
        let res = client.send(req).await.expect("list secrets");
        assert!(res.status().is_success(), "{}", res.status());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        #[derive(serde::Deserialize)]
        struct Page {
            metadata: Meta,
        }
        #[derive(serde::Deserialize)]
        struct Meta {
            #[serde(default, rename = "continue")]
            token: Option<String>,
        }
        let page: Page = serde_json::from_slice(&body).unwrap();
        match page.metadata.token.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    Measured {
        wall: started.elapsed(),
        stderr: String::new(),
        max_rss_kib: None,
        cost: cost(&server.requests()),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let o = options();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    eprintln!("kubectl-bkdoctor: {BIN}");
    let mut rows = Vec::new();
    for &releases in &o.releases {
        let shape = Shape {
            releases,
            revisions: o.revisions,
            pods: o.pods,
            nodes: o.nodes,
        };
        let t = Instant::now();
        let cluster = synthetic::generate(shape);
        let needed = cluster.needed_revisions();
        let failing = cluster.failing_pods.len();
        let gz: Vec<usize> = cluster.payload_gzip_bytes.clone();
        let gz_mean = gz.iter().sum::<usize>() / gz.len().max(1);
        eprintln!(
            "R={releases}: generated {} objects in {:.1?} (payloads {}–{} KiB gzipped, mean {} KiB; {needed} needed revisions, {failing} failing pods)",
            cluster.objects.len(),
            t.elapsed(),
            gz.iter().min().unwrap_or(&0) / 1024,
            gz.iter().max().unwrap_or(&0) / 1024,
            gz_mean / 1024,
        );
        let mut api = cluster.into_server();
        if !o.free_reads {
            api = api.etcd_read_rate(fake_apiserver::MEASURED_ETCD_READ_RATE);
        }
        if o.connection_setup {
            api = api.connection_setup();
        }
        let server = api.start();
        let tmp = tempfile::tempdir().unwrap();
        let kubeconfig = server.kubeconfig_with_token(tmp.path().join("config"));
        if o.serve {
            server.set_latency(o.latencies.iter().copied().max().unwrap_or_default());
            println!("KUBECONFIG={}", kubeconfig.display());
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        for &latency in &o.latencies {
            server.set_latency(latency);
            let lat = format!("{} ms", latency.as_millis());
            let mut variants: Vec<(&str, &[&str])> = vec![("", &[])];
            if o.consistent_too {
                variants.push((" --consistent-read", &["--consistent-read"]));
            }
            let mut doctor_rows = Vec::new();
            for (label, extra) in variants {
                // One unmeasured run: page cache, the fake's first-touch allocations.
                let _ = doctor(&server, &kubeconfig, extra);
                let runs: Vec<Measured> = (0..o.runs)
                    .map(|_| doctor(&server, &kubeconfig, extra))
                    .collect();
                let wall = median(runs.iter().map(|m| m.wall).collect());
                let rss = runs.iter().filter_map(|m| m.max_rss_kib).max().unwrap_or(0);
                let c = runs[0].cost;
                let w = waves(&runs[0]);
                eprintln!(
                    "R={releases}, latency {lat}: check -A{label} {} (runs: {:?}), {} requests in {} waves, {}",
                    secs(wall),
                    runs.iter().map(|m| secs(m.wall)).collect::<Vec<_>>(),
                    c.requests,
                    w.map_or("?".into(), |w| w.to_string()),
                    mib(c.bytes)
                );
                eprintln!(
                    "R={releases}: needed revisions {needed}, failing pods {failing} (log requests {})",
                    c.logs
                );
                doctor_rows.push((label, wall, rss, c, w));
            }
            let helm = rt.block_on(helm_secrets_fetch(&server, &kubeconfig));
            eprintln!(
                "R={releases}, latency {lat}: helm secrets fetch {}, {} requests, {}",
                secs(helm.wall),
                helm.cost.requests,
                mib(helm.cost.bytes)
            );
            let kubectl = kubectl_pods(&server, &kubeconfig);
            eprintln!(
                "R={releases}, latency {lat}: kubectl get pods {}, {} requests, {}",
                secs(kubectl.wall),
                kubectl.cost.requests,
                mib(kubectl.cost.bytes)
            );
            for (label, wall, rss, c, w) in doctor_rows {
                rows.push(format!(
                    "| {releases} | {lat} | {}{label} | {:.2} | {:.2} | {} | {:.0} MiB | {} = {} lists + {} payloads + {} logs + {} other | {} ({:.1} %) | {} / {} / {} | {} / {} / {} / {:.0} MiB |",
                    secs(wall),
                    wall.as_secs_f64() / helm.wall.as_secs_f64(),
                    wall.as_secs_f64() / kubectl.wall.as_secs_f64(),
                    w.map_or("?".into(), |w| w.to_string()),
                    rss as f64 / 1024.0,
                    c.requests,
                    c.lists,
                    c.payloads,
                    c.logs,
                    c.requests - c.lists - c.payloads - c.logs,
                    mib(c.bytes),
                    100.0 * c.bytes as f64 / helm.cost.bytes as f64,
                    secs(helm.wall),
                    helm.cost.requests,
                    mib(helm.cost.bytes),
                    secs(kubectl.wall),
                    kubectl.cost.requests,
                    mib(kubectl.cost.bytes),
                    kubectl.max_rss_kib.unwrap_or(0) as f64 / 1024.0,
                ));
            }
        }
        drop(server);
    }
    println!(
        "\nH={} revisions, P={} pods, N={} nodes; median of {} runs of check -A; etcd reads {}{}\n",
        o.revisions,
        o.pods,
        o.nodes,
        o.runs,
        if o.free_reads {
            "free".to_string()
        } else {
            format!("at {} MiB/s", fake_apiserver::MEASURED_ETCD_READ_RATE >> 20)
        },
        if o.connection_setup {
            "; a new connection costs 2 more round trips"
        } else {
            ""
        }
    );
    println!(
        "| R | latency | check -A wall | ÷ helm fetch | ÷ kubectl | waves | peak RSS | requests | bytes (of helm fetch) | helm secrets fetch: time / requests / bytes | kubectl get pods -A -o json: time / requests / bytes / peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
