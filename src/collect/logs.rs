//! Reading pod logs from files without ever reading a whole one: a crash-looping pod's log can be
//! gigabytes, and only its tail says why it crashed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::snapshot::{LOG_TAIL_BYTES, LOG_TAIL_LINES};

/// Keeps the last lines of a text, within both bounds. Invalid UTF-8 becomes U+FFFD and CRLF line
/// ends are accepted, since logs come from any program.
pub fn tail_of(bytes: &[u8], cut_at_start: bool) -> String {
    let start = bytes.len().saturating_sub(LOG_TAIL_BYTES);
    let mut slice = &bytes[start..];
    // A cut in the middle of a line leaves a fragment that could match a signature out of context.
    if (start > 0 || cut_at_start)
        && let Some(nl) = slice.iter().position(|&b| b == b'\n')
    {
        slice = &slice[nl + 1..];
    }
    let text = String::from_utf8_lossy(slice);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(LOG_TAIL_LINES);
    let mut out = String::new();
    for l in &lines[from..] {
        plain_text(l.strip_suffix('\r').unwrap_or(l), &mut out);
        out.push('\n');
    }
    out
}

/// Appends a log line as plain text. Programs colour their logs (`ESC[31mERROR ESC[0m`): the codes
/// are dropped, so that signatures match the words and a report in a terminal or a ticket shows
/// them. Any other control character (NUL, BEL, a stray ESC, a title-setting OSC) becomes U+FFFD
/// like invalid UTF-8 does: a log must not be able to drive the terminal that reads the report.
pub fn plain_text(line: &str, out: &mut String) {
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' if chars.peek() == Some(&'[') => {
                // CSI: parameter and intermediate bytes, then one final byte in @..~ (ECMA-48 5.4).
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\u{1b}' if chars.peek() == Some(&']') => {
                // OSC: up to BEL or ESC \\ (ST).
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// The bounded tail of a log file: reads at most `LOG_TAIL_BYTES` from its end.
pub fn read_tail(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let want = LOG_TAIL_BYTES as u64 + 1;
    let cut = len > want;
    if cut {
        f.seek(SeekFrom::Start(len - want))?;
    }
    let mut buf = Vec::with_capacity(want.min(len) as usize);
    f.take(want).read_to_end(&mut buf)?;
    Ok(tail_of(&buf, cut))
}

/// `kubectl cluster-info dump` writes every container's current log into one `<ns>/<pod>/logs.txt`
/// between `==== START logs for container C of pod NS/POD ====` and the matching END line. Only the
/// last part of a very large file is read; sections cut off at its start are not used.
pub const MAX_DUMP_LOG_READ: u64 = 64 * 1024 * 1024;

pub type DumpLogs = BTreeMap<(String, String, String), String>;

pub fn read_cluster_info_logs(path: &Path) -> io::Result<DumpLogs> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len > MAX_DUMP_LOG_READ {
        f.seek(SeekFrom::Start(len - MAX_DUMP_LOG_READ))?;
    }
    parse_cluster_info_logs(BufReader::new(f.take(MAX_DUMP_LOG_READ)))
}

pub fn parse_cluster_info_logs(mut r: impl BufRead) -> io::Result<DumpLogs> {
    let mut out = DumpLogs::new();
    let mut current: Option<((String, String, String), Vec<u8>)> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let trimmed = text.trim_end();
        if let Some(key) = marker(trimmed, "==== START logs for container ") {
            current = Some((key, Vec::new()));
            continue;
        }
        if marker(trimmed, "==== END logs for container ").is_some() {
            if let Some((key, body)) = current.take() {
                out.insert(key, tail_of(&body, false));
            }
            continue;
        }
        if let Some((_, body)) = current.as_mut() {
            body.extend_from_slice(&line);
            // Keep memory bounded on a huge section: only the tail is ever used.
            if body.len() > 4 * LOG_TAIL_BYTES {
                let drop = body.len() - 2 * LOG_TAIL_BYTES;
                body.drain(..drop);
            }
        }
    }
    // A section without its END line (a truncated dump) still counts.
    if let Some((key, body)) = current {
        out.insert(key, tail_of(&body, false));
    }
    Ok(out)
}

/// Parses `<prefix>C of pod NS/POD ====` into (NS, POD, C).
fn marker(line: &str, prefix: &str) -> Option<(String, String, String)> {
    let rest = line.strip_prefix(prefix)?.strip_suffix(" ====")?;
    let (container, pod) = rest.split_once(" of pod ")?;
    let (ns, pod) = pod.split_once('/')?;
    Some((ns.to_string(), pod.to_string(), container.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines_and_handles_crlf_and_binary() {
        let mut log = Vec::new();
        for i in 0..500 {
            log.extend_from_slice(format!("line {i}\r\n").as_bytes());
        }
        log.extend_from_slice(b"bad \xff\xfe bytes\n");
        let t = tail_of(&log, false);
        assert_eq!(t.lines().count(), LOG_TAIL_LINES);
        assert!(t.starts_with("line 301\n"));
        assert!(t.ends_with("bad \u{fffd}\u{fffd} bytes\n"));
        assert!(!t.contains('\r'));
    }

    #[test]
    fn colour_codes_are_dropped_and_other_controls_made_visible() {
        let log = b"\x1b[1;31mERROR\x1b[0m socket() failed\r\n\x1b]0;pwned\x07title \x1b]8;;http://x\x1b\\link\n\0nul\tbell\x07 \x1bc\x7f end\n";
        assert_eq!(
            tail_of(log, false),
            "ERROR socket() failed\ntitle link\n\u{fffd}nul\tbell\u{fffd} \u{fffd}c\u{fffd} end\n"
        );
        // A sequence cut off by the end of the line ends there.
        assert_eq!(tail_of(b"a\x1b[31\nb\x1b]0;x\n", false), "a\nb\n");
    }

    #[test]
    fn read_tail_reads_only_the_end_of_a_big_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let mut body = "x".repeat(LOG_TAIL_BYTES * 3);
        body.push_str("\nnginx: [emerg] the last line\n");
        std::fs::write(&p, body).unwrap();
        let t = read_tail(&p).unwrap();
        assert_eq!(t, "nginx: [emerg] the last line\n");
    }

    #[test]
    fn cluster_info_sections() {
        let dump = "==== START logs for container consul of pod blueking/bk-consul-0 ====\n\
            ==> No private IPv4 address found\n\
            ==== END logs for container consul of pod blueking/bk-consul-0 ====\n\
            ==== START logs for container init of pod blueking/bk-consul-0 ====\n\
            ok\n";
        let logs = parse_cluster_info_logs(dump.as_bytes()).unwrap();
        let k = |c: &str| {
            (
                "blueking".to_string(),
                "bk-consul-0".to_string(),
                c.to_string(),
            )
        };
        assert_eq!(logs[&k("consul")], "==> No private IPv4 address found\n");
        assert_eq!(logs[&k("init")], "ok\n");
    }
}
