use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use kubectl_bkdoctor::app::{self, EXIT_ERROR, Fatal};
use kubectl_bkdoctor::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
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
