//! The ftpchat benchmark suite: `cargo bench` runs every workload, and
//! `cargo bench -- relay chat` only those named. BENCHMARKS.md explains the
//! method and records results.
//!
//! Everything runs on loopback with ports the OS picks, against the real
//! release binaries (`cargo bench` builds them), with standard-library code
//! only. Each workload runs several times and reports the median and the
//! range; where a baseline makes sense, the baseline runs side by side in
//! the same process, so a noisy machine affects both alike.

#![forbid(unsafe_code)]

#[path = "suite/chart.rs"]
mod chart;
#[path = "suite/chat.rs"]
mod chat;
#[path = "suite/checksum.rs"]
mod checksum;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "suite/peers.rs"]
mod peers;
#[path = "suite/report.rs"]
mod report;
#[path = "suite/resume.rs"]
mod resume;
#[path = "suite/system.rs"]
mod system;
#[path = "suite/transfer.rs"]
mod transfer;

use chat::{chat, idle, latency};
use checksum::checksum;
use report::Report;
use resume::resume;
use std::fs;
use std::thread;
use std::time::{Duration, Instant};
use transfer::{baseline_relay_process, chunk_size, fan_out, memory, relay};

/// Runs of each measurement; the table shows their median and range.
const RUNS: usize = 5;

/// The longest any single transfer or burst may take before the bench
/// gives up on it.
const WAIT: Duration = Duration::from_secs(300);

const MIB: u64 = 1024 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--baseline-relay") {
        baseline_relay_process(&args[1]);
        return;
    }
    // `cargo bench -- relay` passes "relay" (and "--bench"): pick workloads.
    let wanted: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let workloads: [(&str, Workload); 9] = [
        ("relay", relay),
        ("fan-out", fan_out),
        ("chat", chat),
        ("latency", latency),
        ("idle", idle),
        ("memory", memory),
        ("chunk-size", chunk_size),
        ("resume", resume),
        ("checksum", checksum),
    ];
    println!("ftpchat benchmarks: {RUNS} runs each, median [min-max]");
    println!("machine: {} cores, {}", cores(), cpu_model());
    let mut report = Report::default();
    for (name, workload) in workloads {
        if wanted.is_empty() || wanted.iter().any(|w| name.contains(w)) {
            println!("running {name} ...");
            let started = Instant::now();
            workload(&mut report);
            println!("  ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    report.print();
}

/// A workload: runs its measurements and adds them to the report.
type Workload = fn(&mut Report);

fn cores() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}
