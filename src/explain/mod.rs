//! `explain`: reads the output a deployment printed (helm, helmfile, the one-click script), finds
//! each error and its release ([`parse`]), matches it against the catalog's `output` signatures,
//! and answers it: what it means, which of the cluster's findings explain it, and the fix, filled
//! in with the release and its namespace where the cluster knows them.
//!
//! Many of BlueKing's errors never reach the cluster: helm returns render and build errors before
//! it stores a revision. The output is the only place they show, which is why this reads it.

mod classify;
mod cluster;
mod lines;
mod names;
pub mod parse;

use std::collections::HashSet;

use jiff::Timestamp;

use crate::catalog::{Catalog, RuleEntry, fill};
use crate::findings::{Finding, Severity, Skipped};
use crate::i18n::Lang;
use crate::render::{ExplainReport, ExplainedError, FindingRef, Summary};
use crate::snapshot::{Snapshot, pod};

pub use parse::{Found, Scan, scan};

/// The id of the timeout entry: its findings are the cluster's reasons for the release.
pub const TIMED_OUT: &str = "deploy-timed-out";

/// Helm's per-release rules: a finding of theirs about another release says nothing about this one.
const PER_RELEASE: &[&str] = &[
    "helm-operation-in-progress",
    "helm-no-deployed-release",
    "helm-release-failed",
    "helm-release-unreadable",
];

/// A finding that restates a failed deployment rather than saying why it failed.
const SYMPTOM: &str = "helm-release-failed";

/// What the cluster showed, when it was read.
pub struct Cluster<'a> {
    pub snap: &'a Snapshot,
    /// Every rule's findings, most severe first.
    pub findings: &'a [Finding],
    pub now: Timestamp,
}

/// Builds the report for the errors found; without a cluster, from the text alone.
pub fn report(
    scan: &Scan,
    catalog: &Catalog,
    lang: Lang,
    cluster: Option<&Cluster>,
) -> ExplainReport {
    let mut linked: Vec<&Finding> = Vec::new();
    let errors: Vec<ExplainedError> = scan
        .errors
        .iter()
        .map(|found| {
            let (error, refs) = explain_one(found, catalog, lang, cluster);
            for f in refs {
                if !linked.iter().any(|l| std::ptr::eq(*l, f)) {
                    linked.push(f);
                }
            }
            error
        })
        .collect();
    // In the order check reports them: most severe first.
    let findings: Vec<Finding> = cluster
        .map(|c| {
            c.findings
                .iter()
                .filter(|f| linked.iter().any(|l| std::ptr::eq(*l, *f)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut skipped: Vec<Skipped> = cluster.map(|c| c.snap.skipped.clone()).unwrap_or_default();
    if scan.dropped > 0 {
        skipped.push(Skipped::new(
            "input",
            fill(
                catalog.ui("explain_dropped", lang),
                &[
                    ("n", &scan.dropped.to_string()),
                    ("max", &parse::MAX_ERRORS.to_string()),
                ],
            ),
        ));
    }
    if scan.cut_lines > 0 {
        skipped.push(Skipped::new(
            "input",
            fill(
                catalog.ui("explain_cut", lang),
                &[
                    ("n", &scan.cut_lines.to_string()),
                    ("max", &(parse::MAX_LINE_BYTES / 1024).to_string()),
                ],
            ),
        ));
    }
    let (e, w, i) = Summary::count(&findings);
    let summary = Summary {
        errors: e,
        warnings: w,
        info: i,
        namespace: None,
        pods: cluster.map_or(0, |c| c.snap.pods.len()),
        nodes: cluster.map_or(0, |c| c.snap.nodes.len()),
        releases: cluster.map_or(0, |c| c.snap.releases().len()),
        snapshot_time: cluster.map(|c| crate::format::when(c.now)),
    };
    ExplainReport {
        cluster: None,
        errors,
        findings,
        skipped,
        summary,
        cluster_read: cluster.is_some(),
    }
}

fn explain_one<'f>(
    found: &Found,
    catalog: &Catalog,
    lang: Lang,
    cluster: Option<&Cluster<'f>>,
) -> (ExplainedError, Vec<&'f Finding>) {
    let entry = found.rule.as_deref().map(|id| catalog.rule(id));
    let release = found.release.as_deref();
    let namespace = match (cluster, release) {
        (Some(c), Some(r)) => namespace_of(c.snap, r),
        _ => None,
    };
    let refs: Vec<&Finding> = match cluster {
        Some(c) => c
            .findings
            .iter()
            .filter(|f| explains(f, entry, release, namespace.as_deref(), c.snap))
            .collect(),
        None => Vec::new(),
    };
    let causes: Vec<&&Finding> = refs.iter().filter(|f| f.rule != SYMPTOM).collect();

    let mut vars: Vec<(String, String)> = vec![
        ("release".into(), release.unwrap_or("RELEASE").into()),
        (
            "namespace".into(),
            namespace.clone().unwrap_or_else(|| "NAMESPACE".into()),
        ),
    ];
    vars.extend(name_vars(&found.names, release, namespace.as_deref()));
    let (notes, more, cluster_fix) = match entry {
        Some(e) => cluster::asked(cluster.map(|c| c.snap), e, lang, &borrow(&vars)),
        None => (Vec::new(), Vec::new(), None),
    };
    for (k, v) in more {
        if !vars.iter().any(|(x, _)| *x == k) {
            vars.push((k, v));
        }
    }
    if let Some(e) = entry {
        vars.extend(e.texts_filled(lang, &borrow(&vars)));
    }
    let v = borrow(&vars);

    let title = match entry {
        Some(e) => fill(
            e.text.get("explain_title").unwrap_or(&e.title).get(lang),
            &v,
        ),
        None => fill(catalog.ui("explain_unknown_title", lang), &v),
    };
    let means = match entry {
        Some(e) => fill(e.explanation.get(lang), &v),
        None => fill(catalog.ui("explain_unknown", lang), &v),
    };

    let same_rule = entry.and_then(|e| {
        refs.iter()
            .find(|f| f.rule == e.id && !f.remediation.is_empty())
    });
    let remediation = if let Some(f) = same_rule {
        // The cluster knows the exact fix (the revision to roll back to, the ConfigMap to patch).
        f.remediation.clone()
    } else if found.rule.as_deref() == Some(TIMED_OUT) && !causes.is_empty() {
        let mut rules: Vec<&str> = causes.iter().map(|f| f.rule.as_str()).collect();
        rules.dedup();
        let e = entry.expect("a matched rule has its entry");
        let causes_line = fill(
            e.text.get("causes").map_or("", |t| t.get(lang)),
            &[("rules", &rules.join(", "))],
        );
        vec![causes_line]
    } else {
        let templates: Vec<&str> = match entry {
            Some(_) if cluster_fix.is_some() => {
                cluster_fix.iter().flatten().map(String::as_str).collect()
            }
            Some(e) if !e.output_remediation.is_empty() => {
                e.output_remediation.iter().map(String::as_str).collect()
            }
            Some(e) => e.remediation.iter().map(String::as_str).collect(),
            None if release.is_some() => vec![
                "helm history -n {namespace} {release}",
                "kubectl get pods -n {namespace} -l app.kubernetes.io/instance={release}",
                "kubectl get events -n {namespace} --sort-by=.lastTimestamp",
            ],
            None => Vec::new(),
        };
        let mut out = fill_commands(&templates, &v, release.is_some(), namespace.is_some());
        if found.rule.is_none() {
            out.push(catalog.ui("explain_search", lang).to_string());
        }
        if !out.is_empty() && needs_lookup(&templates, release.is_some(), namespace.is_some()) {
            let mut lookup = match release {
                Some(r) => vec![
                    format!("helm list -A -a --filter '^{r}$'"),
                    catalog.ui("explain_which_ns", lang).to_string(),
                ],
                None => vec![
                    "helm list -A -a".to_string(),
                    catalog.ui("explain_which_release", lang).to_string(),
                ],
            };
            lookup.append(&mut out);
            out = lookup;
        }
        out
    };

    // A timeout nothing explains: say what was looked at, so that "nothing found" is not taken for
    // "nothing looked at".
    let looked_at = match (cluster, found.rule.as_deref(), release) {
        (Some(c), Some(TIMED_OUT), Some(r)) if causes.is_empty() => cluster::looked_at(
            c.snap,
            entry.expect("matched"),
            lang,
            r,
            namespace.as_deref(),
        ),
        (Some(c), Some(rule), _) => cluster::crd_note(c.snap, catalog, lang, rule)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    let mut notes = notes;
    if let (None, Some(c), Some(r)) = (entry, cluster, release) {
        notes.extend(cluster::release_state(c.snap, catalog, lang, r));
    }
    let mut looked_at = looked_at;
    if !notes.is_empty() {
        if looked_at.is_empty() {
            looked_at.push(catalog.ui("explain_cluster_says", lang).to_string());
        }
        looked_at.extend(notes);
    }
    let looked_at: Vec<String> = looked_at.iter().map(|l| unknown_names(l).0).collect();
    let title = unknown_names(&title).0;
    let means = unknown_names(&means).0;
    let explanation = if looked_at.is_empty() {
        means.clone()
    } else {
        format!("{means}\n{}", looked_at.join("\n- "))
    };
    let error = ExplainedError {
        line: found.line.clone(),
        release: found.release.clone(),
        rule: found.rule.clone(),
        title,
        explanation,
        remediation,
        findings: refs
            .iter()
            .map(|f| FindingRef {
                rule: f.rule.clone(),
                object: f.object.clone(),
            })
            .collect(),
        line_number: found.line_number,
        severity: entry.map_or(Severity::Error, |e| e.severity),
        means,
        looked_at,
    };
    (error, refs)
}

fn borrow(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Fills command templates. A command that would need a name the data does not give stays a `#`
/// line with `RELEASE` / `NAMESPACE` in it: it must not be run as it stands.
fn fill_commands(
    templates: &[&str],
    vars: &[(&str, &str)],
    release_known: bool,
    namespace_known: bool,
) -> Vec<String> {
    templates
        .iter()
        .map(|t| {
            let (line, missing) = unknown_names(&fill(t, vars));
            let unknown = missing
                || (!release_known && t.contains("{release}"))
                || (!namespace_known && t.contains("{namespace}"));
            if unknown && !line.starts_with('#') {
                format!("# {line}")
            } else {
                line
            }
        })
        .collect()
}

/// The names an error may give ([`names::KEYS`]), in a template the text did not fill: written as
/// `KIND`, `OBJECT`... for a person to replace, and whether there was one.
fn unknown_names(line: &str) -> (String, bool) {
    let mut out = line.to_string();
    let mut missing = false;
    for key in names::KEYS {
        let placeholder = format!("{{{key}}}");
        if out.contains(&placeholder) {
            missing = true;
            let shown = match *key {
                "in_objns" => " -n NAMESPACE".to_string(),
                "objns" | "owner_ns" | "svcns" => "NAMESPACE".to_string(),
                "owner" => "RELEASE".to_string(),
                k => k.to_uppercase(),
            };
            out = out.replace(&placeholder, &shown);
        }
    }
    (out, missing)
}

/// The names the error gave, with the defaults the release gives: the object is in the release's
/// namespace, and belongs to the release, unless the text says otherwise.
fn name_vars(
    names: &[(String, String)],
    release: Option<&str>,
    namespace: Option<&str>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = names.to_vec();
    let has = |out: &[(String, String)], k: &str| out.iter().any(|(x, _)| x == k);
    let cluster_scoped = has(&out, "in_objns");
    if !cluster_scoped
        && !has(&out, "objns")
        && let Some(ns) = namespace
    {
        out.push(("objns".into(), ns.into()));
    }
    if !cluster_scoped
        && let Some(ns) = out
            .iter()
            .find(|(k, _)| k == "objns")
            .map(|(_, v)| v.clone())
    {
        out.push(("in_objns".into(), format!(" -n {ns}")));
    }
    if !has(&out, "owner")
        && let Some(r) = release
    {
        out.push(("owner".into(), r.into()));
    }
    if !has(&out, "owner_ns") {
        let ns = namespace.map(str::to_string).or_else(|| {
            out.iter()
                .find(|(k, _)| k == "objns")
                .map(|(_, v)| v.clone())
        });
        if let Some(ns) = ns {
            out.push(("owner_ns".into(), ns));
        }
    }
    out
}

fn needs_lookup(templates: &[&str], release_known: bool, namespace_known: bool) -> bool {
    templates.iter().any(|t| {
        (!release_known && t.contains("{release}"))
            || (!namespace_known && t.contains("{namespace}"))
    })
}

/// The namespace of a release: where its helm records are, else where its pods are; `None` when
/// that is not one namespace.
fn namespace_of(snap: &Snapshot, release: &str) -> Option<String> {
    let mut from_records: Vec<&str> = snap
        .helm_records
        .iter()
        .filter(|r| r.name == release)
        .map(|r| r.namespace.as_str())
        .collect();
    from_records.sort();
    from_records.dedup();
    if let [one] = from_records.as_slice() {
        return Some(one.to_string());
    }
    if from_records.len() > 1 {
        return None;
    }
    let mut from_pods: Vec<&str> = snap
        .pods
        .iter()
        .filter(|p| pod::releases(p).any(|r| r == release))
        .map(pod::namespace)
        .collect();
    from_pods.sort();
    from_pods.dedup();
    match from_pods.as_slice() {
        [one] => Some(one.to_string()),
        _ => None,
    }
}

/// Whether a finding explains an error: it is about the error's release (the release itself, or
/// pods of it), or it is the cluster's view of the very issue the error matched.
fn explains(
    f: &Finding,
    entry: Option<&RuleEntry>,
    release: Option<&str>,
    namespace: Option<&str>,
    snap: &Snapshot,
) -> bool {
    let in_ns = |n: Option<&str>| namespace.is_none_or(|ns| n == Some(ns));
    if let Some(r) = release {
        if f.object == format!("release/{r}") && in_ns(f.namespace.as_deref()) {
            return true;
        }
        let pods: HashSet<(&str, &str)> = snap
            .pods
            .iter()
            .filter(|p| pod::releases(p).any(|x| x == r) && in_ns(Some(pod::namespace(p))))
            .map(|p| (pod::namespace(p), pod::name(p)))
            .collect();
        if f.covers
            .iter()
            .any(|(ns, p)| pods.contains(&(ns.as_str(), p.as_str())))
        {
            return true;
        }
    }
    match entry {
        Some(e) if f.rule == e.id => {
            // The same helm state of another release says nothing about this one.
            !(PER_RELEASE.contains(&f.rule.as_str())
                && release.is_some_and(|r| f.object != format!("release/{r}")))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client-side sentences and commands may name the release and namespace, the names of a
    /// strict shape taken from the error ([`names::KEYS`]) and what the cluster data says, never the
    /// error text: a chart may have echoed a value into it.
    #[test]
    fn output_entries_quote_nothing_of_the_input() {
        let catalog = Catalog::builtin();
        let cluster = [
            "rules", "name", "state", "crd", "versions", "provider", "cur", "curns", "managed",
            "ns", "revision", "status", "ready", "pods",
        ];
        let allowed: Vec<&str> = ["release", "namespace"]
            .into_iter()
            .chain(cluster)
            .chain(names::KEYS.iter().copied())
            .collect();
        let mut checked = 0;
        for e in catalog.rules.iter().filter(|e| !e.output.is_empty()) {
            let client_side = e.reads.iter().any(|r| r.contains("explain"));
            // What explain fills: its commands, the sentences they name, the title and explanation.
            let mut templates: Vec<&str> =
                e.output_remediation.iter().map(String::as_str).collect();
            for (k, t) in &e.text {
                let named = format!("{{text.{k}}}");
                let used = client_side
                    || k == "explain_title"
                    || e.output_remediation.iter().any(|r| r.contains(&named));
                if used {
                    templates.extend([t.en.as_str(), t.zh.as_str()]);
                }
            }
            let title = e.text.get("explain_title").unwrap_or(&e.title);
            templates.extend([title.en.as_str(), title.zh.as_str()]);
            templates.extend([e.explanation.en.as_str(), e.explanation.zh.as_str()]);
            for t in templates {
                for part in t.split('{').skip(1) {
                    let key = part.split('}').next().unwrap();
                    let ok = allowed.contains(&key)
                        || key
                            .strip_prefix("text.")
                            .is_some_and(|k| e.text.contains_key(k));
                    assert!(ok, "{}: placeholder {{{key}}} in {t:?}", e.id);
                }
            }
            assert!(
                !e.output_remediation.is_empty(),
                "{} has no fix for explain",
                e.id
            );
            checked += 1;
        }
        assert!(checked >= 9, "{checked}");
    }

    #[test]
    fn without_a_cluster_unknown_names_stay_comments() {
        let catalog = Catalog::builtin();
        let s = scan(
            &mut "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n"
                .as_bytes(),
            &catalog,
        )
        .unwrap();
        let r = report(&s, &catalog, Lang::En, None);
        let e = &r.errors[0];
        assert_eq!(e.rule.as_deref(), Some("helm-operation-in-progress"));
        assert_eq!(e.remediation[0], "helm list -A -a");
        for line in &e.remediation[1..] {
            assert!(
                line.starts_with('#') || !(line.contains("RELEASE") || line.contains("NAMESPACE")),
                "a command with a placeholder: {line}"
            );
        }
        assert_eq!(r.exit_code(), 1);
    }
}
