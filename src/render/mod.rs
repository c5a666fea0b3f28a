//! Output. Every renderer writes into any `io::Write`, so tests compare strings and `main` only
//! chooses stdout.

pub mod json;
pub mod markdown;
pub mod rules;
pub mod table;
pub mod wrap;
pub mod yaml;

use std::ffi::OsStr;
use std::io::{self, Write};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::findings::{Finding, Severity, Skipped};
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
}

/// How to show a report besides its format: language, and whether the table may use colour.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub lang: Lang,
    pub color: bool,
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
        Format::Table => table::write_report(out, r, catalog, look),
        Format::Json => json::write(out, r),
        Format::Yaml => yaml::write(out, r),
        Format::Markdown => markdown::write_report(out, r, catalog, look.lang),
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
        Format::Table => table::write_release(out, r, catalog, look),
        Format::Json => json::write(out, r),
        Format::Yaml => yaml::write(out, r),
        Format::Markdown => markdown::write_release(out, r, catalog, look.lang),
    }
}

/// The result of `check`. Field names are a contract (`-o json`).
#[derive(Debug, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub summary: Summary,
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
    pub skipped: Vec<Skipped>,
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
    fn colour_needs_a_terminal_and_no_opt_out() {
        assert!(use_color(true, false, None));
        assert!(!use_color(false, false, None), "pipe or file");
        assert!(!use_color(true, true, None), "--no-color");
        assert!(!use_color(true, false, Some(OsStr::new("1"))), "NO_COLOR=1");
        // no-color.org: an empty NO_COLOR does not count.
        assert!(use_color(true, false, Some(OsStr::new(""))));
    }
}
