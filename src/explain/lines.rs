//! The forms an error line comes in, one line at a time: reading a line in bounded memory, cleaning
//! it to what the terminal showed (carriage returns, colour codes, timestamps), and telling which
//! form it has — helm's `Error:` and `--debug` lines, kubectl's `error:` and `Error from server`,
//! helmfile's blocks, tables and `failed processing release`, BlueKing's deployer and one-click
//! script. It keeps no state between lines and never decides what an error means: that is
//! [`super::classify`]'s job.

use std::io::{self, BufRead};
use std::sync::LazyLock;

use regex::Regex;

use crate::collect::logs::plain_text;

use super::parse::MAX_LINE_BYTES;

/// Reads one line into `buf` (without its `\n`), keeping at most [`MAX_LINE_BYTES`] of it; the rest
/// of a longer line is skipped without being stored. `None` at the end of the input; else whether
/// the line was cut.
pub(super) fn read_line(input: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    let mut cut = false;
    let mut any = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(cut));
        }
        any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(buf.len());
        if take > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        input.consume(if done { take + 1 } else { take });
        if done {
            return Ok(Some(cut));
        }
    }
}

static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    // 2026-11-20T08:55:00.123Z, [2026-11-20 08:55:00], 2026/11/20 08:55:00, 08:55:00.
    Regex::new(
        r"^\[?(?:\d{4}[-/]\d{2}[-/]\d{2}[T ])?\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?(?:\s+|$)",
    )
    .unwrap()
});

/// A line as the operator saw it on the terminal: what follows the last carriage return (a
/// progress line rewritten in place, or a CRLF end), colour codes dropped, a leading timestamp
/// removed. Indentation is kept: it tells which block a line belongs to.
pub(super) fn clean(raw: &str) -> String {
    let shown = raw
        .trim_end_matches('\r')
        .rsplit('\r')
        .next()
        .unwrap_or_default();
    let mut out = String::with_capacity(shown.len());
    plain_text(shown, &mut out);
    let indent = out.len() - out.trim_start().len();
    match TIMESTAMP.find(&out[indent..]) {
        Some(m) => format!("{}{}", &out[..indent], &out[indent + m.end()..]),
        None => out,
    }
}

macro_rules! re {
    ($name:ident, $re:expr) => {
        pub(super) static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($re).unwrap());
    };
}

// helm: `helm upgrade --install` says this before installing; its errors follow unprefixed.
re!(
    INSTALLING,
    r#"Release "([^"]+)" does not exist\. Installing it now\."#
);
re!(
    UPGRADED,
    r#"Release "([^"]+)" has been upgraded\. Happy Helming!"#
);
// helmfile
re!(UPGRADING, r"^Upgrading release=([^,\s]+)");
re!(
    PROCESSING,
    r"failed processing release ([A-Za-z0-9][-A-Za-z0-9_.]*):\s*(.*)$"
);
re!(
    WRAPPER,
    r#"^(?:command "[^"]*" exited with non-zero status:|helm exited with status \d+:?)\s*$"#
);
// Where an error starts.
re!(ERROR_START, r"^(?:Error|error|ERROR): ?(.*)$");
re!(SERVER_ERROR, r"^Error from server(?: \([A-Za-z]+\))?: ");
// Errors in other words: the API server's own (kubectl, a paste), helm's --debug log repeating the
// error (`helm.go:84: [debug] ...`; other `*.go:` debug lines are progress), BlueKing's SaaS
// deployer, a script's `[ERROR]`, helmfile's `in ./FILE: ...` for an error of the file itself.
re!(
    OTHER_START,
    r"^(?:Internal error occurred: |DeployError: |\[(?:ERROR|FATAL)\]\s*\S|helm\.go:\d+: \[debug\] \S|in \.{0,2}/[^\s:]+: \S)"
);
// Any of helm's --debug lines; only helm.go's is the error, the others tell progress.
re!(DEBUG_PREFIX, r"^[a-z_]+\.go:\d+: \[debug\] ");
// helmfile's `in ./FILE: 2 errors:` heads a numbered list; the errors are the `err N:` lines.
re!(ERRORS_HEADER, r"^in \S+: \d+ errors?:\s*$");
re!(RELEASE_NAME, r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$");

/// helmfile's report of a failed helm command: `PATH:`, `ARGS:` (the whole command line, values
/// passed with `--set` included), `ERROR:`, `EXIT STATUS`, `STDERR:`, `COMBINED OUTPUT:`, each
/// followed by lines indented by two spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Block {
    /// Never read: the command line can hold passwords, and holds no error.
    Args,
    Output,
}

pub(super) fn block_header(content: &str) -> Option<Block> {
    match content {
        "PATH:" | "ARGS:" | "EXIT STATUS" => Some(Block::Args),
        "STDERR:" | "COMBINED OUTPUT:" | "ERROR:" => Some(Block::Output),
        _ => None,
    }
}

/// Whether a line starts an error in a form other than `Error:` / `error:` / `ERROR:`.
pub(super) fn other_error_start(content: &str) -> bool {
    SERVER_ERROR.is_match(content)
        || (OTHER_START.is_match(content) && !ERRORS_HEADER.is_match(content))
}

/// A line of helm's --debug log other than the error itself.
pub(super) fn debug_progress(content: &str) -> bool {
    DEBUG_PREFIX.is_match(content) && !content.starts_with("helm.go:")
}

pub(super) fn strip_error_prefix(line: &str) -> &str {
    let line = DEBUG_PREFIX.find(line).map_or(line, |m| &line[m.end()..]);
    match ERROR_START.captures(line) {
        Some(c) => c.get(1).map_or("", |m| m.as_str()),
        None => line,
    }
}
