//! The content pipeline stage by stage, in MB/s on one core: FastCDC,
//! BLAKE3 (keyed), zstd level 1, AES-256-GCM, and all of them together.
//!
//! `cargo bench -p guss-storage --bench pipeline`
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use guss_storage::keys::{MasterKey, TenantKeys};
use guss_storage::{ChunkPolicy, chunks};

/// 8 MiB that compress like office documents: text with some variety.
fn office_like() -> Vec<u8> {
    let words = [
        "Vertrag",
        "Mandant",
        "Frist",
        "Rechnung",
        "Termin",
        "Anlage",
        "gemäß",
        "Schriftsatz",
        "vom",
        "und",
        "der",
        "die",
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(8 << 20);
    while out.len() < 8 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(words[(x % words.len() as u64) as usize].as_bytes());
        out.push(if x.is_multiple_of(11) { b'\n' } else { b' ' });
        if x.is_multiple_of(7) {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let data = office_like();
    let (keys, _) = TenantKeys::generate(&MasterKey::from_bytes([3; 32]), b"bench").unwrap();
    let pieces: Vec<&[u8]> = chunks(&data, ChunkPolicy::default()).collect();
    let mut group = c.benchmark_group("pipeline (8 MiB office-like data)");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    group.bench_function("fastcdc", |b| {
        b.iter(|| chunks(&data, ChunkPolicy::default()).count())
    });
    group.bench_function("blake3 keyed", |b| {
        b.iter(|| {
            pieces
                .iter()
                .map(|p| keys.chunk_id(p)[0])
                .fold(0u8, u8::wrapping_add)
        })
    });
    group.bench_function("zstd-1", |b| {
        b.iter(|| {
            pieces
                .iter()
                .map(|p| zstd::bulk::compress(p, 1).unwrap().len())
                .sum::<usize>()
        })
    });
    group.bench_function("full seal (chunk, id, compress, encrypt)", |b| {
        b.iter(|| {
            chunks(&data, ChunkPolicy::default())
                .map(|p| {
                    let id = keys.chunk_id(p);
                    keys.seal(&id, p).unwrap().len()
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
