//! Starting and stopping: command-line arguments, listeners, errors at
//! start-up, server shutdown, and a server that dies under its clients.

mod common;

use common::{CLIENT, ClientProcess, RawClient, SERVER, ServerProcess, scratch_dir};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// Each `--port` gets its own listener and its own `listening on` line,
/// with the port the OS chose.
#[test]
fn server_announces_every_listener() {
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--port", "0", "--port", "0"]);
    assert_eq!(server.addrs.len(), 2);
    assert_ne!(server.addrs[0].port(), server.addrs[1].port());
    for addr in &server.addrs {
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        RawClient::join_plain(*addr, &format!("user{}", addr.port()));
    }
}

/// The server listens on IPv6 too.
#[test]
fn server_listens_on_ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let dir = scratch_dir();
    let server = ServerProcess::start_with(&dir, &["--host", "::1", "--port", "0"]);
    assert!(server.addr().is_ipv6());
    let mut client = ClientProcess::join(&dir, server.addr(), "six");
    client.send("/who");
    assert_eq!(client.stdout.expect("online"), "* 1 user online: six");
}

/// A port already in use is one line on stderr naming the address, and
/// exit code 1.
#[test]
fn port_in_use_is_a_one_line_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(SERVER)
        .args(["--port", &port])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("ftpserver: cannot listen on 127.0.0.1:{port}: ")),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// Bad arguments print the usage on stderr and exit with 2; `--help` and
/// `--version` exit with 0.
#[test]
fn arguments_are_checked() {
    let bad: [(&str, &[&str], &str); 9] = [
        (
            SERVER,
            &["--port", "http"],
            "ftpserver: invalid value 'http' for --port",
        ),
        (SERVER, &["--port"], "ftpserver: --port needs a value"),
        (
            SERVER,
            &["--host", "nowhere"],
            "ftpserver: invalid value 'nowhere' for --host",
        ),
        (
            SERVER,
            &["--frobnicate"],
            "ftpserver: unknown option '--frobnicate'",
        ),
        (
            CLIENT,
            &["--port", "70000"],
            "ftpclient: invalid value '70000' for --port",
        ),
        (
            CLIENT,
            &["host", "1", "extra"],
            "ftpclient: unexpected argument 'extra'",
        ),
        (CLIENT, &["-p"], "ftpclient: -p needs a value"),
        (CLIENT, &["-x"], "ftpclient: unknown option '-x'"),
        (
            CLIENT,
            &["localhost", "http"],
            "ftpclient: invalid port 'http': a number from 1 to 65535",
        ),
    ];
    for (program, args, first_line) in bad {
        let output = Command::new(program).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let name = Path::new(program).file_name().unwrap().to_str().unwrap();
        // One line naming the mistake, and where to find help.
        assert_eq!(stderr, format!("{first_line} (see {name} --help)\n"));
    }
    for program in [SERVER, CLIENT] {
        let help = Command::new(program).arg("--help").output().unwrap();
        assert_eq!(help.status.code(), Some(0));
        assert!(
            String::from_utf8(help.stdout)
                .unwrap()
                .starts_with("usage: ")
        );
        let version = Command::new(program).arg("-V").output().unwrap();
        assert_eq!(version.status.code(), Some(0));
        let text = String::from_utf8(version.stdout).unwrap();
        assert!(
            text.ends_with(&format!(" {}\n", env!("CARGO_PKG_VERSION"))),
            "{text}"
        );
    }
}

/// `/quit` on the server's console says goodbye to every client, closes
/// their connections and exits with 0; the clients say why they ended.
#[test]
fn server_quit_tells_every_client() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut carol = RawClient::join_plain(server.addr(), "carol");
    let mut bob = RawClient::join_full(server.addr(), "bob");
    carol.read_until("bob joined");

    server.console("/quit");
    assert_eq!(bob.read_line(), "BYE server shutting down\n");
    assert_eq!(bob.expect_close(), "");
    assert_eq!(
        carol.read_line(),
        "* disconnected by the server: server shutting down\r\n"
    );
    assert_eq!(carol.expect_close(), "");
    assert_eq!(alice.wait_exit().code(), Some(1));
    assert_eq!(
        alice.stderr.rest(),
        [format!(
            "ftpclient: disconnected by the server at {}: server shutting down",
            server.addr()
        )]
    );
    assert_eq!(server.wait_exit().code(), Some(0));
    server.stdout.expect("shutting down");
    server.stdout.expect("alice left (server shutting down)");
}

/// When the server's standard input ends (it runs in the background),
/// it goes on serving.
#[test]
fn server_keeps_serving_when_its_input_ends() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    server.close_console();
    let mut alice = ClientProcess::join(&dir, server.addr(), "alice");
    let mut bob = ClientProcess::join(&dir, server.addr(), "bob");
    alice.send("still here?");
    assert_eq!(bob.stdout.expect("<alice>"), "<alice> still here?");
}

/// With `--no-reconnect`, a server that dies without a goodbye ends the
/// client: it says so in one line and exits with 1.
#[test]
fn client_reports_a_server_that_dies() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    let args = ["--nick", "alice", "--no-reconnect"];
    let mut alice = ClientProcess::start(&dir, server.addr(), &args);
    alice.stdout.expect("online");
    server.kill();
    assert_eq!(alice.wait_exit().code(), Some(1));
    assert_eq!(
        alice.stderr.rest(),
        [format!(
            "ftpclient: the server at {} closed the connection",
            server.addr()
        )]
    );
}

/// A server that dies and does not come back: the client says it lost the
/// connection, tries again with growing delays, and gives up with 1
/// after `--reconnect-for`.
#[test]
fn client_gives_up_reconnecting_to_a_server_that_stays_away() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    let addr = server.addr();
    let args = ["--nick", "alice", "--reconnect-for", "2.5"];
    let mut alice = ClientProcess::start(&dir, addr, &args);
    alice.stdout.expect("online");
    server.kill();
    assert_eq!(alice.wait_exit().code(), Some(1));
    let refused = format!("cannot connect to {addr}: ");
    let errors = alice.stderr.rest();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        errors[0],
        format!("! the server at {addr} closed the connection")
    );
    let tried = format!("! attempt 1 failed: {refused}");
    assert!(errors[1].starts_with(&tried), "{errors:?}");
    let gave_up = format!(
        "ftpclient: could not reconnect to {addr} within 2.5 s (2 attempts; the last: {refused}"
    );
    assert!(errors[2].starts_with(&gave_up), "{errors:?}");
    assert_eq!(
        alice.stdout.rest(),
        [
            format!("* reconnecting to {addr} (attempt 1, next in 1.5 s)"),
            format!("* reconnecting to {addr} (attempt 2, the last)"),
        ]
    );
}

/// While the client reconnects, a line typed is not sent, and says so;
/// `/quit` leaves at once (and a script whose line was not sent fails).
#[test]
fn while_reconnecting_chat_waits_and_quit_leaves() {
    let dir = scratch_dir();
    let mut server = ServerProcess::start(&dir);
    let addr = server.addr();
    let mut alice = ClientProcess::join(&dir, addr, "alice");
    server.kill();
    alice.stderr.expect("closed the connection");
    alice.send("anyone there?");
    assert_eq!(
        alice.stderr.expect("not sent"),
        format!(
            "! not connected to 127.0.0.1:{} (reconnecting); not sent",
            addr.port()
        )
    );
    alice.send("/quit");
    assert_eq!(alice.wait_exit().code(), Some(1));
    assert_eq!(alice.stderr.rest(), ["ftpclient: 1 command failed"]);
}

/// Coming back to find its nickname taken by someone else, a script
/// tries again while the server may still be holding its old connection
/// (two keep-alive intervals and a little), then exits with 1.
#[test]
fn a_nickname_taken_while_away_ends_a_script() {
    let dir = scratch_dir();
    let mut first = ServerProcess::start(&dir);
    let addr = first.addr();
    let args = ["--nick", "alice", "--keepalive", "0.3"];
    let mut alice = ClientProcess::start(&dir, addr, &args);
    alice.stdout.expect("online");
    first.kill();
    let port = addr.port().to_string();
    let second = ServerProcess::start_with(&dir, &["--port", &port]);
    let _impostor = RawClient::join_full(second.addr(), "alice");
    assert_eq!(alice.wait_exit().code(), Some(1));
    let errors = alice.stderr.rest();
    let taken = "nickname alice is already taken";
    let retried = format!(" failed: {taken} (perhaps still by our old connection)");
    assert!(
        errors
            .iter()
            .any(|line| line.starts_with("! attempt ") && line.ends_with(&retried)),
        "{errors:?}"
    );
    assert_eq!(
        errors.last().unwrap(),
        &format!("ftpclient: could not join {addr} again: {taken}")
    );
}

/// The habits of `nc`: short options, the host and port as positional
/// arguments, and defaults from the environment, which the command line
/// overrides.
#[test]
fn the_client_takes_arguments_as_nc_does_and_the_environment() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let port = server.addr().port().to_string();
    let args = ["-n", "alice", "-d", "inbox", "127.0.0.1", &port];
    let mut alice = ClientProcess::spawn(&dir, &args);
    assert_eq!(
        alice.stdout.expect("connected"),
        format!("* connected to 127.0.0.1:{port} as alice")
    );
    for (nick, args) in [("bob", &[][..]), ("carol", &["-n", "carol"][..])] {
        let mut command = Command::new(CLIENT);
        command.args(args).current_dir(&dir);
        command
            .env("FTPCHAT_NICK", "bob")
            .env("FTPCHAT_PORT", &port);
        command.env("FTPCHAT_HOST", "127.0.0.1");
        let mut client = ClientProcess::spawn_command(command, nick);
        assert_eq!(
            client.stdout.expect("connected"),
            format!("* connected to 127.0.0.1:{port} as {nick}")
        );
        alice.stdout.expect(&format!("* {nick} joined"));
    }
    let mut command = Command::new(CLIENT);
    command.env("FTPCHAT_PORT", "many");
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "ftpclient: invalid value 'many' for FTPCHAT_PORT: a port number (see ftpclient --help)\n"
    );
}

/// Connection refused and an unknown host are one clear line and exit 1.
#[test]
fn client_reports_connection_failures() {
    let dir = scratch_dir();
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    }; // closed again: nothing listens there now
    let mut refused = ClientProcess::spawn(&dir, &["--nick", "a", "--port", &port]);
    assert_eq!(refused.wait_exit().code(), Some(1));
    let lines = refused.stderr.rest();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0],
        format!(
            "ftpclient: cannot connect to 127.0.0.1:{port}: connection refused; \
             is the server running, on this port? (ftpserver --port N)"
        )
    );

    let args = [
        "--nick",
        "a",
        "--port",
        "5555",
        "--host",
        "no-such-host.invalid",
    ];
    let mut unknown = ClientProcess::spawn(&dir, &args);
    assert_eq!(unknown.wait_exit().code(), Some(1));
    let lines = unknown.stderr.rest();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("ftpclient: cannot resolve host 'no-such-host.invalid': "),
        "{lines:?}"
    );
}

/// The client works unchanged through a forwarded port, as it would
/// through an SSH tunnel (`ssh -L`): here a plain TCP forwarder that
/// copies bytes both ways, written in the test, stands in for `ssh`.
#[test]
fn the_client_works_through_a_forwarded_port() {
    let dir = scratch_dir();
    let server = ServerProcess::start(&dir);
    let forwarder = TcpListener::bind("127.0.0.1:0").unwrap();
    let tunnel = forwarder.local_addr().unwrap();
    let target = server.addr();
    std::thread::spawn(move || {
        let Ok((near, _)) = forwarder.accept() else {
            return;
        };
        let far = std::net::TcpStream::connect(target).unwrap();
        let (near_back, far_back) = (near.try_clone().unwrap(), far.try_clone().unwrap());
        std::thread::spawn(move || copy_until_closed(near, far));
        copy_until_closed(far_back, near_back);
    });
    let alice_dir = dir.join("alice");
    std::fs::create_dir_all(&alice_dir).unwrap();
    std::fs::write(alice_dir.join("note.txt"), "through the tunnel").unwrap();
    let mut alice = ClientProcess::join(&alice_dir, tunnel, "alice");
    let mut bob = RawClient::join_full(server.addr(), "bob");
    alice.stdout.expect("bob joined");
    alice.send("hello through the tunnel");
    assert_eq!(bob.read_line(), "CHAT alice hello through the tunnel\n");
    alice.send("transfer note.txt bob");
    assert!(bob.read_line().starts_with("FILE 1 18 "));
    bob.send(b"ACCEPT 1 0\n");
    assert_eq!(bob.read_line(), "DATA 1 18\n");
    assert_eq!(bob.read_bytes(18), b"through the tunnel");
}

/// Copies everything from `from` to `to` until `from` ends, then closes
/// `to` for writing.
fn copy_until_closed(mut from: std::net::TcpStream, mut to: std::net::TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}
