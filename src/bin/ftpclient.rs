//! `ftpclient`: the chat client.
//!
//! It connects to the server, introduces itself with a nickname, and then
//! does several things at once: it reads what the user types, reads what
//! the server sends, and sends and saves files. Each of these has a thread
//! that waits for its input and reports it to the main thread, which owns
//! everything and decides what happens next: the control loop.
//!
//! This file holds what the user sets up: [`main`] parses the command
//! line, [`run`] asks for what is missing, connects, starts the threads,
//! and hands over to the control loop. The client's story goes on in its
//! files, in this order:
//!
//! | file | what it holds |
//! |---|---|
//! | `connection.rs` | connecting, the handshake, writing whole frames |
//! | `events.rs` | what the other threads tell the control loop |
//! | `control.rs` | the control loop: typed lines, server messages, leaving |
//! | `link.rs` | the connection of the moment; reconnecting when it is lost |
//! | `receiver.rs` | the socket's thread: frames in, silence noticed |
//! | `keyboard.rs` | the keyboard's thread |
//! | `uploads.rs` | sending files: the offer, the reports, the summary |
//! | `resume.rs` | files cut off, waiting to be offered again |
//! | `upload_thread.rs` | one file's bytes, read ahead and sent as `DATA` |
//! | `downloads.rs` | receiving files: offers, consent, limits |
//! | `disk.rs` | one file's disk thread: write, check, sync, name |
//! | `partial.rs` | what is kept of a file cut off, to resume it |
//! | `pool.rs` | bounded memory between the socket and the disk |
//! | `progress.rs` | the live progress of a transfer |
//! | `editor.rs` | keys into edits of the input line (pure, tested) |
//! | `width.rs` | how many columns text takes on a terminal |
//! | `terminal.rs` | the screen: events above, the input line below |
//!
//! Try it: start `cargo run --bin ftpserver`, then in two more terminals
//! `cargo run --bin ftpclient` (it asks for a nickname and a port), or
//! `cargo run --bin ftpclient -- --nick alice --port 5555`.

#![forbid(unsafe_code)]

// A binary's own modules live in the folder named after it; the `path`
// attributes say so, because this root file sits beside that folder.
#[path = "ftpclient/connection.rs"]
mod connection;
#[path = "ftpclient/control.rs"]
mod control;
#[path = "ftpclient/disk.rs"]
mod disk;
#[path = "ftpclient/downloads.rs"]
mod downloads;
#[path = "ftpclient/editor.rs"]
mod editor;
#[path = "ftpclient/events.rs"]
mod events;
#[path = "ftpclient/keyboard.rs"]
mod keyboard;
#[path = "ftpclient/link.rs"]
mod link;
#[path = "ftpclient/partial.rs"]
mod partial;
#[path = "ftpclient/pool.rs"]
mod pool;
#[path = "ftpclient/progress.rs"]
mod progress;
#[path = "ftpclient/receiver.rs"]
mod receiver;
#[path = "ftpclient/resume.rs"]
mod resume;
#[path = "ftpclient/terminal.rs"]
mod terminal;
#[path = "ftpclient/upload_thread.rs"]
mod upload_thread;
#[path = "ftpclient/uploads.rs"]
mod uploads;
#[path = "ftpclient/width.rs"]
mod width;

use connection::{Answer, HANDSHAKE_TIMEOUT, connect, handshake};
use control::{Client, Exit};
use downloads::{AcceptPolicy, Downloads, Limits};
use ftpchat::cli::{Arg, Args, UsageError, parse_size};
use ftpchat::clock::LocalZone;
use ftpchat::defaults::{DEFAULT_CHUNK_LEN, DEFAULT_HOST, DEFAULT_PORTS};
use ftpchat::keepalive::{DEFAULT_KEEPALIVE, parse_seconds};
use ftpchat::protocol::{FrameReader, MAX_CHUNK_LEN, check_nick};
use link::{Link, LinkSettings};
use pool::ChunkPool;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;
use terminal::{Look, Screen};
use uploads::Uploads;

const USAGE: &str = "\
usage: ftpclient [OPTIONS] [HOST] [PORT]

Connects to the ftpchat server at HOST (default 127.0.0.1) and PORT, and
joins with a nickname; what is not given is asked for. Type a line to talk
to everyone; /help lists the commands.

options:
  -n, --nick NAME          your nickname
  -p, --port N             the server's port (asked for: 5555 on Enter)
      --host ADDR          the server's address or host name, as HOST
  -d, --dir DIR            where received files are saved (default rec)
      --accept ask|all|none
                           what to do with a file offered: ask (the
                           default on a terminal), take all (the default
                           for scripts), or refuse all
      --yes                the same as --accept all
      --max-incoming N     most files offered or arriving at once; more
                           are declined (default 32)
      --max-receive-size SIZE
                           decline larger files (default: no limit)
      --chunk-size SIZE    size of the pieces files are sent in (default
                           256K, at most 1M)
      --keepalive SECS     silence from the server after which it is
                           pinged; no answer within as long again and
                           the connection is given up (default 30)
      --reconnect-for SECS after a connection is lost, how long to try
                           to reconnect (default 300)
      --no-reconnect       exit at once when the connection is lost
      --time, --no-time    show, or not, the time (HH:MM) before each
                           event (default: shown on a terminal only)
      --no-bell            no bell when someone mentions you or sends
                           you a private message
      --trace              print every frame sent and received to
                           standard error
  -h, --help               show this help
  -V, --version            show the version

The environment variables FTPCHAT_NICK, FTPCHAT_HOST and FTPCHAT_PORT give
the nickname, host and port when the command line does not.
SIZE is bytes, or KiB, MiB, GiB with K, M, G: 64K, 2G. SECS may be 0.5.

Exit codes: 0 when done; 1 when the connection failed, or when a command
of a script failed; 2 for bad arguments.";

/// Everything the command line can set; what it leaves out is asked for.
struct Config {
    nick: Option<String>,
    port: Option<u16>,
    host: String,
    dir: PathBuf,
    chunk_len: usize,
    keepalive: Duration,
    trace: bool,
    /// What to do with offers; `None`: ask on a terminal, else take all.
    accept: Option<AcceptPolicy>,
    max_incoming: usize,
    max_receive_size: Option<u64>,
    /// How long to try to reconnect; `None`: `--no-reconnect`.
    reconnect_for: Option<Duration>,
    /// Whether events show the time; `None`: on a terminal only.
    times: Option<bool>,
    /// Whether a mention rings the bell (on a terminal).
    bell: bool,
}

/// How long a client tries to reconnect by default: long enough for a
/// server to restart, or a network to come back.
const DEFAULT_RECONNECT_FOR: Duration = Duration::from_secs(300);

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
            eprintln!("ftpclient: {error} (see ftpclient --help)");
            return ExitCode::from(2);
        }
    };
    // If anything panics, put the terminal back before the message shows.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        ftpchat::tty::restore();
        default_hook(info);
    }));
    match run(config) {
        Ok(Exit::Left) => ExitCode::SUCCESS,
        Ok(Exit::Failed(count)) => {
            let commands = if count == 1 { "command" } else { "commands" };
            eprintln!("ftpclient: {count} {commands} failed");
            ExitCode::FAILURE
        }
        Ok(Exit::Lost(why)) => {
            eprintln!("ftpclient: {why}");
            ExitCode::FAILURE
        }
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
        accept: None,
        max_incoming: 32,
        max_receive_size: None,
        reconnect_for: Some(DEFAULT_RECONNECT_FOR),
        times: None,
        bell: true,
    };
    from_environment(&mut config)?;
    let mut positional = Vec::new();
    while let Some(arg) = args.next_arg()? {
        let option = match arg {
            Arg::Positional(value) => {
                positional.push(value);
                continue;
            }
            Arg::Option(option) => option,
        };
        match option.as_str() {
            "-n" | "--nick" => config.nick = Some(args.value(&option)?),
            "-p" | "--port" => config.port = Some(args.parsed(&option)?),
            "--host" => config.host = args.value(&option)?,
            "-d" | "--dir" => config.dir = PathBuf::from(args.value(&option)?),
            "--chunk-size" => {
                let size = size(&mut args, &option)?;
                if !(1..=MAX_CHUNK_LEN as u64).contains(&size) {
                    let text = format!("--chunk-size must be from 1 to {MAX_CHUNK_LEN} bytes");
                    return Err(UsageError(text));
                }
                config.chunk_len = size as usize;
            }
            "--accept" => {
                let policy = match args.value(&option)?.as_str() {
                    "ask" => AcceptPolicy::Ask,
                    "all" => AcceptPolicy::All,
                    "none" => AcceptPolicy::None,
                    other => {
                        let text =
                            format!("invalid value '{other}' for --accept: ask, all or none");
                        return Err(UsageError(text));
                    }
                };
                config.accept = Some(policy);
            }
            "--yes" => config.accept = Some(AcceptPolicy::All),
            "--max-incoming" => config.max_incoming = args.parsed(&option)?,
            "--max-receive-size" => config.max_receive_size = Some(size(&mut args, &option)?),
            "--keepalive" => config.keepalive = seconds(&mut args, &option)?,
            "--reconnect-for" => config.reconnect_for = Some(seconds(&mut args, &option)?),
            "--no-reconnect" => config.reconnect_for = None,
            "--time" => config.times = Some(true),
            "--no-time" => config.times = Some(false),
            "--no-bell" => config.bell = false,
            "--trace" => config.trace = true,
            "--help" => return Ok(Command::Help),
            "--version" => return Ok(Command::Version),
            _ => return Err(UsageError(format!("unknown option '{option}'"))),
        }
    }
    place_positionals(&mut config, positional)?;
    if let Some(nick) = &config.nick {
        let shown = ftpchat::text::make_visible(nick);
        check_nick(nick)
            .map_err(|error| UsageError(format!("invalid nickname '{shown}': {error}")))?;
    }
    Ok(Command::Run(config))
}

/// `ftpclient [HOST] [PORT]`, as `nc` takes them; a single argument of
/// digits alone is a port.
fn place_positionals(config: &mut Config, positional: Vec<String>) -> Result<(), UsageError> {
    let port = |text: &str| {
        text.parse()
            .map_err(|_| UsageError(format!("invalid port '{text}': a number from 1 to 65535")))
    };
    match positional.as_slice() {
        [] => {}
        [only] if only.bytes().all(|b| b.is_ascii_digit()) => config.port = Some(port(only)?),
        [host] => config.host = host.clone(),
        [host, number] => {
            config.host = host.clone();
            config.port = Some(port(number)?);
        }
        [_, _, extra, ..] => return Err(UsageError(format!("unexpected argument '{extra}'"))),
    }
    Ok(())
}

/// Takes the nickname, host and port from `FTPCHAT_NICK`, `FTPCHAT_HOST`
/// and `FTPCHAT_PORT`, when set (the command line may still change them).
fn from_environment(config: &mut Config) -> Result<(), UsageError> {
    let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(nick) = variable("FTPCHAT_NICK") {
        config.nick = Some(nick);
    }
    if let Some(host) = variable("FTPCHAT_HOST") {
        config.host = host;
    }
    if let Some(port) = variable("FTPCHAT_PORT") {
        let parsed = port.parse().map_err(|_| {
            UsageError(format!(
                "invalid value '{port}' for FTPCHAT_PORT: a port number"
            ))
        })?;
        config.port = Some(parsed);
    }
    Ok(())
}

/// The value of `option` as a number of seconds, such as `30` or `0.5`.
fn seconds(args: &mut Args, option: &str) -> Result<Duration, UsageError> {
    let value = args.value(option)?;
    parse_seconds(&value).map_err(|e| UsageError(format!("invalid value for {option}: {e}")))
}

/// The value of `option` as a size, such as `262144` or `256K`.
fn size(args: &mut Args, option: &str) -> Result<u64, UsageError> {
    let value = args.value(option)?;
    parse_size(&value).map_err(|e| UsageError(format!("invalid value for {option}: {e}")))
}

/// Asks for what the command line left out, connects, joins, starts the
/// threads, and runs the control loop until the client is done.
fn run(config: Config) -> io::Result<Exit> {
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
    let mut stream = connect(&config.host, port)?;
    // As on the server: one frame reader for the connection's life.
    let mut frames = FrameReader::new(stream.try_clone()?);
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    loop {
        match handshake(&mut stream, &mut frames, &nick, config.trace)? {
            Answer::Welcome => break,
            Answer::NickRefused(refusal) if interactive => {
                println!("! {refusal}");
                nick = ask("Enter a nickname:", interactive)?;
            }
            Answer::NickRefused(refusal) => return Err(io::Error::other(refusal)),
            Answer::Refused(refusal) => {
                let text = format!("the server refused the connection: {refusal}");
                return Err(io::Error::other(text));
            }
        }
    }

    let look = Look {
        zone: LocalZone::detect(),
        times: config.times.unwrap_or(interactive),
        bell: config.bell,
    };
    let screen = match interactive {
        true => Screen::raw(&format!("{nick}> "), look)?,
        false => Screen::plain(look),
    };
    let (events, incoming) = mpsc::channel();
    let settings = LinkSettings {
        host: config.host,
        port,
        keepalive: config.keepalive,
        trace: config.trace,
        reconnect_for: config.reconnect_for,
    };
    let link = Link::start(settings, stream, frames, ChunkPool::new(), events.clone())?;
    let server = link.connection().server();
    keyboard::spawn_keyboard(interactive, events.clone())?;
    let uploads = Uploads::new(config.chunk_len, events.clone());
    let limits = Limits {
        policy: config.accept.unwrap_or(match interactive {
            true => AcceptPolicy::Ask,
            false => AcceptPolicy::All,
        }),
        max_incoming: config.max_incoming,
        max_size: config.max_receive_size,
    };
    let link_note = where_files_go(&config.dir);
    let downloads = Downloads::new(config.dir, events, limits);
    let mut client = Client::new(screen, link, nick.clone(), uploads, downloads);
    client.print(&format!("* connected to {server} as {nick}"));
    if let Some(note) = link_note {
        client.print(&note);
    }

    let exit = control::run(&mut client, &incoming);

    // One way out: close the connection (which wakes the socket's thread),
    // put the terminal back, drop what was still queued for the control
    // loop (chunk buffers among it, which the socket's thread may be
    // waiting for), and wait for the socket's thread to end.
    let receiver = client.close();
    drop(client);
    drop(incoming);
    if let Some(receiver) = receiver {
        let _ = receiver.join();
    }
    Ok(exit)
}

/// If the receiving folder is a symbolic link, says where received files
/// really go: a link is followed, and the user should know where.
fn where_files_go(dir: &std::path::Path) -> Option<String> {
    let metadata = std::fs::symlink_metadata(dir).ok()?;
    if !metadata.file_type().is_symlink() {
        return None;
    }
    let target = std::fs::canonicalize(dir).map_or_else(
        |_| "a place that does not exist yet".to_string(),
        |path| path.display().to_string(),
    );
    Some(format!(
        "* {} is a link: received files go to {target}",
        dir.display()
    ))
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

/// Asks for the server's port until the answer is a port number; Enter
/// (an empty answer) takes the first of the server's default ports.
fn ask_port(interactive: bool) -> io::Result<u16> {
    let default = DEFAULT_PORTS[0];
    loop {
        let question = format!("Enter the port number to connect to [{default}]:");
        let answer = ask(&question, interactive)?;
        if answer.is_empty() {
            return Ok(default);
        }
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
