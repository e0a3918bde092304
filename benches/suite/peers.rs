//! What users would pick instead of ftpchat to move a file, run in the
//! same process as ftpchat's runs: a two-hop `socat` relay, and `ncat
//! --broker` (which passes what one client sends to all the others).
//! Where a tool is not installed its measurement is skipped with a note:
//! the suite never needs them.
//!
//! Neither checks the data nor makes it durable: both only copy bytes, so
//! they bound from above what a relay can do on this machine.

use crate::system::warm_memory;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Whether `program` can be run here.
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A port nobody listens on just now (the OS picks it).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts `command` and reads its standard error until a line contains
/// `ready` (the program says it listens).
fn start_until(mut command: Command, ready: &str) -> Child {
    let mut child = command
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the program says it listens").unwrap();
        if line.contains(ready) {
            break;
        }
    }
    // Keep reading (and dropping) what it says, so it never blocks.
    thread::spawn(move || lines.for_each(drop));
    child
}

/// One file through a two-hop `socat` relay (sender, relay, receiver that
/// writes the file); returns the seconds from the sender's start to the
/// receiver's end. `buffer` is socat's `-b` (its default is 8 KiB).
pub fn socat_relay(file: &Path, save_as: &Path, buffer: Option<usize>) -> f64 {
    let (receiver_port, relay_port) = (free_port(), free_port());
    let socat = || {
        let mut command = Command::new("socat");
        if let Some(buffer) = buffer {
            command.args(["-b", &buffer.to_string()]);
        }
        command
    };
    let mut receiver = socat();
    receiver.args([
        "-d",
        "-d",
        "-u",
        &format!("TCP-LISTEN:{receiver_port},bind=127.0.0.1,reuseaddr"),
        &format!("CREATE:{}", save_as.display()),
    ]);
    let mut receiver = start_until(receiver, "listening on");
    let mut relay = socat();
    relay.args([
        "-d",
        "-d",
        &format!("TCP-LISTEN:{relay_port},bind=127.0.0.1,reuseaddr"),
        &format!("TCP:127.0.0.1:{receiver_port}"),
    ]);
    let mut relay = start_until(relay, "listening on");
    warm_memory(save_as.parent().unwrap(), fs::metadata(file).unwrap().len());
    let started = Instant::now();
    let mut sender = socat()
        .args([
            "-u",
            &format!("OPEN:{}", file.display()),
            &format!("TCP:127.0.0.1:{relay_port}"),
        ])
        .spawn()
        .unwrap();
    receiver.wait().unwrap();
    let secs = started.elapsed().as_secs_f64();
    let _ = sender.wait();
    let _ = relay.kill();
    let _ = relay.wait();
    secs
}

/// How long `ncat --broker`'s receivers may stand still before the run is
/// given up.
const STALLED: Duration = Duration::from_secs(5);

/// One file from a client to `receivers` others through `ncat --broker`;
/// returns the seconds from the sender's start until every receiver has
/// every byte, or `None` if some receiver never got them all (the broker
/// does not wait for a slow receiver: on a busy machine it may lose data).
pub fn ncat_broker(file: &Path, receivers: usize, save_in: &Path) -> Option<f64> {
    let port = free_port();
    let mut broker = Command::new("ncat");
    broker.args(["-v", "--broker", "-l", "127.0.0.1", &port.to_string()]);
    let mut broker = broker
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(broker.stderr.take().unwrap()).lines();
    while !log.next().unwrap().unwrap().contains("Listening on") {}
    let outputs: Vec<_> = (0..receivers)
        .map(|i| save_in.join(format!("ncat-{i}.bin")))
        .collect();
    let mut clients: Vec<Child> = outputs
        .iter()
        .map(|output| {
            Command::new("ncat")
                .args(["--recv-only", "127.0.0.1", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(File::create(output).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    // The broker logs each connection: wait for all the receivers.
    let mut connected = 0;
    while connected < receivers {
        if log.next().unwrap().unwrap().contains("Connection from") {
            connected += 1;
        }
    }
    thread::spawn(move || log.for_each(drop));
    let len = fs::metadata(file).unwrap().len();
    warm_memory(save_in, len * receivers as u64);
    let started = Instant::now();
    clients.push(
        Command::new("ncat")
            .args(["--send-only", "127.0.0.1", &port.to_string()])
            .stdin(File::open(file).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Done when every receiver has every byte. The broker does not wait
    // for a slow receiver, so some never do: give up once nothing has
    // grown for `STALLED` (and after two minutes in any case).
    let deadline = started + Duration::from_secs(120);
    let lens = || -> Vec<u64> {
        (outputs.iter())
            .map(|output| fs::metadata(output).map_or(0, |m| m.len()))
            .collect()
    };
    let (mut secs, mut last, mut grew) = (None, Vec::new(), Instant::now());
    while Instant::now() < deadline && grew.elapsed() < STALLED {
        let now = lens();
        if now.iter().all(|&got| got >= len) {
            secs = Some(started.elapsed().as_secs_f64());
            break;
        }
        if now != last {
            (last, grew) = (now, Instant::now());
        }
        thread::sleep(Duration::from_millis(2)); // sampling the files' sizes
    }
    if secs.is_none() {
        let least = lens().into_iter().min().unwrap_or(0);
        println!("  ncat --broker did not deliver: a receiver stopped at {least} of {len} bytes");
    }
    for mut child in clients.into_iter().chain([broker]) {
        let _ = child.kill();
        let _ = child.wait();
    }
    for output in outputs {
        let _ = fs::remove_file(output);
    }
    secs
}
