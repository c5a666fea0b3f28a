//! `release NAME -o html`: one release's revisions, workloads, pods and findings, laid out with the
//! parts of [`super::html`], so that it escapes and fetches exactly as the `check` page does.

use std::io::{self, Write};

use super::html::{Page, esc};
use super::{ReleaseReport, Summary};
use crate::catalog::{Catalog, fill};
use crate::i18n::Lang;

pub fn write_release(
    out: &mut dyn Write,
    r: &ReleaseReport,
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    let mut p = Page::new(out, catalog, lang);
    let title = fill(
        catalog.ui("release_title", lang),
        &[("namespace", &r.namespace), ("release", &r.name)],
    );
    p.start(&title)?;
    let mut meta = Vec::new();
    p.source(&r.cluster, &mut meta);
    if let Some(t) = &r.snapshot_time {
        meta.push(("html_time", t.clone()));
    }
    p.meta(&meta)?;
    let (errors, warnings, info) = Summary::count(&r.findings);
    writeln!(p.out, "<ul class=\"counts\">")?;
    for (n, sev, key) in [
        (errors, "error", "html_errors"),
        (warnings, "warning", "html_warnings"),
        (info, "info", "html_infos"),
    ] {
        writeln!(
            p.out,
            "<li class=\"sev-{sev}\"><b>{n}</b>{}</li>",
            esc(p.ui(key))
        )?;
    }
    writeln!(p.out, "</ul>")?;
    p.revisions(&r.revisions)?;
    if !r.workloads.is_empty() {
        p.heading("release_workloads")?;
        p.table_head(&["col_workload", "col_ready", "col_blocked_by"])?;
        for w in &r.workloads {
            let blocked = w
                .blocked_by
                .iter()
                .map(|b| format!("<code>{}</code> {}", esc(&b.rule), esc(&b.object)))
                .collect::<Vec<_>>()
                .join("<br>");
            p.row(&[
                ("", esc(&format!("{}/{}", w.kind, w.name))),
                ("nowrap", format!("{}/{}", w.ready, w.desired)),
                ("", blocked),
            ])?;
        }
        p.table_end()?;
    }
    if !r.pods.is_empty() {
        p.heading("html_pods")?;
        p.table_head(&[
            "col_pod",
            "col_ready",
            "col_status",
            "col_restarts",
            "col_node",
        ])?;
        for pod in &r.pods {
            p.row(&[
                ("", esc(&pod.name)),
                ("nowrap", esc(&pod.ready)),
                ("nowrap", esc(&pod.status)),
                ("num", pod.restarts.to_string()),
                ("", esc(&pod.node)),
            ])?;
        }
        p.table_end()?;
    }
    p.heading("release_findings")?;
    p.findings(&r.findings, "f")?;
    p.skipped(&r.skipped)?;
    p.end()
}
