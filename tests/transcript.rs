//! The sample session in PROTOCOL.md, replayed byte for byte against a
//! real server, so the specification's example cannot drift from the code.

mod common;

use common::{RawClient, ServerProcess, scratch_dir};

/// Every line of PROTOCOL.md's sample session is what the server really
/// sends and accepts.
#[test]
fn protocol_md_sample_session_is_true() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut bob = RawClient::join_full(server.addr(), "bob");

    let mut alice = RawClient::connect(server.addr());
    alice.send(b"HELLO ftpchat/1 alice\n");
    assert_eq!(alice.read_line(), "WELCOME alice\n");
    assert_eq!(alice.read_line(), "USERS 2 alice bob\n");
    assert_eq!(bob.read_line(), "JOINED alice\n");

    let mut carol = RawClient::connect(server.addr());
    carol.send(b"carol\n");
    assert_eq!(
        carol.read_line(),
        "* welcome to ftpchat, carol! Type a line to talk to everyone, /help for commands\r\n"
    );
    assert_eq!(carol.read_line(), "* 3 users online: alice, bob, carol\r\n");
    assert_eq!(alice.read_line(), "JOINED carol\n");
    assert_eq!(bob.read_line(), "JOINED carol\n");

    alice.send(b"CHAT hi both\n");
    assert_eq!(bob.read_line(), "CHAT alice hi both\n");
    assert_eq!(carol.read_line(), "<alice> hi both\r\n");
    carol.send(b"/msg alice hi you\n");
    assert_eq!(alice.read_line(), "PRIVATE carol hi you\n");
    alice.send(b"PRIVATE zed hello?\n");
    assert_eq!(alice.read_line(), "ERROR no-such-nick no user named zed\n");

    alice.send(b"SEND 1 9 - * digits.txt\n");
    assert_eq!(alice.read_line(), "ACCEPTED 1 1\n");
    assert_eq!(bob.read_line(), "FILE 1 9 - alice digits.txt\n");
    assert_eq!(
        carol.read_line(),
        "* alice is sharing digits.txt (9 bytes); receiving files needs the full client, ftpclient\r\n"
    );
    bob.send(b"ACCEPT 1 0\n");
    assert_eq!(alice.read_line(), "RECEIVING 1 bob 0\n");
    alice.send(b"DATA 1 9\n123456789");
    alice.send(b"DONE 1 930766865\n");
    assert_eq!(bob.read_line(), "DATA 1 9\n");
    assert_eq!(bob.read_bytes(9), b"123456789");
    assert_eq!(bob.read_line(), "DONE 1 930766865\n");
    bob.send(b"RECEIVED 1 ok\n");
    assert_eq!(alice.read_line(), "DELIVERED 1 bob ok\n");

    alice.send(b"QUIT\n");
    assert_eq!(alice.read_line(), "BYE goodbye\n");
    assert_eq!(alice.expect_close(), "");
    assert_eq!(bob.read_line(), "LEFT alice quit\n");
    assert_eq!(carol.read_line(), "* alice left (quit)\r\n");
}
