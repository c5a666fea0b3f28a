//! Output. Every renderer writes into any `io::Write`, so tests compare strings and `main` only
//! chooses stdout.

pub mod json;
pub mod rules;
pub mod table;

use serde::Serialize;

use crate::findings::{Finding, Severity, Skipped};
use crate::helm::Revision;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
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
