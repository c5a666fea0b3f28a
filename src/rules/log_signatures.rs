//! The generic log-signature rule: a catalog entry with `patterns` and no code of its own (built in,
//! such as `ipv6-disabled`, or an operator's from `--rules FILE`) becomes one finding per pod whose
//! log tail matches, with the entry's `remediation` templates filled in from that pod. An entry that
//! names its `workloads` is matched against their ready pods' logs too (start and end).
//!
//! Placeholders: {namespace} {pod} {container} {node} {node_ip} {release} {workload} {line} {stream}, and
//! {text.KEY} for a sentence of the entry's `text` in the report's language: advice is translated,
//! commands stay identical in both languages.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use super::Ctx;
use super::logs::{self, LogHit};
use crate::catalog::{RuleEntry, fill};
use crate::findings::Finding;
use crate::snapshot::pod;

/// Ids whose findings come from code. Their `patterns` only say what the code looks for, so the
/// generic path must not report them a second time.
pub const WITH_CODE: &[&str] = &[
    super::helm_operation_in_progress::ID,
    super::helm_no_deployed_release::ID,
    super::helm_release_failed::ID,
    super::helm_release_unreadable::ID,
    super::dns_unresolvable::ID,
    super::redis_cluster_stale_data::ID,
    super::pod_crash_loop::ID,
    super::ingress_snippet_disabled::ID,
    super::clock_skew::ID,
    super::apigateway_too_old::ID,
    super::pod_ip_not_private::ID,
    super::ipv6_disabled::ID,
];

pub fn is_generic(entry: &RuleEntry) -> bool {
    !entry.compiled.is_empty() && !WITH_CODE.contains(&entry.id.as_str())
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for entry in ctx.catalog.rules.iter().filter(|e| is_generic(e)) {
        let mut by_pod: BTreeMap<(&str, &str), Vec<LogHit>> = BTreeMap::new();
        for hit in logs::scan_with(ctx.snap, &entry.compiled, &entry.workloads) {
            by_pod
                .entry((hit.namespace, hit.pod))
                .or_default()
                .push(hit);
        }
        for ((ns, pod_name), hits) in by_pod {
            out.push(finding(ctx, entry, ns, pod_name, &hits));
        }
    }
    out
}

fn finding(ctx: &Ctx, entry: &RuleEntry, ns: &str, pod_name: &str, hits: &[LogHit]) -> Finding {
    let pod_obj = ctx.snap.pods.iter().find(|p| {
        p.metadata.namespace.as_deref() == Some(ns) && p.metadata.name.as_deref() == Some(pod_name)
    });
    let per_hit: Vec<Vec<(String, String)>> =
        hits.iter().map(|h| vars(ctx, entry, h, pod_obj)).collect();
    let first = borrow(&per_hit[0]);
    let mut f = ctx.finding(&entry.id, Some(ns), format!("pod/{pod_name}"), &first);
    for v in &per_hit {
        let v = borrow(v);
        let evidence = match entry.text.get("evidence") {
            Some(t) => fill(t.get(ctx.lang), &v),
            None => fill(ctx.catalog.ui("log_hit", ctx.lang), &v),
        };
        push_new(&mut f.evidence, evidence);
        for template in &entry.remediation {
            push_new(
                &mut f.remediation,
                command_or_advice(ctx, fill(template, &v)),
            );
        }
    }
    f.covers.push((ns.to_string(), pod_name.to_string()));
    f
}

/// A command the data could not fill in (a bare pod has no workload to restart) must not be run:
/// it becomes advice that quotes it and names what is missing.
fn command_or_advice(ctx: &Ctx, line: String) -> String {
    if line.starts_with('#') {
        return line;
    }
    let missing = unfilled(&line);
    if missing.is_empty() {
        return line;
    }
    fill(
        ctx.catalog.ui("unfilled_command", ctx.lang),
        &[("command", &line), ("missing", &missing.join(", "))],
    )
}

/// The catalog placeholders left in a line: `{name}` or `{text.name}`. A jsonpath (`{.data}`) or a
/// curl format (`%{http_code}`) is not one.
pub fn unfilled(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    let mut prev = ' ';
    while let Some(start) = rest.find('{') {
        let before = rest[..start].chars().next_back().unwrap_or(prev);
        let after = &rest[start + 1..];
        if let Some(end) = after.find('}') {
            let key = &after[..end];
            let word = !key.is_empty()
                && key.starts_with(|c: char| c.is_ascii_lowercase())
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
            if word && before != '%' && before != '$' {
                out.push(key);
            }
        }
        prev = '{';
        rest = after;
    }
    out
}

fn borrow(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn push_new(list: &mut Vec<String>, s: String) {
    if !list.contains(&s) {
        list.push(s);
    }
}

fn vars(
    ctx: &Ctx,
    entry: &RuleEntry,
    hit: &LogHit,
    pod_obj: Option<&Pod>,
) -> Vec<(String, String)> {
    let node = hit.node.unwrap_or("?");
    let stream = if hit.previous {
        "log_previous"
    } else {
        "log_current"
    };
    let mut v: Vec<(String, String)> = vec![
        ("namespace".into(), hit.namespace.into()),
        ("pod".into(), hit.pod.into()),
        ("container".into(), hit.container.into()),
        ("node".into(), node.into()),
        (
            "node_ip".into(),
            logs::node_ip(ctx.snap, hit.node, pod_obj)
                .unwrap_or("?")
                .into(),
        ),
        ("line".into(), logs::clip(hit.line)),
        ("stream".into(), ctx.catalog.ui(stream, ctx.lang).into()),
    ];
    // Left out when unknown so that the template shows `{release}` rather than a wrong name.
    if let Some(r) = pod_obj.and_then(pod::release) {
        v.push(("release".into(), r.into()));
    }
    if let Some(w) = pod_obj.and_then(workload) {
        v.push(("workload".into(), w));
    }
    let texts: Vec<(String, String)> = {
        let base = borrow(&v);
        entry
            .text
            .iter()
            .map(|(k, t)| (format!("text.{k}"), fill(t.get(ctx.lang), &base)))
            .collect()
    };
    v.extend(texts);
    v
}

/// What `kubectl rollout restart` takes for the pod's controller: `deployment/NAME` (its
/// ReplicaSet's name without the pod-template-hash), `statefulset/NAME`, `daemonset/NAME`.
pub fn workload(p: &Pod) -> Option<String> {
    let owner = p
        .metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))?;
    match owner.kind.as_str() {
        "ReplicaSet" => {
            // A ReplicaSet a Deployment made is `<deployment>-<pod-template-hash>`; the pod's label
            // says which suffix is the hash, and without the label (a dump, a hand-copied pod) the
            // last dash-part is, if it looks like one.
            let hash = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("pod-template-hash"));
            let name = match hash {
                Some(hash) => owner.name.strip_suffix(hash.as_str())?.strip_suffix('-')?,
                None => {
                    let (name, hash) = owner.name.rsplit_once('-')?;
                    let hashlike = (5..=10).contains(&hash.len())
                        && hash
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                    if !hashlike {
                        return None;
                    }
                    name
                }
            };
            Some(format!("deployment/{name}"))
        }
        "StatefulSet" | "DaemonSet" => {
            Some(format!("{}/{}", owner.kind.to_lowercase(), owner.name))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn placeholders_left_in_a_line() {
        assert_eq!(
            unfilled("kubectl rollout restart -n blueking {workload}"),
            ["workload"]
        );
        assert!(unfilled("kubectl get cm -o jsonpath='{.data.Corefile}'").is_empty());
        assert!(unfilled("curl -w '%{http_code}\\n' x").is_empty());
        assert!(unfilled(r#"kubectl patch sc x -p '{"metadata":{}}'"#).is_empty());
        assert_eq!(unfilled("{text.restart} {pod}"), ["text.restart", "pod"]);
    }

    #[test]
    fn builtin_signatures_are_either_generic_with_templates_or_coded_without() {
        let c = Catalog::builtin();
        let generic: Vec<&str> = c
            .rules
            .iter()
            .filter(|e| is_generic(e))
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(
            generic,
            [
                "gse-agent-missing",
                "bkjob-esb-jwt",
                "bkjob-rsa-key",
                "bklogin-static-missing",
                "bkci-token-expiry-format",
                "paas-runtimes-missing"
            ]
        );
        for e in &c.rules {
            if is_generic(e) {
                assert!(!e.remediation.is_empty(), "{} has no remediation", e.id);
                for t in e
                    .remediation
                    .iter()
                    .filter_map(|t| t.strip_prefix("{text."))
                {
                    let key = t.trim_end_matches('}');
                    assert!(e.text.contains_key(key), "{}: no text {key}", e.id);
                }
            } else {
                // Code builds these commands; templates here would never be used.
                assert!(e.remediation.is_empty(), "{} has unused templates", e.id);
            }
        }
    }
}
