//! What IRC users expect: `/me`, `/nick`, times on messages, history for
//! late joiners, mentions that stand out, and the operator's `/say` and
//! `/kick`; and a server log that says where each file went.

mod common;

use common::{
    ClientProcess, RawClient, ServerProcess, client_dir, in_terminal, list_dir, scratch_dir,
    test_bytes,
};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// A time zone five and a half hours ahead of UTC, in the POSIX form the
/// C library reads from `TZ` without any zone files.
const TZ_PLUS_0530: &str = "IST-5:30";
const OFFSET_SECONDS: u64 = 5 * 3600 + 30 * 60;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `HH:MM` of `unix_seconds` in [`TZ_PLUS_0530`].
fn hh_mm(unix_seconds: u64) -> String {
    let local = (unix_seconds + OFFSET_SECONDS) % 86_400;
    format!("{:02}:{:02}", local / 3600, local % 3600 / 60)
}

/// The times a line stamped between `before` and now may show.
fn times_since(before: u64) -> Vec<String> {
    (before..=unix_now()).map(hh_mm).collect()
}

/// Splits `line` into its time and the rest, and checks the time is one
/// of `times`.
fn strip_time<'a>(line: &'a str, times: &[String]) -> &'a str {
    let (time, rest) = line.split_once(' ').unwrap_or_default();
    assert!(
        times.iter().any(|t| t == time),
        "{line:?}: not at {times:?}"
    );
    rest
}

/// A server whose time zone is [`TZ_PLUS_0530`].
fn server_in_zone(dir: &Path, args: &[&str]) -> ServerProcess {
    let mut command = Command::new(common::SERVER);
    command
        .args(["--port", "0"])
        .args(args)
        .env("TZ", TZ_PLUS_0530)
        .current_dir(dir);
    ServerProcess::start_command(command, 1)
}

/// A scripted client called `nick` in [`TZ_PLUS_0530`], with extra
/// arguments; returns once it has joined.
fn client_in_zone(dir: &Path, server: &ServerProcess, nick: &str, args: &[&str]) -> ClientProcess {
    let port = server.addr().port().to_string();
    let mut command = Command::new(common::CLIENT);
    command
        .args(["--host", "127.0.0.1", "--port", &port, "--nick", nick])
        .args(args)
        .env("TZ", TZ_PLUS_0530)
        .env_remove("FTPCHAT_NICK")
        .current_dir(dir);
    let mut client = ClientProcess::spawn_command(command, nick);
    client.stdout.expect("online:");
    client
}

/// `/me` is shown as `* alice waves` to everyone, plain clients included,
/// and a plain client's `/me` reaches the others the same way.
#[test]
fn an_action_reaches_everyone_plain_clients_included() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut bob = ClientProcess::join(&dir, server.addr(), "bob");
    let mut carol = RawClient::join_plain(server.addr(), "carol");
    let mut dave = RawClient::join_full(server.addr(), "dave");
    alice.stdout.expect("dave joined");

    alice.send("/me waves at everyone");
    assert_eq!(bob.stdout.expect("waves"), "* alice waves at everyone");
    assert_eq!(carol.read_until("waves"), "* alice waves at everyone\r\n");
    assert_eq!(dave.read_until("waves"), "ACTION alice waves at everyone\n");

    carol.send(b"/me nods\r\n");
    assert_eq!(alice.stdout.expect("nods"), "* carol nods");
    assert_eq!(dave.read_until("nods"), "ACTION carol nods\n");

    // An action needs something to do.
    dave.send(b"ACTION \n");
    assert!(dave.read_until("ERROR").starts_with("ERROR bad-message "));
    alice.send("/me");
    assert_eq!(
        alice.stderr.expect("usage"),
        "! usage: /me ACTION (shown as: * you ACTION)"
    );
}

/// `/nick`: everyone is told, plain clients included; messages to the new
/// name reach the same person, the old name is free; a taken or invalid
/// name is refused with a clear line.
#[test]
fn a_new_nickname_is_announced_and_reaches_the_same_person() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut bob = ClientProcess::join(&dir, server.addr(), "bob");
    let mut carol = RawClient::join_plain(server.addr(), "carol");
    let mut dave = RawClient::join_full(server.addr(), "dave");
    alice.stdout.expect("dave joined");

    alice.send("/nick alicia");
    assert_eq!(
        alice.stdout.expect("known as"),
        "* you are now known as alicia"
    );
    assert_eq!(
        bob.stdout.expect("known as"),
        "* alice is now known as alicia"
    );
    assert_eq!(
        carol.read_until("known as"),
        "* alice is now known as alicia\r\n"
    );
    assert_eq!(dave.read_until("NICK"), "NICK alice alicia\n");

    // Her lines carry the new name; messages to it reach her.
    alice.send("hello again");
    assert_eq!(bob.stdout.expect("hello again"), "<alicia> hello again");
    bob.send("/msg ALICIA psst");
    assert_eq!(alice.stdout.expect("psst"), "*bob* psst");
    bob.send("/msg alice anyone?");
    assert_eq!(bob.stderr.expect("alice"), "! no user named alice");
    dave.send(b"WHO\n");
    assert_eq!(dave.read_until("USERS"), "USERS 4 alicia bob carol dave\n");

    // Taken (in any case), invalid, or already hers: refused, clearly.
    alice.send("/nick BOB");
    assert_eq!(
        alice.stderr.expect("taken"),
        "! nickname BOB is already taken"
    );
    alice.send("/nick two words");
    assert_eq!(
        alice.stderr.expect("two words"),
        "! cannot be called 'two words': nickname contains a space"
    );
    dave.send(b"NICK bad,name\n");
    assert_eq!(
        dave.read_until("ERROR"),
        "ERROR bad-nick nickname contains ','; use letters, digits and _-.[]{}|^`\n"
    );
    dave.send(b"NICK dave\n");
    assert_eq!(
        dave.read_until("ERROR"),
        "ERROR bad-nick you are already called dave\n"
    );
    // A change of case alone is a change.
    dave.send(b"NICK Dave\n");
    assert_eq!(dave.read_until("NICK"), "NICK dave Dave\n");

    // A plain client renames itself the same way, and the old name is
    // free for someone else at once.
    carol.send(b"/nick caroline\r\n");
    assert_eq!(
        alice.stdout.expect("caroline"),
        "* carol is now known as caroline"
    );
    let mut other = RawClient::join_full(server.addr(), "carol");
    other.send(b"WHO\n");
    assert_eq!(
        other.read_until("USERS"),
        "USERS 5 alicia bob carol caroline Dave\n"
    );
}

/// A file in flight is not disturbed when its sender or its recipient
/// changes nickname; a file offered to the new name reaches the same
/// person.
#[test]
fn renaming_does_not_disturb_files() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let alice_dir = client_dir(&dir, "alice");
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    let mut raw = RawClient::join_full(server.addr(), "raw");
    let bytes = test_bytes(3 * 1024 * 1024, 14);
    fs::write(alice_dir.join("big.bin"), &bytes).unwrap();

    // `raw` takes the file slowly: it renames, and alice renames, while
    // the data is on its way.
    alice.send("transfer big.bin raw");
    raw.read_until("FILE 1 ");
    raw.send(b"ACCEPT 1 0\n");
    let mut received = Vec::new();
    let mut renamed = false;
    loop {
        let line = raw.read_line();
        if let Some(len) = line.strip_prefix("DATA 1 ") {
            received.extend(raw.read_bytes(len.trim().parse().unwrap()));
            if !renamed {
                raw.send(b"NICK rawer\n");
                alice.send("/nick alicia");
                renamed = true;
            }
        } else if line.starts_with("DONE 1 ") {
            break;
        }
    }
    assert!(received == bytes, "every byte, in order");
    raw.send(b"RECEIVED 1 ok\n");
    alice.stdout.expect("* sent big.bin (3.0 MiB) to 1 of 1");

    // A file to the new name reaches the same person.
    fs::write(alice_dir.join("note.txt"), "to the new name").unwrap();
    bob.send("/nick robert");
    alice.stdout.expect("bob is now known as robert");
    alice.send("transfer note.txt robert");
    bob.stdout
        .expect("* received note.txt (15 bytes) from alicia");
    assert_eq!(
        fs::read_to_string(bob_dir.join("rec/note.txt")).unwrap(),
        "to the new name"
    );
}

/// Scripts get times only when they ask (`--time`), in their own time
/// zone; a terminal gets them unless told otherwise (`--no-time`).
#[test]
fn times_are_shown_when_asked_in_the_local_zone() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut timed = client_in_zone(&dir, &server, "timed", &["--time"]);
    let mut plain = client_in_zone(&dir, &server, "plain", &[]);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    timed.stdout.expect("alice joined");

    let before = unix_now();
    alice.send("what time is it?");
    let line = timed.stdout.expect("what time");
    assert_eq!(
        strip_time(&line, &times_since(before)),
        "<alice> what time is it?"
    );
    assert_eq!(plain.stdout.expect("what time"), "<alice> what time is it?");

    // On a terminal, times are on by default, and --no-time turns them off.
    let on_terminal = |nick, args| client_on_terminal(&dir, &server, &[TZ_SETTING], nick, args);
    let Some(mut terminal) = on_terminal("term", &[]) else {
        return;
    };
    let Some(mut quiet) = on_terminal("quiet", &["--no-time"]) else {
        return;
    };
    terminal.stdout.expect("online");
    quiet.stdout.expect("online");
    alice.stdout.expect("quiet joined");
    let before = unix_now();
    alice.send("tick");
    let line = terminal.stdout.expect("<alice> tick");
    let shown = line.rsplit("\x1b[J").next().unwrap();
    assert_eq!(strip_time(shown, &times_since(before)), "<alice> tick");
    let line = quiet.stdout.expect("<alice> tick");
    assert_eq!(line.rsplit("\x1b[J").next().unwrap(), "<alice> tick");
}

/// `TZ` for [`TZ_PLUS_0530`], as `env` takes it.
const TZ_SETTING: &str = "TZ=IST-5:30";

/// `ftpclient --nick NICK --port PORT ARGS…`, joined to `server`, on a
/// pseudo-terminal and with the environment settings `env` (`NAME=VALUE`,
/// through `env`); `None` where no pseudo-terminal can be had (see
/// `in_terminal`).
fn client_on_terminal(
    dir: &Path,
    server: &ServerProcess,
    env: &[&str],
    nick: &str,
    args: &[&str],
) -> Option<common::Process> {
    let port = server.addr().port().to_string();
    let mut command = env.to_vec();
    command.extend([common::CLIENT, "--nick", nick, "--port", &port]);
    command.extend_from_slice(args);
    in_terminal(dir, "env", &command, nick)
}

/// Someone who joins late is shown the last public lines, in order, with
/// the times the server relayed them, before anything live; never a
/// private message. Plain clients get the same as text.
#[test]
fn a_newcomer_is_shown_the_last_public_lines() {
    let dir = scratch_dir();
    let server = server_in_zone(&dir, &["--history", "3"]);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut bob = ClientProcess::join(&dir, server.addr(), "bob");
    let before = unix_now();
    for line in ["zero", "one", "two", "/me three", "/msg bob a secret"] {
        alice.send(line);
    }
    bob.stdout.expect("a secret");

    // A full client: the lines in order, with their times, then live.
    let mut dave = client_in_zone(&dir, &server, "dave", &[]);
    alice.stdout.expect("dave joined");
    alice.send("live now");
    let seen = dave.stdout.until("live now");
    let times = times_since(before);
    assert_eq!(seen[0], "* said before you joined:");
    assert_eq!(strip_time(&seen[1], &times), "<alice> one");
    assert_eq!(strip_time(&seen[2], &times), "<alice> two");
    assert_eq!(strip_time(&seen[3], &times), "* alice three");
    assert_eq!(seen[4..], ["<alice> live now"]);

    // The frames, as the protocol has them.
    let mut raw = RawClient::join_full(server.addr(), "raw");
    let mut history = Vec::new();
    loop {
        let line = raw.read_line();
        let Some(rest) = line.strip_prefix("HISTORY ") else {
            assert_eq!(line, "CHAT alice after raw\n");
            break;
        };
        let (time, said) = rest.split_once(' ').unwrap();
        let time: u64 = time.parse().unwrap();
        assert!((before..=unix_now()).contains(&time), "{line}");
        history.push(said.to_string());
        if history.len() == 3 {
            alice.send("after raw");
        }
    }
    assert_eq!(
        history,
        [
            "CHAT alice two\n",
            "ACTION alice three\n",
            "CHAT alice live now\n"
        ]
    );

    // A plain client: the same, as text, in the server's time zone.
    let mut carol = RawClient::connect(server.addr());
    carol.send(b"carol\r\n");
    carol.read_until(" online: ");
    assert_eq!(carol.read_line(), "* said before you joined:\r\n");
    let times = times_since(before);
    for expected in ["* alice three", "<alice> live now", "<alice> after raw"] {
        let line = carol.read_line();
        assert_eq!(strip_time(line.trim_end(), &times), expected);
    }
}

/// `--history 0` keeps nothing: a newcomer's first line after the
/// greeting is a live one.
#[test]
fn history_can_be_turned_off() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--history", "0"]);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    alice.send("said to nobody");
    alice.send("/who");
    alice.stdout.expect("1 user online");
    let mut bob = RawClient::join_full(server.addr(), "bob");
    alice.stdout.expect("bob joined");
    alice.send("live");
    assert_eq!(bob.read_line(), "CHAT alice live\n");
}

/// On a terminal, a line that names you and a private message are marked,
/// in bold, and ring the bell (`--no-bell`: no bell); other lines are not.
/// A script's output stays plain.
#[test]
fn mentions_are_marked_and_ring_on_a_terminal() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut script = ClientProcess::join(&dir, server.addr(), "scripted");
    let on_terminal = |nick, args| client_on_terminal(&dir, &server, &[], nick, args);
    let Some(mut bob) = on_terminal("bob", &["--no-time"]) else {
        return;
    };
    let Some(mut quiet) = on_terminal("quiet", &["--no-time", "--no-bell"]) else {
        return;
    };
    bob.stdout.expect("online");
    quiet.stdout.expect("online");
    alice.stdout.expect("quiet joined");

    alice.send("Bob: lunch? and you, quiet?");
    let line = bob.stdout.expect("lunch");
    assert!(
        line.ends_with("\x1b[1m» <alice> Bob: lunch? and you, quiet?\x1b[0m\x07"),
        "{line:?}"
    );
    let line = quiet.stdout.expect("lunch");
    assert!(
        line.ends_with("\x1b[1m» <alice> Bob: lunch? and you, quiet?\x1b[0m"),
        "{line:?}"
    );
    alice.send("/msg bob psst");
    let line = bob.stdout.expect("psst");
    assert!(
        line.ends_with("\x1b[1m» *alice* psst\x1b[0m\x07"),
        "{line:?}"
    );
    alice.send("bobby is not bob");
    alice.send("nothing for anyone");
    let line = bob.stdout.expect("nothing for");
    assert!(line.ends_with("<alice> nothing for anyone"), "{line:?}");
    assert!(!line.contains('\x07') && !line.contains('»'), "{line:?}");
    alice.send("/msg scripted you too, scripted");
    assert_eq!(script.stdout.expect("you too"), "*alice* you too, scripted");
}

/// The operator's `/say` reaches everyone as `* server: TEXT`; `/kick`
/// tells its target why and disconnects it, tells everyone, frees the
/// nickname at once; both are logged.
#[test]
fn the_operator_can_say_and_kick() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut bob = ClientProcess::join(&client_dir(&dir, "bob"), server.addr(), "bob");
    let mut carol = RawClient::join_plain(server.addr(), "carol");
    alice.stdout.expect("carol joined");

    server.console("/say back in five minutes");
    assert_eq!(
        alice.stdout.expect("back in"),
        "* server: back in five minutes"
    );
    assert_eq!(
        carol.read_until("back in"),
        "* server: back in five minutes\r\n"
    );
    assert!(
        server
            .stdout
            .expect("operator said")
            .ends_with(" operator said: back in five minutes")
    );

    server.console("/kick BOB spamming the room");
    let why = bob.stderr.expect("kicked");
    assert!(
        why.ends_with(": kicked by the operator: spamming the room"),
        "{why}"
    );
    assert_eq!(bob.wait_exit().code(), Some(1));
    assert_eq!(
        alice.stdout.expect("bob left"),
        "* bob left (kicked by the operator: spamming the room)"
    );
    assert_eq!(
        carol.read_until("bob left"),
        "* bob left (kicked by the operator: spamming the room)\r\n"
    );
    assert!(
        server
            .stdout
            .expect("kicked by")
            .ends_with(" bob kicked by the operator: spamming the room")
    );
    // The nickname is free at once.
    let mut again = RawClient::join_full(server.addr(), "bob");
    again.send(b"WHO\n");
    assert_eq!(again.read_until("USERS"), "USERS 3 alice bob carol\n");

    // A plain client is told in words; a kick without a reason says so.
    server.console("/kick carol");
    assert_eq!(
        carol.read_until("disconnected"),
        "* disconnected by the server: kicked by the operator\r\n"
    );
    carol.expect_close();
    assert_eq!(
        alice.stdout.expect("carol left"),
        "* carol left (kicked by the operator)"
    );
    server.console("/kick zed");
    assert!(
        server
            .stdout
            .expect("zed")
            .ends_with(" no user named zed to kick")
    );
    server.console("/shout hello");
    assert!(
        server.stdout.expect("console commands").ends_with(
            " console commands: /say TEXT, /kick NICK [REASON], /who, /quit (or Ctrl-C)"
        )
    );
    server.console("/kick");
    assert!(
        server
            .stdout
            .expect("usage")
            .ends_with(" usage: /kick NICK [REASON]")
    );
}

/// The server's log names each file's recipients, and how it ended for
/// each: delivered, declined, failed with the reason.
#[test]
fn the_log_says_where_each_file_went() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    let alice_dir = client_dir(&dir, "alice");
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let carol_dir = client_dir(&dir, "carol");
    let mut carol = ClientProcess::start(
        &carol_dir,
        server.addr(),
        &["--nick", "carol", "--accept", "none"],
    );
    carol.stdout.expect("online");
    let mut dave = RawClient::join_full(server.addr(), "dave");
    let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
    fs::write(alice_dir.join("notes.txt"), "hello, log").unwrap();

    alice.send("transfer notes.txt bob,carol,dave,zed");
    dave.read_until("FILE 1 ");
    dave.send(b"RECEIVED 1 failed disk full\n");
    bob.stdout.expect("* received notes.txt");
    alice.stdout.expect("* sent notes.txt");

    let offered = server.stdout.expect(" offers ");
    assert!(
        offered.ends_with(
            " alice offers \"notes.txt\" (10 bytes) to bob, carol, dave as transfer 1 (not connected: zed)"
        ),
        "{offered}"
    );
    let mut endings: Vec<String> = ["to bob:", "to carol:", "to dave:"]
        .iter()
        .map(|_| server.stdout.expect("transfer 1 ("))
        .map(|line| line.split_once(' ').unwrap().1.to_string())
        .collect();
    endings.sort();
    let label = "transfer 1 (\"notes.txt\", 10 bytes, from alice)";
    assert_eq!(
        endings,
        [
            format!("{label} to bob: delivered"),
            format!("{label} to carol: declined (not taking files)"),
            format!("{label} to dave: failed (disk full)"),
        ]
    );
    assert_eq!(list_dir(&carol_dir), Vec::<String>::new());
    drop(carol);
}
