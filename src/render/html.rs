//! `-o html`: one self-contained page to attach to a ticket or open on a phone. The cluster, when it
//! was read, the counts by severity and the releases first; then every finding with its evidence
//! (log lines as code), its fix as copyable blocks and its explanation folded.
//!
//! Everything from the cluster is escaped by [`esc`]: a name or a log line can never become
//! markup. The pages of `release` ([`super::html_release`]) and `explain` ([`super::html_explain`])
//! are laid out with the same parts. The page names nothing outside itself (no URL, no font, no script source), so it
//! reads the same offline and from a `file://` path.

use std::io::{self, Write};

use super::html_style::{CSS, JS};
use super::{ReleaseState, Report, Summary};
use crate::catalog::{Catalog, fill};
use crate::findings::{self, Finding, Severity, Skipped};
use crate::helm::Revision;
use crate::i18n::Lang;
use crate::version;

/// Text as HTML text or attribute value: the five characters that could end either.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) struct Page<'a> {
    pub(super) out: &'a mut dyn Write,
    catalog: &'a Catalog,
    lang: Lang,
    /// The headers of the table being written, repeated in each cell for narrow screens, where a
    /// row becomes a card of `header: value` lines.
    headers: Vec<String>,
}

impl<'a> Page<'a> {
    pub(super) fn new(out: &'a mut dyn Write, catalog: &'a Catalog, lang: Lang) -> Self {
        Page {
            out,
            catalog,
            lang,
            headers: Vec::new(),
        }
    }
}

impl Page<'_> {
    pub(super) fn ui<'k>(&'k self, key: &'k str) -> &'k str {
        self.catalog.ui(key, self.lang)
    }

    pub(super) fn start(&mut self, title: &str) -> io::Result<()> {
        let lang = match self.lang {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        };
        writeln!(self.out, "<!DOCTYPE html>")?;
        writeln!(self.out, "<html lang=\"{lang}\">")?;
        writeln!(self.out, "<head>")?;
        writeln!(self.out, "<meta charset=\"utf-8\">")?;
        writeln!(
            self.out,
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        )?;
        writeln!(self.out, "<title>{}</title>", esc(title))?;
        writeln!(self.out, "<style>{CSS}</style>")?;
        writeln!(self.out, "</head>")?;
        writeln!(self.out, "<body>")?;
        writeln!(self.out, "<main>")?;
        writeln!(self.out, "<h1>{}</h1>", esc(title))
    }

    pub(super) fn end(&mut self) -> io::Result<()> {
        let build = format!("kubectl-bkdoctor {}", version::LONG);
        let line = fill(self.ui("md_version"), &[("build", &build)]);
        writeln!(self.out, "<footer>{}</footer>", esc(&line))?;
        writeln!(self.out, "</main>")?;
        writeln!(self.out, "<script>{JS}</script>")?;
        writeln!(self.out, "</body>")?;
        writeln!(self.out, "</html>")
    }

    /// The cluster's line: a live cluster or a snapshot this tool wrote names its context; a
    /// snapshot made by hand is named by its path.
    pub(super) fn source(&self, cluster: &Option<String>, meta: &mut Vec<(&str, String)>) {
        if let Some(c) = cluster {
            let key = if c.starts_with("context \"") {
                "html_cluster"
            } else {
                "html_snapshot"
            };
            meta.push((key, c.clone()));
        }
    }

    /// `label: value` pairs under the title.
    pub(super) fn meta(&mut self, pairs: &[(&str, String)]) -> io::Result<()> {
        writeln!(self.out, "<dl class=\"meta\">")?;
        for (key, value) in pairs {
            writeln!(
                self.out,
                "<dt>{}</dt><dd>{}</dd>",
                esc(self.ui(key)),
                esc(value)
            )?;
        }
        writeln!(self.out, "</dl>")
    }

    pub(super) fn scope(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => fill(self.ui("md_namespace"), &[("namespace", ns)]),
            None => self.ui("md_all_namespaces").to_string(),
        }
    }

    /// The counts by severity, each with its word; then the summary sentence.
    pub(super) fn counts(&mut self, s: &Summary) -> io::Result<()> {
        writeln!(self.out, "<ul class=\"counts\">")?;
        for (n, sev, key) in [
            (s.errors, "error", "html_errors"),
            (s.warnings, "warning", "html_warnings"),
            (s.info, "info", "html_infos"),
        ] {
            writeln!(
                self.out,
                "<li class=\"sev-{sev}\"><b>{n}</b>{}</li>",
                esc(self.ui(key))
            )?;
        }
        writeln!(self.out, "</ul>")?;
        let sentence = s.sentence(self.catalog, self.lang);
        writeln!(self.out, "<p class=\"muted\">{}</p>", esc(&sentence))
    }

    pub(super) fn severity(&self, s: Severity) -> String {
        let (class, key) = match s {
            Severity::Error => ("error", "sev_error"),
            Severity::Warning => ("warning", "sev_warning"),
            Severity::Info => ("info", "sev_info"),
        };
        format!("<span class=\"badge {class}\">{}</span>", esc(self.ui(key)))
    }

    pub(super) fn table_head(&mut self, keys: &[&str]) -> io::Result<()> {
        writeln!(self.out, "<div class=\"scroll\"><table>")?;
        self.headers = keys.iter().map(|k| esc(self.ui(k))).collect();
        let cells: String = self
            .headers
            .iter()
            .map(|h| format!("<th scope=\"col\">{h}</th>"))
            .collect();
        writeln!(self.out, "<thead><tr>{cells}</tr></thead><tbody>")
    }

    /// One row: each cell's class and its HTML (already escaped).
    pub(super) fn row(&mut self, cells: &[(&str, String)]) -> io::Result<()> {
        let mut line = String::from("<tr>");
        for ((class, html), header) in cells.iter().zip(&self.headers) {
            line.push_str(&format!(
                "<td class=\"{class}\" data-label=\"{header}\"><span>{html}</span></td>"
            ));
        }
        line.push_str("</tr>");
        writeln!(self.out, "{line}")
    }

    pub(super) fn table_end(&mut self) -> io::Result<()> {
        writeln!(self.out, "</tbody></table></div>")
    }

    /// The releases and the state of each one's newest revision, as `release NAME` shows them.
    fn releases(&mut self, list: &[ReleaseState]) -> io::Result<()> {
        writeln!(self.out, "<h2>{}</h2>", esc(self.ui("html_releases")))?;
        if list.is_empty() {
            return writeln!(self.out, "<p>{}</p>", esc(self.ui("html_no_releases")));
        }
        self.table_head(&[
            "html_namespace",
            "html_release",
            "col_revision",
            "col_status",
            "col_chart",
            "col_updated",
        ])?;
        for r in list {
            let rev = &r.latest;
            self.row(&[
                ("", esc(&r.namespace)),
                ("", esc(&r.name)),
                ("num", rev.revision.to_string()),
                ("nowrap", state(&rev.status)),
                ("nowrap", esc(&chart(rev))),
                ("nowrap", esc(&updated(rev))),
            ])?;
        }
        self.table_end()
    }

    /// Every revision of one release, oldest first, as `release NAME` shows them.
    pub(super) fn revisions(&mut self, list: &[Revision]) -> io::Result<()> {
        self.table_head(&[
            "col_revision",
            "col_status",
            "col_chart",
            "col_app_version",
            "col_updated",
            "col_description",
        ])?;
        for rev in list {
            self.row(&[
                ("num", rev.revision.to_string()),
                ("nowrap", state(&rev.status)),
                ("nowrap", esc(&chart(rev))),
                ("", esc(rev.app_version.as_deref().unwrap_or("-"))),
                ("nowrap", esc(&updated(rev))),
                ("prose", esc(rev.description.as_deref().unwrap_or("-"))),
            ])?;
        }
        self.table_end()
    }

    /// One line per finding, linking to it: what is wrong at a glance.
    fn overview(&mut self, list: &[Finding], prefix: &str) -> io::Result<()> {
        if list.len() < 2 {
            return Ok(());
        }
        writeln!(self.out, "<ol class=\"overview\">")?;
        for (i, f) in list.iter().enumerate() {
            writeln!(
                self.out,
                "<li>{} <a href=\"#{prefix}{}\">{}</a></li>",
                self.severity(f.severity),
                i + 1,
                esc(&f.title)
            )?;
        }
        writeln!(self.out, "</ol>")
    }

    pub(super) fn findings(&mut self, list: &[Finding], prefix: &str) -> io::Result<()> {
        if list.is_empty() {
            return writeln!(self.out, "<p>{}</p>", esc(self.ui("no_findings")));
        }
        self.overview(list, prefix)?;
        for (i, f) in list.iter().enumerate() {
            self.finding(i + 1, f, prefix)?;
        }
        Ok(())
    }

    fn finding(&mut self, n: usize, f: &Finding, prefix: &str) -> io::Result<()> {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        writeln!(
            self.out,
            "<article class=\"finding sev-{sev}\" id=\"{prefix}{n}\">"
        )?;
        let object = match &f.namespace {
            Some(ns) => format!("{ns} / {}", f.object),
            None => f.object.clone(),
        };
        writeln!(
            self.out,
            "<header><h3>{n}. {}</h3><span class=\"object\">{}</span></header>",
            self.severity(f.severity),
            esc(&object)
        )?;
        writeln!(self.out, "<p class=\"title\">{}</p>", esc(&f.title))?;
        writeln!(
            self.out,
            "<p class=\"rule\">{}: <code>{}</code></p>",
            esc(self.ui("col_id")),
            esc(&f.rule)
        )?;
        if !f.evidence.is_empty() {
            writeln!(self.out, "<h4>{}</h4>", esc(self.ui("md_evidence")))?;
            self.evidence(&f.evidence)?;
        }
        if !f.remediation.is_empty() {
            writeln!(self.out, "<h4>{}</h4>", esc(self.ui("md_fix")))?;
            self.fix(&f.remediation)?;
        }
        if !f.explanation.is_empty() {
            self.explanation(&f.explanation)?;
        }
        writeln!(self.out, "</article>")
    }

    pub(super) fn explanation(&mut self, text: &str) -> io::Result<()> {
        writeln!(
            self.out,
            "<details><summary>{}</summary><p>{}</p></details>",
            esc(self.ui("html_why")),
            esc(text)
        )
    }

    /// Evidence lines; the quoted log lines (`> ...`) after a line as one block of code under it,
    /// and a line that quotes a log after its label (`pod/c (previous log): ...`) with the quote as
    /// code.
    fn evidence(&mut self, lines: &[String]) -> io::Result<()> {
        let is_log = |l: &str| l.starts_with("> ") || l == ">";
        writeln!(self.out, "<ul class=\"evidence\">")?;
        let mut i = 0;
        while i < lines.len() {
            let line = &lines[i];
            if is_log(line) {
                write!(self.out, "<li class=\"log\">")?;
            } else {
                match self.log_quote(line) {
                    Some((label, log)) => write!(
                        self.out,
                        "<li>{}<pre class=\"log\"><code>{}</code></pre>",
                        esc(label),
                        esc(log)
                    )?,
                    None => write!(self.out, "<li>{}", esc(line))?,
                }
                i += 1;
            }
            let mut log = Vec::new();
            while i < lines.len() && is_log(&lines[i]) {
                log.push(lines[i].get(2..).unwrap_or_default());
                i += 1;
            }
            if !log.is_empty() {
                write!(
                    self.out,
                    "<pre class=\"log\"><code>{}</code></pre>",
                    esc(&log.join("\n"))
                )?;
            }
            writeln!(self.out, "</li>")?;
        }
        writeln!(self.out, "</ul>")
    }

    /// `pod/c on node n (previous log): LINE` → (`pod/c on node n (previous log):`, `LINE`).
    fn log_quote<'l>(&self, line: &'l str) -> Option<(&'l str, &'l str)> {
        ["log_previous", "log_current"].iter().find_map(|key| {
            let label = self.ui(key);
            [format!("({label}): "), format!("（{label}）：")]
                .iter()
                .find_map(|marker| {
                    let at = line.find(marker.as_str())?;
                    let end = at + marker.len();
                    Some((line[..end].trim_end(), &line[end..]))
                })
        })
    }

    /// The fix in order: each run of commands one block with its copy button, advice as prose, and
    /// each step for later a block of its own, marked and set apart.
    pub(super) fn fix(&mut self, lines: &[String]) -> io::Result<()> {
        let copy = esc(self.ui("html_copy"));
        let copied = esc(self.ui("html_copied"));
        let button = format!(
            "<button class=\"copy\" type=\"button\" data-done=\"{copied}\">{copy}</button>"
        );
        let mut run: Vec<&str> = Vec::new();
        let flush = |out: &mut dyn Write, run: &mut Vec<&str>| -> io::Result<()> {
            if !run.is_empty() {
                writeln!(
                    out,
                    "<div class=\"cmd\">{button}<pre><code>{}</code></pre></div>",
                    esc(&run.join("\n"))
                )?;
                run.clear();
            }
            Ok(())
        };
        writeln!(self.out, "<div class=\"fix\">")?;
        for line in lines {
            if !line.starts_with('#') {
                run.push(line);
                continue;
            }
            flush(self.out, &mut run)?;
            match findings::quoted_command(line) {
                Some(cmd) => writeln!(
                    self.out,
                    "<div class=\"cmd later\"><span class=\"tag\">{}</span>{button}<pre><code>{}</code></pre></div>",
                    esc(self.ui("html_later")),
                    esc(cmd)
                )?,
                None => writeln!(self.out, "<p class=\"advice\">{}</p>", esc(line))?,
            }
        }
        flush(self.out, &mut run)?;
        writeln!(self.out, "</div>")
    }

    pub(super) fn skipped(&mut self, list: &[Skipped]) -> io::Result<()> {
        if list.is_empty() {
            return Ok(());
        }
        let title = self
            .ui("skipped_title")
            .trim_end_matches([':', '：'])
            .to_string();
        writeln!(self.out, "<h2>{}</h2>", esc(&title))?;
        writeln!(self.out, "<ul>")?;
        for s in list {
            writeln!(
                self.out,
                "<li><code>{}</code>: {}</li>",
                esc(&s.what),
                esc(&s.reason)
            )?;
        }
        writeln!(self.out, "</ul>")
    }

    pub(super) fn heading(&mut self, key: &str) -> io::Result<()> {
        let text = self.ui(key).trim_end_matches([':', '：']).to_string();
        writeln!(self.out, "<h2>{}</h2>", esc(&text))
    }
}

/// A helm status in words, its class repeating what the word says.
fn state(status: &str) -> String {
    let class = match status {
        "deployed" => "good",
        "failed" => "bad",
        s if s.starts_with("pending") => "pending",
        _ => "muted",
    };
    format!("<span class=\"state {class}\">{}</span>", esc(status))
}

fn chart(rev: &Revision) -> String {
    match (&rev.chart, &rev.chart_version) {
        (Some(c), Some(v)) => format!("{c}-{v}"),
        (Some(c), None) => c.clone(),
        _ => "-".to_string(),
    }
}

fn updated(rev: &Revision) -> String {
    rev.updated
        .map(crate::format::when)
        .unwrap_or_else(|| "-".into())
}

pub fn write_report(
    out: &mut dyn Write,
    r: &Report,
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    let mut p = Page::new(out, catalog, lang);
    p.start(catalog.ui("md_title", lang))?;
    let s = &r.summary;
    let mut meta = Vec::new();
    p.source(&r.cluster, &mut meta);
    if let Some(t) = &s.snapshot_time {
        meta.push(("html_time", t.clone()));
    }
    meta.push(("html_scope", p.scope(s.namespace.as_deref())));
    p.meta(&meta)?;
    p.counts(s)?;
    p.releases(&r.releases)?;
    writeln!(p.out, "<h2>{}</h2>", esc(p.ui("html_findings")))?;
    p.findings(&r.findings, "f")?;
    p.skipped(&r.skipped)?;
    p.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_text_cannot_become_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn commands_are_blocks_and_later_steps_are_set_apart() {
        let catalog = Catalog::builtin();
        let mut out = Vec::new();
        let mut p = Page::new(&mut out, &catalog, Lang::En);
        let lines = [
            "# first, look:".to_string(),
            "kubectl get pods -n a".to_string(),
            "kubectl get events -n a".to_string(),
            findings::later("helm rollback x 2 -n a"),
        ];
        p.fix(&lines).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(
            html.contains("<pre><code>kubectl get pods -n a\nkubectl get events -n a</code></pre>"),
            "{html}"
        );
        assert!(
            html.contains("<p class=\"advice\"># first, look:</p>"),
            "{html}"
        );
        assert!(html.contains("class=\"cmd later\""), "{html}");
        assert!(
            html.contains("<code>helm rollback x 2 -n a</code>"),
            "{html}"
        );
        assert_eq!(html.matches("<button").count(), 2, "{html}");
    }
}
