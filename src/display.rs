//! What a person sees for each message from the server.
//!
//! [`describe`] turns each server message into the one line a person sees.
//! The full client prints it, and the server sends the same text to plain
//! clients (`nc`, `telnet`), so both kinds of user see the room alike.
//!
//! Every field that another person chose (a nickname, a message, a
//! reason) passes through [`make_visible`] first, so nobody can steer
//! another user's terminal (see [`crate::text`]).
//!
//! [`mentions`] decides whether a line names the reader, so that the
//! client can make it stand out (and ring the terminal's bell), as chat
//! programs do when someone says your name.

use crate::protocol::{NICK_PUNCTUATION, Said, ServerMessage, nick_key};
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
        ServerMessage::Action { from, text } => format!("* {} {}", v(from), v(text)),
        ServerMessage::Nick { old, new } => {
            format!("* {} is now known as {}", v(old), v(new))
        }
        // A line from before one joined looks as it did then; the caller
        // puts its time in front (in the reader's time zone).
        ServerMessage::History {
            kind: Said::Chat,
            from,
            text,
            ..
        } => format!("<{}> {}", v(from), v(text)),
        ServerMessage::History {
            kind: Said::Action,
            from,
            text,
            ..
        } => format!("* {} {}", v(from), v(text)),
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

/// Whether `text` mentions `nick`: holds it as a word of its own,
/// whatever its case (`alice:`, `@Alice`, `thanks alice!`, but not
/// `malice` or `alice_2`).
///
/// A word ends where a character that cannot be part of a nickname
/// begins. Of the punctuation nicknames may hold, `.` and `-` still end a
/// word when what follows them is not part of a nickname either, so that
/// `thanks alice.` and `ask alice-` are mentions.
///
/// # Examples
///
/// ```
/// use ftpchat::display::mentions;
///
/// assert!(mentions("Alice: lunch?", "alice"));
/// assert!(mentions("see you, alice.", "alice"));
/// assert!(!mentions("malice aforethought", "alice"));
/// ```
pub fn mentions(text: &str, nick: &str) -> bool {
    let (text, nick) = (nick_key(text), nick_key(nick));
    if nick.is_empty() {
        return false;
    }
    let in_nick = |c: char| c.is_alphanumeric() || NICK_PUNCTUATION.contains(c);
    text.match_indices(&nick).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        // `alice.` ends the word unless a nickname character follows.
        let after = text[start + nick.len()..].trim_start_matches(['.', '-']);
        !before.is_some_and(in_nick) && !after.chars().next().is_some_and(in_nick)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mention_is_the_nickname_as_a_word_in_any_case() {
        let yes = [
            "alice",
            "hi alice",
            "Alice: lunch?",
            "@ALICE look",
            "thanks, alice!",
            "bye alice.",
            "ask alice- or bob",
            "(alice)",
            "alice's file",
            "éalice? no: alice!",
        ];
        for text in yes {
            assert!(mentions(text, "alice"), "{text:?}");
        }
        let no = [
            "malice", "alice_2", "alices", "ali ce", "alice.b", "", "[alice]",
        ];
        for text in no {
            assert!(!mentions(text, "alice"), "{text:?}");
        }
        assert!(mentions("ping [bot]!", "[bot]"));
        assert!(mentions("Zoë, hi", "zoë"));
        assert!(!mentions("anything", ""));
    }

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
