//! What a person types, and what it means.
//!
//! Both ends need this. The full client reads a line the user typed and
//! decides whether it is a chat message or a command. The server does the
//! same for a plain client (someone using `nc`), whose typed lines arrive
//! as they are. Parsing both in one place means `/msg bob hi` means the same
//! thing whichever program the user chose.
//!
//! This module only parses: it sends nothing and prints nothing.

/// One line a user typed, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// A blank line: nothing to do.
    Empty,
    /// Plain text, to everyone. A line starting with `//` sends the text
    /// from its second slash on, so a message can start with `/`.
    Chat(&'a str),
    /// `/msg NICK TEXT`: a private message.
    Private {
        /// The recipient.
        to: &'a str,
        /// The message.
        text: &'a str,
    },
    /// `/who`: list the connected users.
    Who,
    /// `/help`: list the commands.
    Help,
    /// `/quit`: leave.
    Quit,
    /// A known command used the wrong way; the text says the right way.
    Usage(&'static str),
    /// A `/word` that is no command.
    Unknown(&'a str),
}

/// How to use `/msg`, shown when it is used wrongly.
pub const MSG_USAGE: &str = "usage: /msg NICK TEXT";

/// The commands everyone can type, one per line, for `/help`.
pub const CHAT_HELP: &str = "\
commands:
  TEXT              send TEXT to everyone (start with // to send a leading /)
  /msg NICK TEXT    send TEXT to NICK only
  /who              list who is online
  /help             show this help
  /quit             leave the chat";

/// Understands one typed line (without its line ending).
///
/// # Examples
///
/// ```
/// use ftpchat::input::{parse_input, Input};
///
/// assert_eq!(parse_input("hello"), Input::Chat("hello"));
/// assert_eq!(parse_input("/msg bob hi there"), Input::Private { to: "bob", text: "hi there" });
/// assert_eq!(parse_input("//shrug"), Input::Chat("/shrug"));
/// ```
pub fn parse_input(line: &str) -> Input<'_> {
    if line.trim().is_empty() {
        return Input::Empty;
    }
    let Some(command_line) = line.strip_prefix('/') else {
        return Input::Chat(line);
    };
    if command_line.starts_with('/') {
        return Input::Chat(command_line);
    }
    let (command, rest) = command_line.split_once(' ').unwrap_or((command_line, ""));
    let rest = rest.trim_start_matches(' ');
    match command {
        "msg" => match rest.split_once(' ') {
            Some((to, text)) if !text.trim().is_empty() => Input::Private { to, text },
            _ => Input::Usage(MSG_USAGE),
        },
        "who" => Input::Who,
        "help" => Input::Help,
        "quit" => Input::Quit,
        _ => Input::Unknown(command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised() {
        assert_eq!(parse_input("/who"), Input::Who);
        assert_eq!(parse_input("/help"), Input::Help);
        assert_eq!(parse_input("/quit"), Input::Quit);
        assert_eq!(parse_input("/quit now"), Input::Quit);
    }

    #[test]
    fn private_messages_need_a_nick_and_text() {
        assert_eq!(
            parse_input("/msg  bob  two  spaces"),
            Input::Private {
                to: "bob",
                text: " two  spaces"
            }
        );
        assert_eq!(parse_input("/msg"), Input::Usage(MSG_USAGE));
        assert_eq!(parse_input("/msg bob"), Input::Usage(MSG_USAGE));
        assert_eq!(parse_input("/msg bob   "), Input::Usage(MSG_USAGE));
    }

    #[test]
    fn blank_lines_are_empty() {
        assert_eq!(parse_input(""), Input::Empty);
        assert_eq!(parse_input("   "), Input::Empty);
    }

    #[test]
    fn unknown_commands_are_named() {
        assert_eq!(parse_input("/dance wildly"), Input::Unknown("dance"));
        assert_eq!(parse_input("/"), Input::Unknown(""));
    }

    #[test]
    fn text_keeps_its_spacing() {
        assert_eq!(parse_input("  indented"), Input::Chat("  indented"));
        assert_eq!(parse_input("a/b"), Input::Chat("a/b"));
    }
}
