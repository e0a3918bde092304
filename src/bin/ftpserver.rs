//! `ftpserver`: the chat server.
//!
//! It listens on one or more TCP ports, and for every client that connects
//! it starts a thread that reads that client's messages and relays them to
//! the others. This file holds what the person running the server sees:
//! [`main`] parses the command line, [`run`] starts the listeners and then
//! serves the console (`/say`, `/kick`, `/who`, `/quit`). The server's
//! story goes on in its files, in this order:
//!
//! | file | what it holds |
//! |---|---|
//! | `listening.rs` | listening sockets; the accept loop, a thread per connection |
//! | `connection.rs` | one connection from first byte to last; cleanup by `Drop` |
//! | `read_half.rs` | reading a socket another thread writes; deadlines |
//! | `handshake.rs` | the first line: a full or a plain client, and a free nickname |
//! | `session.rs` | the loop over one member's messages |
//! | `relay.rs` | passing a file on, chunk by chunk |
//! | `flow.rs` | a sender's credit: data in flight through the server |
//! | `flood.rs` | how many chat lines a client may send: a token bucket |
//! | `expiry.rs` | the clock: offers nobody answers, data that stops |
//! | `registry.rs` | who is connected: the one `Mutex` every thread shares |
//! | `transfers.rs` | the files in flight, inside the registry |
//! | `history.rs` | the last public lines, for whoever joins next |
//! | `outbox.rs` | each client's send queue and writer thread |
//! | `plain.rs` | protocol lines for `ftpclient`, text for `nc` |
//! | `console.rs` | the operator's terminal: commands, and Ctrl-C |
//! | `ids.rs`, `shared.rs`, `log.rs` | names, shared state, the log |
//!
//! Try it: `cargo run --bin ftpserver`, then in another terminal
//! `cargo run --bin ftpclient` or `nc 127.0.0.1 5555`. Type `/quit` in the
//! server's terminal to stop it.

#![forbid(unsafe_code)]

// A binary's own modules live in the folder named after it. The `path`
// attributes say so, because the root file `ftpserver.rs` sits beside that
// folder rather than inside it.
#[path = "ftpserver/connection.rs"]
mod connection;
#[path = "ftpserver/console.rs"]
mod console;
#[path = "ftpserver/expiry.rs"]
mod expiry;
#[path = "ftpserver/flood.rs"]
mod flood;
#[path = "ftpserver/flow.rs"]
mod flow;
#[path = "ftpserver/handshake.rs"]
mod handshake;
#[path = "ftpserver/history.rs"]
mod history;
#[path = "ftpserver/ids.rs"]
mod ids;
#[path = "ftpserver/listening.rs"]
mod listening;
#[path = "ftpserver/log.rs"]
mod log;
#[path = "ftpserver/outbox.rs"]
mod outbox;
#[path = "ftpserver/plain.rs"]
mod plain;
#[path = "ftpserver/read_half.rs"]
mod read_half;
#[path = "ftpserver/registry.rs"]
mod registry;
#[path = "ftpserver/relay.rs"]
mod relay;
#[path = "ftpserver/session.rs"]
mod session;
#[path = "ftpserver/shared.rs"]
mod shared;
#[path = "ftpserver/transfers.rs"]
mod transfers;

use console::{Console, Typed};
use flood::{DEFAULT_CHAT_BURST, DEFAULT_CHAT_RATE};
use ftpchat::cli::{Args, UsageError, parse_size};
use ftpchat::clock::LocalZone;
use ftpchat::defaults::{DEFAULT_HOST, DEFAULT_PORTS};
use ftpchat::keepalive::{DEFAULT_KEEPALIVE, parse_seconds};
use ftpchat::protocol::{ServerMessage, check_text};
use history::DEFAULT_HISTORY_LINES;
use log::log;
use outbox::DEFAULT_STALL_TIMEOUT;
use shared::{Server, Settings};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const USAGE: &str = "\
usage: ftpserver [--host ADDR] [-p N]... [--max-clients N]
                 [--max-file-size SIZE] [--max-transfers N]
                 [--offer-timeout SECS] [--handshake-timeout SECS]
                 [--keepalive SECS] [--stall-timeout SECS]
                 [--chat-burst N] [--chat-rate N] [--history N] [--trace]

Runs the ftpchat server. With no options it listens on 127.0.0.1, ports
5555, 5556 and 5557. On its terminal, type /say TEXT to talk to everyone,
/kick NICK [REASON] to send someone away, /who, and /quit (or Ctrl-C) to
stop it.

options:
  --host ADDR               address to listen on, IPv4 or IPv6 (default
                            127.0.0.1; 0.0.0.0 or :: to accept clients
                            from other machines)
  -p, --port N              port to listen on; repeat for several; 0 picks
                            a free one
  --max-clients N           most connections at once (default 1000)
  --max-file-size SIZE      largest file clients may send (default 1T;
                            none for no limit)
  --max-transfers N         most files one client may send at once
                            (default 8)
  --offer-timeout SECS      time a recipient has to accept or decline a
                            file (default 120)
  --handshake-timeout SECS  time a new connection has to send its
                            nickname (default 30)
  --keepalive SECS          silence after which a client is pinged; no
                            answer within as long again and it is
                            disconnected (default 30)
  --stall-timeout SECS      time a client may accept no data before it is
                            disconnected (default 10)
  --chat-burst N            chat lines a client may send at once (default
                            20)
  --chat-rate N             chat lines a second after that (default 5; 0
                            for no limit); a flood is warned, dropped,
                            then disconnected
  --history N               public lines kept to show whoever joins
                            (default 20; 0 keeps none)
  --trace                   print every frame sent and received to
                            standard error
  -h, --help                show this help
  -V, --version             show the version

SIZE is a number of bytes, or of KiB, MiB, GiB with K, M, G: 64K, 2G.";

/// Everything the command line can set.
struct Config {
    host: IpAddr,
    ports: Vec<u16>,
    max_clients: usize,
    settings: Settings,
}

/// What the command line asks for.
enum Command {
    Run(Config),
    Help,
    Version,
}

/// The largest file the server relays unless told otherwise: a tebibyte,
/// more than any LAN user sends by accident, and far less than the absurd
/// sizes (up to 16 EiB) a hostile `SEND` may announce.
const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 40;

/// How long `/quit` waits for connections to close before it exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
            eprintln!("ftpserver: {error} (see ftpserver --help)");
            return ExitCode::from(2);
        }
    };
    // If anything panics, put the console's terminal back first.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        ftpchat::tty::restore();
        default_hook(info);
    }));
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
        settings: Settings {
            handshake_timeout: Duration::from_secs(30),
            keepalive: DEFAULT_KEEPALIVE,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            offer_timeout: Duration::from_secs(120),
            max_transfers: 8,
            trace: false,
            chat_burst: DEFAULT_CHAT_BURST,
            chat_rate: DEFAULT_CHAT_RATE,
            history_lines: DEFAULT_HISTORY_LINES,
            zone: LocalZone::UTC,
        },
    };
    let settings = &mut config.settings;
    while let Some(option) = args.next_option()? {
        match option.as_str() {
            "--host" => config.host = args.parsed(&option)?,
            "-p" | "--port" => config.ports.push(args.parsed(&option)?),
            "--max-clients" => config.max_clients = args.parsed(&option)?,
            "--max-file-size" => {
                let value = args.value(&option)?;
                settings.max_file_size = match value.as_str() {
                    "none" => u64::MAX,
                    size => parse_size(size)
                        .map_err(|e| UsageError(format!("invalid value for {option}: {e}")))?,
                };
            }
            "--handshake-timeout" => settings.handshake_timeout = seconds(&mut args, &option)?,
            "--keepalive" => settings.keepalive = seconds(&mut args, &option)?,
            "--stall-timeout" => settings.stall_timeout = seconds(&mut args, &option)?,
            "--offer-timeout" => settings.offer_timeout = seconds(&mut args, &option)?,
            "--max-transfers" => settings.max_transfers = args.parsed(&option)?,
            "--chat-burst" => settings.chat_burst = args.parsed(&option)?,
            "--chat-rate" => {
                let rate: f64 = args.parsed(&option)?;
                if !(rate.is_finite() && rate >= 0.0) {
                    let text = format!("invalid value '{rate}' for {option}: a rate, 0 or more");
                    return Err(UsageError(text));
                }
                settings.chat_rate = rate;
            }
            "--history" => settings.history_lines = args.parsed(&option)?,
            "--trace" => settings.trace = true,
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
    if config.settings.max_transfers == 0 {
        return Err(UsageError("--max-transfers must be at least 1".to_string()));
    }
    Ok(Command::Run(config))
}

/// Opens the listeners, starts an accept loop for each, then serves the
/// console until `/quit`.
fn run(config: Config) -> io::Result<()> {
    let listeners = listening::listen(config.host, &config.ports)?;
    // The console takes Ctrl-C as a key from before the server is
    // announced, so that nobody can press it while it would still kill.
    let mut console = Console::open();
    let addrs = listening::announce(&listeners)?;
    let mut settings = config.settings;
    settings.zone = LocalZone::detect();
    let server = Arc::new(Server::new(settings, config.max_clients));
    expiry::spawn_expiry(Arc::clone(&server));
    let mut accept_threads = Vec::new();
    for listener in listeners {
        let server = Arc::clone(&server);
        let name = format!("accept-{}", listener.local_addr()?);
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || listening::accept_loop(listener, &server))?;
        accept_threads.push(thread);
    }

    if read_console(&mut console, &server) {
        shut_down(&server, &addrs);
    }
    drop(console); // the terminal as it was
    // Without `/quit` (the console's input ended), the accept loops run
    // until the process is killed; that is how a server in the background
    // runs.
    for thread in accept_threads {
        let _ = thread.join();
    }
    Ok(())
}

/// What the console answers a line it does not know.
const CONSOLE_HELP: &str =
    "console commands: /say TEXT, /kick NICK [REASON], /who, /quit (or Ctrl-C)";

/// Reads commands typed on the server's own terminal. Returns `true` for
/// `/quit` or Ctrl-C, and `false` when standard input ends: a server
/// started in the background with no input keeps running.
fn read_console(console: &mut Console, server: &Server) -> bool {
    loop {
        let line = match console.next() {
            Typed::Line(line) => line,
            Typed::Interrupt => {
                println!("^C");
                return true;
            }
            Typed::End => return false,
        };
        let line = line.trim();
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        match (command.to_ascii_lowercase().as_str(), rest.trim()) {
            ("/quit", "") => return true,
            ("/who", "") => {
                let nicks = server.clients.nicks();
                log(format_args!("{} online: {}", nicks.len(), nicks.join(", ")));
            }
            ("/say", text) if !text.is_empty() => say(server, text),
            ("/kick", target) if !target.is_empty() => kick(server, target),
            ("/say", _) => log(format_args!("usage: /say TEXT")),
            ("/kick", _) => log(format_args!("usage: /kick NICK [REASON]")),
            ("", _) => {}
            _ => log(format_args!("{CONSOLE_HELP}")),
        }
    }
}

/// `/say TEXT`: the operator talks to everyone, as `server: TEXT` (which
/// no member can fake: a nickname cannot hold a `:`).
fn say(server: &Server, text: &str) {
    let text = format!("server: {text}");
    match check_text(&text) {
        Ok(text) => {
            server.clients.announce(&ServerMessage::Notice { text });
            log(format_args!("operator said: {}", &text["server: ".len()..]));
        }
        Err(fault) => log(format_args!("not said: {}", fault.detail)),
    }
}

/// `/kick NICK [REASON]`: the operator sends a member away.
fn kick(server: &Server, target: &str) {
    let (nick, reason) = target.split_once(' ').unwrap_or((target, ""));
    let reason = match reason.trim() {
        "" => "kicked by the operator".to_string(),
        reason => format!("kicked by the operator: {reason}"),
    };
    match server.clients.kick(nick, &reason) {
        Some(kicked) => log(format_args!("{} {} {reason}", kicked.id, kicked.nick)),
        None => log(format_args!("no user named {nick} to kick")),
    }
}

/// Stops the server: tells every client, closes every connection, and
/// waits (a little) for them to finish.
fn shut_down(server: &Server, addrs: &[SocketAddr]) {
    log(format_args!("shutting down"));
    server.start_shutdown();
    listening::wake_accept_loops(addrs);
    server.clients.close_all(&ServerMessage::Bye {
        reason: "server shutting down",
    });
    let left = server.clients.wait_until_empty(SHUTDOWN_GRACE);
    if left > 0 {
        log(format_args!("{left} connections did not close in time"));
    }
}
