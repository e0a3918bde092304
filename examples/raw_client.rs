//! The shortest honest ftpchat client: a bare `TcpStream`, no library.
//!
//! It joins, says one line, prints every line that comes back for a few
//! seconds, and leaves, showing each line as it crosses the wire (`>` for
//! what it sends, `<` for what it receives). Everything `ftpclient` adds
//! (a line editor, files, keep-alive) is left out, so what remains is the
//! protocol itself: write lines, read lines. `PROTOCOL.md` explains each.
//!
//! Try it with a server running (`cargo run --bin ftpserver`):
//!
//! ```text
//! cargo run --example raw_client
//! cargo run --example raw_client -- 127.0.0.1:5556 bob "hi, I am a raw socket"
//! ```

#![forbid(unsafe_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

/// How long to listen for more lines before leaving.
const LISTEN: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:5555".to_string());
    let nick = args.next().unwrap_or_else(|| "raw".to_string());
    let text = args
        .next()
        .unwrap_or_else(|| "hello from a raw socket".to_string());
    if args.next().is_some() {
        eprintln!("usage: raw_client [HOST:PORT [NICK [TEXT]]]");
        return ExitCode::from(2);
    }
    match run(&addr, &nick, &text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("raw_client: {addr}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(addr: &str, nick: &str, text: &str) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    // A read that waits longer than this fails with a timeout: how we stop
    // listening, and how a silent server cannot keep us waiting for ever.
    stream.set_read_timeout(Some(LISTEN))?;
    // One reader for the whole connection: it may read past the line we
    // ask for, and those bytes are the start of the next line.
    let mut reader = BufReader::new(stream.try_clone()?);

    send(&mut stream, &format!("HELLO ftpchat/1 {nick}"))?;
    let welcome = receive(&mut reader)?;
    if !welcome.starts_with("WELCOME ") {
        return Err(io::Error::other(format!("not welcome: {welcome}")));
    }
    send(&mut stream, &format!("CHAT {text}"))?;
    // Print what arrives (the list of users, others' chat) until the
    // server has been quiet for LISTEN.
    loop {
        match receive(&mut reader) {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::TimedOut => break,
            Err(error) => return Err(error),
        }
    }
    // Leave politely: the server answers QUIT with BYE, then closes.
    send(&mut stream, "QUIT")?;
    while !receive(&mut reader)?.starts_with("BYE") {}
    Ok(())
}

/// Writes one line, ending it with `\n` as the protocol requires.
fn send(stream: &mut TcpStream, line: &str) -> io::Result<()> {
    println!("> {}", shown(line));
    stream.write_all(format!("{line}\n").as_bytes())
}

/// Reads one line, prints it, and returns it without its `\n`.
fn receive(reader: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut line = String::new();
    // `take` bounds the line before it is buffered: a peer that never
    // sends `\n` cannot make us read without end (4096 is the protocol's
    // longest line).
    let len = reader.by_ref().take(4096).read_line(&mut line)?;
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    let Some(line) = line.strip_suffix('\n') else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    };
    println!("< {}", shown(line));
    Ok(line.to_string())
}

/// `line` with a `?` for each control character. A line may hold terminal
/// escape codes (someone's chat text): printed as they are, they would
/// steer the terminal instead of being seen.
fn shown(line: &str) -> String {
    line.replace(|c: char| c.is_control(), "?")
}
