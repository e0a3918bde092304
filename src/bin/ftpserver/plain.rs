//! Two languages: protocol lines for the full client, readable text for a
//! person typing into `nc` or `telnet`.
//!
//! The server speaks to every client in the language of its kind
//! ([`ClientKind`]). Everything it says is first built as a protocol
//! message ([`ServerMessage`]); for a plain client, the message is then
//! turned into the one line a person would read ([`describe`]), ending in
//! `\r\n`, the line ending of Internet text protocols (`telnet` needs the
//! `\r`). So both kinds of user see the same events, and the server has one
//! place that decides what each is sent.

use crate::outbox::{Frame, Outbox, Priority};
use ftpchat::display::describe;
use ftpchat::protocol::{ErrorCode, ServerMessage};
use std::fmt;
use std::sync::Arc;

/// Which language a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// `ftpclient`: protocol lines (and file data).
    Full,
    /// A person with `nc` or `telnet`: readable text lines only.
    Plain,
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientKind::Full => "full client",
            ClientKind::Plain => "plain client",
        })
    }
}

/// Encodes `message` for a client of the given kind.
pub fn encode_for(kind: ClientKind, message: &ServerMessage) -> Frame {
    let mut frame = Vec::new();
    match kind {
        ClientKind::Full => message.encode(&mut frame),
        ClientKind::Plain => push_plain(message, &mut frame),
    }
    Arc::new(frame)
}

/// Sends one `ERROR` line to a client (or its text, `! ...`, to a plain
/// one), ahead of any file data queued for it.
pub fn reply_error(outbox: &Outbox, kind: ClientKind, code: ErrorCode, text: &str) {
    let message = ServerMessage::Error {
        code: code.as_str(),
        text,
    };
    outbox.send(encode_for(kind, &message), Priority::Urgent);
}

/// Appends the text a plain client sees for `message`, ending in `\r\n`.
/// Messages a person does not see (keep-alive pings) add nothing.
pub fn push_plain(message: &ServerMessage, out: &mut Vec<u8>) {
    if let Some(text) = describe(message) {
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The text version of `lines`, which holds whole encoded server messages:
/// what a plain client is sent instead of them.
pub fn plain_text_of(lines: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    for line in lines.split(|&b| b == b'\n') {
        let message = std::str::from_utf8(line).ok().map(ServerMessage::decode);
        if let Some(Ok(message)) = message {
            push_plain(&message, &mut text);
        }
    }
    text
}

/// The frame that greets a new member: `WELCOME` and the `USERS` lines
/// (already encoded, in `users`) for a full client; the same in words,
/// with a hint about `/help`, for a plain one. Then the `history`, already
/// in the member's language (see `history.rs`).
pub fn greeting(nick: &str, kind: ClientKind, users: Vec<u8>, history: Vec<u8>) -> Frame {
    let mut frame = Vec::new();
    match kind {
        ClientKind::Full => {
            ServerMessage::Welcome { nick }.encode(&mut frame);
            frame.extend(users);
        }
        ClientKind::Plain => {
            let text = format!(
                "welcome to ftpchat, {nick}! Type a line to talk to everyone, /help for commands"
            );
            push_plain(&ServerMessage::Notice { text: &text }, &mut frame);
            frame.extend(plain_text_of(&users));
        }
    }
    frame.extend(history);
    Arc::new(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_protocol_lines_becomes_one_text_line_each() {
        let lines = b"CHAT alice hi\nPING 3\nJOINED bob\nUSERS 2 alice bob\n";
        assert_eq!(
            plain_text_of(lines),
            b"<alice> hi\r\n* bob joined\r\n* 2 users online: alice, bob\r\n"
        );
    }

    #[test]
    fn each_kind_is_greeted_in_its_own_language() {
        let users = b"USERS 1 carol\n".to_vec();
        assert_eq!(
            *greeting("carol", ClientKind::Full, users.clone(), Vec::new()),
            b"WELCOME carol\nUSERS 1 carol\n"
        );
        let text = greeting("carol", ClientKind::Plain, users, Vec::new());
        assert!(text.starts_with(b"* welcome to ftpchat, carol! "));
        assert!(text.ends_with(b"/help for commands\r\n* 1 user online: carol\r\n"));
    }
}
