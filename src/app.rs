//! The commands, wired from collection to rendering. Returns the exit status; writes only to the
//! writers it is given.

use std::collections::HashSet;
use std::io::Write;

use clap::CommandFactory;
use jiff::Timestamp;

use crate::catalog::Catalog;
use crate::cli::{
    CheckArgs, Cli, ClusterArgs, Command, ExplainArgs, ProbeCmdArgs, ReleaseArgs, RulesArgs,
    SnapshotArgs,
};
use crate::collect;
use crate::collect::live::connect::{self, Cluster, HelmEnv, NamespaceChoice};
use crate::collect::live::{self, Collected, Scope, progress};
use crate::findings::Finding;
use crate::i18n::Lang;
use crate::probe;
use crate::render::{self, Format, Look, ReleaseReport, Report, Summary};
use crate::rules::{self, Ctx};
use crate::snapshot::{Snapshot, pod};
use crate::watch;

/// Could not run: bad input or nothing to read. Exit status 2, one line on stderr.
#[derive(Debug)]
pub enum Fatal {
    Msg(String),
    /// The reader went away (`kubectl bkdoctor check | head`): not an error.
    BrokenPipe,
    /// Ctrl-C or SIGTERM while probing, after the cleanup: exit status 130, as a shell reports it.
    Interrupted(String),
}

impl From<std::io::Error> for Fatal {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::BrokenPipe => Fatal::BrokenPipe,
            _ => Fatal::Msg(format!("cannot write the report: {e}")),
        }
    }
}

impl From<collect::dir::LoadError> for Fatal {
    fn from(e: collect::dir::LoadError) -> Self {
        Fatal::Msg(e.to_string())
    }
}

pub const EXIT_ERROR: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

pub fn run(cli: Cli, out: &mut dyn Write) -> Result<u8, Fatal> {
    let lang = Lang::detect(cli.lang);
    let look = Look {
        lang,
        color: render::use_color(
            cli.stdout_is_terminal,
            cli.no_color,
            std::env::var_os("NO_COLOR").as_deref(),
        ),
        width: render::width(
            cli.stdout_is_terminal,
            std::env::var_os("COLUMNS").as_deref(),
        ),
    };
    let mut catalog = Catalog::builtin();
    for path in &cli.rules_files {
        catalog.add_file(path).map_err(Fatal::Msg)?;
    }
    match cli.command {
        Command::Check(args) => check(args, &catalog, look, cli.now, out),
        Command::Release(args) => release(args, &catalog, look, cli.now, out),
        Command::Explain(args) => explain(args, &catalog, look, cli.now, out),
        Command::Watch(a) => {
            watch::run(a.options(cli.stdout_is_terminal), &catalog, look, out).map_err(Fatal::Msg)
        }
        Command::Rules(args) => list_rules(args, &catalog, look, out),
        Command::Snapshot(args) => snapshot(args, &catalog, out),
        Command::Probe(args) => probe_only(args, &catalog, look, cli.now, out),
        Command::Completion(args) => {
            crate::completion::write(args.shell, Cli::command(), out)?;
            Ok(0)
        }
    }
}

fn list_rules(
    args: RulesArgs,
    catalog: &Catalog,
    look: Look,
    out: &mut dyn Write,
) -> Result<u8, Fatal> {
    let list = render::rules::RuleList::new(catalog, look.lang);
    match args.output {
        Format::Html => {
            return Err(Fatal::Msg(
                "rules -o html: a page is made by check, release and explain; list the rules as table, json, yaml or markdown".into(),
            ));
        }
        Format::Table => render::rules::write(out, &list, catalog, look)?,
        Format::Markdown => render::rules::write_markdown(out, &list, catalog, look.lang)?,
        Format::Json => render::json::write(out, &list)?,
        Format::Yaml => render::yaml::write(out, &list)?,
    }
    Ok(0)
}

/// Connects through the kubeconfig and collects; with `probe`, then probes the nodes too.
/// `scope` picks what to collect once the context's namespace is known.
fn collect_live(
    args: &ClusterArgs,
    catalog: &Catalog,
    probe: Option<&probe::Options>,
    scope: impl FnOnce(&str) -> Scope,
) -> Result<(Collected, Cluster, Scope), Fatal> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let cluster = connect_cluster(args).await?;
        let scope = scope(&cluster.namespace);
        let progress = progress::Progress::start(
            format!("reading {}", cluster.name()),
            cluster.api.stats.clone(),
        );
        let collected = live::collect(&cluster, &scope, catalog).await;
        progress.finish().await;
        let mut collected = collected.map_err(Fatal::Msg)?;
        if let Some(opts) = probe {
            // The rest of the report stands without the probes; only Ctrl-C ends the run.
            match run_probes(&cluster, opts).await {
                Ok(probed) => {
                    collected.snap.probes = probed.probes;
                    collected.snap.skipped.extend(probed.skipped);
                }
                Err(Fatal::Msg(msg)) => collected
                    .snap
                    .skipped
                    .push(crate::findings::Skipped::new("node probes", msg)),
                Err(e) => return Err(e),
            }
        }
        if args.verbose.is_some() {
            eprintln!(
                "collected from {}: {}",
                cluster.name(),
                progress::summary(&cluster.api.stats, collected.elapsed)
            );
        }
        collected.snap.source = Some(cluster.name());
        Ok((collected, cluster, scope))
    })
}

/// A few worker threads: the lists, the helm payloads (base64, gzip and JSON, most of a big
/// cluster's CPU) and the logs are decoded side by side as they arrive, instead of each waiting
/// for the one thread.
fn runtime() -> Result<tokio::runtime::Runtime, Fatal> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| Fatal::Msg(format!("cannot start: {e}")))
}

async fn connect_cluster(args: &ClusterArgs) -> Result<Cluster, Fatal> {
    let opts = args.options();
    let helm = HelmEnv::from_process();
    let context = connect::context_override(&opts, helm.as_ref());
    let mut cluster = connect::connect(
        opts.kubeconfig.as_ref(),
        context.as_deref(),
        opts.request_timeout,
    )
    .await
    .map_err(Fatal::Msg)?;
    cluster.api = cluster.api.consistent_reads(opts.consistent_read);
    Ok(cluster)
}

async fn run_probes(cluster: &Cluster, opts: &probe::Options) -> Result<probe::Probed, Fatal> {
    probe::run(&cluster.api, opts).await.map_err(|e| match e {
        probe::ProbeError::Fatal(msg) => Fatal::Msg(format!("{}: {msg}", cluster.name())),
        probe::ProbeError::Interrupted { deleted, left } if left.is_empty() => {
            Fatal::Interrupted(format!("interrupted; deleted the {deleted} probe pod(s) it had created"))
        }
        probe::ProbeError::Interrupted { deleted, left } => Fatal::Interrupted(format!(
            "interrupted; deleted {deleted} probe pod(s), could not delete {} in namespace {} (the next --probe run deletes them)",
            left.join(", "),
            opts.namespace
        )),
    })
}

/// `probe`: the node probes alone, without reading the rest of the cluster.
fn probe_only(
    args: ProbeCmdArgs,
    catalog: &Catalog,
    look: Look,
    now_flag: Option<Timestamp>,
    out: &mut dyn Write,
) -> Result<u8, Fatal> {
    let opts = args.probe.options();
    let probed = runtime()?.block_on(async {
        let cluster = connect_cluster(&args.cluster).await?;
        run_probes(&cluster, &opts).await
    })?;
    let snap = Snapshot {
        nodes: probed.nodes,
        probes: probed.probes,
        skipped: probed.skipped,
        ..Snapshot::default()
    };
    let now = now_flag.unwrap_or_else(Timestamp::now);
    let ctx = Ctx::new(&snap, catalog, look.lang, now);
    let mut findings = rules::node_probe::check(&ctx);
    crate::findings::sort(&mut findings);
    let (errors, warnings, info) = Summary::count(&findings);
    let report = Report {
        summary: Summary {
            errors,
            warnings,
            info,
            pods: 0,
            nodes: snap.nodes.len(),
            releases: 0,
            namespace: None,
            snapshot_time: Some(crate::format::when(now)),
        },
        findings,
        skipped: snap.skipped.clone(),
        cluster: None,
        releases: Vec::new(),
    };
    render::write_report(out, &report, args.output, catalog, look)?;
    Ok(render::exit_code(&report.findings))
}

/// Which cluster a report is of: the context and server read, else the snapshot's path.
fn cluster_label(snap: &Snapshot, source: &crate::cli::Source) -> Option<String> {
    snap.source
        .clone()
        .or_else(|| source.snapshot.as_ref().map(|p| p.display().to_string()))
}

fn namespace_choice(flag: Option<&str>, all: bool) -> NamespaceChoice {
    NamespaceChoice::resolve(flag, all, HelmEnv::from_process().as_ref())
}

fn snapshot(args: SnapshotArgs, catalog: &Catalog, out: &mut dyn Write) -> Result<u8, Fatal> {
    let choice = namespace_choice(args.namespace.as_deref(), args.all_namespaces);
    let (collected, cluster, scope) = collect_live(&args.cluster, catalog, None, |ctx_ns| Scope {
        namespace: choice.for_check(ctx_ns),
        full_history_of: None,
        for_snapshot: true,
        every_release: args.all_releases,
        read_by_name: rules::RELEASES_READ_BY_NAME,
        pod_spec_read: rules::POD_SPEC_READ,
        ready_logs_of: rules::ready_logs_read(catalog),
    })?;
    let about = live::write::About {
        context: &cluster.context,
        server: &cluster.server,
        namespace: scope.namespace.as_deref(),
    };
    let written = live::write::write(&args.dir, &collected, &about).map_err(Fatal::Msg)?;
    let size = match written.archive {
        Some(on_disk) => format!(
            "{} KiB, {} KiB compressed",
            written.bytes.div_ceil(1024),
            on_disk.div_ceil(1024)
        ),
        None => format!("{} KiB", written.bytes.div_ceil(1024)),
    };
    writeln!(
        out,
        "wrote {} files ({size}) to {}; read it with: kubectl bkdoctor check --snapshot {}",
        written.files,
        args.dir.display(),
        args.dir.display()
    )?;
    for s in &collected.snap.skipped {
        writeln!(out, "not collected: {}: {}", s.what, s.reason)?;
    }
    Ok(0)
}

fn now(flag: Option<Timestamp>, snap: &Snapshot) -> Timestamp {
    flag.or_else(|| snap.reference_time())
        .unwrap_or_else(Timestamp::now)
}

fn check(
    args: CheckArgs,
    catalog: &Catalog,
    look: Look,
    now_flag: Option<Timestamp>,
    out: &mut dyn Write,
) -> Result<u8, Fatal> {
    if !args.probe && args.probe_args.given() {
        return Err(Fatal::Msg(
            "the --probe-* and --cluster-domain flags configure --probe; add --probe to run the node probes".into(),
        ));
    }
    let probe_opts = args.probe.then(|| args.probe_args.options());
    let (snap, namespace) = check_snapshot(
        &args.source,
        args.namespace,
        args.all_namespaces,
        args.all_releases,
        probe_opts.as_ref(),
        catalog,
    )?;
    let now = now(now_flag, &snap);
    let ctx = Ctx::new(&snap, catalog, look.lang, now);
    let findings = findings_in(&ctx, namespace.as_deref());
    let in_scope = |n: Option<&str>| namespace.as_deref().is_none_or(|ns| n == Some(ns));
    let (errors, warnings, info) = Summary::count(&findings);
    let releases: Vec<render::ReleaseState> = ctx
        .releases
        .iter()
        .filter(|r| in_scope(Some(&r.namespace)))
        .map(|r| render::ReleaseState {
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            latest: r.latest().clone(),
        })
        .collect();
    let report = Report {
        summary: Summary {
            errors,
            warnings,
            info,
            pods: snap
                .pods
                .iter()
                .filter(|p| in_scope(p.metadata.namespace.as_deref()))
                .count(),
            nodes: snap.nodes.len(),
            releases: releases.len(),
            namespace,
            snapshot_time: Some(crate::format::when(now)),
        },
        findings,
        skipped: snap.skipped.clone(),
        cluster: cluster_label(&snap, &args.source),
        releases,
    };
    render::write_report(out, &report, args.output, catalog, look)?;
    // The process ends with this answer: freeing a big cluster's snapshot object by object (a
    // hundred thousand allocations of pods, records and events) took tens of milliseconds.
    std::mem::forget(ctx);
    std::mem::forget(snap);
    Ok(render::exit_code(&report.findings))
}

/// What `check` reads: the snapshot directory, or the cluster in the namespace chosen.
fn check_snapshot(
    source: &crate::cli::Source,
    namespace: Option<String>,
    all_namespaces: bool,
    all_releases: bool,
    probe_opts: Option<&probe::Options>,
    catalog: &Catalog,
) -> Result<(Snapshot, Option<String>), Fatal> {
    match &source.snapshot {
        Some(dir) => {
            let namespace = if all_namespaces { None } else { namespace };
            Ok((
                collect::load_reading(dir, &rules::ready_logs_read(catalog))?,
                namespace,
            ))
        }
        None => {
            let choice = namespace_choice(namespace.as_deref(), all_namespaces);
            let (collected, _, scope) =
                collect_live(&source.cluster, catalog, probe_opts, |ctx_ns| Scope {
                    namespace: choice.for_check(ctx_ns),
                    full_history_of: None,
                    for_snapshot: false,
                    every_release: all_releases,
                    read_by_name: rules::RELEASES_READ_BY_NAME,
                    pod_spec_read: rules::POD_SPEC_READ,
                    ready_logs_of: rules::ready_logs_read(catalog),
                })?;
            Ok((collected.snap, scope.namespace))
        }
    }
}

/// Every rule's findings, those of other namespaces left out (cluster-scoped ones stay).
fn findings_in(ctx: &Ctx, namespace: Option<&str>) -> Vec<Finding> {
    let mut findings = rules::run_all(ctx);
    if let Some(ns) = namespace {
        findings.retain(|f| f.namespace.as_deref().is_none_or(|n| n == ns));
    }
    findings
}

/// `explain`: the errors of a deployment's output, answered with what the cluster shows.
fn explain(
    args: ExplainArgs,
    catalog: &Catalog,
    look: Look,
    now_flag: Option<Timestamp>,
    out: &mut dyn Write,
) -> Result<u8, Fatal> {
    let scan = match (&args.error, &args.file) {
        (Some(text), _) => {
            let found = crate::explain::scan(&mut text.as_bytes(), catalog)
                .map_err(|e| Fatal::Msg(format!("--error: {e}")))?;
            if found.errors.is_empty() && !text.trim().is_empty() {
                // Text without helm's `Error:` is still the error the operator means.
                let first = text.trim().lines().next().unwrap_or_default();
                let as_error = format!("Error: {first}");
                crate::explain::scan(&mut as_error.as_bytes(), catalog)
                    .map_err(|e| Fatal::Msg(format!("--error: {e}")))?
            } else {
                found
            }
        }
        (None, Some(path)) if path.as_os_str() == "-" => {
            let stdin = std::io::stdin();
            crate::explain::scan(&mut stdin.lock(), catalog)
                .map_err(|e| Fatal::Msg(format!("cannot read standard input: {e}")))?
        }
        (None, Some(path)) => {
            let file = std::fs::File::open(path)
                .map_err(|e| Fatal::Msg(format!("cannot read {}: {e}", path.display())))?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(Fatal::Msg(format!(
                    "{} is a directory; give the file with the deployment's output (or - for standard input)",
                    path.display()
                )));
            }
            crate::explain::scan(&mut std::io::BufReader::new(file), catalog)
                .map_err(|e| Fatal::Msg(format!("cannot read {}: {e}", path.display())))?
        }
        (None, None) => unreachable!("clap requires FILE or --error"),
    };
    if args.no_cluster {
        let report = crate::explain::report(&scan, catalog, look.lang, None);
        render::write_explain(out, &report, args.output, catalog, look)?;
        return Ok(report.exit_code());
    }
    let (snap, namespace) = check_snapshot(
        &args.source,
        args.namespace,
        args.all_namespaces,
        false,
        None,
        catalog,
    )
    .map_err(|e| match e {
        Fatal::Msg(m) => Fatal::Msg(format!(
            "{m} (explain --no-cluster explains the text alone)"
        )),
        other => other,
    })?;
    let now = now(now_flag, &snap);
    let ctx = Ctx::new(&snap, catalog, look.lang, now);
    let findings = findings_in(&ctx, namespace.as_deref());
    let cluster = crate::explain::Cluster {
        snap: &snap,
        findings: &findings,
        now,
    };
    let mut report = crate::explain::report(&scan, catalog, look.lang, Some(&cluster));
    report.summary.namespace = namespace;
    report.cluster = cluster_label(&snap, &args.source);
    render::write_explain(out, &report, args.output, catalog, look)?;
    Ok(report.exit_code())
}

fn release(
    mut args: ReleaseArgs,
    catalog: &Catalog,
    look: Look,
    now_flag: Option<Timestamp>,
    out: &mut dyn Write,
) -> Result<u8, Fatal> {
    let mut found_elsewhere = Vec::new();
    let snap = match &args.source.snapshot {
        Some(dir) => collect::load_reading(dir, &rules::ready_logs_read(catalog))?,
        None => {
            let choice = namespace_choice(args.namespace.as_deref(), false);
            let name = args.name.clone();
            let (collected, _, scope) =
                collect_live(&args.source.cluster, catalog, None, |ctx_ns| Scope {
                    namespace: Some(choice.for_release(ctx_ns)),
                    full_history_of: Some(name),
                    for_snapshot: false,
                    every_release: false,
                    read_by_name: rules::RELEASES_READ_BY_NAME,
                    pod_spec_read: rules::POD_SPEC_READ,
                    ready_logs_of: rules::ready_logs_read(catalog),
                })?;
            args.namespace = scope.namespace;
            found_elsewhere = collected.release_elsewhere;
            collected.snap
        }
    };
    let now = now(now_flag, &snap);
    let ctx = Ctx::new(&snap, catalog, look.lang, now);
    let named: Vec<_> = ctx
        .releases
        .iter()
        .filter(|r| r.name == args.name)
        .collect();
    let candidates: Vec<_> = named
        .iter()
        .filter(|r| args.namespace.as_deref().is_none_or(|ns| r.namespace == ns))
        .collect();
    let rel = match candidates.as_slice() {
        [one] => **one,
        [] => {
            let where_ = match &args.namespace {
                Some(ns) => format!("in namespace {ns}"),
                None => "in any namespace".to_string(),
            };
            let mut elsewhere: Vec<_> = named.iter().map(|r| r.namespace.as_str()).collect();
            // A live run reads one namespace; it looked up where else the release lives.
            elsewhere.extend(found_elsewhere.iter().map(String::as_str));
            elsewhere.sort();
            elsewhere.dedup();
            let hint = if elsewhere.is_empty() {
                let mut all: Vec<_> = ctx
                    .releases
                    .iter()
                    .map(|r| format!("{}/{}", r.namespace, r.name))
                    .collect();
                all.dedup();
                if all.is_empty() {
                    " (no helm release records were found at all)".to_string()
                } else {
                    format!(" (releases found: {})", all.join(", "))
                }
            } else {
                format!(" (it exists in namespace {})", elsewhere.join(", "))
            };
            return Err(Fatal::Msg(format!(
                "helm release {} not found {where_}{hint}",
                args.name
            )));
        }
        many => {
            let nss: Vec<_> = many.iter().map(|r| r.namespace.as_str()).collect();
            return Err(Fatal::Msg(format!(
                "helm release {} exists in namespaces {}; choose one with -n",
                args.name,
                nss.join(", ")
            )));
        }
    };
    let pods: HashSet<(String, String)> = snap
        .release_pods(&rel.namespace, &rel.name)
        .map(|p| (pod::namespace(p).to_string(), pod::name(p).to_string()))
        .collect();
    let objects: HashSet<String> = std::iter::once(format!("release/{}", rel.name))
        .chain(
            rel.revisions
                .iter()
                .map(|r| format!("{}/{}", r.driver.kubectl_kind(), r.object_name)),
        )
        .chain(pods.iter().map(|(_, p)| format!("pod/{p}")))
        .collect();
    // A finding on a node (clock-skew, pod-ip-not-private) has no namespace but still concerns the
    // release when it explains the release's pods.
    let concerns = |f: &Finding| {
        let here = f.namespace.as_deref() == Some(rel.namespace.as_str());
        let about = objects.contains(&f.object)
            || rules::release_link::owned_object(&ctx, &rel.namespace, &f.object, &rel.name);
        (here && about) || f.covers.iter().any(|c| pods.contains(c))
    };
    let all = rules::run_all(&ctx);
    let workloads = rules::release_link::workloads(&ctx, &rel.namespace, &rel.name, &all);
    let findings: Vec<Finding> = all.into_iter().filter(concerns).collect();
    let report = ReleaseReport {
        name: rel.name.clone(),
        namespace: rel.namespace.clone(),
        revisions: rel.revisions.clone(),
        findings,
        workloads,
        skipped: snap.skipped.clone(),
        pods: snap
            .release_pods(&rel.namespace, &rel.name)
            .map(render::PodRow::of)
            .collect(),
        cluster: cluster_label(&snap, &args.source),
        snapshot_time: Some(crate::format::when(now)),
    };
    render::write_release(out, &report, args.output, catalog, look)?;
    Ok(render::exit_code(&report.findings))
}
