//! `ftpclient`: the chat client.
//!
//! It connects to the server, introduces itself with a nickname, and then
//! does two things at once, in two threads: the main thread reads what the
//! user types and sends it ([`chat`]), while a receiver thread prints what
//! the server sends ([`receive`]). Read it in call order: [`main`] →
//! [`run`] → [`connect`] → [`handshake`] → [`chat`] and [`receive`].
//! `terminal.rs` keeps the screen tidy while both threads use it.
//!
//! Try it: start `cargo run --bin ftpserver`, then in two more terminals
//! `cargo run --bin ftpclient` (it asks for a nickname and a port), or
//! `cargo run --bin ftpclient -- --nick alice --port 5555`.

#![forbid(unsafe_code)]

#[path = "ftpclient/terminal.rs"]
mod terminal;

use ftpchat::cli::{Args, UsageError};
use ftpchat::display::{describe, make_visible};
use ftpchat::input::{CHAT_HELP, Input, parse_input};
use ftpchat::protocol::{
    self, ClientMessage, DEFAULT_HOST, ErrorCode, PROTOCOL_VERSION, ServerMessage, check_nick,
    read_line,
};
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;
use terminal::{Screen, Typed, restore_terminal};

const USAGE: &str = "\
usage: ftpclient [--nick NAME] [--port N] [--host ADDR]

Connects to an ftpchat server. Without --nick and --port it asks for them.
Type a line to talk to everyone; /help lists the commands.

options:
  --nick NAME    your nickname
  --port N       the server's port
  --host ADDR    the server's address or host name (default 127.0.0.1)
  -h, --help     show this help
  -V, --version  show the version";

/// How long to wait for a connection to be set up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for the server's goodbye after `/quit`.
const QUIT_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything the command line can set; what it leaves out is asked for.
struct Config {
    nick: Option<String>,
    port: Option<u16>,
    host: String,
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
    };
    while let Some(option) = args.next_option()? {
        match option.as_str() {
            "--nick" => config.nick = Some(args.value(&option)?),
            "--port" => config.port = Some(args.parsed(&option)?),
            "--host" => config.host = args.value(&option)?,
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
    let stream = connect(&config.host, port)?;
    let server = stream.peer_addr()?;
    // As on the server: one buffered reader for the connection's life.
    let mut reader = BufReader::new(stream.try_clone()?);
    let connection = Arc::new(Connection {
        stream: Mutex::new(stream),
    });
    loop {
        match handshake(&connection, &mut reader, &nick)? {
            Ok(()) => break,
            Err(refusal) if interactive => {
                println!("! {refusal}");
                nick = ask("Enter a nickname:", interactive)?;
            }
            Err(refusal) => return Err(io::Error::other(refusal)),
        }
    }

    let screen = Arc::new(if interactive {
        Screen::raw(&format!("{nick}> "))?
    } else {
        Screen::plain()
    });
    screen.print(&format!("* connected to {server} as {nick}"));
    let quitting = Arc::new(AtomicBool::new(false));
    let (finished_tx, finished_rx) = mpsc::channel();
    let receiver = {
        let (screen, connection, quitting) = (
            Arc::clone(&screen),
            Arc::clone(&connection),
            Arc::clone(&quitting),
        );
        thread::Builder::new()
            .name("receiver".to_string())
            .spawn(move || {
                let outcome = receive(reader, &screen, &connection);
                if !quitting.load(Ordering::SeqCst) {
                    // The server went away while the user was still here. The
                    // main thread is waiting for a key and cannot be woken, so
                    // this thread ends the program, terminal restored first.
                    screen.finish();
                    eprintln!("ftpclient: {}", outcome.describe(server));
                    std::process::exit(1);
                }
                let _ = finished_tx.send(());
            })?
    };

    chat(&connection, &screen, &nick);

    // Leaving: say so, and give the server a moment to answer and close,
    // so that anything it sent before its goodbye is still printed.
    quitting.store(true, Ordering::SeqCst);
    let _ = connection.send(&ClientMessage::Quit);
    let _ = finished_rx.recv_timeout(QUIT_TIMEOUT);
    connection.shut_down();
    let _ = receiver.join();
    screen.finish();
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

/// The connection's write half, shared by every thread that sends. The
/// mutex makes each message one uninterrupted write, so messages from
/// different threads never mix on the wire.
struct Connection {
    stream: Mutex<TcpStream>,
}

impl Connection {
    fn send(&self, message: &ClientMessage) -> io::Result<()> {
        let bytes = message.to_bytes();
        let mut stream = self.stream.lock().unwrap_or_else(PoisonError::into_inner);
        stream.write_all(&bytes)
    }

    /// Closes both directions; a thread blocked reading the socket sees
    /// end of file and stops.
    fn shut_down(&self) {
        let stream = self.stream.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// Introduces the client as `nick`. Returns `Ok(Err(reason))` if the
/// server refused the nickname (the user may try another on the same
/// connection) and `Err` if the connection failed.
fn handshake(
    connection: &Connection,
    reader: &mut BufReader<TcpStream>,
    nick: &str,
) -> io::Result<Result<(), String>> {
    // Check the nickname here first: a broken rule is reported at once,
    // without a trip to the server.
    if let Err(error) = check_nick(nick) {
        return Ok(Err(error.to_string()));
    }
    connection.send(&ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        nick,
    })?;
    let mut buf = Vec::new();
    loop {
        let Some(line) = read_line(reader, &mut buf)? else {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed the connection during the handshake",
            ));
        };
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

/// Reads the user's lines and acts on them until they quit or input ends.
fn chat(connection: &Connection, screen: &Screen, nick: &str) {
    while let Typed::Line(line) = screen.read_line() {
        let sent = match parse_input(&line) {
            Input::Empty => Ok(()),
            Input::Chat(text) => protocol::check_text(text)
                .map_err(|fault| fault.detail)
                .and_then(|text| {
                    screen.echo(
                        &describe(&ServerMessage::Chat { from: nick, text }).unwrap_or_default(),
                    );
                    connection
                        .send(&ClientMessage::Chat { text })
                        .map_err(|e| e.to_string())
                }),
            Input::Private { to, text } => protocol::check_text(text)
                .map_err(|fault| fault.detail)
                .and_then(|text| {
                    screen.echo(&format!("-> *{}* {}", make_visible(to), make_visible(text)));
                    connection
                        .send(&ClientMessage::Private { to, text })
                        .map_err(|e| e.to_string())
                }),
            Input::Who => connection
                .send(&ClientMessage::Who)
                .map_err(|e| e.to_string()),
            Input::Help => {
                CHAT_HELP.lines().for_each(|line| screen.print(line));
                Ok(())
            }
            Input::Quit => return,
            Input::Usage(usage) => Err(usage.to_string()),
            Input::Unknown(command) => Err(format!(
                "unknown command /{command}; type /help for the list"
            )),
        };
        if let Err(problem) = sent {
            screen.complain(&format!("! {problem}"));
        }
    }
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
    fn describe(&self, server: std::net::SocketAddr) -> String {
        match self {
            Ending::Bye(reason) => format!("disconnected by the server at {server}: {reason}"),
            Ending::Closed => format!("the server at {server} closed the connection"),
            Ending::Failed(error) => format!("lost the connection to {server}: {error}"),
        }
    }
}

/// The receiver thread: prints every event the server sends, answers its
/// keep-alive pings, and returns when the connection ends.
fn receive(mut reader: BufReader<TcpStream>, screen: &Screen, connection: &Connection) -> Ending {
    let mut buf = Vec::new();
    loop {
        let line = match read_line(&mut reader, &mut buf) {
            Ok(Some(line)) => line,
            Ok(None) => return Ending::Closed,
            Err(error) => return Ending::Failed(error),
        };
        let message = match ServerMessage::decode(line) {
            Ok(message) => message,
            Err(fault) => {
                // A newer server may send something we do not know: say
                // so and carry on, since the line itself was well framed.
                screen.complain(&format!("! could not understand the server: {fault}"));
                continue;
            }
        };
        match message {
            ServerMessage::Ping { token } => {
                let _ = connection.send(&ClientMessage::Pong { token });
            }
            ServerMessage::Bye { reason } => return Ending::Bye(reason.to_string()),
            message => {
                if let Some(text) = describe(&message) {
                    screen.print(&text);
                }
            }
        }
    }
}
