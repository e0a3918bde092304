//! The checksum workload: `Cksum::update` on 1 MiB buffers, against a
//! slicing-by-16 CRC (the usual table-driven CRC, and what `Cksum` ran
//! before it used lanes and then folding), kept here as the baseline and
//! run side by side in the same process. Each sums 300 MiB as one file: one
//! running sum fed the same 1 MiB buffer again and again.

use crate::RUNS;
use crate::report::{Report, Stats};
use ftpchat::checksum::Cksum;
use std::hint::black_box;
use std::time::Instant;

/// Passes over the buffer per measurement.
const PASSES: usize = 300;

pub fn checksum(report: &mut Report) {
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let (mut ours, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        // As a file is summed: one running sum, fed 1 MiB at a time.
        ours.push(gigabytes_per_second(&data, || {
            let mut sum = Cksum::new();
            (0..PASSES).for_each(|_| sum.update(black_box(&data)));
            sum.finish()
        }));
        baseline.push(gigabytes_per_second(&data, || {
            (0..PASSES).fold(0, |crc, _| slicing_by_16(crc, black_box(&data)))
        }));
    }
    let ratio = Stats::of(&ours).median / Stats::of(&baseline).median;
    report.add(
        "checksum",
        "slicing-by-16 (the baseline), GB/s",
        &baseline,
        String::new(),
    );
    report.add(
        "checksum",
        "Cksum::update, folding, GB/s",
        &ours,
        format!("ratio {ratio:.2} (target >= 2)"),
    );
}

/// How fast `sum` goes through `PASSES` times `data`, in GB/s.
fn gigabytes_per_second(data: &[u8], sum: impl Fn() -> u32) -> f64 {
    let started = Instant::now();
    black_box(sum());
    (PASSES * data.len()) as f64 / started.elapsed().as_secs_f64() / 1e9
}

/// The CRC-32 of `cksum` (before its length and inversion), by
/// slicing-by-16: what `Cksum` did before it folded and ran lanes.
fn slicing_by_16(mut crc: u32, data: &[u8]) -> u32 {
    let t = &*TABLES_16;
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let word =
            |i: usize| u32::from_be_bytes([block[i], block[i + 1], block[i + 2], block[i + 3]]);
        let a = crc ^ word(0);
        let (b, c, d) = (word(4), word(8), word(12));
        crc = t[15][(a >> 24) as usize]
            ^ t[14][(a >> 16 & 0xff) as usize]
            ^ t[13][(a >> 8 & 0xff) as usize]
            ^ t[12][(a & 0xff) as usize]
            ^ t[11][(b >> 24) as usize]
            ^ t[10][(b >> 16 & 0xff) as usize]
            ^ t[9][(b >> 8 & 0xff) as usize]
            ^ t[8][(b & 0xff) as usize]
            ^ t[7][(c >> 24) as usize]
            ^ t[6][(c >> 16 & 0xff) as usize]
            ^ t[5][(c >> 8 & 0xff) as usize]
            ^ t[4][(c & 0xff) as usize]
            ^ t[3][(d >> 24) as usize]
            ^ t[2][(d >> 16 & 0xff) as usize]
            ^ t[1][(d >> 8 & 0xff) as usize]
            ^ t[0][(d & 0xff) as usize];
    }
    for &byte in blocks.remainder() {
        crc = (crc << 8) ^ t[0][((crc >> 24) as u8 ^ byte) as usize];
    }
    crc
}

/// The 16 tables of slicing-by-16, built once.
static TABLES_16: std::sync::LazyLock<[[u32; 256]; 16]> = std::sync::LazyLock::new(|| {
    let mut tables = [[0u32; 256]; 16];
    for (byte, entry) in tables[0].iter_mut().enumerate() {
        let mut crc = (byte as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
        *entry = crc;
    }
    for k in 1..16 {
        let (done, rest) = tables.split_at_mut(k);
        for (byte, entry) in rest[0].iter_mut().enumerate() {
            let previous = done[k - 1][byte];
            *entry = (previous << 8) ^ done[0][(previous >> 24) as usize];
        }
    }
    tables
});
