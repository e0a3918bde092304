//! Flow control: a sender never sends more than the server lets it, so
//! the server keeps reading it (its chat and its cancel come through at
//! once, however slow its recipients), and a recipient that acknowledges
//! what it reads gets chat promptly, however much file is queued for it.

mod common;

use common::{ClientProcess, RawClient, ServerProcess, client_dir, scratch_dir, test_bytes};
use ftpchat::protocol::flow::{RECEIVE_WINDOW_BYTES, SEND_WINDOW_BYTES};
use std::fs;
use std::time::{Duration, Instant};

/// While a sender's file waits for a recipient that has stopped reading,
/// a chat line the sender types still reaches the room at once: the
/// server never stops reading a sender.
#[test]
fn a_senders_chat_is_not_stuck_behind_its_file() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--stall-timeout", "60"]);
    let mut bob = ClientProcess::join(&client_dir(&dir, "bob"), server.addr(), "bob");
    let mut dave = RawClient::join_full(server.addr(), "dave");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    fs::write(alice_dir.join("big.bin"), test_bytes(64 * 1024 * 1024, 12)).unwrap();

    alice.send("transfer big.bin");
    dave.read_until("FILE 1 ");
    dave.send(b"ACCEPT 1 0\n"); // and never reads again
    bob.stdout.expect("* receiving big.bin");
    // Let the file fill every buffer on its way to dave: it cannot move.
    for i in 0..5 {
        let started = Instant::now();
        alice.send(&format!("still talking {i}"));
        bob.stdout.expect(&format!("<alice> still talking {i}"));
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "chat took {took:?}");
    }
    let progress = bob.stdout.rest_now();
    assert!(
        progress.iter().all(|line| !line.starts_with("* received")),
        "the file cannot have arrived with dave stuck: {progress:?}"
    );
}

/// A sender that ignores its credit and sends more than the windows
/// allow is refused, and the recipients are told; nothing more of it is
/// relayed.
#[test]
fn data_beyond_the_window_is_refused() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    bob.read_until("JOINED mallory");
    let chunk_len = 1024 * 1024;
    let chunks = 16;
    mallory.send(format!("SEND 1 {} - bob flood.bin\n", chunk_len * chunks).as_bytes());
    bob.read_until("FILE 1 ");
    // Bob keeps a window and acknowledges nothing: the data stops moving
    // once his window is full, so the credit stops coming back.
    bob.send(b"GOT 0\nACCEPT 1 0\n");
    mallory.read_until("RECEIVING 1 bob 0");
    let mut chunk = format!("DATA 1 {chunk_len}\n").into_bytes();
    chunk.resize(chunk.len() + chunk_len, 7);
    for _ in 0..chunks {
        mallory.send(&chunk); // ignoring every MORE
    }
    let refused = mallory.read_until("REFUSED 1 ");
    assert!(
        refused.starts_with("REFUSED 1 overrun a chunk of 1048576 bytes with credit for "),
        "{refused}"
    );
    // Bob gets at most the two windows' worth, then the cancel.
    let mut data = 0;
    loop {
        let line = bob.read_line();
        if let Some(len) = line.strip_prefix("DATA 1 ") {
            data += bob.read_bytes(len.trim().parse().unwrap()).len() as u64;
            bob.send(format!("GOT {len}").as_bytes());
            continue;
        }
        assert!(
            line.starts_with("CANCEL 1 the sender broke the rules: "),
            "{line}"
        );
        break;
    }
    assert!(data <= SEND_WINDOW_BYTES + RECEIVE_WINDOW_BYTES, "{data}");
}

/// A recipient that acknowledges what it reads gets a chat line after at
/// most one window of file data, however much more of the file is queued
/// for it.
#[test]
fn chat_to_an_acknowledging_recipient_waits_behind_one_window_at_most() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let mut carol = ClientProcess::join(&client_dir(&dir, "carol"), server.addr(), "carol");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    bob.read_until("JOINED alice");
    fs::write(alice_dir.join("huge.bin"), test_bytes(64 * 1024 * 1024, 13)).unwrap();

    alice.send("transfer huge.bin");
    bob.read_until("FILE 1 ");
    bob.send(b"GOT 0\nACCEPT 1 0\n"); // keeps a window, acknowledges nothing yet
    carol.stdout.expect("* receiving huge.bin");
    carol.send("over here");
    alice.stdout.expect("<carol> over here");
    let mut data = 0;
    loop {
        let line = bob.read_line();
        if let Some(len) = line.strip_prefix("DATA 1 ") {
            data += bob.read_bytes(len.trim().parse().unwrap()).len() as u64;
            continue;
        }
        if line == "CHAT carol over here\n" {
            break;
        }
    }
    assert!(
        data <= RECEIVE_WINDOW_BYTES,
        "{data} bytes of file before the chat"
    );
}
