//! Word wrapping of prose, by display width: Chinese characters take two columns and may break
//! anywhere, other text breaks at spaces. A word longer than a line (a long host name or log token)
//! is broken where the line ends, so that no line of prose is wider than the terminal. Commands are
//! never passed through here: they are printed whole.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Wraps `text` to `width` columns. Continuation lines start with `indent`, which counts toward the
/// width: "  " under a "- " bullet, "# " under a comment so that every line of it is still a comment.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_w = 0;
    let indent_w = indent.width();
    let room = width.saturating_sub(indent_w).max(1);
    for token in tokens(text).into_iter().flat_map(|t| pieces(t, room)) {
        let w = token.width();
        if token == " " {
            if line_w > 0 && line_w < width {
                line.push(' ');
                line_w += 1;
            }
            continue;
        }
        if line_w + w > width && line_w > indent_w {
            let done = std::mem::replace(&mut line, indent.to_string());
            lines.push(done.trim_end().to_string());
            line_w = indent_w;
        }
        line.push_str(token);
        line_w += w;
    }
    if line_w > 0 || lines.is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// `token` in pieces of at most `room` columns (one piece when it fits).
fn pieces(token: &str, room: usize) -> Vec<&str> {
    if token.width() <= room {
        return vec![token];
    }
    let mut out = Vec::new();
    let (mut start, mut w) = (0, 0);
    for (i, c) in token.char_indices() {
        let cw = c.width().unwrap_or(0);
        if w + cw > room && i > start {
            out.push(&token[start..i]);
            start = i;
            w = 0;
        }
        w += cw;
    }
    out.push(&token[start..]);
    out
}

/// Spaces, runs of non-wide characters, and single wide (CJK) characters.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        let wide = c.width().unwrap_or(0) >= 2;
        if c == ' ' || wide {
            if in_word {
                out.push(&text[start..i]);
                in_word = false;
            }
            out.push(&text[i..i + c.len_utf8()]);
        } else if !in_word {
            start = i;
            in_word = true;
        }
    }
    if in_word {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_breaks_at_spaces_and_breaks_words_longer_than_a_line() {
        let l = wrap(
            "- pod bk-elastic-0 could not resolve bk-elastic-elasticsearch-master.blueking.svc.cluster.local: oops",
            30,
            "  ",
        );
        assert_eq!(
            l,
            [
                "- pod bk-elastic-0 could not",
                "  resolve",
                "  bk-elastic-elasticsearch-mas",
                "  ter.blueking.svc.cluster.loc",
                "  al: oops"
            ]
        );
        assert!(l.iter().all(|l| l.width() <= 30));
    }

    #[test]
    fn chinese_breaks_between_characters() {
        let l = wrap("# 然后重新部署（helmfile sync 或一键脚本）", 16, "# ");
        assert!(l.iter().all(|l| l.width() <= 16), "{l:?}");
        assert!(l.iter().all(|l| l.starts_with("# ")), "{l:?}");
        let text: String = l
            .iter()
            .map(|l| &l[2..])
            .collect::<Vec<_>>()
            .join("")
            .replace(' ', "");
        assert_eq!(text, "然后重新部署（helmfilesync或一键脚本）");
    }

    #[test]
    fn short_text_is_one_line() {
        assert_eq!(
            wrap("helm history -n blueking bk-paas", 80, ""),
            ["helm history -n blueking bk-paas"]
        );
        assert_eq!(wrap("", 80, ""), [""]);
    }
}
