//! Which helm release payloads to fetch. `helm list` reads every revision's payload (each up to
//! ~1 MiB of gzipped chart and values); the labels of a metadata-only list already give name,
//! revision and status of every revision, which is all the helm rules need of a release whose
//! newest revision is `deployed`. So only releases in trouble, and the few a rule reads by name,
//! cost a payload: on the benchmark's cluster of 1,000 releases, 239 payloads instead of 1,110,
//! and 3.4 % instead of 12 % of the bytes `helm list` reads (BENCHMARKS.md). [`fetches`] then
//! turns them into a few label-selected lists instead of a request each.

use std::collections::{BTreeMap, BTreeSet};

use crate::helm::{Driver, ReleaseRecord, Status};

/// What beyond the troubled releases is wanted.
#[derive(Debug, Default, Clone)]
pub struct Want<'a> {
    /// A release whose every revision is wanted (`release NAME` prints the whole history).
    pub full_history: Option<&'a str>,
    /// Read healthy releases too (`--all-releases`): their chart versions, and whether their
    /// newest record still decodes.
    pub every_release: bool,
    /// Release names a rule reads the chart version of even when healthy, in any namespace
    /// ([`Scope::read_by_name`](super::Scope::read_by_name)).
    pub names: &'a [&'a str],
    /// (namespace, release) of releases that own a pod in trouble: rules look at their chart
    /// (redis-cluster-stale-data) and say what they run.
    pub owners: BTreeSet<(String, String)>,
}

/// Indices into `records` of the payloads to fetch. Runs before any payload is read, so a record's
/// status is its label's. For a release in trouble (its newest revision
/// is not `deployed`, or a record's status label is missing or unknown) and for a wanted one: its
/// newest revision, its newest deployed or superseded one (what `helm rollback` goes back to) and
/// every record whose status only its payload can tell. Older failed or pending revisions are
/// history: no rule reads their descriptions, and `release NAME` fetches them all anyway.
pub fn payloads_to_fetch(records: &[ReleaseRecord], want: &Want) -> Vec<usize> {
    let mut by_release: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        by_release
            .entry((r.namespace.as_str(), r.name.as_str()))
            .or_default()
            .push(i);
    }
    let mut out = BTreeSet::new();
    for ((ns, name), idx) in by_release {
        if want.full_history == Some(name) {
            out.extend(idx);
            continue;
        }
        let rev = |i: &usize| records[*i].revision;
        let Some(newest) = idx.iter().map(rev).max() else {
            continue;
        };
        let unknown = |i: usize| matches!(records[i].status(), Status::Unknown | Status::Other(_));
        // Both drivers may hold the same revision (a cluster that switched HELM_DRIVER): every
        // record of the newest revision must say deployed.
        let healthy = idx
            .iter()
            .filter(|i| rev(i) == newest)
            .all(|&i| records[i].status() == Status::Deployed)
            && !idx.iter().any(|&i| unknown(i));
        let wanted = want.every_release
            || want.names.contains(&name)
            || want.owners.contains(&(ns.to_string(), name.to_string()));
        if healthy && !wanted {
            continue;
        }
        let mut revisions = BTreeSet::from([newest]);
        if let Some(good) = idx
            .iter()
            .filter(|i| records[**i].status().was_deployed())
            .map(rev)
            .max()
        {
            revisions.insert(good);
        }
        out.extend(
            idx.iter()
                .copied()
                .filter(|&i| revisions.contains(&records[i].revision) || unknown(i)),
        );
    }
    out.into_iter().collect()
}

/// Payloads per label-selected list: a list arrives whole before any of it is decoded, so this
/// bounds what one request holds in memory (16 payloads of BlueKing's size are a few MiB) while
/// the needs of a big cluster still take a handful of requests.
pub const PAYLOADS_PER_LIST: usize = 16;

/// One request for payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// A label-selected list of storage objects (`namespace` `None`: cluster-wide) for the
    /// records `wants` (indices); what else it returns is dropped.
    List {
        driver: Driver,
        namespace: Option<String>,
        selector: String,
        wants: Vec<usize>,
    },
    /// One object by name: a record no label selects exactly enough.
    Get(usize),
}

/// The requests that fetch the payloads of `plan` (indices into `records`): per driver, scope and
/// status label, one list of `owner=helm,status=S,name in (...)` per [`PAYLOADS_PER_LIST`]
/// releases. A list also returns the other records of those releases with that status (a
/// release's older failures, its superseded revisions): worked out here from the labels, and
/// records whose list would bring more than a tenth of extra payloads in all are fetched by name
/// instead, so the bytes read stay those of the plan. Records without a status label are fetched
/// by name. `cluster_wide`: lists span every namespace (as the metadata lists did).
pub fn fetches(records: &[ReleaseRecord], plan: &[usize], cluster_wide: bool) -> Vec<Fetch> {
    type Group = (Driver, Option<String>, String);
    let scope = |r: &ReleaseRecord| (!cluster_wide).then(|| r.namespace.clone());
    let mut groups: BTreeMap<Group, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
    let mut out = Vec::new();
    for &i in plan {
        let r = &records[i];
        match &r.label_status {
            Some(s) if is_label_value(s) && is_label_value(&r.name) => groups
                .entry((r.driver, scope(r), s.clone()))
                .or_default()
                .entry(r.name.clone())
                .or_default()
                .push(i),
            _ => out.push(Fetch::Get(i)),
        }
    }
    // What each (group, release) would bring that is not wanted.
    let mut extra: Vec<(usize, Group, String)> = Vec::new();
    for (key, names) in &groups {
        for (name, wants) in names {
            let selected = records
                .iter()
                .filter(|r| {
                    r.driver == key.0
                        && scope(r) == key.1
                        && r.label_status.as_deref() == Some(key.2.as_str())
                        && r.name == *name
                })
                .count();
            if selected > wants.len() {
                extra.push((selected - wants.len(), key.clone(), name.clone()));
            }
        }
    }
    let budget = plan.len() / 10;
    let mut total: usize = extra.iter().map(|e| e.0).sum();
    extra.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (n, key, name) in extra {
        if total <= budget {
            break;
        }
        if let Some(wants) = groups.get_mut(&key).and_then(|g| g.remove(&name)) {
            out.extend(wants.into_iter().map(Fetch::Get));
            total -= n;
        }
    }
    for ((driver, namespace, status), names) in groups {
        let names: Vec<(String, Vec<usize>)> = names.into_iter().collect();
        for chunk in names.chunks(PAYLOADS_PER_LIST) {
            let listed: Vec<&str> = chunk.iter().map(|(n, _)| n.as_str()).collect();
            let name = match listed.as_slice() {
                [one] => format!("name={one}"),
                many => format!("name in ({})", many.join(",")),
            };
            let mut wants: Vec<usize> = chunk.iter().flat_map(|(_, w)| w.iter().copied()).collect();
            wants.sort_unstable();
            out.push(Fetch::List {
                driver,
                namespace: namespace.clone(),
                selector: format!("owner=helm,status={status},{name}"),
                wants,
            });
        }
    }
    out
}

/// A label value a selector can name: helm's own statuses and release names always are.
fn is_label_value(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helm::{Driver, Payload};

    fn rec(name: &str, revision: u32, status: Option<&str>) -> ReleaseRecord {
        ReleaseRecord {
            driver: Driver::Secret,
            object_name: format!("sh.helm.release.v1.{name}.v{revision}"),
            namespace: "blueking".into(),
            name: name.into(),
            revision,
            label_status: status.map(str::to_string),
            created_at: None,
            modified_at: None,
            payload: Payload::NotLoaded,
        }
    }

    fn fetched(records: &[ReleaseRecord], want: &Want) -> Vec<String> {
        payloads_to_fetch(records, want)
            .into_iter()
            .map(|i| format!("{}.v{}", records[i].name, records[i].revision))
            .collect()
    }

    fn history(name: &str, statuses: &[&str]) -> Vec<ReleaseRecord> {
        statuses
            .iter()
            .enumerate()
            .map(|(i, s)| rec(name, i as u32 + 1, Some(s)))
            .collect()
    }

    #[test]
    fn healthy_releases_cost_nothing_even_with_an_old_failure() {
        let mut records = history("bk-paas", &["superseded"; 9]);
        records.push(rec("bk-paas", 10, Some("deployed")));
        records.extend(history("bk-cmdb", &["superseded", "failed", "deployed"]));
        assert!(fetched(&records, &Want::default()).is_empty());
        let every = Want {
            every_release: true,
            ..Want::default()
        };
        assert_eq!(fetched(&records, &every), ["bk-paas.v10", "bk-cmdb.v3"]);
    }

    #[test]
    fn stuck_upgrade_fetches_the_newest_and_the_rollback_target_only() {
        let mut records = history(
            "bk-paas",
            &[
                "superseded",
                "superseded",
                "deployed",
                "failed",
                "pending-upgrade",
            ],
        );
        records.extend([rec("bk-cmdb", 1, None), rec("bk-cmdb", 2, Some("deployed"))]);
        records.extend(history("bk-job", &["failed", "failed", "failed"]));
        assert_eq!(
            fetched(&records, &Want::default()),
            [
                "bk-paas.v3",
                "bk-paas.v5",
                "bk-cmdb.v1",
                "bk-cmdb.v2",
                "bk-job.v3"
            ]
        );
    }

    #[test]
    fn rules_and_troubled_pods_ask_for_healthy_releases_by_name() {
        let mut records = history("bk-apigateway", &["superseded", "deployed"]);
        records.extend(history("bk-redis", &["superseded", "deployed"]));
        records.extend(history("bk-paas", &["deployed"]));
        let want = Want {
            names: &["bk-apigateway", "bcs-services-stack"],
            owners: BTreeSet::from([("blueking".into(), "bk-redis".into())]),
            ..Want::default()
        };
        assert_eq!(
            fetched(&records, &want),
            ["bk-apigateway.v2", "bk-redis.v2"]
        );
    }

    #[test]
    fn both_drivers_holding_the_newest_revision_must_agree() {
        let mut records = history("bk-paas", &["superseded", "deployed"]);
        let mut cm = rec("bk-paas", 2, Some("failed"));
        cm.driver = Driver::ConfigMap;
        records.push(cm);
        assert_eq!(
            fetched(&records, &Want::default()),
            ["bk-paas.v2", "bk-paas.v2"]
        );
    }

    #[test]
    fn release_command_reads_its_whole_history() {
        let records = [
            history("bk-paas", &["superseded", "deployed"]),
            history("bk-cmdb", &["superseded", "failed"]),
        ]
        .concat();
        let want = Want {
            full_history: Some("bk-paas"),
            ..Want::default()
        };
        assert_eq!(
            fetched(&records, &want),
            ["bk-paas.v1", "bk-paas.v2", "bk-cmdb.v1", "bk-cmdb.v2"]
        );
    }

    fn lists(fetches: &[Fetch]) -> Vec<(Option<&str>, &str, Vec<usize>)> {
        fetches
            .iter()
            .filter_map(|f| match f {
                Fetch::List {
                    namespace,
                    selector,
                    wants,
                    ..
                } => Some((namespace.as_deref(), selector.as_str(), wants.clone())),
                Fetch::Get(_) => None,
            })
            .collect()
    }

    fn gets(fetches: &[Fetch]) -> Vec<usize> {
        fetches
            .iter()
            .filter_map(|f| match f {
                Fetch::Get(i) => Some(*i),
                Fetch::List { .. } => None,
            })
            .collect()
    }

    #[test]
    fn payloads_come_in_one_list_per_status() {
        let mut records = history("bk-paas", &["superseded", "deployed", "pending-upgrade"]);
        records.extend(history("bk-job", &["superseded", "deployed", "failed"]));
        records.extend(history("bk-redis", &["superseded", "deployed"]));
        let want = Want {
            owners: BTreeSet::from([("blueking".into(), "bk-redis".into())]),
            ..Want::default()
        };
        let plan = payloads_to_fetch(&records, &want);
        assert_eq!(plan.len(), 5);
        let f = fetches(&records, &plan, true);
        assert!(gets(&f).is_empty(), "{f:?}");
        assert_eq!(
            lists(&f),
            [
                (
                    None,
                    "owner=helm,status=deployed,name in (bk-job,bk-paas,bk-redis)",
                    vec![1, 4, 7]
                ),
                (None, "owner=helm,status=failed,name=bk-job", vec![5]),
                (
                    None,
                    "owner=helm,status=pending-upgrade,name=bk-paas",
                    vec![2]
                ),
            ]
        );
        // Scoped to one namespace, the lists are that namespace's.
        let f = fetches(&records, &plan, false);
        assert!(lists(&f).iter().all(|(ns, _, _)| *ns == Some("blueking")));
    }

    #[test]
    fn a_list_that_would_bring_many_unwanted_payloads_becomes_gets() {
        // The rollback target is superseded (the deployed one was rolled over by a failure that
        // left no deployed revision): a list by status would bring all eight superseded ones.
        let mut records = history("bk-cmdb", &["superseded"; 8]);
        records.push(rec("bk-cmdb", 9, Some("failed")));
        let plan = payloads_to_fetch(&records, &Want::default());
        let f = fetches(&records, &plan, true);
        assert_eq!(gets(&f), [7]);
        assert_eq!(
            lists(&f),
            [(None, "owner=helm,status=failed,name=bk-cmdb", vec![8])]
        );
        // An old failure of a troubled release comes along with its newest one: fine in a big
        // plan (under a tenth extra), fetched by name in a small one.
        let mut records = history("bk-job", &["failed", "deployed", "failed"]);
        for i in 0..20 {
            records.extend(history(&format!("bk-app-{i}"), &["deployed", "failed"]));
        }
        let plan = payloads_to_fetch(&records, &Want::default());
        let f = fetches(&records, &plan, true);
        assert!(gets(&f).is_empty(), "{f:?}");
        let plan = payloads_to_fetch(&records[..3], &Want::default());
        assert_eq!(gets(&fetches(&records[..3], &plan, true)), [2]);
    }

    #[test]
    fn records_without_a_status_label_are_fetched_by_name_and_lists_are_bounded() {
        let mut records = vec![rec("bk-cmdb", 1, None), rec("bk-cmdb", 2, Some("failed"))];
        for i in 0..40 {
            records.push(rec(&format!("bk-app-{i:02}"), 1, Some("pending-install")));
        }
        let plan = payloads_to_fetch(&records, &Want::default());
        let f = fetches(&records, &plan, true);
        assert_eq!(gets(&f), [0]);
        let pending: Vec<_> = lists(&f)
            .into_iter()
            .filter(|(_, s, _)| s.contains("pending-install"))
            .collect();
        assert_eq!(
            pending.len(),
            3,
            "40 releases in lists of {PAYLOADS_PER_LIST}"
        );
        assert!(pending.iter().all(|(_, _, w)| w.len() <= PAYLOADS_PER_LIST));
    }
}
