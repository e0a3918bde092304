//! What the suite asks of the machine: scratch folders, test files, and a
//! process's memory and CPU time (from `/proc`).

use crate::common::Rng;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A fresh folder for one workload.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bench")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a file of `len` random bytes (random, so nothing on the way can
/// compress or skip it), and flushes it to disk, so that writing it back
/// does not compete with the measurements that follow.
pub fn random_file(path: &Path, len: u64) {
    let mut rng = Rng::new(len);
    let mut file = io::BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut written = 0;
    let mut block = vec![0u8; 1 << 20];
    while written < len {
        for word in block.chunks_exact_mut(8) {
            word.copy_from_slice(&rng.next().to_le_bytes());
        }
        let n = block.len().min((len - written) as usize);
        file.write_all(&block[..n]).unwrap();
        written += n as u64;
    }
    file.into_inner().unwrap().sync_all().unwrap();
}

/// Writes `len` bytes of zeros into a file in `dir` and deletes it, just
/// before a timed run: the run then finds `len` bytes of memory freed a
/// moment ago. On a virtual machine whose host takes back the memory a
/// guest leaves free for a few seconds (a balloon with free page
/// reporting, as on the machine in BENCHMARKS.md), memory not touched
/// lately costs a host fault per page the first time it is used again:
/// writing a fresh 1 GiB file took 2.4-3.2 s there, against 0.3 s right
/// after another. Warming before every run of every tool makes them all
/// start alike.
pub fn warm_memory(dir: &Path, len: u64) {
    let path = dir.join("warm-up.bin");
    let mut file = File::create(&path).unwrap();
    let block = vec![0u8; 1 << 20];
    let mut written = 0;
    while written < len {
        let n = block.len().min((len - written) as usize);
        file.write_all(&block[..n]).unwrap();
        written += n as u64;
    }
    drop(file);
    fs::remove_file(&path).unwrap();
}

/// Peak resident memory of a process so far, in KiB (`VmHWM`), or its
/// current resident memory (`VmRSS`).
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// CPU time a process has used so far, in seconds (user + system).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|t| t.parse::<f64>().ok()).sum()
    });
    ticks / 100.0 // USER_HZ is 100 on Linux
}

/// The soft limit on open files of this process.
pub fn open_file_limit() -> usize {
    fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))?
                .to_string();
            line.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(1024)
}
