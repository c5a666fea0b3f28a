//! One file of a snapshot directory, loaded and then analysed by every rule: a hostile object must not
//! crash the loader or any rule. The first byte chooses JSON or YAML, the rest is the file.
#![no_main]

use kubectl_bkdoctor::catalog::Catalog;
use kubectl_bkdoctor::collect::{dir, ingest::Ingest, logs};
use kubectl_bkdoctor::i18n::Lang;
use kubectl_bkdoctor::rules::{self, Ctx};
use kubectl_bkdoctor::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let mut snap = Snapshot::default();
    let values = match mode % 3 {
        0 => dir::parse_json(body),
        1 => dir::parse_yaml(body),
        _ => {
            let _ = logs::parse_cluster_info_logs(body);
            return;
        }
    };
    let Ok(values) = values else { return };
    let mut ingest = Ingest::default();
    for v in values {
        ingest.add(&mut snap, v, "fuzz.json", None);
    }
    let catalog = Catalog::builtin();
    let now = jiff::Timestamp::from_second(1_795_000_000).unwrap();
    for lang in [Lang::En, Lang::Zh] {
        let ctx = Ctx::new(&snap, &catalog, lang, now);
        let _ = rules::run_all(&ctx);
    }
});
