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

#[path = "../tests/common/mod.rs"]
mod common;

use common::{ClientProcess, Rng, ServerProcess};
use ftpchat::protocol::{ClientMessage, MAX_LINE_LEN, PROTOCOL_VERSION, ServerMessage, read_line};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

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
    let workloads: [(&str, Workload); 7] = [
        ("relay", relay),
        ("fan-out", fan_out),
        ("chat", chat),
        ("latency", latency),
        ("idle", idle),
        ("memory", memory),
        ("chunk-size", chunk_size),
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

// ---------------------------------------------------------------------------
// Results

/// Median, minimum and maximum of some samples.
#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(samples: &[f64]) -> Stats {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Stats {
            median: sorted[sorted.len() / 2],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// The percentile `p` (0 to 100) of `values`, which must be sorted.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[index]
}

#[derive(Default)]
struct Report {
    rows: Vec<(String, String, Stats, String)>,
}

impl Report {
    fn add(&mut self, workload: &str, metric: &str, samples: &[f64], note: String) {
        let stats = Stats::of(samples);
        println!(
            "  {metric}: {} [{}-{}] {note}",
            number(stats.median),
            number(stats.min),
            number(stats.max)
        );
        self.rows
            .push((workload.to_string(), metric.to_string(), stats, note));
    }

    fn print(&self) {
        println!();
        println!("| workload | metric | median | min-max | notes |");
        println!("|---|---|---:|---:|---|");
        for (workload, metric, stats, note) in &self.rows {
            println!(
                "| {workload} | {metric} | {} | {}-{} | {note} |",
                number(stats.median),
                number(stats.min),
                number(stats.max)
            );
        }
    }
}

/// A number with sensible precision for a table.
fn number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn megabytes_per_second(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

// ---------------------------------------------------------------------------
// Files and processes

/// A fresh folder for one workload.
fn scratch(name: &str) -> PathBuf {
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
fn random_file(path: &Path, len: u64) {
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

/// Peak resident memory of a process so far, in KiB (`VmHWM`), or its
/// current resident memory (`VmRSS`).
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// CPU time a process has used so far, in seconds (user + system).
fn cpu_seconds(pid: u32) -> f64 {
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

/// One ftpchat transfer of `file` from a sender to `receivers` clients
/// through a fresh server. Returns the seconds from typing `transfer` to
/// the last receiver's file being complete and verified, and the peak
/// memory (KiB) of the server, the sender and the first receiver.
fn ftpchat_transfer(
    dir: &Path,
    file: &Path,
    receivers: usize,
    chunk: Option<usize>,
    save_in: &Path,
) -> (f64, [u64; 3]) {
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
    let started = Instant::now();
    sender.send(&format!("transfer {name}"));
    for client in &mut clients {
        client
            .stdout
            .until_within(&format!("* received {name}"), WAIT);
    }
    let secs = started.elapsed().as_secs_f64();
    sender.stdout.until_within("* sent", WAIT);
    let peaks = [
        memory_kib(server.pid(), "VmHWM"),
        memory_kib(sender.pid(), "VmHWM"),
        memory_kib(clients[0].pid(), "VmHWM"),
    ];
    let expected = fs::metadata(file).unwrap().len();
    for i in 0..receivers {
        let copy = save_in.join(format!("r{i}")).join(&name);
        assert_eq!(fs::metadata(&copy).unwrap().len(), expected, "{copy:?}");
        let _ = fs::remove_file(copy);
    }
    (secs, peaks)
}

// ---------------------------------------------------------------------------
// The baseline relay: sender socket -> a relay process -> receiver file.

/// The relay process of the baseline (the bench runs itself with
/// `--baseline-relay ADDR`): accepts one connection, connects to ADDR, and
/// copies bytes from one to the other with a large buffer, nothing more.
fn baseline_relay_process(target: &str) {
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
fn baseline_transfer(file: &Path, save_as: &Path) -> f64 {
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

// ---------------------------------------------------------------------------
// Workloads

/// 1 GiB from one client through the server to another that saves it,
/// against the plain two-hop relay.
fn relay(report: &mut Report) {
    let dir = scratch("relay");
    let file = dir.join("relay.bin");
    let len = 1024 * MIB;
    random_file(&file, len);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (secs, _) = ftpchat_transfer(&dir, &file, 1, None, &dir);
        ours.push(megabytes_per_second(len, secs));
        let copy = dir.join("baseline-copy.bin");
        theirs.push(megabytes_per_second(len, baseline_transfer(&file, &copy)));
        let _ = fs::remove_file(copy);
    }
    let ratio = Stats::of(&ours).median / Stats::of(&theirs).median;
    report.add("relay", "baseline relay, MB/s", &theirs, String::new());
    report.add(
        "relay",
        "ftpchat, MB/s",
        &ours,
        format!("ratio {ratio:.2} (target >= 0.85)"),
    );
    let _ = fs::remove_file(file);
}

/// 256 MiB to 8 receivers at once, against the same file to 1 receiver.
fn fan_out(report: &mut Report) {
    let dir = scratch("fan-out");
    let file = dir.join("fan.bin");
    let len = 256 * MIB;
    random_file(&file, len);
    let (mut single, mut eight) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        single.push(megabytes_per_second(
            len,
            ftpchat_transfer(&dir, &file, 1, None, &dir).0,
        ));
        eight.push(megabytes_per_second(
            8 * len,
            ftpchat_transfer(&dir, &file, 8, None, &dir).0,
        ));
    }
    let ratio = Stats::of(&eight).median / Stats::of(&single).median;
    report.add("fan-out", "1 receiver, MB/s", &single, String::new());
    report.add(
        "fan-out",
        "8 receivers, aggregate MB/s",
        &eight,
        format!("{ratio:.2} x one receiver (target >= 1.5)"),
    );
    let _ = fs::remove_file(file);
}

/// A client of the load generator: a raw connection that speaks the
/// protocol through the library's types.
struct BenchClient {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl BenchClient {
    fn join(addr: SocketAddr, nick: &str) -> BenchClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let hello = ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            nick,
        };
        (&stream).write_all(&hello.to_bytes()).unwrap();
        let mut reader = BufReader::with_capacity(64 * 1024, stream.try_clone().unwrap());
        let mut buf = Vec::new();
        loop {
            let line = read_line(&mut reader, &mut buf).unwrap().unwrap();
            if line.starts_with("USERS ") {
                break;
            }
        }
        BenchClient { stream, reader }
    }
}

/// Nanoseconds since `epoch`, carried inside chat lines to measure latency.
fn stamp(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// Reads chat lines until `expected` have arrived; returns the latency of
/// each in microseconds (from the stamp in its text to its arrival).
fn receive_chat(client: &mut BenchClient, expected: usize, epoch: Instant) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(expected);
    let mut buf = Vec::with_capacity(MAX_LINE_LEN);
    while latencies.len() < expected {
        let line = read_line(&mut client.reader, &mut buf)
            .unwrap()
            .expect("the server stays up");
        if let Ok(ServerMessage::Chat { text, .. }) = ServerMessage::decode(line) {
            let sent: u64 = text.split(' ').next().unwrap().parse().unwrap();
            latencies.push((stamp(epoch) - sent) as f64 / 1000.0);
        }
    }
    latencies
}

/// 50 clients each send 2,000 lines of 64 bytes as fast as they can.
fn chat(report: &mut Report) {
    const CLIENTS: usize = 50;
    const LINES: usize = 2000;
    let dir = scratch("chat");
    let (mut rates, mut p50s, mut p99s, mut shares) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let server = ServerProcess::start(&dir);
        let clients: Vec<BenchClient> = (0..CLIENTS)
            .map(|i| BenchClient::join(server.addr(), &format!("c{i}")))
            .collect();
        // Everyone has joined: skip the JOINED lines that announced the later ones.
        let start = Arc::new(Barrier::new(2 * CLIENTS + 1));
        let epoch = Instant::now();
        let mut readers = Vec::new();
        let mut writers = Vec::new();
        for (i, mut client) in clients.into_iter().enumerate() {
            let mut writer = client.stream.try_clone().unwrap();
            let start_reading = Arc::clone(&start);
            let joined_after = CLIENTS - 1 - i;
            readers.push(thread::spawn(move || {
                let mut buf = Vec::new();
                for _ in 0..joined_after {
                    read_line(&mut client.reader, &mut buf).unwrap();
                }
                start_reading.wait();
                receive_chat(&mut client, (CLIENTS - 1) * LINES, epoch)
            }));
            let start_writing = Arc::clone(&start);
            writers.push(thread::spawn(move || {
                start_writing.wait();
                // 64 bytes of text: a 20-digit stamp, then filler.
                let mut batch = Vec::with_capacity(64 * 80);
                for line in 0..LINES {
                    let text = format!("{:020} {}", stamp(epoch), "x".repeat(43));
                    ClientMessage::Chat { text: &text }.encode(&mut batch);
                    if line % 64 == 63 || line == LINES - 1 {
                        writer.write_all(&batch).unwrap();
                        batch.clear();
                    }
                }
            }));
        }
        let cpu_before = (cpu_seconds(server.pid()), cpu_seconds(std::process::id()));
        start.wait();
        let started = Instant::now();
        for writer in writers {
            writer.join().unwrap();
        }
        let mut latencies: Vec<f64> = readers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect();
        let secs = started.elapsed().as_secs_f64();
        let server_cpu = cpu_seconds(server.pid()) - cpu_before.0;
        let bench_cpu = cpu_seconds(std::process::id()) - cpu_before.1;
        latencies.sort_by(f64::total_cmp);
        rates.push(latencies.len() as f64 / secs / 1e6);
        p50s.push(percentile(&latencies, 50.0) / 1000.0);
        p99s.push(percentile(&latencies, 99.0) / 1000.0);
        shares.push(100.0 * bench_cpu / (bench_cpu + server_cpu));
    }
    report.add(
        "chat",
        "delivered, million lines/s",
        &rates,
        "target >= 5".to_string(),
    );
    report.add("chat", "latency p50, ms", &p50s, String::new());
    report.add("chat", "latency p99, ms", &p99s, String::new());
    report.add(
        "chat",
        "load generator's share of CPU, %",
        &shares,
        String::new(),
    );
}

/// Two clients; 10,000 lines paced one every 100 microseconds.
fn latency(report: &mut Report) {
    const LINES: usize = 10_000;
    let dir = scratch("latency");
    let (mut p50s, mut p99s, mut p999s) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let server = ServerProcess::start(&dir);
        let sender = BenchClient::join(server.addr(), "sender");
        let mut receiver = BenchClient::join(server.addr(), "receiver");
        let epoch = Instant::now();
        let reading = thread::spawn(move || receive_chat(&mut receiver, LINES, epoch));
        let mut next = Instant::now();
        for _ in 0..LINES {
            while Instant::now() < next {
                std::hint::spin_loop();
                thread::yield_now();
            }
            next += Duration::from_micros(100);
            let text = format!("{:020} paced", stamp(epoch));
            (&sender.stream)
                .write_all(&ClientMessage::Chat { text: &text }.to_bytes())
                .unwrap();
        }
        let mut latencies = reading.join().unwrap();
        latencies.sort_by(f64::total_cmp);
        p50s.push(percentile(&latencies, 50.0) / 1000.0);
        p99s.push(percentile(&latencies, 99.0) / 1000.0);
        p999s.push(percentile(&latencies, 99.9) / 1000.0);
    }
    report.add("latency", "p50, ms", &p50s, String::new());
    report.add("latency", "p99, ms", &p99s, "target <= 0.15".to_string());
    report.add("latency", "p99.9, ms", &p999s, String::new());
}

/// The soft limit on open files of this process.
fn open_file_limit() -> usize {
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

/// 10,000 connected, joined, idle clients: server memory per client, and a
/// message still reaches every one.
fn idle(report: &mut Report) {
    let limit = open_file_limit();
    let wanted = 10_000;
    let count = wanted.min(limit.saturating_sub(200));
    if count < wanted {
        println!(
            "  the open-file limit is {limit}: holding {count} clients, not {wanted} \
             (raise it with `ulimit -n 20000`)"
        );
    }
    let dir = scratch("idle");
    let (mut per_client, mut reached) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        // These clients never answer PING (a real client would): a long
        // keep-alive keeps the server from dropping them while the others
        // join.
        let args = [
            "--port",
            "0",
            "--max-clients",
            "30000",
            "--keepalive",
            "3600",
        ];
        let server = ServerProcess::start_with(&dir, &args);
        let before = memory_kib(server.pid(), "VmRSS");
        let joining = Instant::now();
        let mut clients: Vec<BufReader<TcpStream>> = Vec::with_capacity(count);
        for i in 0..count {
            let client = BenchClient::join(server.addr(), &format!("i{i}"));
            clients.push(client.reader);
            // Every join is announced to everyone: read those notices now
            // and then, as live clients would, so they do not pile up.
            if i % 200 == 199 {
                drain(&mut clients);
            }
        }
        drain(&mut clients);
        println!(
            "  {count} clients joined in {:.1} s",
            joining.elapsed().as_secs_f64()
        );
        let after = memory_kib(server.pid(), "VmRSS");
        per_client.push((after.saturating_sub(before)) as f64 / count as f64);

        let speaker = BenchClient::join(server.addr(), "speaker");
        (&speaker.stream)
            .write_all(b"CHAT hello, everyone\n")
            .unwrap();
        let mut got = 0;
        let mut buf = Vec::new();
        for reader in &mut clients {
            reader.get_ref().set_nonblocking(false).unwrap();
            loop {
                let line = read_line(reader, &mut buf)
                    .unwrap()
                    .expect("still connected");
                if line == "CHAT speaker hello, everyone" {
                    got += 1;
                    break;
                }
            }
        }
        reached.push(got as f64);
    }
    report.add(
        "idle",
        "clients held",
        &reached,
        format!("of {count}, each got the message"),
    );
    report.add(
        "idle",
        "server memory per client, KiB",
        &per_client,
        "target <= 16".to_string(),
    );
}

/// Reads whatever is waiting on each connection, without blocking.
fn drain(clients: &mut [BufReader<TcpStream>]) {
    let mut sink = [0u8; 64 * 1024];
    for reader in clients {
        reader.get_ref().set_nonblocking(true).unwrap();
        let consumed = reader.buffer().len();
        reader.consume(consumed);
        while let Ok(n) = reader.get_mut().read(&mut sink) {
            if n == 0 {
                break;
            }
        }
    }
}

/// Peak memory of the server and both clients for a 4 MiB and a 4 GiB
/// file (sparse, so that it costs no disk to make).
fn memory(report: &mut Report) {
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
            let (_, kib) = ftpchat_transfer(&dir, &file, 1, None, &save_in);
            for (samples, value) in peaks.iter_mut().zip(kib) {
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
fn chunk_size(report: &mut Report) {
    let dir = scratch("chunk-size");
    let file = dir.join("chunks.bin");
    let len = 256 * MIB;
    random_file(&file, len);
    let sizes = [1024, 4096, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024];
    let mut points = Vec::new();
    for size in sizes {
        let samples: Vec<f64> = (0..RUNS)
            .map(|_| {
                megabytes_per_second(len, ftpchat_transfer(&dir, &file, 1, Some(size), &dir).0)
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

/// An SVG line chart of throughput (median, with min-max bars) against
/// chunk size on a logarithmic axis.
fn chunk_size_chart(points: &[(usize, Stats)]) -> String {
    let (width, height, left, right, top, bottom) = (640.0, 400.0, 70.0, 20.0, 40.0, 60.0);
    let top_value = points.iter().map(|(_, s)| s.max).fold(0.0, f64::max) * 1.1;
    let (first, last) = (
        (points[0].0 as f64).log2(),
        (points[points.len() - 1].0 as f64).log2(),
    );
    let x = |size: usize| {
        left + ((size as f64).log2() - first) / (last - first) * (width - left - right)
    };
    let y = |value: f64| height - bottom - value / top_value * (height - top - bottom);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">ftpchat relay throughput by chunk size (256 MiB, loopback)</text>"#,
        width / 2.0
    );
    // Axes, grid and labels.
    let _ = writeln!(
        svg,
        r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
        height - bottom,
        width - right,
        height - bottom
    );
    let _ = writeln!(
        svg,
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>"#,
        height - bottom
    );
    for step in 0..=4 {
        let value = top_value * step as f64 / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="#ddd"/><text x="{2}" y="{3}" text-anchor="end">{4:.0}</text>"##,
            y(value),
            width - right,
            left - 6.0,
            y(value) + 4.0,
            value
        );
    }
    for (size, _) in points {
        let label = if *size >= 1024 * 1024 {
            format!("{} MiB", size / 1024 / 1024)
        } else {
            format!("{} KiB", size / 1024)
        };
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{label}</text>"#,
            x(*size),
            height - bottom + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">chunk size</text>"#,
        (left + width - right) / 2.0,
        height - 15.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {0})">MB/s (median, bars: min-max of runs)</text>"#,
        (top + height - bottom) / 2.0
    );
    // Range bars, then the line through the medians.
    for (size, stats) in points {
        let _ = writeln!(
            svg,
            r##"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#888" stroke-width="2"/>"##,
            x(*size),
            y(stats.min),
            y(stats.max)
        );
    }
    let line: Vec<String> = points
        .iter()
        .map(|(size, stats)| format!("{:.1},{:.1}", x(*size), y(stats.median)))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#1f6feb" stroke-width="2.5"/>"##,
        line.join(" ")
    );
    for (size, stats) in points {
        let _ = writeln!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#1f6feb"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{:.0}</text>"##,
            x(*size),
            y(stats.median),
            x(*size),
            y(stats.median) - 10.0,
            stats.median
        );
    }
    svg.push_str("</svg>\n");
    svg
}
