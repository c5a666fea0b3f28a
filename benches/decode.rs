//! Release decoding throughput against its physical limit, a plain gunzip of the same bytes.
//! `cargo bench --bench decode`. Payloads are shaped like BlueKing releases: 50–200 KiB gzipped, with
//! incompressible parts (base64 of binary chart files) as real charts have.

use std::hint::black_box;
use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kubectl_bkdoctor::helm::decode;

/// A release JSON of about `kib` KiB before compression, a quarter of it incompressible.
fn release(kib: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut noise = vec![0u8; kib * 1024 / 4];
    for b in &mut noise {
        // xorshift: cheap, deterministic, incompressible enough
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bk-paas-apiserver\n"
        .repeat(kib * 1024 / 2 / 70);
    serde_json::json!({
        "name": "bk-paas",
        "info": {"first_deployed": "2026-11-20T08:00:00Z", "last_deployed": "2026-11-20T09:00:00Z",
                 "description": "Upgrade complete", "status": "deployed"},
        "chart": {"metadata": {"name": "bk-paas", "version": "1.4.2", "appVersion": "1.4.2"},
                  "files": [{"name": "files/logo.png", "data": STANDARD.encode(&noise)}]},
        "config": {},
        "manifest": manifest,
        "version": 2,
        "namespace": "blueking",
    })
    .to_string()
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    for kib in [200usize, 800] {
        let json = release(kib, kib as u64);
        let stored = decode::encode(&json);
        let gz = STANDARD.decode(&stored).unwrap();
        let mut g = c.benchmark_group(format!("release_{}KiB_gzipped", gz.len() / 1024));
        g.throughput(Throughput::Bytes(json.len() as u64));
        g.bench_function("decode (base64+gunzip+json)", |b| {
            b.iter(|| decode::decode(black_box(stored.as_bytes())).unwrap())
        });
        g.bench_function("gunzip only", |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(json.len());
                flate2::read::GzDecoder::new(black_box(&gz[..]))
                    .read_to_end(&mut out)
                    .unwrap();
                out
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
