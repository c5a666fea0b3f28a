//! docs/blueking-coverage.md names, for every entry of the BlueKing knowledge file and of the
//! deployment guide, the rules that cover it: every rule id it names must exist in the catalog,
//! and every entry must be there.

use std::collections::BTreeSet;
use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

fn catalog_ids() -> BTreeSet<String> {
    read("src/catalog.yaml")
        .lines()
        .filter_map(|l| l.strip_prefix("  - id: "))
        .map(|id| id.trim().to_string())
        .collect()
}

/// The tables of the page: each its header and its rows, as cells.
fn tables(doc: &str) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
    let cells = |l: &str| -> Vec<String> {
        l.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut out: Vec<(Vec<String>, Vec<Vec<String>>)> = Vec::new();
    let mut in_table = false;
    for l in doc.lines() {
        if !l.starts_with('|') {
            in_table = false;
        } else if !in_table {
            out.push((cells(l), Vec::new()));
            in_table = true;
        } else if !l.starts_with("|---") {
            out.last_mut().unwrap().1.push(cells(l));
        }
    }
    out
}

/// Rule ids in backticks in a cell.
fn ids(cell: &str) -> Vec<&str> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .collect()
}

#[test]
fn every_rule_named_exists_and_every_entry_is_there() {
    let doc = read("docs/blueking-coverage.md");
    let known = catalog_ids();
    let tables = tables(&doc);
    let mut named = 0;
    for (header, rows) in &tables {
        let col = header
            .iter()
            .position(|h| h == "Rules" || h == "Signature")
            .unwrap_or_else(|| panic!("a table without a Rules column: {header:?}"));
        for row in rows {
            for id in ids(&row[col]) {
                named += 1;
                assert!(
                    known.contains(id),
                    "docs/blueking-coverage.md names {id:?}, which is not a rule: {row:?}"
                );
            }
        }
    }
    assert!(named > 40, "only {named} rule ids found");
    let table = |first: &str| {
        &tables
            .iter()
            .find(|(h, _)| h[0] == first)
            .unwrap_or_else(|| panic!("no table starting with {first}"))
            .1
    };
    // The knowledge file's 30 entries, in order, each with a verdict.
    let knowledge = table("#");
    let numbers: Vec<u32> = knowledge.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(numbers, (1..=30).collect::<Vec<_>>());
    for r in knowledge {
        assert!(["full", "part", "none"].contains(&r[3].as_str()), "{r:?}");
        assert!(r[3] == "none" || !ids(&r[2]).is_empty(), "{r:?}");
    }
    // The guide's 9 entries.
    assert_eq!(table("Entry").len(), 9);
}
