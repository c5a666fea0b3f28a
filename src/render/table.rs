//! The report for a person at a terminal, laid out to the width it was given: one line per finding
//! first, to see at a glance what is wrong, then each finding's evidence and fix. A command is always
//! alone on its line, whole and uncoloured, so that one triple-click copies exactly it; a command
//! wider than the terminal stays whole too (the terminal folds it, a copy still gets it in one
//! piece). Prose is wrapped to the width, and a wrapped advice line stays a `#` comment on every
//! line.

use std::io::{self, Write};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::grid::Grid;
use super::labels::{label_sets, widest};
use super::wrap::wrap;
use super::{Look, ReleaseReport, Report};
use crate::catalog::{Catalog, fill};
use crate::findings::{self, Finding, Severity, Skipped};
use crate::i18n::Lang;

/// Evidence lines shown before "… and N more": enough to see the pattern, few enough to reach the fix.
const MAX_EVIDENCE: usize = 12;
/// Columns of the title the overview keeps before it writes objects shorter (never cut).
const TITLE_ROOM: usize = 20;
/// Where a finding's evidence and fix start: under the heading, not flush with it.
const INDENT: &str = "  ";

/// Columns with their headers (catalog keys) in bold, fitted to the width.
pub(super) fn grid(
    out: &mut dyn Write,
    catalog: &Catalog,
    look: Look,
    headers: &[&str],
    rows: Vec<Vec<String>>,
) -> io::Result<()> {
    let g = Grid {
        headers: headers
            .iter()
            .map(|k| catalog.ui(k, look.lang).to_string())
            .collect(),
        rows,
    };
    g.write(out, look.width, |h| paint(h, Style::Bold, look.color))
}

pub fn severity(catalog: &Catalog, lang: Lang, s: Severity) -> String {
    let key = match s {
        Severity::Error => "sev_error",
        Severity::Warning => "sev_warning",
        Severity::Info => "sev_info",
    };
    catalog.ui(key, lang).to_string()
}

/// ANSI styles; only ever wrapped around prose (severity, headings), never around a command.
#[derive(Clone, Copy)]
enum Style {
    Bold,
    Sev(Severity),
}

fn paint(text: &str, style: Style, color: bool) -> String {
    if !color || text.is_empty() {
        return text.to_string();
    }
    let code = match style {
        Style::Bold => "1",
        Style::Sev(Severity::Error) => "1;31",
        Style::Sev(Severity::Warning) => "33",
        Style::Sev(Severity::Info) => "36",
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}

/// `text` cut to `width` columns, ending in `…` when something was cut.
fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in text.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// `text` padded with spaces to `width` columns (CJK characters count two).
fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(fill))
}

pub(super) fn object_label(f: &Finding) -> String {
    match &f.namespace {
        // `namespace/blueking -n blueking` says it twice.
        Some(ns) if f.object != format!("namespace/{ns}") => format!("{} -n {ns}", f.object),
        _ => f.object.clone(),
    }
}

/// One line per finding: severity, rule, object, title. The object's name is always whole: the
/// title gives way first, then the namespace (when there is one) and the kind's long name; when even
/// that does not fit beside the rule, each finding takes two lines, the object under its rule.
fn overview(
    out: &mut dyn Write,
    findings: &[Finding],
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    let sevs: Vec<String> = findings
        .iter()
        .map(|f| severity(catalog, look.lang, f.severity))
        .collect();
    let sev_w = sevs.iter().map(|s| s.width()).max().unwrap_or(0);
    let rule_w = findings.iter().map(|f| f.rule.width()).max().unwrap_or(0);
    let rest_w = look.width.saturating_sub(sev_w + 2);
    let sets = label_sets(findings);
    let beside = |labels: &Vec<String>, title: usize| widest(labels) + rule_w + 2 + title <= rest_w;
    let one_line = sets
        .iter()
        .find(|l| beside(l, 2 + TITLE_ROOM))
        .or_else(|| sets.iter().find(|l| beside(l, 0)));
    let sev = |f: &Finding, s: &str| paint(&pad(s, sev_w), Style::Sev(f.severity), look.color);
    if let Some(labels) = one_line {
        let obj_w = widest(labels);
        for ((f, s), object) in findings.iter().zip(&sevs).zip(labels) {
            let room = rest_w.saturating_sub(rule_w + 2 + obj_w + 2);
            // A title cut to a few columns says nothing: then it is left to the heading below.
            let title = if room >= 8 {
                cut(&f.title, room)
            } else {
                String::new()
            };
            let rest = format!(
                "{}  {}  {}",
                pad(&f.rule, rule_w),
                pad(object, obj_w),
                title
            );
            writeln!(out, "{}  {}", sev(f, s), rest.trim_end())?;
        }
        return Ok(());
    }
    // Two lines each: the rule and title, then the object, indented under the rule as far as it
    // fits.
    let labels = sets
        .iter()
        .find(|l| widest(l) <= rest_w)
        .unwrap_or(&sets[sets.len() - 1]);
    let indent = if widest(labels) <= rest_w {
        sev_w + 2
    } else {
        0
    };
    for ((f, s), object) in findings.iter().zip(&sevs).zip(labels) {
        let rest = format!("{}  {}", pad(&f.rule, rule_w), f.title);
        writeln!(out, "{}  {}", sev(f, s), cut(&rest, rest_w).trim_end())?;
        writeln!(out, "{}{object}", " ".repeat(indent))?;
    }
    Ok(())
}

/// `── error · rule · object ─────`, as wide as the table; the object goes on a line of its own
/// when the three do not fit, rather than being cut.
fn heading(out: &mut dyn Write, f: &Finding, catalog: &Catalog, look: Look) -> io::Result<()> {
    let sev = severity(catalog, look.lang, f.severity);
    let object = object_label(f);
    let one_line = format!(" · {} · {object} ", f.rule);
    // "── " before, at least "──" after.
    let room = look.width.saturating_sub(sev.width() + 5);
    let (label, below) = if one_line.width() <= room {
        (one_line, None)
    } else {
        (cut(&format!(" · {} ", f.rule), room), Some(object))
    };
    let line = "─".repeat(look.width.saturating_sub(3 + sev.width() + label.width()));
    writeln!(
        out,
        "── {}{}{}",
        paint(&sev, Style::Sev(f.severity), look.color),
        paint(&label, Style::Bold, look.color),
        line
    )?;
    if let Some(object) = below {
        for l in wrap(&object, look.width, "") {
            writeln!(out, "{}", paint(&l, Style::Bold, look.color))?;
        }
    }
    Ok(())
}

/// The evidence to show: the rule's short telling if it has one, cut to [`MAX_EVIDENCE`] lines.
fn evidence_lines(f: &Finding, catalog: &Catalog, lang: Lang) -> Vec<String> {
    let all = if f.brief.is_empty() {
        &f.evidence
    } else {
        &f.brief
    };
    if all.len() <= MAX_EVIDENCE {
        return all.clone();
    }
    let mut shown = all[..MAX_EVIDENCE - 1].to_vec();
    let more = (all.len() - shown.len()).to_string();
    shown.push(fill(catalog.ui("more_evidence", lang), &[("n", &more)]));
    shown
}

/// The fix, one line per remediation line: a command (or a quoted step for later) whole, on its own
/// line; advice wrapped, `#` on every line. The block is indented under its heading unless a command
/// would then be wider than the terminal: then none is, so that the commands still line up.
fn fix_lines(f: &Finding, width: usize) -> Vec<String> {
    let whole = |r: &str| !r.starts_with('#') || findings::quoted_command(r).is_some();
    let fits = f
        .remediation
        .iter()
        .filter(|r| whole(r))
        .all(|r| r.width() + INDENT.len() <= width);
    let indent = if fits { INDENT } else { "" };
    let mut lines = Vec::new();
    for r in &f.remediation {
        if whole(r) {
            lines.push(format!("{indent}{r}"));
        } else {
            let prose_w = width.saturating_sub(indent.len());
            lines.extend(
                wrap(r, prose_w, "# ")
                    .into_iter()
                    .map(|l| format!("{indent}{l}")),
            );
        }
    }
    lines
}

/// One finding's heading, evidence and fix, as the report prints each after its overview.
pub fn detail(out: &mut dyn Write, f: &Finding, catalog: &Catalog, look: Look) -> io::Result<()> {
    let w = look.width;
    heading(out, f, catalog, look)?;
    for l in wrap(&f.title, w, "") {
        writeln!(out, "{}", paint(&l, Style::Bold, look.color))?;
    }
    for e in evidence_lines(f, catalog, look.lang) {
        // A quoted log line belongs to the bullet above it ("the last lines of its log:").
        let (indent, item) = match e.strip_prefix("> ") {
            Some(_) => ("    ", e.clone()),
            None => (INDENT, format!("- {e}")),
        };
        for l in wrap(&item, w.saturating_sub(indent.len()), "  ") {
            writeln!(out, "{indent}{l}")?;
        }
    }
    if !f.remediation.is_empty() {
        let label = catalog.ui("fix_heading", look.lang);
        writeln!(out, "{}", paint(label, Style::Bold, look.color))?;
        for l in fix_lines(f, w) {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

pub(super) fn findings_section(
    out: &mut dyn Write,
    findings: &[Finding],
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "{}", catalog.ui("no_findings", look.lang));
    }
    overview(out, findings, catalog, look)?;
    for f in findings {
        writeln!(out)?;
        detail(out, f, catalog, look)?;
    }
    Ok(())
}

pub(super) fn skipped_list(
    out: &mut dyn Write,
    skipped: &[Skipped],
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    if skipped.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let title = catalog.ui("skipped_title", look.lang);
    writeln!(out, "{}", paint(title, Style::Bold, look.color))?;
    for s in skipped {
        let item = format!("- {}: {}", s.what, s.reason);
        for l in wrap(&item, look.width.saturating_sub(INDENT.len()), "  ") {
            writeln!(out, "{INDENT}{l}")?;
        }
    }
    Ok(())
}

fn paragraph(out: &mut dyn Write, text: &str, width: usize) -> io::Result<()> {
    for l in wrap(text, width, "") {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

pub fn write_report(
    out: &mut dyn Write,
    r: &Report,
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    findings_section(out, &r.findings, catalog, look)?;
    skipped_list(out, &r.skipped, catalog, look)?;
    writeln!(out)?;
    paragraph(out, &r.summary.sentence(catalog, look.lang), look.width)
}

pub fn write_release(
    out: &mut dyn Write,
    r: &ReleaseReport,
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    let lang = look.lang;
    let title = fill(
        catalog.ui("release_title", lang),
        &[("namespace", &r.namespace), ("release", &r.name)],
    );
    for l in wrap(&title, look.width, "") {
        writeln!(out, "{}", paint(&l, Style::Bold, look.color))?;
    }
    let headers = [
        "col_revision",
        "col_status",
        "col_chart",
        "col_app_version",
        "col_updated",
        "col_description",
    ];
    let rows = r
        .revisions
        .iter()
        .map(|rev| {
            let chart = match (&rev.chart, &rev.chart_version) {
                (Some(c), Some(v)) => format!("{c}-{v}"),
                (Some(c), None) => c.clone(),
                _ => "-".into(),
            };
            vec![
                rev.revision.to_string(),
                rev.status.clone(),
                chart,
                rev.app_version.clone().unwrap_or_else(|| "-".into()),
                rev.updated
                    .map(crate::format::when)
                    .unwrap_or_else(|| "-".into()),
                rev.description.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    grid(out, catalog, look, &headers, rows)?;
    if !r.pods.is_empty() {
        writeln!(out)?;
        let rows = r
            .pods
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.ready.clone(),
                    p.status.clone(),
                    p.restarts.to_string(),
                    p.node.clone(),
                ]
            })
            .collect();
        let headers = [
            "col_pod",
            "col_ready",
            "col_status",
            "col_restarts",
            "col_node",
        ];
        grid(out, catalog, look, &headers, rows)?;
    }
    writeln!(out)?;
    if !r.workloads.is_empty() {
        let heading = catalog.ui("release_workloads", lang);
        writeln!(out, "{}", paint(heading, Style::Bold, look.color))?;
        workloads_grid(out, &r.workloads, catalog, look)?;
        writeln!(out)?;
    }
    let heading = catalog.ui("release_findings", lang);
    writeln!(out, "{}", paint(heading, Style::Bold, look.color))?;
    findings_section(out, &r.findings, catalog, look)?;
    skipped_list(out, &r.skipped, catalog, look)
}

/// `Deployment/bk-user-api  0/1  workload-create-failed replicaset/bk-user-api-6c7d9f8b5`: what
/// `helm --wait` waited for, and the finding behind each one that is not ready.
fn workloads_grid(
    out: &mut dyn Write,
    workloads: &[crate::findings::Workload],
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    let rows = workloads
        .iter()
        .map(|w| {
            let blocked = w
                .blocked_by
                .iter()
                .map(|b| format!("{} {}", b.rule, b.object))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                format!("{}/{}", w.kind, w.name),
                format!("{}/{}", w.ready, w.desired),
                if blocked.is_empty() {
                    "-".into()
                } else {
                    blocked
                },
            ]
        })
        .collect();
    grid(
        out,
        catalog,
        look,
        &["col_workload", "col_ready", "col_blocked_by"],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(remediation: &[&str]) -> Finding {
        Finding {
            rule: "helm-operation-in-progress".into(),
            severity: Severity::Error,
            namespace: Some("blueking".into()),
            object: "release/bk-paas".into(),
            title: "Helm release bk-paas is stuck in pending-upgrade".into(),
            evidence: (0..30)
                .map(|i| format!("pod bk-paas-{i} is stuck"))
                .collect(),
            remediation: remediation.iter().map(|s| s.to_string()).collect(),
            explanation: String::new(),
            covers: Vec::new(),
            brief: Vec::new(),
        }
    }

    #[test]
    fn an_object_too_long_beside_its_rule_goes_under_it_whole() {
        let mut a = finding(&[]);
        a.rule = "storage-class-default-ambiguous".into();
        a.object = "pod/bk-monitor-operator-prometheus-node-exporter-7d9f8c6b5-x2k4q".into();
        a.namespace = Some("bkmonitor-operator".into());
        let mut b = finding(&[]);
        b.namespace = Some("blueking".into());
        let catalog = Catalog::builtin();
        let look = Look {
            lang: Lang::En,
            color: false,
            width: 80,
        };
        let mut out = Vec::new();
        overview(&mut out, &[a, b], &catalog, look).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines.iter().all(|l| l.width() <= 80), "{text}");
        assert_eq!(
            lines[1].trim(),
            "pod/bk-monitor-operator-prometheus-node-exporter-7d9f8c6b5-x2k4q"
        );
        assert_eq!(lines[3].trim(), "release/bk-paas");
    }

    #[test]
    fn commands_stay_whole_and_advice_stays_a_comment() {
        let long = format!("kubectl patch configmap -n x y -p '{}'", "a".repeat(60));
        let later =
            findings::later("kubectl delete configmap -n ingress-nginx ingress-nginx-controller");
        let f = finding(&[
            "helm rollback -n blueking bk-paas 2",
            &long,
            "# then run the deployment again (helmfile sync, or the one-click script), and look again",
            &later,
        ]);
        let lines = fix_lines(&f, 40);
        // One command is too wide to indent: then none is, and none is ever cut.
        assert_eq!(lines[0], "helm rollback -n blueking bk-paas 2");
        assert_eq!(lines[1], long);
        let advice: Vec<_> = lines[2..lines.len() - 1].to_vec();
        assert!(advice.len() > 1, "{advice:?}");
        assert!(
            advice
                .iter()
                .all(|l| l.starts_with("# ") && l.width() <= 40)
        );
        assert_eq!(
            lines.last().unwrap(),
            &later,
            "quoted step for later: whole"
        );
        let narrow = finding(&["helm rollback -n blueking bk-paas 2"]);
        assert_eq!(
            fix_lines(&narrow, 40),
            ["  helm rollback -n blueking bk-paas 2"]
        );
    }

    #[test]
    fn long_evidence_says_how_many_more() {
        let catalog = Catalog::builtin();
        let f = finding(&[]);
        let shown = evidence_lines(&f, &catalog, Lang::En);
        assert_eq!(shown.len(), MAX_EVIDENCE);
        assert_eq!(
            shown.last().unwrap(),
            &format!(
                "… and {} more (-o json lists them all)",
                30 - MAX_EVIDENCE + 1
            )
        );
    }

    #[test]
    fn cut_and_pad_count_chinese_as_two_columns() {
        assert_eq!(cut("无法解析集群内的服务域名", 9), "无法解析…");
        assert_eq!(cut("short", 9), "short");
        assert_eq!(pad("错误", 7).width(), 7);
    }
}
