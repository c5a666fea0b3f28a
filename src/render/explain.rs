//! `explain` for people: each error of the output with what it means, the findings behind it and
//! its fix, then those findings as `check` shows them. Commands stay whole on their own lines, to
//! copy; prose is wrapped to the terminal's width.

use std::io::{self, Write};

use super::wrap::wrap;
use super::{ExplainReport, ExplainedError, markdown, table};
use crate::catalog::{Catalog, fill};
use crate::i18n::Lang;

use super::Look;

fn header(e: &ExplainedError, n: usize, catalog: &Catalog, lang: Lang) -> String {
    let mut parts = vec![fill(
        catalog.ui("explain_line", lang),
        &[("n", &e.line_number.to_string())],
    )];
    parts.push(
        e.release
            .clone()
            .unwrap_or_else(|| catalog.ui("explain_no_release", lang).to_string()),
    );
    parts.push(
        e.rule
            .clone()
            .unwrap_or_else(|| catalog.ui("explain_no_rule", lang).to_string()),
    );
    fill(
        catalog.ui("explain_head", lang),
        &[
            ("n", &n.to_string()),
            ("what", &parts.join(" · ")),
            ("severity", &table::severity(catalog, lang, e.severity)),
        ],
    )
}

fn refs(e: &ExplainedError) -> Vec<String> {
    e.findings
        .iter()
        .map(|f| format!("{} {}", f.rule, f.object))
        .collect()
}

pub fn write_table(
    out: &mut dyn Write,
    r: &ExplainReport,
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    let lang = look.lang;
    let w = look.width;
    let rule = "─".repeat(w);
    if r.errors.is_empty() {
        writeln!(out, "{}", catalog.ui("explain_none", lang))?;
    } else {
        writeln!(
            out,
            "{}",
            fill(
                catalog.ui("explain_errors", lang),
                &[("n", &r.errors.len().to_string())]
            )
        )?;
    }
    for (i, e) in r.errors.iter().enumerate() {
        writeln!(out, "{rule}")?;
        let head = header(e, i + 1, catalog, lang);
        if look.color {
            writeln!(out, "\u{1b}[1m{head}\u{1b}[0m")?;
        } else {
            writeln!(out, "{head}")?;
        }
        // The input's own line, whole: it is what the operator will search for.
        writeln!(out, "   > {}", e.line)?;
        for l in wrap(&e.title, w - 3, "") {
            writeln!(out, "   {l}")?;
        }
        let means = fill(catalog.ui("explain_means", lang), &[("text", &e.means)]);
        for l in wrap(&means, w - 3, "") {
            writeln!(out, "   {l}")?;
        }
        for (j, l) in e.looked_at.iter().enumerate() {
            let (first, indent) = if j == 0 { ("", "") } else { ("- ", "  ") };
            for l in wrap(&format!("{first}{l}"), w - 5, indent) {
                writeln!(out, "     {l}")?;
            }
        }
        let by = refs(e);
        if !by.is_empty() {
            writeln!(out, "   {}", catalog.ui("explain_explained_by", lang))?;
            for b in by {
                writeln!(out, "   - {b}")?;
            }
        }
        if !e.remediation.is_empty() {
            writeln!(out, "   {}", catalog.ui("explain_fix", lang))?;
            for l in &e.remediation {
                if l.starts_with('#') {
                    for l in wrap(l, w - 5, "# ") {
                        writeln!(out, "     {l}")?;
                    }
                } else {
                    writeln!(out, "     {l}")?;
                }
            }
        }
    }
    if !r.errors.is_empty() {
        writeln!(out, "{rule}")?;
    }
    writeln!(out)?;
    if r.cluster_read {
        if !r.errors.is_empty() {
            writeln!(out, "{}", catalog.ui("explain_findings", lang))?;
            table::findings_section(out, &r.findings, catalog, look)?;
        }
        table::skipped_list(out, &r.skipped, catalog, look)?;
        writeln!(out, "{}", r.summary.sentence(catalog, lang))
    } else {
        table::skipped_list(out, &r.skipped, catalog, look)?;
        writeln!(out, "{}", catalog.ui("explain_no_cluster", lang))
    }
}

pub fn write_markdown(
    out: &mut dyn Write,
    r: &ExplainReport,
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    use markdown::{code, escape, fenced};
    writeln!(out, "## {}", catalog.ui("md_explain_title", lang))?;
    writeln!(out)?;
    markdown::build_line(out, catalog, lang)?;
    if let Some(t) = &r.summary.snapshot_time {
        writeln!(
            out,
            "- {}",
            fill(catalog.ui("md_time", lang), &[("time", t)])
        )?;
    }
    if r.cluster_read {
        writeln!(out, "- {}", r.summary.sentence(catalog, lang))?;
    } else {
        writeln!(out, "- {}", escape(catalog.ui("explain_no_cluster", lang)))?;
    }
    writeln!(out)?;
    if r.errors.is_empty() {
        writeln!(out, "{}", escape(catalog.ui("explain_none", lang)))?;
        writeln!(out)?;
    }
    for (i, e) in r.errors.iter().enumerate() {
        writeln!(out, "### {}", escape(&header(e, i + 1, catalog, lang)))?;
        writeln!(out)?;
        fenced(out, "text", std::slice::from_ref(&e.line))?;
        writeln!(out)?;
        writeln!(out, "**{}**", escape(&e.title))?;
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            fill(catalog.ui("md_why", lang), &[("text", &escape(&e.means))])
        )?;
        writeln!(out)?;
        for l in &e.looked_at {
            writeln!(out, "- {}", escape(l))?;
        }
        if !e.looked_at.is_empty() {
            writeln!(out)?;
        }
        let by = &e.findings;
        if !by.is_empty() {
            writeln!(out, "{}", escape(catalog.ui("explain_explained_by", lang)))?;
            writeln!(out)?;
            for f in by {
                writeln!(out, "- {} {}", code(&f.rule), code(&f.object))?;
            }
            writeln!(out)?;
        }
        if !e.remediation.is_empty() {
            writeln!(out, "{}", catalog.ui("md_fix", lang))?;
            writeln!(out)?;
            fenced(out, "sh", &e.remediation)?;
            writeln!(out)?;
        }
    }
    if r.cluster_read && !r.errors.is_empty() {
        writeln!(out, "### {}", escape(catalog.ui("explain_findings", lang)))?;
        writeln!(out)?;
        markdown::findings(out, &r.findings, catalog, lang)?;
    }
    markdown::skipped(out, &r.skipped, catalog, lang)
}
