use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::FromArgMatches;
use kubectl_bkdoctor::app::{self, EXIT_ERROR, Fatal};
use kubectl_bkdoctor::cli::Cli;
use kubectl_bkdoctor::host::Host;

fn main() -> ExitCode {
    let matches = Host::from_env().command().get_matches();
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
    }
}
