//! File transfer between real clients: sizes around chunk boundaries,
//! several receivers, chat while files move, departures half way, name
//! collisions, hostile names, and broken frames from a raw sender.

mod common;

use common::{
    ClientProcess, RawClient, ServerProcess, cksum, client_dir, join_with, list_dir, scratch_dir,
    test_bytes,
};
use ftpchat::text::format_size;
use std::fs;
use std::path::PathBuf;

/// Files of every size around the chunk size (and none at all) arrive
/// byte for byte, under their own names, with the checksum `cksum` gives.
#[test]
fn files_around_chunk_boundaries_arrive_intact() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let alice_dir = client_dir(&dir, "alice");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut alice = join_with(&alice_dir, &server, "alice", &["--chunk-size", "1000"]);
    let sizes = [
        ("empty", 0),
        ("one-byte", 1),
        ("chunk-minus-one", 999),
        ("one-chunk", 1000),
        ("chunk-plus-one", 1001),
        ("several-chunks", 3007),
    ];
    for (name, len) in sizes {
        let bytes = test_bytes(len, len as u64 + 1);
        fs::write(alice_dir.join(name), &bytes).unwrap();
        alice.send(&format!("transfer {name}"));
        let received = bob.stdout.expect(&format!("* received {name} "));
        let saved = format!(", saved as rec/{name} (cksum {})", cksum(&bytes));
        assert!(received.ends_with(&saved), "{received}");
        let timed = format!(
            "* received {name} ({}) from alice in ",
            format_size(len as u64)
        );
        assert!(received.starts_with(&timed), "{received}");
        assert_eq!(
            fs::read(bob_dir.join("rec").join(name)).unwrap(),
            bytes,
            "{name}"
        );
        let sent = alice.stdout.expect(&format!("* sent {name} "));
        assert!(sent.contains(" to 1 of 1 in "), "{sent}");
    }
    let mut names: Vec<&str> = sizes.iter().map(|(name, _)| *name).collect();
    names.sort();
    assert_eq!(list_dir(&bob_dir.join("rec")), names);
}

/// A multi-megabyte random file, sent once, reaches three receivers at
/// the same time, each copy identical.
#[test]
fn large_file_reaches_three_receivers() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let nicks = ["bob", "carol", "dave"];
    let mut receivers: Vec<(PathBuf, ClientProcess)> = nicks
        .iter()
        .map(|nick| {
            let home = client_dir(&dir, nick);
            let client = ClientProcess::join(&home, server.addr(), nick);
            (home, client)
        })
        .collect();
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    let bytes = test_bytes(5 * 1024 * 1024 + 7, 42);
    fs::write(alice_dir.join("big.bin"), &bytes).unwrap();

    alice.send("/transfer big.bin");
    assert_eq!(
        alice.stdout.expect("* offering"),
        "* offering big.bin (5.0 MiB) to 3 recipients"
    );
    for (home, client) in &mut receivers {
        client
            .stdout
            .expect("* received big.bin (5.0 MiB) from alice");
        assert!(fs::read(home.join("rec/big.bin")).unwrap() == bytes);
    }
    let sent = alice.stdout.expect("* sent big.bin");
    assert!(sent.contains(" to 3 of 3 in "), "{sent}");
    assert!(
        sent.ends_with(&format!("cksum {}", cksum(&bytes))),
        "{sent}"
    );
}

/// `transfer PATH NICK` reaches that user only; a quoted path may hold
/// spaces.
#[test]
fn file_to_one_nick_reaches_only_them() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let carol_dir = client_dir(&dir, "carol");
    let alice_dir = client_dir(&dir, "alice");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut carol = ClientProcess::join(&carol_dir, server.addr(), "carol");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    fs::write(alice_dir.join("my notes.txt"), "for carol only").unwrap();

    alice.send(r#"transfer "my notes.txt" Carol"#);
    carol
        .stdout
        .expect("* received my notes.txt (14 bytes) from alice");
    assert_eq!(
        fs::read_to_string(carol_dir.join("rec/my notes.txt")).unwrap(),
        "for carol only"
    );
    alice
        .stdout
        .expect("* sent my notes.txt (14 bytes) to 1 of 1");
    alice.send("done");
    let bob_saw = bob.stdout.until("<alice> done");
    assert!(
        bob_saw.iter().all(|line| !line.contains("notes")),
        "{bob_saw:?}"
    );
    assert_eq!(list_dir(&bob_dir), Vec::<String>::new());
}

/// Chat is not held up behind a file: a line sent while a large file is
/// still on its way to a receiver reaches that receiver before the file's
/// end, and lines keep their order.
#[test]
fn chat_overtakes_a_file_in_flight() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let mut carol = ClientProcess::join(&client_dir(&dir, "carol"), server.addr(), "carol");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    bob.read_until("JOINED alice");
    // Larger than every buffer between alice and bob together (socket
    // buffers on both hops and the server's queue), so most of it must
    // still be on its way while bob is not reading.
    let bytes = test_bytes(96 * 1024 * 1024, 7);
    fs::write(alice_dir.join("huge.bin"), &bytes).unwrap();

    alice.send("transfer huge.bin");
    let offer = bob.read_line();
    let size = bytes.len();
    assert!(
        offer.starts_with(&format!("FILE 1 {size} {size:x}-")),
        "{offer}"
    );
    assert!(offer.ends_with(" alice huge.bin\n"), "{offer}");
    bob.send(b"ACCEPT 1 0\n");
    // Bob reads nothing more for now; carol talks.
    for i in 1..=3 {
        carol.send(&format!("while it flows {i}"));
    }
    alice.stdout.expect("<carol> while it flows 3");

    let mut received = Vec::with_capacity(bytes.len());
    let mut chat = Vec::new();
    loop {
        let line = bob.read_line();
        if let Some(header) = line.strip_prefix("DATA 1 ") {
            let len: usize = header.trim_end().parse().unwrap();
            received.extend(bob.read_bytes(len));
        } else if line.starts_with("CHAT carol ") {
            chat.push((line, received.len()));
        } else {
            assert_eq!(line, format!("DONE 1 {}\n", cksum(&bytes)));
            break;
        }
    }
    assert!(received == bytes, "the file arrived intact");
    let lines: Vec<&str> = chat.iter().map(|(line, _)| line.as_str()).collect();
    assert_eq!(
        lines,
        [
            "CHAT carol while it flows 1\n",
            "CHAT carol while it flows 2\n",
            "CHAT carol while it flows 3\n"
        ]
    );
    let (_, position) = &chat[2];
    assert!(
        *position < bytes.len(),
        "the chat arrived before the end of the file"
    );
    bob.send(b"RECEIVED 1 ok\n");
    alice.stdout.expect("* sent huge.bin (96.0 MiB) to 2 of 2");
}

/// Two files at once, from two senders and two from the same sender, all
/// arrive intact.
#[test]
fn simultaneous_transfers_all_arrive() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let alice_dir = client_dir(&dir, "alice");
    let carol_dir = client_dir(&dir, "carol");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    let mut carol = ClientProcess::join(&carol_dir, server.addr(), "carol");
    let files = [
        (&alice_dir, "a1.bin", test_bytes(3_000_001, 1)),
        (&alice_dir, "a2.bin", test_bytes(2_500_003, 2)),
        (&carol_dir, "c1.bin", test_bytes(3_100_007, 3)),
    ];
    for (home, name, bytes) in &files {
        fs::write(home.join(name), bytes).unwrap();
    }
    alice.send("transfer a1.bin bob");
    alice.send("transfer a2.bin bob");
    carol.send("transfer c1.bin bob");
    for _ in 0..3 {
        bob.stdout.expect("* received ");
    }
    for (_, name, bytes) in &files {
        assert!(
            fs::read(bob_dir.join("rec").join(name)).unwrap() == *bytes,
            "{name}"
        );
    }
    assert_eq!(
        list_dir(&bob_dir.join("rec")),
        ["a1.bin", "a2.bin", "c1.bin"]
    );
}

/// A receiver that leaves half way does not stop the file reaching the
/// others; the sender is told who did not get it.
#[test]
fn receiver_leaving_mid_file_does_not_disturb_the_others() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let carol_dir = client_dir(&dir, "carol");
    let mut carol = ClientProcess::join(&carol_dir, server.addr(), "carol");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    let bytes = test_bytes(96 * 1024 * 1024, 9);
    fs::write(alice_dir.join("big.bin"), &bytes).unwrap();

    alice.send("transfer big.bin");
    bob.read_until("FILE 1 ");
    bob.send(b"ACCEPT 1 0\n");
    let header = bob.read_line();
    assert!(header.starts_with("DATA 1 "), "{header}");
    drop(bob); // leaves in the middle of the file

    carol
        .stdout
        .expect("* received big.bin (96.0 MiB) from alice");
    assert!(fs::read(carol_dir.join("rec/big.bin")).unwrap() == bytes);
    assert_eq!(list_dir(&carol_dir.join("rec")), ["big.bin"]);
    let sent = alice.stdout.expect("* sent big.bin");
    assert!(sent.contains(" to 1 of 2 in "), "{sent}");
    let failure = alice.stderr.expect("did not reach");
    assert!(
        failure.starts_with("! big.bin did not reach bob yet: connection "),
        "{failure}"
    );
}

/// A sender that leaves half way leaves no file behind, under any name.
#[test]
fn sender_leaving_mid_file_leaves_nothing_behind() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    mallory.send(b"SEND 1 1000000 - * half.bin\n");
    assert_eq!(mallory.read_line(), "ACCEPTED 1 1\n");
    assert_eq!(mallory.read_line(), "RECEIVING 1 bob 0\n");
    let mut chunk = b"DATA 1 1000\n".to_vec();
    chunk.extend(test_bytes(1000, 5));
    mallory.send(&chunk);
    bob.stdout
        .expect("* receiving half.bin (976.6 KiB) from mallory");
    drop(mallory);
    assert_eq!(
        bob.stdout.expect("half.bin"),
        "! receiving half.bin from mallory stopped: the sender's connection was lost; \
         nothing was saved"
    );
    assert_eq!(list_dir(&bob_dir.join("rec")), Vec::<String>::new());
}

/// An existing file is never overwritten, and two files of the same name
/// arriving at once both keep their own copy.
#[test]
fn existing_files_are_never_overwritten() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    fs::create_dir_all(bob_dir.join("rec")).unwrap();
    fs::write(bob_dir.join("rec/report.txt"), "original").unwrap();
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");

    fs::write(alice_dir.join("report.txt"), "first").unwrap();
    alice.send("transfer report.txt");
    let line = bob.stdout.expect("* received report.txt");
    assert!(line.contains("saved as rec/report-1.txt"), "{line}");
    fs::write(alice_dir.join("report.txt"), "second").unwrap();
    alice.send("transfer report.txt");
    let line = bob.stdout.expect("* received report.txt");
    assert!(line.contains("saved as rec/report-2.txt"), "{line}");

    // Two of the same name at once.
    fs::write(alice_dir.join("same.bin"), test_bytes(2_000_000, 11)).unwrap();
    alice.send("transfer same.bin");
    alice.send("transfer same.bin");
    bob.stdout.expect("* received same.bin");
    bob.stdout.expect("* received same.bin");

    let rec = bob_dir.join("rec");
    assert_eq!(
        fs::read_to_string(rec.join("report.txt")).unwrap(),
        "original"
    );
    assert_eq!(
        fs::read_to_string(rec.join("report-1.txt")).unwrap(),
        "first"
    );
    assert_eq!(
        fs::read_to_string(rec.join("report-2.txt")).unwrap(),
        "second"
    );
    assert_eq!(
        fs::read(rec.join("same.bin")).unwrap(),
        fs::read(rec.join("same-1.bin")).unwrap()
    );
    assert_eq!(
        list_dir(&rec),
        [
            "report-1.txt",
            "report-2.txt",
            "report.txt",
            "same-1.bin",
            "same.bin"
        ]
    );
}

/// Names chosen by a hostile sender are saved inside `rec/` under safe
/// names, or refused; nothing is written anywhere else.
#[test]
fn hostile_file_names_are_made_safe() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    let names: [&[u8]; 8] = [
        b"../x",
        b"/etc/x",
        b"a/b",
        b"..",
        b"\x1b[2J\x1b[Hevil",
        b"cr\rname",
        b"nul\x00byte",
        b"..\\..\\windows",
    ];
    for (i, name) in names.iter().enumerate() {
        let id = i + 1;
        let mut offer = format!("SEND {id} 3 - bob ").into_bytes();
        offer.extend_from_slice(name);
        offer.push(b'\n');
        mallory.send(&offer);
        assert_eq!(mallory.read_line(), format!("ACCEPTED {id} 1\n"));
        assert_eq!(mallory.read_line(), format!("RECEIVING {id} bob 0\n"));
        let data = format!("DATA {id} 3\nabcDONE {id} {}\n", cksum(b"abc"));
        mallory.send(data.as_bytes());
        assert_eq!(mallory.read_line(), format!("DELIVERED {id} bob ok\n"));
    }
    let saved: Vec<String> = (0..names.len())
        .map(|_| bob.stdout.expect("* received "))
        .collect();
    assert!(
        saved
            .iter()
            .all(|line| !line.contains('\x1b') && !line.contains('\r')),
        "{saved:?}"
    );
    assert_eq!(
        list_dir(&bob_dir.join("rec")),
        [
            "_[2J_[Hevil",
            "b",
            "cr_name",
            "nul_byte",
            "unnamed",
            "windows",
            "x",
            "x-1"
        ]
    );
    assert_eq!(list_dir(&bob_dir), ["rec"]);
    assert_eq!(list_dir(&dir), ["bob"]);

    // A name longer than file systems allow is refused by the server.
    let long = format!("SEND 20 3 - bob {}\n", "n".repeat(300));
    mallory.send(long.as_bytes());
    assert_eq!(
        mallory.read_line(),
        "ERROR bad-message file name is 300 bytes; the limit is 255\n"
    );
    // A 10,000-byte name does not even fit in a line.
    let huge = format!("SEND 21 3 - bob {}\n", "n".repeat(10_000));
    mallory.send(huge.as_bytes());
    assert_eq!(
        mallory.read_line(),
        "ERROR line-too-long line longer than 4096 bytes; closing\n"
    );
    assert_eq!(mallory.expect_close(), "");
}

/// Mistakes with `transfer` are one-line errors, and chat goes on.
#[test]
fn transfer_mistakes_are_one_line_errors() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let alice_dir = client_dir(&dir, "alice");
    fs::create_dir_all(alice_dir.join("somedir")).unwrap();
    fs::write(alice_dir.join("note.txt"), "hi").unwrap();
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    alice.send("transfer note.txt");
    assert_eq!(
        alice.stderr.next().unwrap(),
        "! cannot send note.txt: nobody else who can receive files is online"
    );
    let mut bob = ClientProcess::join(&client_dir(&dir, "bob"), server.addr(), "bob");
    let _carol = RawClient::join_plain(server.addr(), "carol");
    alice.stdout.expect("carol joined");
    let cases = [
        (
            "/transfer nope.txt",
            "! cannot read nope.txt: no such file or folder",
        ),
        ("/transfer somedir", "! cannot send somedir: it is a folder"),
        (
            "transfer note.txt zed",
            "! cannot send note.txt: no user named zed",
        ),
        (
            "transfer note.txt alice",
            "! cannot send note.txt: you cannot send a file to yourself",
        ),
        (
            "transfer note.txt carol",
            "! cannot send note.txt: carol uses a plain client, which cannot receive files",
        ),
        (
            "/transfer \"note.txt",
            "! usage: transfer PATH [NICK] (quote a path with spaces: \"my file.txt\")",
        ),
    ];
    for (typed, error) in cases {
        alice.send(typed);
        assert_eq!(alice.stderr.next().unwrap(), error, "{typed}");
    }
    alice.send("still chatting");
    assert_eq!(bob.stdout.expect("<alice>"), "<alice> still chatting");
}

/// A line that starts with the word `transfer` but names no file is chat,
/// and the sender is told how to send a file instead; `/transfer` is
/// always the command. Commands do not mind case.
#[test]
fn transfer_as_a_word_in_chat_is_chat() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut bob = ClientProcess::join(&client_dir(&dir, "bob"), server.addr(), "bob");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    let mut dave = RawClient::join_plain(server.addr(), "dave");
    bob.stdout.expect("dave joined");

    alice.send("transfer complete, thanks");
    assert_eq!(
        bob.stdout.expect("<alice>"),
        "<alice> transfer complete, thanks"
    );
    assert_eq!(
        alice.stdout.expect("sent as chat"),
        "* sent as chat: there is no file complete, here (/transfer PATH sends one)"
    );
    alice.send("transfer complete, thanks all"); // cannot be a transfer at all
    assert_eq!(
        bob.stdout.expect("<alice>"),
        "<alice> transfer complete, thanks all"
    );
    alice.send("Transfer done");
    assert_eq!(bob.stdout.expect("<alice>"), "<alice> Transfer done");
    dave.send(b"transfer it to me\r\n");
    assert_eq!(bob.stdout.expect("<dave>"), "<dave> transfer it to me");
    dave.send(b"/TRANSFER x\r\n");
    assert_eq!(
        dave.read_until("! "),
        "! sending files needs the full client, ftpclient\r\n"
    );
    alice.send("/WHO");
    assert_eq!(
        alice.stdout.expect("online"),
        "* 3 users online: alice, bob, dave"
    );
}

/// A file whose checksum does not match is discarded, and the sender
/// learns why.
#[test]
fn corrupted_file_is_discarded() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    mallory.send(b"SEND 1 5 - bob bad.txt\n");
    assert_eq!(mallory.read_line(), "ACCEPTED 1 1\n");
    assert_eq!(mallory.read_line(), "RECEIVING 1 bob 0\n");
    mallory.send(b"DATA 1 5\nhelloDONE 1 12345\n");
    let expected = format!(
        "checksum mismatch (sender 12345, received {})",
        cksum(b"hello")
    );
    assert_eq!(
        mallory.read_line(),
        format!("DELIVERED 1 bob failed {expected}\n")
    );
    assert_eq!(
        bob.stdout.expect("bad.txt from"),
        format!("! receiving bad.txt from mallory failed: {expected}; nothing was saved")
    );
    assert_eq!(list_dir(&bob_dir.join("rec")), Vec::<String>::new());
}

/// The server holds a sender to the size it announced, answers frames for
/// transfers that do not exist, and closes a connection whose chunk
/// header cannot be trusted.
#[test]
fn malformed_file_frames_get_defined_answers() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--max-file-size", "1000"]);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");

    mallory.send(b"SEND 1 3 - bob long.txt\n");
    assert_eq!(mallory.read_line(), "ACCEPTED 1 1\n");
    assert_eq!(mallory.read_line(), "RECEIVING 1 bob 0\n");
    mallory.send(b"DATA 1 5\nabcde");
    assert_eq!(
        mallory.read_line(),
        "REFUSED 1 wrong-size more data than the 3 bytes announced\n"
    );
    assert_eq!(
        bob.stdout.expect("long.txt from"),
        "! receiving long.txt from mallory stopped: the sender sent more data than the 3 bytes announced; nothing was saved"
    );

    mallory.send(b"SEND 2 10 - bob short.txt\n");
    assert_eq!(mallory.read_line(), "ACCEPTED 2 1\n");
    assert_eq!(mallory.read_line(), "RECEIVING 2 bob 0\n");
    mallory.send(b"DATA 2 3\nabcDONE 2 1\n");
    assert_eq!(
        mallory.read_line(),
        "REFUSED 2 wrong-size the file ended after 3 of the 10 bytes announced\n"
    );
    bob.stdout.expect("short.txt from mallory stopped");

    mallory.send(b"SEND 3 1001 - bob big.txt\n");
    assert_eq!(
        mallory.read_line(),
        "REFUSED 3 file-too-large the file is 1001 bytes; this server takes at most 1000\n"
    );
    mallory.send(b"SEND 4 1 - * a\nSEND 4 1 - * b\n");
    assert_eq!(mallory.read_line(), "ACCEPTED 4 1\n");
    // Bob's answer to the offer of `a` comes from his side: before or
    // after the refusal of the second `SEND 4`.
    let mut two = [mallory.read_line(), mallory.read_line()];
    two.sort();
    assert_eq!(
        two,
        [
            "RECEIVING 4 bob 0\n",
            "REFUSED 4 transfer-exists transfer 4 is already under way\n"
        ]
    );
    mallory.send(b"DATA 77 4\nabcdDONE 77 0\nCANCEL 77 why\nRECEIVED 5 ok\n");
    for _ in 0..3 {
        assert_eq!(
            mallory.read_line(),
            "ERROR no-such-transfer no transfer 77 is under way\n"
        );
    }
    assert_eq!(
        mallory.read_line(),
        "ERROR no-such-transfer you are not receiving transfer 5\n"
    );
    mallory.send(b"WHO\n");
    assert_eq!(mallory.read_line(), "USERS 2 bob mallory\n");

    mallory.send(b"DATA 4 99999999\n");
    assert_eq!(
        mallory.read_line(),
        "ERROR bad-chunk chunk of 99999999 bytes; the limit is 1048576; closing\n"
    );
    assert_eq!(mallory.expect_close(), "");
    bob.stdout.expect("a from mallory stopped: the sender left");
    assert_eq!(list_dir(&bob_dir.join("rec")), Vec::<String>::new());
}

/// Plain clients are never sent file data: they see one line saying a file
/// was shared, and their chat goes on.
#[test]
fn plain_clients_get_a_notice_instead_of_file_data() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut carol = RawClient::join_plain(server.addr(), "carol");
    let mut bob = ClientProcess::join(&client_dir(&dir, "bob"), server.addr(), "bob");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    carol.read_until("alice joined");
    fs::write(alice_dir.join("f.txt"), "12345").unwrap();
    alice.send("transfer f.txt");
    assert_eq!(
        carol.read_line(),
        "* alice is sharing f.txt (5 bytes); receiving files needs the full client, ftpclient\r\n"
    );
    bob.stdout.expect("* received f.txt");
    alice.stdout.expect("* sent f.txt");
    alice.send("after the file");
    assert_eq!(carol.read_line(), "<alice> after the file\r\n");
    carol.send(b"/transfer f.txt\n");
    assert_eq!(
        carol.read_line(),
        "! sending files needs the full client, ftpclient\r\n"
    );
}

/// A receiving folder that cannot be created is a clear error on the
/// receiver's side; it stays connected, and the sender learns why.
#[test]
fn unusable_receiving_folder_is_reported_and_the_client_stays() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    fs::write(bob_dir.join("not-a-folder"), "").unwrap();
    let mut bob = join_with(&bob_dir, &server, "bob", &["--dir", "not-a-folder/rec"]);
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    fs::write(alice_dir.join("f.txt"), "data").unwrap();

    alice.send("transfer f.txt");
    let error = bob.stdout.expect("f.txt");
    assert!(
        error.starts_with(
            "! cannot receive f.txt from alice: cannot create folder not-a-folder/rec: "
        ),
        "{error}"
    );
    let failure = alice.stderr.next().unwrap();
    assert!(
        failure.starts_with("! f.txt did not reach bob: cannot create folder"),
        "{failure}"
    );
    alice.send("still here?");
    assert_eq!(bob.stdout.expect("<alice>"), "<alice> still here?");
    assert_eq!(list_dir(&bob_dir), ["not-a-folder"]);
}

/// The sender's own keyboard is read while its file is sent: a line it
/// types after the transfer has started reaches the room at once, long
/// before the file has finished arriving.
#[test]
fn the_sender_chats_while_its_file_is_sent() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut carol = RawClient::join_plain(server.addr(), "carol");
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    carol.read_until("alice joined");
    // Large enough that its last byte comes long after a line of chat
    // (which waits behind at most one flow-control window of it), small
    // enough for a debug build on a busy machine.
    let bytes = test_bytes(64 * 1024 * 1024, 11);
    fs::write(alice_dir.join("big.bin"), &bytes).unwrap();

    alice.send("transfer big.bin");
    alice.stdout.expect("* offering big.bin");
    alice.send("typed while it moves");
    carol.read_until("sharing big.bin");
    assert_eq!(carol.read_line(), "<alice> typed while it moves\r\n");
    let bob_so_far = bob.stdout.rest_now();
    assert!(
        bob_so_far.iter().all(|line| !line.contains("* received")),
        "the line came after the whole file: {bob_so_far:?}"
    );
    bob.stdout.expect("* received big.bin");
    assert!(fs::read(bob_dir.join("rec/big.bin")).unwrap() == bytes);
}

/// An offer of an absurd size is refused by the server's default limit,
/// before any recipient hears of it.
#[test]
fn an_absurdly_large_offer_is_refused_by_default() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let mut mallory = RawClient::join_full(server.addr(), "mallory");
    bob.read_until("JOINED mallory");
    mallory.send(b"SEND 1 18446744073709551615 - bob huge\n");
    assert_eq!(
        mallory.read_line(),
        "REFUSED 1 file-too-large the file is 18446744073709551615 bytes; \
         this server takes at most 1099511627776\n"
    );
    mallory.send(b"CHAT still here\n");
    assert_eq!(
        bob.read_line(),
        "CHAT mallory still here\n",
        "bob was offered nothing"
    );
}

/// A receiving folder that is a symbolic link is followed, and the client
/// says where files really go.
#[test]
fn a_receiving_folder_that_is_a_link_says_where_files_go() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let elsewhere = dir.join("big-disk");
    fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, bob_dir.join("rec")).unwrap();
    let mut bob = ClientProcess::start(&bob_dir, server.addr(), &["--nick", "bob"]);
    let target = fs::canonicalize(&elsewhere).unwrap();
    assert_eq!(
        bob.stdout.expect("is a link"),
        format!("* rec is a link: received files go to {}", target.display())
    );
    let alice_dir = client_dir(&dir, "alice");
    fs::write(alice_dir.join("f.txt"), "linked").unwrap();
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    alice.send("transfer f.txt");
    bob.stdout.expect("* received f.txt");
    assert_eq!(
        fs::read_to_string(elsewhere.join("f.txt")).unwrap(),
        "linked"
    );
}
