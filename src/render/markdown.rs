//! `-o markdown`: a report to paste into a support ticket or a chat. It names the build and the scope
//! so that the reader knows what was looked at, and puts every fix in a fenced block, so that the
//! commands survive the paste exactly (no smart quotes, no joined lines).

use std::io::{self, Write};

use super::{ReleaseReport, Report};
use crate::catalog::{Catalog, fill};
use crate::findings::{Finding, Severity, Skipped};
use crate::i18n::Lang;
use crate::version;

/// Text from the cluster (helm descriptions, log lines) must not turn into markup or break a list.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Inline code that holds any text: a backtick run in the text needs a longer delimiter (CommonMark).
fn code(text: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// A fence longer than any backtick run inside, so that no command can close the block early.
fn fenced(out: &mut dyn Write, lang_tag: &str, lines: &[String]) -> io::Result<()> {
    let longest = lines
        .iter()
        .map(|l| longest_backtick_run(l))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    writeln!(out, "{fence}{lang_tag}")?;
    for l in lines {
        writeln!(out, "{l}")?;
    }
    writeln!(out, "{fence}")
}

fn severity(catalog: &Catalog, lang: Lang, s: Severity) -> &str {
    catalog.ui(
        match s {
            Severity::Error => "sev_error",
            Severity::Warning => "sev_warning",
            Severity::Info => "sev_info",
        },
        lang,
    )
}

fn finding(
    out: &mut dyn Write,
    n: usize,
    f: &Finding,
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    let place = match &f.namespace {
        Some(ns) => format!(" (-n {ns})"),
        None => String::new(),
    };
    writeln!(
        out,
        "### {n}. {} · {} · {}{}",
        severity(catalog, lang, f.severity),
        code(&f.rule),
        code(&f.object),
        escape(&place)
    )?;
    writeln!(out)?;
    writeln!(out, "**{}**", escape(&f.title))?;
    writeln!(out)?;
    if !f.evidence.is_empty() {
        writeln!(out, "{}", catalog.ui("md_evidence", lang))?;
        writeln!(out)?;
        for e in &f.evidence {
            writeln!(out, "- {}", escape(e))?;
        }
        writeln!(out)?;
    }
    if !f.explanation.is_empty() {
        let why = fill(
            catalog.ui("md_why", lang),
            &[("text", &escape(&f.explanation))],
        );
        writeln!(out, "{why}")?;
        writeln!(out)?;
    }
    if !f.remediation.is_empty() {
        writeln!(out, "{}", catalog.ui("md_fix", lang))?;
        writeln!(out)?;
        fenced(out, "sh", &f.remediation)?;
        writeln!(out)?;
    }
    Ok(())
}

fn findings(
    out: &mut dyn Write,
    list: &[Finding],
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    if list.is_empty() {
        writeln!(out, "{}", catalog.ui("no_findings", lang))?;
        return writeln!(out);
    }
    for (i, f) in list.iter().enumerate() {
        finding(out, i + 1, f, catalog, lang)?;
    }
    Ok(())
}

fn skipped(out: &mut dyn Write, list: &[Skipped], catalog: &Catalog, lang: Lang) -> io::Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    writeln!(out, "### {}", escape(catalog.ui("skipped_title", lang)))?;
    writeln!(out)?;
    for s in list {
        writeln!(out, "- {}: {}", code(&s.what), escape(&s.reason))?;
    }
    writeln!(out)
}

fn build_line(out: &mut dyn Write, catalog: &Catalog, lang: Lang) -> io::Result<()> {
    let build = format!("kubectl-bkdoctor {}", version::LONG);
    writeln!(
        out,
        "- {}",
        fill(catalog.ui("md_version", lang), &[("build", &build)])
    )
}

pub fn write_report(
    out: &mut dyn Write,
    r: &Report,
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    let s = &r.summary;
    writeln!(out, "## {}", catalog.ui("md_title", lang))?;
    writeln!(out)?;
    build_line(out, catalog, lang)?;
    let scope = match &s.namespace {
        Some(ns) => fill(
            catalog.ui("md_namespace", lang),
            &[("namespace", &code(ns))],
        ),
        None => catalog.ui("md_all_namespaces", lang).to_string(),
    };
    writeln!(
        out,
        "- {}",
        fill(catalog.ui("md_scope", lang), &[("scope", &scope)])
    )?;
    if let Some(t) = &s.snapshot_time {
        writeln!(
            out,
            "- {}",
            fill(catalog.ui("md_time", lang), &[("time", t)])
        )?;
    }
    writeln!(out, "- {}", s.sentence(catalog, lang))?;
    writeln!(out)?;
    findings(out, &r.findings, catalog, lang)?;
    skipped(out, &r.skipped, catalog, lang)
}

pub fn write_release(
    out: &mut dyn Write,
    r: &ReleaseReport,
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    let title = fill(
        catalog.ui("release_title", lang),
        &[("namespace", &r.namespace), ("release", &r.name)],
    );
    writeln!(out, "## {}", escape(&title))?;
    writeln!(out)?;
    build_line(out, catalog, lang)?;
    writeln!(out)?;
    let headers = [
        "col_revision",
        "col_status",
        "col_chart",
        "col_app_version",
        "col_updated",
        "col_description",
    ];
    let row = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    writeln!(
        out,
        "{}",
        row(headers
            .iter()
            .map(|h| catalog.ui(h, lang).to_string())
            .collect())
    )?;
    writeln!(
        out,
        "{}",
        row(headers.iter().map(|_| "---".to_string()).collect())
    )?;
    let dash = || "-".to_string();
    for rev in &r.revisions {
        let chart = match (&rev.chart, &rev.chart_version) {
            (Some(c), Some(v)) => format!("{c}-{v}"),
            (Some(c), None) => c.clone(),
            _ => dash(),
        };
        writeln!(
            out,
            "{}",
            row(vec![
                rev.revision.to_string(),
                escape(&rev.status),
                escape(&chart),
                rev.app_version.as_deref().map(escape).unwrap_or_else(dash),
                rev.updated.map(crate::format::when).unwrap_or_else(dash),
                rev.description.as_deref().map(escape).unwrap_or_else(dash),
            ])
        )?;
    }
    writeln!(out)?;
    writeln!(out, "### {}", escape(catalog.ui("release_findings", lang)))?;
    writeln!(out)?;
    findings(out, &r.findings, catalog, lang)?;
    skipped(out, &r.skipped, catalog, lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_text_cannot_become_markup() {
        assert_eq!(
            escape("<b>*x*</b> | [a](b)\nnext"),
            "\\<b\\>\\*x\\*\\</b\\> \\| \\[a\\](b) next"
        );
    }

    #[test]
    fn inline_code_outlasts_backticks_inside() {
        assert_eq!(code("release/bk-paas"), "`release/bk-paas`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn a_command_with_backticks_cannot_close_the_fence() {
        let mut out = Vec::new();
        let cmd = "kubectl exec p -- sh -c '```'".to_string();
        fenced(&mut out, "sh", std::slice::from_ref(&cmd)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, format!("````sh\n{cmd}\n````\n"));
    }
}
