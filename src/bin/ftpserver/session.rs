//! A member's session: the loop that reads one client's messages and acts
//! on them, from its handshake until it leaves.
//!
//! [`Session::serve`] reads frame after frame from the connection's one
//! [`FrameReader`]. A full client's lines are protocol messages
//! ([`ClientMessage`]); a plain client's are typed text, read with the same
//! parser the full client uses for its user's input ([`parse_input`]), so
//! `/msg bob hi` means the same from either. Chat, actions (`/me`) and
//! changes of nickname go through the registry (`registry.rs`), files
//! through `relay.rs`.
//!
//! # Silence
//!
//! A full client's socket has a read timeout of one keep-alive interval
//! (see `ftpchat::keepalive`): a read that times out means the client has
//! been silent that long, and is answered with a `PING`; a second silent
//! interval ends the session.
//!
//! # Chat in batches
//!
//! Chat lines (and actions) are not relayed one by one: they collect in a
//! batch, which
//! is relayed when the reader has no more input waiting (so a lone line
//! goes out at once) or the batch is full. A client that sends many lines
//! quickly has them relayed many per write.

use crate::flood::{ChatBudget, Verdict};
use crate::handshake::Joined;
use crate::ids::ClientId;
use crate::log::log;
use crate::outbox::{Outbox, Priority};
use crate::plain::{ClientKind, encode_for, plain_text_of, reply_error};
use crate::read_half::ReadHalf;
use crate::registry::Clients;
use crate::relay::{self, FileSender, Files, Offer};
use crate::shared::Server;
use ftpchat::input::{CHAT_HELP, Input, parse_input};
use ftpchat::keepalive::{Keepalive, Silence, is_timeout};
use ftpchat::protocol::{
    self, ClientMessage, ErrorCode, Frame, FrameReader, ProtocolError, ServerMessage, check_nick,
};
use ftpchat::text::make_visible;
use ftpchat::trace;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Largest batch of chat bytes a session collects before relaying it.
const MAX_BATCH_BYTES: usize = 32 * 1024;

/// A connection that has finished its handshake.
pub struct Session<'a> {
    id: ClientId,
    peer: SocketAddr,
    nick: String,
    kind: ClientKind,
    outbox: Outbox,
    server: &'a Server,
    /// Chat messages read but not yet relayed, as encoded `CHAT` and
    /// `ACTION` lines.
    batch: Vec<u8>,
    /// Files this member is sending.
    files: Files,
    /// Whether the session ended on purpose: the member quit, or broke
    /// the framing rules (see [`Session::ended_on_purpose`]).
    on_purpose: bool,
    /// How many more chat lines it may send (see `flood.rs`).
    budget: ChatBudget,
}

/// Why a member sent away for flooding left, as the others are told.
const FLOODING: &str = "flooding";

/// What to do after a frame: go on, or end the session for this reason.
type Outcome = Option<String>;

impl<'a> Session<'a> {
    /// The session of a member that has just joined.
    pub fn new(joined: Joined, server: &'a Server, outbox: Outbox) -> Session<'a> {
        Session {
            id: joined.id,
            peer: joined.peer,
            nick: joined.nick,
            kind: joined.kind,
            outbox,
            server,
            batch: Vec::new(),
            files: Files::default(),
            on_purpose: false,
            budget: ChatBudget::new(
                server.settings.chat_burst,
                server.settings.chat_rate,
                Instant::now(),
            ),
        }
    }

    /// Whether the session ended on purpose: the member sent `QUIT`, or
    /// was sent away for breaking the framing rules. Its files then end
    /// for good; after any other ending (the connection closed, failed or
    /// went silent) the member may come back to resume them.
    pub fn ended_on_purpose(&self) -> bool {
        self.on_purpose
    }

    /// The member's nickname.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// Reads and handles the member's messages until they leave. Returns
    /// the reason they left, for the others' notice.
    ///
    /// # Errors
    ///
    /// The connection failed (the others are told it was lost).
    pub fn serve(&mut self, frames: &mut FrameReader<ReadHalf>) -> io::Result<String> {
        let mut keepalive = Keepalive::new(self.server.settings.keepalive);
        loop {
            frames.get_mut().set_deadline(None); // the last chunk's, if any
            if !frames.has_buffered_input() {
                // About to wait for the network: relay what we have.
                self.flush_batch();
            }
            let next = match self.kind {
                ClientKind::Full => frames.read_frame(),
                // A plain client's `DATA` is just a word it typed.
                ClientKind::Plain => frames.read_line().map(|line| line.map(Frame::Line)),
            };
            let outcome = match next {
                Ok(Some(frame)) => {
                    keepalive.heard();
                    self.handle_frame(frame)?
                }
                Ok(None) => Some("connection closed".to_string()),
                // Only full clients have a read timeout: this one has been
                // silent for a whole interval.
                Err(error) if is_timeout(&error) => self.on_silence(&mut keepalive),
                Err(error) => {
                    keepalive.heard();
                    self.flush_batch();
                    self.on_read_error(error)?
                }
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

    /// Handles one frame. A chunk goes to the file it belongs to; a line
    /// is a message (full client) or typed text (plain client).
    fn handle_frame(&mut self, frame: Frame<'_, ReadHalf>) -> io::Result<Outcome> {
        let trace = self.server.settings.trace;
        match frame {
            Frame::Data(mut chunk) => {
                if trace {
                    eprintln!("{}", trace::received(self.peer, chunk.header()));
                }
                self.flush_batch(); // earlier chat first: everything keeps its order
                // A chunk trickled in byte by byte must not hold the
                // transfer (and the sender's chat behind it) for ever.
                let data_timeout = self.server.settings.data_timeout();
                chunk
                    .get_mut()
                    .set_deadline(Some(Instant::now() + data_timeout));
                let sender = FileSender {
                    id: self.id,
                    nick: &self.nick,
                    outbox: &self.outbox,
                    server: self.server,
                };
                let relayed = self.files.relay_chunk(&sender, chunk);
                match relayed {
                    Err(error) if is_timeout(&error) => {
                        let secs = data_timeout.as_secs_f64();
                        let text =
                            format!("a chunk must arrive within {secs} s of its header; closing");
                        self.reply_error(ErrorCode::Stalled, &text);
                        Ok(Some("too slow".to_string()))
                    }
                    Err(error) => Err(error),
                    Ok(()) => Ok(None),
                }
            }
            Frame::Line(line) => {
                if trace {
                    eprintln!("{}", trace::received(self.peer, line));
                }
                Ok(match self.kind {
                    ClientKind::Full => self.handle_message(line),
                    ClientKind::Plain => self.handle_typed_line(line),
                })
            }
        }
    }

    /// A silent interval: ping the client, or give up on it if the last
    /// ping went unanswered.
    fn on_silence(&mut self, keepalive: &mut Keepalive) -> Outcome {
        match keepalive.silence() {
            Silence::Ping(token) => {
                self.reply(&ServerMessage::Ping { token: &token });
                None
            }
            Silence::Dead => {
                let secs = keepalive.interval().as_secs_f64();
                let why = format!("no reply to PING within {secs} s");
                self.reply_error(ErrorCode::PingTimeout, &format!("{why}; closing"));
                Some(why)
            }
        }
    }

    /// A line or chunk that could not be read. Bad UTF-8 is answered, and
    /// the session goes on: the line was read to its end, so the next one
    /// can be trusted. After a line too long or a `DATA` header that cannot
    /// be trusted, nobody knows where the next frame starts: the session
    /// ends, with the reason. Any other error is the connection failing.
    fn on_read_error(&mut self, error: io::Error) -> io::Result<Outcome> {
        let Some(fault) = ProtocolError::find(&error) else {
            return Err(error);
        };
        if !fault.code.breaks_framing() {
            self.reply_error(fault.code, &fault.detail);
            return Ok(None);
        }
        self.reply_error(fault.code, &format!("{}; closing", fault.detail));
        self.on_purpose = true;
        Ok(Some(fault.code.as_str().to_string()))
    }

    /// Handles one protocol line from a full client.
    fn handle_message(&mut self, line: &str) -> Outcome {
        let message = match ClientMessage::decode(line) {
            Ok(message) => message,
            Err(fault) => {
                self.flush_batch();
                self.reply_error(fault.code, &fault.detail);
                return None;
            }
        };
        if !matches!(
            message,
            ClientMessage::Chat { .. } | ClientMessage::Action { .. } | ClientMessage::Got { .. }
        ) {
            // Relay earlier chat first, so that everything keeps its order.
            self.flush_batch();
        }
        if matches!(
            message,
            ClientMessage::Chat { .. }
                | ClientMessage::Action { .. }
                | ClientMessage::Private { .. }
                | ClientMessage::Nick { .. }
                | ClientMessage::Who
        ) {
            match self.spend_budget() {
                Some(Verdict::Pass) => {}
                Some(_) => return None, // dropped
                None => return Some(FLOODING.to_string()),
            }
        }
        match message {
            ClientMessage::Chat { text } => self.chat(text),
            ClientMessage::Action { text } => self.action(text),
            ClientMessage::Private { to, text } => self.private(to, text),
            ClientMessage::Nick { nick } => self.change_nick(nick),
            ClientMessage::Who => self.who(),
            ClientMessage::Quit => return Some(self.quit()),
            ClientMessage::Ping { token } => self.reply(&ServerMessage::Pong { token }),
            ClientMessage::Pong { .. } => {}
            ClientMessage::Got { bytes } => self.outbox.acknowledge(bytes),
            ClientMessage::Hello { .. } => {
                self.reply_error(ErrorCode::AlreadyRegistered, "already joined");
            }
            file_message => self.handle_file_message(file_message),
        }
        None
    }

    /// Handles a message about a file: one this member sends, or (for
    /// `ACCEPT`, `DECLINE` and `RECEIVED`) one offered to it.
    fn handle_file_message(&mut self, message: ClientMessage) {
        let sender = FileSender {
            id: self.id,
            nick: &self.nick,
            outbox: &self.outbox,
            server: self.server,
        };
        match message {
            ClientMessage::Send {
                id,
                size,
                stamp,
                to,
                name,
            } => {
                let offer = Offer {
                    id,
                    size,
                    stamp,
                    to,
                    name,
                };
                self.files.offer(&sender, &offer);
            }
            ClientMessage::Done { id, checksum } => self.files.finish(&sender, id, checksum),
            ClientMessage::Cancel { id, reason } => self.files.cancel(&sender, id, reason),
            ClientMessage::From { id, offset } => self.files.go_back(&sender, id, offset),
            ClientMessage::Accept { id, offset } => relay::accept(&sender, id, offset),
            ClientMessage::Decline { id, reason } => relay::decline(&sender, id, reason),
            ClientMessage::Received { id, outcome } => relay::report(&sender, id, outcome),
            // `DATA` comes as a chunk (see `handle_frame`); the others are
            // handled by `handle_message`.
            _ => {}
        }
    }

    /// Takes one chat line from the member's budget. Returns the verdict,
    /// having warned the member if it is the first line over; `None` if
    /// the member floods on and is to be disconnected (it has been told).
    fn spend_budget(&mut self) -> Option<Verdict> {
        let verdict = self.budget.spend(Instant::now());
        match verdict {
            Verdict::Pass | Verdict::Drop => {}
            Verdict::Warn => {
                self.flush_batch();
                let text = format!(
                    "too many lines: at most {} at once, then one every {:.1} s; lines are being dropped",
                    self.server.settings.chat_burst,
                    self.budget.interval().as_secs_f64()
                );
                log(format_args!(
                    "{} {} warned for flooding",
                    self.id, self.nick
                ));
                self.reply_error(ErrorCode::Flood, &text);
            }
            Verdict::Disconnect => {
                self.flush_batch();
                self.reply_error(ErrorCode::Flood, "too many lines; closing");
                self.on_purpose = true;
                return None;
            }
        }
        Some(verdict)
    }

    /// Handles one line typed by a plain client, with the same meaning the
    /// full client gives it.
    fn handle_typed_line(&mut self, line: &str) -> Outcome {
        let input = parse_input(line);
        if matches!(
            input,
            Input::Chat(_)
                | Input::Action(_)
                | Input::Private { .. }
                | Input::Nick(_)
                | Input::Who
                | Input::Transfer { slash: false, .. }
        ) {
            match self.spend_budget() {
                Some(Verdict::Pass) => {}
                Some(_) => return None,
                None => return Some(FLOODING.to_string()),
            }
        }
        match input {
            Input::Empty => {}
            Input::Chat(text) => match protocol::check_text(text) {
                Ok(text) => self.chat(text),
                Err(fault) => self.reply_error(fault.code, &fault.detail),
            },
            Input::Action(text) => match protocol::check_text(text) {
                Ok(text) => self.action(text),
                Err(fault) => self.reply_error(fault.code, &fault.detail),
            },
            Input::Private { to, text } => match protocol::check_text(text) {
                Ok(text) => self.private(to, text),
                Err(fault) => self.reply_error(fault.code, &fault.detail),
            },
            Input::Nick(nick) => {
                self.flush_batch();
                self.change_nick(nick);
            }
            Input::Who => self.who(),
            Input::Help => {
                self.flush_batch();
                for help_line in CHAT_HELP.lines() {
                    self.reply(&ServerMessage::Notice { text: help_line });
                }
            }
            Input::Quit => return Some(self.quit()),
            // A plain client has no files here: the bare word is chat.
            Input::Transfer { slash: false, .. } => match protocol::check_text(line) {
                Ok(text) => self.chat(text),
                Err(fault) => self.reply_error(fault.code, &fault.detail),
            },
            Input::Transfer { slash: true, .. } => {
                let text = "sending files needs the full client, ftpclient";
                self.reply_error(ErrorCode::UnknownCommand, text);
            }
            Input::Accept(_) | Input::Decline(_) | Input::Cancel(_) | Input::Transfers => {
                let text = "receiving files needs the full client, ftpclient";
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

    /// Adds an action (`/me waves`), stamped with the sender's nickname,
    /// to the batch.
    fn action(&mut self, text: &str) {
        let message = ServerMessage::Action {
            from: &self.nick,
            text,
        };
        message.encode(&mut self.batch);
    }

    /// `/nick NEW`: the member wants to be called `new`. Checked as a
    /// nickname at joining is; the registry tells everyone.
    fn change_nick(&mut self, new: &str) {
        if let Err(error) = check_nick(new) {
            return self.reply_error(ErrorCode::BadNick, &error.to_string());
        }
        let shown = make_visible(new);
        if new == self.nick {
            let text = format!("you are already called {shown}");
            return self.reply_error(ErrorCode::BadNick, &text);
        }
        match self.server.clients.rename(self.id, new) {
            Ok(old) => {
                log(format_args!("{} {old} is now known as {new}", self.id));
                self.nick = new.to_string();
            }
            Err(_) => {
                let text = format!("nickname {shown} is already taken");
                self.reply_error(ErrorCode::NickTaken, &text);
            }
        }
    }

    fn private(&mut self, to: &str, text: &str) {
        self.flush_batch();
        let message = ServerMessage::Private {
            from: &self.nick,
            text,
        };
        if self.server.clients.send_to(self.id, to, &message).is_err() {
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
        self.on_purpose = true;
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
        self.outbox
            .send(encode_for(self.kind, message), Priority::Urgent);
    }

    fn reply_error(&self, code: ErrorCode, text: &str) {
        reply_error(&self.outbox, self.kind, code, text);
    }
}
