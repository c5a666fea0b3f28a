//! `snapshot FILE.tar.gz`: the snapshot directory's files written as one gzip-compressed tar
//! archive instead, to attach to a ticket. Same names, same content, in the order written; read
//! back by [`crate::collect::archive`]. Only plain files, relative paths and no links are ever
//! written, so that the archive passes the reader's bounds and unpacks safely with `tar xzf`.
//! This module only writes bytes it is given; what goes into them is decided by `write`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

pub struct ArchiveOut {
    path: PathBuf,
    builder: Option<tar::Builder<GzEncoder<BufWriter<File>>>>,
    /// The entries' modification time: when the snapshot was collected.
    mtime: u64,
}

impl ArchiveOut {
    /// Creates the file; an existing one is never overwritten (it may be yesterday's bundle).
    pub fn create(path: &Path, mtime: u64) -> Result<ArchiveOut, String> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    format!("{} exists; give a new file name", path.display())
                }
                _ => format!("cannot create {}: {e}", path.display()),
            })?;
        let gz = GzEncoder::new(BufWriter::new(file), Compression::default());
        Ok(ArchiveOut {
            path: path.to_path_buf(),
            builder: Some(tar::Builder::new(gz)),
            mtime,
        })
    }

    pub fn file(&mut self, rel: &Path, bytes: &[u8]) -> Result<(), String> {
        let builder = self.builder.as_mut().expect("not finished");
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, rel, bytes)
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }

    /// Ends the archive and returns its size on disk.
    pub fn finish(mut self) -> Result<u64, String> {
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", self.path.display());
        let builder = self.builder.take().expect("finished once");
        let gz = builder.into_inner().map_err(fail)?;
        let mut buffered = gz.finish().map_err(fail)?;
        buffered.flush().map_err(fail)?;
        let file = buffered.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        Ok(file.metadata().map_err(fail)?.len())
    }

    /// Leaves no half-written archive behind after a failure.
    pub fn abandon(mut self) {
        self.builder.take();
        let _ = std::fs::remove_file(&self.path);
    }
}
