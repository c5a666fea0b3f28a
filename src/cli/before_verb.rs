//! kubectl's global flags where kubectl users put them: before the verb (`kubectl bkdoctor -n
//! blueking check`, `kubectl bkdoctor --context prod -v=6 check`). The command line is rewritten
//! so that those flags follow the verb, where the verb's own flags are defined and checked, before
//! clap parses it. It knows the flags' names and which take a value, nothing of what they mean; a
//! flag it does not know stops the rewriting, and clap then says what is wrong with it.

use std::ffi::OsString;

/// Flags that take a value, as kubectl and the verbs spell them.
const WITH_VALUE: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "--kubeconfig",
    "--request-timeout",
    "-o",
    "--output",
    "--lang",
    "--now",
    "--rules",
];

/// Flags that take none (`-v` and `--verbose` take an optional `=LEVEL`).
const WITHOUT_VALUE: &[&str] = &[
    "-A",
    "--all-namespaces",
    "--consistent-read",
    "--no-color",
    "-v",
    "--verbose",
];

/// Whether `name` (`-n`, `--context`, …) is a flag that may come before the verb.
pub fn moves(name: &str) -> bool {
    WITH_VALUE.contains(&name) || WITHOUT_VALUE.contains(&name)
}

/// `argv` with the known flags found before the verb moved right after it. Anything else (no
/// verb, an unknown flag, `--help`) is left as it was.
pub fn reorder(argv: Vec<OsString>) -> Vec<OsString> {
    let mut moved: Vec<OsString> = Vec::new();
    let mut i = 1;
    while let Some(arg) = argv.get(i).and_then(|a| a.to_str()) {
        if !arg.starts_with('-') || arg == "-" || arg == "--" {
            break;
        }
        let (name, attached) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (arg, None),
        };
        if WITHOUT_VALUE.contains(&name) {
            let next = argv.get(i + 1).and_then(|a| a.to_str());
            match (name, attached, next) {
                // kubectl's `-v 6`: the level as the next word.
                ("-v" | "--verbose", None, Some(n)) if n.parse::<u8>().is_ok() => {
                    moved.push(format!("{name}={n}").into());
                    i += 2;
                }
                _ => {
                    moved.push(arg.into());
                    i += 1;
                }
            }
            continue;
        }
        // `-nVALUE`, `-oVALUE` as kubectl's pflag takes them.
        let short_joined = (arg.len() > 2 && !arg.starts_with("--"))
            .then(|| arg.split_at(2))
            .filter(|(n, _)| WITH_VALUE.contains(n));
        match (WITH_VALUE.contains(&name), attached, short_joined) {
            (true, Some(v), _) => {
                moved.extend([name.into(), v.into()]);
                i += 1;
            }
            (true, None, _) => match argv.get(i + 1) {
                Some(v) => {
                    moved.extend([name.into(), v.clone()]);
                    i += 2;
                }
                None => return argv,
            },
            (false, _, Some((n, v))) => {
                moved.extend([n.into(), v.into()]);
                i += 1;
            }
            _ => return argv,
        }
    }
    if moved.is_empty() || i >= argv.len() {
        return argv;
    }
    let mut out = Vec::with_capacity(argv.len() + 1);
    out.push(argv[0].clone());
    out.push(argv[i].clone());
    out.extend(moved);
    out.extend(argv[i + 1..].iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(args: &[&str]) -> Vec<String> {
        let argv = std::iter::once("kubectl-bkdoctor")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        reorder(argv)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn kubectls_global_flags_move_after_the_verb() {
        assert_eq!(re(&["-v", "check"]), ["check", "-v"]);
        assert_eq!(re(&["-v", "6", "check"]), ["check", "-v=6"]);
        assert_eq!(re(&["-v=6", "check", "-A"]), ["check", "-v=6", "-A"]);
        assert_eq!(
            re(&["-n", "blueking", "release", "bk-paas"]),
            ["release", "-n", "blueking", "bk-paas"]
        );
        assert_eq!(
            re(&["--context=prod", "-nblueking", "-ojson", "check"]),
            ["check", "--context", "prod", "-n", "blueking", "-o", "json"]
        );
        assert_eq!(
            re(&[
                "--kubeconfig",
                "/k",
                "--request-timeout",
                "5s",
                "snapshot",
                "d"
            ]),
            [
                "snapshot",
                "--kubeconfig",
                "/k",
                "--request-timeout",
                "5s",
                "d"
            ]
        );
    }

    #[test]
    fn anything_else_is_left_for_clap_to_judge() {
        for args in [
            &["check", "-n", "x"][..],
            &["--frobnicate", "check"],
            &["-n"],
            &["-n", "x"],
            &["--help"],
            &["-v", "--bogus", "check"],
        ] {
            assert_eq!(re(args), args, "{args:?}");
        }
    }
}
