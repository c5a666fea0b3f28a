//! What one error is: given the lines the parser gathered for it, which catalog entry's `output`
//! signature matches, which of its lines to show, the release the text names itself, and the key
//! identical errors are recognised by. It reads no input and keeps no state between errors: finding
//! the lines is [`super::lines`]' and [`super::parse`]'s job.

use std::sync::LazyLock;

use regex::Regex;

use crate::catalog::Catalog;

use super::lines::strip_error_prefix;

macro_rules! re {
    ($name:ident, $re:expr) => {
        pub(super) static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($re).unwrap());
    };
}

// Where an error names its release itself.
re!(
    NAMED,
    r#"(?:^|\s)(?:Release|Upgrade) "([^"]+)" failed: (.*)$"#
);
re!(
    ATOMIC,
    r"release ([A-Za-z0-9][-A-Za-z0-9_.]*) failed, and has been (?:uninstalled|rolled back) due to (?:atomic|rollback-on-failure) being set: "
);
re!(NO_DEPLOYED, r#""([^"]+)" has no deployed releases"#);
// The release an existing object must be handed to is the one being installed.
re!(
    OWNER,
    r#"meta\.helm\.sh/release-name"?:? must (?:be set to|equal) "([a-z0-9][-a-z0-9.]*)""#
);
re!(FAILED_PREFIX, r"^(?:(?:UPGRADE|INSTALLATION) FAILED: )+");

/// One error, classified.
pub(super) struct Classified {
    /// The catalog entry whose signature matches; `None` for an error no entry knows.
    pub rule: Option<String>,
    /// Index into the error's lines of the one to show: where the signature matched.
    pub shown: usize,
    /// The release the text names itself.
    pub release: Option<String>,
    pub key: String,
    /// The names the text gives ([`super::names`]).
    pub names: Vec<(String, String)>,
}

/// Classifies the lines of one error (numbered, cleaned); `None` when they hold no error after all
/// (`Error:` with nothing after it, or only helm's `exit status 1`).
pub(super) fn classify(catalog: &Catalog, lines: &[(usize, String)]) -> Option<Classified> {
    let first = strip_error_prefix(&lines.first()?.1);
    if first.trim() == "" || first.starts_with("exit status ") {
        return None;
    }
    let text = lines
        .iter()
        .map(|(_, l)| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let (rule, at) = match catalog.match_output(&text) {
        Some((entry, start)) => (Some(entry.id.clone()), start),
        None => (None, 0),
    };
    let mut offset = 0;
    let mut shown = 0;
    for (i, l) in lines.iter().enumerate() {
        if at < offset + l.1.len() + 1 {
            shown = i;
            break;
        }
        offset += l.1.len() + 1;
    }
    Some(Classified {
        rule,
        shown,
        release: named_in(&text),
        key: error_key(&text),
        names: super::names::names(&text),
    })
}

/// A release the error text names itself.
fn named_in(text: &str) -> Option<String> {
    [&*ATOMIC, &*NO_DEPLOYED, &*NAMED, &*OWNER]
        .iter()
        .find_map(|re| re.captures(text).map(|c| c[1].to_string()))
}

/// The same error whether helm wrapped it (`UPGRADE FAILED: `, the atomic rollback's sentence) or
/// helm's debug log and helmfile repeated it bare. Its first line is enough: helmfile's two copies
/// of helm's output may continue it differently (STDERR holds the whole message).
fn error_key(text: &str) -> String {
    let first = strip_error_prefix(text.lines().next().unwrap_or_default());
    let first = NAMED
        .captures(first)
        .and_then(|c| c.get(2))
        .map_or(first, |m| m.as_str());
    let first = FAILED_PREFIX.replace(first, "");
    ATOMIC.replace(&first, "").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<(usize, String)> {
        text.iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_string()))
            .collect()
    }

    #[test]
    fn the_shown_line_is_the_one_the_signature_matched() {
        let c = classify(
            &Catalog::builtin(),
            &lines(&[
                "Error: UPGRADE FAILED: execution error at (bcs-services-stack/charts/bcs-certs/templates/NOTES.txt:6:4): ",
                "PASSWORDS ERROR: You must provide your current passwords when upgrading the release.",
            ]),
        )
        .unwrap();
        assert_eq!(c.rule.as_deref(), Some("bcs-passwords-error"));
        assert_eq!(c.shown, 1);
    }

    #[test]
    fn the_same_error_wrapped_or_bare_has_one_key() {
        let catalog = Catalog::builtin();
        let key = |l: &str| classify(&catalog, &lines(&[l])).unwrap().key;
        assert_eq!(
            key(
                "Error: UPGRADE FAILED: release bk-repo failed, and has been rolled back due to atomic being set: timed out waiting for the condition"
            ),
            key("timed out waiting for the condition"),
        );
        assert!(classify(&catalog, &lines(&["Error: exit status 1"])).is_none());
    }
}
