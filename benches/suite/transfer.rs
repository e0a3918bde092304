//! File workloads: one file relayed to one or eight receivers, the same
//! through a plain two-hop relay as the baseline, memory for a small and a
//! huge file, and throughput by chunk size.

use crate::chart::chunk_size_chart;
use crate::common::{ClientProcess, ServerProcess};
use crate::peers::{installed, ncat_broker, socat_relay};
use crate::report::{Report, Stats, megabytes_per_second};
use crate::system::{memory_kib, random_file, scratch, warm_memory};
use crate::{MIB, RUNS, WAIT};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What one ftpchat transfer measured.
pub struct Run {
    /// Seconds from typing `transfer` to the last receiver's file being
    /// complete, verified and saved.
    pub secs: f64,
    /// Peak memory (KiB) of the server, the sender and the first receiver.
    pub peaks: [u64; 3],
    /// Seconds from the first receiver's last byte written to its file
    /// being saved (synced and published), if the watcher saw the moment.
    pub saving: Option<f64>,
}

/// One ftpchat transfer of `file` from a sender to `receivers` clients
/// through a fresh server. With `warm`, memory is warmed for the files
/// received just before the clock starts (see [`warm_memory`]).
pub fn ftpchat_transfer(
    dir: &Path,
    file: &Path,
    receivers: usize,
    chunk: Option<usize>,
    save_in: &Path,
    warm: bool,
) -> Run {
    let server = ServerProcess::start(dir);
    let mut clients: Vec<ClientProcess> = (0..receivers)
        .map(|i| {
            let home = save_in.join(format!("r{i}"));
            let _ = fs::remove_dir_all(&home);
            fs::create_dir_all(&home).unwrap();
            let nick = format!("r{i}");
            let home_arg = home.to_string_lossy().into_owned();
            let mut client =
                ClientProcess::start(dir, server.addr(), &["--nick", &nick, "--dir", &home_arg]);
            client.stdout.expect("online:");
            client
        })
        .collect();
    let chunk_arg = chunk.map(|c| c.to_string());
    let mut args = vec!["--nick", "sender"];
    if let Some(chunk) = &chunk_arg {
        args.extend(["--chunk-size", chunk.as_str()]);
    }
    let folder = file.parent().unwrap();
    let mut sender = ClientProcess::start(folder, server.addr(), &args);
    sender.stdout.until_within("online:", WAIT);
    for client in &mut clients {
        client.stdout.until_within("sender joined", WAIT);
    }
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let expected = fs::metadata(file).unwrap().len();
    if warm {
        warm_memory(save_in, expected * receivers as u64);
    }
    let written = last_byte_written(&save_in.join("r0"), &name, expected);
    let started = Instant::now();
    sender.send(&format!("transfer {name}"));
    let mut saved = None;
    for client in &mut clients {
        client
            .stdout
            .until_within(&format!("* received {name}"), WAIT);
        saved.get_or_insert_with(Instant::now);
    }
    let secs = started.elapsed().as_secs_f64();
    let saving = (written.join().unwrap())
        .zip(saved)
        .map(|(written, saved)| saved.saturating_duration_since(written).as_secs_f64());
    sender.stdout.until_within("* sent", WAIT);
    let peaks = [
        memory_kib(server.pid(), "VmHWM"),
        memory_kib(sender.pid(), "VmHWM"),
        memory_kib(clients[0].pid(), "VmHWM"),
    ];
    for i in 0..receivers {
        let copy = save_in.join(format!("r{i}")).join(&name);
        assert_eq!(fs::metadata(&copy).unwrap().len(), expected, "{copy:?}");
        let _ = fs::remove_file(copy);
    }
    Run {
        secs,
        peaks,
        saving,
    }
}

/// Watches the receiver's hidden partial file (`.NAME.part` in `home`)
/// and returns the moment it holds all `len` bytes: the last byte is
/// written, and only syncing and publishing remain. `None` if the file
/// was published before the watcher saw it whole.
fn last_byte_written(home: &Path, name: &str, len: u64) -> thread::JoinHandle<Option<Instant>> {
    let (part, published) = (home.join(format!(".{name}.part")), home.join(name));
    thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline && !published.exists() {
            if fs::metadata(&part).is_ok_and(|m| m.len() >= len) {
                return Some(Instant::now());
            }
            thread::sleep(Duration::from_millis(1)); // sampling the size
        }
        None
    })
}

/// The relay process of the baseline (the bench runs itself with
/// `--baseline-relay ADDR`): accepts one connection, connects to ADDR, and
/// copies bytes from one to the other with a large buffer, nothing more.
pub fn baseline_relay_process(target: &str) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("{}", listener.local_addr().unwrap());
    io::stdout().flush().unwrap();
    let (mut from, _) = listener.accept().unwrap();
    let mut to = TcpStream::connect(target).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = from.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n]).unwrap();
    }
    to.shutdown(Shutdown::Write).unwrap();
}

/// One baseline transfer of `file`; returns its seconds. The receiver
/// makes its file durable (`fdatasync`) before the clock stops, as
/// ftpchat's does, so both measure the same work apart from the protocol.
pub fn baseline_transfer(file: &Path, save_as: &Path) -> f64 {
    let receiver = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = receiver.local_addr().unwrap().to_string();
    let mut relay = Command::new(std::env::current_exe().unwrap())
        .args(["--baseline-relay", &target])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(relay.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let relay_addr: SocketAddr = line.trim().parse().unwrap();
    warm_memory(save_as.parent().unwrap(), fs::metadata(file).unwrap().len());

    let save_as = save_as.to_path_buf();
    let receiving = thread::spawn(move || {
        let (mut from, _) = receiver.accept().unwrap();
        let mut out = File::create(&save_as).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = from.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).unwrap();
        }
        out.sync_data().unwrap();
        Instant::now()
    });
    let started = Instant::now();
    let mut to = TcpStream::connect(relay_addr).unwrap();
    let mut input = File::open(file).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n]).unwrap();
    }
    to.shutdown(Shutdown::Write).unwrap();
    let finished = receiving.join().unwrap();
    relay.wait().unwrap();
    finished.duration_since(started).as_secs_f64()
}

/// 1 GiB from one client through the server to another that saves it,
/// against the plain two-hop relay.
pub fn relay(report: &mut Report) {
    let dir = scratch("relay");
    let file = dir.join("relay.bin");
    let len = 1024 * MIB;
    random_file(&file, len);
    let (socat, ncat) = (installed("socat"), installed("ncat"));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut ours_secs, mut socat_secs, mut ncat_secs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut saving_secs, mut saving_share) = (Vec::new(), Vec::new());
    let mut tuned_socat_secs = Vec::new();
    let copy = dir.join("baseline-copy.bin");
    for _ in 0..RUNS {
        let run = ftpchat_transfer(&dir, &file, 1, None, &dir, true);
        ours.push(megabytes_per_second(len, run.secs));
        ours_secs.push(run.secs);
        if let Some(saving) = run.saving {
            saving_share.push(saving / run.secs * 100.0);
            saving_secs.push(saving);
        }
        theirs.push(megabytes_per_second(len, baseline_transfer(&file, &copy)));
        let _ = fs::remove_file(&copy);
        if socat {
            socat_secs.push(socat_relay(&file, &copy, None));
            let _ = fs::remove_file(&copy);
            tuned_socat_secs.push(socat_relay(&file, &copy, Some(MIB as usize)));
            let _ = fs::remove_file(&copy);
        }
        if ncat {
            ncat_secs.extend(ncat_broker(&file, 1, &dir));
        }
    }
    let ratio = Stats::of(&ours).median / Stats::of(&theirs).median;
    report.add("relay", "baseline relay, MB/s", &theirs, String::new());
    report.add(
        "relay",
        "ftpchat, MB/s",
        &ours,
        format!("ratio {ratio:.2} (target >= 0.85)"),
    );
    report.add("relay", "ftpchat, s", &ours_secs, String::new());
    if !saving_secs.is_empty() {
        report.add(
            "relay",
            "ftpchat, last byte written to saved, s",
            &saving_secs,
            String::new(),
        );
        report.add(
            "relay",
            "ftpchat, saving's share of the transfer, %",
            &saving_share,
            "target < 10".to_string(),
        );
    }
    compare(
        report,
        "relay",
        "two-hop socat relay, s",
        &socat_secs,
        &ours_secs,
        "<= 1.4",
    );
    compare(
        report,
        "relay",
        "two-hop socat relay with 1 MiB buffers (-b), s",
        &tuned_socat_secs,
        &ours_secs,
        "none",
    );
    compare(
        report,
        "relay",
        "ncat --broker, s",
        &ncat_secs,
        &ours_secs,
        "< 1",
    );
    let _ = fs::remove_file(file);
}

/// Adds `theirs` (seconds of another tool, or nothing if it is not
/// installed) with ftpchat's time as a ratio of it.
fn compare(
    report: &mut Report,
    workload: &str,
    metric: &str,
    theirs: &[f64],
    ours: &[f64],
    target: &str,
) {
    if theirs.is_empty() {
        println!("  {metric}: skipped (not installed, or never delivered)");
        return;
    }
    let ratio = Stats::of(ours).median / Stats::of(theirs).median;
    let note = format!("ftpchat takes {ratio:.2} x this (target {target})");
    report.add(workload, metric, theirs, note);
}

/// 256 MiB to 8 receivers at once, against the same file to 1 receiver.
pub fn fan_out(report: &mut Report) {
    let dir = scratch("fan-out");
    let file = dir.join("fan.bin");
    let len = 256 * MIB;
    random_file(&file, len);
    let ncat = installed("ncat");
    let (mut single, mut eight) = (Vec::new(), Vec::new());
    let (mut eight_secs, mut ncat_secs) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        single.push(megabytes_per_second(
            len,
            ftpchat_transfer(&dir, &file, 1, None, &dir, true).secs,
        ));
        let secs = ftpchat_transfer(&dir, &file, 8, None, &dir, true).secs;
        eight.push(megabytes_per_second(8 * len, secs));
        eight_secs.push(secs);
        if ncat {
            ncat_secs.extend(ncat_broker(&file, 8, &dir));
        }
    }
    let ratio = Stats::of(&eight).median / Stats::of(&single).median;
    report.add("fan-out", "1 receiver, MB/s", &single, String::new());
    report.add(
        "fan-out",
        "8 receivers, aggregate MB/s",
        &eight,
        format!("{ratio:.2} x one receiver (target >= 1.5)"),
    );
    report.add(
        "fan-out",
        "8 receivers, ftpchat, s",
        &eight_secs,
        String::new(),
    );
    compare(
        report,
        "fan-out",
        "8 receivers, ncat --broker, s",
        &ncat_secs,
        &eight_secs,
        "< 1",
    );
    let _ = fs::remove_file(file);
}

/// Peak memory of the server and both clients for a 4 MiB and a 4 GiB
/// file (sparse, so that it costs no disk to make).
pub fn memory(report: &mut Report) {
    let dir = scratch("memory");
    // Received copies go to memory (tmpfs) where there is one: this
    // workload measures the programs' memory, not the disk.
    let save_in = if Path::new("/dev/shm").is_dir() {
        let shm = Path::new("/dev/shm").join(format!("ftpchat-bench-{}", std::process::id()));
        fs::create_dir_all(&shm).unwrap();
        shm
    } else {
        dir.clone()
    };
    for (label, len) in [("4 MiB", 4 * MIB), ("4 GiB", 4096 * MIB)] {
        let file = dir.join(format!("sparse-{}.bin", len / MIB));
        File::create(&file).unwrap().set_len(len).unwrap();
        let mut peaks = [Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..RUNS {
            let run = ftpchat_transfer(&dir, &file, 1, None, &save_in, false);
            for (samples, value) in peaks.iter_mut().zip(run.peaks) {
                samples.push(value as f64 / 1024.0);
            }
        }
        for (who, samples) in ["server", "sender", "receiver"].iter().zip(&peaks) {
            report.add(
                "memory",
                &format!("{label}: {who} peak, MiB"),
                samples,
                "target < 16".to_string(),
            );
        }
        let _ = fs::remove_file(file);
    }
    let _ = fs::remove_dir_all(&save_in);
}

/// Relay throughput for chunk sizes from 1 KiB (the original program's) to
/// 1 MiB, with a table and an SVG chart in bench-results/.
pub fn chunk_size(report: &mut Report) {
    let dir = scratch("chunk-size");
    let file = dir.join("chunks.bin");
    let len = 256 * MIB;
    random_file(&file, len);
    let sizes = [1024, 4096, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024];
    let mut points = Vec::new();
    for size in sizes {
        let samples: Vec<f64> = (0..RUNS)
            .map(|_| {
                megabytes_per_second(
                    len,
                    ftpchat_transfer(&dir, &file, 1, Some(size), &dir, true).secs,
                )
            })
            .collect();
        report.add(
            "chunk-size",
            &format!("{} KiB chunks, MB/s", size / 1024),
            &samples,
            String::new(),
        );
        points.push((size, Stats::of(&samples)));
    }
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    fs::create_dir_all(&results).unwrap();
    let path = results.join("chunk-size.svg");
    fs::write(&path, chunk_size_chart(&points)).unwrap();
    println!("  chart written to {}", path.display());
    let _ = fs::remove_file(file);
}
