//! Gathers the errors of a deployment's output and the release each belongs to: follows helm's
//! release naming, helmfile's blocks and tables and the one-click script's steps across lines, and
//! collects each error's first line and the lines that continue it. It never keeps the input (a
//! helmfile run can be megabytes; what is kept is bounded: the error being read, the newest
//! [`MAX_ERRORS`] errors, a few release names), and leaves the forms of single lines to
//! [`super::lines`] and what an error means to [`super::classify`].

use std::io::{self, BufRead};

use regex::RegexSet;

use crate::catalog::Catalog;

use super::classify::{NAMED, classify};
use super::lines::{
    Block, ERROR_START, INSTALLING, PROCESSING, RELEASE_NAME, UPGRADED, UPGRADING, WRAPPER,
    block_header, clean, debug_progress, other_error_start, read_line,
};

/// A line longer than this is cut: no error message is, and a base64 blob must not cost memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Distinct errors kept; past this the oldest are dropped and counted (the tail of a run matters).
pub const MAX_ERRORS: usize = 100;
/// Lines of one error read for matching: its first line and those that continue it.
const MAX_ERROR_LINES: usize = 24;

/// One error of the output, matched against the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// 1-based number of [`Found::line`] in the input.
    pub line_number: usize,
    /// The line that shows the error, cleaned of colour codes, timestamps and indentation. The only
    /// text of the input a report repeats.
    pub line: String,
    pub release: Option<String>,
    /// The catalog entry whose `output` signatures match; `None` for an error no entry knows.
    pub rule: Option<String>,
    /// What identical errors are recognised by: the text without helm's wrapping.
    key: String,
    /// The names the error's text gives, each of a strict shape (see [`super::names`]).
    pub names: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub errors: Vec<Found>,
    /// Errors dropped because more than [`MAX_ERRORS`] were found; the newest were kept.
    pub dropped: usize,
    pub lines: usize,
    /// Lines longer than [`MAX_LINE_BYTES`], read only in part.
    pub cut_lines: usize,
}

/// Reads the whole input and returns its errors, oldest first.
pub fn scan(input: &mut dyn BufRead, catalog: &Catalog) -> io::Result<Scan> {
    let mut p = Parser::new(catalog);
    let mut buf = Vec::with_capacity(256);
    while let Some(cut) = read_line(input, &mut buf)? {
        p.scan.lines += 1;
        if cut {
            p.scan.cut_lines += 1;
        }
        let raw = String::from_utf8_lossy(&buf);
        let line = clean(&raw);
        p.line(p.scan.lines, &line);
    }
    Ok(p.finish())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Failed,
    Updated,
}

struct Pending {
    indent: usize,
    /// `Error:` alone on its line: the message is on the next one.
    awaiting_text: bool,
    release: Option<String>,
    lines: Vec<(usize, String)>,
}

struct Parser<'c> {
    catalog: &'c Catalog,
    /// Every entry's `output` signatures at once: one pass tells whether a plain line is a known
    /// error, which a long run asks of every line.
    signatures: RegexSet,
    scan: Scan,
    block: Option<Block>,
    table: Option<(Table, bool)>,
    /// The release helm itself named last (`Release "X" does not exist. Installing it now.`).
    helm_release: Option<String>,
    /// The release helmfile named last (`failed processing release X`).
    helmfile_release: Option<String>,
    /// The releases of the last run of consecutive `Upgrading release=` lines: a release can be
    /// told from them only when there was one, as helmfile upgrades in parallel.
    upgrading: Vec<String>,
    last_was_upgrading: bool,
    pending: Option<Pending>,
    failed_releases: Vec<(usize, String)>,
    /// Releases reported deployed, and on which line: an earlier error of theirs is over.
    succeeded: Vec<(String, usize)>,
}

impl<'c> Parser<'c> {
    fn new(catalog: &'c Catalog) -> Self {
        let patterns = catalog.rules.iter().flat_map(|r| r.output.iter());
        // Each pattern compiled alone when the catalog loaded, so the set compiles too.
        let signatures = RegexSet::new(patterns).unwrap_or_else(|_| RegexSet::empty());
        Parser {
            catalog,
            signatures,
            scan: Scan::default(),
            block: None,
            table: None,
            helm_release: None,
            helmfile_release: None,
            upgrading: Vec::new(),
            last_was_upgrading: false,
            pending: None,
            failed_releases: Vec::new(),
            succeeded: Vec::new(),
        }
    }

    fn line(&mut self, n: usize, line: &str) {
        let content = line.trim();
        let indent = line.len() - line.trim_start().len();
        let was_upgrading = std::mem::take(&mut self.last_was_upgrading);

        if content.is_empty() {
            self.finish_pending();
            if self.table.is_some_and(|(_, header)| header) {
                self.table = None;
            }
            return;
        }
        if let Some(block) = block_header(content) {
            self.finish_pending();
            self.table = None;
            if content == "STDERR:" {
                // A new failure's output: helm's own release naming starts over.
                self.helm_release = None;
            }
            self.block = Some(block);
            return;
        }
        if indent == 0 {
            self.block = None;
        }
        if self.block == Some(Block::Args) {
            return;
        }
        if self.table_row(n, content) {
            return;
        }
        if content == "FAILED RELEASES:" || content == "UPDATED RELEASES:" {
            self.finish_pending();
            let t = if content.starts_with("FAILED") {
                Table::Failed
            } else {
                Table::Updated
            };
            self.table = Some((t, false));
            return;
        }

        if let Some(c) = UPGRADING.captures(content) {
            self.finish_pending();
            if !was_upgrading {
                self.upgrading.clear();
            }
            self.upgrading.push(c[1].to_string());
            self.last_was_upgrading = true;
            self.helm_release = None;
            self.helmfile_release = None;
            return;
        }
        let quoted_release = content.contains("Release \"");
        if let Some(c) = quoted_release
            .then(|| INSTALLING.captures(content))
            .flatten()
        {
            self.finish_pending();
            self.helm_release = Some(c[1].to_string());
            return;
        }
        if let Some(c) = quoted_release.then(|| UPGRADED.captures(content)).flatten() {
            self.finish_pending();
            self.succeeded.push((c[1].to_string(), n));
            return;
        }
        if let Some(c) = content
            .contains("failed processing release")
            .then(|| PROCESSING.captures(content))
            .flatten()
        {
            self.finish_pending();
            let release = c[1].to_string();
            self.helmfile_release = Some(release.clone());
            self.helm_release = None;
            let rest = c.get(2).map_or("", |m| m.as_str());
            // Helm's own words follow in the blocks below; anything else is helmfile's error.
            if !rest.is_empty() && !WRAPPER.is_match(rest) {
                self.start(n, indent, content, Some(release), false);
            } else {
                // A failed release even when helm's words are cut off below.
                self.failed_releases.push((n, release));
            }
            return;
        }
        if let Some(c) = content
            .contains("\" failed: ")
            .then(|| NAMED.captures(content))
            .flatten()
        {
            self.finish_pending();
            let release = c[1].to_string();
            self.start(n, indent, content, Some(release), false);
            return;
        }
        if let Some(c) = ERROR_START.captures(content) {
            self.finish_pending();
            let rest = c.get(1).map_or("", |m| m.as_str());
            // `ERROR:` is a block header; `exit status 1` only says that the command failed.
            let awaiting = rest.trim().is_empty();
            self.start(n, indent, content, None, awaiting);
            return;
        }
        if other_error_start(content) {
            self.finish_pending();
            self.start(n, indent, content, None, false);
            return;
        }
        if let Some(p) = &mut self.pending {
            if p.awaiting_text {
                p.awaiting_text = false;
                p.indent = indent;
                p.lines.clear();
                p.lines.push((n, content.to_string()));
                return;
            }
            if indent >= p.indent && p.lines.len() < MAX_ERROR_LINES {
                p.lines.push((n, content.to_string()));
                return;
            }
            self.finish_pending();
        }
        // A known error without helm's prefix, as someone pasted it or a script printed it.
        if self.signatures.is_match(content) && !debug_progress(content) {
            self.start(n, indent, content, None, false);
        }
    }

    /// A row of a helmfile table: the release name is its first word.
    fn table_row(&mut self, n: usize, content: &str) -> bool {
        let Some((table, header)) = self.table else {
            return false;
        };
        if !header {
            if content.split_whitespace().next() == Some("NAME") {
                self.table = Some((table, true));
                return true;
            }
            self.table = None;
            return false;
        }
        let name = content.split_whitespace().next().unwrap_or_default();
        if !RELEASE_NAME.is_match(name) || content.contains(": ") {
            self.table = None;
            return false;
        }
        match table {
            Table::Failed => self.failed_releases.push((n, name.to_string())),
            Table::Updated => self.succeeded.push((name.to_string(), n)),
        }
        true
    }

    fn start(
        &mut self,
        n: usize,
        indent: usize,
        content: &str,
        release: Option<String>,
        awaiting_text: bool,
    ) {
        self.pending = Some(Pending {
            indent,
            awaiting_text,
            release,
            lines: vec![(n, content.to_string())],
        });
    }

    fn context_release(&self) -> Option<String> {
        self.helm_release
            .clone()
            .or_else(|| self.helmfile_release.clone())
            .or_else(|| match self.upgrading.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            })
    }

    fn finish_pending(&mut self) {
        let Some(p) = self.pending.take() else {
            return;
        };
        if p.awaiting_text {
            // `Error:` and nothing after it.
            return;
        }
        let Some(c) = classify(self.catalog, &p.lines) else {
            return;
        };
        let release = p
            .release
            .clone()
            .or(c.release)
            .or_else(|| self.context_release());
        let shown = &p.lines[c.shown];
        let found = Found {
            line_number: shown.0,
            line: shown.1.clone(),
            release,
            rule: c.rule,
            key: c.key,
            names: c.names,
        };
        self.add(found);
    }

    fn add(&mut self, new: Found) {
        let errors = &mut self.scan.errors;
        if errors
            .iter()
            .any(|e| e.key == new.key && e.release == new.release)
        {
            return;
        }
        if new.release.is_some()
            && let Some(e) = errors
                .iter_mut()
                .find(|e| e.key == new.key && e.release.is_none())
        {
            // helmfile prints helm's error twice (STDERR, COMBINED OUTPUT); only the second copy
            // may follow helm's naming of the release.
            e.release = new.release;
            return;
        }
        if new.release.is_none() && errors.iter().any(|e| e.key == new.key) {
            return;
        }
        errors.push(new);
        if errors.len() > MAX_ERRORS {
            errors.remove(0);
            self.scan.dropped += 1;
        }
    }

    fn finish(mut self) -> Scan {
        self.finish_pending();
        let mut failed = std::mem::take(&mut self.failed_releases);
        let mut seen = std::collections::HashSet::new();
        failed.retain(|(_, r)| seen.insert(r.clone()));
        // helmfile's table names the releases that failed: an error it printed without a name
        // belongs to the one failed release that has none yet.
        let unexplained: Vec<&(usize, String)> = failed
            .iter()
            .filter(|(_, r)| {
                !self
                    .scan
                    .errors
                    .iter()
                    .any(|e| e.release.as_deref() == Some(r.as_str()))
            })
            .collect();
        let nameless = self
            .scan
            .errors
            .iter()
            .filter(|e| e.release.is_none())
            .count();
        if let ([one], 1) = (unexplained.as_slice(), nameless)
            && let Some(e) = self.scan.errors.iter_mut().find(|e| e.release.is_none())
        {
            e.release = Some(one.1.clone());
        } else {
            // A failed release whose error text is not in the input (cut off, or another file).
            for (n, r) in unexplained {
                self.scan.errors.push(Found {
                    line_number: *n,
                    line: r.clone(),
                    release: Some(r.clone()),
                    rule: None,
                    key: format!("FAILED RELEASES {r}"),
                    names: Vec::new(),
                });
            }
        }
        // A later run in the same output deployed the release: its earlier errors are over.
        let succeeded = std::mem::take(&mut self.succeeded);
        self.scan.errors.retain(|e| {
            !succeeded
                .iter()
                .any(|(r, n)| e.release.as_deref() == Some(r.as_str()) && *n > e.line_number)
        });
        self.scan.errors.sort_by_key(|e| e.line_number);
        self.scan
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
