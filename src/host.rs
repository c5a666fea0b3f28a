//! The one binary runs under two hosts: kubectl (installed by krew, or any `kubectl-bkdoctor` on
//! PATH) and helm (`helm plugin install`). Helm starts its plugins with `HELM_PLUGIN_NAME` set
//! (helm's `plugin.SetupPluginEnv`), so help and usage can say `helm bkdoctor`, the words the operator
//! typed.

use clap::{Command, CommandFactory};

use crate::cli::Cli;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Kubectl,
    Helm,
}

impl Host {
    pub fn detect(get: impl Fn(&str) -> Option<String>) -> Host {
        match get("HELM_PLUGIN_NAME") {
            Some(v) if !v.is_empty() => Host::Helm,
            _ => Host::Kubectl,
        }
    }

    pub fn from_env() -> Host {
        Host::detect(|k| std::env::var(k).ok())
    }

    /// The parser, with usage and examples in the host's words. kubectl starts a plugin by its file
    /// path, which is not what the operator typed either.
    pub fn command(self) -> Command {
        let cmd = Cli::command();
        match self {
            Host::Kubectl => cmd.bin_name("kubectl bkdoctor"),
            Host::Helm => in_helm_words(cmd.bin_name("helm bkdoctor")),
        }
    }
}

/// Examples are written for kubectl; under helm the same command line works with `helm bkdoctor`.
fn in_helm_words(mut cmd: Command) -> Command {
    let say = |s: String| s.replace("kubectl bkdoctor", "helm bkdoctor");
    if let Some(h) = cmd.get_after_help() {
        let h = say(h.to_string());
        cmd = cmd.after_help(h);
    }
    if let Some(h) = cmd.get_after_long_help() {
        let h = say(h.to_string());
        cmd = cmd.after_long_help(h);
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, in_helm_words);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help(host: Host, args: &[&str]) -> String {
        let err = host
            .command()
            .try_get_matches_from(args)
            .expect_err("--help stops parsing");
        err.render().to_string()
    }

    #[test]
    fn helm_sets_plugin_name() {
        assert_eq!(Host::detect(|_| None), Host::Kubectl);
        assert_eq!(
            Host::detect(|k| (k == "HELM_PLUGIN_NAME").then(|| "bkdoctor".into())),
            Host::Helm
        );
        assert_eq!(Host::detect(|_| Some(String::new())), Host::Kubectl);
    }

    #[test]
    fn helm_help_speaks_helm() {
        let h = help(Host::Helm, &["x", "check", "--help"]);
        assert!(h.contains("Usage: helm bkdoctor check"), "{h}");
        assert!(h.contains("helm bkdoctor check --snapshot"), "{h}");
        assert!(!h.contains("kubectl bkdoctor"), "{h}");
        let k = help(Host::Kubectl, &["x", "check", "--help"]);
        assert!(k.contains("Usage: kubectl bkdoctor check"), "{k}");
    }

    /// Every subcommand, including ones added later, shows how an operator runs it.
    #[test]
    fn every_subcommand_has_a_kubectl_style_example() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                after.contains(&format!("kubectl bkdoctor {}", sub.get_name())),
                "`{}` --help has no example like `kubectl bkdoctor {} ...`",
                sub.get_name(),
                sub.get_name()
            );
        }
    }
}
