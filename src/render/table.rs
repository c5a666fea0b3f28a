//! Tables for people. Commands are never wrapped, so each line of the Fix column can be copied and
//! pasted as it is; prose is wrapped so that the table fits a wide terminal rather than a 500-column
//! line, and a wrapped advice line stays a `#` comment on every line.

use std::io::{self, Write};

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};

use super::wrap::wrap;
use super::{Look, ReleaseReport, Report};
use crate::catalog::{Catalog, fill};
use crate::findings::{Finding, Severity, Skipped};
use crate::i18n::Lang;

/// Columns of prose: wide enough for a sentence, narrow enough that five columns fit ~200 columns.
const SEEN_WIDTH: usize = 64;
const ADVICE_WIDTH: usize = 64;

fn seen_cell(f: &Finding) -> String {
    let mut lines = wrap(&f.title, SEEN_WIDTH, "");
    for e in &f.evidence {
        lines.extend(wrap(&format!("- {e}"), SEEN_WIDTH, "  "));
    }
    lines.join("\n")
}

fn fix_cell(f: &Finding) -> String {
    let mut lines = Vec::new();
    for r in &f.remediation {
        if r.starts_with('#') {
            lines.extend(wrap(r, ADVICE_WIDTH, "# "));
        } else {
            lines.push(r.clone());
        }
    }
    lines.join("\n")
}

pub(super) fn new_table(catalog: &Catalog, lang: Lang, headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().map(|k| Cell::new(catalog.ui(k, lang))));
    // comfy-table would decide on its own by looking at the real stdout; the caller already decided
    // (terminal, --no-color, NO_COLOR), and the writer may not be stdout at all.
    t.force_no_tty();
    t
}

/// comfy-table pads every cell; trailing blanks only get in the way of copying a command.
pub(super) fn write_table(out: &mut dyn Write, t: &Table) -> io::Result<()> {
    for line in t.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

pub(super) fn severity(catalog: &Catalog, lang: Lang, s: Severity) -> String {
    let key = match s {
        Severity::Error => "sev_error",
        Severity::Warning => "sev_warning",
        Severity::Info => "sev_info",
    };
    catalog.ui(key, lang).to_string()
}

/// Only the severity is coloured: the commands must stay plain text to copy.
fn severity_cell(text: String, s: Severity, color: bool) -> Cell {
    let cell = Cell::new(text);
    if !color {
        return cell;
    }
    match s {
        Severity::Error => cell.fg(Color::Red).add_attribute(Attribute::Bold),
        Severity::Warning => cell.fg(Color::Yellow),
        Severity::Info => cell.fg(Color::Cyan),
    }
}

fn findings_table(
    out: &mut dyn Write,
    findings: &[Finding],
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    let lang = look.lang;
    if findings.is_empty() {
        return writeln!(out, "{}", catalog.ui("no_findings", lang));
    }
    let mut t = new_table(
        catalog,
        lang,
        &[
            "col_severity",
            "col_rule",
            "col_object",
            "col_seen",
            "col_fix",
        ],
    );
    for f in findings {
        let object = match &f.namespace {
            Some(ns) => format!("{}\n-n {ns}", f.object),
            None => f.object.clone(),
        };
        t.add_row(vec![
            severity_cell(severity(catalog, lang, f.severity), f.severity, look.color),
            Cell::new(&f.rule),
            Cell::new(object),
            Cell::new(seen_cell(f)),
            Cell::new(fix_cell(f)),
        ]);
    }
    if look.color {
        t.enforce_styling();
    }
    write_table(out, &t)
}

fn skipped_list(
    out: &mut dyn Write,
    skipped: &[Skipped],
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    if skipped.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}", catalog.ui("skipped_title", lang))?;
    for s in skipped {
        writeln!(out, "  {}: {}", s.what, s.reason)?;
    }
    Ok(())
}

pub fn write_report(
    out: &mut dyn Write,
    r: &Report,
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    let lang = look.lang;
    findings_table(out, &r.findings, catalog, look)?;
    skipped_list(out, &r.skipped, catalog, lang)?;
    writeln!(out, "{}", r.summary.sentence(catalog, lang))
}

pub fn write_release(
    out: &mut dyn Write,
    r: &ReleaseReport,
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    let lang = look.lang;
    writeln!(
        out,
        "{}",
        fill(
            catalog.ui("release_title", lang),
            &[("namespace", &r.namespace), ("release", &r.name)]
        )
    )?;
    let mut t = new_table(
        catalog,
        lang,
        &[
            "col_revision",
            "col_status",
            "col_chart",
            "col_app_version",
            "col_updated",
            "col_description",
        ],
    );
    for rev in &r.revisions {
        let chart = match (&rev.chart, &rev.chart_version) {
            (Some(c), Some(v)) => format!("{c}-{v}"),
            (Some(c), None) => c.clone(),
            _ => "-".into(),
        };
        t.add_row(vec![
            rev.revision.to_string(),
            rev.status.clone(),
            chart,
            rev.app_version.clone().unwrap_or_else(|| "-".into()),
            rev.updated
                .map(crate::format::when)
                .unwrap_or_else(|| "-".into()),
            rev.description.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    write_table(out, &t)?;
    writeln!(out)?;
    writeln!(out, "{}", catalog.ui("release_findings", lang))?;
    findings_table(out, &r.findings, catalog, look)?;
    skipped_list(out, &r.skipped, catalog, lang)
}
