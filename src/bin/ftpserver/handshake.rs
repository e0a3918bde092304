//! The handshake: a new connection proves itself with a free nickname.
//!
//! The server reads the connection's first line, which decides the
//! client's kind (`PROTOCOL.md` section 2): `HELLO ftpchat/1 NICK` from
//! the full client, anything else from a person typing into `nc` or
//! `telnet`, for whom the whole line is the nickname. A refused nickname
//! may be followed by another, on the same connection, a few times.
//!
//! A program speaks first, at once. A person who connects with `nc` sees
//! a blank screen and would have to guess, so a connection that has sent
//! nothing for [`GREETING_DELAY`] is sent one line of text asking for a
//! nickname ([`GREETING`]); the full client never waits that long.
//!
//! A connection that never sends a nickname must not hold a place for
//! ever: the handshake has a deadline (`--handshake-timeout`) from the
//! moment of connection, which no trickle of bytes can push back (see
//! `read_half.rs`).

use crate::ids::ClientId;
use crate::log::log;
use crate::outbox::Outbox;
use crate::outbox::Priority;
use crate::plain::{ClientKind, reply_error};
use crate::read_half::ReadHalf;
use crate::shared::Server;
use ftpchat::keepalive::is_timeout;
use ftpchat::protocol::{
    ClientMessage, ErrorCode, FrameReader, PROTOCOL_VERSION, ProtocolError, check_nick,
};
use ftpchat::trace;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many refused nicknames a connection may try before it is closed.
const MAX_HANDSHAKE_ATTEMPTS: u32 = 10;

/// How long a connection may stay silent before it is greeted: far longer
/// than a program takes to send its `HELLO`, shorter than a person's
/// patience.
pub const GREETING_DELAY: Duration = Duration::from_secs(1);

/// What a person who connected with `nc` and typed nothing is told.
pub const GREETING: &str = "* welcome to ftpchat! Type a nickname and press Enter.";

/// A connection that has finished its handshake: a member of the room.
pub struct Joined {
    /// The connection.
    pub id: ClientId,
    /// Its address, for the trace.
    pub peer: SocketAddr,
    /// The nickname it registered.
    pub nick: String,
    /// The language it speaks.
    pub kind: ClientKind,
}

/// Reads lines from `frames` until the connection proves itself with a
/// valid, free nickname, and registers it as a member. Returns `None` if
/// it leaves (or runs out of time or tries) first.
///
/// # Errors
///
/// The connection failed.
pub fn handshake(
    frames: &mut FrameReader<ReadHalf>,
    peer: SocketAddr,
    id: ClientId,
    server: &Server,
    outbox: &Outbox,
) -> io::Result<Option<Joined>> {
    let settings = &server.settings;
    let started = Instant::now();
    let deadline = started + settings.handshake_timeout;
    let mut greeted = false;
    let mut attempts = 0;
    while attempts < MAX_HANDSHAKE_ATTEMPTS {
        let greet_at = started + GREETING_DELAY;
        let wait_until = match greeted {
            true => deadline,
            false => deadline.min(greet_at),
        };
        frames.get_mut().set_deadline(Some(wait_until));
        let line = match frames.read_line() {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(None),
            Err(error) if is_timeout(&error) && Instant::now() < deadline => {
                // Silent for a second: a person, most likely. (Not in the
                // middle of a line they are typing, though.)
                if !frames.is_mid_line() && !frames.has_buffered_input() {
                    greet(outbox);
                }
                greeted = true;
                continue;
            }
            Err(error) if is_timeout(&error) => {
                log(format_args!("{id} handshake timed out"));
                let secs = settings.handshake_timeout.as_secs_f64();
                let text = format!("no nickname within {secs} s; closing");
                reply_error(outbox, ClientKind::Full, ErrorCode::HandshakeTimeout, &text);
                return Ok(None);
            }
            Err(error) => return refuse_unreadable(outbox, id, error),
        };
        attempts += 1;
        if settings.trace {
            eprintln!("{}", trace::received(peer, line));
        }
        let (kind, nick) = match first_line(line, outbox) {
            FirstLine::Join(kind, nick) => (kind, nick),
            FirstLine::Retry => continue,
            FirstLine::Close => return Ok(None),
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
        let nick = nick.to_string();
        // From now on, silence means "ping it" (see `keepalive`). A plain
        // client cannot answer a PING, so it is left to be silent.
        let timeout = (kind == ClientKind::Full).then_some(settings.keepalive);
        frames.get_mut().set_deadline(None);
        frames.get_mut().set_idle_timeout(timeout)?;
        return Ok(Some(Joined {
            id,
            peer,
            nick,
            kind,
        }));
    }
    let text = "too many refused nicknames; closing";
    reply_error(outbox, ClientKind::Full, ErrorCode::BadNick, text);
    Ok(None)
}

/// What a first line asks for.
enum FirstLine<'a> {
    /// To join as this kind of client, with this nickname.
    Join(ClientKind, &'a str),
    /// Nothing: it was malformed and has been answered; another may follow.
    Retry,
    /// Nothing: it was answered, and the connection ends.
    Close,
}

/// Reads a first line: a full client's `HELLO`, or a plain client's
/// nickname. A `HELLO` that cannot be used is answered here.
fn first_line<'a>(line: &'a str, outbox: &Outbox) -> FirstLine<'a> {
    if !line.starts_with("HELLO ") {
        return FirstLine::Join(ClientKind::Plain, line.trim());
    }
    match ClientMessage::decode(line) {
        Ok(ClientMessage::Hello { version, nick }) if version == PROTOCOL_VERSION => {
            FirstLine::Join(ClientKind::Full, nick)
        }
        Ok(_) => {
            let text = format!("this server speaks {PROTOCOL_VERSION}");
            reply_error(outbox, ClientKind::Full, ErrorCode::BadVersion, &text);
            FirstLine::Close
        }
        Err(error) => {
            reply_error(outbox, ClientKind::Full, error.code, &error.detail);
            FirstLine::Retry
        }
    }
}

/// The error text for a refused nickname; a plain client, who cannot see
/// error codes, is also told what to do next.
fn retry_text(kind: ClientKind, reason: &str) -> String {
    match kind {
        ClientKind::Full => reason.to_string(),
        ClientKind::Plain => format!("{reason}; type another nickname"),
    }
}

/// Answers a line that could not be read at all in the handshake (too
/// long, or not UTF-8), and ends the connection. Other errors are the
/// connection failing, and are returned.
fn refuse_unreadable(
    outbox: &Outbox,
    id: ClientId,
    error: io::Error,
) -> io::Result<Option<Joined>> {
    let Some(fault) = ProtocolError::find(&error) else {
        return Err(error);
    };
    log(format_args!("{id} handshake: {fault}"));
    reply_error(outbox, ClientKind::Full, fault.code, &fault.detail);
    Ok(None)
}

/// Sends [`GREETING`] to a connection that has said nothing yet.
fn greet(outbox: &Outbox) {
    let line = format!("{GREETING}\r\n");
    outbox.send(Arc::new(line.into_bytes()), Priority::Urgent);
}
