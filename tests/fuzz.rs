//! Randomised tests with a fixed seed: random and mutated frames fed to the
//! decoder (100,000) and to a live server (1,200, over 8 connections).
//!
//! The generator is a few lines of xorshift, so a failure can be replayed
//! exactly: each test prints its seed, and `FTPCHAT_FUZZ_SEED=N cargo test
//! --test fuzz` runs it again with seed N.

mod common;

use common::{Dribble, RawClient, Rng, ServerProcess, scratch_dir};
use ftpchat::protocol::{
    ClientMessage, Delivery, MAX_LINE_LEN, PROTOCOL_VERSION, ProtocolError, ServerMessage,
    read_line,
};
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 0x5EED_F7C4_A720_2611;

/// The seed for this run: `FTPCHAT_FUZZ_SEED` if set, else a fixed one.
fn seed(test: &str) -> u64 {
    let seed = std::env::var("FTPCHAT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    println!("{test}: seed {seed} (replay with FTPCHAT_FUZZ_SEED={seed})");
    seed
}

/// Well-formed frames of every kind, in both directions: the material the
/// mutations start from.
fn corpus() -> Vec<Vec<u8>> {
    let client = [
        ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            nick: "fuzzy",
        },
        ClientMessage::Chat {
            text: "hello there",
        },
        ClientMessage::Private {
            to: "fuzzy",
            text: "psst",
        },
        ClientMessage::Who,
        ClientMessage::Quit,
        ClientMessage::Ping { token: "7" },
        ClientMessage::Pong { token: "7" },
        ClientMessage::Send {
            id: 1,
            size: 5,
            stamp: "5-1",
            to: "*",
            name: "a b.txt",
        },
        ClientMessage::Done {
            id: 1,
            checksum: 123_456,
        },
        ClientMessage::Cancel {
            id: 1,
            reason: "changed my mind",
        },
        ClientMessage::Received {
            id: 1,
            outcome: Delivery::Failed("disk full"),
        },
    ];
    let server = [
        ServerMessage::Welcome { nick: "fuzzy" },
        ServerMessage::Chat {
            from: "a",
            text: "hi",
        },
        ServerMessage::Users {
            total: 2,
            nicks: "a b",
        },
        ServerMessage::Left {
            nick: "a",
            reason: "quit",
        },
        ServerMessage::Accepted {
            id: 1,
            recipients: 3,
        },
        ServerMessage::Refused {
            id: 1,
            code: "no-recipients",
            text: "nobody",
        },
        ServerMessage::Delivered {
            id: 1,
            nick: "b",
            outcome: Delivery::Ok,
        },
        ServerMessage::File {
            id: 9,
            size: 5,
            stamp: "-",
            from: "a",
            name: "x.bin",
        },
        ServerMessage::Error {
            code: "bad-message",
            text: "oops",
        },
    ];
    let mut frames: Vec<Vec<u8>> = client.iter().map(ClientMessage::to_bytes).collect();
    frames.extend(server.iter().map(ServerMessage::to_bytes));
    frames.push(b"DATA 1 5\nhello".to_vec());
    frames.push(b"plainnick\r\n".to_vec());
    frames.push(b"/msg fuzzy hi\n".to_vec());
    frames
}

/// A random change to `frame`, or several.
fn mutate(rng: &mut Rng, frame: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    const INTERESTING: &[u8] = b"\n\r\0 09*/\\.\x1b\xff\xc3";
    let mut bytes = frame.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        let last = bytes.len().saturating_sub(1);
        match rng.below(8) {
            0 if !bytes.is_empty() => bytes[at.min(last)] ^= 1 << rng.below(8),
            1 if !bytes.is_empty() => bytes[at.min(last)] = *rng.pick(INTERESTING),
            2 => bytes.insert(at, *rng.pick(INTERESTING)),
            3 if at < bytes.len() => {
                bytes.remove(at);
            }
            4 => bytes.truncate(at),
            5 => bytes.extend_from_slice(rng.pick(corpus).as_slice()),
            6 => {
                // A number far too large for any field.
                let digits = "9".repeat(1 + rng.below(30));
                bytes.splice(at..at, digits.bytes());
            }
            _ => {
                let repeat = bytes[..at].to_vec();
                bytes.extend_from_slice(&repeat);
            }
        }
    }
    bytes
}

/// Random bytes, with line endings now and then so they split into lines.
fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(300);
    (0..len)
        .map(|_| {
            if rng.below(20) == 0 {
                b'\n'
            } else {
                rng.next() as u8
            }
        })
        .collect()
}

/// Decodes everything in `input` as the server and the client would, and
/// checks what decodes: each message, encoded again and decoded, is the
/// same message. Errors are fine; panics and wrong answers are not.
fn decode_all(input: &[u8], step: usize) -> usize {
    let mut reader = BufReader::with_capacity(64, Dribble { data: input, step });
    let mut buf = Vec::new();
    let mut decoded = 0;
    loop {
        let line = match read_line(&mut reader, &mut buf) {
            Ok(Some(line)) => line,
            Ok(None) => return decoded,
            Err(error) => {
                assert!(buf.len() <= MAX_LINE_LEN, "buffered past the limit");
                if let Some(fault) = ProtocolError::find(&error) {
                    if fault.code.breaks_framing() {
                        return decoded;
                    }
                    continue;
                }
                return decoded; // end of input inside a line
            }
        };
        // Whatever decodes must encode to bytes that decode to the same
        // message: encoding it a second time gives the same bytes.
        let again = |bytes: &[u8]| {
            std::str::from_utf8(bytes)
                .unwrap()
                .trim_end_matches('\n')
                .to_string()
        };
        if let Ok(message) = ClientMessage::decode(line) {
            decoded += 1;
            let bytes = message.to_bytes();
            let twice = ClientMessage::decode(&again(&bytes)).map(|m| m.to_bytes());
            assert_eq!(twice, Ok(bytes), "{line:?}");
            if let ClientMessage::Data { len, .. } = message {
                let mut chunk = vec![0; len];
                if reader.read_exact(&mut chunk).is_err() {
                    return decoded;
                }
            }
        } else if let Ok(message) = ServerMessage::decode(line) {
            decoded += 1;
            let bytes = message.to_bytes();
            let twice = ServerMessage::decode(&again(&bytes)).map(|m| m.to_bytes());
            assert_eq!(twice, Ok(bytes), "{line:?}");
        }
    }
}

/// 100,000 random and mutated frames through the decoder: no panic, no
/// line buffered past the limit, and every message that decodes survives
/// a round trip.
#[test]
fn the_decoder_survives_random_and_mutated_frames() {
    let mut rng = Rng::new(seed("the_decoder_survives_random_and_mutated_frames"));
    let corpus = corpus();
    let mut decoded = 0;
    for _ in 0..100_000 {
        let input = match rng.below(4) {
            0 => random_bytes(&mut rng),
            _ => {
                let frame = rng.pick(&corpus).clone();
                mutate(&mut rng, &frame, &corpus)
            }
        };
        decoded += decode_all(&input, 1 + rng.below(40));
    }
    println!("{decoded} frames decoded as valid messages");
    assert!(
        decoded > 10_000,
        "the mutations should leave many frames valid"
    );
}

/// Threads and open files of a process, from `/proc`.
fn threads_and_fds(pid: u32) -> (usize, usize) {
    let count = |dir: String| std::fs::read_dir(dir).map_or(0, Iterator::count);
    (
        count(format!("/proc/{pid}/task")),
        count(format!("/proc/{pid}/fd")),
    )
}

/// 1,200 random and mutated frames over 8 connections to a real server:
/// afterwards it is still up, answers a well-behaved client, and has
/// released every thread and connection the fuzzing used.
#[test]
fn a_live_server_survives_random_and_mutated_frames() {
    let seed = seed("a_live_server_survives_random_and_mutated_frames");
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--handshake-timeout", "2"]);
    let pid = server.pid();
    // Take the baseline once a client has been served (so the accept
    // thread is surely running), with that client still connected.
    let mut probe = RawClient::join_full(server.addr(), "probe");
    probe.send(b"WHO\n");
    assert_eq!(probe.read_line(), "USERS 1 probe\n");
    let before = threads_and_fds(pid);

    let corpus = corpus();
    let connections: Vec<_> = (0..8u64)
        .map(|n| {
            let mut rng = Rng::new(seed ^ n);
            let mut frames = vec![if n % 2 == 0 {
                format!("HELLO ftpchat/1 fuzz{n}\n").into_bytes()
            } else {
                format!("fuzz{n}\n").into_bytes()
            }];
            for _ in 0..150 {
                frames.push(match rng.below(5) {
                    0 => random_bytes(&mut rng),
                    _ => {
                        let frame = rng.pick(&corpus).clone();
                        mutate(&mut rng, &frame, &corpus)
                    }
                });
            }
            let addr = server.addr();
            thread::spawn(move || {
                let stream = TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                // Read whatever the server answers, so it never blocks on us.
                let mut reading = stream.try_clone().unwrap();
                let drain = thread::spawn(move || {
                    let mut sink = Vec::new();
                    let _ = reading.read_to_end(&mut sink);
                });
                for frame in frames {
                    if (&stream).write_all(&frame).is_err() {
                        break; // the server closed this connection: fine
                    }
                }
                let _ = stream.shutdown(Shutdown::Write);
                drain.join().unwrap();
            })
        })
        .collect();
    for connection in connections {
        connection.join().unwrap();
    }

    // Every fuzzing connection's threads and sockets are released.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = threads_and_fds(pid);
    while now != before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20)); // polling /proc for a count, with a deadline
        now = threads_and_fds(pid);
    }
    assert_eq!(now, before, "(threads, open files) before and after");

    // And the server still serves.
    let mut good = RawClient::join_full(server.addr(), "good");
    let mut other = RawClient::join_full(server.addr(), "other");
    good.read_until("JOINED other");
    good.send(b"WHO\n");
    assert_eq!(good.read_line(), "USERS 3 good other probe\n");
    good.send(b"CHAT still standing\n");
    // What the fuzzers said that was well formed came before `other`
    // joined: it is history, kept and sent as any chat would be.
    let mut line = other.read_line();
    while line.starts_with("HISTORY ") {
        line = other.read_line();
    }
    assert_eq!(line, "CHAT good still standing\n");
}
