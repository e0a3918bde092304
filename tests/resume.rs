//! Resuming: what the server says when a connection is lost mid-file
//! (`PAUSED`, `lost`) rather than ended on purpose (`CANCEL`, `failed`),
//! offers to a list of nicknames, and the clients keeping, finding and
//! extending partial files.

mod common;

use common::{
    ClientProcess, RawClient, ServerProcess, cksum, client_dir, list_dir, scratch_dir, signal,
    test_bytes, wait_for_len,
};
use std::fs;
use std::path::{Path, PathBuf};

/// Joins alice, bob and carol as raw full clients, each having read the
/// others' arrivals, so that no `JOINED` comes between later answers.
fn three_raw_clients(server: &ServerProcess) -> (RawClient, RawClient, RawClient) {
    let mut alice = RawClient::join_full(server.addr(), "alice");
    let mut bob = RawClient::join_full(server.addr(), "bob");
    let carol = RawClient::join_full(server.addr(), "carol");
    alice.read_until("JOINED carol");
    bob.read_until("JOINED carol");
    (alice, bob, carol)
}

/// A connection lost mid-file is not an end: the sender hears `lost` for a
/// recipient whose connection went, and the recipients of a sender whose
/// connection went hear `PAUSED`, to keep what they have.
#[test]
fn a_lost_connection_pauses_the_file() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let (mut alice, mut bob, mut carol) = three_raw_clients(&server);

    alice.send(b"SEND 1 100 64-1 bob,carol x.bin\n");
    assert_eq!(alice.read_line(), "ACCEPTED 1 2\n");
    assert_eq!(bob.read_line(), "FILE 1 100 64-1 alice x.bin\n");
    assert_eq!(carol.read_line(), "FILE 1 100 64-1 alice x.bin\n");
    bob.send(b"ACCEPT 1 0\n");
    carol.send(b"ACCEPT 1 40\n");
    let mut answers = [alice.read_line(), alice.read_line()];
    answers.sort();
    assert_eq!(answers, ["RECEIVING 1 bob 0\n", "RECEIVING 1 carol 40\n"]);
    alice.send(b"DATA 1 10\n0123456789");
    assert_eq!(bob.read_line(), "DATA 1 10\n");
    assert_eq!(bob.read_bytes(10), b"0123456789");

    drop(carol);
    assert_eq!(
        alice.read_until("DELIVERED"),
        "DELIVERED 1 carol lost connection closed\n"
    );
    drop(alice);
    assert_eq!(
        bob.read_until("PAUSED"),
        "PAUSED 1 the sender's connection was lost\n"
    );
}

/// Leaving on purpose ends the file for good: the recipients of a sender
/// that quits hear `CANCEL`, and the sender of a recipient that quits
/// hears `failed left (quit)`.
#[test]
fn quitting_ends_the_file_for_good() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let (mut alice, mut bob, mut carol) = three_raw_clients(&server);

    alice.send(b"SEND 1 100 64-1 bob,carol x.bin\n");
    assert_eq!(alice.read_line(), "ACCEPTED 1 2\n");
    for recipient in [&mut bob, &mut carol] {
        recipient.read_until("FILE 1 ");
        recipient.send(b"ACCEPT 1 0\n");
    }
    alice.read_until("RECEIVING 1 bob");
    carol.send(b"QUIT\n");
    assert_eq!(carol.read_until("BYE"), "BYE goodbye\n");
    assert_eq!(
        alice.read_until("DELIVERED"),
        "DELIVERED 1 carol failed left (quit)\n"
    );
    alice.send(b"QUIT\n");
    assert_eq!(bob.read_until("CANCEL"), "CANCEL 1 the sender left\n");
}

/// An offer to a list reaches those connected; each one not connected is
/// reported `lost` at once, and counted in `ACCEPTED`. An offer to nobody
/// connected is refused.
#[test]
fn an_offer_to_a_list_reaches_who_is_there() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let (mut alice, mut bob, mut carol) = three_raw_clients(&server);

    alice.send(b"SEND 1 10 - zed,BOB,yan,zed,bob x\n");
    assert_eq!(alice.read_line(), "ACCEPTED 1 3\n");
    assert_eq!(
        [alice.read_line(), alice.read_line()],
        [
            "DELIVERED 1 zed lost not connected\n",
            "DELIVERED 1 yan lost not connected\n"
        ]
    );
    assert_eq!(bob.read_line(), "FILE 1 10 - alice x\n");

    alice.send(b"SEND 2 10 - zed,yan y\n");
    assert_eq!(
        alice.read_line(),
        "REFUSED 2 no-such-nick no user named zed, yan\n"
    );
    alice.send(b"SEND 3 10 - carol,alice z\n");
    assert_eq!(
        alice.read_line(),
        "REFUSED 3 no-recipients you cannot send a file to yourself\n"
    );
    // Carol was offered neither: the first line she gets is this chat.
    alice.send(b"CHAT done\n");
    assert_eq!(carol.read_line(), "CHAT alice done\n");
}

/// A raw sender, alice, that has joined; `bob`, a real client, has seen
/// her arrive.
fn join_alice(server: &ServerProcess, bob: &mut ClientProcess) -> RawClient {
    let alice = RawClient::join_full(server.addr(), "alice");
    bob.stdout.expect("* alice joined");
    alice
}

/// Alice offers `bytes` as `data.bin` with `stamp`, as her transfer
/// `id`; returns the offset bob accepts it from.
fn offer(alice: &mut RawClient, id: u64, bytes: &[u8], stamp: &str) -> u64 {
    let size = bytes.len();
    alice.send(format!("SEND {id} {size} {stamp} bob data.bin\n").as_bytes());
    assert_eq!(alice.read_line(), format!("ACCEPTED {id} 1\n"));
    let receiving = alice.read_line();
    let offset = receiving.strip_prefix(&format!("RECEIVING {id} bob "));
    let offset = offset.unwrap_or_else(|| panic!("{receiving:?}"));
    offset.trim_end().parse().unwrap()
}

/// Alice sends `bytes[from..]` of her transfer `id` (after `FROM`, if
/// `from` is not 0) and `DONE` with the checksum of all of `bytes`;
/// returns bob's report.
fn send_rest(alice: &mut RawClient, id: u64, bytes: &[u8], from: usize) -> String {
    if from > 0 {
        alice.send(format!("FROM {id} {from}\n").as_bytes());
    }
    let rest = &bytes[from..];
    let mut frame = format!("DATA {id} {}\n", rest.len()).into_bytes();
    frame.extend_from_slice(rest);
    frame.extend_from_slice(format!("DONE {id} {}\n", cksum(bytes)).as_bytes());
    alice.send(&frame);
    alice.read_until(&format!("DELIVERED {id} bob"))
}

/// Alice sends the first `len` bytes and then her connection is lost:
/// bob keeps them. Returns the line bob prints about it.
fn send_part_then_vanish(
    mut alice: RawClient,
    bob: &mut ClientProcess,
    bytes: &[u8],
    len: usize,
) -> String {
    let mut frame = format!("DATA 1 {len}\n").into_bytes();
    frame.extend_from_slice(&bytes[..len]);
    alice.send(&frame);
    drop(alice);
    bob.stdout.expect("! receiving data.bin from alice stopped")
}

/// A server, and bob (a real client) holding the first `len` bytes of
/// alice's `data.bin` (offered with `stamp`), kept when her connection
/// was lost; `paused` is what bob said about it.
struct CutOff {
    server: ServerProcess,
    bob: ClientProcess,
    rec: PathBuf,
    paused: String,
}

impl CutOff {
    fn new(dir: &Path, bytes: &[u8], stamp: &str, len: usize) -> CutOff {
        let server = ServerProcess::start(dir);
        let bob_dir = client_dir(dir, "bob");
        let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
        let mut alice = join_alice(&server, &mut bob);
        assert_eq!(offer(&mut alice, 1, bytes, stamp), 0);
        let paused = send_part_then_vanish(alice, &mut bob, bytes, len);
        CutOff {
            server,
            bob,
            rec: bob_dir.join("rec"),
            paused,
        }
    }

    /// Alice, back: she joins again (and bob sees her).
    fn alice_again(&mut self) -> RawClient {
        join_alice(&self.server, &mut self.bob)
    }
}

/// A transfer cut off when the sender's connection was lost goes on from
/// the receiver's partial file when the same file is offered again: bob
/// accepts from where his copy ends, gets only the rest, and checks the
/// whole file.
#[test]
fn a_file_offered_again_resumes_from_the_partial_file() {
    let dir = scratch_dir();
    let bytes = test_bytes(1000, 1);
    let mut cut = CutOff::new(&dir, &bytes, "3e8-1", 600);
    assert_eq!(
        cut.paused,
        "! receiving data.bin from alice stopped at 60%: the sender's connection was lost; \
         the part received is kept, to resume when the file is offered again"
    );
    let rec = cut.rec.clone();
    assert_eq!(list_dir(&rec), [".data.bin.part", ".data.bin.part.info"]);
    assert_eq!(fs::read(rec.join(".data.bin.part")).unwrap(), &bytes[..600]);
    assert_eq!(
        fs::read_to_string(rec.join(".data.bin.part.info")).unwrap(),
        "ftpchat partial 1\nfrom alice\nname data.bin\nsize 1000\nstamp 3e8-1\n"
    );

    let mut alice = cut.alice_again();
    assert_eq!(offer(&mut alice, 1, &bytes, "3e8-1"), 600);
    assert_eq!(
        cut.bob.stdout.expect("* resuming"),
        "* resuming data.bin (1000 bytes) from alice at 60%, with the part kept from before"
    );
    assert_eq!(
        send_rest(&mut alice, 1, &bytes, 600),
        "DELIVERED 1 bob ok\n"
    );
    let received = cut.bob.stdout.expect("* received");
    let resumed = "* received data.bin (1000 bytes) from alice, resumed at 60% in ";
    assert!(received.starts_with(resumed), "{received}");
    let saved = format!(
        ", saved as {} (cksum {})",
        Path::new("rec").join("data.bin").display(),
        cksum(&bytes)
    );
    assert!(received.ends_with(&saved), "{received}");
    assert_eq!(fs::read(rec.join("data.bin")).unwrap(), bytes);
    assert_eq!(list_dir(&rec), ["data.bin"]);
}

/// A file that changed (a new stamp) is never spliced onto the partial
/// of its old version: bob takes the new file whole, and deletes the old
/// part.
#[test]
fn a_changed_file_is_sent_whole() {
    let dir = scratch_dir();
    let (old, new) = (test_bytes(1000, 1), test_bytes(1000, 2));
    let mut cut = CutOff::new(&dir, &old, "3e8-1", 600);

    let mut alice = cut.alice_again();
    assert_eq!(
        offer(&mut alice, 1, &new, "3e8-2"),
        0,
        "not from the old part"
    );
    cut.bob
        .stdout
        .expect("* receiving data.bin (1000 bytes) from alice");
    assert_eq!(send_rest(&mut alice, 1, &new, 0), "DELIVERED 1 bob ok\n");
    cut.bob.stdout.expect("* received data.bin");
    assert_eq!(fs::read(cut.rec.join("data.bin")).unwrap(), new);
    assert_eq!(list_dir(&cut.rec), ["data.bin"]);
}

/// A partial file damaged on the disk is caught by the final checksum,
/// which covers the bytes kept as well as the new ones: the file is
/// discarded, and both ends are told. Nothing wrong is ever saved.
#[test]
fn a_damaged_partial_file_is_caught_by_the_checksum() {
    let dir = scratch_dir();
    let bytes = test_bytes(1000, 1);
    let mut cut = CutOff::new(&dir, &bytes, "3e8-1", 600);
    let part = cut.rec.join(".data.bin.part");
    let mut damaged = fs::read(&part).unwrap();
    damaged[100] ^= 0x20;
    fs::write(&part, damaged).unwrap();

    let mut alice = cut.alice_again();
    assert_eq!(offer(&mut alice, 1, &bytes, "3e8-1"), 600);
    let report = send_rest(&mut alice, 1, &bytes, 600);
    assert!(
        report.starts_with("DELIVERED 1 bob failed checksum mismatch (sender "),
        "{report}"
    );
    assert!(
        report.ends_with(
            "the 600 bytes kept from the earlier attempt did not match the sender's file\n"
        ),
        "{report}"
    );
    cut.bob
        .stdout
        .expect("! receiving data.bin from alice failed: checksum mismatch");
    assert_eq!(list_dir(&cut.rec), Vec::<String>::new());
}

/// A receiving client killed mid-file leaves its partial file behind; the
/// next run finds it, and resumes from it when offered the file again.
#[test]
fn a_receiver_killed_and_started_again_resumes() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    let bytes = test_bytes(1000, 1);

    let mut alice = join_alice(&server, &mut bob);
    offer(&mut alice, 1, &bytes, "3e8-1");
    let mut frame = b"DATA 1 700\n".to_vec();
    frame.extend_from_slice(&bytes[..700]);
    alice.send(&frame);
    let part = bob_dir.join("rec/.data.bin.part");
    wait_for_len(&part, 700);
    bob.kill();
    assert_eq!(
        alice.read_until("DELIVERED"),
        "DELIVERED 1 bob lost connection closed\n"
    );

    let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
    alice.read_until("JOINED bob");
    // Her transfer 1 is still under way (she has not sent `DONE`): the
    // file is offered again as transfer 2.
    assert_eq!(offer(&mut alice, 2, &bytes, "3e8-1"), 700);
    assert_eq!(
        send_rest(&mut alice, 2, &bytes, 700),
        "DELIVERED 2 bob ok\n"
    );
    let received = bob.stdout.expect("* received");
    assert!(received.contains(", resumed at 70% in "), "{received}");
    assert_eq!(fs::read(bob_dir.join("rec/data.bin")).unwrap(), bytes);
}

/// Real clients in the middle of a file: alice sends `big.bin` to bob,
/// who is frozen (SIGSTOP) once a quarter of it has reached his disk, so
/// that the transfer stands still part way.
struct Midway {
    alice: ClientProcess,
    alice_dir: PathBuf,
    bob: ClientProcess,
    bob_dir: PathBuf,
    bytes: Vec<u8>,
}

impl Midway {
    fn start(dir: &Path, server: &ServerProcess) -> Midway {
        let bob_dir = client_dir(dir, "bob");
        let mut bob = ClientProcess::join(&bob_dir, server.addr(), "bob");
        let alice_dir = client_dir(dir, "alice");
        let mut alice = ClientProcess::join(&alice_dir, server.addr(), "alice");
        bob.stdout.expect("* alice joined");
        let bytes = test_bytes(128 * 1024 * 1024, 12);
        fs::write(alice_dir.join("big.bin"), &bytes).unwrap();
        alice.send("transfer big.bin");
        bob.stdout.expect("* receiving big.bin");
        wait_for_len(&bob_dir.join("rec/.big.bin.part"), bytes.len() as u64 / 4);
        signal(&bob, "STOP");
        Midway {
            alice,
            alice_dir,
            bob,
            bob_dir,
            bytes,
        }
    }

    /// Waits for bob to have resumed and saved the file, and for alice's
    /// summary; checks both say so, and that the file is whole.
    fn expect_resumed(&mut self) {
        let resuming = self.bob.stdout.expect("* resuming big.bin");
        assert!(
            resuming.starts_with("* resuming big.bin (128.0 MiB) from alice at "),
            "{resuming}"
        );
        let received = self.bob.stdout.expect("* received big.bin");
        assert!(received.contains(" from alice, resumed at "), "{received}");
        let sent = self.alice.stdout.expect("* sent big.bin");
        assert!(sent.contains(" to 1 of 1 in "), "{sent}");
        assert!(sent.contains(", resumed at "), "{sent}");
        let saved = fs::read(self.bob_dir.join("rec/big.bin")).unwrap();
        assert!(saved == self.bytes, "the file arrived whole and right");
        assert_eq!(list_dir(&self.bob_dir.join("rec")), ["big.bin"]);
    }
}

/// From a server's `--trace`, read until bob's file is delivered: the
/// offset of the last `ACCEPT`, and how many bytes of file data the sender
/// sent (`DATA`) for the transfer delivered.
fn resumed_traffic(server: &mut ServerProcess) -> (u64, u64) {
    let frames = server.stderr.until(" bob ok");
    let delivered = frames.last().unwrap();
    let (_, fields) = delivered.split_once(" DELIVERED ").expect("DELIVERED");
    let id = fields.split(' ').next().unwrap();
    let accept = frames
        .iter()
        .rev()
        .find_map(|line| line.split_once(" ACCEPT "))
        .map(|(_, fields)| fields.split(' ').nth(1).unwrap().parse().unwrap())
        .expect("a recipient accepted");
    let data = format!(" DATA {id} ");
    let sent = frames
        .iter()
        .filter(|line| line.contains(" <- ") && line.contains(&data))
        .map(|line| {
            let (_, fields) = line.split_once(&data).unwrap();
            fields.split(' ').next().unwrap().parse::<u64>().unwrap()
        })
        .sum();
    (accept, sent)
}

/// The server is killed (SIGKILL) in the middle of a file and a new one
/// started on the same port: both clients reconnect by themselves, the
/// sender offers the file again, the receiver resumes from its partial
/// file, and only the bytes it lacked travel again.
#[test]
fn a_server_restarted_mid_transfer_costs_only_the_rest() {
    let dir = scratch_dir();
    let mut first = ServerProcess::start(&dir);
    let mut midway = Midway::start(&dir, &first);
    first.kill();
    let port = first.addr().port().to_string();
    let mut second = ServerProcess::start_with(&dir, &["--port", &port, "--trace"]);
    signal(&midway.bob, "CONT");

    let stopped = midway.bob.stderr.expect("! receiving big.bin");
    assert!(
        stopped.ends_with("; the part received is kept, to resume when the file is offered again"),
        "{stopped}"
    );
    let paused = midway.alice.stderr.expect("! sending big.bin stopped at ");
    assert!(
        paused.ends_with("; it will be offered again to bob"),
        "{paused}"
    );
    let addr = second.addr();
    for client in [&mut midway.alice, &mut midway.bob] {
        client.stdout.expect("* reconnecting to ");
        let back = client.stdout.expect("* reconnected");
        assert!(
            back.starts_with(&format!("* reconnected to {addr} as ")),
            "{back}"
        );
    }
    midway.expect_resumed();

    let size = midway.bytes.len() as u64;
    let (offset, resent) = resumed_traffic(&mut second);
    println!("bytes sent again after the restart: {resent} of {size} (resumed at {offset})");
    assert!(
        offset >= size / 4,
        "bob kept at least what he had: {offset}"
    );
    assert_eq!(resent, size - offset, "only the bytes bob lacked");
}

/// A receiving client killed mid-file (SIGKILL) and started again: the
/// sender hears its connection was lost, offers the file again when it
/// is back, and it resumes from the partial file the killed one left.
#[test]
fn a_receiver_killed_and_restarted_resumes_on_its_own() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start_with(&dir, &["--port", "0", "--trace"]);
    let mut midway = Midway::start(&dir, &server);
    midway.bob.kill();
    let lost = midway.alice.stderr.expect("did not reach bob");
    assert!(
        lost.starts_with("! big.bin did not reach bob yet: connection "),
        "{lost}"
    );
    assert!(
        lost.ends_with("; it will be offered again when bob is back"),
        "{lost}"
    );

    midway.bob = ClientProcess::join(&midway.bob_dir, server.addr(), "bob");
    midway.expect_resumed();
    let size = midway.bytes.len() as u64;
    let (offset, resent) = resumed_traffic(&mut server);
    assert!(offset >= size / 4, "{offset}");
    assert_eq!(resent, size - offset);
}

/// A source file changed while its transfer was cut off is sent whole:
/// its stamp changed, so the receiver's part of the old version is not
/// extended, but deleted.
#[test]
fn a_source_changed_while_cut_off_is_sent_whole() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start_with(&dir, &["--port", "0", "--trace"]);
    let mut midway = Midway::start(&dir, &server);
    midway.bob.kill();
    midway.alice.stderr.expect("did not reach bob");
    let changed = test_bytes(midway.bytes.len(), 13);
    fs::write(midway.alice_dir.join("big.bin"), &changed).unwrap();

    let mut bob = ClientProcess::join(&midway.bob_dir, server.addr(), "bob");
    bob.stdout
        .expect("* receiving big.bin (128.0 MiB) from alice");
    let received = bob.stdout.expect("* received big.bin");
    assert!(!received.contains("resumed"), "{received}");
    let saved = fs::read(midway.bob_dir.join("rec/big.bin")).unwrap();
    assert!(saved == changed, "the new version, whole");
    assert_eq!(list_dir(&midway.bob_dir.join("rec")), ["big.bin"]);
    let size = changed.len() as u64;
    assert_eq!(resumed_traffic(&mut server), (0, size));
}
