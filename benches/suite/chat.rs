//! Chat workloads: a burst from 50 clients, paced latency between two,
//! and 10,000 idle clients. The clients are raw connections that speak
//! the protocol through the library's own types.

use crate::common::ServerProcess;
use crate::report::{Report, percentile};
use crate::system::{cpu_seconds, memory_kib, open_file_limit, scratch};
use crate::{RUNS, WAIT};
use ftpchat::protocol::{ClientMessage, Frame, FrameReader, PROTOCOL_VERSION, ServerMessage};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// A client of the load generator: a raw connection that speaks the
/// protocol through the library's types, reading with its frame reader.
pub struct BenchClient {
    stream: TcpStream,
    frames: FrameReader<TcpStream>,
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
        let mut frames = FrameReader::with_capacity(64 * 1024, stream.try_clone().unwrap());
        while !next_line(&mut frames).starts_with("USERS ") {}
        BenchClient { stream, frames }
    }
}

/// The next line from the server (skipping any chunk), which must come.
pub fn next_line(frames: &mut FrameReader<TcpStream>) -> String {
    loop {
        match frames.read_frame().unwrap().expect("the server stays up") {
            Frame::Line(line) => return line.to_string(),
            Frame::Data(chunk) => chunk.skip().unwrap(),
        }
    }
}

/// Nanoseconds since `epoch`, carried inside chat lines to measure latency.
pub fn stamp(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// Reads chat lines until `expected` have arrived; returns the latency of
/// each in microseconds (from the stamp in its text to its arrival).
pub fn receive_chat(client: &mut BenchClient, expected: usize, epoch: Instant) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(expected);
    while latencies.len() < expected {
        let line = client
            .frames
            .read_line()
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
pub fn chat(report: &mut Report) {
    let dir = scratch("chat");
    let (mut rates, mut p50s, mut p99s, mut shares) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let run = chat_burst(&dir);
        rates.push(run.lines_per_second / 1e6);
        p50s.push(percentile(&run.latencies, 50.0) / 1000.0);
        p99s.push(percentile(&run.latencies, 99.0) / 1000.0);
        shares.push(run.generator_share);
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

/// What one chat burst measured.
pub struct ChatRun {
    lines_per_second: f64,
    /// Each line's latency in microseconds, sorted.
    latencies: Vec<f64>,
    /// The load generator's share of the CPU used, in percent.
    generator_share: f64,
}

/// Clients in the chat burst, and lines each sends.
pub const CHAT_CLIENTS: usize = 50;
pub const CHAT_LINES: usize = 2000;

/// One chat burst through a fresh server.
pub fn chat_burst(dir: &Path) -> ChatRun {
    // A burst is a flood on purpose: lift the server's chat limit.
    let server = ServerProcess::start_with(dir, &["--port", "0", "--chat-rate", "0"]);
    let clients: Vec<BenchClient> = (0..CHAT_CLIENTS)
        .map(|i| BenchClient::join(server.addr(), &format!("c{i}")))
        .collect();
    let start = Arc::new(Barrier::new(2 * CHAT_CLIENTS + 1));
    let epoch = Instant::now();
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let writer = client.stream.try_clone().unwrap();
        // Everyone has joined: skip the JOINED lines that announced the later ones.
        let joined_after = CHAT_CLIENTS - 1 - i;
        readers.push(chat_reader(client, joined_after, Arc::clone(&start), epoch));
        writers.push(chat_writer(writer, Arc::clone(&start), epoch));
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
    ChatRun {
        lines_per_second: latencies.len() as f64 / secs,
        latencies,
        generator_share: 100.0 * bench_cpu / (bench_cpu + server_cpu),
    }
}

/// A thread that skips `joined_after` join notices, then receives every
/// other client's lines and returns their latencies.
pub fn chat_reader(
    mut client: BenchClient,
    joined_after: usize,
    start: Arc<Barrier>,
    epoch: Instant,
) -> thread::JoinHandle<Vec<f64>> {
    thread::spawn(move || {
        for _ in 0..joined_after {
            next_line(&mut client.frames);
        }
        start.wait();
        receive_chat(&mut client, (CHAT_CLIENTS - 1) * CHAT_LINES, epoch)
    })
}

/// A thread that sends this client's lines, 64 to a write.
pub fn chat_writer(
    mut writer: TcpStream,
    start: Arc<Barrier>,
    epoch: Instant,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        start.wait();
        // 64 bytes of text: a 20-digit stamp, then filler.
        let mut batch = Vec::with_capacity(64 * 80);
        for line in 0..CHAT_LINES {
            let text = format!("{:020} {}", stamp(epoch), "x".repeat(43));
            ClientMessage::Chat { text: &text }.encode(&mut batch);
            if line % 64 == 63 || line == CHAT_LINES - 1 {
                writer.write_all(&batch).unwrap();
                batch.clear();
            }
        }
    })
}

/// Two clients; 10,000 lines paced one every 100 microseconds.
pub fn latency(report: &mut Report) {
    const LINES: usize = 10_000;
    let dir = scratch("latency");
    let (mut p50s, mut p99s, mut p999s) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let server = ServerProcess::start_with(&dir, &["--port", "0", "--chat-rate", "0"]);
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

/// 10,000 connected, joined, idle clients: server memory per client, and a
/// message still reaches every one.
pub fn idle(report: &mut Report) {
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
        let (kib, got) = idle_room(&dir, count);
        per_client.push(kib);
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

/// Fills a fresh server with `count` idle clients; returns the server's
/// memory per client (KiB) and how many got a message sent to all.
pub fn idle_room(dir: &Path, count: usize) -> (f64, usize) {
    // These clients never answer PING (a real client would): a long
    // keep-alive keeps the server from dropping them while the others join.
    let args = [
        "--port",
        "0",
        "--max-clients",
        "30000",
        "--keepalive",
        "3600",
    ];
    let server = ServerProcess::start_with(dir, &args);
    let before = memory_kib(server.pid(), "VmRSS");
    let joining = Instant::now();
    let mut clients: Vec<FrameReader<TcpStream>> = Vec::with_capacity(count);
    for i in 0..count {
        let client = BenchClient::join(server.addr(), &format!("i{i}"));
        clients.push(client.frames);
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
    let kib = (after.saturating_sub(before)) as f64 / count as f64;

    let speaker = BenchClient::join(server.addr(), "speaker");
    (&speaker.stream)
        .write_all(b"CHAT hello, everyone\n")
        .unwrap();
    let mut got = 0;
    for frames in &mut clients {
        frames.get_ref().set_nonblocking(false).unwrap();
        while next_line(frames) != "CHAT speaker hello, everyone" {}
        got += 1;
    }
    (kib, got)
}

/// Reads whatever lines are waiting on each connection, without blocking.
/// (A line cut in two by the moment we stop stays in its frame reader,
/// whole, for the next read.)
pub fn drain(clients: &mut [FrameReader<TcpStream>]) {
    for frames in clients {
        frames.get_ref().set_nonblocking(true).unwrap();
        while let Ok(Some(_)) = frames.read_line() {}
    }
}
