//! `ftpserver`: the chat server.
//!
//! It listens on one or more TCP ports, and for every client that connects
//! it starts a thread that reads that client's messages and relays them to
//! the others. Read it in call order: [`main`] parses the command line,
//! [`run`] opens the listening sockets, [`accept_loop`] waits for clients,
//! and [`handle_client`] serves one connection from handshake to goodbye.
//! `clients.rs` holds the registry every thread shares; `outbox.rs` the
//! per-client send queue that keeps a slow client from stalling the rest;
//! `relay.rs` how a file is passed on, chunk by chunk.
//!
//! Try it: `cargo run --bin ftpserver`, then in another terminal
//! `cargo run --bin ftpclient` or `nc 127.0.0.1 5555`. Type `/quit` in the
//! server's terminal to stop it.

#![forbid(unsafe_code)]

// A binary's own modules live in the folder named after it. The `path`
// attributes say so, because the root file `ftpserver.rs` sits beside that
// folder rather than inside it.
#[path = "ftpserver/clients.rs"]
mod clients;
#[path = "ftpserver/outbox.rs"]
mod outbox;
#[path = "ftpserver/relay.rs"]
mod relay;

use clients::{ClientId, ClientKind, Clients, encode_for, plain_text_of};
use ftpchat::cli::{Args, UsageError};
use ftpchat::clock::timestamp;
use ftpchat::defaults::{DEFAULT_HOST, DEFAULT_PORTS};
use ftpchat::input::{CHAT_HELP, Input, parse_input};
use ftpchat::keepalive::{DEFAULT_KEEPALIVE, Keepalive, Silence, is_timeout, parse_seconds};
use ftpchat::protocol::{
    self, ClientMessage, ErrorCode, PROTOCOL_VERSION, ProtocolError, ServerMessage, check_nick,
    read_line,
};
use ftpchat::text::make_visible;
use ftpchat::trace;
use outbox::{DEFAULT_STALL_TIMEOUT, Outbox, Priority};
use relay::Sending;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

const USAGE: &str = "\
usage: ftpserver [--host ADDR] [--port N]... [--max-clients N] [--max-file-size BYTES]
                 [--handshake-timeout SECS] [--keepalive SECS] [--stall-timeout SECS]
                 [--trace]

Runs the ftpchat server. With no options it listens on 127.0.0.1, ports 5555,
5556 and 5557. Type /quit on the server's terminal to stop it.

options:
  --host ADDR               address to listen on, IPv4 or IPv6 (default 127.0.0.1;
                            0.0.0.0 or :: to accept clients from other machines)
  --port N                  port to listen on; repeat for several; 0 picks a free one
  --max-clients N           most connections at once (default 1000)
  --max-file-size BYTES     largest file clients may send (default: no limit)
  --handshake-timeout SECS  time a new connection has to send its nickname (default 30)
  --keepalive SECS          silence after which a client is pinged; no answer within
                            as long again and it is disconnected (default 30)
  --stall-timeout SECS      time a client may accept no data before it is
                            disconnected (default 10)
  --trace                   print every frame sent and received to standard error
  -h, --help                show this help
  -V, --version             show the version";

/// Everything the command line can set.
struct Config {
    host: IpAddr,
    ports: Vec<u16>,
    max_clients: usize,
    handshake_timeout: Duration,
    keepalive: Duration,
    stall_timeout: Duration,
    max_file_size: u64,
    trace: bool,
}

/// What the command line asks for.
enum Command {
    Run(Config),
    Help,
    Version,
}

/// Bytes of the buffer that reads each client's socket. Chat lines are
/// short; 4 KiB holds dozens of them, so one read often brings several,
/// and thousands of idle clients cost little memory. (A file chunk larger
/// than the buffer is read past it, straight into the chunk's own buffer.)
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Stack size of each client's handler thread. Its call depth is small;
/// only the stack pages a thread touches cost memory, but a small stack
/// also keeps the address space of ten thousand threads modest.
const CLIENT_THREAD_STACK_BYTES: usize = 256 * 1024;

/// How long `/quit` waits for connections to close before it exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How many refused nicknames a connection may try before it is closed.
const MAX_HANDSHAKE_ATTEMPTS: u32 = 10;

/// Largest batch of chat bytes a handler collects before relaying it.
const MAX_BATCH_BYTES: usize = 32 * 1024;

fn main() -> ExitCode {
    let config = match parse_args(Args::from_env()) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("ftpserver {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("ftpserver: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ftpserver: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The value of `option` as a number of seconds, such as `30` or `0.5`.
fn seconds(args: &mut Args, option: &str) -> Result<Duration, UsageError> {
    let value = args.value(option)?;
    parse_seconds(&value).map_err(|e| UsageError(format!("invalid value for {option}: {e}")))
}

fn parse_args(mut args: Args) -> Result<Command, UsageError> {
    let mut config = Config {
        host: DEFAULT_HOST.parse().expect("DEFAULT_HOST is an IP address"),
        ports: Vec::new(),
        max_clients: 1000,
        handshake_timeout: Duration::from_secs(30),
        keepalive: DEFAULT_KEEPALIVE,
        stall_timeout: DEFAULT_STALL_TIMEOUT,
        max_file_size: u64::MAX,
        trace: false,
    };
    while let Some(option) = args.next_option()? {
        match option.as_str() {
            "--host" => config.host = args.parsed(&option)?,
            "--port" => config.ports.push(args.parsed(&option)?),
            "--max-clients" => config.max_clients = args.parsed(&option)?,
            "--max-file-size" => config.max_file_size = args.parsed(&option)?,
            "--handshake-timeout" => config.handshake_timeout = seconds(&mut args, &option)?,
            "--keepalive" => config.keepalive = seconds(&mut args, &option)?,
            "--stall-timeout" => config.stall_timeout = seconds(&mut args, &option)?,
            "--trace" => config.trace = true,
            "--help" => return Ok(Command::Help),
            "--version" => return Ok(Command::Version),
            _ => return Err(UsageError(format!("unknown option '{option}'"))),
        }
    }
    if config.ports.is_empty() {
        config.ports = DEFAULT_PORTS.to_vec();
    }
    if config.max_clients == 0 {
        return Err(UsageError("--max-clients must be at least 1".to_string()));
    }
    Ok(Command::Run(config))
}

/// State shared by every thread of the server.
struct Server {
    clients: Clients,
    /// Set by `/quit`; the accept loops check it after each `accept`.
    shutting_down: AtomicBool,
    handshake_timeout: Duration,
    keepalive: Duration,
    stall_timeout: Duration,
    max_file_size: u64,
    /// Whether to print every frame (`--trace`; see `ftpchat::trace`).
    trace: bool,
}

/// Opens the listeners, starts an accept loop for each, then serves the
/// console until `/quit`.
fn run(config: Config) -> io::Result<()> {
    let mut listeners = Vec::new();
    for &port in &config.ports {
        let addr = SocketAddr::new(config.host, port);
        let listener = TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        listeners.push(listener);
    }
    // Tests and scripts read these lines to learn the ports, so they are
    // printed (and flushed) before anything else can happen.
    let mut addrs = Vec::new();
    {
        let mut stdout = io::stdout().lock();
        for listener in &listeners {
            let addr = listener.local_addr()?;
            writeln!(stdout, "listening on {addr}")?;
            addrs.push(addr);
        }
        stdout.flush()?;
    }

    let server = Arc::new(Server {
        clients: Clients::new(config.max_clients),
        shutting_down: AtomicBool::new(false),
        handshake_timeout: config.handshake_timeout,
        keepalive: config.keepalive,
        stall_timeout: config.stall_timeout,
        max_file_size: config.max_file_size,
        trace: config.trace,
    });
    let mut accept_threads = Vec::new();
    for listener in listeners {
        let server = Arc::clone(&server);
        let name = format!("accept-{}", listener.local_addr()?);
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || accept_loop(listener, &server))?;
        accept_threads.push(thread);
    }

    if read_console(&server.clients) {
        shut_down(&server, &addrs);
    }
    // Without `/quit` (the console's input ended), the accept loops run
    // until the process is killed; that is how a server in the background
    // runs.
    for thread in accept_threads {
        let _ = thread.join();
    }
    Ok(())
}

/// Reads commands typed on the server's own terminal. Returns `true` for
/// `/quit`, and `false` when standard input ends: a server started in the
/// background with no input keeps running.
fn read_console(clients: &Clients) -> bool {
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "/quit" => return true,
            "/who" => {
                let nicks = clients.nicks();
                log(format_args!("{} online: {}", nicks.len(), nicks.join(", ")));
            }
            "" => {}
            _ => log(format_args!("console commands: /who, /quit")),
        }
    }
    false
}

/// Stops the server: tells every client, closes every connection, and
/// waits (a little) for them to finish.
fn shut_down(server: &Server, addrs: &[SocketAddr]) {
    log(format_args!("shutting down"));
    server.shutting_down.store(true, Ordering::SeqCst);
    // `accept` blocks until a client connects, and the standard library
    // has no way to interrupt it. So we connect to ourselves: `accept`
    // returns, the loop sees the flag, and it ends.
    for addr in addrs {
        let _ = TcpStream::connect_timeout(&reachable(*addr), Duration::from_secs(1));
    }
    server.clients.close_all(&ServerMessage::Bye {
        reason: "server shutting down",
    });
    let left = server.clients.wait_until_empty(SHUTDOWN_GRACE);
    if left > 0 {
        log(format_args!("{left} connections did not close in time"));
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

/// Accepts connections on one listener and gives each its own thread.
///
/// A thread per client is the simplest design to read: each connection's
/// story runs top to bottom in [`handle_client`], and blocking reads are
/// fine because each thread waits only for its own client. Its cost is a
/// thread (and its stack) per client; servers for many thousands of
/// clients use a few threads and non-blocking sockets with an event loop
/// (epoll) instead.
fn accept_loop(listener: TcpListener, server: &Arc<Server>) {
    for stream in listener.incoming() {
        if server.shutting_down.load(Ordering::SeqCst) {
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

/// The body of a client's thread: serves the connection and logs how it
/// ended. A failure here ends this one connection, never the server.
fn serve_connection(stream: TcpStream, peer: SocketAddr, server: &Server) {
    let id = ClientId::next();
    log(format_args!("{id} connected from {peer}"));
    if let Err(error) = handle_client(stream, peer, id, server) {
        log(format_args!("{id} error: {error}"));
    }
}

/// Serves one connection: sets up its outbox (whose writer thread starts
/// when there is something to send), registers it, runs the handshake,
/// then relays its messages until it leaves.
fn handle_client(
    stream: TcpStream,
    peer: SocketAddr,
    id: ClientId,
    server: &Server,
) -> io::Result<()> {
    stream.set_nodelay(true)?; // chat lines are small: send them at once
    // One socket, shared: this thread reads it, the writer thread writes it.
    let stream = Arc::new(stream);
    let name = format!("writer-{id}");
    let trace_peer = server.trace.then_some(peer);
    let outbox = Outbox::new(Arc::clone(&stream), server.stall_timeout, name, trace_peer)?;
    let _closing = Closing(Arc::clone(&outbox));
    register_and_serve(ReadHalf(stream), peer, id, server, &outbox)
}

/// The reading side of a connection whose socket the writer thread also
/// uses. A TCP socket may be read by one thread while another writes it,
/// and `&TcpStream` does both; sharing one socket this way costs one file
/// descriptor per client, where `try_clone` would cost two.
struct ReadHalf(Arc<TcpStream>);

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl std::ops::Deref for ReadHalf {
    type Target = TcpStream;

    fn deref(&self) -> &TcpStream {
        &self.0
    }
}

/// Closes a connection's outbox when dropped, however the handler ends (a
/// return, an error, even a panic): what is queued (a goodbye, an error)
/// is still sent, then the connection is shut down. The handler's thread
/// waits for that, so no writer thread outlives its connection for long.
struct Closing(Arc<Outbox>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.close();
        self.0
            .wait_closed(self.0.stall_timeout() + Duration::from_secs(1));
    }
}

/// Takes a place in the registry (or refuses the connection if the server
/// is full), runs the handshake, relays the member's messages, and logs
/// why it left. Leaving the registry happens when `registration` drops.
fn register_and_serve(
    stream: ReadHalf,
    peer: SocketAddr,
    id: ClientId,
    server: &Server,
    outbox: &Arc<Outbox>,
) -> io::Result<()> {
    let Some(mut registration) = server.clients.register(id, Arc::clone(outbox)) else {
        log(format_args!("{id} refused: server full"));
        let text = "the server is full; try again later";
        reply_error(outbox, ClientKind::Full, ErrorCode::ServerFull, text);
        return Ok(());
    };
    // One buffered reader for the whole life of the connection: it may
    // read ahead past the line we asked for, and those bytes belong to
    // the next message.
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, stream);
    let Some(mut session) = handshake(&mut reader, peer, id, server, outbox)? else {
        return Ok(());
    };
    let result = session.relay(&mut reader);
    registration.leave_reason = match (&result, outbox.failure()) {
        _ if server.shutting_down.load(Ordering::SeqCst) => "server shutting down".to_string(),
        (_, Some(failure)) => {
            log(format_args!(
                "{id} {} disconnected: {failure}",
                session.nick
            ));
            failure
        }
        (Ok(reason), None) => reason.clone(),
        (Err(_), None) => "connection lost".to_string(),
    };
    log(format_args!(
        "{id} {} left ({})",
        session.nick, registration.leave_reason
    ));
    result.map(drop)
}

/// A connection that has finished its handshake.
struct Session<'a> {
    id: ClientId,
    peer: SocketAddr,
    nick: String,
    kind: ClientKind,
    outbox: &'a Arc<Outbox>,
    server: &'a Server,
    /// Chat messages read but not yet relayed, as encoded `CHAT` lines
    /// (see [`Session::relay`]).
    batch: Vec<u8>,
    /// Files this client is sending, by its own transfer id.
    sending: HashMap<u64, Sending>,
}

/// Reads lines until the connection proves itself with a valid, free
/// nickname. Returns `None` if it leaves (or runs out of time or tries)
/// first.
fn handshake<'a>(
    reader: &mut BufReader<ReadHalf>,
    peer: SocketAddr,
    id: ClientId,
    server: &'a Server,
    outbox: &'a Arc<Outbox>,
) -> io::Result<Option<Session<'a>>> {
    // A connection that never sends a nickname must not hold a place for
    // ever: reads time out during the handshake.
    reader
        .get_ref()
        .set_read_timeout(Some(server.handshake_timeout))?;
    let mut buf = Vec::new();
    for _attempt in 0..MAX_HANDSHAKE_ATTEMPTS {
        let line = match read_line(reader, &mut buf) {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(None),
            Err(error) if is_timeout(&error) => {
                log(format_args!("{id} handshake timed out"));
                let text = format!(
                    "no nickname within {} s; closing",
                    server.handshake_timeout.as_secs_f64()
                );
                reply_error(outbox, ClientKind::Full, ErrorCode::HandshakeTimeout, &text);
                return Ok(None);
            }
            Err(error) => return handshake_read_error(outbox, id, error),
        };
        if server.trace {
            eprintln!("{}", trace::received(peer, line));
        }
        // A full client says HELLO first; anything else is the nickname of
        // someone typing into nc or telnet.
        let (kind, nick) = match line.strip_prefix("HELLO ") {
            Some(_) => match ClientMessage::decode(line) {
                Ok(ClientMessage::Hello { version, nick }) if version == PROTOCOL_VERSION => {
                    (ClientKind::Full, nick)
                }
                Ok(_) => {
                    let text = format!("this server speaks {PROTOCOL_VERSION}");
                    reply_error(outbox, ClientKind::Full, ErrorCode::BadVersion, &text);
                    return Ok(None);
                }
                Err(error) => {
                    reply_error(outbox, ClientKind::Full, error.code, &error.detail);
                    continue;
                }
            },
            None => (ClientKind::Plain, line.trim()),
        };
        if let Err(error) = check_nick(nick) {
            log(format_args!("{id} nickname refused: {error}"));
            let text = retry_text(kind, &error.to_string());
            reply_error(outbox, kind, ErrorCode::BadNick, &text);
            continue;
        }
        let Ok(()) = server.clients.join(id, nick, kind) else {
            log(format_args!("{id} nickname refused: {nick} is taken"));
            let text = retry_text(kind, &format!("nickname {nick} is already taken"));
            reply_error(outbox, kind, ErrorCode::NickTaken, &text);
            continue;
        };
        log(format_args!("{id} joined as {nick} ({kind})"));
        // From now on, silence means "ping it" (see `keepalive`). A plain
        // client cannot answer a PING, so it is left to be silent.
        let timeout = (kind == ClientKind::Full).then_some(server.keepalive);
        reader.get_ref().set_read_timeout(timeout)?;
        let session = Session {
            id,
            peer,
            nick: nick.to_string(),
            kind,
            outbox,
            server,
            batch: Vec::new(),
            sending: HashMap::new(),
        };
        return Ok(Some(session));
    }
    let text = "too many refused nicknames; closing";
    reply_error(outbox, ClientKind::Full, ErrorCode::BadNick, text);
    Ok(None)
}

/// The error text for a refused nickname; a plain client, who cannot see
/// error codes, is also told what to do next.
fn retry_text(kind: ClientKind, reason: &str) -> String {
    match kind {
        ClientKind::Full => reason.to_string(),
        ClientKind::Plain => format!("{reason}; type another nickname"),
    }
}

/// Answers a bad line in the handshake. A line too long leaves the stream
/// out of step, so the connection ends; other faults let the client retry.
fn handshake_read_error<'a>(
    outbox: &Arc<Outbox>,
    id: ClientId,
    error: io::Error,
) -> io::Result<Option<Session<'a>>> {
    let Some(fault) = ProtocolError::find(&error) else {
        return Err(error);
    };
    log(format_args!("{id} handshake: {fault}"));
    reply_error(outbox, ClientKind::Full, fault.code, &fault.detail);
    Ok(None)
}

/// Sends one `ERROR` line (or its text version to a plain client).
fn reply_error(outbox: &Arc<Outbox>, kind: ClientKind, code: ErrorCode, text: &str) {
    let message = ServerMessage::Error {
        code: code.as_str(),
        text,
    };
    send_one(outbox, kind, &message);
}

/// Sends one message to one client, in the encoding its kind needs.
fn send_one(outbox: &Arc<Outbox>, kind: ClientKind, message: &ServerMessage) {
    outbox.send(encode_for(kind, message), Priority::Urgent);
}

impl Session<'_> {
    /// Reads and handles the member's messages until they leave. Returns
    /// the reason they left, for the others' notice.
    ///
    /// Chat lines are not relayed one by one: they collect in a batch,
    /// which is relayed when the reader has no more input waiting (so a
    /// lone line goes out at once) or the batch is full. A client that
    /// sends many lines quickly has them relayed many per write.
    fn relay(&mut self, reader: &mut BufReader<ReadHalf>) -> io::Result<String> {
        let mut buf = Vec::new();
        let mut keepalive = Keepalive::new(self.server.keepalive);
        loop {
            if reader.buffer().is_empty() {
                // About to block waiting for the network: send what we have.
                self.flush_batch();
            }
            let result = read_line(reader, &mut buf);
            match &result {
                // A read timed out (only full clients have a timeout): the
                // client has been silent for a whole interval.
                Err(error) if is_timeout(error) => match keepalive.silence() {
                    Silence::Ping(token) => {
                        self.reply(&ServerMessage::Ping { token: &token });
                        continue;
                    }
                    Silence::Dead => {
                        let secs = keepalive.interval().as_secs_f64();
                        let why = format!("no reply to PING within {secs} s");
                        self.reply_error(ErrorCode::PingTimeout, &format!("{why}; closing"));
                        return Ok(why);
                    }
                },
                _ => keepalive.heard(),
            }
            let line = match result {
                Ok(Some(line)) => line,
                Ok(None) => return Ok("connection closed".to_string()),
                Err(error) => match ProtocolError::find(&error) {
                    // Bad UTF-8: the line was read to its end, so the next
                    // one can be trusted; answer and go on.
                    Some(fault) if fault.code == ErrorCode::BadUtf8 => {
                        self.flush_batch();
                        self.reply_error(fault.code, &fault.detail);
                        continue;
                    }
                    // Too long: we do not know where the next line starts.
                    Some(fault) => {
                        self.flush_batch();
                        self.reply_error(fault.code, &format!("{}; closing", fault.detail));
                        return Ok(fault.code.as_str().to_string());
                    }
                    None => {
                        self.flush_batch();
                        return Err(error);
                    }
                },
            };
            if self.server.trace {
                eprintln!("{}", trace::received(self.peer, line));
            }
            let outcome = match self.kind {
                ClientKind::Full => self.handle_message(line, reader)?,
                ClientKind::Plain => self.handle_typed_line(line),
            };
            if self.batch.len() >= MAX_BATCH_BYTES {
                self.flush_batch();
            }
            if let Some(reason) = outcome {
                self.flush_batch();
                return Ok(reason);
            }
        }
    }

    /// Handles one protocol line from a full client (and, for `DATA`, the
    /// chunk that follows it on `reader`). Returns a reason to end the
    /// session, or `None` to go on.
    fn handle_message(
        &mut self,
        line: &str,
        reader: &mut BufReader<ReadHalf>,
    ) -> io::Result<Option<String>> {
        let message = match ClientMessage::decode(line) {
            Ok(message) => message,
            Err(fault) if fault.code.breaks_framing() => {
                // A broken DATA header: we cannot tell where its chunk ends.
                self.flush_batch();
                self.reply_error(fault.code, &format!("{}; closing", fault.detail));
                return Ok(Some(fault.code.as_str().to_string()));
            }
            Err(fault) => {
                self.flush_batch();
                self.reply_error(fault.code, &fault.detail);
                return Ok(None);
            }
        };
        if !matches!(message, ClientMessage::Chat { .. }) {
            // Relay earlier chat first, so that everything keeps its order.
            self.flush_batch();
        }
        match message {
            ClientMessage::Chat { text } => self.chat(text),
            ClientMessage::Private { to, text } => self.private(to, text),
            ClientMessage::Who => self.who(),
            ClientMessage::Quit => return Ok(Some(self.quit())),
            ClientMessage::Ping { token } => self.reply(&ServerMessage::Pong { token }),
            ClientMessage::Pong { .. } => {}
            ClientMessage::Hello { .. } => {
                self.reply_error(ErrorCode::AlreadyRegistered, "already joined");
            }
            ClientMessage::Send { id, size, to, name } => self.offer_file(id, size, to, name),
            ClientMessage::Data { id, len } => self.relay_chunk(reader, id, len)?,
            ClientMessage::Done { id, checksum } => self.finish_file(id, checksum),
            ClientMessage::Cancel { id, reason } => self.cancel_file(id, reason),
            ClientMessage::Received { id, outcome } => self.report_file(id, outcome),
        }
        Ok(None)
    }

    /// Handles one line typed by a plain client, with the same meaning the
    /// full client gives it.
    fn handle_typed_line(&mut self, line: &str) -> Option<String> {
        match parse_input(line) {
            Input::Empty => {}
            Input::Chat(text) => match protocol::check_text(text) {
                Ok(text) => self.chat(text),
                Err(fault) => self.reply_error(fault.code, &fault.detail),
            },
            Input::Private { to, text } => match protocol::check_text(text) {
                Ok(text) => self.private(to, text),
                Err(fault) => self.reply_error(fault.code, &fault.detail),
            },
            Input::Who => self.who(),
            Input::Help => {
                self.flush_batch();
                for help_line in CHAT_HELP.lines() {
                    self.reply(&ServerMessage::Notice { text: help_line });
                }
            }
            Input::Quit => return Some(self.quit()),
            Input::Transfer { .. } => {
                let text = "sending files needs the full client, ftpclient";
                self.reply_error(ErrorCode::UnknownCommand, text);
            }
            Input::Usage(usage) => self.reply_error(ErrorCode::BadMessage, usage),
            Input::Unknown(command) => {
                let text = format!(
                    "unknown command /{}; type /help for the list",
                    make_visible(command)
                );
                self.reply_error(ErrorCode::UnknownCommand, &text);
            }
        }
        None
    }

    /// Adds a chat line, stamped with the sender's nickname, to the batch.
    fn chat(&mut self, text: &str) {
        let message = ServerMessage::Chat {
            from: &self.nick,
            text,
        };
        message.encode(&mut self.batch);
    }

    fn private(&mut self, to: &str, text: &str) {
        self.flush_batch();
        let message = ServerMessage::Private {
            from: &self.nick,
            text,
        };
        if self.server.clients.send_to(to, &message).is_err() {
            let text = format!("no user named {}", make_visible(to));
            self.reply_error(ErrorCode::NoSuchNick, &text);
        }
    }

    fn who(&mut self) {
        self.flush_batch();
        let nicks = self.server.clients.nicks();
        let lines = Clients::users_message(&nicks);
        let frame = match self.kind {
            ClientKind::Full => lines,
            ClientKind::Plain => plain_text_of(&lines),
        };
        self.outbox.send(Arc::new(frame), Priority::Urgent);
    }

    fn quit(&mut self) -> String {
        self.reply(&ServerMessage::Bye { reason: "goodbye" });
        "quit".to_string()
    }

    /// Relays the batch of chat lines to everyone else.
    fn flush_batch(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.server.clients.broadcast(self.id, batch);
        }
    }

    fn reply(&self, message: &ServerMessage) {
        send_one(self.outbox, self.kind, message);
    }

    fn reply_error(&self, code: ErrorCode, text: &str) {
        reply_error(self.outbox, self.kind, code, text);
    }
}

/// Prints one log line, stamped with the time, to standard output.
fn log(message: std::fmt::Arguments) {
    println!("{} {message}", timestamp());
}
