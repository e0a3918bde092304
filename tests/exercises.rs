//! The commands of `EXERCISES.md`, run as written.
//!
//! Every command in the exercises' `sh` blocks is either run here, word
//! for word (through `sh`, with the binaries `cargo run` would build and a
//! port the system picks in place of 5555), or listed in [`ATTENDED`] with
//! the reason it needs a person. The first test checks that the two lists
//! cover the file exactly, so an exercise cannot change without its test.

mod common;

use common::{CLIENT, ClientProcess, Lines, RawClient, SERVER, ServerProcess};
use common::{list_dir, scratch_dir, signal, test_bytes};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const EXERCISES: &str = include_str!("../EXERCISES.md");
const THIS_FILE: &str = include_str!("exercises.rs");

/// Commands of the exercises that are not run here, and why.
const ATTENDED: &[&str] = &[
    // Runs until stopped; the tests read the trace file instead.
    "tail -f alice.trace",
    // Needs `nc`, which the tests must not; they use a raw socket instead,
    // which sends the same bytes.
    "nc 127.0.0.1 5555",
    // Takes minutes; `.ci/run` builds the benchmarks (`cargo bench --no-run`).
    "cargo bench -- chunk-size",
    // Large files; the tests make smaller ones of the same names.
    "head -c 100000000 /dev/urandom > big.bin",
    "head -c 1000000000 /dev/urandom > huge.bin",
    // `pgrep -n` could pick another test's client; the tests freeze their
    // own by process id.
    "kill -STOP $(pgrep -n ftpclient)",
    "kill -CONT $(pgrep -n ftpclient)",
    // Observations for a person; `cargo bench -- memory` measures memory.
    "ps -o rss=,comm= -C ftpserver,ftpclient",
    "ss -tn sport = :5555",
    // Run after editing the code, to watch tests fail.
    "cargo test --lib protocol",
    "cargo test --test chat newcomer",
];

/// The command lines of the exercises' `sh` blocks (comments left out).
fn exercise_commands() -> Vec<&'static str> {
    let mut commands = Vec::new();
    let mut in_sh_block = false;
    for line in EXERCISES.lines() {
        if line.starts_with("```") {
            in_sh_block = line == "```sh";
        } else if in_sh_block && !line.trim().is_empty() && !line.starts_with('#') {
            commands.push(line.trim());
        }
    }
    commands
}

/// Every command of the exercises is run by a test here or listed in
/// [`ATTENDED`]; every attended one is still in the exercises.
#[test]
fn every_exercise_command_is_run_here_or_needs_a_person() {
    let commands = exercise_commands();
    assert!(commands.len() >= 30, "{commands:#?}");
    for command in &commands {
        let run_here = THIS_FILE.contains(&format!("r#\"{command}\"#"));
        assert!(
            run_here || ATTENDED.contains(command),
            "EXERCISES.md has `{command}`: run it in a test here, or list it in ATTENDED"
        );
    }
    for command in ATTENDED {
        assert!(
            commands.contains(command),
            "`{command}` is no longer in EXERCISES.md"
        );
    }
}

/// `line`, which must be a command of the exercises, as a shell command
/// that runs it here: `cargo run` becomes the binary it would run, the
/// server listens on a port the system picks, and 5555 becomes `port`.
fn shell(line: &str, port: u16, dir: &Path) -> Command {
    assert!(
        exercise_commands().contains(&line),
        "`{line}` is not a command of EXERCISES.md"
    );
    let raw_client = raw_client_path().to_str().unwrap();
    let programs = [
        ("cargo run --bin ftpserver", SERVER),
        ("cargo run --release --bin ftpserver", SERVER),
        ("cargo run --bin ftpclient", CLIENT),
        ("cargo run --release --bin ftpclient", CLIENT),
        ("cargo run --example raw_client", raw_client),
    ];
    let mut script = line.to_string();
    for (prefix, program) in programs {
        if let Some(rest) = line.strip_prefix(prefix) {
            let mut args = rest.strip_prefix(" --").unwrap_or(rest);
            if program == raw_client && args.is_empty() {
                args = " 127.0.0.1:5555"; // its default address, written out
            }
            // `exec`: the shell becomes the program, so its process id is
            // the program's, and stopping it stops the program.
            script = format!("exec '{program}'{args}");
            if program == SERVER {
                script.push_str(" --port 0");
            }
        }
    }
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script.replace("5555", &port.to_string()))
        .current_dir(dir);
    command
}

/// The `raw_client` example, built (once) as `cargo run` would: `cargo
/// test` builds examples too, but not when only some tests are asked for.
fn raw_client_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let profile_dir = Path::new(SERVER).parent().unwrap();
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "--example", "raw_client"]);
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        let status = cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "the raw_client example builds");
        profile_dir.join("examples").join("raw_client")
    })
}

/// Starts the server with the exercise's command `line`.
fn start_server(dir: &Path, line: &str) -> ServerProcess {
    ServerProcess::start_command(shell(line, 0, dir), 1)
}

/// Starts the exercise's command `line` (a client) against `server`.
fn start(dir: &Path, server: &ServerProcess, line: &str, name: &str) -> ClientProcess {
    ClientProcess::spawn_command(shell(line, server.addr().port(), dir), name)
}

/// Runs the exercise's command `line` to its end; returns its output.
fn run(dir: &Path, line: &str) -> Vec<String> {
    let mut process = ClientProcess::spawn_command(shell(line, 0, dir), line);
    let output = process.stdout.rest();
    assert!(process.wait_exit().success(), "`{line}` failed");
    output
}

/// The address of the peer whose trace line (in `frames`) is `frame`.
fn peer_of(frames: &[String], frame: &str) -> SocketAddr {
    let line = frames
        .iter()
        .find(|line| line.ends_with(&format!(" {frame}")))
        .unwrap_or_else(|| panic!("no frame {frame:?} in {frames:#?}"));
    line.split(' ').nth(2).unwrap().parse().unwrap()
}

/// Reads trace lines until one ends with `frame`; returns them all.
fn trace_until(trace: &mut Lines, frame: &str) -> Vec<String> {
    trace.until(&format!(" {frame}"))
}

/// Exercise 1: the raw client's whole conversation, and Alice hearing it.
#[test]
fn exercise_1_the_protocol_by_hand() {
    let dir = scratch_dir();
    let server = start_server(&dir, r#"cargo run --bin ftpserver"#);
    let alice = r#"cargo run --bin ftpclient -- --nick alice --port 5555"#;
    let mut alice = start(&dir, &server, alice, "alice");
    alice.stdout.expect("online");
    let mut raw = start(&dir, &server, r#"cargo run --example raw_client"#, "raw");
    assert_eq!(
        alice.stdout.expect("<raw>"),
        "<raw> hello from a raw socket"
    );
    alice.send("hi raw");
    assert_eq!(
        raw.stdout.rest(),
        [
            "> HELLO ftpchat/1 raw",
            "< WELCOME raw",
            "> CHAT hello from a raw socket",
            "< USERS 2 alice raw",
            "< CHAT alice hi raw",
            "> QUIT",
            "< BYE goodbye",
        ]
    );
    assert!(raw.wait_exit().success());
    assert_eq!(alice.stdout.expect("raw left"), "* raw left (quit)");
}

/// Exercise 2: the traces of a conversation, on both ends.
#[test]
fn exercise_2_watch_a_conversation() {
    let dir = scratch_dir();
    let mut server = start_server(&dir, r#"cargo run --bin ftpserver -- --trace"#);
    let port = server.addr().port();
    let alice = r#"cargo run --bin ftpclient -- --nick alice --port 5555 --trace 2> alice.trace"#;
    let mut alice = start(&dir, &server, alice, "alice");
    alice.stdout.expect("online");
    let bob = r#"cargo run --bin ftpclient -- --nick bob --port 5555"#;
    let mut bob = start(&dir, &server, bob, "bob");
    bob.stdout.expect("online");
    alice.stdout.expect("bob joined");
    alice.send("hello");
    assert_eq!(bob.stdout.expect("hello"), "<alice> hello");
    alice.send("/msg bob hi");
    assert_eq!(bob.stdout.expect("hi"), "*alice* hi");
    alice.send("/who");
    assert_eq!(alice.stdout.expect("users"), "* 2 users online: alice, bob");

    let frames = trace_until(&mut server.stderr, "PRIVATE alice hi");
    let (a, b) = (
        peer_of(&frames, "HELLO ftpchat/1 alice"),
        peer_of(&frames, "HELLO ftpchat/1 bob"),
    );
    for frame in [
        format!("<- {a} CHAT hello"),
        format!("-> {b} CHAT alice hello"),
        format!("<- {a} PRIVATE bob hi"),
        format!("-> {b} PRIVATE alice hi"),
    ] {
        assert!(
            frames.iter().any(|line| line.ends_with(&frame)),
            "{frame} missing from {frames:#?}"
        );
    }
    alice.close_input();
    assert!(alice.wait_exit().success());
    let trace = std::fs::read_to_string(dir.join("alice.trace")).unwrap();
    let s = format!("127.0.0.1:{port}");
    for frame in [
        format!("-> {s} CHAT hello"),
        format!("-> {s} PRIVATE bob hi"),
        format!("-> {s} WHO"),
        format!("<- {s} USERS 2 alice bob"),
    ] {
        assert!(trace.contains(&frame), "{frame} missing from {trace}");
    }
}

/// Exercise 3: a 5000-byte file in five 1000-byte chunks, each traced by
/// its header, with the checksum `cksum` prints.
#[test]
fn exercise_3_a_file_frame_by_frame() {
    let dir = scratch_dir();
    run(&dir, r#"head -c 5000 /dev/urandom > five-k.bin"#);
    let mut server = start_server(&dir, r#"cargo run --bin ftpserver -- --trace"#);
    let alice = r#"cargo run --bin ftpclient -- --nick alice --port 5555 --chunk-size 1000"#;
    let mut alice = start(&dir, &server, alice, "alice");
    alice.stdout.expect("online");
    let bob = r#"cargo run --bin ftpclient -- --nick bob --port 5555 --dir rec-bob --yes"#;
    let mut bob = start(&dir, &server, bob, "bob");
    bob.stdout.expect("online");
    alice.stdout.expect("bob joined");
    alice.send("transfer five-k.bin");
    bob.stdout.expect("* received five-k.bin");

    let sums = run(&dir, r#"cksum five-k.bin rec-bob/five-k.bin"#);
    let checksum = sums[0].split(' ').next().unwrap().to_string();
    assert_eq!(
        sums,
        [
            format!("{checksum} 5000 five-k.bin"),
            format!("{checksum} 5000 rec-bob/five-k.bin")
        ]
    );
    let frames = trace_until(&mut server.stderr, "DELIVERED 1 bob ok");
    let (a, b) = (
        peer_of(&frames, "HELLO ftpchat/1 alice"),
        peer_of(&frames, "HELLO ftpchat/1 bob"),
    );
    let count = |frame: String| frames.iter().filter(|l| l.ends_with(&frame)).count();
    // The stamp in the middle is the file's size and time in hexadecimal.
    let offers = |start: String, end: &str| {
        let offer = |l: &&String| l.contains(&start) && l.ends_with(end);
        frames.iter().filter(offer).count()
    };
    assert_eq!(
        offers(format!("<- {a} SEND 1 5000 1388-"), " * five-k.bin"),
        1
    );
    assert_eq!(
        offers(format!("-> {b} FILE 1 5000 1388-"), " alice five-k.bin"),
        1
    );
    assert_eq!(count(format!("<- {a} DATA 1 1000 (+1000 bytes)")), 5);
    assert_eq!(count(format!("-> {b} DATA 1 1000 (+1000 bytes)")), 5);
    assert_eq!(count(format!("<- {a} DONE 1 {checksum}")), 1);
    assert_eq!(count(format!("-> {b} DONE 1 {checksum}")), 1);
    assert_eq!(count(format!("<- {b} RECEIVED 1 ok")), 1);
    assert_eq!(count(format!("-> {a} DELIVERED 1 bob ok")), 1);
}

/// Exercise 4: a plain client (a raw socket, as `nc`), and an escape
/// sequence that everyone sees instead of obeying.
#[test]
fn exercise_4_plain_clients_and_text_that_fights_back() {
    let dir = scratch_dir();
    let mut server = start_server(&dir, r#"cargo run --bin ftpserver -- --trace"#);
    let alice = r#"cargo run --bin ftpclient -- --nick alice --port 5555"#;
    let mut alice = start(&dir, &server, alice, "alice");
    alice.stdout.expect("online");
    let mut carol = RawClient::join_plain(server.addr(), "carol");
    let c = carol.stream.local_addr().unwrap();
    let mallory =
        r#"cargo run --example raw_client -- 127.0.0.1:5555 mallory "$(printf '\033[2J')gotcha""#;
    let mut mallory = start(&dir, &server, mallory, "mallory");
    assert_eq!(alice.stdout.expect("gotcha"), "<mallory> ^[[2Jgotcha");
    assert_eq!(carol.read_until("gotcha"), "<mallory> ^[[2Jgotcha\r\n");
    assert_eq!(mallory.stdout.expect("CHAT"), "> CHAT ?[2Jgotcha");

    let frames = trace_until(&mut server.stderr, &format!("{c} <mallory> ^[[2Jgotcha^M"));
    let m = peer_of(&frames, "HELLO ftpchat/1 mallory");
    assert!(
        frames
            .iter()
            .any(|l| l.ends_with(&format!("<- {m} CHAT ^[[2Jgotcha"))),
        "{frames:#?}"
    );
    assert!(frames.iter().all(|l| !l.contains('\x1b')), "{frames:#?}");
}

/// Exercise 5: a file in 1 KiB chunks, then in the default chunks, from
/// release-build commands (run here with the test's builds).
#[test]
fn exercise_5_chunk_size() {
    let dir = scratch_dir();
    let bytes = test_bytes(300_000, 5);
    std::fs::write(dir.join("big.bin"), &bytes).unwrap();
    let server = start_server(&dir, r#"cargo run --release --bin ftpserver"#);
    let bob =
        r#"cargo run --release --bin ftpclient -- --nick bob --port 5555 --dir rec-bob --yes"#;
    let mut bob = start(&dir, &server, bob, "bob");
    bob.stdout.expect("online");
    let small_chunks =
        r#"cargo run --release --bin ftpclient -- --nick alice --port 5555 --chunk-size 1024"#;
    let default_chunks = r#"cargo run --release --bin ftpclient -- --nick alice --port 5555"#;
    for (round, alice) in [small_chunks, default_chunks].into_iter().enumerate() {
        let mut alice = start(&dir, &server, alice, "alice");
        alice.stdout.expect("online");
        alice.send("transfer big.bin");
        let sent = alice.stdout.expect("* sent big.bin");
        assert!(sent.contains("MiB/s"), "the summary gives the rate: {sent}");
        let received = bob.stdout.expect("* received big.bin");
        let name = ["big.bin", "big-1.bin"][round];
        assert!(received.contains(&format!("rec-bob/{name}")), "{received}");
        assert_eq!(
            std::fs::read(dir.join("rec-bob").join(name)).unwrap(),
            bytes
        );
        alice.send("/quit");
        assert!(alice.wait_exit().success());
    }
}

/// Exercise 6: a frozen client is cut off after the stall timeout, while
/// the others chat at once and get the file.
#[test]
fn exercise_6_a_client_that_stops_reading() {
    let dir = scratch_dir();
    // Much larger than the socket buffers between the server and Carol,
    // who is frozen just after she accepts it.
    let bytes = test_bytes(64 * 1024 * 1024, 6);
    std::fs::write(dir.join("huge.bin"), &bytes).unwrap();
    let mut server = start_server(&dir, r#"cargo run --bin ftpserver -- --stall-timeout 3"#);
    let alice = r#"cargo run --bin ftpclient -- --nick alice --port 5555"#;
    let mut alice = start(&dir, &server, alice, "alice");
    alice.stdout.expect("online");
    let bob = r#"cargo run --bin ftpclient -- --nick bob --port 5555 --dir rec-bob --yes"#;
    let mut bob = start(&dir, &server, bob, "bob");
    bob.stdout.expect("online");
    let carol = r#"cargo run --bin ftpclient -- --nick carol --port 5555 --dir rec-carol --yes"#;
    let mut carol = start(&dir, &server, carol, "carol");
    carol.stdout.expect("online");
    alice.stdout.expect("carol joined");

    alice.send("transfer huge.bin");
    alice.stdout.expect("* offering huge.bin");
    carol.stdout.expect("* receiving huge.bin");
    signal(&carol, "STOP");
    bob.send("still here");
    let before = alice.stdout.until("<bob> still here");
    assert!(before.iter().all(|l| !l.contains("* sent")), "{before:?}");
    let log = server.stdout.expect("carol disconnected");
    assert!(
        log.ends_with("carol disconnected: not reading: no data accepted for 3 s"),
        "{log}"
    );
    bob.stdout.expect("* received huge.bin");
    assert_eq!(std::fs::read(dir.join("rec-bob/huge.bin")).unwrap(), bytes);
    assert!(
        alice
            .stderr
            .expect("did not reach")
            .starts_with("! huge.bin did not reach carol"),
    );
    // Thawed, Carol finds her connection cut, joins again, is offered the
    // file again, and resumes it from the part she kept.
    signal(&carol, "CONT");
    carol.stdout.expect("* reconnected");
    let resumed = carol.stdout.expect("* resuming huge.bin");
    assert!(resumed.contains(" from alice at "), "{resumed}");
    let received = carol.stdout.expect("* received huge.bin");
    assert!(received.contains(", resumed at "), "{received}");
    assert_eq!(
        std::fs::read(dir.join("rec-carol/huge.bin")).unwrap(),
        bytes
    );
    assert_eq!(list_dir(&dir.join("rec-carol")), ["huge.bin"]);
}

/// Exercise 8: PING and PONG after silence, a frozen client dropped for
/// not answering, and the client joining again once it thaws.
#[test]
fn exercise_8_keepalive() {
    let dir = scratch_dir();
    let mut server = start_server(
        &dir,
        r#"cargo run --bin ftpserver -- --keepalive 2 --trace"#,
    );
    let alice = r#"cargo run --bin ftpclient -- --nick alice --port 5555"#;
    let mut alice = start(&dir, &server, alice, "alice");
    alice.stdout.expect("online");
    let frames = trace_until(&mut server.stderr, "PONG 1");
    let a = peer_of(&frames, "HELLO ftpchat/1 alice");
    assert!(
        frames
            .iter()
            .any(|l| l.ends_with(&format!("-> {a} PING 1")))
    );
    assert!(frames.last().unwrap().ends_with(&format!("<- {a} PONG 1")));
    signal(&alice, "STOP");
    let error = "ERROR ping-timeout no reply to PING within 2 s; closing";
    trace_until(&mut server.stderr, &format!("-> {a} {error}"));
    let log = server.stdout.expect("alice left");
    assert!(
        log.ends_with("alice left (no reply to PING within 2 s)"),
        "{log}"
    );
    signal(&alice, "CONT");
    let server_addr = server.addr();
    assert_eq!(
        alice.stdout.expect("* reconnected"),
        format!("* reconnected to {server_addr} as alice")
    );
    server.stdout.expect("joined as alice");
    alice.send("/quit");
    assert_eq!(alice.wait_exit().code(), Some(0));
}

/// Exercise 9: the same programs over IPv6, and IPv4 clients of a server
/// listening on `::`.
#[test]
fn exercise_9_ipv6() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let dir = scratch_dir();
    let mut server = start_server(&dir, r#"cargo run --bin ftpserver -- --host ::1"#);
    let s = server.addr();
    assert!(s.is_ipv6(), "{s}");
    let alice = r#"cargo run --bin ftpclient -- --host ::1 --port 5555 --nick alice --trace"#;
    let mut alice = start(&dir, &server, alice, "alice");
    alice.stdout.expect("online");
    let hello = alice.stderr.expect("HELLO");
    assert!(
        hello.ends_with(&format!("-> {s} HELLO ftpchat/1 alice")),
        "{hello}"
    );
    let mut raw = start(
        &dir,
        &server,
        r#"cargo run --example raw_client -- [::1]:5555"#,
        "raw",
    );
    assert_eq!(raw.stdout.expect("WELCOME"), "< WELCOME raw");
    assert!(raw.wait_exit().success());
    assert!(
        server
            .stdout
            .expect("connected from")
            .contains("connected from [::1]:")
    );
    drop(server);

    let mut server = start_server(&dir, r#"cargo run --bin ftpserver -- --host ::"#);
    assert!(server.addr().ip().is_unspecified());
    let bob = r#"cargo run --bin ftpclient -- --nick bob --port 5555"#;
    let mut bob = start(&dir, &server, bob, "bob");
    let v6_only = std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only");
    if v6_only.is_ok_and(|value| value.trim() == "0") {
        bob.stdout.expect("online");
        let log = server.stdout.expect("connected from");
        assert!(log.contains("connected from [::ffff:127.0.0.1]:"), "{log}");
    }
}
