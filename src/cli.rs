//! Command-line flags, spelled as kubectl spells them where kubectl has the same idea.

pub mod before_verb;

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
    after_help = "Examples:\n  kubectl bkdoctor check\n  kubectl bkdoctor release bk-paas -n blueking\n  kubectl bkdoctor snapshot ./bk-snapshot\n  kubectl bkdoctor check --snapshot ./cluster-dump\n\nExit status: 0 no findings at warning or above, 1 findings at warning or above, 2 could not run."
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
        after_help = "Examples:\n  kubectl bkdoctor check\n  kubectl bkdoctor check -n blueking -o json --context prod\n  kubectl bkdoctor check --snapshot ./cluster-dump"
    )]
    Check(CheckArgs),
    /// Run a short-lived pod on every node to test cluster DNS, the clock and IPv6 from the node itself
    #[command(
        after_help = "Examples:\n  kubectl bkdoctor probe\n  kubectl bkdoctor probe --probe-image registry.example.com/library/busybox:1.36\n  kubectl bkdoctor probe --probe-name bk-elastic-elasticsearch-master.blueking.svc.cluster.local\n  kubectl bkdoctor check --probe\n\nCreates one pod per node (labelled app.kubernetes.io/managed-by=kubectl-bkdoctor) and deletes each before it exits, also on timeout and Ctrl-C."
    )]
    Probe(ProbeCmdArgs),
    /// Decode one helm release's history and look for the known issues that concern it
    #[command(
        after_help = "Examples:\n  kubectl bkdoctor release bk-paas -n blueking\n  kubectl bkdoctor release bk-paas -n blueking --snapshot ./cluster-dump"
    )]
    Release(ReleaseArgs),
    /// Read a deployment's error output (helm, helmfile, the one-click script) and answer each error: what it means, what in the cluster causes it, the fix
    #[command(
        after_help = "Examples:\n  kubectl bkdoctor explain deploy.log\n  helmfile -f base-blueking.yaml.gotmpl sync 2>&1 | kubectl bkdoctor explain -\n  kubectl bkdoctor explain --error 'Error: UPGRADE FAILED: \"bk-paas\" has no deployed releases'\n  kubectl bkdoctor explain deploy.log --snapshot ./cluster-dump\n  kubectl bkdoctor explain deploy.log --no-cluster\n\nOnly the lines that show an error are repeated; nothing else of the input is printed."
    )]
    Explain(ExplainArgs),
    /// Follow a deployment as it runs: each release's progress, each finding the moment it appears (with its fix), when it clears
    #[command(
        after_help = "Examples:\n  kubectl bkdoctor watch -n blueking\n  kubectl bkdoctor watch --release bk-repo --timeout 15m\n  kubectl bkdoctor watch -- helmfile -f base-blueking.yaml.gotmpl sync\n  kubectl bkdoctor watch -o json -- ./bk_install blueking\n\nEnds when the releases it saw start have settled, at --timeout, on Ctrl-C, or when the command ends. Exit status as check's; the command's own when it failed and nothing was found."
    )]
    Watch(WatchArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell)
    #[command(after_help = crate::completion::EXAMPLES)]
    Completion(crate::completion::CompletionArgs),
    /// List the known issues the doctor looks for: id, severity, title, what it reads
    #[command(
        after_help = "Examples:\n  kubectl bkdoctor rules\n  kubectl bkdoctor rules -o json --rules ./my-signatures.yaml\n  kubectl bkdoctor rules -o markdown --lang zh > rules.zh.md"
    )]
    Rules(RulesArgs),
    /// Collect from the cluster into a snapshot directory that is safe to send to support
    #[command(
        after_help = "Examples:\n  kubectl bkdoctor snapshot ./bk-snapshot\n  kubectl bkdoctor check --snapshot ./bk-snapshot\n\nThe directory holds no Secret except helm release records, and those without values, manifests or notes; its README lists what was left out."
    )]
    Snapshot(SnapshotArgs),
}

#[derive(Debug, Args)]
pub struct ProbeCmdArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub probe: ProbeArgs,

    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// How the node probes run. Options rather than defaults in clap, so that `check` can tell
/// whether one was given without `--probe`.
#[derive(Debug, Args, Clone, Default)]
pub struct ProbeArgs {
    /// Namespace for the probe pods [default: default]
    #[arg(long, value_name = "NAMESPACE", value_parser = parse_namespace)]
    pub probe_namespace: Option<String>,

    /// Image of the probe pods: any with sh, nslookup, awk, timeout and date [default: busybox:1.36]; air-gapped sites pass their registry's copy
    #[arg(long, value_name = "IMAGE", value_parser = parse_image)]
    pub probe_image: Option<String>,

    /// Another name every node must resolve, e.g. bk-elastic-elasticsearch-master.blueking.svc.cluster.local (repeatable)
    #[arg(long = "probe-name", value_name = "FQDN", value_parser = parse_dns_name)]
    pub probe_names: Vec<String>,

    /// The cluster's DNS domain (kubelet's clusterDomain) [default: cluster.local]
    #[arg(long, value_name = "DOMAIN", value_parser = parse_dns_name)]
    pub cluster_domain: Option<String>,

    /// How long to wait for the probe pods to finish [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub probe_timeout: Option<Timeout>,
}

impl ProbeArgs {
    pub fn given(&self) -> bool {
        self.probe_namespace.is_some()
            || self.probe_image.is_some()
            || !self.probe_names.is_empty()
            || self.cluster_domain.is_some()
            || self.probe_timeout.is_some()
    }

    pub fn options(&self) -> crate::probe::Options {
        use crate::probe::{DEFAULT_DOMAIN, DEFAULT_IMAGE, DEFAULT_TIMEOUT};
        crate::probe::Options {
            namespace: self
                .probe_namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            image: self
                .probe_image
                .clone()
                .unwrap_or_else(|| DEFAULT_IMAGE.into()),
            cluster_domain: self
                .cluster_domain
                .clone()
                .unwrap_or_else(|| DEFAULT_DOMAIN.into()),
            names: self.probe_names.clone(),
            // "0" (no limit) would leave pods waiting forever on a node that never starts them.
            timeout: self
                .probe_timeout
                .and_then(|t| t.0)
                .unwrap_or(DEFAULT_TIMEOUT),
        }
    }
}

fn parse_namespace(s: &str) -> Result<String, String> {
    if crate::collect::live::api::is_namespace_name(s) {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a namespace name"))
    }
}

fn parse_image(s: &str) -> Result<String, String> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(format!("{s:?} is not an image reference"))
    } else {
        Ok(s.to_string())
    }
}

/// A DNS name as the probe script passes it to nslookup: lower-case letters, digits, `-` and `.`.
pub fn parse_dns_name(s: &str) -> Result<String, String> {
    let s = s.trim_end_matches('.').to_ascii_lowercase();
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(s)
    } else {
        Err(format!("{s:?} is not a DNS name"))
    }
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Directory to write (created; must be empty if it exists), or FILE.tar.gz (or .tgz) to write
    /// one compressed archive instead
    pub dir: PathBuf,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Only this namespace (cluster-scoped objects, such as nodes, are still collected)
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// All namespaces (the default)
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Also read the newest helm record of releases that look healthy (their chart versions, and
    /// whether the record still decodes); without it only troubled releases' records are read,
    /// which is what keeps a cluster with thousands of helm records fast
    #[arg(long)]
    pub all_releases: bool,
}

#[derive(Debug, Args)]
pub struct Source {
    /// Read a snapshot directory (kubectl get -o json|yaml files, pod logs), or its .tar.gz archive,
    /// instead of a live cluster
    #[arg(long, value_name = "DIR", conflicts_with_all = ["kubeconfig", "context"])]
    pub snapshot: Option<PathBuf>,

    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// How to reach a live cluster, with kubectl's flag names and defaults.
#[derive(Debug, Args, Clone, Default)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use [default: its current-context]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// How long to wait for each request to the API server ("30s", "1m", "0" = no limit)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub request_timeout: Timeout,

    /// Read lists from etcd, paged, as of one moment, instead of from the API server's watch cache
    /// (its cheapest read, possibly a moment behind)
    #[arg(long)]
    pub consistent_read: bool,

    // Takes an optional level so that kubectl's habitual `-v=6` is not a usage error.
    /// Print what the collection cost (requests, bytes, time) on stderr
    #[arg(short = 'v', long, value_name = "LEVEL", num_args = 0..=1, require_equals = true, default_missing_value = "1")]
    pub verbose: Option<u8>,
}

impl ClusterArgs {
    pub fn options(&self) -> crate::collect::live::connect::ClusterOptions {
        crate::collect::live::connect::ClusterOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            request_timeout: self.request_timeout.0,
            consistent_read: self.consistent_read,
        }
    }
}

/// A per-request limit; `None` is kubectl's "0": wait as long as it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<std::time::Duration>);

impl Default for Timeout {
    fn default() -> Self {
        Timeout(Some(std::time::Duration::from_secs(30)))
    }
}

/// kubectl's `--request-timeout`: a bare number is seconds, else a number with s, m or h (or
/// several: "1m30s").
pub fn parse_timeout(s: &str) -> Result<Timeout, String> {
    let s = s.trim();
    let bad = || format!("invalid duration {s:?}: use e.g. 30s, 2m, 1m30s or 0");
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Timeout((n > 0).then(|| std::time::Duration::from_secs(n))));
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut any = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                'h' => 3600.0,
                'm' => 60.0,
                's' => 1.0,
                _ => return Err(bad()),
            }
        };
        let n: f64 = num.parse().map_err(|_| bad())?;
        total += n * unit;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    Ok(Timeout(
        (total > 0.0).then(|| std::time::Duration::from_secs_f64(total)),
    ))
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

    /// Also read the newest helm record of releases that look healthy (their chart versions, and
    /// whether the record still decodes); without it only troubled releases' records are read,
    /// which is what keeps a cluster with thousands of helm records fast
    #[arg(long, conflicts_with = "snapshot")]
    pub all_releases: bool,

    /// Also run a short-lived pod on every node to test DNS, the clock and IPv6 from the node (creates and deletes pods)
    #[arg(long, conflicts_with = "snapshot")]
    pub probe: bool,

    #[command(flatten)]
    pub probe_args: ProbeArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The saved output, or - for standard input
    #[arg(
        value_name = "FILE",
        required_unless_present = "error",
        conflicts_with = "error"
    )]
    pub file: Option<PathBuf>,

    /// The error text itself instead of a file, e.g. 'Error: UPGRADE FAILED: "bk-paas" has no deployed releases'
    #[arg(long = "error", value_name = "TEXT")]
    pub error: Option<String>,

    #[command(flatten)]
    pub source: Source,

    /// Explain the text alone, without reading the cluster
    #[arg(long, conflicts_with_all = ["snapshot", "kubeconfig", "context", "namespace", "all_namespaces"])]
    pub no_cluster: bool,

    /// Only this namespace of the cluster (cluster-scoped findings, such as nodes, are still used)
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// All namespaces (the default)
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WatchFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Only this namespace
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// All namespaces (the default)
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// Only this release (repeatable)
    #[arg(long = "release", value_name = "NAME")]
    pub releases: Vec<String>,

    /// Give up after this long ("30m", "1h", "0" = no limit)
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_timeout)]
    pub timeout: Timeout,

    /// Output: a live log (table) or one JSON object per line (json)
    #[arg(short = 'o', long, value_enum, default_value_t = WatchFormat::Table)]
    pub output: WatchFormat,

    /// The deployment command to run while watching, after --
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl WatchArgs {
    pub fn options(&self, stdout_is_terminal: bool) -> crate::watch::Options {
        crate::watch::Options {
            cluster: self.cluster.options(),
            namespace: self.namespace.clone(),
            all_namespaces: self.all_namespaces,
            releases: self.releases.clone(),
            timeout: self.timeout.0,
            json: self.output == WatchFormat::Json,
            command: self.command.clone(),
            stdout_is_terminal,
        }
    }
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Helm release name, e.g. bk-paas
    pub name: String,

    #[command(flatten)]
    pub source: Source,

    /// Namespace of the release [default: live, the context's namespace; --snapshot, the one namespace that has it]
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
    fn probe_flags() {
        let cli = Cli::try_parse_from([
            "kubectl-bkdoctor",
            "check",
            "--probe",
            "--probe-name",
            "Bk-Elastic-Elasticsearch-Master.blueking.svc.cluster.local.",
            "--probe-timeout",
            "2m",
        ])
        .unwrap();
        let Command::Check(c) = cli.command else {
            unreachable!()
        };
        assert!(c.probe && c.probe_args.given());
        let o = c.probe_args.options();
        assert_eq!(o.namespace, "default");
        assert_eq!(o.image, "busybox:1.36");
        assert_eq!(o.timeout, std::time::Duration::from_secs(120));
        assert_eq!(
            o.names(),
            [
                "kubernetes.default.svc.cluster.local",
                "bk-elastic-elasticsearch-master.blueking.svc.cluster.local"
            ]
        );
        for bad in [
            vec!["probe", "--probe-name", "a b"],
            vec!["probe", "--probe-name", "$(reboot)"],
            vec!["probe", "--probe-namespace", "Kube_System"],
            vec!["probe", "--probe-image", "busybox; rm"],
            vec!["check", "--probe", "--snapshot", "/tmp/x"],
        ] {
            let mut argv = vec!["kubectl-bkdoctor"];
            argv.extend(bad.iter().copied());
            assert!(Cli::try_parse_from(&argv).is_err(), "{bad:?}");
        }
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

    #[test]
    fn request_timeout_as_kubectl_spells_it() {
        use std::time::Duration;
        let t = |s| parse_timeout(s).map(|t| t.0);
        assert_eq!(t("30s"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(t("45"), Ok(Some(Duration::from_secs(45))));
        assert_eq!(t("1m30s"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(t("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(t("1h"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(t("0"), Ok(None));
        assert!(t("soon").is_err());
        assert!(t("10x").is_err());
        assert!(t("s").is_err());
    }

    #[test]
    fn verbose_as_kubectl_users_type_it() {
        let v = |args: &[&str]| {
            let mut argv = vec!["kubectl-bkdoctor", "snapshot"];
            argv.extend(args);
            match Cli::try_parse_from(argv).map(|c| c.command) {
                Ok(Command::Snapshot(s)) => Ok((s.cluster.verbose, s.dir)),
                Ok(_) => unreachable!(),
                Err(e) => Err(e.kind()),
            }
        };
        assert_eq!(v(&["-v", "d"]), Ok((Some(1), "d".into())));
        assert_eq!(v(&["-v=6", "d"]), Ok((Some(6), "d".into())));
        assert_eq!(v(&["d"]), Ok((None, "d".into())));
    }

    #[test]
    fn live_flags_parse_on_every_command() {
        for cmd in [
            vec!["check"],
            vec!["release", "bk-paas"],
            vec!["snapshot", "/tmp/x"],
        ] {
            let mut argv = vec!["kubectl-bkdoctor"];
            argv.extend(cmd);
            argv.extend([
                "--kubeconfig",
                "/k",
                "--context",
                "c",
                "--request-timeout",
                "5s",
            ]);
            Cli::try_parse_from(argv).unwrap();
        }
    }
}
