//! Turning messages into text that is safe to put on someone's screen.
//!
//! # Why a chat program must escape what it prints
//!
//! A terminal obeys the bytes it is sent. `ESC [ 2 J` clears the screen,
//! `\r` moves the cursor back to the start of the line, and a few bytes more
//! can move the cursor anywhere or change colours. If a chat client printed
//! other people's text raw, anyone could clear your screen, or overwrite a
//! line so that it looks as if someone else had said something.
//!
//! So everything that came from another person passes through
//! [`make_visible`] before it is printed. It shows control characters the
//! way `cat -v` does (`ESC` becomes `^[`, a carriage return `^M`), so they
//! are still visible but have no power over the terminal.
//!
//! [`describe`] turns each server message into the one line a person sees.
//! The full client prints it, and the server sends the same text to plain
//! clients (`nc`, `telnet`), so both kinds of user see the room alike.

use crate::protocol::ServerMessage;
use std::borrow::Cow;
use std::fmt::Write;

/// Returns `text` with every character that could steer a terminal
/// replaced by a visible stand-in.
///
/// - C0 control characters and DEL are shown in caret notation, as
///   `cat -v` does: `\x1b` as `^[`, `\r` as `^M`, `\0` as `^@`, DEL as `^?`.
/// - C1 control characters (U+0080 to U+009F, which some terminals obey
///   like `ESC` sequences) and the invisible characters that reverse or
///   reorder text (bidirectional overrides) are shown as `<U+202E>`.
///
/// Text without such characters is returned as it is, without copying.
///
/// # Examples
///
/// ```
/// use ftpchat::display::make_visible;
///
/// assert_eq!(make_visible("plain text"), "plain text");
/// assert_eq!(make_visible("\x1b[2Jgotcha"), "^[[2Jgotcha");
/// assert_eq!(make_visible("hi\r<bob> fake"), "hi^M<bob> fake");
/// ```
pub fn make_visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\0'..='\x1f' => {
                shown.push('^');
                shown.push(char::from(c as u8 + 0x40));
            }
            '\x7f' => shown.push_str("^?"),
            c if needs_escape(c) => {
                let _ = write!(shown, "<U+{:04X}>", u32::from(c));
            }
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

/// Whether `c` could steer a terminal or disguise text: a control
/// character, or an invisible character that reorders text.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

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
        | ServerMessage::Delivered { .. }
        | ServerMessage::File { .. }
        | ServerMessage::Data { .. }
        | ServerMessage::Done { .. }
        | ServerMessage::Cancel { .. } => return None,
        ServerMessage::Ping { .. } | ServerMessage::Pong { .. } => return None,
    };
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_c0_control_is_shown_in_caret_notation() {
        for byte in 0u8..0x20 {
            let text = String::from(char::from(byte));
            let shown = make_visible(&text);
            assert_eq!(shown.len(), 2, "{byte:#x}");
            assert!(shown.starts_with('^'));
            assert!(!shown.chars().any(|c| c.is_control()));
        }
        assert_eq!(make_visible("\x7f"), "^?");
        assert_eq!(make_visible("\t"), "^I");
        assert_eq!(make_visible("\n"), "^J");
    }

    #[test]
    fn c1_controls_and_bidi_overrides_are_shown_as_code_points() {
        assert_eq!(make_visible("a\u{9b}31m"), "a<U+009B>31m");
        assert_eq!(make_visible("evil\u{202e}gnp.exe"), "evil<U+202E>gnp.exe");
    }

    #[test]
    fn printable_unicode_passes_through_untouched() {
        let text = "Grüße, 世界! ✓";
        assert!(matches!(make_visible(text), Cow::Borrowed(_)));
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
