//! The imports follow the flow collect → snapshot → rules → findings → render (docs/architecture.md,
//! "The flow"): a module that names a layer above it fails here, so the direction cannot turn
//! back unnoticed. Every mention counts, doc links included, as `grep` would find them.

use std::path::{Path, PathBuf};

/// (files under, what they must not name, why).
const FORBIDDEN: &[(&str, &[&str], &str)] = &[
    (
        "collect",
        &["crate::cli", "crate::rules", "crate::render", "crate::app"],
        "collectors are given plain options and what the rules need as data",
    ),
    (
        "probe",
        &["crate::cli", "crate::rules", "crate::render", "crate::app"],
        "the probes are given plain options",
    ),
    (
        "rules",
        &[
            "crate::probe",
            "crate::collect",
            "crate::render",
            "crate::cli",
            "crate::app",
        ],
        "rules read the snapshot only",
    ),
    (
        "render",
        &[
            "crate::rules",
            "crate::collect",
            "crate::probe",
            "crate::cli",
            "crate::app",
        ],
        "renderers read findings only",
    ),
    (
        "snapshot",
        &[
            "crate::probe",
            "crate::collect",
            "crate::rules",
            "crate::render",
            "crate::cli",
            "crate::app",
        ],
        "the snapshot is the data every layer shares",
    ),
    (
        "snapshot.rs",
        &[
            "crate::probe",
            "crate::collect",
            "crate::rules",
            "crate::render",
            "crate::cli",
            "crate::app",
        ],
        "the snapshot is the data every layer shares",
    ),
    (
        "helm",
        &[
            "crate::snapshot",
            "crate::probe",
            "crate::collect",
            "crate::rules",
            "crate::render",
            "crate::cli",
            "crate::app",
        ],
        "helm decoding knows nothing of the cluster around it",
    ),
    (
        "findings.rs",
        &[
            "crate::snapshot",
            "crate::probe",
            "crate::collect",
            "crate::rules",
            "crate::render",
            "crate::cli",
            "crate::app",
        ],
        "findings are what rules hand to renderers",
    ),
    (
        "explain",
        &["crate::cli", "crate::app", "crate::probe"],
        "explain is handed what the command read and the findings, and builds its report",
    ),
    (
        "watch",
        &["crate::cli", "crate::app"],
        "watch is given plain options",
    ),
    (
        "format.rs",
        &["crate::"],
        "formatting sits below rules and render",
    ),
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            rust_files(&p, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

#[test]
fn imports_point_down_the_flow() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    let mut checked = 0;
    for (under, names, why) in FORBIDDEN {
        let mut files = Vec::new();
        rust_files(&src.join(under), &mut files);
        assert!(!files.is_empty(), "src/{under} has no Rust files");
        for file in files {
            checked += 1;
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                for name in names.iter().filter(|name| line.contains(*name)) {
                    bad.push(format!(
                        "{}:{}: names {name} ({why}): {}",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} files looked at");
    assert!(
        bad.is_empty(),
        "imports against the flow:\n{}",
        bad.join("\n")
    );
}

/// `cli` names `completion`'s arguments; `completion` is handed the parser instead of importing it.
#[test]
fn completion_does_not_import_the_command_line() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/completion.rs");
    let text = std::fs::read_to_string(path).unwrap();
    // Its tests build the real parser to complete against; the code itself must not.
    let code = text.split("#[cfg(test)]").next().unwrap();
    assert!(
        !code.contains("crate::cli"),
        "src/completion.rs imports crate::cli outside its tests"
    );
}
