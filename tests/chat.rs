//! Chat between real clients: broadcast, private messages, `/who`, joins
//! and leaves, nickname rules, and plain (`nc`-style) clients.

mod common;

use common::{ClientProcess, RawClient, ServerProcess, scratch_dir};

/// A line typed by one user reaches every other user, and not its sender.
#[test]
fn chat_line_reaches_everyone_but_its_sender() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut bob = ClientProcess::join(&dir, server.addr(), "bob");
    let mut carol = ClientProcess::join(&dir, server.addr(), "carol");

    alice.send("hello room");
    assert_eq!(bob.stdout.expect("<alice>"), "<alice> hello room");
    assert_eq!(carol.stdout.expect("<alice>"), "<alice> hello room");

    // Alice hears Bob's later line, and nothing of her own before it.
    bob.send("hi alice");
    let heard = alice.stdout.until("<bob> hi alice");
    assert!(
        heard.iter().all(|line| !line.contains("hello room")),
        "{heard:?}"
    );
}

/// `/msg` reaches its one recipient, marked private, and nobody else.
#[test]
fn private_message_reaches_only_its_recipient() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut bob = ClientProcess::join(&dir, server.addr(), "bob");
    let mut carol = ClientProcess::join(&dir, server.addr(), "carol");

    alice.send("/msg BOB meet me at 5");
    assert_eq!(bob.stdout.expect("meet me"), "*alice* meet me at 5");
    alice.send("public line");
    let carol_saw = carol.stdout.until("<alice> public line");
    assert!(
        carol_saw.iter().all(|line| !line.contains("meet me")),
        "{carol_saw:?}"
    );
}

/// A newcomer's first line is always its greeting, even when someone
/// talks the moment they see it join: no message reaches it before
/// `WELCOME`, and none that others sent after seeing it join is lost.
/// Each line said before it joined comes once, as history (the last 20),
/// and each line said after, once, live.
#[test]
fn newcomer_is_greeted_before_any_message() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--chat-rate", "0"]); // a flood on purpose
    let mut alice = RawClient::join_full(server.addr(), "alice");
    // The race is between two server threads; many rounds give it many
    // chances to show.
    for round in 0..200_usize {
        let mut bob = RawClient::connect(server.addr());
        bob.send(format!("HELLO ftpchat/1 bob{round}\n").as_bytes());
        alice.read_until(&format!("JOINED bob{round}"));
        alice.send(format!("CHAT hi bob{round}\n").as_bytes());
        assert_eq!(bob.read_line(), format!("WELCOME bob{round}\n"));
        assert_eq!(bob.read_line(), format!("USERS 2 alice bob{round}\n"));
        for earlier in round.saturating_sub(20)..round {
            let line = bob.read_line();
            let said = line.splitn(3, ' ').nth(2).unwrap_or_default();
            assert!(line.starts_with("HISTORY "), "{line:?}");
            assert_eq!(said, format!("CHAT alice hi bob{earlier}\n"));
        }
        assert_eq!(bob.read_line(), format!("CHAT alice hi bob{round}\n"));
        bob.send(b"QUIT\n");
        assert_eq!(bob.read_line(), "BYE goodbye\n");
        alice.read_until(&format!("LEFT bob{round} quit"));
    }
}

/// A private message to a nickname nobody uses gets a clear error.
#[test]
fn private_message_to_unknown_nick_is_an_error() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    alice.send("/msg zed hello?");
    assert_eq!(alice.stderr.expect("zed"), "! no user named zed");
    alice.close_input();
    // A script whose command failed fails.
    assert_eq!(alice.wait_exit().code(), Some(1));
    assert_eq!(alice.stderr.rest(), ["ftpclient: 1 command failed"]);
}

/// `/who` lists everyone online, sorted regardless of case.
#[test]
fn who_lists_everyone_online() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut carol = ClientProcess::join(&dir, server.addr(), "carol");
    let _bob = ClientProcess::join(&dir, server.addr(), "Bob");
    let _alice = ClientProcess::join(&dir, server.addr(), "alice");
    carol.send("/who");
    assert_eq!(
        carol.stdout.expect("3 users"),
        "* 3 users online: alice, Bob, carol"
    );
}

/// Others see a user join, quit, and drop off without saying goodbye.
#[test]
fn joins_and_leaves_are_announced() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut bob = ClientProcess::join(&dir, server.addr(), "bob");
    assert_eq!(alice.stdout.expect("bob"), "* bob joined");

    bob.send("/quit");
    assert_eq!(alice.stdout.expect("bob left"), "* bob left (quit)");
    assert_eq!(bob.wait_exit().code(), Some(0));

    let mut carol = ClientProcess::join(&dir, server.addr(), "carol");
    alice.stdout.expect("* carol joined");
    carol.kill();
    assert_eq!(
        alice.stdout.expect("carol left"),
        "* carol left (connection closed)"
    );
}

/// A second user cannot take a nickname in use, whatever its case; a
/// scripted client says why on stderr and exits with 1.
#[test]
fn taken_nickname_is_refused() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let _alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut impostor = ClientProcess::start(&dir, server.addr(), &["--nick", "ALICE"]);
    assert_eq!(impostor.wait_exit().code(), Some(1));
    assert_eq!(
        impostor.stderr.rest(),
        ["ftpclient: nickname ALICE is already taken"]
    );
}

/// The client refuses nicknames that break the rules, with the reason.
#[test]
fn invalid_nicknames_are_refused_with_the_reason() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let too_long = "x".repeat(33);
    let cases = [
        ("", "nickname is empty"),
        ("two words", "nickname contains a space"),
        (
            too_long.as_str(),
            "nickname is 33 bytes long; the limit is 32",
        ),
        ("bell\x07", "nickname contains the control character \\u{7}"),
        (
            "<admin>",
            "nickname contains '<'; use letters, digits and _-.[]{}|^`",
        ),
    ];
    for (nick, reason) in cases {
        // A nickname on the command line is checked with the rest of it.
        let mut client = ClientProcess::start(&dir, server.addr(), &["--nick", nick]);
        assert_eq!(client.wait_exit().code(), Some(2), "{nick:?}");
        let shown = ftpchat::text::make_visible(nick);
        assert_eq!(
            client.stderr.rest(),
            [format!(
                "ftpclient: invalid nickname '{shown}': {reason} (see ftpclient --help)"
            )],
            "{nick:?}"
        );
    }
}

/// The server checks nicknames too (a client may not), and lets the
/// connection try again after a refusal.
#[test]
fn server_refuses_bad_nicknames_and_allows_a_retry() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let _alice = RawClient::join_full(server.addr(), "alice");
    let mut raw = RawClient::connect(server.addr());
    raw.send(b"HELLO ftpchat/1 \x1b[2J\n");
    assert_eq!(
        raw.read_line(),
        "ERROR bad-nick nickname contains the control character \\u{1b}\n"
    );
    raw.send(b"HELLO ftpchat/1 Alice\n");
    assert_eq!(
        raw.read_line(),
        "ERROR nick-taken nickname Alice is already taken\n"
    );
    raw.send(b"HELLO ftpchat/1 alice2\n");
    assert_eq!(raw.read_line(), "WELCOME alice2\n");
    assert_eq!(raw.read_line(), "USERS 2 alice alice2\n");
}

/// Someone with only `nc` joins by typing a nickname, reads the room as
/// text lines, and chats with full clients both ways.
#[test]
fn plain_client_chats_with_a_full_client() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");

    let mut carol = RawClient::connect(server.addr());
    carol.send(b"carol\r\n"); // as telnet sends it
    assert_eq!(
        carol.read_line(),
        "* welcome to ftpchat, carol! Type a line to talk to everyone, /help for commands\r\n"
    );
    assert_eq!(carol.read_line(), "* 2 users online: alice, carol\r\n");
    assert_eq!(alice.stdout.expect("carol"), "* carol joined");

    alice.send("hi carol");
    assert_eq!(carol.read_line(), "<alice> hi carol\r\n");
    carol.send(b"hello alice\n");
    assert_eq!(alice.stdout.expect("<carol>"), "<carol> hello alice");
    carol.send(b"/msg alice just you\n");
    assert_eq!(alice.stdout.expect("just you"), "*carol* just you");
    alice.send("/msg carol back at you");
    assert_eq!(carol.read_line(), "*alice* back at you\r\n");
    carol.send(b"//slash at the start\n");
    assert_eq!(alice.stdout.expect("slash"), "<carol> /slash at the start");
}

/// A plain client has the same commands as the full client.
#[test]
fn plain_client_commands() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut dave = RawClient::join_plain(server.addr(), "dave");
    dave.send(b"/who\n");
    assert_eq!(dave.read_line(), "* 1 user online: dave\r\n");
    dave.send(b"/dance\n");
    assert_eq!(
        dave.read_line(),
        "! unknown command /dance; type /help for the list\r\n"
    );
    dave.send(b"/msg\n");
    assert_eq!(dave.read_line(), "! usage: /msg NICK TEXT\r\n");
    dave.send(b"/help\n");
    assert_eq!(dave.read_line(), "* commands:\r\n");
    dave.read_until("/quit");
    dave.send(b"\n"); // a blank line is ignored
    dave.send(b"/quit\n");
    assert_eq!(
        dave.read_line(),
        "* disconnected by the server: goodbye\r\n"
    );
    assert_eq!(dave.expect_close(), "");
}

/// Lines from one sender arrive complete and in the order they were sent,
/// even when many arrive at once; the client sends them all before it exits
/// at the end of its input.
#[test]
fn many_lines_arrive_in_order_and_input_end_exits_cleanly() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--chat-rate", "0"]); // a flood on purpose
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    bob.read_until("JOINED alice");
    for i in 0..500 {
        alice.send(&format!("line {i} {}", "x".repeat(i % 50)));
    }
    alice.close_input();
    for i in 0..500 {
        assert_eq!(
            bob.read_line(),
            format!("CHAT alice line {i} {}\n", "x".repeat(i % 50))
        );
    }
    assert_eq!(bob.read_line(), "LEFT alice quit\n");
    assert_eq!(alice.wait_exit().code(), Some(0));
}

/// Without `--nick` and `--port`, a scripted client reads both from its
/// input, and prints no prompts.
#[test]
fn scripted_client_reads_nick_and_port_from_input() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut client = ClientProcess::spawn(&dir, &[]);
    client.send("erin");
    client.send(&server.addr().port().to_string());
    assert_eq!(
        client.stdout.next().unwrap(),
        format!("* connected to {} as erin", server.addr())
    );
    assert_eq!(client.stdout.next().unwrap(), "* 1 user online: erin");
    client.close_input();
    assert_eq!(client.wait_exit().code(), Some(0));
}

/// The server logs each event as one line with a UTC timestamp.
#[test]
fn server_logs_events_with_timestamps() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    alice.send("/quit");
    for event in [
        "connected from 127.0.0.1:",
        "joined as alice (full client)",
        "alice left (quit)",
    ] {
        let line = server.stdout.expect(event);
        let (stamp, _) = line.split_once(' ').unwrap();
        let shape: String = stamp
            .chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect();
        assert_eq!(shape, "9999-99-99T99:99:99.999Z", "{line}");
    }
}

/// Above 200 members, joins and leaves are not announced and a newcomer
/// is greeted with the count alone; `/who` still lists everyone.
#[test]
fn a_large_room_stops_announcing_joins_and_leaves() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut first = RawClient::join_full(server.addr(), "u000");
    let mut members = Vec::new();
    for i in 1..200 {
        members.push(RawClient::join_full(server.addr(), &format!("u{i:03}")));
        assert_eq!(first.read_line(), format!("JOINED u{i:03}\n"));
    }
    // The 201st member: nobody is told, and it learns only the count.
    let mut late = RawClient::connect(server.addr());
    late.send(b"HELLO ftpchat/1 late\n");
    assert_eq!(late.read_line(), "WELCOME late\n");
    assert_eq!(late.read_line(), "USERS 201\n");
    drop(late);
    // Wait until the server has seen it go (its departure is silent).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        first.send(b"WHO\n");
        let users = first.read_line();
        if users.starts_with("USERS 200 u000 u001 ") {
            break;
        }
        assert!(users.starts_with("USERS 201 "), "{users}");
        assert!(std::time::Instant::now() < deadline, "late never left");
    }
    // With 200 members (the leaver counted), the room is small again:
    // this departure is announced.
    members.pop();
    assert_eq!(first.read_line(), "LEFT u199 connection closed\n");
}

/// A script's errors come on standard error in the order of its lines,
/// even those the server answers (the client waits for each answer before
/// the next line), its events on standard output, and a script with
/// failed commands exits with 1.
#[test]
fn a_script_reports_failures_in_order_and_fails() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    for line in [
        "/msg zed hi",
        "/msg",
        "/transfer nope.bin",
        "/who",
        "/msg zed again",
    ] {
        alice.send(line);
    }
    alice.close_input();
    assert_eq!(alice.wait_exit().code(), Some(1));
    assert_eq!(
        alice.stderr.rest(),
        [
            "! no user named zed",
            "! usage: /msg NICK TEXT",
            "! cannot read nope.bin: no such file or folder",
            "! no user named zed",
            "ftpclient: 4 commands failed",
        ]
    );
    assert_eq!(alice.stdout.rest(), ["* 1 user online: alice"]);
}
