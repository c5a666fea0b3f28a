//! Properties of the log text the rules and reports see: whatever bytes a container wrote, the text
//! is bounded, holds no control character but tabs and line ends, and keeps a plain line intact
//! wherever colour codes, binary and CRLF surround it.

use kubectl_bkdoctor::collect::logs::tail_of;
use kubectl_bkdoctor::snapshot::{LOG_TAIL_BYTES, LOG_TAIL_LINES};
use proptest::prelude::*;

fn noise() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Anything at all.
        proptest::collection::vec(any::<u8>(), 0..512),
        // Terminal sequences, complete and cut off, mixed with text.
        proptest::collection::vec(
            prop_oneof![
                Just(b"\x1b[31m".to_vec()),
                Just(b"\x1b[0m".to_vec()),
                Just(b"\x1b[".to_vec()),
                Just(b"\x1b]0;title\x07".to_vec()),
                Just(b"\x1b]8;;http://x\x1b\\".to_vec()),
                Just(b"\x1b]".to_vec()),
                Just(b"\x1b".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(b"\0\xff\xfe".to_vec()),
                Just("日志".as_bytes().to_vec()),
                "[a-z ]{0,8}".prop_map(String::into_bytes),
            ],
            0..40,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #[test]
    fn any_bytes_give_bounded_printable_text(bytes in noise(), cut in any::<bool>()) {
        let text = tail_of(&bytes, cut);
        prop_assert!(text.lines().count() <= LOG_TAIL_LINES);
        // U+FFFD is three bytes where an invalid byte was one.
        prop_assert!(text.len() <= 3 * LOG_TAIL_BYTES + LOG_TAIL_LINES);
        prop_assert!(
            !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{text:?}"
        );
    }

    #[test]
    fn a_line_survives_whatever_precedes_it(before in noise(), line in "[a-zA-Z0-9:()\\[\\] ]{1,80}") {
        let mut bytes = before;
        // Whatever came before, a line starts after a line end.
        bytes.extend_from_slice(b"\r\n\x1b[1;31m");
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\x1b[0m\r\n");
        let text = tail_of(&bytes, false);
        prop_assert_eq!(text.lines().last(), Some(line.as_str()));
    }
}
