//! Reads a snapshot kept as one gzip-compressed tar archive (`snapshot FILE.tar.gz`, or `tar czf`
//! of a snapshot directory) straight from the stream, never unpacking it to disk, and hands its
//! files to the same parser as a directory ([`super::source`]).
//!
//! An archive comes from a stranger, so it is bounded before anything is parsed: the number of
//! entries, the size of one entry, the bytes the whole stream inflates to. Entries that are not
//! plain files (symbolic and hard links, devices, FIFOs) and paths that are absolute or climb out
//! with `..` make the whole archive refused: a snapshot this tool or `tar` wrote has none, and
//! whoever unpacks the archive by hand later must not be surprised either. This module must not
//! write anything anywhere.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

use super::dir::{LoadError, MAX_DEPTH, MAX_OBJECT_FILE};
use super::logs::{self, DumpLogs, MAX_DUMP_LOG_READ};
use super::source::{self, Files, NamedFile};
use crate::findings::Skipped;
use crate::snapshot::ready_logs::{LOG_HEAD_BYTES, PodSelector, READY_TAIL_BYTES};
use crate::snapshot::{LOG_TAIL_BYTES, Snapshot};

/// Entries (files and directories) one archive may hold. A 5,000-pod cluster's snapshot has a few
/// thousand (one log file per troubled container).
pub const MAX_ENTRIES: usize = 100_000;
/// One entry larger than this is refused: the limit for one object file of a directory.
pub const MAX_ENTRY: u64 = MAX_OBJECT_FILE;
/// What the whole stream may inflate to, headers included.
pub const MAX_INFLATED: u64 = 2 * 1024 * 1024 * 1024;

/// The two first bytes of every gzip stream (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `path` names an archive rather than a directory: a file whose name ends in `.tar.gz` or
/// `.tgz`, or any file that starts as gzip does.
pub fn is_archive(path: &Path) -> bool {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    if has_archive_name(path) {
        return true;
    }
    let mut magic = [0u8; 2];
    File::open(path).is_ok_and(|mut f| f.read_exact(&mut magic).is_ok() && magic == GZIP_MAGIC)
}

/// `FILE.tar.gz` or `FILE.tgz`, in any case.
pub fn has_archive_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// Counts what the decompressor gives and stops the stream past [`MAX_INFLATED`]. The count is
/// shared, so that the reader can tell this stop from a broken stream whatever `tar` wraps it in.
struct Bounded<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        if self.read.get() > MAX_INFLATED {
            return Err(io::Error::other("inflated past the limit"));
        }
        Ok(n)
    }
}

/// An entry's name for a one-line message: no control character, not endless.
fn shown(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(200)
        .collect();
    if raw.chars().count() > 200 {
        s.push('…');
    }
    format!("`{s}`")
}

/// What an entry's content is kept as: objects whole, logs already cut to what the parser uses (a
/// container log's last lines, a dump's sections' last lines), so that a bundle of big logs costs
/// no more memory than the directory would.
enum Kept {
    Whole(Vec<u8>),
    /// A container log's first bytes (all of it when `whole`) and its last ones; `cut` says the
    /// tail starts inside the log.
    Log {
        head: Vec<u8>,
        whole: bool,
        tail: Vec<u8>,
        cut: bool,
    },
    DumpLogs(DumpLogs),
    Nothing,
}

/// A file of the archive, already read (the stream cannot be gone back to).
struct ArchiveFile {
    name: String,
    path: PathBuf,
    size: u64,
    kept: RefCell<Kept>,
}

impl NamedFile for ArchiveFile {
    fn name(&self) -> &str {
        &self.name
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn bytes(&self) -> io::Result<Vec<u8>> {
        match self.kept.replace(Kept::Nothing) {
            Kept::Whole(b) => Ok(b),
            _ => Ok(Vec::new()),
        }
    }
    fn log_tail(&self) -> io::Result<String> {
        match self.kept.replace(Kept::Nothing) {
            Kept::Log { tail, cut, .. } => Ok(logs::tail_of(&tail, cut)),
            _ => Ok(String::new()),
        }
    }
    fn log_head_and_tail(&self) -> io::Result<String> {
        match self.kept.replace(Kept::Nothing) {
            Kept::Log {
                head, whole: true, ..
            } => Ok(logs::head_and_tail(&head, true, &[], false)),
            Kept::Log {
                head, tail, cut, ..
            } => {
                // As a directory's is read: the last bytes the ready tail is allowed, and one more.
                let want = READY_TAIL_BYTES + 1;
                let start = tail.len().saturating_sub(want);
                Ok(logs::head_and_tail(
                    &head,
                    false,
                    &tail[start..],
                    cut || start > 0,
                ))
            }
            _ => Ok(String::new()),
        }
    }
    fn dump_logs(&self) -> io::Result<DumpLogs> {
        match self.kept.replace(Kept::Nothing) {
            Kept::DumpLogs(sections) => Ok(sections),
            _ => Ok(DumpLogs::new()),
        }
    }
}

pub fn load(path: &Path, ready_logs_of: &[PodSelector]) -> Result<Snapshot, LoadError> {
    let refuse = |msg: String| LoadError::Archive(path.to_path_buf(), msg);
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => refuse("no such file".into()),
        _ => refuse(format!("cannot be read: {e}")),
    })?;
    let mut magic = [0u8; 2];
    let mut file = file;
    if file.read_exact(&mut magic).is_err() || magic != GZIP_MAGIC {
        return Err(refuse(
            "not a gzip-compressed tar archive (make one with `tar czf FILE.tar.gz DIR`)".into(),
        ));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| LoadError::Unreadable(path.to_path_buf(), e))?;
    let inflated = Rc::new(Cell::new(0u64));
    let bounded = Bounded {
        inner: MultiGzDecoder::new(BufReader::new(file)),
        read: inflated.clone(),
    };
    let mut archive = tar::Archive::new(bounded);
    let entries = archive
        .entries()
        .map_err(|e| refuse(format!("cannot be read: {e}")))?;
    let mut read: Vec<ArchiveFile> = Vec::new();
    let mut count = 0usize;
    let broken = |e: io::Error| {
        if inflated.get() > MAX_INFLATED {
            refuse(format!(
                "inflates to more than {} MiB; refused",
                MAX_INFLATED >> 20
            ))
        } else {
            refuse(format!("not a readable gzip-compressed tar archive: {e}"))
        }
    };
    for entry in entries {
        let mut entry = entry.map_err(broken)?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(refuse(format!(
                "holds more than {MAX_ENTRIES} entries; refused"
            )));
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let shown = shown(&raw);
        let kind = entry.header().entry_type();
        let Some(rel) = inside(&raw) else {
            return Err(refuse(format!(
                "entry {shown} is an absolute path or climbs out with `..`; refused"
            )));
        };
        if kind.is_dir() {
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            let what = if kind.is_symlink() {
                "a symbolic link"
            } else if kind.is_hard_link() {
                "a hard link"
            } else {
                "not a plain file (a device, a FIFO or a sparse file)"
            };
            return Err(refuse(format!("entry {shown} is {what}; refused")));
        }
        let size = entry.header().size().map_err(broken)?;
        if size > MAX_ENTRY {
            return Err(refuse(format!(
                "entry {shown} inflates to {} MiB, more than the {} MiB limit for one file; refused",
                size >> 20,
                MAX_ENTRY >> 20
            )));
        }
        // Names that are not UTF-8 and hidden files are passed over, as in a directory.
        let Some(rel) = rel else { continue };
        let kept = keep(&rel, &mut entry).map_err(broken)?;
        read.push(ArchiveFile {
            name: String::new(),
            path: rel,
            size,
            kept: RefCell::new(kept),
        });
    }

    let mut snap = Snapshot::default();
    let top = common_top(&read);
    let mut deep = BTreeSet::new();
    let mut files: Vec<ArchiveFile> = Vec::new();
    for mut f in read {
        let shown = match &top {
            Some(t) => f.path.strip_prefix(t).unwrap_or(&f.path).to_path_buf(),
            None => f.path.clone(),
        };
        let dirs: Vec<_> = shown.parent().into_iter().flat_map(Path::iter).collect();
        if dirs.len() > MAX_DEPTH {
            let at: PathBuf = dirs[..=MAX_DEPTH].iter().collect();
            deep.insert(at.display().to_string());
            continue;
        }
        f.name = shown.display().to_string();
        files.push(f);
    }
    for d in deep {
        snap.skipped.push(Skipped::new(
            d,
            format!("deeper than {MAX_DEPTH} directories; not read"),
        ));
    }
    // A directory is read in the order of its sorted paths; an archive in any order `tar` chose.
    files.sort_by(|a, b| Path::new(&a.name).cmp(Path::new(&b.name)));
    let mut sorted = Files::default();
    for f in files {
        sorted.add(Box::new(f));
    }
    source::read(&sorted, &mut snap, ready_logs_of);
    Ok(snap)
}

/// The path of an entry inside the archive: `None` when it is absolute or climbs out, `Some(None)`
/// when it is to be passed over (hidden, not UTF-8), `./` parts dropped.
fn inside(raw: &str) -> Option<Option<PathBuf>> {
    let mut out = PathBuf::new();
    let mut hidden = false;
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(part) => {
                let part = part.to_str()?;
                hidden |= part.starts_with('.');
                out.push(part);
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if raw.contains('\u{fffd}') || hidden || out.as_os_str().is_empty() {
        return Some(None);
    }
    Some(Some(out))
}

/// `tar czf bundle.tgz snapdir` puts every file under `snapdir/`: such a top directory is left out
/// of the names shown, so that a report names the files as the directory's report does.
fn common_top(files: &[ArchiveFile]) -> Option<PathBuf> {
    let first = files.first()?.path.components().next()?;
    let all = files
        .iter()
        .all(|f| f.path.components().count() > 1 && f.path.components().next() == Some(first));
    all.then(|| PathBuf::from(first.as_os_str()))
}

/// Reads one entry to its end, keeping what the parser will use.
fn keep(path: &Path, entry: &mut impl Read) -> io::Result<Kept> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".json") || lower.ends_with(".yaml") || lower.ends_with(".yml") {
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf)?;
        return Ok(Kept::Whole(buf));
    }
    if name == "logs.txt" {
        let (buf, _) = last_bytes(entry, MAX_DUMP_LOG_READ as usize)?;
        return Ok(Kept::DumpLogs(logs::parse_cluster_info_logs(&buf[..])?));
    }
    if lower.ends_with(".log") {
        // As a directory's log is read: its first bytes for the pods a signature names, and its
        // last bytes and one more, to know whether a line was cut.
        let mut head = Vec::new();
        entry
            .by_ref()
            .take(LOG_HEAD_BYTES as u64)
            .read_to_end(&mut head)?;
        let want = LOG_TAIL_BYTES + 1;
        let (rest, rest_cut) = last_bytes(entry, want)?;
        let whole = rest.is_empty() && !rest_cut;
        // The tail may reach back into the head when the rest is short.
        let from_head = want.saturating_sub(rest.len()).min(head.len());
        let mut tail = head[head.len() - from_head..].to_vec();
        tail.extend_from_slice(&rest);
        let cut = rest_cut || from_head < head.len();
        return Ok(Kept::Log {
            head,
            whole,
            tail,
            cut,
        });
    }
    io::copy(entry, &mut io::sink())?;
    Ok(Kept::Nothing)
}

/// The last `want` bytes of a stream, and whether there were more before them.
fn last_bytes(r: &mut impl Read, want: usize) -> io::Result<(Vec<u8>, bool)> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut dropped = false;
    loop {
        let n = r.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 2 * want {
            buf.drain(..buf.len() - want);
            dropped = true;
        }
    }
    if buf.len() > want {
        buf.drain(..buf.len() - want);
        dropped = true;
    }
    Ok((buf, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(
            inside("./pods.json"),
            Some(Some(PathBuf::from("pods.json")))
        );
        assert_eq!(
            inside("snap/logs/a/b/c.log"),
            Some(Some(PathBuf::from("snap/logs/a/b/c.log")))
        );
        assert_eq!(inside("../etc/passwd"), None);
        assert_eq!(inside("a/../../b.json"), None);
        assert_eq!(inside("/etc/passwd"), None);
        assert_eq!(inside(".git/config"), Some(None));
        assert_eq!(inside("./"), Some(None));
    }

    #[test]
    fn tails_keep_the_end() {
        let data = b"0123456789";
        assert_eq!(
            last_bytes(&mut &data[..], 4).unwrap(),
            (b"6789".to_vec(), true)
        );
        assert_eq!(
            last_bytes(&mut &data[..], 10).unwrap(),
            (data.to_vec(), false)
        );
    }
}
