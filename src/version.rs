//! What `--version` prints: a bug report has to name the exact build, so besides the crate version it
//! carries the git commit and the target triple (recorded by build.rs).

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("BKDOCTOR_GIT_COMMIT");
pub const TARGET: &str = env!("BKDOCTOR_TARGET");

/// `0.1.0 (commit 1a2b3c4d5e6f, x86_64-unknown-linux-gnu)`; clap puts the program name in front.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BKDOCTOR_GIT_COMMIT"),
    ", ",
    env!("BKDOCTOR_TARGET"),
    ")"
);
