//! How the overview writes the objects of findings when the terminal is narrow: the ways to shorten
//! a label, longest first, none of which cuts a name. Choosing among them is the table's job.

use unicode_width::UnicodeWidthStr;

use super::table::object_label;
use crate::findings::Finding;

/// kubectl's short names for the kinds findings name: the overview's first saving when objects are
/// long, as an operator types them anyway.
pub(super) fn short_kind(object: &str) -> String {
    let Some((kind, name)) = object.split_once('/') else {
        return object.to_string();
    };
    let short = match kind {
        "persistentvolumeclaim" => "pvc",
        "persistentvolume" => "pv",
        "storageclass" => "sc",
        "deployment" => "deploy",
        "statefulset" => "sts",
        "daemonset" => "ds",
        "replicaset" => "rs",
        "namespace" => "ns",
        "service" => "svc",
        "ingress" => "ing",
        "configmap" => "cm",
        "node" => "no",
        _ => kind,
    };
    format!("{short}/{name}")
}

/// The ways to write the overview's objects, longest first: with their namespace, without it when
/// every finding is in the same one (the headings below still say it), with kubectl's short kinds.
/// Names are never cut.
pub(super) fn label_sets(findings: &[Finding]) -> Vec<Vec<String>> {
    let full: Vec<String> = findings.iter().map(object_label).collect();
    let mut namespaces: Vec<&str> = findings
        .iter()
        .filter_map(|f| f.namespace.as_deref())
        .collect();
    namespaces.sort();
    namespaces.dedup();
    let mut sets = vec![full];
    if namespaces.len() == 1 {
        sets.push(findings.iter().map(|f| f.object.clone()).collect());
        sets.push(findings.iter().map(|f| short_kind(&f.object)).collect());
    } else {
        sets.push(
            findings
                .iter()
                .map(|f| match &f.namespace {
                    Some(ns) => format!("{} -n {ns}", short_kind(&f.object)),
                    None => short_kind(&f.object),
                })
                .collect(),
        );
        sets.push(findings.iter().map(|f| short_kind(&f.object)).collect());
    }
    sets
}

pub(super) fn widest(labels: &[String]) -> usize {
    labels.iter().map(|l| l.width()).max().unwrap_or(0)
}
