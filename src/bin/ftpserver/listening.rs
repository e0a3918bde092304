//! Listening sockets and the accept loop: how connections come in.
//!
//! A listening socket ([`TcpListener`]) is bound to an address and a port;
//! the operating system completes each client's TCP handshake on it and
//! queues the new connection until we `accept` it. Each accepted
//! connection is a new socket of its own, and gets a thread of its own
//! ([`accept_loop`]): the whole story of one connection then runs top to
//! bottom in `connection.rs`.
//!
//! A thread per client is the simplest design to read, and blocking reads
//! are fine because each thread waits only for its own client. Its cost is
//! a thread (and its stack) per client; servers for many thousands of
//! clients use a few threads and non-blocking sockets with an event loop
//! (epoll) instead, and production servers also cap how fast connections
//! may arrive.

use crate::connection::serve_connection;
use crate::log::log;
use crate::shared::Server;
use ftpchat::protocol::{ErrorCode, ServerMessage};
use ftpchat::text::io_words;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Stack size of each client's handler thread. Its call depth is small;
/// only the stack pages a thread touches cost memory, but a small stack
/// also keeps the address space of ten thousand threads modest.
const CLIENT_THREAD_STACK_BYTES: usize = 256 * 1024;

/// How long the accept loop may spend telling a connection that the
/// server is full. The socket is new and its send buffer empty, so the
/// write does not wait in practice; the bound is for safety.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Opens a listening socket on `host` for each of `ports` (port 0 lets
/// the operating system pick one).
///
/// # Errors
///
/// A port cannot be listened on (in use, or not allowed); the error names
/// the address.
pub fn listen(host: IpAddr, ports: &[u16]) -> io::Result<Vec<TcpListener>> {
    ports
        .iter()
        .map(|&port| {
            let addr = SocketAddr::new(host, port);
            TcpListener::bind(addr).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot listen on {addr}: {}", io_words(&e)),
                )
            })
        })
        .collect()
}

/// Prints `listening on ADDR` for each listener, with the port it really
/// got, and returns those addresses. Tests and scripts read these lines
/// to learn the ports, so they are printed (and flushed) before anything
/// else can happen.
///
/// # Errors
///
/// Standard output cannot be written, or a socket's address read.
pub fn announce(listeners: &[TcpListener]) -> io::Result<Vec<SocketAddr>> {
    let mut stdout = io::stdout().lock();
    let mut addrs = Vec::new();
    for listener in listeners {
        let addr = listener.local_addr()?;
        writeln!(stdout, "listening on {addr}")?;
        addrs.push(addr);
    }
    stdout.flush()?;
    Ok(addrs)
}

/// Accepts connections on one listener and gives each its own thread,
/// until the server shuts down. A full server answers a new connection
/// here, without starting a thread for it.
pub fn accept_loop(listener: TcpListener, server: &Arc<Server>) {
    for stream in listener.incoming() {
        if server.is_shutting_down() {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                // Usually "too many open files": wait a moment for some to
                // close rather than spin on the same error.
                log(format_args!("accept failed: {error}"));
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Ok(peer) = stream.peer_addr() else {
            continue; // the client already left
        };
        if server.clients.is_full() {
            log(format_args!("{peer} refused: server full"));
            refuse_full(stream);
            continue;
        }
        let server_for_thread = Arc::clone(server);
        let spawned = thread::Builder::new()
            .name(format!("client-{peer}"))
            .stack_size(CLIENT_THREAD_STACK_BYTES)
            .spawn(move || serve_connection(stream, peer, &server_for_thread));
        if let Err(error) = spawned {
            log(format_args!("{peer}: cannot start a thread: {error}"));
        }
    }
}

/// Tells a connection that the server is full, and closes it.
fn refuse_full(stream: TcpStream) {
    let text = "the server is full; try again later";
    let message = ServerMessage::Error {
        code: ErrorCode::ServerFull.as_str(),
        text,
    };
    let _ = stream.set_write_timeout(Some(REFUSAL_WRITE_TIMEOUT));
    let _ = (&stream).write_all(&message.to_bytes());
    // `shutdown` sends our FIN after the line; a plain `close` with
    // unread input (the client's first line) could reset the connection
    // and lose the line before the client reads it.
    let _ = stream.shutdown(Shutdown::Both);
}

/// Wakes every accept loop, so it sees that the server is shutting down.
///
/// `accept` blocks until a client connects, and the standard library has
/// no way to interrupt it. So we connect to ourselves: `accept` returns,
/// the loop checks the flag, and it ends.
pub fn wake_accept_loops(addrs: &[SocketAddr]) {
    for addr in addrs {
        let _ = TcpStream::connect_timeout(&reachable(*addr), Duration::from_secs(1));
    }
}

/// An address to connect to in order to reach a listener bound to `addr`:
/// a listener on "any address" (`0.0.0.0`, `::`) is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}
