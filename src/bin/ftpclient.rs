//! `ftpclient`: the chat client.
//!
//! It connects to the server, introduces itself with a nickname, and then
//! does two things at once, in two threads: the main thread reads what the
//! user types and sends it ([`chat`]), while a receiver thread prints what
//! the server sends ([`receive`]). Each file being sent gets a thread of
//! its own. Read it in call order: [`main`] → [`run`] → [`connect`] →
//! [`handshake`] → [`chat`] and [`receive`]. `terminal.rs` keeps the screen
//! tidy while several threads use it; `transfers.rs` sends and receives
//! files.
//!
//! Try it: start `cargo run --bin ftpserver`, then in two more terminals
//! `cargo run --bin ftpclient` (it asks for a nickname and a port), or
//! `cargo run --bin ftpclient -- --nick alice --port 5555`.

#![forbid(unsafe_code)]

// A binary's own modules live in the folder named after it; the `path`
// attributes say so, because this root file sits beside that folder.
#[path = "ftpclient/terminal.rs"]
mod terminal;
#[path = "ftpclient/transfers.rs"]
mod transfers;

use ftpchat::cli::{Args, UsageError};
use ftpchat::defaults::{DEFAULT_CHUNK_LEN, DEFAULT_HOST};
use ftpchat::display::describe;
use ftpchat::input::{CHAT_HELP, FILE_HELP, Input, parse_input};
use ftpchat::keepalive::{DEFAULT_KEEPALIVE, Keepalive, Silence, is_timeout, parse_seconds};
use ftpchat::protocol::{
    self, ClientMessage, Delivery, ErrorCode, MAX_CHUNK_LEN, PROTOCOL_VERSION, ServerMessage,
    check_nick, read_line, write_all_vectored,
};
use ftpchat::text::make_visible;
use ftpchat::trace;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use terminal::{Screen, Typed, restore_terminal};
use transfers::{Downloads, Outgoing, Reply};

const USAGE: &str = "\
usage: ftpclient [--nick NAME] [--port N] [--host ADDR] [--dir DIR] [--chunk-size BYTES]
                 [--keepalive SECS] [--trace]

Connects to an ftpchat server. Without --nick and --port it asks for them.
Type a line to talk to everyone; /help lists the commands.

options:
  --nick NAME         your nickname
  --port N            the server's port
  --host ADDR         the server's address or host name (default 127.0.0.1)
  --dir DIR           where received files are saved (default rec)
  --chunk-size BYTES  size of the chunks files are sent in (default 262144,
                      at most 1048576)
  --keepalive SECS    silence from the server after which it is pinged; no
                      answer within as long again and the client gives up
                      (default 30)
  --trace             print every frame sent and received to standard error
  -h, --help          show this help
  -V, --version       show the version";

/// How long to wait for a connection to be set up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for the server to answer the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for the server's goodbye after `/quit`.
const QUIT_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything the command line can set; what it leaves out is asked for.
struct Config {
    nick: Option<String>,
    port: Option<u16>,
    host: String,
    dir: PathBuf,
    chunk_len: usize,
    keepalive: Duration,
    trace: bool,
}

enum Command {
    Run(Config),
    Help,
    Version,
}

fn main() -> ExitCode {
    let config = match parse_args(Args::from_env()) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("ftpclient {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("ftpclient: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // If anything panics, put the terminal back before the message shows.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        default_hook(info);
    }));
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ftpclient: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: Args) -> Result<Command, UsageError> {
    let mut config = Config {
        nick: None,
        port: None,
        host: DEFAULT_HOST.to_string(),
        dir: PathBuf::from("rec"),
        chunk_len: DEFAULT_CHUNK_LEN,
        keepalive: DEFAULT_KEEPALIVE,
        trace: false,
    };
    while let Some(option) = args.next_option()? {
        match option.as_str() {
            "--nick" => config.nick = Some(args.value(&option)?),
            "--port" => config.port = Some(args.parsed(&option)?),
            "--host" => config.host = args.value(&option)?,
            "--dir" => config.dir = PathBuf::from(args.value(&option)?),
            "--chunk-size" => {
                config.chunk_len = args.parsed(&option)?;
                if !(1..=MAX_CHUNK_LEN).contains(&config.chunk_len) {
                    let text = format!("--chunk-size must be from 1 to {MAX_CHUNK_LEN} bytes");
                    return Err(UsageError(text));
                }
            }
            "--keepalive" => {
                let value = args.value(&option)?;
                config.keepalive = parse_seconds(&value)
                    .map_err(|e| UsageError(format!("invalid value for {option}: {e}")))?;
            }
            "--trace" => config.trace = true,
            "--help" => return Ok(Command::Help),
            "--version" => return Ok(Command::Version),
            _ => return Err(UsageError(format!("unknown option '{option}'"))),
        }
    }
    Ok(Command::Run(config))
}

/// Asks for what the command line left out, connects, joins, and chats
/// until the user quits.
fn run(config: Config) -> io::Result<()> {
    // A person at a terminal gets prompts and a line editor; a script
    // gets neither, and its input is read line by line.
    let interactive = io::stdin().is_terminal();
    let mut nick = match config.nick {
        Some(nick) => nick,
        None => ask("Enter a nickname:", interactive)?,
    };
    let port = match config.port {
        Some(port) => port,
        None => ask_port(interactive)?,
    };
    let mut writer = connect(&config.host, port)?;
    let server = writer.peer_addr()?;
    let trace_peer = config.trace.then_some(server);
    // As on the server: one buffered reader for the connection's life.
    let mut reader = BufReader::new(writer.try_clone()?);
    writer.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    loop {
        match handshake(&mut writer, &mut reader, &nick, trace_peer)? {
            Ok(()) => break,
            Err(refusal) if interactive => {
                println!("! {refusal}");
                nick = ask("Enter a nickname:", interactive)?;
            }
            Err(refusal) => return Err(io::Error::other(refusal)),
        }
    }

    let screen = if interactive {
        Screen::raw(&format!("{nick}> "))?
    } else {
        Screen::plain()
    };
    let client = Arc::new(Client {
        writer: Mutex::new(writer),
        screen,
        nick,
        outgoing: Mutex::new(HashMap::new()),
        last_transfer_id: AtomicU64::new(0),
        chunk_len: config.chunk_len,
        quitting: AtomicBool::new(false),
        trace_peer,
    });
    client
        .screen
        .print(&format!("* connected to {server} as {}", client.nick));
    // From now on a read that times out means silence: ping the server.
    reader.get_ref().set_read_timeout(Some(config.keepalive))?;
    let keepalive = Keepalive::new(config.keepalive);
    let (finished_tx, finished_rx) = mpsc::channel();
    let receiver = {
        let client = Arc::clone(&client);
        thread::Builder::new()
            .name("receiver".to_string())
            .spawn(move || {
                let mut downloads = Downloads::new(config.dir);
                let ending = receive(reader, &client, &mut downloads, keepalive);
                if !client.quitting.load(Ordering::SeqCst) {
                    // The server went away while the user was still here. The
                    // main thread is waiting for a key and cannot be woken, so
                    // this thread ends the program, terminal restored first.
                    let why = ending.describe(server);
                    client.report_interrupted(&mut downloads, &why);
                    client.screen.finish();
                    eprintln!("ftpclient: {why}");
                    std::process::exit(1);
                }
                downloads.abandon_all(&client, "the client quit");
                let _ = finished_tx.send(());
            })?
    };

    let uploads = chat(&client);
    // Files still being sent are part of what the user asked for: finish
    // them before leaving.
    for upload in uploads {
        let _ = upload.join();
    }
    if !client.outgoing().is_empty() {
        // A file is still listed as being sent: its connection failed. The
        // receiver thread reports that, naming the file, and ends the
        // program with an error; leaving now would claim all was well.
        let _ = receiver.join();
        return Err(io::Error::other(
            "the connection failed while sending files",
        ));
    }

    // Leaving: say so, and give the server a moment to answer and close,
    // so that anything it sent before its goodbye is still printed.
    client.quitting.store(true, Ordering::SeqCst);
    let _ = client.send(&ClientMessage::Quit);
    let _ = finished_rx.recv_timeout(QUIT_TIMEOUT);
    client.shut_down();
    let _ = receiver.join();
    client.screen.finish();
    Ok(())
}

/// Asks the user a question and returns the answer. In a script there is
/// no prompt: the answer is simply the next line of input.
fn ask(question: &str, interactive: bool) -> io::Result<String> {
    if interactive {
        print!("{question} ");
        io::stdout().flush()?;
    }
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("input ended before the answer to '{question}'"),
        ));
    }
    Ok(answer.trim().to_string())
}

/// Asks for the server's port until the answer is a port number.
fn ask_port(interactive: bool) -> io::Result<u16> {
    loop {
        let answer = ask("Enter the port number to connect to:", interactive)?;
        match answer.parse() {
            Ok(port) => return Ok(port),
            Err(_) if interactive => println!("'{answer}' is not a port number (1-65535)"),
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("'{answer}' is not a port number (1-65535)"),
                ));
            }
        }
    }
}

/// Opens a TCP connection to `host`:`port`, trying each address the name
/// resolves to (a name may have an IPv6 and an IPv4 address).
fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve host '{host}': {e}")))?
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
                last_error = io::Error::new(e.kind(), format!("cannot connect to {addr}: {e}"))
            }
        }
    }
    Err(last_error)
}

/// Introduces the client as `nick`. Returns `Ok(Err(reason))` if the
/// server refused the nickname (the user may try another on the same
/// connection) and `Err` if the connection failed. With a `trace_peer`,
/// the frames are traced (see `--trace`).
fn handshake(
    writer: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    nick: &str,
    trace_peer: Option<SocketAddr>,
) -> io::Result<Result<(), String>> {
    // Check the nickname here first: a broken rule is reported at once,
    // without a trip to the server.
    if let Err(error) = check_nick(nick) {
        return Ok(Err(error.to_string()));
    }
    let hello = ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        nick,
    };
    let hello = hello.to_bytes();
    if let Some(peer) = trace_peer {
        // The screen is not set up yet: the trace goes straight to stderr.
        for line in trace::sent(peer, &hello) {
            eprintln!("{line}");
        }
    }
    writer.write_all(&hello)?;
    let mut buf = Vec::new();
    loop {
        let line = read_line(reader, &mut buf).map_err(|error| match is_timeout(&error) {
            true => io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the server did not answer within {} s",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            ),
            false => error,
        })?;
        let Some(line) = line else {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed the connection during the handshake",
            ));
        };
        if let Some(peer) = trace_peer {
            eprintln!("{}", trace::received(peer, line));
        }
        match ServerMessage::decode(line) {
            Ok(ServerMessage::Welcome { .. }) => return Ok(Ok(())),
            Ok(ServerMessage::Error { code, text }) => {
                let text = make_visible(text).into_owned();
                let retry = [ErrorCode::BadNick, ErrorCode::NickTaken].map(ErrorCode::as_str);
                if retry.contains(&code) {
                    return Ok(Err(text));
                }
                return Err(io::Error::other(format!(
                    "the server refused the connection: {text}"
                )));
            }
            _ => {} // nothing else is expected here; ignore it
        }
    }
}

/// What every thread of the client shares: the main thread (typed
/// input), the receiver thread (what the server sends), and one thread per
/// file being sent.
struct Client {
    /// The connection's write half. The mutex makes each frame one
    /// uninterrupted write, so frames from different threads never mix.
    writer: Mutex<TcpStream>,
    screen: Screen,
    nick: String,
    /// Files being sent, by our transfer id: the receiver thread passes
    /// the server's replies about each to the thread sending it.
    outgoing: Mutex<HashMap<u64, Outgoing>>,
    /// The transfer id given to the last file we sent.
    last_transfer_id: AtomicU64,
    /// Size of the chunks files are sent in.
    chunk_len: usize,
    /// Set when the user leaves, so that the end of the connection is
    /// expected rather than an error.
    quitting: AtomicBool,
    /// With `--trace`, the server's address, for the trace of each frame.
    trace_peer: Option<SocketAddr>,
}

impl Client {
    /// Sends one message.
    fn send(&self, message: &ClientMessage) -> io::Result<()> {
        let bytes = message.to_bytes();
        let mut writer = self.lock_writer();
        self.trace_sent(&bytes); // holding the lock: traced in wire order
        writer.write_all(&bytes)
    }

    /// Sends one chunk of a file: the `DATA` header and the bytes, as one
    /// piece that no other frame can split.
    fn send_data(&self, id: u64, chunk: &[u8]) -> io::Result<()> {
        let header = ClientMessage::Data {
            id,
            len: chunk.len(),
        }
        .to_bytes();
        let mut writer = self.lock_writer();
        self.trace_sent(&header);
        write_all_vectored(&mut *writer, &[&header, chunk])
    }

    /// With `--trace`, shows the frames in `bytes`, about to be sent.
    fn trace_sent(&self, bytes: &[u8]) {
        if let Some(peer) = self.trace_peer {
            for line in trace::sent(peer, bytes) {
                self.screen.trace(&line);
            }
        }
    }

    /// With `--trace`, shows `line`, just received.
    fn trace_received(&self, line: &str) {
        if let Some(peer) = self.trace_peer {
            self.screen.trace(&trace::received(peer, line));
        }
    }

    /// Tells the server how a received file turned out.
    fn report(&self, id: u64, outcome: Delivery) {
        let _ = self.send(&ClientMessage::Received { id, outcome });
    }

    fn lock_writer(&self) -> MutexGuard<'_, TcpStream> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The files being sent. If a thread panicked while holding this lock,
    /// the map is still usable (each change to it is one step).
    fn outgoing(&self) -> MutexGuard<'_, HashMap<u64, Outgoing>> {
        self.outgoing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn next_transfer_id(&self) -> u64 {
        self.last_transfer_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Closes both directions; a thread blocked reading the socket sees
    /// end of file and stops.
    fn shut_down(&self) {
        let _ = self.lock_writer().shutdown(Shutdown::Both);
    }

    /// The connection is lost: deletes partial files received, and says
    /// which files being sent may not have arrived.
    fn report_interrupted(&self, downloads: &mut Downloads, why: &str) {
        downloads.abandon_all(self, why);
        for outgoing in self.outgoing().values() {
            self.screen.complain(&format!(
                "! sending {} stopped: {why}; its recipients may not have it",
                make_visible(&outgoing.name)
            ));
        }
    }
}

/// Reads the user's lines and acts on them until they quit or input ends.
/// Returns the threads of files still being sent.
fn chat(client: &Arc<Client>) -> Vec<JoinHandle<()>> {
    let screen = &client.screen;
    let mut uploads = Vec::new();
    while let Typed::Line(line) = screen.read_line() {
        let done = match parse_input(&line) {
            Input::Empty => Ok(()),
            Input::Chat(text) => protocol::check_text(text)
                .map_err(|fault| fault.detail)
                .and_then(|text| {
                    let echo = ServerMessage::Chat {
                        from: &client.nick,
                        text,
                    };
                    screen.echo(&describe(&echo).unwrap_or_default());
                    let message = ClientMessage::Chat { text };
                    client.send(&message).map_err(|e| e.to_string())
                }),
            Input::Private { to, text } => protocol::check_text(text)
                .map_err(|fault| fault.detail)
                .and_then(|text| {
                    screen.echo(&format!("-> *{}* {}", make_visible(to), make_visible(text)));
                    let message = ClientMessage::Private { to, text };
                    client.send(&message).map_err(|e| e.to_string())
                }),
            Input::Who => client.send(&ClientMessage::Who).map_err(|e| e.to_string()),
            Input::Transfer { path, to } => transfers::start_upload(client, &path, to.as_deref())
                .map(|upload| uploads.push(upload)),
            Input::Help => {
                for line in CHAT_HELP.lines().chain(FILE_HELP.lines()) {
                    screen.print(line);
                }
                Ok(())
            }
            Input::Quit => break,
            Input::Usage(usage) => Err(usage.to_string()),
            Input::Unknown(command) => Err(format!(
                "unknown command /{}; type /help for the list",
                make_visible(command)
            )),
        };
        if let Err(problem) = done {
            screen.complain(&format!("! {problem}"));
        }
        uploads.retain(|upload| !upload.is_finished());
    }
    uploads
}

/// How the conversation with the server ended, seen from the receiver.
enum Ending {
    /// The server said goodbye, with this reason.
    Bye(String),
    /// The connection closed without a goodbye.
    Closed,
    /// Reading failed.
    Failed(io::Error),
}

impl Ending {
    fn describe(&self, server: SocketAddr) -> String {
        match self {
            Ending::Bye(reason) => format!(
                "disconnected by the server at {server}: {}",
                make_visible(reason)
            ),
            Ending::Closed => format!("the server at {server} closed the connection"),
            Ending::Failed(error) => format!("lost the connection to {server}: {error}"),
        }
    }
}

/// The receiver thread: prints every event the server sends, answers its
/// keep-alive pings, passes replies about files we send to their threads,
/// saves files we receive, and returns when the connection ends.
fn receive(
    mut reader: BufReader<TcpStream>,
    client: &Client,
    downloads: &mut Downloads,
    mut keepalive: Keepalive,
) -> Ending {
    let mut buf = Vec::new();
    loop {
        let result = read_line(&mut reader, &mut buf);
        match &result {
            Err(error) if is_timeout(error) => match keepalive.silence() {
                Silence::Ping(token) => {
                    let _ = client.send(&ClientMessage::Ping { token: &token });
                    continue;
                }
                Silence::Dead => {
                    let secs = 2.0 * keepalive.interval().as_secs_f64();
                    let why = format!("no answer from the server for {secs} s");
                    return Ending::Failed(io::Error::new(io::ErrorKind::TimedOut, why));
                }
            },
            _ => keepalive.heard(),
        }
        let line = match result {
            Ok(Some(line)) => line,
            Ok(None) => return Ending::Closed,
            Err(error) => return Ending::Failed(error),
        };
        client.trace_received(line);
        let message = match ServerMessage::decode(line) {
            Ok(message) => message,
            Err(fault) if fault.code.breaks_framing() => {
                return Ending::Failed(fault.into());
            }
            Err(fault) => {
                // A newer server may send something we do not know: say
                // so and carry on, since the line itself was well framed.
                let text = format!("! could not understand the server: {fault}");
                client.screen.complain(&text);
                continue;
            }
        };
        match message {
            ServerMessage::Ping { token } => {
                let _ = client.send(&ClientMessage::Pong { token });
            }
            ServerMessage::Bye { reason } => return Ending::Bye(reason.to_string()),
            ServerMessage::File {
                id,
                size,
                from,
                name,
            } => downloads.begin(client, id, size, from, name),
            ServerMessage::Data { id, len } => {
                if let Err(error) = downloads.data(client, &mut reader, id, len) {
                    return Ending::Failed(error);
                }
            }
            ServerMessage::Done { id, checksum } => downloads.done(client, id, checksum),
            ServerMessage::Cancel { id, reason } => downloads.cancel(client, id, reason),
            ServerMessage::Accepted { id, recipients } => {
                pass_on(client, id, Reply::Accepted(recipients));
            }
            ServerMessage::Refused { id, text, .. } => {
                pass_on(client, id, Reply::Refused(text.to_string()));
            }
            ServerMessage::Delivered { id, nick, outcome } => {
                let outcome = match outcome {
                    Delivery::Ok => Ok(()),
                    Delivery::Failed(reason) => Err(reason.to_string()),
                };
                let nick = nick.to_string();
                pass_on(client, id, Reply::Delivered { nick, outcome });
            }
            message => {
                if let Some(text) = describe(&message) {
                    client.screen.print(&text);
                }
            }
        }
    }
}

/// Hands a reply about a file we are sending to the thread sending it.
fn pass_on(client: &Client, id: u64, reply: Reply) {
    if let Some(outgoing) = client.outgoing().get(&id) {
        let _ = outgoing.replies.send(reply);
    }
}
