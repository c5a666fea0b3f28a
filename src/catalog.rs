//! The catalog of known issues: ids, severities, every user-facing sentence in Chinese and English,
//! and the log signatures. It is data (`catalog.yaml`, embedded at build time) so that adding a
//! known issue is one entry plus a fixture; operators add their own signatures with `--rules FILE`
//! in the same format.
//!
//! Templates use `{name}` placeholders, filled by the rule that reports the finding.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use crate::findings::Severity;
use crate::i18n::Lang;

const BUILTIN: &str = include_str!("catalog.yaml");

#[derive(Debug, Clone, Deserialize)]
pub struct Text {
    pub en: String,
    pub zh: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleEntry {
    pub id: String,
    pub severity: Severity,
    /// The BlueKing versions the issue is known on, for the rule reference (docs/rules.md).
    #[serde(default)]
    pub blueking: Option<Text>,
    /// What the rule detects and the fix it gives, in Markdown, for the rule reference only.
    #[serde(default)]
    pub detects: Option<Text>,
    /// What cluster data the rule reads, for `rules` and for saying why a rule could not run.
    #[serde(default)]
    pub reads: Vec<String>,
    pub title: Text,
    pub explanation: Text,
    /// Further sentences the rule's code uses, by key.
    #[serde(default)]
    pub text: BTreeMap<String, Text>,
    /// Log signatures: regular expressions matched against single log lines.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Command templates for a log-signature entry without code of its own.
    #[serde(default)]
    pub remediation: Vec<String>,
    /// The workloads a log signature concerns, by pod labels (`release` stands for the release
    /// label): their current logs are read, start and end, even when they are ready and never
    /// restarted, since the failure leaves them Ready while they serve errors.
    #[serde(default)]
    pub workloads: Vec<crate::snapshot::ready_logs::PodSelector>,
    /// Error-output signatures: regular expressions matched against an error helm, helmfile or the
    /// one-click script printed (the error's first line and the lines that continue it), for
    /// `explain`. Many of these errors never reach the cluster, so no rule can see them there.
    #[serde(default)]
    pub output: Vec<String>,
    /// The fix `explain` gives for a matched error when the cluster shows nothing better:
    /// templates with `{release}`, `{namespace}` and `{text.KEY}`. Falls back to `remediation`.
    #[serde(default)]
    pub output_remediation: Vec<String>,
    #[serde(skip)]
    pub compiled: Vec<Regex>,
    #[serde(skip)]
    pub output_compiled: Vec<Regex>,
    /// Loaded from `--rules FILE` rather than shipped.
    #[serde(skip)]
    pub custom: bool,
}

impl RuleEntry {
    /// `text.KEY` → the entry's sentence KEY in `lang`, itself filled with `vars`: what lets a
    /// command template say `{text.then_sync}` and stay the same command in both languages.
    pub fn texts_filled(&self, lang: Lang, vars: &[(&str, &str)]) -> Vec<(String, String)> {
        self.text
            .iter()
            .map(|(k, t)| (format!("text.{k}"), fill(t.get(lang), vars)))
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    ui: BTreeMap<String, Text>,
    rules: Vec<RuleEntry>,
}

#[derive(Debug)]
pub struct Catalog {
    pub ui: BTreeMap<String, Text>,
    pub rules: Vec<RuleEntry>,
}

impl Catalog {
    pub fn builtin() -> Catalog {
        // The embedded catalog is checked by the unit tests below, so failing here is a build defect.
        Catalog::parse(BUILTIN, "catalog.yaml").expect("the embedded catalog is valid")
    }

    fn parse(text: &str, origin: &str) -> Result<Catalog, String> {
        let file: CatalogFile =
            serde_yaml_ng::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        let mut rules = file.rules;
        for r in &mut rules {
            let compile = |field: &str, list: &[String]| {
                list.iter()
                    .map(|p| {
                        Regex::new(p).map_err(|e| {
                            format!("{origin}: rule {}: {field} pattern {p:?}: {e}", r.id)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            r.compiled = compile("log", &r.patterns)?;
            r.output_compiled = compile("output", &r.output)?;
        }
        Ok(Catalog { ui: file.ui, rules })
    }

    /// Adds an operator's own entries. A custom entry may not reuse a built-in id: the ids are a
    /// contract and must keep meaning what the project says they mean.
    pub fn add_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read rules file {}: {e}", path.display()))?;
        let extra = Catalog::parse(&text, &path.display().to_string())?;
        for mut r in extra.rules {
            if self.rules.iter().any(|b| b.id == r.id) {
                return Err(format!(
                    "{}: rule id {:?} is already defined; choose another id",
                    path.display(),
                    r.id
                ));
            }
            if r.compiled.is_empty() && r.output_compiled.is_empty() {
                return Err(format!(
                    "{}: rule {:?} has neither patterns nor output; a custom rule is a log or an error-output signature",
                    path.display(),
                    r.id
                ));
            }
            r.custom = true;
            self.rules.push(r);
        }
        Ok(())
    }

    pub fn rule(&self, id: &str) -> &RuleEntry {
        self.rules
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("rule {id} is missing from the catalog"))
    }

    /// The entry whose `output` signatures match an error's text, and where the match starts.
    /// An operator's own entries come first: they are written for their own site's errors and
    /// are more specific than the built-in ones (a bare timeout, say).
    pub fn match_output(&self, text: &str) -> Option<(&RuleEntry, usize)> {
        let custom = self.rules.iter().filter(|r| r.custom);
        let builtin = self.rules.iter().filter(|r| !r.custom);
        custom.chain(builtin).find_map(|r| {
            r.output_compiled
                .iter()
                .find_map(|re| re.find(text))
                .map(|m| (r, m.start()))
        })
    }

    pub fn ui<'a>(&'a self, key: &'a str, lang: Lang) -> &'a str {
        self.ui.get(key).map(|t| t.get(lang)).unwrap_or(key)
    }
}

/// Replaces `{name}` with its value; unknown placeholders stay visible so a gap shows in review.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let key = &after[..end];
                match vars.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_ids_are_unique() {
        let c = Catalog::builtin();
        let mut ids: Vec<_> = c.rules.iter().map(|r| r.id.as_str()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule id in catalog.yaml");
        for r in &c.rules {
            assert!(!r.title.en.is_empty() && !r.title.zh.is_empty(), "{}", r.id);
            assert!(
                !r.explanation.en.is_empty() && !r.explanation.zh.is_empty(),
                "{}",
                r.id
            );
            for (k, t) in &r.text {
                assert!(!t.en.is_empty() && !t.zh.is_empty(), "{}.{k}", r.id);
            }
        }
    }

    #[test]
    fn fill_replaces_known_and_keeps_unknown() {
        assert_eq!(
            fill(
                "helm rollback -n {ns} {name} {rev}",
                &[("ns", "bk"), ("name", "bk-paas"), ("rev", "2")]
            ),
            "helm rollback -n bk bk-paas 2"
        );
        assert_eq!(fill("a {x} b {", &[]), "a {x} b {");
        assert_eq!(fill("{\"data\":1}", &[]), "{\"data\":1}");
    }

    #[test]
    fn custom_rules_cannot_shadow_builtin_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.yaml");
        std::fs::write(
            &p,
            "rules:\n- id: helm-release-failed\n  severity: info\n  title: {en: x, zh: x}\n  explanation: {en: x, zh: x}\n  patterns: [x]\n",
        )
        .unwrap();
        let err = Catalog::builtin().add_file(&p).unwrap_err();
        assert!(err.contains("already defined"), "{err}");
    }

    #[test]
    fn custom_rules_may_be_error_output_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.yaml");
        let entry = |output: &str| {
            format!(
                "rules:\n- id: job-immutable\n  severity: error\n  title: {{en: x, zh: x}}\n  explanation: {{en: x, zh: x}}\n  output: ['{output}']\n"
            )
        };
        std::fs::write(&p, entry("field is immutable")).unwrap();
        let mut c = Catalog::builtin();
        c.add_file(&p).unwrap();
        let (hit, at) = c
            .match_output("Error: UPGRADE FAILED: cannot patch: field is immutable")
            .unwrap();
        assert_eq!((hit.id.as_str(), at), ("job-immutable", 37));
        std::fs::write(&p, entry("(unclosed")).unwrap();
        let err = Catalog::builtin().add_file(&p).unwrap_err();
        assert!(err.contains("rule job-immutable: output pattern"), "{err}");
    }
}
