//! One file of a snapshot directory, or one page of a live list, loaded and then analysed by every
//! rule: a hostile object must not crash the loader or any rule. The first byte chooses JSON, YAML,
//! a cluster-info log file, or a live list page (items parsed straight into their types).
#![no_main]

use kubectl_bkdoctor::catalog::Catalog;
use kubectl_bkdoctor::collect::live::RESOURCES;
use kubectl_bkdoctor::collect::live::api::Page;
use kubectl_bkdoctor::collect::{dir, ingest::Ingest, logs};
use kubectl_bkdoctor::i18n::Lang;
use kubectl_bkdoctor::rules::{self, Ctx};
use kubectl_bkdoctor::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let mut snap = Snapshot::default();
    let values = match mode % 4 {
        0 => dir::parse_json(body),
        1 => dir::parse_yaml(body),
        2 => {
            let _ = logs::parse_cluster_info_logs(body);
            return;
        }
        _ => {
            let Ok(page) = serde_json::from_slice::<Page>(body) else { return };
            let kind = RESOURCES[usize::from((mode >> 2) & 0x1f) % RESOURCES.len()].kind;
            Ingest::new(mode & 0x80 != 0).add_page(&mut snap, kind, &page.items, "fuzz");
            Ok(Vec::new())
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
