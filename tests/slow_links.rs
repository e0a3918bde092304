//! Chat during a transfer over a slow link: a chat line reaches everyone
//! within 1.5 s while a file fills a 20 Mbit/s link, whichever link is the
//! slow one, the sender's or a recipient's (flow control, PROTOCOL.md 4.3).
//!
//! A slow link is made here: a network namespace that the test creates,
//! joined to this one by a virtual Ethernet pair whose both ends are
//! rate-limited with `tc ... tbf`, and removed at the end. Creating one
//! needs root and `ip`; where that is not possible the tests say so and
//! pass without measuring (the same rules are checked on loopback by
//! `tests/flow_control.rs`).

mod common;

use common::{CLIENT, ClientProcess, ServerProcess, client_dir, scratch_dir, test_bytes};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The slowest a chat line may take to arrive during a transfer.
const CHAT_DEADLINE: Duration = Duration::from_millis(1500);

/// A network namespace behind a 20 Mbit/s link, removed when dropped.
struct SlowLink {
    namespace: String,
    /// The address of this side of the link: the server, as seen from
    /// inside.
    near_ip: String,
}

impl SlowLink {
    /// Makes the namespace and its link; `None` (having said why) where
    /// this machine does not allow it.
    fn create(tag: u32) -> Option<SlowLink> {
        let id = std::process::id() % 100_000;
        let namespace = format!("ftpchat-{id}-{tag}");
        let (near, far) = (format!("fc{id}{tag}a"), format!("fc{id}{tag}b"));
        let subnet = format!("10.{}.{}", 200 + tag, id % 250);
        let link = SlowLink {
            namespace: namespace.clone(),
            near_ip: format!("{subnet}.1"),
        };
        let inside = |args: &str| format!("netns exec {namespace} {args}");
        let steps = [
            format!("ip netns add {namespace}"),
            format!("ip link add {near} type veth peer name {far}"),
            format!("ip link set {far} netns {namespace}"),
            format!("ip addr add {subnet}.1/24 dev {near}"),
            format!("ip link set {near} up"),
            format!(
                "ip {}",
                inside(&format!("ip addr add {subnet}.2/24 dev {far}"))
            ),
            format!("ip {}", inside(&format!("ip link set {far} up"))),
            format!("ip {}", inside("ip link set lo up")),
            format!("tc qdisc add dev {near} root tbf rate 20mbit burst 64kb latency 100ms"),
            format!(
                "ip {}",
                inside(&format!(
                    "tc qdisc add dev {far} root tbf rate 20mbit burst 64kb latency 100ms"
                ))
            ),
        ];
        for step in steps {
            let mut words = step.split(' ');
            let program = words.next().unwrap();
            let done = Command::new(program)
                .args(words)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if !done.is_ok_and(|status| status.success()) {
                eprintln!("skipped: cannot make a slow link here (`{step}` failed; it needs root)");
                return None; // `link` is dropped: what was made is removed
            }
        }
        Some(link)
    }

    /// A client that runs inside the namespace, for the server at `port`.
    fn client(&self, dir: &Path, nick: &str, port: u16) -> ClientProcess {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespace, CLIENT]);
        let port = port.to_string();
        command.args(["--nick", nick, "--host", &self.near_ip, "--port", &port]);
        command.current_dir(dir);
        let mut client = ClientProcess::spawn_command(command, nick);
        client.stdout.expect("online:");
        client
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        // Deleting the namespace deletes the pair of links with it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .stderr(Stdio::null())
            .status();
    }
}

/// A server that listens on every address (loopback, and this side of
/// the slow link), and its port.
fn server_for_everyone(dir: &Path) -> (ServerProcess, u16) {
    let server = ServerProcess::start_with(dir, &["--host", "0.0.0.0", "--port", "0"]);
    let port = server.addr().port();
    (server, port)
}

/// A local client of the server at `port`.
fn local_client(dir: &Path, nick: &str, port: u16) -> ClientProcess {
    let port = port.to_string();
    let args = ["--nick", nick, "--host", "127.0.0.1", "--port", &port];
    let mut client = ClientProcess::spawn(dir, &args);
    client.stdout.expect("online:");
    client
}

/// Waits until the file at `path` holds at least `len` bytes: the file is
/// well on its way.
fn wait_until_flowing(path: &Path, len: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while fs::metadata(path).map(|m| m.len()).unwrap_or(0) < len {
        assert!(Instant::now() < deadline, "the file never started");
        thread::sleep(Duration::from_millis(20)); // sampling a file's size
    }
}

/// `from` says `text`; returns how long it took to reach `to`.
fn chat_delay(from: &mut ClientProcess, to: &mut ClientProcess, text: &str) -> Duration {
    let started = Instant::now();
    from.send(text);
    to.stdout.expect(text);
    started.elapsed()
}

/// The recipient's link is the slow one: chat to it from the sender and
/// from a third client overtakes the file data queued for it.
#[test]
fn chat_reaches_a_recipient_on_a_slow_link_promptly() {
    let Some(link) = SlowLink::create(1) else {
        return;
    };
    let dir = scratch_dir();
    let (_server, port) = server_for_everyone(&dir);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = link.client(&bob_dir, "bob", port);
    let alice_dir = client_dir(&dir, "alice");
    let mut alice = local_client(&alice_dir, "alice", port);
    let mut carol = local_client(&client_dir(&dir, "carol"), "carol", port);
    fs::write(alice_dir.join("big.bin"), test_bytes(24 * 1024 * 1024, 3)).unwrap();
    alice.send("transfer big.bin bob");
    wait_until_flowing(&bob_dir.join("rec/.big.bin.part"), 2 * 1024 * 1024);

    let from_sender = chat_delay(&mut alice, &mut bob, "from the sender, during the file");
    let from_other = chat_delay(&mut carol, &mut bob, "from carol, during the file");
    println!(
        "chat to a slow recipient: {from_sender:?} from the sender, {from_other:?} from another"
    );
    assert!(from_sender < CHAT_DEADLINE, "{from_sender:?}");
    assert!(from_other < CHAT_DEADLINE, "{from_other:?}");
    assert!(
        !bob_dir.join("rec/big.bin").exists(),
        "the file was still on its way"
    );
}

/// The sender's link is the slow one: its chat overtakes its own file
/// data, on its way to the server.
#[test]
fn chat_from_a_sender_on_a_slow_link_arrives_promptly() {
    let Some(link) = SlowLink::create(2) else {
        return;
    };
    let dir = scratch_dir();
    let (_server, port) = server_for_everyone(&dir);
    let alice_dir = client_dir(&dir, "alice");
    fs::write(alice_dir.join("big.bin"), test_bytes(24 * 1024 * 1024, 4)).unwrap();
    let mut alice = link.client(&alice_dir, "alice", port);
    let bob_dir = client_dir(&dir, "bob");
    let mut bob = local_client(&bob_dir, "bob", port);
    alice.stdout.expect("bob joined");
    alice.send("transfer big.bin bob");
    wait_until_flowing(&bob_dir.join("rec/.big.bin.part"), 2 * 1024 * 1024);

    let delay = chat_delay(&mut alice, &mut bob, "from a slow sender, during the file");
    println!("chat from a slow sender: {delay:?}");
    assert!(delay < CHAT_DEADLINE, "{delay:?}");
    assert!(
        !bob_dir.join("rec/big.bin").exists(),
        "the file was still on its way"
    );
}
