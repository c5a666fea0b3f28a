//! `completion SHELL`: the completion script for the `kubectl-bkdoctor` binary, generated from the
//! same clap definition as the parser, so it can never offer a flag that does not exist.

use std::io::{self, Write};

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell as Generator;

use crate::cli::Cli;

pub const EXAMPLES: &str =
    "The script completes the kubectl-bkdoctor command: its subcommands, flags and their values.

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

pub fn write(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let generator = match shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
        Shell::Powershell => Generator::PowerShell,
    };
    clap_complete::generate(generator, &mut Cli::command(), BIN_NAME, out);
    Ok(())
}
