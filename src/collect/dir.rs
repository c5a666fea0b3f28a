//! Loads a snapshot directory: what `kubectl get -o json|yaml`, `kubectl logs` and
//! `kubectl cluster-info dump --output-directory` write. The layout is a contract (README,
//! "Snapshot directory"); other tools write it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::logs;
use super::source::{self, Files, NamedFile};
use crate::findings::Skipped;
use crate::snapshot::Snapshot;
use crate::snapshot::ready_logs::PodSelector;

/// Deeper than this is not a snapshot someone made by hand or with kubectl; it is a loop or a trap.
pub const MAX_DEPTH: usize = 16;
/// A single object file larger than this is not read (a 5,000-pod `-o json` list is ~100 MiB).
pub const MAX_OBJECT_FILE: u64 = 512 * 1024 * 1024;
/// Problems reported for one file before the rest are counted instead: a list of a million broken
/// objects must not become a million-line report.
pub const MAX_PROBLEMS_PER_FILE: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("snapshot directory {0}: no such directory")]
    NotFound(PathBuf),
    #[error("snapshot directory {0}: not a directory")]
    NotADirectory(PathBuf),
    #[error("snapshot directory {0}: cannot be read: {1}")]
    Unreadable(PathBuf, std::io::Error),
    #[error("snapshot archive {0}: {1}")]
    Archive(PathBuf, String),
}

/// A file of a snapshot directory, read only when the parser asks.
struct DirFile {
    name: String,
    path: PathBuf,
    size: u64,
}

impl NamedFile for DirFile {
    fn name(&self) -> &str {
        &self.name
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn bytes(&self) -> std::io::Result<Vec<u8>> {
        std::fs::read(&self.path)
    }
    fn log_tail(&self) -> std::io::Result<String> {
        logs::read_tail(&self.path)
    }
    fn log_head_and_tail(&self) -> std::io::Result<String> {
        logs::read_head_and_tail(&self.path)
    }
    fn dump_logs(&self) -> std::io::Result<logs::DumpLogs> {
        logs::read_cluster_info_logs(&self.path)
    }
}

pub fn load(root: &Path) -> Result<Snapshot, LoadError> {
    load_reading(root, &[])
}

/// [`load`], reading also the current logs of the ready pods `ready_logs_of` names, start and end,
/// as a live collection reads them.
pub fn load_reading(root: &Path, ready_logs_of: &[PodSelector]) -> Result<Snapshot, LoadError> {
    let meta = std::fs::metadata(root).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound(root.to_path_buf()),
        _ => LoadError::Unreadable(root.to_path_buf(), e),
    })?;
    if !meta.is_dir() {
        return Err(LoadError::NotADirectory(root.to_path_buf()));
    }
    std::fs::read_dir(root).map_err(|e| LoadError::Unreadable(root.to_path_buf(), e))?;

    let mut snap = Snapshot::default();
    let mut files = Files::default();
    walk(root, root, 0, &mut files, &mut snap.skipped);
    source::read(&files, &mut snap, ready_logs_of);
    Ok(snap)
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn walk(root: &Path, dir: &Path, depth: usize, files: &mut Files, skipped: &mut Vec<Skipped>) {
    if depth > MAX_DEPTH {
        skipped.push(Skipped::new(
            rel(root, dir),
            format!("deeper than {MAX_DEPTH} directories; not read"),
        ));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            skipped.push(Skipped::new(
                rel(root, dir),
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        // A symlinked directory can point back up the tree; files behind links are fine.
        if meta.is_dir() {
            walk(root, &path, depth + 1, files, skipped);
            continue;
        }
        // Only regular files (or links to them): reading a FIFO or a device named `x.json` would
        // block forever or never end.
        let Ok(target) = std::fs::metadata(&path) else {
            continue;
        };
        if !target.is_file() {
            continue;
        }
        files.add(Box::new(DirFile {
            name: rel(root, &path),
            size: target.len(),
            path,
        }));
    }
}

/// Keeps the first [`MAX_PROBLEMS_PER_FILE`] problems added since `before` and counts the rest in
/// one entry; `place` says where they were ("in this file", "in this list").
pub fn summarise_problems(skipped: &mut Vec<Skipped>, before: usize, origin: &str, place: &str) {
    let added = skipped.len() - before;
    if added > MAX_PROBLEMS_PER_FILE {
        skipped.truncate(before + MAX_PROBLEMS_PER_FILE);
        skipped.push(Skipped::new(
            origin,
            format!(
                "and {} more objects {place} that could not be used",
                added - MAX_PROBLEMS_PER_FILE
            ),
        ));
    }
}

/// A JSON file may hold several concatenated values, as `kubectl get a b -o json` can print.
pub fn parse_json(bytes: &[u8]) -> Result<Vec<Value>, String> {
    serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not valid JSON: {e}"))
}

pub fn parse_yaml(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| format!("not valid YAML: {e}"))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}
