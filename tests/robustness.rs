//! Slow, stuck, silent and dead peers; a server or client killed half way
//! through a file; and text built to attack a terminal.

mod common;

use common::{
    ClientProcess, RawClient, ServerProcess, client_dir, join_with, list_dir, scratch_dir, signal,
    test_bytes,
};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

/// While one client never reads and a large file is on its way to
/// everyone, chat between two others still arrives within a second; the
/// stuck client is disconnected after the stall timeout, with a log line,
/// and the file reaches the others.
#[test]
fn a_client_that_stops_reading_does_not_stall_the_room() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start_with(&dir, &["--port", "0", "--stall-timeout", "2"]);
    let mut carol = RawClient::join_full(server.addr(), "carol"); // will never read again
    let bob_dir = client_dir(&dir, "bob");
    let dave_dir = client_dir(&dir, "dave");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut dave = ClientProcess::join(&dave_dir, server.addr(), "dave");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    let bytes = test_bytes(64 * 1024 * 1024, 3);
    fs::write(alice_dir.join("big.bin"), &bytes).unwrap();

    alice.send("transfer big.bin");
    bob.stdout.expect("* receiving big.bin");
    dave.stdout.expect("* receiving big.bin");
    // Carol takes the file too, then never reads a byte of it.
    carol.send(b"ACCEPT 1 0\n");
    let mut slowest = Duration::ZERO;
    for i in 0..5 {
        let (from, to) = if i % 2 == 0 {
            (&mut bob, &mut dave)
        } else {
            (&mut dave, &mut bob)
        };
        let started = Instant::now();
        from.send(&format!("are you there? {i}"));
        to.stdout.expect(&format!("are you there? {i}"));
        slowest = slowest.max(started.elapsed());
    }
    println!("slowest chat line while carol was stuck: {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "chat took {slowest:?}");

    let log = server.stdout.expect("carol disconnected");
    assert!(
        log.ends_with("carol disconnected: not reading: no data accepted for 2 s"),
        "{log}"
    );
    for (home, client) in [(&bob_dir, &mut bob), (&dave_dir, &mut dave)] {
        client.stdout.expect("* received big.bin");
        assert!(fs::read(home.join("rec/big.bin")).unwrap() == bytes);
    }
    let sent = alice.stdout.expect("* sent big.bin");
    assert!(sent.contains(" to 2 of 3 in "), "{sent}");
    let failure = alice.stderr.expect("did not reach");
    assert_eq!(
        failure,
        "! big.bin did not reach carol yet: connection lost (not reading: no data accepted \
         for 2 s); it will be offered again when carol is back"
    );
    carol.expect_close(); // what was queued for it, then the end
}

/// A client that stops reading while the room floods it with chat is
/// disconnected once its send queue is full; the flood goes on for the
/// others.
#[test]
fn a_flood_to_a_stuck_client_fills_its_queue_and_it_is_cut_off() {
    let dir = scratch_dir();
    let args = ["--port", "0", "--stall-timeout", "60", "--chat-rate", "0"];
    let mut server = ServerProcess::start_with(&dir, &args);
    let _carol = RawClient::join_full(server.addr(), "carol"); // never reads
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let mut alice = RawClient::join_full(server.addr(), "alice");
    bob.read_until("JOINED alice");
    let line = format!("CHAT {}\n", "x".repeat(2000));
    let reader = thread::spawn(move || {
        // Bob reads everything, as a healthy client does: all the chat,
        // and somewhere in it the news that carol was cut off.
        let mut chat_lines = 0;
        let mut other = Vec::new();
        while chat_lines < 6000 {
            let line = bob.read_line();
            if line.starts_with("CHAT alice ") {
                chat_lines += 1;
            } else {
                other.push(line);
            }
        }
        other
    });
    for _ in 0..6000 {
        alice.send(line.as_bytes()); // 12 MB in all, far more than the queue holds
    }
    let other = reader.join().unwrap();
    assert_eq!(
        other,
        ["LEFT carol send queue full: over 4096 KiB unread\n"]
    );
    let log = server.stdout.expect("carol disconnected");
    assert!(
        log.ends_with("carol disconnected: send queue full: over 4096 KiB unread"),
        "{log}"
    );
}

/// A full client that stops answering (a machine that vanished without
/// closing its connection) is pinged, then dropped; one that answers
/// stays.
#[test]
fn a_silent_client_is_pinged_then_dropped() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--keepalive", "0.3"]);
    let mut scripted = ClientProcess::join(&client_dir(&dir, "erin"), server.addr(), "erin");
    let mut silent = RawClient::join_full(server.addr(), "silent");
    let mut alive = RawClient::join_full(server.addr(), "alive");
    // The client that answers does so on its own thread, promptly, for
    // several rounds of pings.
    let answering = thread::spawn(move || {
        for round in 1..=4 {
            let mut line = alive.read_line();
            while !line.starts_with("PING ") {
                line = alive.read_line(); // joins and leaves of the others
            }
            assert_eq!(line, format!("PING {round}\n"));
            alive.send(format!("PONG {round}\n").as_bytes());
        }
        alive
    });
    assert_eq!(silent.read_until("PING"), "PING 1\n");
    assert_eq!(
        silent.read_line(),
        "ERROR ping-timeout no reply to PING within 0.3 s; closing\n"
    );
    assert_eq!(silent.expect_close(), "");
    // The answering client stays, and so does the real client, which
    // answers by itself.
    let mut alive = answering.join().unwrap();
    alive.send(b"WHO\n");
    assert_eq!(alive.read_until("USERS"), "USERS 2 alive erin\n");
    scripted.send("still here");
    assert_eq!(alive.read_until("CHAT"), "CHAT erin still here\n");
}

/// A server that accepts the connection, then goes silent (a half-open
/// connection seen from the client) is given up on after two keep-alive
/// intervals.
#[test]
fn the_client_gives_up_on_a_silent_server() {
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
        (&stream).write_all(b"WELCOME bob\nUSERS 1 bob\n").unwrap();
        let mut ping = String::new();
        reader.read_line(&mut ping).unwrap();
        assert_eq!(ping, "PING 1\n"); // and it never answers
        let mut rest = String::new();
        let _ = reader.read_line(&mut rest); // until the client hangs up
    });
    let args = ["--nick", "bob", "--keepalive", "0.3", "--no-reconnect"];
    let mut bob = ClientProcess::start(&dir, addr, &args);
    assert_eq!(bob.wait_exit().code(), Some(1));
    assert_eq!(
        bob.stderr.rest(),
        [format!(
            "ftpclient: lost the connection to {addr}: no answer from the server for 0.6 s"
        )]
    );
    fake_server.join().unwrap();
}

/// A server that goes silent in the middle of a chunk is pinged there too,
/// and given up on after two keep-alive intervals, with the reason in
/// words.
#[test]
fn the_client_gives_up_on_a_server_silent_mid_chunk() {
    let dir = scratch_dir();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake_server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap(); // HELLO
        (&stream)
            .write_all(b"WELCOME bob\nUSERS 1 bob\nFILE 1 100 - alice x\n")
            .unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "ACCEPT 1 0\n");
        (&stream).write_all(b"DATA 1 100\n").unwrap();
        (&stream).write_all(&[b'x'; 50]).unwrap(); // and the rest never comes
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "PING 1\n");
        let mut rest = String::new();
        let _ = reader.read_line(&mut rest); // until the client hangs up
    });
    let args = ["--nick", "bob", "--keepalive", "0.3", "--no-reconnect"];
    let mut bob = ClientProcess::start(&dir, addr, &args);
    assert_eq!(bob.wait_exit().code(), Some(1));
    let errors = bob.stderr.rest();
    assert_eq!(
        errors.last().unwrap(),
        &format!("ftpclient: lost the connection to {addr}: no answer from the server for 0.6 s")
    );
    fake_server.join().unwrap();
}

/// A server, and alice half way through sending bob a 96 MiB file: bob
/// has seen it begin, and most of it is still on its way.
struct MidTransfer {
    server: ServerProcess,
    bob: ClientProcess,
    bob_dir: PathBuf,
    alice: ClientProcess,
}

impl MidTransfer {
    /// Both clients run with `--no-reconnect`: these tests are about how
    /// they end.
    fn start() -> MidTransfer {
        let dir = scratch_dir();
        let server = ServerProcess::start(&dir);
        let bob_dir = client_dir(&dir, "bob");
        let mut bob = join_with(&bob_dir, &server, "bob", &["--no-reconnect"]);
        let alice_dir = client_dir(&dir, "alice");
        let mut alice = join_with(&alice_dir, &server, "alice", &["--no-reconnect"]);
        fs::write(alice_dir.join("big.bin"), test_bytes(96 * 1024 * 1024, 5)).unwrap();
        alice.send("transfer big.bin");
        bob.stdout.expect("* receiving big.bin");
        MidTransfer {
            server,
            bob,
            bob_dir,
            alice,
        }
    }
}

/// A server killed (SIGKILL) in the middle of a file: the receiver says
/// so, keeps its partial file hidden (to resume from) and exits with 1;
/// the sender says its recipients may not have the file and exits with 1.
#[test]
fn a_server_killed_mid_transfer_leaves_only_a_hidden_partial_file() {
    let MidTransfer {
        mut server,
        mut bob,
        bob_dir,
        mut alice,
    } = MidTransfer::start();
    server.kill();

    assert_eq!(bob.wait_exit().code(), Some(1));
    let errors = bob.stderr.rest();
    assert!(
        errors[0].starts_with("! receiving big.bin from alice stopped at "),
        "{errors:?}"
    );
    assert!(
        errors[0]
            .ends_with("; the part received is kept, to resume when the file is offered again"),
        "{errors:?}"
    );
    assert!(errors[1].starts_with("ftpclient: "), "{errors:?}");
    assert_eq!(
        list_dir(&bob_dir.join("rec")),
        [".big.bin.part", ".big.bin.part.info"]
    );

    assert_eq!(alice.wait_exit().code(), Some(1));
    let errors = alice.stderr.rest();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("! sending big.bin stopped at "),
        "{errors:?}"
    );
    assert!(
        errors[0].ends_with("; its recipients may not have it"),
        "{errors:?}"
    );
    assert!(errors[1].starts_with("ftpclient: "), "{errors:?}");
    assert!(
        alice
            .stdout
            .rest()
            .iter()
            .all(|line| !line.starts_with("* sent"))
    );
}

/// A sending client killed half way: the server tells the receiver the
/// transfer is paused, the receiver keeps what it has (hidden, to resume
/// from), and the server goes on serving.
#[test]
fn a_sender_killed_mid_transfer_is_paused() {
    let MidTransfer {
        mut server,
        mut bob,
        bob_dir,
        mut alice,
    } = MidTransfer::start();
    alice.kill();
    let paused = bob.stdout.expect("big.bin from alice");
    assert!(
        paused.starts_with("! receiving big.bin from alice stopped at "),
        "{paused}"
    );
    assert!(
        paused.ends_with(
            ": the sender's connection was lost; the part received is kept, \
             to resume when the file is offered again"
        ),
        "{paused}"
    );
    assert_eq!(
        list_dir(&bob_dir.join("rec")),
        [".big.bin.part", ".big.bin.part.info"]
    );
    server.stdout.expect("alice left");
    bob.send("/who");
    assert_eq!(bob.stdout.expect("online"), "* 1 user online: bob");
}

/// Nothing another user sends can steer the terminal of a scripted
/// client: control characters and text-reversing characters come out
/// visible, in messages, private messages and file names alike.
#[test]
fn nothing_from_other_users_reaches_the_terminal_raw() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    mallory.send(b"CHAT \x1b[2J\x1b[Hclear\rfake\x07 \xe2\x80\xaetxt.exe \xc2\x9b31m\n");
    assert_eq!(
        bob.stdout.expect("<mallory>"),
        "<mallory> ^[[2J^[[Hclear^Mfake^G <U+202E>txt.exe <U+009B>31m"
    );
    mallory.send(b"PRIVATE bob \x1b]0;owned\x07\n");
    assert_eq!(bob.stdout.expect("*mallory*"), "*mallory* ^[]0;owned^G");
    mallory.send(b"SEND 1 0 - bob \x1b[31mred.txt\n");
    mallory.read_until("RECEIVING 1 bob 0");
    mallory.send(b"DONE 1 4294967295\n");
    let received = bob.stdout.expect("* received");
    assert!(
        received.starts_with("* received _[31mred.txt (0 bytes) from mallory in "),
        "{received}"
    );
    assert!(
        received.ends_with(", saved as rec/_[31mred.txt (cksum 4294967295)"),
        "{received}"
    );
    let everything = [bob.stdout.rest_now(), bob.stderr.rest_now()].concat();
    for line in everything {
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    }
}

/// A script whose input has already ended (as with `echo "transfer f" |
/// ftpclient`) still reports a file cut off by a dying server, and exits
/// with 1, not 0.
#[test]
fn a_finished_script_still_reports_a_transfer_cut_off() {
    // Every field is bound: an unbound one would be dropped (its process
    // killed) at once.
    let MidTransfer {
        mut server,
        bob: _bob,
        bob_dir: _,
        mut alice,
    } = MidTransfer::start();
    alice.close_input(); // the script has no more lines; the file is still on its way
    server.kill();
    assert_eq!(alice.wait_exit().code(), Some(1));
    let errors = alice.stderr.rest();
    assert!(
        errors[0].starts_with("! sending big.bin stopped at "),
        "{errors:?}"
    );
    assert!(
        errors[0].ends_with("; its recipients may not have it"),
        "{errors:?}"
    );
}

/// Text that would hide: a line of spaces, a tab or invisible characters
/// alone is refused as empty (never an empty-looking line for everyone),
/// invisible characters inside a message are shown to its readers, and no
/// nickname may hold one or start with `-`.
#[test]
fn text_that_hides_is_refused_or_shown() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = RawClient::join_full(server.addr(), "alice");
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut dave = RawClient::join_plain(server.addr(), "dave");
    alice.read_until("JOINED dave");
    for blank in ["CHAT    \n", "CHAT \t\n", "CHAT \u{200b}\u{feff}\n"] {
        alice.send(blank.as_bytes());
        assert_eq!(
            alice.read_line(),
            "ERROR bad-message message text is empty\n",
            "{blank:?}"
        );
    }
    dave.send("\u{200b}\r\n".as_bytes()); // typed by a plain client: nothing
    alice.send("CHAT pay\u{200b}pal.com is safe\n".as_bytes());
    assert_eq!(
        bob.stdout.expect("<alice>"),
        "<alice> pay<U+200B>pal.com is safe",
        "nothing from dave came first"
    );
    for nick in ["-x", "zero\u{200b}width"] {
        let mut raw = RawClient::connect(server.addr());
        raw.send(format!("HELLO ftpchat/1 {nick}\n").as_bytes());
        let refused = raw.read_line();
        assert!(refused.starts_with("ERROR bad-nick nickname "), "{refused}");
    }
}

/// A client that floods the room with chat gets its burst through, then
/// one warning; its further lines are dropped, and when it goes on it is
/// disconnected. The others' chat is not held up, and a person pasting a
/// few lines is never touched.
#[test]
fn a_chat_flood_is_warned_dropped_then_cut_off() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir); // the default limits
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let mut dave = RawClient::join_plain(server.addr(), "dave");
    let mut flooder = RawClient::join_full(server.addr(), "flooder");
    bob.read_until("JOINED flooder");
    let paste: String = (1..=10).map(|i| format!("pasted line {i}\r\n")).collect();
    dave.send(paste.as_bytes());
    for i in 1..=10 {
        assert_eq!(bob.read_line(), format!("CHAT dave pasted line {i}\n"));
    }
    let flood: String = (1..=100).map(|i| format!("CHAT spam {i}\n")).collect();
    flooder.send(flood.as_bytes());
    for i in 1..=20 {
        assert_eq!(bob.read_line(), format!("CHAT flooder spam {i}\n"));
    }
    assert_eq!(
        flooder.read_until("ERROR"),
        "ERROR flood too many lines: at most 20 at once, then one every 0.2 s; \
         lines are being dropped\n"
    );
    assert_eq!(flooder.read_line(), "ERROR flood too many lines; closing\n");
    flooder.expect_close();
    assert_eq!(bob.read_line(), "LEFT flooder flooding\n");
    dave.send(b"still here\r\n");
    assert_eq!(bob.read_line(), "CHAT dave still here\n");
}

/// With the default settings, a receiver frozen (SIGSTOP) in the middle of
/// a file holds the others for at most the stall timeout (10 s): then it
/// is disconnected, and the file goes on to them.
#[test]
fn a_frozen_receiver_costs_the_others_at_most_the_stall_timeout() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    let homes: Vec<PathBuf> = ["r1", "r2", "r3"].map(|n| client_dir(&dir, n)).to_vec();
    let mut receivers: Vec<ClientProcess> = ["r1", "r2", "r3"]
        .iter()
        .zip(&homes)
        .map(|(nick, home)| join_with(home, &server, nick, &["--no-reconnect"]))
        .collect();
    let alice_dir = client_dir(&dir, "alice");
    let bytes = test_bytes(64 * 1024 * 1024, 21);
    fs::write(alice_dir.join("big.bin"), &bytes).unwrap();
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    alice.send("transfer big.bin");
    receivers[2].stdout.expect("* receiving big.bin");
    signal(&receivers[2], "STOP");

    // Watch r1's partial file: the longest time it does not grow.
    let part = homes[0].join("rec/.big.bin.part");
    let saved = homes[0].join("rec/big.bin");
    let (mut last_len, mut last_change, mut longest) = (0, Instant::now(), Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(40);
    while !saved.exists() {
        assert!(Instant::now() < deadline, "r1 never got the file");
        let len = fs::metadata(&part).map(|m| m.len()).unwrap_or(last_len);
        if len != last_len {
            longest = longest.max(last_change.elapsed());
            (last_len, last_change) = (len, Instant::now());
        }
        thread::sleep(Duration::from_millis(20)); // sampling a file's size
    }
    println!("longest stand-still for r1: {longest:?}");
    assert!(longest < Duration::from_secs(12), "{longest:?}");
    let log = server.stdout.expect("r3 disconnected");
    // Its socket took nothing, or (if it had acknowledged data before it
    // froze) it acknowledged nothing: either way, for the stall timeout.
    assert!(
        log.contains("r3 disconnected: not reading: no data "),
        "{log}"
    );
    assert!(log.ends_with(" for 10 s"), "{log}");
    for receiver in &mut receivers[..2] {
        receiver.stdout.expect("* received big.bin");
    }
    assert!(fs::read(&saved).unwrap() == bytes);
    signal(&receivers[2], "CONT");
}
