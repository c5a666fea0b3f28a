//! `kubectl-bkdoctor rules`: the catalog as an operator sees it, as a table or as the Markdown rule
//! reference (docs/rules.md is this output, committed). JSON field names (`id`, `severity`,
//! `blueking`, `title`, `reads`, `patterns`) are a contract. It prints the catalog and nothing the
//! build or the clock decides, so that the committed reference can be compared byte for byte.

use std::io::{self, Write};

use serde::Serialize;

use super::Look;
use super::markdown::{code, escape};
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
    /// The BlueKing versions the issue is known on, where the catalog says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blueking: Option<String>,
    /// What the issue is and why it happens.
    #[serde(skip)]
    pub explanation: String,
    /// What the rule detects and the fix it gives (Markdown), for the rule reference.
    #[serde(skip)]
    pub detects: Option<String>,
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
                blueking: r.blueking.as_ref().map(|t| t.get(lang).to_string()),
                explanation: r.explanation.get(lang).to_string(),
                detects: r.detects.as_ref().map(|t| t.get(lang).to_string()),
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

/// The rule reference: an index table, then one section per rule headed by its id, so that a link
/// `rules.md#dns-unresolvable` lands on it.
pub fn write_markdown(
    out: &mut dyn Write,
    list: &RuleList,
    catalog: &Catalog,
    lang: Lang,
) -> io::Result<()> {
    let ui = |key| catalog.ui(key, lang);
    let code_lang = match lang {
        Lang::En => "en",
        Lang::Zh => "zh",
    };
    writeln!(out, "# {}\n", ui("rules_md_title"))?;
    writeln!(
        out,
        "<!-- {} -->\n",
        fill(ui("rules_md_generated"), &[("lang", code_lang)])
    )?;
    writeln!(out, "{}\n", ui("rules_md_intro"))?;
    writeln!(
        out,
        "| {} | {} | {} | {} |",
        ui("col_id"),
        ui("col_severity"),
        ui("col_blueking"),
        ui("col_title")
    )?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for r in &list.rules {
        writeln!(
            out,
            "| [{}](#{}) | {} | {} | {} |",
            code(&r.id),
            r.id,
            severity(catalog, lang, r.severity),
            escape(r.blueking.as_deref().unwrap_or("")),
            escape(&placeholders_as_names(&r.title)),
        )?;
    }
    for r in &list.rules {
        writeln!(out, "\n## {}\n", r.id)?;
        writeln!(out, "**{}**\n", escape(&placeholders_as_names(&r.title)))?;
        let sev = severity(catalog, lang, r.severity);
        writeln!(
            out,
            "- {}",
            fill(ui("rules_md_severity"), &[("severity", &sev)])
        )?;
        if let Some(v) = &r.blueking {
            writeln!(
                out,
                "- {}",
                fill(ui("rules_md_blueking"), &[("versions", &escape(v))])
            )?;
        }
        let reads = r.reads.iter().map(|x| escape(x)).collect::<Vec<_>>();
        writeln!(
            out,
            "- {}",
            fill(ui("reads_line"), &[("reads", &reads.join(", "))])
        )?;
        if r.custom {
            writeln!(out, "- {}", ui("custom_rule"))?;
        }
        writeln!(out, "\n{}", escape(&r.explanation))?;
        if let Some(d) = &r.detects {
            // Written in Markdown for this page, so not escaped.
            writeln!(out, "\n{}\n\n{d}", ui("rules_md_detects"))?;
        }
        for (key, list) in [
            ("rules_md_patterns", &r.patterns),
            ("rules_md_output", &r.output),
        ] {
            if list.is_empty() {
                continue;
            }
            writeln!(out, "\n{}\n", ui(key))?;
            for p in list {
                writeln!(out, "- {}", code(p))?;
            }
        }
    }
    Ok(())
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

    #[test]
    fn markdown_reference_has_an_entry_per_rule() {
        let catalog = Catalog::builtin();
        let list = RuleList::new(&catalog, Lang::En);
        let mut out = Vec::new();
        write_markdown(&mut out, &list, &catalog, Lang::En).unwrap();
        let text = String::from_utf8(out).unwrap();
        for r in &catalog.rules {
            assert!(text.contains(&format!("\n## {}\n", r.id)), "{}", r.id);
            assert!(text.contains(&format!("(#{})", r.id)), "{}", r.id);
        }
        // A placeholder is shown as a name, and cannot turn into an HTML tag.
        assert!(text.contains("Helm release \\<release\\> is stuck in \\<status\\>"));
        assert!(text.contains("- BlueKing: 7.2 (bkmonitor-operator ≥ 3.8.9)"));
        assert!(text.contains("- `UnknownHostException`"));
        assert!(text.contains(
            "\n\nAn error; only information while the operation is less than 15 minutes old"
        ));
        let zh = RuleList::new(&catalog, Lang::Zh);
        let mut out = Vec::new();
        write_markdown(&mut out, &zh, &catalog, Lang::Zh).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("蓝鲸版本：7.2（bkmonitor-operator ≥ 3.8.9）"),
            "{text}"
        );
    }
}
