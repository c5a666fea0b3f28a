//! What changed between two runs of the rules over the watched picture: a release whose new
//! revision started or settled, its workloads' readiness while helm waits, a finding that appeared
//! (once, with whether it will heal by itself) or cleared. Pure: it reads snapshots and findings,
//! prints nothing and makes no request.

use std::collections::{BTreeMap, BTreeSet};

use crate::findings::Finding;
use crate::helm::{Release, Status};
use crate::rules::image_pull_failed::Cause;
use crate::rules::{Ctx, release_link};
use crate::snapshot::{Snapshot, pod};

/// One thing that happened, in the order it is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Happening {
    /// `action`: install, upgrade, rollback or uninstall.
    Started {
        namespace: String,
        release: String,
        revision: u32,
        action: &'static str,
    },
    Progress {
        namespace: String,
        release: String,
        ready: usize,
        total: usize,
        /// Workloads not ready yet: name, ready, desired.
        waiting: Vec<(String, i32, i32)>,
    },
    Found {
        finding: Box<Finding>,
        fatal: bool,
    },
    Cleared {
        finding: Box<Finding>,
    },
    Settled {
        namespace: String,
        release: String,
        revision: u32,
        status: String,
    },
}

/// Workloads ready, of how many, and those not ready (name, ready, desired).
type Progress = (usize, usize, Vec<(String, i32, i32)>);

/// A finding is the same while its rule and object are.
type Key = (String, Option<String>, String);

fn key(f: &Finding) -> Key {
    (f.rule.clone(), f.namespace.clone(), f.object.clone())
}

#[derive(Default)]
pub struct Tracker {
    /// `--release` names; empty: every release.
    only: Vec<String>,
    findings: BTreeMap<Key, Finding>,
    /// (namespace, release) → (revision, status) at the last run.
    releases: BTreeMap<(String, String), (u32, String)>,
    progress: BTreeMap<(String, String), Progress>,
    /// Releases seen in progress during this watch.
    pub moved: BTreeSet<(String, String)>,
    started: bool,
}

fn action(s: &Status) -> Option<&'static str> {
    match s {
        Status::PendingInstall => Some("install"),
        Status::PendingUpgrade => Some("upgrade"),
        Status::PendingRollback => Some("rollback"),
        Status::Uninstalling => Some("uninstall"),
        _ => None,
    }
}

impl Tracker {
    pub fn new(only: Vec<String>) -> Tracker {
        Tracker {
            only,
            ..Tracker::default()
        }
    }

    fn watched(&self, release: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|r| r == release)
    }

    /// Whether a finding concerns the watched releases: about one of them, or about a pod, Job or
    /// claim one of them owns (helm names its objects after the release).
    fn concerns(&self, f: &Finding, snap: &Snapshot) -> bool {
        if self.only.is_empty() {
            return true;
        }
        let name = f
            .object
            .split_once('/')
            .map_or(f.object.as_str(), |(_, n)| n);
        let owned = |r: &String| name == r || name.starts_with(&format!("{r}-"));
        self.only.iter().any(owned)
            || f.covers.iter().any(|(ns, p)| {
                snap.pods.iter().any(|x| {
                    pod::namespace(x) == ns
                        && pod::name(x) == p
                        && pod::release(x).is_some_and(|r| self.watched(r))
                })
            })
    }

    /// What changed since the last call; `findings` are every rule's over `ctx.snap`.
    pub fn update(&mut self, ctx: &Ctx, findings: &[Finding]) -> Vec<Happening> {
        let mut out = Vec::new();
        let first = !self.started;
        self.started = true;
        for rel in &ctx.releases {
            if self.watched(&rel.name) {
                self.release(ctx, rel, findings, first, &mut out);
            }
        }
        // A revision seen to start during this watch is pending because it runs, not because a
        // killed helm left it so: not a finding while it is in progress.
        let running: Vec<String> = self
            .pending()
            .into_iter()
            .filter(|id| self.moved.contains(id))
            .map(|(_, r)| format!("release/{r}"))
            .collect();
        let now: BTreeMap<Key, &Finding> = findings
            .iter()
            .filter(|f| !(f.rule == "helm-operation-in-progress" && running.contains(&f.object)))
            .filter(|f| self.concerns(f, ctx.snap))
            .map(|f| (key(f), f))
            .collect();
        let gone: Vec<Key> = self
            .findings
            .keys()
            .filter(|k| !now.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(f) = self.findings.remove(&k) {
                out.push(Happening::Cleared {
                    finding: Box::new(f),
                });
            }
        }
        for (k, f) in now {
            if self.findings.contains_key(&k) {
                continue;
            }
            out.push(Happening::Found {
                finding: Box::new(f.clone()),
                fatal: fatal(f, ctx.snap),
            });
            self.findings.insert(k, f.clone());
        }
        out
    }

    fn release(
        &mut self,
        ctx: &Ctx,
        rel: &Release,
        findings: &[Finding],
        first: bool,
        out: &mut Vec<Happening>,
    ) {
        let id = (rel.namespace.clone(), rel.name.clone());
        let latest = rel.latest();
        let status = latest.status();
        let now = (latest.revision, status.as_str().to_string());
        let before = self.releases.insert(id.clone(), now.clone());
        let changed = before.as_ref() != Some(&now);
        let pending = action(&status);
        if let Some(action) = pending
            && changed
        {
            self.moved.insert(id.clone());
            out.push(Happening::Started {
                namespace: id.0.clone(),
                release: id.1.clone(),
                revision: latest.revision,
                action,
            });
        }
        if pending.is_some() {
            let workloads = release_link::workloads(ctx, &id.0, &id.1, findings);
            let total = workloads.len();
            let waiting: Vec<(String, i32, i32)> = workloads
                .iter()
                .filter(|w| w.ready < w.desired)
                .map(|w| (w.name.clone(), w.ready, w.desired))
                .collect();
            let line = (total - waiting.len(), total, waiting);
            if self.progress.get(&id) != Some(&line) && total > 0 {
                out.push(Happening::Progress {
                    namespace: id.0.clone(),
                    release: id.1.clone(),
                    ready: line.0,
                    total: line.1,
                    waiting: line.2.clone(),
                });
                self.progress.insert(id.clone(), line);
            }
        } else if changed && !first {
            self.progress.remove(&id);
            self.moved.insert(id.clone());
            out.push(Happening::Settled {
                namespace: id.0,
                release: id.1,
                revision: latest.revision,
                status: now.1,
            });
        }
    }

    /// The progress of each release in progress, as last told.
    pub fn progress_now(&self) -> Vec<Happening> {
        self.progress
            .iter()
            .map(|((ns, r), (ready, total, waiting))| Happening::Progress {
                namespace: ns.clone(),
                release: r.clone(),
                ready: *ready,
                total: *total,
                waiting: waiting.clone(),
            })
            .collect()
    }

    /// The releases watched that are still in progress.
    pub fn pending(&self) -> Vec<(String, String)> {
        self.releases
            .iter()
            .filter(|(_, (_, s))| s.starts_with("pending-") || s == "uninstalling")
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Whether the deployment watched is over: a release was seen in progress (each one asked
    /// for, with `--release`) and none is any more. A watch started before the deployment waits
    /// for it.
    pub fn settled(&self) -> bool {
        let seen = match self.only.is_empty() {
            true => !self.moved.is_empty(),
            false => self
                .only
                .iter()
                .all(|n| self.moved.iter().any(|(_, r)| r == n)),
        };
        seen && self.pending().is_empty()
    }

    /// Findings present now, in the order they were first seen by rule and object.
    pub fn present(&self) -> Vec<Finding> {
        let mut v: Vec<Finding> = self.findings.values().cloned().collect();
        crate::findings::sort(&mut v);
        v
    }
}

/// A blocker that will not heal by itself: waiting out helm's timeout changes nothing. An image
/// whose tag does not exist, a pod no node can take, a Secret or ConfigMap that is missing, a hook
/// Job that failed, a release helm already marked failed.
pub fn fatal(f: &Finding, snap: &Snapshot) -> bool {
    match f.rule.as_str() {
        "pod-unschedulable" | "container-config-error" | "job-failed" | "helm-release-failed" => {
            true
        }
        "volume-mount-failed" => f.evidence.iter().any(|e| e.contains("not found")),
        "image-pull-failed" => f.covers.iter().any(|(ns, name)| {
            snap.pods
                .iter()
                .filter(|p| pod::namespace(p) == ns && pod::name(p) == name)
                .flat_map(pod::container_statuses)
                .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
                .any(|w| {
                    let cause = Cause::of(
                        w.reason.as_deref().unwrap_or(""),
                        w.message.as_deref().unwrap_or(""),
                    );
                    matches!(cause, Cause::NotFound | Cause::InvalidName)
                })
        }),
        _ => false,
    }
}
