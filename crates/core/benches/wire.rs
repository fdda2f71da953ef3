//! Wire codec microbenchmarks: encode and decode of typical and large messages, and the
//! hostile inputs decode must classify cheaply.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redchat_core::wire::{decode, encode};

fn codec(c: &mut Criterion) {
    let typical = "@bob are we still on for the deploy at 3? I can take the rollback plan.";
    let large = format!("@bob {}", "lorem ipsum dolor sit amet ".repeat(150)); // ~4 KiB
    let original = br#"{"Id":0,"Sender":"alice","Content":"@bob hi there","ReceivedAt":"0001-01-01T00:00:00"}"#;
    let deep = "[".repeat(10_000);
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();

    let mut group = c.benchmark_group("encode");
    for (name, content) in [("typical", typical), ("4KiB", large.as_str())] {
        group.throughput(Throughput::Bytes(content.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| encode(black_box("alice"), "bob", "bob", black_box(content)).unwrap())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode");
    let (_, typical_payload) = encode("alice", "bob", "bob", typical).unwrap();
    let (_, large_payload) = encode("alice", "bob", "bob", &large).unwrap();
    let cases: [(&str, &[u8]); 5] = [
        ("typical", &typical_payload),
        ("4KiB", &large_payload),
        ("original-client", original),
        ("deep-nesting", deep.as_bytes()),
        ("binary-4KiB", &binary),
    ];
    for (name, payload) in cases {
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| decode(black_box("bob"), black_box(payload)))
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
