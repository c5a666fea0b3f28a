//! Command-line flags, spelled as kubectl spells them where kubectl has the same idea.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use jiff::Timestamp;

use crate::i18n::Lang;
use crate::render::Format;

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-bkdoctor",
    version = crate::version::LONG,
    about = "Diagnose a BlueKing (蓝鲸) deployment on Kubernetes: known issues, evidence, and the exact command that fixes each",
    after_help = "Examples:\n  kubectl bkdoctor check --snapshot ./cluster-dump\n  kubectl bkdoctor release bk-paas -n blueking --snapshot ./cluster-dump\n\nExit status: 0 no findings at warning or above, 1 findings at warning or above, 2 could not run."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Language of the report [default: from LC_ALL / LC_MESSAGES / LANG]
    #[arg(long, global = true, value_enum)]
    pub lang: Option<Lang>,

    /// Measure ages against this time (RFC 3339) instead of the snapshot's own time
    #[arg(long, global = true, hide = true, value_name = "TIME")]
    pub now: Option<Timestamp>,

    /// Add log signatures from a YAML file in the catalog's format (repeatable)
    #[arg(long = "rules", global = true, value_name = "FILE")]
    pub rules_files: Vec<PathBuf>,

    /// Never colour the table (NO_COLOR=1 does the same); colour is only used on a terminal
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Set by main, not a flag: colour needs a terminal, and only main knows where stdout goes.
    #[arg(skip)]
    pub stdout_is_terminal: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Look for every known issue, in all namespaces or one
    #[command(
        after_help = "Examples:\n  kubectl bkdoctor check --snapshot ./cluster-dump\n  kubectl bkdoctor check --snapshot ./cluster-dump -n blueking -o json"
    )]
    Check(CheckArgs),
    /// Decode one helm release's history and look for the known issues that concern it
    #[command(
        after_help = "Examples:\n  kubectl bkdoctor release bk-paas -n blueking --snapshot ./cluster-dump"
    )]
    Release(ReleaseArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell)
    #[command(after_help = crate::completion::EXAMPLES)]
    Completion(crate::completion::CompletionArgs),
    /// List the known issues the doctor looks for: id, severity, title, what it reads
    #[command(
        after_help = "Examples:\n  kubectl bkdoctor rules\n  kubectl bkdoctor rules -o json --rules ./my-signatures.yaml"
    )]
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct Source {
    /// Read a snapshot directory (kubectl get -o json|yaml files, pod logs) instead of a live cluster
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: Source,

    /// Only this namespace (cluster-scoped findings, such as nodes, are still shown)
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// All namespaces (the default for check)
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Helm release name, e.g. bk-paas
    pub name: String,

    #[command(flatten)]
    pub source: Source,

    /// Namespace of the release [default: the one namespace that has it]
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rules_files_repeat() {
        let cli = Cli::try_parse_from([
            "kubectl-bkdoctor",
            "check",
            "--rules",
            "a.yaml",
            "--rules",
            "b.yaml",
        ])
        .unwrap();
        assert_eq!(
            cli.rules_files,
            vec![PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]
        );
    }

    #[test]
    fn namespace_and_all_namespaces_conflict() {
        let r = Cli::try_parse_from(["kubectl-bkdoctor", "check", "-n", "blueking", "-A"]);
        assert!(r.is_err());
    }
}
