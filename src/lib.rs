//! kubectl-bkdoctor: collect → snapshot → rules → findings → render.

pub mod app;
pub mod catalog;
pub mod cli;
pub mod collect;
pub mod completion;
pub mod explain;
pub mod findings;
pub mod format;
pub mod helm;
pub mod host;
pub mod i18n;
pub mod probe;
pub mod render;
pub mod rules;
pub mod snapshot;
pub mod version;
pub mod watch;
