//! Malformed and hostile input over raw sockets: each gets the answer
//! PROTOCOL.md defines, costs at most the one connection, and never
//! disturbs anyone else.

mod common;

use common::{ClientProcess, RawClient, ServerProcess, scratch_dir};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

/// Errors that leave the stream in step get an `ERROR` line, and the
/// connection goes on working.
#[test]
fn recoverable_errors_are_answered_and_the_connection_goes_on() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = RawClient::join_full(server.addr(), "alice");
    let cases: [(&[u8], &str); 12] = [
        (
            b"SEND 99999999999999999999 1 - * x\n",
            "ERROR bad-message SEND needs a transfer id (a whole number in range)\n",
        ),
        (
            b"SEND 1 -5 - * x\n",
            "ERROR bad-message SEND needs a size (a whole number in range)\n",
        ),
        (
            b"DONE 1 4294967296\n",
            "ERROR bad-message DONE needs a checksum (a whole number in range)\n",
        ),
        (
            b"FLY away\n",
            "ERROR unknown-command unknown command 'FLY'\n",
        ),
        (
            b"chat lowercase\n",
            "ERROR unknown-command unknown command 'chat'\n",
        ),
        (
            b"CHAT \xff\xfe\n",
            "ERROR bad-utf8 line is not valid UTF-8\n",
        ),
        (b"CHAT\n", "ERROR bad-message message text is empty\n"),
        (
            b"PRIVATE bob\n",
            "ERROR bad-message message text is empty\n",
        ),
        (
            b"WHO is there\n",
            "ERROR bad-message WHO takes no arguments\n",
        ),
        (
            b"HELLO ftpchat/1 alice\n",
            "ERROR already-registered already joined\n",
        ),
        (
            b"\x1b[2J\n",
            "ERROR unknown-command unknown command '^[[2J'\n",
        ),
        (b"PING 12345\n", "PONG 12345\n"),
    ];
    for (sent, answer) in cases {
        alice.send(sent);
        assert_eq!(
            alice.read_line(),
            answer,
            "{:?}",
            String::from_utf8_lossy(sent)
        );
    }
    let too_long = format!("CHAT {}\n", "x".repeat(2049));
    alice.send(too_long.as_bytes());
    assert_eq!(
        alice.read_line(),
        "ERROR bad-message message text is 2049 bytes; the limit is 2048\n"
    );
    alice.send(b"WHO\n");
    assert_eq!(alice.read_line(), "USERS 1 alice\n");
}

/// A line longer than the limit is refused before it is all read, and the
/// connection is closed; other clients notice nothing.
#[test]
fn over_long_line_closes_only_that_connection() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    bob.read_until("JOINED mallory");

    mallory.send(&vec![b'A'; 10_000]);
    assert_eq!(
        mallory.read_line(),
        "ERROR line-too-long line longer than 4096 bytes; closing\n"
    );
    assert_eq!(mallory.expect_close(), "");
    assert_eq!(bob.read_line(), "LEFT mallory line-too-long\n");
    bob.send(b"WHO\n");
    assert_eq!(bob.read_line(), "USERS 1 bob\n");
}

/// Control characters and NUL bytes in chat text reach full clients as
/// sent, and plain clients only in visible form.
#[test]
fn control_characters_are_relayed_but_shown_harmlessly() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = RawClient::join_full(server.addr(), "alice");
    let mut carol = RawClient::join_plain(server.addr(), "carol");
    let mut bob = RawClient::join_full(server.addr(), "bob");
    carol.read_until("bob joined");

    alice.send(b"CHAT a\x00b\x1b[2J\rfake\n");
    assert_eq!(bob.read_line(), "CHAT alice a\x00b\x1b[2J\rfake\n");
    assert_eq!(carol.read_line(), "<alice> a^@b^[[2J^Mfake\r\n");
}

/// A `HELLO` with another protocol version is refused and closed.
#[test]
fn unknown_protocol_version_is_refused() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut raw = RawClient::connect(server.addr());
    raw.send(b"HELLO ftpchat/9 zed\n");
    assert_eq!(
        raw.read_line(),
        "ERROR bad-version this server speaks ftpchat/1\n"
    );
    assert_eq!(raw.expect_close(), "");
}

/// Binary garbage as a first line is a refused nickname, not a crash.
#[test]
fn garbage_before_the_handshake_is_refused() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut raw = RawClient::connect(server.addr());
    raw.send(b"\x00\x01\x02\n");
    assert_eq!(
        raw.read_line(),
        "! nickname contains the control character \\u{0}; type another nickname\r\n"
    );
    raw.send(b"\xc3\x28\n");
    assert_eq!(raw.read_line(), "ERROR bad-utf8 line is not valid UTF-8\n");
    assert_eq!(raw.expect_close(), "");
    // The server is still serving.
    let mut ok = RawClient::join_full(server.addr(), "ok");
    ok.send(b"WHO\n");
    assert_eq!(ok.read_line(), "USERS 1 ok\n");
}

/// A connection that never sends a nickname is closed after the
/// handshake timeout.
#[test]
fn silent_connection_is_closed_after_the_handshake_timeout() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--handshake-timeout", "0.3"]);
    let mut raw = RawClient::connect(server.addr());
    assert_eq!(
        raw.read_line(),
        "ERROR handshake-timeout no nickname within 0.3 s; closing\n"
    );
    assert_eq!(raw.expect_close(), "");
}

/// A person who connects with `nc` and waits is asked for a nickname
/// after a second of silence; a program, which speaks at once, never is.
#[test]
fn a_silent_newcomer_is_asked_for_a_nickname() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut person = RawClient::connect(server.addr());
    let started = Instant::now();
    assert_eq!(
        person.read_line(),
        "* welcome to ftpchat! Type a nickname and press Enter.\r\n"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    person.send(b"dave\n");
    assert!(
        person
            .read_line()
            .starts_with("* welcome to ftpchat, dave!")
    );
}

/// The handshake's time runs from the moment of connection: a client
/// that trickles its `HELLO` a byte at a time is closed when the time is
/// up, however steadily the bytes come (the slowloris attack).
#[test]
fn a_trickled_handshake_runs_out_of_time() {
    let dir = scratch_dir();
    let args = ["--port", "0", "--handshake-timeout", "1.5"];
    let server = ServerProcess::start_with(&dir, &args);
    let mut slow = RawClient::connect(server.addr());
    let started = Instant::now();
    for &byte in b"HELLO ftpchat/1 slowpoke\n" {
        // The attacker's pace, not a wait for the server.
        thread::sleep(Duration::from_millis(100));
        if slow.stream.write_all(&[byte]).is_err() {
            break; // the server has closed the connection
        }
    }
    assert_eq!(
        slow.read_line(),
        "ERROR handshake-timeout no nickname within 1.5 s; closing\n"
    );
    assert!(slow.expect_close().is_empty());
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

/// Beyond `--max-clients`, a new connection is told the server is full
/// and closed; those already in are unaffected.
#[test]
fn server_full_refuses_the_extra_client() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--max-clients", "2"]);
    let mut alice = RawClient::join_full(server.addr(), "alice");
    let _bob = RawClient::join_plain(server.addr(), "bob");
    let mut third = RawClient::connect(server.addr());
    assert_eq!(
        third.read_line(),
        "ERROR server-full the server is full; try again later\n"
    );
    assert_eq!(third.expect_close(), "");
    alice.read_until("JOINED bob");
    alice.send(b"WHO\n");
    assert_eq!(alice.read_line(), "USERS 2 alice bob\n");
}

/// A count of users is digits only, as every number on the wire: a
/// server that sends `USERS +2` is not understood (and the client says
/// so and carries on), where `str::parse` alone would have taken it.
#[test]
fn a_count_of_users_with_a_sign_is_not_understood() {
    let dir = scratch_dir();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake_server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut hello = String::new();
        reader.read_line(&mut hello).unwrap();
        assert_eq!(hello, "HELLO ftpchat/1 bob\n");
        let greeting = b"WELCOME bob\nUSERS +2 alice bob\nUSERS 2 alice bob\n";
        (&stream).write_all(greeting).unwrap();
        let mut quit = String::new();
        reader.read_line(&mut quit).unwrap();
        assert_eq!(quit, "QUIT\n");
        (&stream).write_all(b"BYE goodbye\n").unwrap();
    });
    let mut bob = ClientProcess::start(&dir, addr, &["--nick", "bob"]);
    assert_eq!(
        bob.stderr.next().unwrap(),
        "! could not understand the server: USERS needs a count of users (a whole number in range)"
    );
    assert_eq!(bob.stdout.expect("online"), "* 2 users online: alice, bob");
    bob.close_input();
    assert_eq!(bob.wait_exit().code(), Some(0));
    fake_server.join().unwrap();
}

/// A `DATA` chunk must arrive whole within three stall timeouts of its
/// header: one trickled in a byte at a time is cut off (and its recipient
/// keeps what it had, as for any lost sender), whereas a pause between
/// chunks is no offence.
#[test]
fn a_trickled_chunk_runs_out_of_time() {
    let dir = scratch_dir();
    let args = ["--port", "0", "--stall-timeout", "0.5"];
    let server = ServerProcess::start_with(&dir, &args);
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let mut slow = RawClient::join_full(server.addr(), "slow");
    bob.read_until("JOINED slow");
    slow.send(b"SEND 1 100 - bob x\n");
    bob.read_until("FILE 1 ");
    bob.send(b"ACCEPT 1 0\n");
    slow.read_until("RECEIVING 1 bob 0");
    // The attacker first idles for most of the 1.5 s allowed without
    // data, so that the rule for a sender that stopped sending (which
    // would cancel the file) falls due while its chunk is arriving: the
    // chunk's own deadline must answer, and the recipient keep its part.
    thread::sleep(Duration::from_millis(1000));
    let started = Instant::now();
    slow.send(b"DATA 1 100\n");
    for _ in 0..100 {
        // The attacker's pace, not a wait for the server.
        thread::sleep(Duration::from_millis(50));
        if slow.stream.write_all(b"x").is_err() {
            break; // the server has closed the connection
        }
    }
    assert_eq!(
        slow.read_until("ERROR"),
        "ERROR stalled a chunk must arrive within 1.5 s of its header; closing\n"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(
        bob.read_until("PAUSED"),
        "PAUSED 1 the sender's connection was lost (too slow)\n"
    );
}
