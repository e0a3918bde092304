//! Steering files: consent (accept, decline, expiry), cancelling from
//! either side, late answers, limits with their reasons, one truth about
//! delivery, and Ctrl-C on a terminal for the client and the server.

mod common;

use common::{
    ClientProcess, RawClient, ServerProcess, cksum, client_dir, in_terminal, join_with, list_dir,
    scratch_dir, test_bytes,
};
use std::fs;

/// Makes `stuck`, a raw full client, accept file 1 and then never read
/// again: it holds the transfer in the middle (until the stall timeout,
/// which these tests make long).
fn accept_and_stop_reading(stuck: &mut RawClient) {
    stuck.read_until("FILE 1 ");
    stuck.send(b"ACCEPT 1 0\n");
}

/// A file declined on the receiver's side writes nothing there, not even
/// a temporary file, and the sender is told who declined and why.
#[test]
fn a_declined_file_writes_nothing_and_the_sender_is_told() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = join_with(&bob_dir, &server, "bob", &["--accept", "ask"]);
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    fs::write(alice_dir.join("f.txt"), "12345").unwrap();

    alice.send("transfer f.txt");
    assert_eq!(
        bob.stdout.expect("offers"),
        "* alice offers f.txt (5 bytes) as #1: /accept 1 or /decline 1"
    );
    bob.send("/decline 1");
    assert_eq!(bob.stdout.expect("declined"), "* declined f.txt from alice");
    assert_eq!(
        alice.stdout.expect("declined"),
        "* bob declined f.txt: no thanks"
    );
    assert_eq!(
        alice.stderr.next().unwrap(),
        "! f.txt did not reach bob: declined (no thanks)"
    );
    assert_eq!(list_dir(&bob_dir), Vec::<String>::new(), "no rec/ at all");
    // Chat goes on, both ways.
    bob.send("no thanks, really");
    assert_eq!(alice.stdout.expect("<bob>"), "<bob> no thanks, really");

    // `--accept none` declines by itself, with its reason.
    let mut carol = join_with(
        &client_dir(&dir, "carol"),
        &server,
        "carol",
        &["--accept", "none"],
    );
    alice.send("transfer f.txt carol");
    assert_eq!(
        carol.stdout.expect("declined"),
        "* declined f.txt from alice (5 bytes): not taking files"
    );
    alice
        .stdout
        .expect("* carol declined f.txt: not taking files");
}

/// An offer nobody answers expires after `--offer-timeout`: the offeree
/// and the sender are both told, and nothing is written.
#[test]
fn an_unanswered_offer_expires() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--offer-timeout", "0.5"]);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = join_with(&bob_dir, &server, "bob", &["--accept", "ask"]);
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    fs::write(alice_dir.join("f.txt"), "12345").unwrap();

    alice.send("transfer f.txt");
    bob.stdout.expect("* alice offers f.txt");
    assert_eq!(
        bob.stdout.expect("ended"),
        "* the offer of f.txt from alice ended: the offer expired (no answer within 0.5 s)"
    );
    assert_eq!(
        alice.stdout.expect("in time"),
        "* bob did not answer the offer of f.txt in time"
    );
    assert_eq!(
        alice.stderr.next().unwrap(),
        "! f.txt did not reach bob: did not answer the offer in time"
    );
    bob.send("/accept 1");
    assert_eq!(
        bob.stderr.next().unwrap(),
        "! no file is offered as #1; /transfers lists them"
    );
    assert_eq!(list_dir(&bob_dir), Vec::<String>::new());
}

/// A recipient who accepts after the file has gone to the others still
/// gets all of it: the sender goes back for it. Everyone's copy is whole.
#[test]
fn a_late_answer_still_gets_the_whole_file() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let carol_dir = client_dir(&dir, "carol");
    let mut carol = ClientProcess::join(&carol_dir, server.addr(), "carol");
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = join_with(&bob_dir, &server, "bob", &["--accept", "ask"]);
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    let bytes = test_bytes(3 * 1024 * 1024 + 11, 21);
    fs::write(alice_dir.join("late.bin"), &bytes).unwrap();

    alice.send("transfer late.bin");
    bob.stdout.expect("* alice offers late.bin");
    carol.stdout.expect("* received late.bin");
    bob.send("/transfers");
    bob.stdout.expect("* transfers");
    assert_eq!(
        bob.stdout.next().unwrap(),
        "  #1 < late.bin (3.0 MiB) from alice: offered: /accept 1 or /decline 1"
    );
    bob.send("/accept");
    let received = bob.stdout.expect("* received late.bin");
    assert!(
        received.ends_with(&format!("(cksum {})", cksum(&bytes))),
        "{received}"
    );
    assert!(fs::read(bob_dir.join("rec/late.bin")).unwrap() == bytes);
    assert!(fs::read(carol_dir.join("rec/late.bin")).unwrap() == bytes);
    let sent = alice.stdout.expect("* sent late.bin");
    assert!(sent.contains(" to 2 of 2 in "), "{sent}");
}

/// The sender cancels a file in the middle: every recipient discards it
/// and says who cancelled, nothing partial is left, and chat goes on.
#[test]
fn the_sender_cancels_in_the_middle() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--stall-timeout", "60"]);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    fs::write(alice_dir.join("big.bin"), test_bytes(64 * 1024 * 1024, 3)).unwrap();

    let mut dave = RawClient::join_full(server.addr(), "dave");
    alice.stdout.expect("dave joined");
    alice.send("transfer big.bin");
    accept_and_stop_reading(&mut dave); // holds the file half way
    bob.stdout.expect("* receiving big.bin");
    alice.send("/cancel big.bin");
    assert_eq!(
        alice.stdout.expect("cancelled"),
        "* cancelled big.bin (#1); its recipients are told"
    );
    assert_eq!(
        bob.stdout.expect("big.bin from alice"),
        "! receiving big.bin from alice stopped: alice cancelled it; nothing was saved"
    );
    assert_eq!(list_dir(&bob_dir.join("rec")), Vec::<String>::new());
    alice.send("still here");
    assert_eq!(bob.stdout.expect("<alice>"), "<alice> still here");
    alice.send("/transfers");
    assert_eq!(alice.stdout.expect("transfers"), "* no transfers");
}

/// A recipient cancels a file in the middle: its partial copy goes, the
/// sender is told, and the file still reaches the others.
#[test]
fn a_recipient_cancels_in_the_middle() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--stall-timeout", "60"]);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let carol_dir = client_dir(&dir, "carol");
    let mut carol = ClientProcess::join(&carol_dir, server.addr(), "carol");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    let bytes = test_bytes(64 * 1024 * 1024, 4);
    fs::write(alice_dir.join("big.bin"), &bytes).unwrap();

    let mut dave = RawClient::join_full(server.addr(), "dave");
    alice.stdout.expect("dave joined");
    alice.send("transfer big.bin");
    accept_and_stop_reading(&mut dave);
    bob.stdout.expect("* receiving big.bin");
    carol.stdout.expect("* receiving big.bin");
    bob.send("/cancel 1");
    assert_eq!(
        bob.stdout.expect("cancelled"),
        "* cancelled big.bin from alice (#1); nothing was saved"
    );
    assert_eq!(list_dir(&bob_dir.join("rec")), Vec::<String>::new());
    assert_eq!(
        alice.stdout.expect("stopped receiving"),
        "* bob stopped receiving big.bin: cancelled"
    );
    drop(dave); // the file can go on to carol
    carol.stdout.expect("* received big.bin");
    assert!(fs::read(carol_dir.join("rec/big.bin")).unwrap() == bytes);
    let sent = alice.stdout.expect("* sent big.bin");
    assert!(sent.contains(" to 1 of 3 in "), "{sent}");
    let failures = [alice.stderr.next().unwrap(), alice.stderr.next().unwrap()];
    assert!(
        failures
            .contains(&"! big.bin did not reach bob: stopped receiving it (cancelled)".to_string()),
        "{failures:?}"
    );
    bob.send("bye all");
    assert_eq!(carol.stdout.expect("<bob>"), "<bob> bye all");
}

/// The server caps the files one client sends at once, the client caps
/// the files coming in at once and their size, and each refusal says why.
#[test]
fn limits_are_refused_with_their_reason() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--max-transfers", "2"]);
    let bob_dir = client_dir(&dir, "bob");
    let args = [
        "--accept",
        "ask",
        "--max-incoming",
        "2",
        "--max-receive-size",
        "1K",
    ];
    let mut bob = join_with(&bob_dir, &server, "bob", &args);
    let mut eve = RawClient::join_full(server.addr(), "eve");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    eve.read_until("JOINED mallory\n"); // before any answer it waits for

    // Too large for bob.
    eve.send(b"SEND 1 2000 - bob big\n");
    eve.read_until("ACCEPTED 1 1\n");
    assert_eq!(
        eve.read_line(),
        "DELIVERED 1 bob declined too large (2.0 KiB; the limit is 1.0 KiB)\n"
    );
    assert_eq!(
        bob.stdout.expect("big from eve"),
        "* declined big from eve (2.0 KiB): too large (2.0 KiB; the limit is 1.0 KiB)"
    );
    // Too many at once for the server, from one sender.
    mallory.send(b"SEND 1 10 - bob a\nSEND 2 10 - bob b\nSEND 3 10 - bob c\n");
    assert_eq!(mallory.read_line(), "ACCEPTED 1 1\n");
    assert_eq!(mallory.read_line(), "ACCEPTED 2 1\n");
    assert_eq!(
        mallory.read_line(),
        "REFUSED 3 too-many-transfers you have 2 transfers under way, the most this server allows; wait for one to end\n"
    );
    bob.stdout.expect("* mallory offers b");
    // Too many at once for bob, who has two offers waiting.
    eve.send(b"SEND 2 10 - bob f\n");
    assert_eq!(eve.read_line(), "ACCEPTED 2 1\n");
    assert_eq!(
        eve.read_line(),
        "DELIVERED 2 bob declined too many files at once (the limit is 2)\n"
    );
    bob.stdout
        .expect("* declined f from eve (10 bytes): too many files at once (the limit is 2)");
    // A cancelled offer frees its place, on both sides.
    mallory.send(b"CANCEL 2 never mind\nSEND 3 10 - bob c\n");
    assert_eq!(mallory.read_line(), "ACCEPTED 3 1\n");
    assert_eq!(
        bob.stdout.expect("* the offer of b"),
        "* the offer of b from mallory ended: mallory cancelled it: never mind"
    );
    bob.stdout.expect("* mallory offers c");
    assert_eq!(list_dir(&bob_dir), Vec::<String>::new());
}

/// One truth about delivery: a receiver that quits right after a file
/// arrives either saved it and said so (and the sender is told it
/// arrived), or kept nothing (and the sender is told it did not). Never
/// a saved file the sender believes lost, nor the reverse.
#[test]
fn a_receiver_that_quits_at_once_and_its_sender_agree() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    let bytes = test_bytes(1024 * 1024, 8);
    let (mut saved, mut lost) = (0, 0);
    for round in 0..16 {
        let home = client_dir(&dir, &format!("bob{round}"));
        let mut bob = ClientProcess::join(&home, server.addr(), "bob");
        mallory.read_until("JOINED bob");
        let id = round + 1;
        mallory.send(format!("SEND {id} {} - bob f.bin\n", bytes.len()).as_bytes());
        mallory.read_until(&format!("RECEIVING {id} bob 0"));
        let mut frames = format!("DATA {id} {}\n", bytes.len()).into_bytes();
        frames.extend_from_slice(&bytes);
        frames.extend_from_slice(format!("DONE {id} {}\n", cksum(&bytes)).as_bytes());
        mallory.send(&frames);
        // The script ends as the file arrives: a little later each round,
        // so that the end falls before, during and after the saving.
        // (A delay to spread the rounds over the race, not to wait for
        // anything.)
        std::thread::sleep(std::time::Duration::from_micros(700 * round as u64));
        bob.close_input();
        let report = mallory.read_until(&format!("DELIVERED {id} bob "));
        let printed = bob
            .stdout
            .rest()
            .iter()
            .any(|l| l.starts_with("* received f.bin"));
        let on_disk = list_dir(&home.join("rec")) == ["f.bin"];
        if report == format!("DELIVERED {id} bob ok\n") {
            saved += 1;
            assert!(
                printed && on_disk,
                "round {round}: the sender was told it arrived"
            );
            assert!(fs::read(home.join("rec/f.bin")).unwrap() == bytes);
        } else {
            lost += 1;
            assert!(!printed && !on_disk, "round {round}: {report}");
            assert_eq!(
                list_dir(&home.join("rec")),
                Vec::<String>::new(),
                "nothing partial"
            );
        }
        assert!(bob.wait_exit().success());
        mallory.read_until("LEFT bob");
    }
    println!("{saved} saved and reported, {lost} given up by both ends");
}

/// On a terminal, Ctrl-C while a file is being sent cancels it (and says
/// so); a second Ctrl-C, with nothing running, leaves: exit code 0.
#[test]
fn ctrl_c_cancels_a_send_then_leaves() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--stall-timeout", "60"]);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    fs::write(dir.join("big.bin"), test_bytes(64 * 1024 * 1024, 5)).unwrap();
    let port = server.addr().port().to_string();
    let args = ["--nick", "alice", "--port", &port];
    let Some(mut alice) = in_terminal(&dir, common::CLIENT, &args, "alice") else {
        return;
    };
    alice.stdout.expect("online");
    let mut dave = RawClient::join_full(server.addr(), "dave");
    alice.stdout.expect("dave joined");
    alice.send("transfer big.bin"); // the line ends in \n: Enter
    accept_and_stop_reading(&mut dave);
    bob.stdout.expect("* receiving big.bin");
    alice.write_raw(b"\x03");
    alice
        .stdout
        .expect("* cancelled big.bin (#1); its recipients are told");
    alice.stdout.expect("* press Ctrl-C again to leave");
    bob.stdout
        .expect("stopped: alice cancelled it; nothing was saved");
    alice.write_raw(b"\x03");
    assert_eq!(alice.wait_exit().code(), Some(0));
    bob.stdout.expect("* alice left (quit)");
}

/// On a terminal, Ctrl-C with nothing running leaves at once.
#[test]
fn ctrl_c_with_nothing_running_leaves() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut bob = ClientProcess::join(&client_dir(&dir, "bob"), server.addr(), "bob");
    let port = server.addr().port().to_string();
    let args = ["--nick", "alice", "--port", &port];
    let Some(mut alice) = in_terminal(&dir, common::CLIENT, &args, "alice") else {
        return;
    };
    alice.stdout.expect("online");
    bob.stdout.expect("alice joined");
    alice.write_raw(b"\x03");
    assert_eq!(alice.wait_exit().code(), Some(0));
    assert_eq!(bob.stdout.expect("alice left"), "* alice left (quit)");
}

/// On its terminal, Ctrl-C shuts the server down as `/quit` does: every
/// client is told, and it exits with 0.
#[test]
fn ctrl_c_on_the_servers_terminal_shuts_it_down() {
    let dir = scratch_dir();
    let args = ["--port", "0"];
    let Some(mut server) = in_terminal(&dir, common::SERVER, &args, "server") else {
        return;
    };
    let line = server.stdout.expect("listening on ");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    let mut bob = RawClient::join_full(addr, "bob");
    server.stdout.expect("joined as bob");
    server.write_raw(b"\x03");
    assert_eq!(bob.read_line(), "BYE server shutting down\n");
    assert_eq!(bob.expect_close(), "");
    assert_eq!(server.wait_exit().code(), Some(0));
}

/// A transfer whose sender stops sending, while its recipients wait for
/// the data, ends with a reason on both sides instead of hanging.
#[test]
fn a_transfer_whose_data_stops_ends_with_a_reason() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--stall-timeout", "0.3"]);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    mallory.send(b"SEND 1 10 - bob half.txt\n");
    mallory.read_until("RECEIVING 1 bob 0");
    mallory.send(b"DATA 1 5\nhello"); // and then nothing more
    assert_eq!(
        mallory.read_until("REFUSED 1 "),
        "REFUSED 1 stalled no data for 0.9 s; the transfer is cancelled\n"
    );
    assert_eq!(
        bob.stdout.expect("half.txt from mallory"),
        "! receiving half.txt from mallory stopped: the sender stopped sending (no data for 0.9 s); nothing was saved"
    );
    assert_eq!(list_dir(&bob_dir.join("rec")), Vec::<String>::new());
}
