//! Output. Every renderer writes into any `io::Write`, so tests compare strings and `main` only
//! chooses stdout.

pub mod explain;
pub mod grid;
pub mod html;
mod html_explain;
mod html_release;
mod html_style;
pub mod json;
mod labels;
pub mod markdown;
pub mod rules;
pub mod table;
pub mod wrap;
pub mod yaml;

use std::ffi::OsStr;
use std::io::{self, Write};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::findings::{Blocker, Finding, Severity, Skipped, Workload};
use crate::helm::Revision;
use crate::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a person at a terminal
    Table,
    /// For scripts; field names are stable
    Json,
    /// The JSON document as YAML, same field names
    Yaml,
    /// A report to paste into a support ticket
    Markdown,
    /// One self-contained page to attach to a ticket or open in a browser (check, release, explain)
    Html,
}

/// How to show a report besides its format: language, whether the table may use colour, and how
/// many columns it may fill.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub lang: Lang,
    pub color: bool,
    pub width: usize,
}

/// Columns of a table written to a pipe or a file without `COLUMNS`: wide enough for most commands,
/// narrow enough for a ticket or a mail.
pub const PIPE_WIDTH: usize = 100;
/// Below this, sentences wrap into a column of single words; a narrower terminal gets wider lines.
const MIN_WIDTH: usize = 40;

/// The width of the table: `COLUMNS` when set (as a person sets it, or a shell exports it), else the
/// terminal's window size, else [`PIPE_WIDTH`]. With stdout a pipe and stderr still the terminal
/// (`check | less`, `check | head`) the person reads it in that terminal: its width.
pub fn width(stdout_is_terminal: bool, columns_env: Option<&OsStr>) -> usize {
    let columns = columns_env
        .and_then(OsStr::to_str)
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|w| *w > 0);
    let w = columns
        .or_else(|| window_width(stdout_is_terminal))
        .unwrap_or(PIPE_WIDTH);
    w.max(MIN_WIDTH)
}

#[cfg(unix)]
fn window_width(stdout_is_terminal: bool) -> Option<usize> {
    let size = if stdout_is_terminal {
        rustix::termios::tcgetwinsize(std::io::stdout())
    } else {
        rustix::termios::tcgetwinsize(std::io::stderr())
    };
    size.ok()
        .map(|ws| usize::from(ws.ws_col))
        .filter(|w| *w > 0)
}

#[cfg(not(unix))]
fn window_width(_stdout_is_terminal: bool) -> Option<usize> {
    None
}

/// Colour is for a person at a terminal: never in a pipe or a file, where escape codes would end up
/// in a ticket or a grep. `NO_COLOR` follows <https://no-color.org>: set and not empty disables it.
pub fn use_color(
    stdout_is_terminal: bool,
    no_color_flag: bool,
    no_color_env: Option<&OsStr>,
) -> bool {
    stdout_is_terminal && !no_color_flag && no_color_env.is_none_or(|v| v.is_empty())
}

pub fn write_report(
    out: &mut dyn Write,
    r: &Report,
    format: Format,
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    match format {
        Format::Table => table::write_report(out, &r.printable(), catalog, look),
        Format::Json => json::write(out, r),
        Format::Yaml => yaml::write(out, r),
        Format::Markdown => markdown::write_report(out, &r.printable(), catalog, look.lang),
        Format::Html => html::write_report(out, &r.printable(), catalog, look.lang),
    }
}

pub fn write_release(
    out: &mut dyn Write,
    r: &ReleaseReport,
    format: Format,
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    match format {
        Format::Table => table::write_release(out, &r.printable(), catalog, look),
        Format::Json => json::write(out, r),
        Format::Yaml => yaml::write(out, r),
        Format::Markdown => markdown::write_release(out, &r.printable(), catalog, look.lang),
        Format::Html => html_release::write_release(out, &r.printable(), catalog, look.lang),
    }
}

/// Text from the cluster (helm's descriptions, event messages, names in a stranger's snapshot) can
/// hold control characters that would drive the terminal showing a table, or hide text in a
/// ticket. The formats for people show each as U+FFFD; JSON and YAML escape them themselves.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

fn printable_finding(f: &Finding) -> Finding {
    let all = |v: &[String]| v.iter().map(|s| printable(s)).collect();
    Finding {
        namespace: f.namespace.as_deref().map(printable),
        object: printable(&f.object),
        title: printable(&f.title),
        evidence: all(&f.evidence),
        brief: all(&f.brief),
        remediation: all(&f.remediation),
        explanation: printable(&f.explanation),
        ..f.clone()
    }
}

fn printable_skipped(s: &Skipped) -> Skipped {
    Skipped::new(printable(&s.what), printable(&s.reason))
}

fn printable_revision(r: &Revision) -> Revision {
    let opt = |o: &Option<String>| o.as_deref().map(printable);
    Revision {
        status: printable(&r.status),
        chart: opt(&r.chart),
        chart_version: opt(&r.chart_version),
        app_version: opt(&r.app_version),
        description: opt(&r.description),
        ..r.clone()
    }
}

impl Report {
    fn printable(&self) -> Report {
        Report {
            findings: self.findings.iter().map(printable_finding).collect(),
            skipped: self.skipped.iter().map(printable_skipped).collect(),
            summary: Summary {
                namespace: self.summary.namespace.as_deref().map(printable),
                snapshot_time: self.summary.snapshot_time.clone(),
                ..self.summary
            },
            cluster: self.cluster.as_deref().map(printable),
            releases: self
                .releases
                .iter()
                .map(|r| ReleaseState {
                    namespace: printable(&r.namespace),
                    name: printable(&r.name),
                    latest: printable_revision(&r.latest),
                })
                .collect(),
        }
    }
}

impl ReleaseReport {
    fn printable(&self) -> ReleaseReport {
        ReleaseReport {
            name: printable(&self.name),
            namespace: printable(&self.namespace),
            revisions: self.revisions.iter().map(printable_revision).collect(),
            findings: self.findings.iter().map(printable_finding).collect(),
            workloads: self
                .workloads
                .iter()
                .map(|w| Workload {
                    name: printable(&w.name),
                    blocked_by: w
                        .blocked_by
                        .iter()
                        .map(|b| Blocker {
                            rule: printable(&b.rule),
                            object: printable(&b.object),
                        })
                        .collect(),
                    ..w.clone()
                })
                .collect(),
            skipped: self.skipped.iter().map(printable_skipped).collect(),
            pods: self
                .pods
                .iter()
                .map(|p| PodRow {
                    name: printable(&p.name),
                    status: printable(&p.status),
                    node: printable(&p.node),
                    ..p.clone()
                })
                .collect(),
            cluster: self.cluster.as_deref().map(printable),
            snapshot_time: self.snapshot_time.clone(),
        }
    }
}

/// The result of `check`. Field names are a contract (`-o json`).
#[derive(Debug, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub summary: Summary,
    /// Which cluster was read (`context "x" (server)`, or the snapshot's path), for the formats
    /// that head a page with it.
    #[serde(skip)]
    pub cluster: Option<String>,
    /// Every release in scope and its newest revision, for the formats that show them all.
    #[serde(skip)]
    pub releases: Vec<ReleaseState>,
}

/// A release and the state of its newest revision.
#[derive(Debug, Clone)]
pub struct ReleaseState {
    pub namespace: String,
    pub name: String,
    pub latest: Revision,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    /// The namespace looked at; absent for all namespaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub pods: usize,
    pub nodes: usize,
    pub releases: usize,
    /// The time ages were measured against (RFC 3339).
    #[serde(rename = "snapshotTime", skip_serializing_if = "Option::is_none")]
    pub snapshot_time: Option<String>,
}

impl Summary {
    /// "1 error(s), 0 warning(s), … Read 3 pod(s), …" in the report's language.
    pub fn sentence(&self, catalog: &crate::catalog::Catalog, lang: crate::i18n::Lang) -> String {
        let n = |v: usize| v.to_string();
        crate::catalog::fill(
            catalog.ui("summary", lang),
            &[
                ("errors", &n(self.errors)),
                ("warnings", &n(self.warnings)),
                ("info", &n(self.info)),
                ("pods", &n(self.pods)),
                ("releases", &n(self.releases)),
                ("nodes", &n(self.nodes)),
            ],
        )
    }

    pub fn count(findings: &[Finding]) -> (usize, usize, usize) {
        let n = |s| findings.iter().filter(|f| f.severity == s).count();
        (n(Severity::Error), n(Severity::Warning), n(Severity::Info))
    }
}

/// The result of `release NAME`. Field names are a contract (`-o json`).
#[derive(Debug, Serialize)]
pub struct ReleaseReport {
    pub name: String,
    pub namespace: String,
    pub revisions: Vec<Revision>,
    pub findings: Vec<Finding>,
    /// What `helm --wait` waits for: the release's Deployments, StatefulSets, DaemonSets and Jobs.
    pub workloads: Vec<Workload>,
    pub skipped: Vec<Skipped>,
    /// The release's pods, for a person at a terminal; scripts have `kubectl get pods`.
    #[serde(skip)]
    pub pods: Vec<PodRow>,
    /// Which cluster was read and when, for the formats that head a page with it.
    #[serde(skip)]
    pub cluster: Option<String>,
    #[serde(skip)]
    pub snapshot_time: Option<String>,
}

/// A pod as `kubectl get pods -o wide` shows it.
#[derive(Debug, Clone)]
pub struct PodRow {
    pub name: String,
    pub ready: String,
    pub status: String,
    pub restarts: i32,
    pub node: String,
}

impl PodRow {
    pub fn of(p: &k8s_openapi::api::core::v1::Pod) -> PodRow {
        use crate::snapshot::pod;
        let statuses = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref());
        let total = statuses.map_or(0, Vec::len);
        let ready = statuses.map_or(0, |c| c.iter().filter(|c| c.ready).count());
        let status = if p.metadata.deletion_timestamp.is_some() {
            "Terminating".to_string()
        } else {
            pod::container_statuses(p)
                .find_map(|c| pod::waiting_reason(c).map(str::to_string))
                .unwrap_or_else(|| pod::phase(p).to_string())
        };
        PodRow {
            name: pod::name(p).to_string(),
            ready: format!("{ready}/{total}"),
            status,
            restarts: pod::restarts(p),
            node: pod::node(p).unwrap_or("-").to_string(),
        }
    }
}

/// The result of `explain`. Field names are a contract (`-o json`): `errors`, then `findings`,
/// `skipped` and `summary` as `check` has them.
#[derive(Debug, Serialize)]
pub struct ExplainReport {
    pub errors: Vec<ExplainedError>,
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub summary: Summary,
    /// Whether a cluster (live or a snapshot) was read, or the text alone (`--no-cluster`).
    #[serde(skip)]
    pub cluster_read: bool,
    /// Which cluster was read, for the formats that head a page with it.
    #[serde(skip)]
    pub cluster: Option<String>,
}

/// One error of the deployment's output, and what answers it.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainedError {
    /// The line of the input that shows the error: the only input text any output repeats.
    pub line: String,
    pub release: Option<String>,
    /// The catalog entry that matched; `None` for an error no known issue matches.
    pub rule: Option<String>,
    pub title: String,
    /// What it means; for a timeout nothing in the cluster explains, also what was looked at.
    pub explanation: String,
    pub remediation: Vec<String>,
    /// The cluster's findings that explain it, each also in the report's `findings`.
    pub findings: Vec<FindingRef>,
    #[serde(skip)]
    pub line_number: usize,
    #[serde(skip)]
    pub severity: Severity,
    /// The explanation alone, and the objects looked at, for the formats that lay them out.
    #[serde(skip)]
    pub means: String,
    #[serde(skip)]
    pub looked_at: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRef {
    pub rule: String,
    pub object: String,
}

impl ExplainReport {
    /// 0 when the output shows no error and the cluster nothing at warning or above, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.errors.iter().any(|e| e.severity >= Severity::Warning) {
            1
        } else {
            exit_code(&self.findings)
        }
    }

    fn printable(&self) -> ExplainReport {
        ExplainReport {
            errors: self
                .errors
                .iter()
                .map(|e| ExplainedError {
                    line: printable(&e.line),
                    release: e.release.as_deref().map(printable),
                    title: printable(&e.title),
                    explanation: printable(&e.explanation),
                    remediation: e.remediation.iter().map(|s| printable(s)).collect(),
                    means: printable(&e.means),
                    looked_at: e.looked_at.iter().map(|s| printable(s)).collect(),
                    ..e.clone()
                })
                .collect(),
            findings: self.findings.iter().map(printable_finding).collect(),
            skipped: self.skipped.iter().map(printable_skipped).collect(),
            summary: Summary {
                namespace: self.summary.namespace.as_deref().map(printable),
                snapshot_time: self.summary.snapshot_time.clone(),
                ..self.summary
            },
            cluster_read: self.cluster_read,
            cluster: self.cluster.as_deref().map(printable),
        }
    }
}

pub fn write_explain(
    out: &mut dyn Write,
    r: &ExplainReport,
    format: Format,
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    match format {
        Format::Table => explain::write_table(out, &r.printable(), catalog, look),
        Format::Json => json::write(out, r),
        Format::Yaml => yaml::write(out, r),
        Format::Markdown => explain::write_markdown(out, &r.printable(), catalog, look.lang),
        Format::Html => html_explain::write_explain(out, &r.printable(), catalog, look.lang),
    }
}

/// Exit status scripts can use: 0 nothing at warning or above, 1 something at warning or above.
/// (2, could not run, is decided where the error happens.)
pub fn exit_code(findings: &[Finding]) -> u8 {
    if findings.iter().any(|f| f.severity >= Severity::Warning) {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_the_cluster_never_reach_a_table_or_markdown() {
        let finding = Finding {
            rule: "helm-release-failed".into(),
            severity: Severity::Warning,
            namespace: Some("blueking".into()),
            object: "release/x\u{1b}]0;title\u{7}".into(),
            title: "failed \u{1b}[2J".into(),
            evidence: vec!["helm said: \u{1b}[8mhidden\u{0}".into()],
            remediation: vec!["helm history -n blueking x".into()],
            explanation: String::new(),
            covers: Vec::new(),
            brief: Vec::new(),
        };
        let report = Report {
            findings: vec![finding],
            skipped: vec![Skipped::new("file\u{1b}[1A", "bad\u{9b}31m")],
            summary: Summary {
                errors: 0,
                warnings: 1,
                info: 0,
                namespace: None,
                pods: 0,
                nodes: 0,
                releases: 0,
                snapshot_time: None,
            },
            cluster: None,
            releases: Vec::new(),
        };
        let catalog = Catalog::builtin();
        for format in [Format::Table, Format::Markdown, Format::Html] {
            let mut out = Vec::new();
            let look = Look {
                lang: Lang::En,
                color: false,
                width: PIPE_WIDTH,
            };
            write_report(&mut out, &report, format, &catalog, look).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{format:?}: {text:?}"
            );
            // Made visible, not dropped: the reader sees that something was there.
            assert!(
                text.contains('\u{fffd}') && text.contains("hidden"),
                "{text}"
            );
        }
    }

    #[test]
    fn colour_needs_a_terminal_and_no_opt_out() {
        assert!(use_color(true, false, None));
        assert!(!use_color(false, false, None), "pipe or file");
        assert!(!use_color(true, true, None), "--no-color");
        assert!(!use_color(true, false, Some(OsStr::new("1"))), "NO_COLOR=1");
        // no-color.org: an empty NO_COLOR does not count.
        assert!(use_color(true, false, Some(OsStr::new(""))));
    }
}
