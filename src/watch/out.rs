//! How `watch` tells what happens. On a terminal: the log of what happened, and below it a status
//! area (one line per release in progress, fitted to the width) redrawn in place. In a pipe:
//! plain lines, each with its time. `-o json`: one JSON object per event, for CI. Every sentence
//! comes from the catalog (en/zh); a finding is printed as the report prints it. It decides
//! nothing about what happened ([`super::track`] does).

use std::io::{self, Write};

use serde_json::json;
use unicode_width::UnicodeWidthChar;

use super::track::Happening;
use crate::catalog::{Catalog, fill};
use crate::findings::Finding;
use crate::render::{Look, table};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A person at a terminal: status area redrawn in place.
    Live,
    Plain,
    Json,
}

pub struct Out<'a> {
    w: &'a mut dyn Write,
    pub mode: Mode,
    look: Look,
    catalog: &'a Catalog,
    /// Lines of the status area on screen now, erased before the log goes on.
    drawn: usize,
}

fn clock() -> String {
    jiff::Zoned::now().strftime("%H:%M:%S").to_string()
}

/// `s` cut to `width` columns (Chinese takes two), with `…` when cut.
fn fit(s: &str, width: usize) -> String {
    let mut used = 0;
    let mut out = String::new();
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width.saturating_sub(1) {
            out.push('…');
            return out;
        }
        used += w;
        out.push(c);
    }
    out
}

impl<'a> Out<'a> {
    pub fn new(w: &'a mut dyn Write, mode: Mode, look: Look, catalog: &'a Catalog) -> Out<'a> {
        Out {
            w,
            mode,
            look,
            catalog,
            drawn: 0,
        }
    }

    fn ui(&self, key: &str, vars: &[(&str, &str)]) -> String {
        fill(self.catalog.ui(key, self.look.lang), vars)
    }

    /// Erases the status area, so that what follows is written where it was.
    fn erase(&mut self) -> io::Result<()> {
        if self.drawn > 0 {
            write!(self.w, "\x1b[{}A\r\x1b[J", self.drawn)?;
            self.drawn = 0;
        }
        Ok(())
    }

    /// Redraws the status area (terminal only): one line per release in progress.
    pub fn status(&mut self, lines: &[String]) -> io::Result<()> {
        if self.mode != Mode::Live {
            return Ok(());
        }
        self.erase()?;
        for l in lines {
            let text = fit(l, self.look.width);
            match self.look.color {
                true => writeln!(self.w, "\x1b[2m{text}\x1b[0m")?,
                false => writeln!(self.w, "{text}")?,
            }
        }
        self.drawn = lines.len();
        self.w.flush()
    }

    /// A line of the log, with the time in front outside JSON.
    pub fn line(&mut self, text: &str) -> io::Result<()> {
        self.erase()?;
        writeln!(self.w, "{}  {text}", clock())?;
        self.w.flush()
    }

    pub fn json(&mut self, mut v: serde_json::Value) -> io::Result<()> {
        v["time"] = json!(jiff::Timestamp::now().to_string());
        writeln!(self.w, "{v}")?;
        self.w.flush()
    }

    pub fn progress_line(&self, h: &Happening) -> String {
        let Happening::Progress {
            release,
            ready,
            total,
            waiting,
            ..
        } = h
        else {
            return String::new();
        };
        let mut s = self.ui(
            "watch_progress",
            &[
                ("release", release),
                ("ready", &ready.to_string()),
                ("total", &total.to_string()),
            ],
        );
        if !waiting.is_empty() {
            let names: Vec<String> = waiting
                .iter()
                .map(|(n, r, d)| format!("{n} {r}/{d}"))
                .collect();
            s.push_str(&self.ui("watch_waiting", &[("list", &names.join(", "))]));
        }
        s
    }

    pub fn happened(&mut self, h: &Happening) -> io::Result<()> {
        if self.mode == Mode::Json {
            return self.json(as_json(h));
        }
        match h {
            Happening::Started {
                release,
                revision,
                action,
                ..
            } => {
                let key = format!("watch_{action}");
                let action = self.catalog.ui(&key, self.look.lang).to_string();
                let t = self.ui(
                    "watch_started",
                    &[
                        ("release", release),
                        ("action", &action),
                        ("revision", &revision.to_string()),
                    ],
                );
                self.line(&t)?;
            }
            Happening::Progress { .. } => {
                // On a terminal the status area shows it; in a pipe each change is a line.
                if self.mode == Mode::Plain {
                    let t = self.progress_line(h);
                    self.line(&t)?;
                }
            }
            Happening::Found { finding, fatal } => self.finding(finding, *fatal)?,
            Happening::Cleared { finding } => {
                let t = self.ui(
                    "watch_cleared",
                    &[("rule", &finding.rule), ("object", &finding.object)],
                );
                self.line(&t)?;
            }
            Happening::Settled {
                release,
                revision,
                status,
                ..
            } => {
                let t = self.ui(
                    "watch_settled",
                    &[
                        ("release", release),
                        ("revision", &revision.to_string()),
                        ("status", status),
                    ],
                );
                self.line(&t)?;
            }
        }
        self.w.flush()
    }

    fn finding(&mut self, f: &Finding, fatal: bool) -> io::Result<()> {
        self.erase()?;
        writeln!(self.w, "{}", clock())?;
        table::detail(self.w, f, self.catalog, self.look)?;
        if fatal {
            let t = self.ui("watch_fatal", &[]);
            for l in crate::render::wrap::wrap(&t, self.look.width, "") {
                match self.look.color {
                    true => writeln!(self.w, "\x1b[1;31m{l}\x1b[0m")?,
                    false => writeln!(self.w, "{l}")?,
                }
            }
        }
        writeln!(self.w)
    }

    /// The end: what is still wrong, one line each.
    pub fn summary(&mut self, present: &[Finding]) -> io::Result<()> {
        if self.mode == Mode::Json {
            let findings: Vec<_> = present.iter().map(|f| json!(f)).collect();
            return self.json(json!({"event": "summary", "findings": findings}));
        }
        self.erase()?;
        if present.is_empty() {
            let t = self.ui("watch_clean", &[]);
            return self.line(&t);
        }
        let t = self.ui("watch_still", &[("n", &present.len().to_string())]);
        self.line(&t)?;
        for f in present {
            let sev = table::severity(self.catalog, self.look.lang, f.severity);
            let ns = f
                .namespace
                .as_deref()
                .map(|n| format!(" -n {n}"))
                .unwrap_or_default();
            writeln!(self.w, "  {sev}  {}  {}{ns}", f.rule, f.object)?;
        }
        self.w.flush()
    }

    /// A sentence of the catalog as a log line (or a JSON `note`).
    pub fn note(&mut self, key: &str, vars: &[(&str, &str)]) -> io::Result<()> {
        let t = self.ui(key, vars);
        match self.mode {
            Mode::Json => self.json(json!({"event": "note", "message": t})),
            _ => self.line(&t),
        }
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        let _ = self.erase();
        self.w
    }
}

fn as_json(h: &Happening) -> serde_json::Value {
    match h {
        Happening::Started {
            namespace,
            release,
            revision,
            action,
        } => json!({"event": "started", "namespace": namespace, "release": release,
                    "revision": revision, "action": action}),
        Happening::Progress {
            namespace,
            release,
            ready,
            total,
            waiting,
        } => {
            let waiting: Vec<_> = waiting
                .iter()
                .map(|(n, r, d)| json!({"name": n, "ready": r, "desired": d}))
                .collect();
            json!({"event": "progress", "namespace": namespace, "release": release,
                   "ready": ready, "total": total, "waiting": waiting})
        }
        Happening::Found { finding, fatal } => {
            json!({"event": "found", "fatal": fatal, "finding": finding})
        }
        Happening::Cleared { finding } => json!({"event": "cleared", "rule": finding.rule,
            "namespace": finding.namespace, "object": finding.object}),
        Happening::Settled {
            namespace,
            release,
            revision,
            status,
        } => json!({"event": "settled", "namespace": namespace, "release": release,
                    "revision": revision, "status": status}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_fit_the_width_in_columns() {
        assert_eq!(fit("bk-repo: 3/5 workloads ready", 12), "bk-repo: 3/…");
        assert_eq!(fit("蓝鲸蓝鲸蓝鲸", 7), "蓝鲸蓝…");
        assert_eq!(fit("short", 80), "short");
    }
}
