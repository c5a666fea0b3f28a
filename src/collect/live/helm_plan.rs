//! Which helm release payloads to fetch. `helm list` reads every revision's payload (each up to
//! ~1 MiB of gzipped chart and values); the labels of a metadata-only list already give name,
//! revision and status, so only the revisions a rule looks inside are worth a request.

use std::collections::{BTreeMap, BTreeSet};

use crate::helm::{ReleaseRecord, Status};

/// Indices into `records` of the payloads to fetch: for each release its highest revision, its
/// newest deployed or superseded one (what `helm rollback` would go back to), and every failed or
/// pending one (their descriptions say why). A record whose status label is missing or unknown is
/// fetched too: only its payload can say what it is. `full_history` names a release whose every
/// revision is wanted (`release NAME` prints the whole history).
pub fn payloads_to_fetch(records: &[ReleaseRecord], full_history: Option<&str>) -> Vec<usize> {
    let mut by_release: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        by_release
            .entry((r.namespace.as_str(), r.name.as_str()))
            .or_default()
            .push(i);
    }
    let mut out = BTreeSet::new();
    for ((_, name), idx) in by_release {
        if full_history == Some(name) {
            out.extend(idx);
            continue;
        }
        let rev = |i: &usize| records[*i].revision;
        let status = |i: usize| {
            records[i]
                .label_status
                .as_deref()
                .map(Status::parse)
                .unwrap_or(Status::Unknown)
        };
        // Both drivers may hold the same revision (a cluster that switched HELM_DRIVER): fetch all
        // records of the wanted revision numbers.
        let mut wanted = BTreeSet::new();
        if let Some(max) = idx.iter().map(rev).max() {
            wanted.insert(max);
        }
        if let Some(good) = idx
            .iter()
            .filter(|i| status(**i).was_deployed())
            .map(rev)
            .max()
        {
            wanted.insert(good);
        }
        for &i in &idx {
            let s = status(i);
            if wanted.contains(&records[i].revision)
                || s.is_pending()
                || matches!(s, Status::Failed | Status::Unknown | Status::Other(_))
            {
                out.insert(i);
            }
        }
    }
    out.into_iter().collect()
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

    fn fetched(records: &[ReleaseRecord], full: Option<&str>) -> Vec<String> {
        payloads_to_fetch(records, full)
            .into_iter()
            .map(|i| format!("{}.v{}", records[i].name, records[i].revision))
            .collect()
    }

    #[test]
    fn long_healthy_history_costs_one_payload() {
        let mut records: Vec<_> = (1..=9)
            .map(|r| rec("bk-paas", r, Some("superseded")))
            .collect();
        records.push(rec("bk-paas", 10, Some("deployed")));
        assert_eq!(fetched(&records, None), ["bk-paas.v10"]);
    }

    #[test]
    fn stuck_upgrade_fetches_the_pending_and_the_rollback_target() {
        let records = vec![
            rec("bk-paas", 1, Some("superseded")),
            rec("bk-paas", 2, Some("superseded")),
            rec("bk-paas", 3, Some("deployed")),
            rec("bk-paas", 4, Some("failed")),
            rec("bk-paas", 5, Some("pending-upgrade")),
            rec("bk-cmdb", 1, None),
            rec("bk-cmdb", 2, Some("deployed")),
        ];
        assert_eq!(
            fetched(&records, None),
            [
                "bk-paas.v3",
                "bk-paas.v4",
                "bk-paas.v5",
                "bk-cmdb.v1",
                "bk-cmdb.v2"
            ]
        );
    }

    #[test]
    fn release_command_reads_its_whole_history() {
        let records = vec![
            rec("bk-paas", 1, Some("superseded")),
            rec("bk-paas", 2, Some("deployed")),
            rec("bk-cmdb", 1, Some("superseded")),
            rec("bk-cmdb", 2, Some("deployed")),
        ];
        assert_eq!(
            fetched(&records, Some("bk-paas")),
            ["bk-paas.v1", "bk-paas.v2", "bk-cmdb.v2"]
        );
    }
}
