//! The commands, wired from collection to rendering. Returns the exit status; writes only to the
//! writers it is given.

use std::collections::HashSet;
use std::io::Write;

use jiff::Timestamp;

use crate::catalog::Catalog;
use crate::cli::{CheckArgs, Cli, Command, ReleaseArgs, RulesArgs, Source};
use crate::collect;
use crate::findings::Finding;
use crate::i18n::Lang;
use crate::render::{self, Format, Look, ReleaseReport, Report, Summary};
use crate::rules::{self, Ctx};
use crate::snapshot::{Snapshot, pod};

/// Could not run: bad input or nothing to read. Exit status 2, one line on stderr.
#[derive(Debug)]
pub enum Fatal {
    Msg(String),
    /// The reader went away (`kubectl bkdoctor check | head`): not an error.
    BrokenPipe,
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

pub fn run(cli: Cli, out: &mut dyn Write) -> Result<u8, Fatal> {
    let lang = Lang::detect(cli.lang);
    let look = Look {
        lang,
        color: render::use_color(
            cli.stdout_is_terminal,
            cli.no_color,
            std::env::var_os("NO_COLOR").as_deref(),
        ),
    };
    let mut catalog = Catalog::builtin();
    for path in &cli.rules_files {
        catalog.add_file(path).map_err(Fatal::Msg)?;
    }
    match cli.command {
        Command::Check(args) => check(args, &catalog, look, cli.now, out),
        Command::Release(args) => release(args, &catalog, look, cli.now, out),
        Command::Rules(args) => list_rules(args, &catalog, lang, out),
        Command::Completion(args) => {
            crate::completion::write(args.shell, out)?;
            Ok(0)
        }
    }
}

fn list_rules(
    args: RulesArgs,
    catalog: &Catalog,
    lang: Lang,
    out: &mut dyn Write,
) -> Result<u8, Fatal> {
    let list = render::rules::RuleList::new(catalog, lang);
    match args.output {
        Format::Table | Format::Markdown => render::rules::write(out, &list, catalog, lang)?,
        Format::Json => render::json::write(out, &list)?,
        Format::Yaml => render::yaml::write(out, &list)?,
    }
    Ok(0)
}

fn load(source: &Source) -> Result<Snapshot, Fatal> {
    match &source.snapshot {
        Some(dir) => Ok(collect::dir::load(dir)?),
        None => Err(Fatal::Msg(
            "reading a live cluster is not available yet; pass --snapshot DIR (a directory of `kubectl get -o yaml` files and pod logs)".into(),
        )),
    }
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
    let snap = load(&args.source)?;
    let now = now(now_flag, &snap);
    let ctx = Ctx::new(&snap, catalog, look.lang, now);
    let mut findings = rules::run_all(&ctx);
    let namespace = if args.all_namespaces {
        None
    } else {
        args.namespace
    };
    if let Some(ns) = &namespace {
        findings.retain(|f| f.namespace.as_deref().is_none_or(|n| n == ns));
    }
    let in_scope = |n: Option<&str>| namespace.as_deref().is_none_or(|ns| n == Some(ns));
    let (errors, warnings, info) = Summary::count(&findings);
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
            releases: ctx
                .releases
                .iter()
                .filter(|r| in_scope(Some(&r.namespace)))
                .count(),
            namespace,
            snapshot_time: Some(rules::when(now)),
        },
        findings,
        skipped: snap.skipped.clone(),
    };
    render::write_report(out, &report, args.output, catalog, look)?;
    Ok(render::exit_code(&report.findings))
}

fn release(
    args: ReleaseArgs,
    catalog: &Catalog,
    look: Look,
    now_flag: Option<Timestamp>,
    out: &mut dyn Write,
) -> Result<u8, Fatal> {
    let snap = load(&args.source)?;
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
            let elsewhere: Vec<_> = named.iter().map(|r| r.namespace.as_str()).collect();
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
        (f.namespace.as_deref() == Some(rel.namespace.as_str()) && objects.contains(&f.object))
            || f.covers.iter().any(|c| pods.contains(c))
    };
    let findings: Vec<Finding> = rules::run_all(&ctx).into_iter().filter(concerns).collect();
    let report = ReleaseReport {
        name: rel.name.clone(),
        namespace: rel.namespace.clone(),
        revisions: rel.revisions.clone(),
        findings,
        skipped: snap.skipped.clone(),
    };
    render::write_release(out, &report, args.output, catalog, look)?;
    Ok(render::exit_code(&report.findings))
}
