//! `--trace`: every frame sent and received, one readable line each, on
//! standard error; file bytes never shown; nothing at all without it.

mod common;

use common::{ClientProcess, Lines, RawClient, ServerProcess, scratch_dir};
use std::net::SocketAddr;

/// Reads trace lines until one is `ARROW PEER FRAME` (after its
/// timestamp), checking the timestamp of each line read; returns the
/// frames read on the way (without timestamps), the match last.
fn until_frame(lines: &mut Lines, arrow: &str, peer: SocketAddr, frame: &str) -> Vec<String> {
    let wanted = format!("{arrow} {peer} {frame}");
    let mut frames = Vec::new();
    for line in lines.until(&wanted) {
        let (time, rest) = line.split_once(' ').expect("a trace line has fields");
        assert!(
            time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "not an RFC 3339 time: {line:?}"
        );
        frames.push(rest.to_string());
    }
    assert_eq!(frames.last(), Some(&wanted));
    frames
}

/// The frames of `frames` that went one way (`arrow`) with one peer, in
/// the order traced. Each such stream is traced by one thread (a
/// connection's reader, or its writer), so its order is the wire's; the
/// order *between* streams depends on how the threads were scheduled.
fn stream_of(frames: &[String], arrow: &str, peer: SocketAddr) -> Vec<String> {
    let prefix = format!("{arrow} {peer} ");
    frames
        .iter()
        .filter_map(|frame| frame.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

/// The server traces every frame of a conversation and of a file, each
/// connection's frames in wire order, and a chunk by its header only.
#[test]
fn server_traces_every_frame_in_order() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start_with(&dir, &["--port", "0", "--trace"]);
    let mut alice = RawClient::join_full(server.addr(), "alice");
    let a = alice.stream.local_addr().unwrap();
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let b = bob.stream.local_addr().unwrap();
    alice.read_until("JOINED bob");
    alice.send(b"CHAT hi\n");
    bob.read_until("CHAT alice hi");

    // A file whose bytes spell a protocol line must still not be shown.
    alice.send(b"SEND 1 21 - bob s.txt\n");
    bob.read_until("FILE 1 ");
    bob.send(b"ACCEPT 1 0\n");
    alice.read_until("RECEIVING 1 bob 0");
    alice.send(b"DATA 1 21\nCHAT do-not-print-me\nDONE 1 12345\n");
    bob.read_until("DONE ");
    bob.send(b"RECEIVED 1 ok\n");
    alice.read_until("DELIVERED 1 bob ok");
    let frames = until_frame(&mut server.stderr, "->", a, "DELIVERED 1 bob ok");

    assert!(
        !frames.join("\n").contains("do-not-print-me"),
        "{frames:#?}"
    );
    assert_eq!(
        stream_of(&frames, "<-", a),
        [
            "HELLO ftpchat/1 alice",
            "CHAT hi",
            "SEND 1 21 - bob s.txt",
            "DATA 1 21 (+21 bytes)",
            "DONE 1 12345",
        ]
    );
    assert_eq!(
        stream_of(&frames, "->", a),
        [
            "WELCOME alice",
            "USERS 1 alice",
            "JOINED bob",
            "ACCEPTED 1 1",
            "RECEIVING 1 bob 0",
            "DELIVERED 1 bob ok",
        ]
    );
    assert_eq!(
        stream_of(&frames, "<-", b),
        ["HELLO ftpchat/1 bob", "ACCEPT 1 0", "RECEIVED 1 ok"]
    );
    assert_eq!(
        stream_of(&frames, "->", b),
        [
            "WELCOME bob",
            "USERS 2 alice bob",
            "CHAT alice hi",
            "FILE 1 21 - alice s.txt",
            "DATA 1 21 (+21 bytes)",
            "DONE 1 12345",
        ]
    );
    assert_eq!(frames.len(), 20, "{frames:#?}");
}

/// A plain client's lines are traced as text: its `\r\n` endings and a
/// peer's escape sequences are shown, never obeyed.
#[test]
fn plain_text_and_control_characters_are_made_visible() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start_with(&dir, &["--port", "0", "--trace"]);
    let mut carol = RawClient::join_plain(server.addr(), "carol");
    let c = carol.stream.local_addr().unwrap();
    carol.send(b"\x1b[2Jboo\n/nope\n");
    carol.read_until("unknown command");

    let error = "! unknown command /nope; type /help for the list^M";
    let frames = until_frame(&mut server.stderr, "->", c, error);
    assert_eq!(stream_of(&frames, "<-", c), ["carol", "^[[2Jboo", "/nope"]);
    assert_eq!(
        stream_of(&frames, "->", c),
        [
            "* welcome to ftpchat, carol! Type a line to talk to everyone, /help for commands^M",
            "* 1 user online: carol^M",
            error,
        ]
    );
}

/// The client traces what it sends and receives, the server's address
/// as the peer; its chat output on stdout is unchanged.
#[test]
fn client_traces_its_side_of_the_conversation() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let s = server.addr();
    let mut alice = ClientProcess::start(&dir, s, &["--nick", "alice", "--trace"]);
    assert_eq!(alice.stdout.expect("online"), "* 1 user online: alice");
    let mut bob = RawClient::join_full(s, "bob");
    bob.send(b"CHAT hi alice\n");
    assert_eq!(alice.stdout.expect("<bob>"), "<bob> hi alice");
    alice.send("hi bob");
    bob.read_until("CHAT alice hi bob");

    let frames = until_frame(&mut alice.stderr, "->", s, "CHAT hi bob");
    assert_eq!(
        frames,
        [
            format!("-> {s} HELLO ftpchat/1 alice"),
            format!("<- {s} WELCOME alice"),
            format!("<- {s} USERS 1 alice"),
            format!("<- {s} JOINED bob"),
            format!("<- {s} CHAT bob hi alice"),
            format!("-> {s} CHAT hi bob"),
        ]
    );
    alice.close_input();
    until_frame(&mut alice.stderr, "->", s, "QUIT");
    until_frame(&mut alice.stderr, "<-", s, "BYE goodbye");
    assert!(alice.wait_exit().success());
}

/// Without `--trace`, neither program writes a byte to standard error in
/// a whole conversation, file included.
#[test]
fn nothing_is_traced_without_the_option() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    std::fs::write(dir.join("note.txt"), "a note").unwrap();
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut bob = ClientProcess::start(&dir, server.addr(), &["--nick", "bob", "--dir", "b"]);
    alice.stdout.expect("bob joined");
    alice.send("hello");
    bob.stdout.expect("<alice> hello");
    alice.send("transfer note.txt");
    bob.stdout.expect("* received note.txt");
    alice.close_input();
    bob.close_input();
    assert!(alice.wait_exit().success());
    assert!(bob.wait_exit().success());
    server.console("/quit");
    assert!(server.wait_exit().success());
    assert_eq!(server.stderr.rest(), Vec::<String>::new());
    assert_eq!(alice.stderr.rest(), Vec::<String>::new());
    assert_eq!(bob.stderr.rest(), Vec::<String>::new());
}
