//! The connection to the server: opening it, joining with a nickname, and
//! writing frames to it from several threads.
//!
//! [`connect`] opens the TCP connection, trying each address a host name
//! resolves to; [`handshake`] sends `HELLO` and waits for `WELCOME`. After
//! that the socket has two halves used by different threads: the socket's
//! thread reads (`receiver.rs`), and the [`Connection`] writes. Several
//! threads write (the control loop its chat, each file's thread its
//! chunks), so every frame is written whole while holding the
//! connection's lock: a chat line can slip in between two chunks, but
//! never into one.

use crate::events::Event;
use ftpchat::keepalive::is_timeout;
use ftpchat::protocol::{
    ClientMessage, ErrorCode, FrameReader, PROTOCOL_VERSION, ServerMessage, check_nick,
    write_all_vectored,
};
use ftpchat::text::{io_words, make_visible};
use ftpchat::trace;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long to wait for a connection to be set up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for the server to answer the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a TCP connection to `host`:`port`, trying each address the name
/// resolves to (a name may have an IPv6 and an IPv4 address).
///
/// # Errors
///
/// The name does not resolve, or no address accepts the connection; the
/// error names the host or the last address tried.
pub fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot resolve host '{host}': {}", io_words(&e)),
            )
        })?
        .collect();
    let mut last_error = io::Error::new(
        io::ErrorKind::NotFound,
        format!("no address for host '{host}'"),
    );
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                stream.set_nodelay(true)?; // typed lines are small: send at once
                return Ok(stream);
            }
            Err(e) => {
                let hint = match e.kind() {
                    io::ErrorKind::ConnectionRefused => {
                        "; is the server running, on this port? (ftpserver --port N)"
                    }
                    io::ErrorKind::TimedOut => "; is the host up, and the port open to us?",
                    _ => "",
                };
                let text = format!("cannot connect to {addr}: {}{hint}", io_words(&e));
                last_error = io::Error::new(e.kind(), text);
            }
        }
    }
    Err(last_error)
}

/// The server's answer to our `HELLO`.
pub enum Answer {
    /// `WELCOME`: we have joined.
    Welcome,
    /// The nickname was refused (taken, or against the rules); another
    /// may be tried on the same connection.
    NickRefused(String),
    /// The server refused the connection for good (full, or another
    /// protocol version), with its reason.
    Refused(String),
}

/// Introduces the client as `nick`, and returns the server's answer.
/// With `trace`, the frames are traced on standard error (see
/// `--trace`).
///
/// # Errors
///
/// The connection failed, or the server did not answer in time.
pub fn handshake(
    writer: &mut TcpStream,
    frames: &mut FrameReader<TcpStream>,
    nick: &str,
    trace: bool,
) -> io::Result<Answer> {
    // Check the nickname here first: a broken rule is reported at once,
    // without a trip to the server.
    if let Err(error) = check_nick(nick) {
        return Ok(Answer::NickRefused(error.to_string()));
    }
    let peer = writer.peer_addr()?;
    let hello = ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        nick,
    }
    .to_bytes();
    if trace {
        // The screen is not set up yet: the trace goes straight to stderr.
        for line in trace::sent(peer, &hello) {
            eprintln!("{line}");
        }
    }
    writer.write_all(&hello)?;
    loop {
        let Some(line) = frames.read_line().map_err(handshake_error)? else {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed the connection during the handshake",
            ));
        };
        if trace {
            eprintln!("{}", trace::received(peer, line));
        }
        match ServerMessage::decode(line) {
            Ok(ServerMessage::Welcome { .. }) => return Ok(Answer::Welcome),
            Ok(ServerMessage::Error { code, text }) => {
                let text = make_visible(text).into_owned();
                let retry = [ErrorCode::BadNick, ErrorCode::NickTaken].map(ErrorCode::as_str);
                if retry.contains(&code) {
                    return Ok(Answer::NickRefused(text));
                }
                return Ok(Answer::Refused(text));
            }
            _ => {} // nothing else is expected here; ignore it
        }
    }
}

/// A read error in the handshake, in words: a timeout says how long we
/// waited.
fn handshake_error(error: io::Error) -> io::Error {
    if !is_timeout(&error) {
        return error;
    }
    let secs = HANDSHAKE_TIMEOUT.as_secs();
    let text = format!("the server did not answer within {secs} s");
    io::Error::new(io::ErrorKind::TimedOut, text)
}

/// The writing half of the connection, shared by every thread that sends.
pub struct Connection {
    /// The socket. The mutex makes each frame one uninterrupted write.
    writer: Mutex<TcpStream>,
    /// The server's address, for messages and the trace.
    server: SocketAddr,
    /// With `--trace`, where trace lines go (the control loop shows them,
    /// in the order the frames were written).
    trace: Option<Sender<Event>>,
}

impl Connection {
    /// The writing half of `stream`. With `trace`, every frame written is
    /// traced as an [`Event::Trace`].
    ///
    /// # Errors
    ///
    /// The socket's address cannot be read (it is no longer connected).
    pub fn new(stream: TcpStream, trace: Option<Sender<Event>>) -> io::Result<Connection> {
        Ok(Connection {
            server: stream.peer_addr()?,
            writer: Mutex::new(stream),
            trace,
        })
    }

    /// The server's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Sends one message.
    ///
    /// # Errors
    ///
    /// The connection failed.
    pub fn send(&self, message: &ClientMessage) -> io::Result<()> {
        let bytes = message.to_bytes();
        let mut writer = self.lock();
        self.trace_sent(&bytes); // holding the lock: traced in wire order
        writer.write_all(&bytes)
    }

    /// Sends one chunk of a file: the `DATA` header and the bytes, as one
    /// piece that no other frame can split.
    ///
    /// # Errors
    ///
    /// The connection failed.
    pub fn send_data(&self, id: u64, chunk: &[u8]) -> io::Result<()> {
        let header = ClientMessage::Data {
            id,
            len: chunk.len(),
        }
        .to_bytes();
        let mut writer = self.lock();
        self.trace_sent(&header);
        write_all_vectored(&mut *writer, &[&header, chunk])
    }

    /// Closes both directions; the socket's thread, blocked reading, sees
    /// end of file and stops.
    pub fn shut_down(&self) {
        let _ = self.lock().shutdown(Shutdown::Both);
    }

    fn lock(&self) -> MutexGuard<'_, TcpStream> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// With `--trace`, passes on the trace of the frames in `bytes`.
    fn trace_sent(&self, bytes: &[u8]) {
        if let Some(events) = &self.trace {
            for line in trace::sent(self.server, bytes) {
                let _ = events.send(Event::Trace(line));
            }
        }
    }
}
