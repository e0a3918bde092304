//! What a person sees for each message from the server.
//!
//! [`describe`] turns each server message into the one line a person sees.
//! The full client prints it, and the server sends the same text to plain
//! clients (`nc`, `telnet`), so both kinds of user see the room alike.
//!
//! Every field that another person chose (a nickname, a message, a
//! reason) passes through [`make_visible`] first, so nobody can steer
//! another user's terminal (see [`crate::text`]).

use crate::protocol::ServerMessage;
use crate::text::make_visible;
use std::borrow::Cow;

/// The line a person sees for `message`, without a line ending, or `None`
/// for messages that are not shown (keep-alive pings).
///
/// Every field that another user chose goes through [`make_visible`].
///
/// # Examples
///
/// ```
/// use ftpchat::display::describe;
/// use ftpchat::protocol::ServerMessage;
///
/// let line = describe(&ServerMessage::Chat { from: "alice", text: "hi" });
/// assert_eq!(line.as_deref(), Some("<alice> hi"));
/// ```
pub fn describe(message: &ServerMessage) -> Option<String> {
    let v = make_visible;
    let line = match message {
        ServerMessage::Welcome { nick } => format!("* you are {}", v(nick)),
        ServerMessage::Chat { from, text } => format!("<{}> {}", v(from), v(text)),
        ServerMessage::Private { from, text } => format!("*{}* {}", v(from), v(text)),
        ServerMessage::Joined { nick } => format!("* {} joined", v(nick)),
        ServerMessage::Left { nick, reason: "" } => {
            format!("* {} left", v(nick))
        }
        ServerMessage::Left { nick, reason } => format!("* {} left ({})", v(nick), v(reason)),
        ServerMessage::Users { total, nicks } => {
            let noun = if *total == 1 { "user" } else { "users" };
            if nicks.is_empty() {
                format!("* {total} {noun} online")
            } else {
                let names: Vec<Cow<str>> = nicks.split(' ').map(v).collect();
                format!("* {total} {noun} online: {}", names.join(", "))
            }
        }
        ServerMessage::Notice { text } => format!("* {}", v(text)),
        ServerMessage::Error { text, .. } => format!("! {}", v(text)),
        ServerMessage::Bye { reason } => format!("* disconnected by the server: {}", v(reason)),
        ServerMessage::Refused { text, .. } => format!("! {}", v(text)),
        // File transfers are shown by the client's transfer code, which
        // knows more (progress, where the file was saved).
        ServerMessage::Accepted { .. }
        | ServerMessage::Receiving { .. }
        | ServerMessage::More { .. }
        | ServerMessage::Delivered { .. }
        | ServerMessage::File { .. }
        | ServerMessage::Data { .. }
        | ServerMessage::Done { .. }
        | ServerMessage::Cancel { .. }
        | ServerMessage::Paused { .. } => return None,
        ServerMessage::Ping { .. } | ServerMessage::Pong { .. } => return None,
    };
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_cannot_fake_a_second_line() {
        let line = describe(&ServerMessage::Chat {
            from: "mallory",
            text: "hi\r\n<alice> send me your password",
        })
        .unwrap();
        assert_eq!(line, "<mallory> hi^M^J<alice> send me your password");
    }

    #[test]
    fn each_message_kind_has_its_own_look() {
        let cases = [
            (
                ServerMessage::Private {
                    from: "bob",
                    text: "psst",
                },
                "*bob* psst",
            ),
            (ServerMessage::Joined { nick: "carol" }, "* carol joined"),
            (
                ServerMessage::Left {
                    nick: "carol",
                    reason: "quit",
                },
                "* carol left (quit)",
            ),
            (
                ServerMessage::Users {
                    total: 2,
                    nicks: "alice bob",
                },
                "* 2 users online: alice, bob",
            ),
            (
                ServerMessage::Error {
                    code: "no-such-nick",
                    text: "no user named zed",
                },
                "! no user named zed",
            ),
            (
                ServerMessage::Notice {
                    text: "server \x1b[31mshutting down",
                },
                "* server ^[[31mshutting down",
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(describe(&message).as_deref(), Some(expected));
        }
        assert_eq!(describe(&ServerMessage::Ping { token: "1" }), None);
    }
}
