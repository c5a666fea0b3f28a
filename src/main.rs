use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::FromArgMatches;
use kubectl_bkdoctor::app::{self, EXIT_ERROR, EXIT_INTERRUPTED, Fatal};
use kubectl_bkdoctor::cli::Cli;
use kubectl_bkdoctor::completion::dynamic;
use kubectl_bkdoctor::host::Host;

fn main() -> ExitCode {
    if let Some(code) = complete_for_kubectl_or_helm() {
        return code;
    }
    let argv = kubectl_bkdoctor::cli::before_verb::reorder(std::env::args_os().collect());
    let matches = Host::from_env().command().get_matches_from(argv);
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let stdout = io::stdout();
    cli.stdout_is_terminal = stdout.is_terminal();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = app::run(cli, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        // `kubectl bkdoctor check | head` closing the pipe is not an error.
        Err(Fatal::BrokenPipe) => ExitCode::SUCCESS,
        Err(Fatal::Msg(msg)) => {
            let _ = writeln!(io::stderr(), "error: {msg}");
            ExitCode::from(EXIT_ERROR)
        }
        Err(Fatal::Interrupted(msg)) => {
            let _ = writeln!(io::stderr(), "{msg}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
    }
}

/// kubectl runs `kubectl_complete-bkdoctor WORDS...` (a link to this binary) and helm's
/// `plugin.complete` runs `kubectl-bkdoctor __complete WORDS...`; both before clap, because the words
/// are half-typed command lines that would not parse.
fn complete_for_kubectl_or_helm() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    let invoked_as = std::path::Path::new(args.first()?)
        .file_name()?
        .to_string_lossy()
        .into_owned();
    let (host, words) = if invoked_as == dynamic::KUBECTL_COMPLETER {
        (Host::Kubectl, &args[1..])
    } else if args.get(1).map(String::as_str) == Some("__complete") {
        (Host::from_env(), &args[2..])
    } else {
        return None;
    };
    let mut out = io::stdout().lock();
    // A completion that cannot be written has nobody to tell.
    let moves = kubectl_bkdoctor::cli::before_verb::moves;
    let _ = dynamic::write(host.command(), moves, words, &mut out);
    Some(ExitCode::SUCCESS)
}
