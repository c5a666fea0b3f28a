//! `kubectl-bkdoctor rules`: the catalog as an operator sees it. JSON field names (`id`,
//! `severity`, `title`, `reads`, `patterns`) are a contract.

use std::io::{self, Write};

use serde::Serialize;

use super::Look;
use super::table::{grid, severity};
use crate::catalog::{Catalog, fill};
use crate::findings::Severity;
use crate::i18n::Lang;

#[derive(Debug, Serialize)]
pub struct RuleList {
    pub rules: Vec<RuleInfo>,
}

#[derive(Debug, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub severity: Severity,
    /// The title template; placeholders such as `{release}` are filled in per finding.
    pub title: String,
    pub reads: Vec<String>,
    pub patterns: Vec<String>,
    /// Error-output signatures `explain` matches; absent when the entry has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
    /// From `--rules FILE` rather than built in.
    pub custom: bool,
}

impl RuleList {
    pub fn new(catalog: &Catalog, lang: Lang) -> RuleList {
        let rules = catalog
            .rules
            .iter()
            .map(|r| RuleInfo {
                id: r.id.clone(),
                severity: r.severity,
                title: r.title.get(lang).to_string(),
                // An operator's signature need not say; all it can read is logs.
                reads: if r.reads.is_empty() && !r.patterns.is_empty() {
                    vec![catalog.ui("reads_logs", lang).to_string()]
                } else {
                    r.reads.clone()
                },
                patterns: r.patterns.clone(),
                output: r.output.clone(),
                custom: r.custom,
            })
            .collect();
        RuleList { rules }
    }
}

pub fn write(
    out: &mut dyn Write,
    list: &RuleList,
    catalog: &Catalog,
    look: Look,
) -> io::Result<()> {
    let lang = look.lang;
    let rows = list
        .rules
        .iter()
        .map(|r| {
            let id = if r.custom {
                format!("{}\n{}", r.id, catalog.ui("custom_rule", lang))
            } else {
                r.id.clone()
            };
            let reads = fill(
                catalog.ui("reads_line", lang),
                &[("reads", &r.reads.join(", "))],
            );
            vec![
                id,
                severity(catalog, lang, r.severity),
                format!("{}\n{reads}", placeholders_as_names(&r.title)),
            ]
        })
        .collect();
    grid(
        out,
        catalog,
        look,
        &["col_id", "col_severity", "col_title"],
        rows,
    )
}

/// `{release}` reads as a broken template to a person; `<release>` reads as "a release goes here".
fn placeholders_as_names(title: &str) -> String {
    title.replace('{', "<").replace('}', ">")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_titles_show_placeholders_as_names() {
        let catalog = Catalog::builtin();
        let list = RuleList::new(&catalog, Lang::En);
        let mut out = Vec::new();
        let look = Look {
            lang: Lang::En,
            color: false,
            width: 200,
        };
        write(&mut out, &list, &catalog, look).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("Helm release <release> is stuck in <status>"),
            "{text}"
        );
        assert!(!text.contains("{release}"));
    }
}
