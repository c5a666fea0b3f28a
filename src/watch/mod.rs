//! `watch`: follows the cluster while a deployment runs and tells, as it happens, each release's
//! new revision, what helm's `--wait` still waits for, each finding the moment it appears (once,
//! with its fix, and whether it is fatal) and when it clears. One collection as `check` makes it,
//! then watches ([`feed`]) keep the same bounded picture ([`state`]) current; the pure rules run
//! again on it after each burst of changes ([`track`] says what changed, [`out`] tells it). With
//! `-- COMMAND…` it runs the deployment itself ([`child`]) and explains its output when it fails.
//! Read-only: GET and watch requests, nothing else.

pub mod child;
pub mod feed;
pub mod out;
pub mod state;
pub mod track;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::time::Instant;

use self::out::{Mode, Out};
use self::state::State;
use self::track::Tracker;
use crate::catalog::{Catalog, fill};
use crate::collect::live::connect::{self, ClusterOptions, HelmEnv, NamespaceChoice};
use crate::collect::live::{self, Scope};
use crate::findings::Finding;
use crate::render::{self, Format, Look};
use crate::rules::{self, Ctx};

/// How long after a change the rules run, so that a burst of changes is one run.
const SETTLE: Duration = Duration::from_millis(200);
/// Runs of the rules at most this often: CPU stays low while many pods change.
const MIN_GAP: Duration = Duration::from_millis(500);
/// Ctrl-C, as a shell reports it.
const EXIT_INTERRUPTED: u8 = 130;

/// What `watch` was asked, as plain data.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub cluster: ClusterOptions,
    pub namespace: Option<String>,
    pub all_namespaces: bool,
    pub releases: Vec<String>,
    /// `None`: no limit.
    pub timeout: Option<Duration>,
    pub json: bool,
    /// The deployment command to run, if any.
    pub command: Vec<String>,
    pub stdout_is_terminal: bool,
}

/// Runs the watch; `Err` is the one line for a watch that could not start (exit status 2).
pub fn run(
    opts: Options,
    catalog: &Catalog,
    look: Look,
    stdout: &mut dyn Write,
) -> Result<u8, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))?;
    let with_command = !opts.command.is_empty();
    // Unlocked: the command's output goes to the same stream between our lines.
    let mut stderr = std::io::stderr();
    // Beside a command, the command's output owns standard output.
    let (w, terminal): (&mut dyn Write, bool) = match with_command {
        true => {
            let t = std::io::stderr().is_terminal();
            (&mut stderr, t)
        }
        false => (stdout, opts.stdout_is_terminal),
    };
    let mode = match (opts.json, terminal && !with_command) {
        (true, _) => Mode::Json,
        (false, true) => Mode::Live,
        (false, false) => Mode::Plain,
    };
    let mut out = Out::new(w, mode, look, catalog);
    let code = runtime.block_on(watch(&opts, catalog, look, &mut out));
    // The feeds' tasks end with the runtime; nothing to wait for.
    runtime.shutdown_background();
    code
}

async fn watch(
    opts: &Options,
    catalog: &Catalog,
    look: Look,
    out: &mut Out<'_>,
) -> Result<u8, String> {
    let mut running = match opts.command.is_empty() {
        true => None,
        false => Some(child::start(&opts.command)?),
    };
    let started = Instant::now();
    let helm = HelmEnv::from_process();
    let context = connect::context_override(&opts.cluster, helm.as_ref());
    let cluster = connect::connect(
        opts.cluster.kubeconfig.as_ref(),
        context.as_deref(),
        opts.cluster.request_timeout,
    )
    .await;
    let choice = NamespaceChoice::resolve(
        opts.namespace.as_deref(),
        opts.all_namespaces,
        helm.as_ref(),
    );
    let collected = match cluster {
        Ok(c) => {
            let scope = Scope {
                namespace: choice.for_check(&c.namespace),
                full_history_of: None,
                for_snapshot: false,
                every_release: false,
                read_by_name: rules::RELEASES_READ_BY_NAME,
                pod_spec_read: rules::POD_SPEC_READ,
                ready_logs_of: rules::ready_logs_read(catalog),
            };
            live::collect(&c, &scope, catalog)
                .await
                .map(|col| (c, scope, col))
        }
        Err(e) => Err(e),
    };
    let (cluster, scope, collected) = match (collected, running) {
        (Ok(c), r) => {
            running = r;
            c
        }
        // The deployment goes on without us: its own exit status is the answer.
        (Err(e), Some(r)) => {
            eprintln!("error: {e}");
            return Ok(r.finish().await.code);
        }
        (Err(e), None) => return Err(e),
    };
    let namespace = scope.namespace.clone();
    let clock = Clock::new(collected.snap.server_time);
    let mut state = State::new(collected.snap, rules::POD_SPEC_READ);
    let (tx, mut rx) = mpsc::channel(1024);
    feed::start(&cluster.api, namespace.as_deref(), tx);
    let mut tracker = Tracker::new(opts.releases.clone());
    let scope_label = match &namespace {
        Some(ns) => ns.clone(),
        None => catalog.ui("md_all_namespaces", look.lang).to_string(),
    };
    let ev = Eval {
        catalog,
        look,
        namespace: namespace.as_deref(),
        clock,
        scope_label,
    };
    if out.mode != Mode::Live {
        out.note("watch_begin", &[("scope", &ev.scope_label)])
            .map_err(|e| e.to_string())?;
    }
    ev.run(&state, &mut tracker, out)
        .map_err(|e| e.to_string())?;

    let deadline = opts.timeout.map(|t| started + t);
    let mut due: Option<Instant> = None;
    let mut last_run = Instant::now();
    let (mut interrupted, mut timed_out) = (false, false);
    loop {
        let done_without_command = running.is_none() && due.is_none() && tracker.settled();
        if done_without_command {
            break;
        }
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            note = rx.recv() => match note {
                Some(feed::Note::Update(u)) => {
                    state.apply(u);
                    if due.is_none() {
                        due = Some((Instant::now() + SETTLE).max(last_run + MIN_GAP));
                    }
                }
                Some(feed::Note::Trouble(kind, why)) => {
                    let k = kind.api().3;
                    out.note("watch_trouble", &[("kind", k), ("why", &why)]).map_err(|e| e.to_string())?;
                }
                None => break,
            },
            _ = tokio::time::sleep_until(due.unwrap_or(far)), if due.is_some() => {
                due = None;
                last_run = Instant::now();
                ev.run(&state, &mut tracker, out).map_err(|e| e.to_string())?;
            }
            _ = tokio::signal::ctrl_c() => match &running {
                Some(r) => r.interrupt(),
                None => { interrupted = true; break; }
            },
            _ = async { running.as_mut().expect("guarded").exited().await }, if running.is_some() => break,
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {
                timed_out = true;
                break;
            }
        }
    }
    // What the last changes did, before the summary.
    let present = ev
        .run(&state, &mut tracker, out)
        .map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    if timed_out {
        let pending: Vec<String> = tracker.pending().into_iter().map(|(_, r)| r).collect();
        let t = render_duration(opts.timeout.unwrap_or_default());
        out.note(
            "watch_timeout",
            &[("timeout", &t), ("releases", &pending.join(", "))],
        )
        .map_err(io)?;
    }
    if interrupted {
        out.note("watch_interrupted", &[]).map_err(io)?;
    }
    out.summary(&tracker.present()).map_err(io)?;
    let mut code = render::exit_code(&tracker.present());
    if let Some(r) = running {
        let ended = r.finish().await;
        out.note("watch_command", &[("code", &ended.code.to_string())])
            .map_err(io)?;
        if ended.code != 0 {
            explain(&ended.output, &state, &present, &ev, out).map_err(io)?;
            if code == 0 {
                code = ended.code;
            }
        }
    }
    if interrupted {
        code = EXIT_INTERRUPTED;
    }
    Ok(code)
}

/// The command's output answered as `explain` answers it, against the cluster as watched.
fn explain(
    output: &[u8],
    state: &State,
    findings: &[Finding],
    ev: &Eval<'_>,
    out: &mut Out<'_>,
) -> std::io::Result<()> {
    let Ok(scan) = crate::explain::scan(&mut &output[..], ev.catalog) else {
        return Ok(());
    };
    let cluster = crate::explain::Cluster {
        snap: &state.snap,
        findings,
        now: ev.clock.now(),
    };
    let report = crate::explain::report(&scan, ev.catalog, ev.look.lang, Some(&cluster));
    let format = match out.mode {
        Mode::Json => Format::Json,
        _ => Format::Table,
    };
    let w = out.writer();
    writeln!(w)?;
    render::write_explain(w, &report, format, ev.catalog, ev.look)
}

fn render_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// The API server's clock, carried on from the one reading of it: ages as `check` measures them.
#[derive(Clone, Copy)]
struct Clock {
    server: Option<Timestamp>,
    at: std::time::Instant,
}

impl Clock {
    fn new(server: Option<Timestamp>) -> Clock {
        Clock {
            server,
            at: std::time::Instant::now(),
        }
    }

    fn now(&self) -> Timestamp {
        let base = self.server.unwrap_or_else(Timestamp::now);
        let passed = jiff::SignedDuration::try_from(self.at.elapsed()).unwrap_or_default();
        base.checked_add(passed).unwrap_or(base)
    }
}

/// One run of the rules and the telling of what changed.
struct Eval<'a> {
    catalog: &'a Catalog,
    look: Look,
    namespace: Option<&'a str>,
    clock: Clock,
    scope_label: String,
}

impl Eval<'_> {
    fn run(
        &self,
        state: &State,
        tracker: &mut Tracker,
        out: &mut Out<'_>,
    ) -> std::io::Result<Vec<Finding>> {
        let ctx = Ctx::new(&state.snap, self.catalog, self.look.lang, self.clock.now());
        let mut findings = rules::run_all(&ctx);
        if let Some(ns) = self.namespace {
            findings.retain(|f| f.namespace.as_deref().is_none_or(|n| n == ns));
        }
        let happened = tracker.update(&ctx, &findings);
        for h in &happened {
            out.happened(h)?;
        }
        let mut lines: Vec<String> = tracker
            .progress_now()
            .iter()
            .map(|h| out.progress_line(h))
            .collect();
        if lines.is_empty() {
            lines.push(fill(
                self.catalog.ui("watch_idle", self.look.lang),
                &[("scope", &self.scope_label)],
            ));
        }
        out.status(&lines)?;
        Ok(findings)
    }
}
