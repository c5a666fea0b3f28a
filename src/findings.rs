//! What a rule reports. The JSON field names here are a contract: scripts and the support team's
//! tooling read them, so rename nothing.

use serde::Serialize;

/// Ordered by how loudly an operator should hear about it. The rank is explicit so that
/// reordering the variants can never change which findings fail a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn rank(self) -> u8 {
        match self {
            Severity::Info => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id from the catalog, e.g. `helm-operation-in-progress`.
    pub rule: String,
    pub severity: Severity,
    /// `None` for cluster-scoped objects (nodes).
    pub namespace: Option<String>,
    /// `kind/name`, lower-case kind as kubectl spells it: `release/bk-paas`, `pod/bk-redis-cluster-0`.
    pub object: String,
    pub title: String,
    pub evidence: Vec<String>,
    /// Commands to copy and paste, in order; lines starting with `#` are advice for the reader, and
    /// a command for later (one that must not run with the others) is quoted with [`later`].
    pub remediation: Vec<String>,
    /// Why this happens, from the catalog.
    pub explanation: String,
    /// Pods (namespace, name) this finding accounts for, so that a generic rule does not report them
    /// again (a pod crash-looping because DNS fails is the DNS finding's, not a bare crash loop).
    #[serde(skip)]
    pub covers: Vec<(String, String)>,
    /// A shorter telling of `evidence` for a person, where the full lines repeat themselves (the
    /// same log line under every pod); empty when `evidence` reads well as it is. JSON keeps the
    /// full evidence.
    #[serde(skip)]
    pub brief: Vec<String>,
}

/// How a step for later is quoted among the advice: a comment, so that running every command of a
/// remediation in order never runs it, and indented so that a reader (and the table, which keeps
/// it whole) sees a command rather than prose.
const LATER: &str = "#   ";

/// `cmd` as a step for later: a `#` line quoting it.
pub fn later(cmd: &str) -> String {
    format!("{LATER}{cmd}")
}

/// The command a [`later`] line quotes.
pub fn quoted_command(line: &str) -> Option<&str> {
    line.strip_prefix(LATER)
        .map(str::trim_start)
        .filter(|c| !c.is_empty())
}

/// Something the doctor could not look at, and why: a file that did not parse, a list that was
/// forbidden. Reported next to the findings so that "no findings" is never mistaken for "healthy".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub what: String,
    pub reason: String,
}

impl Skipped {
    pub fn new(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Skipped {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// One workload of a release, as `release NAME` lists it: what `helm --wait` waits for. Field
/// names are a contract (`release -o json`, `workloads`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`.
    pub kind: String,
    pub name: String,
    /// Ready pods (for a Job: pods that succeeded).
    pub ready: i32,
    /// Wanted pods (for a Job: completions).
    pub desired: i32,
    /// The findings that explain why it is not ready.
    #[serde(rename = "blockedBy")]
    pub blocked_by: Vec<Blocker>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub rule: String,
    pub object: String,
}

/// Most severe first, then by namespace and object so that output is stable between runs.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.namespace.cmp(&b.namespace))
            .then_with(|| a.object.cmp(&b.object))
            .then_with(|| a.rule.cmp(&b.rule))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order_is_by_rank_not_declaration() {
        assert!(Severity::Error > Severity::Warning);
        assert!(Severity::Warning > Severity::Info);
        let mut v = vec![Severity::Warning, Severity::Error, Severity::Info];
        v.sort();
        assert_eq!(v, vec![Severity::Info, Severity::Warning, Severity::Error]);
    }
}
