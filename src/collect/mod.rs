//! Collectors fill a [`Snapshot`](crate::snapshot::Snapshot): from a snapshot directory ([`dir`]) or
//! archive ([`archive`]), both parsed by [`source`], or from a live cluster ([`live`]). They share
//! [`ingest`], so an object means the same wherever it came from.

pub mod archive;
pub mod dir;
pub mod ingest;
pub mod live;
pub mod logs;
pub mod source;

/// Reads an offline snapshot: a gzip-compressed tar archive, or else a directory.
pub fn load(path: &std::path::Path) -> Result<crate::snapshot::Snapshot, dir::LoadError> {
    load_reading(path, &[])
}

/// [`load`], reading also the start and end of the current logs of the ready pods `ready_logs_of`
/// names, as a live collection reads them.
pub fn load_reading(
    path: &std::path::Path,
    ready_logs_of: &[crate::snapshot::ready_logs::PodSelector],
) -> Result<crate::snapshot::Snapshot, dir::LoadError> {
    if archive::is_archive(path) || (archive::has_archive_name(path) && !path.is_dir()) {
        archive::load(path, ready_logs_of)
    } else {
        dir::load_reading(path, ready_logs_of)
    }
}
