//! Reading pod logs from files without ever reading a whole one: a crash-looping pod's log can be
//! gigabytes, and only its tail says why it crashed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::snapshot::ready_logs::{
    LOG_HEAD_BYTES, LOG_HEAD_LINES, READY_TAIL_BYTES, READY_TAIL_LINES,
};
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

/// The first lines of a log and its last ones, each within its bound (`ready_logs`), without the
/// lines both hold twice. `head` is the log's start, read up to [`LOG_HEAD_BYTES`]; `whole` says it
/// is the entire log (it stopped short of the bound), and then `tail` is not needed.
pub fn head_and_tail(head: &[u8], whole: bool, tail: &[u8], tail_cut_at_start: bool) -> String {
    let lines_of = |bytes: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| {
                let mut out = String::new();
                plain_text(l.strip_suffix('\r').unwrap_or(l), &mut out);
                out
            })
            .collect()
    };
    let (first, last) = if whole {
        let all = lines_of(head);
        if all.len() <= LOG_HEAD_LINES + READY_TAIL_LINES {
            return join(&all);
        }
        let last = all[all.len() - READY_TAIL_LINES..].to_vec();
        (all[..LOG_HEAD_LINES].to_vec(), last)
    } else {
        // The head's last line may be cut by the byte bound: a fragment is left out.
        let end = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut first = lines_of(&head[..end]);
        first.truncate(LOG_HEAD_LINES);
        let start = tail.len().saturating_sub(READY_TAIL_BYTES);
        let mut slice = &tail[start..];
        if (start > 0 || tail_cut_at_start)
            && let Some(nl) = slice.iter().position(|&b| b == b'\n')
        {
            slice = &slice[nl + 1..];
        }
        let mut last = lines_of(slice);
        last.drain(..last.len().saturating_sub(READY_TAIL_LINES));
        (first, last)
    };
    // A log a little longer than the head: its tail starts inside the head.
    let overlap = (0..=first.len().min(last.len()))
        .rev()
        .find(|&k| first[first.len() - k..] == last[..k])
        .unwrap_or(0);
    let mut all = first;
    all.extend_from_slice(&last[overlap..]);
    join(&all)
}

fn join(lines: &[String]) -> String {
    let mut out = String::new();
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// [`head_and_tail`] of a log file: at most [`LOG_HEAD_BYTES`] from its start and
/// [`READY_TAIL_BYTES`] from its end.
pub fn read_head_and_tail(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut head = Vec::new();
    (&mut f)
        .take(LOG_HEAD_BYTES as u64)
        .read_to_end(&mut head)?;
    let whole = len <= LOG_HEAD_BYTES as u64;
    if whole {
        return Ok(head_and_tail(&head, true, &[], false));
    }
    let want = READY_TAIL_BYTES as u64 + 1;
    let cut = len > want;
    f.seek(SeekFrom::Start(len.saturating_sub(want)))?;
    let mut tail = Vec::new();
    f.take(want).read_to_end(&mut tail)?;
    Ok(head_and_tail(&head, false, &tail, cut))
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

    #[test]
    fn head_and_tail_keep_the_start_up_error_and_the_end() {
        let mut log = String::from("ERROR Build esb jwt public key caught error!\n");
        for i in 0..5000 {
            log.push_str(&format!("GET /api {i} 200\n"));
        }
        let bytes = log.as_bytes();
        let head = &bytes[..LOG_HEAD_BYTES.min(bytes.len())];
        let t = head_and_tail(head, false, bytes, false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), LOG_HEAD_LINES + READY_TAIL_LINES);
        assert!(lines[0].contains("esb jwt"));
        assert_eq!(lines.last().copied(), Some("GET /api 4999 200"));
        // A short log is kept once, whole.
        let short = b"55 static files copied to '/app/staticfiles'.\nready\n";
        assert_eq!(
            head_and_tail(short, true, b"", false),
            String::from_utf8_lossy(short)
        );
        // A log just longer than the head: the tail overlaps it, no line comes twice.
        let lines: Vec<String> = (0..120).map(|i| format!("line {i}")).collect();
        let text = format!("{}\n", lines.join("\n"));
        let t = head_and_tail(&text.as_bytes()[..200], false, text.as_bytes(), false);
        assert_eq!(t.lines().count(), 120);
        // The file reader gives what the live reads give.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        std::fs::write(&p, &log).unwrap();
        let from_file = read_head_and_tail(&p).unwrap();
        assert_eq!(from_file, head_and_tail(head, false, bytes, false));
        std::fs::write(&p, &from_file).unwrap();
        assert_eq!(
            read_head_and_tail(&p).unwrap(),
            from_file,
            "reads back the same"
        );
    }
}
