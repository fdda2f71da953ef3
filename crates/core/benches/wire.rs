//! Wire codec microbenchmarks: encode and decode of typical and large messages, and the
//! hostile inputs decode must classify cheaply.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redchat_core::ConversationId;
use redchat_core::identity::{Claim, Identity};
use redchat_core::wire::{decode, encode, encode_chat};

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

/// The cost signatures add per message: sign (sender) and verify (each receiver), beside
/// the unsigned encode and decode they come with.
fn signatures(c: &mut Criterion) {
    let me = Identity::generate();
    let bob = ConversationId::parse("@bob").unwrap();
    let content = "@bob are we still on for the deploy at 3? I can take the rollback plan.";
    let claim = Claim {
        kind: "chat",
        sender: "alice",
        target: "@bob",
        content,
        id: "0b0e3c8e-8d0a-4c55-9a55-3f0b1f6e7d21",
        sent_at_micros: 1_764_633_600_000_000,
        key: me.public_key(),
    };
    let sig = me.sign(&claim);
    let mut group = c.benchmark_group("signature");
    group.bench_function("sign", |b| b.iter(|| me.sign(black_box(&claim))));
    group.bench_function("verify", |b| {
        b.iter(|| black_box(&claim).verify(black_box(&sig)))
    });
    group.bench_function("encode-unsigned", |b| {
        b.iter(|| encode_chat("alice", &bob, "bob", black_box(content), true, None).unwrap())
    });
    group.bench_function("encode-signed", |b| {
        b.iter(|| encode_chat("alice", &bob, "bob", black_box(content), true, Some(&me)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, codec, signatures);
criterion_main!(benches);
