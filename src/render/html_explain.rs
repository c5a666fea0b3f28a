//! `explain -o html`: the errors of a deployment's output, each with its line, what it means and
//! its fix, then the cluster's findings behind them; laid out with the parts of [`super::html`], so
//! that it escapes and fetches exactly as the `check` page does.

use std::io::{self, Write};

use super::ExplainReport;
use super::html::{Page, esc};
use crate::catalog::{Catalog, fill};
use crate::findings::Severity;
use crate::i18n::Lang;

pub fn write_explain(
    out: &mut dyn Write,
    r: &ExplainReport,
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    let mut p = Page::new(out, catalog, lang);
    p.start(catalog.ui("md_explain_title", lang))?;
    let s = &r.summary;
    let mut meta = Vec::new();
    p.source(&r.cluster, &mut meta);
    if let Some(t) = &s.snapshot_time {
        meta.push(("html_time", t.clone()));
    }
    if r.cluster_read {
        meta.push(("html_scope", p.scope(s.namespace.as_deref())));
    }
    p.meta(&meta)?;
    if r.cluster_read {
        p.counts(s)?;
    } else {
        writeln!(p.out, "<p>{}</p>", esc(p.ui("explain_no_cluster")))?;
    }
    let n = r.errors.len().to_string();
    writeln!(
        p.out,
        "<h2>{}</h2>",
        esc(&fill(p.ui("explain_errors"), &[("n", &n)]))
    )?;
    if r.errors.is_empty() {
        writeln!(p.out, "<p>{}</p>", esc(p.ui("explain_none")))?;
    }
    for (i, e) in r.errors.iter().enumerate() {
        let sev = match e.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        writeln!(
            p.out,
            "<article class=\"finding sev-{sev}\" id=\"e{}\">",
            i + 1
        )?;
        let line_no = fill(p.ui("explain_line"), &[("n", &e.line_number.to_string())]);
        let release = e
            .release
            .clone()
            .unwrap_or_else(|| p.ui("explain_no_release").to_string());
        writeln!(
            p.out,
            "<header><h3>{}. {}</h3><span class=\"object\">{} · {}</span></header>",
            i + 1,
            p.severity(e.severity),
            esc(&release),
            esc(&line_no)
        )?;
        writeln!(
            p.out,
            "<pre class=\"log\"><code>{}</code></pre>",
            esc(&e.line)
        )?;
        writeln!(p.out, "<p class=\"title\">{}</p>", esc(&e.title))?;
        if let Some(rule) = &e.rule {
            writeln!(
                p.out,
                "<p class=\"rule\">{}: <code>{}</code></p>",
                esc(p.ui("col_id")),
                esc(rule)
            )?;
        }
        if !e.looked_at.is_empty() {
            writeln!(p.out, "<ul class=\"evidence\">")?;
            for l in &e.looked_at {
                writeln!(p.out, "<li>{}</li>", esc(l))?;
            }
            writeln!(p.out, "</ul>")?;
        }
        if !e.findings.is_empty() {
            writeln!(p.out, "<h4>{}</h4><ul>", esc(p.ui("explain_explained_by")))?;
            for f in &e.findings {
                let at = r
                    .findings
                    .iter()
                    .position(|x| x.rule == f.rule && x.object == f.object);
                let label = format!("<code>{}</code> {}", esc(&f.rule), esc(&f.object));
                match at {
                    Some(k) => writeln!(p.out, "<li><a href=\"#f{}\">{label}</a></li>", k + 1)?,
                    None => writeln!(p.out, "<li>{label}</li>")?,
                }
            }
            writeln!(p.out, "</ul>")?;
        }
        if !e.remediation.is_empty() {
            writeln!(p.out, "<h4>{}</h4>", esc(p.ui("explain_fix")))?;
            p.fix(&e.remediation)?;
        }
        if !e.means.is_empty() {
            p.explanation(&e.means)?;
        }
        writeln!(p.out, "</article>")?;
    }
    if r.cluster_read && !r.errors.is_empty() {
        p.heading("explain_findings")?;
        p.findings(&r.findings, "f")?;
    }
    p.skipped(&r.skipped)?;
    p.end()
}
