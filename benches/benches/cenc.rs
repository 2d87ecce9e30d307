//! CENC packaging throughput on one core: real H.264 segments (the video of
//! `datasets/cache/abmark-720p-short.mp4`, copied into 2-s fragments by the FFmpeg CLI, no
//! re-encode) encrypted in memory with `cenc` and with `cbcs`, subsample maps, boxes and all.
//! The target is >= 1 GB/s of media per core with AES-NI.

use std::path::Path;
use std::process::Command;

use abmark_bmff::boxes::read_boxes;
use abmark_bmff::cmaf::header_len;
use abmark_cenc::{ContentKey, Kid, Scheme, SegmentEncryptor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const CLIP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/cache/abmark-720p-short.mp4");

/// The clip's video as a CMAF header and its media segments (moof + mdat each).
fn segments() -> (Vec<u8>, Vec<Vec<u8>>) {
    let dir = std::env::temp_dir().join(format!("abmark-cenc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("video.mp4");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", CLIP])
        .args(["-map", "0:v", "-c", "copy", "-frag_duration", "2000000"])
        .args(["-movflags", "+frag_keyframe+empty_moov+default_base_moof"])
        .arg(&file)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg could not fragment {CLIP} (run datasets/fetch.sh)");
    let bytes = std::fs::read(&file).expect("fragmented file");
    let _ = std::fs::remove_dir_all(Path::new(&dir));
    let head = header_len(&bytes);
    let mut segments = Vec::new();
    let mut start = head;
    for b in read_boxes(&bytes[head..]).expect("boxes") {
        let end = head + b.offset() as usize + b.size();
        if &b.kind().0 == b"mdat" {
            segments.push(bytes[start..end].to_vec());
            start = end;
        }
    }
    (bytes[..head].to_vec(), segments)
}

fn bench(c: &mut Criterion) {
    let (init, segments) = segments();
    let total: u64 = segments.iter().map(|s| s.len() as u64).sum();
    let mut group = c.benchmark_group("cenc-package-1-core");
    group.throughput(Throughput::Bytes(total));
    group.sample_size(20);
    for scheme in [Scheme::Cenc, Scheme::Cbcs] {
        let key = ContentKey::new(Kid::from_bytes([7; 16]), [9; 16], Some([3; 16]));
        let mut encryptor = SegmentEncryptor::new(&init, scheme, key).expect("encryptor");
        group.bench_function(
            format!("{scheme} ({:.1} MB of 720p H.264)", total as f64 / 1e6),
            |b| {
                b.iter(|| {
                    for s in &segments {
                        std::hint::black_box(encryptor.encrypt(s).expect("encrypt"));
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
