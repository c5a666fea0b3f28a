//! `completion SHELL`: the completion script for the `kubectl-bkdoctor` binary, generated from the
//! same clap definition as the parser, so it can never offer a flag that does not exist. The
//! definition is handed in by the caller; this module imports nothing of the command line.

use std::io::{self, Write};

use clap::{Args, Command, ValueEnum};
use clap_complete::Shell as Generator;

pub const EXAMPLES: &str =
    "The script completes the kubectl-bkdoctor command: its subcommands, flags and their values.
`helm bkdoctor <TAB>` works through helm's own completion; `kubectl bkdoctor <TAB>` (kubectl 1.26+)
through a link named kubectl_complete-bkdoctor to this binary, next to it on PATH.

Examples:
  # bash: this shell, then every new one
  source <(kubectl bkdoctor completion bash)
  kubectl bkdoctor completion bash > /etc/bash_completion.d/kubectl-bkdoctor

  # zsh (with compinit)
  kubectl bkdoctor completion zsh > \"${fpath[1]}/_kubectl-bkdoctor\"

  # fish
  kubectl bkdoctor completion fish > ~/.config/fish/completions/kubectl-bkdoctor.fish

  # PowerShell
  kubectl bkdoctor completion powershell | Out-String | Invoke-Expression";

/// The shells operators use; clap_complete's own list also has elvish, which nobody asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The scripts complete the binary's own name: that is what a shell looks up. (`kubectl bkdoctor`
/// completion goes through kubectl's plugin completion, not through these scripts.)
pub const BIN_NAME: &str = "kubectl-bkdoctor";

/// `cmd` is the parser's definition (`Cli::command()`): given, not imported, so that the command
/// line can name this module's arguments without the two importing each other.
pub fn write(shell: Shell, mut cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    let generator = match shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
        Shell::Powershell => Generator::PowerShell,
    };
    clap_complete::generate(generator, &mut cmd, BIN_NAME, out);
    Ok(())
}

/// How kubectl (1.26+, through an executable `kubectl_complete-bkdoctor` on PATH) and helm (through
/// `plugin.complete` in the plugin directory) complete a plugin's words: they call it with the words
/// typed after the plugin name, the last one being the word under the cursor (maybe empty), and read
/// Cobra's `__complete` format back: one candidate per line, then `:DIRECTIVE`.
pub mod dynamic {
    use std::io::{self, Write};

    use clap::{Arg, ArgAction, Command, ValueHint};

    /// Cobra's ShellCompDirective bits.
    const NO_FILE_COMP: u32 = 4;
    const FILTER_DIRS: u32 = 16;

    /// What the binary answers when started under this name (a link to it, so one file serves).
    pub const KUBECTL_COMPLETER: &str = "kubectl_complete-bkdoctor";

    /// `moves` says which flags may come before the verb (the command line's own knowledge,
    /// handed in so that completion does not import it).
    pub fn write(
        mut cmd: Command,
        moves: fn(&str) -> bool,
        words: &[String],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        // build() propagates global flags (--lang, --no-color) into the subcommands.
        cmd.build();
        let (candidates, directive) = complete(&cmd, moves, words);
        for (word, help) in candidates {
            if help.is_empty() {
                writeln!(out, "{word}")?;
            } else {
                writeln!(out, "{word}\t{help}")?;
            }
        }
        writeln!(out, ":{directive}")
    }

    fn takes_value(arg: &Arg) -> bool {
        !matches!(
            arg.get_action(),
            ArgAction::SetTrue
                | ArgAction::SetFalse
                | ArgAction::Count
                | ArgAction::Help
                | ArgAction::HelpShort
                | ArgAction::HelpLong
                | ArgAction::Version
        )
    }

    fn find_flag<'a>(cmd: &'a Command, word: &str) -> Option<&'a Arg> {
        if let Some(long) = word.strip_prefix("--") {
            cmd.get_arguments().find(|a| {
                a.get_long() == Some(long)
                    || a.get_all_aliases().is_some_and(|al| al.contains(&long))
            })
        } else {
            let mut chars = word.strip_prefix('-')?.chars();
            let (c, None) = (chars.next()?, chars.next()) else {
                return None;
            };
            cmd.get_arguments().find(|a| a.get_short() == Some(c))
        }
    }

    fn values(arg: &Arg, prefix: &str, current: &str) -> (Vec<(String, String)>, u32) {
        let possible = arg.get_possible_values();
        if possible.is_empty() {
            // A path is left to the shell; anything else (a release name) has nothing to offer.
            // clap marks every PathBuf AnyPath; `--snapshot DIR` wants directories only.
            let dir = arg.get_value_names().is_some_and(|n| n == ["DIR"]);
            return match arg.get_value_hint() {
                ValueHint::DirPath => (Vec::new(), FILTER_DIRS),
                ValueHint::FilePath | ValueHint::AnyPath if dir => (Vec::new(), FILTER_DIRS),
                ValueHint::FilePath | ValueHint::AnyPath => (Vec::new(), 0),
                _ => (Vec::new(), NO_FILE_COMP),
            };
        }
        let list = possible
            .iter()
            .filter(|v| !v.is_hide_set() && v.get_name().starts_with(current))
            .map(|v| {
                (
                    format!("{prefix}{}", v.get_name()),
                    v.get_help().map(|h| h.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        (list, NO_FILE_COMP)
    }

    /// A flag typed before the verb, as `before_verb` moves it: defined on the verbs (`check`
    /// has them all), so completion looks there while no verb is typed yet.
    fn before_verb_flag<'a>(
        root: &'a Command,
        moves: fn(&str) -> bool,
        word: &str,
    ) -> Option<&'a Arg> {
        let name = word.split_once('=').map_or(word, |(n, _)| n);
        if !moves(name) {
            return None;
        }
        find_flag(root.find_subcommand("check")?, name)
    }

    fn complete(
        root: &Command,
        moves: fn(&str) -> bool,
        words: &[String],
    ) -> (Vec<(String, String)>, u32) {
        let (current, typed) = match words.split_last() {
            Some((last, rest)) => (last.as_str(), rest),
            None => ("", &[][..]),
        };
        let mut cmd = root;
        let mut pending: Option<&Arg> = None;
        for w in typed {
            if pending.take().is_some() {
                continue;
            }
            if w.starts_with('-') && w.len() > 1 {
                if !w.contains('=') {
                    let before_verb = || {
                        std::ptr::eq(cmd, root)
                            .then(|| before_verb_flag(root, moves, w))
                            .flatten()
                    };
                    pending = find_flag(cmd, w)
                        .or_else(before_verb)
                        .filter(|a| takes_value(a));
                }
            } else if let Some(sub) = cmd.find_subcommand(w) {
                cmd = sub;
            }
        }
        if let Some(arg) = pending {
            return values(arg, "", current);
        }
        if let Some((flag, value)) = current.split_once('=')
            && flag.starts_with("--")
        {
            let at_root = std::ptr::eq(cmd, root);
            let arg = find_flag(cmd, flag).or_else(|| {
                at_root
                    .then(|| before_verb_flag(root, moves, flag))
                    .flatten()
            });
            return match arg {
                Some(arg) if takes_value(arg) => values(arg, &format!("{flag}="), value),
                _ => (Vec::new(), NO_FILE_COMP),
            };
        }
        if current.starts_with('-') {
            let mut flags = Vec::new();
            for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                if let Some(l) = a.get_long() {
                    flags.push((format!("--{l}"), help.clone()));
                }
                if let Some(s) = a.get_short() {
                    flags.push((format!("-{s}"), help));
                }
            }
            // Before the verb, kubectl's global flags are offered too.
            if std::ptr::eq(cmd, root)
                && let Some(verb) = root.find_subcommand("check")
            {
                for a in verb.get_arguments().filter(|a| !a.is_hide_set()) {
                    let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                    let names = a.get_long().map(|l| format!("--{l}")).into_iter();
                    let names = names.chain(a.get_short().map(|c| format!("-{c}")));
                    for n in names {
                        let known = flags.iter().any(|(f, _)| *f == n);
                        if moves(&n) && !known {
                            flags.push((n, help.clone()));
                        }
                    }
                }
            }
            flags.retain(|(f, _)| f.starts_with(current));
            return (flags, NO_FILE_COMP);
        }
        let subs: Vec<_> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .filter(|s| s.get_name().starts_with(current))
            .map(|s| {
                (
                    s.get_name().to_string(),
                    s.get_about().map(|h| h.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        if !subs.is_empty() {
            return (subs, NO_FILE_COMP);
        }
        // A positional argument: shell choices (`completion SHELL`) or nothing.
        match cmd.get_positionals().next() {
            Some(arg) => values(arg, "", current),
            None => (Vec::new(), NO_FILE_COMP),
        }
    }

    #[cfg(test)]
    mod tests {
        use clap::CommandFactory;

        use crate::cli::Cli;

        fn ask(words: &[&str]) -> String {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            let mut out = Vec::new();
            super::write(
                Cli::command(),
                crate::cli::before_verb::moves,
                &words,
                &mut out,
            )
            .unwrap();
            String::from_utf8(out).unwrap()
        }

        fn words(answer: &str) -> Vec<&str> {
            answer
                .lines()
                .map(|l| l.split('\t').next().unwrap())
                .collect()
        }

        #[test]
        fn subcommands_then_flags_then_values() {
            let a = ask(&[""]);
            assert_eq!(
                words(&a),
                [
                    "check",
                    "probe",
                    "release",
                    "explain",
                    "watch",
                    "completion",
                    "rules",
                    "snapshot",
                    ":4"
                ],
                "{a}"
            );
            assert_eq!(words(&ask(&["ch"])), ["check", ":4"]);
            let flags = ask(&["check", "--o"]);
            assert_eq!(words(&flags), ["--output", ":4"], "{flags}");
            let globals = ask(&["check", "--l"]);
            assert_eq!(words(&globals), ["--lang", ":4"], "{globals}");
            assert_eq!(
                words(&ask(&["check", "-o", ""])),
                ["table", "json", "yaml", "markdown", "html", ":4"]
            );
            assert_eq!(
                words(&ask(&["check", "--output=ya"])),
                ["--output=yaml", ":4"]
            );
            assert_eq!(words(&ask(&["completion", "z"])), ["zsh", ":4"]);
        }

        #[test]
        fn flags_before_the_verb_complete_as_after_it() {
            assert_eq!(
                words(&ask(&["-o", ""])),
                ["table", "json", "yaml", "markdown", "html", ":4"]
            );
            assert_eq!(words(&ask(&["--output=js"])), ["--output=json", ":4"]);
            let after_namespace = ask(&["-n", "blueking", "ch"]);
            assert_eq!(words(&after_namespace), ["check", ":4"]);
            let before = ask(&["--con"]);
            assert_eq!(
                words(&before),
                ["--context", "--consistent-read", ":4"],
                "{before}"
            );
        }

        #[test]
        fn a_directory_is_left_to_the_shell() {
            assert_eq!(words(&ask(&["check", "--snapshot", ""])), [":16"]);
            // A flag's value is not taken for a subcommand.
            assert_eq!(
                words(&ask(&["--lang", "zh", "release", "bk-paas", "-o", "j"])),
                ["json", ":4"]
            );
        }
    }
}
