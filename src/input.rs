//! What a person types, and what it means.
//!
//! Both ends need this. The full client reads a line the user typed and
//! decides whether it is a chat message or a command. The server does the
//! same for a plain client (someone using `nc`), whose typed lines arrive
//! as they are. Parsing both in one place means `/msg bob hi` means the same
//! thing whichever program the user chose.
//!
//! This module only parses: it sends nothing and prints nothing.
//!
//! As in the original course program, `transfer FILENAME` sends a file.
//! But "transfer complete, thanks!" is chat, not a file called
//! `complete,`: a line that starts with the bare word `transfer` is a file
//! transfer only if it names a file that exists, which the full client
//! checks ([`Input::Transfer`]'s `slash` is `false`); otherwise it is said
//! as chat. `/transfer` is always the command. A path with spaces is
//! quoted as in a shell: `transfer "my notes.txt" bob`.
//!
//! Commands do not mind case: `/WHO` is `/who`.

use crate::text::looks_empty;

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
    /// `/me ACTION`: an action, shown as `* alice ACTION`.
    Action(&'a str),
    /// `/nick NEW`: be known by another nickname.
    Nick(&'a str),
    /// `/who`: list the connected users.
    Who,
    /// `/help`: list the commands.
    Help,
    /// `/quit`: leave.
    Quit,
    /// `/accept [N]`: take the file offered as number N (the latest offer
    /// if none is given).
    Accept(Option<&'a str>),
    /// `/decline [N]`: refuse the file offered as number N (or the latest).
    Decline(Option<&'a str>),
    /// `/cancel [N | NAME]`: stop transfer N, or the one of that file name,
    /// or (with nothing) every transfer under way, both ways.
    Cancel(Option<&'a str>),
    /// `/transfers`: list offers and transfers under way, both ways.
    Transfers,
    /// `transfer PATH [NICK]` (or `/transfer ...`): send a file to
    /// everyone, or to NICK.
    Transfer {
        /// The file to send, with quotes removed.
        path: String,
        /// The one recipient, if any.
        to: Option<String>,
        /// Typed as `/transfer`: a command whatever follows. Without the
        /// slash, the line is chat unless PATH names a file.
        slash: bool,
    },
    /// A known command used the wrong way; the text says the right way.
    Usage(&'static str),
    /// A `/word` that is no command.
    Unknown(&'a str),
}

/// How to use `/me`, shown when it is used wrongly.
pub const ME_USAGE: &str = "usage: /me ACTION (shown as: * you ACTION)";

/// How to use `/nick`, shown when it is used wrongly.
pub const NICK_USAGE: &str = "usage: /nick NEWNAME";

/// How to use `/msg`, shown when it is used wrongly.
pub const MSG_USAGE: &str = "usage: /msg NICK TEXT";

/// How to use `transfer`, shown when it is used wrongly.
pub const TRANSFER_USAGE: &str =
    "usage: transfer PATH [NICK] (quote a path with spaces: \"my file.txt\")";

/// The commands everyone can type, one per line, for `/help`.
pub const CHAT_HELP: &str = "\
commands:
  TEXT                send TEXT to everyone (// sends a leading /)
  /msg NICK TEXT      send TEXT to NICK only
  /me ACTION          say what you do: * you ACTION
  /nick NEWNAME       change your nickname
  /who                list who is online
  /help               show this help
  /quit               leave the chat";

/// The file commands, which only the full client has. (Each line keeps
/// its indent: a line continuation would swallow it.)
pub const FILE_HELP: &str = concat!(
    "  transfer PATH       send the file at PATH to everyone (also /transfer)\n",
    "  transfer PATH NICK  send it to NICK only (\"a b.txt\" for spaces)\n",
    "  /accept [N]         take the file offered as #N (or the latest)\n",
    "  /decline [N]        refuse the file offered as #N (or the latest)\n",
    "  /cancel [N|NAME]    stop transfer #N or NAME, or (alone) all of them\n",
    "  /transfers          list offers and files on their way (< in, > out)\n",
    "  [>a.bin 42% 3s]     progress before the prompt: > sending, < receiving",
);

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
    if looks_empty(line) {
        return Input::Empty;
    }
    let (first_word, rest) = line.split_once(' ').unwrap_or((line, ""));
    if first_word.eq_ignore_ascii_case("transfer") {
        // Not a transfer after all: chat that starts with the word.
        return match parse_transfer(rest, false) {
            Input::Usage(_) => Input::Chat(line),
            transfer => transfer,
        };
    }
    if first_word.eq_ignore_ascii_case("/transfer") {
        return parse_transfer(rest, true);
    }
    let Some(command_line) = line.strip_prefix('/') else {
        return Input::Chat(line);
    };
    if command_line.starts_with('/') {
        return Input::Chat(command_line);
    }
    let (command, rest) = command_line.split_once(' ').unwrap_or((command_line, ""));
    let rest = rest.trim_start_matches(' ');
    match command.to_ascii_lowercase().as_str() {
        "msg" => match rest.split_once(' ') {
            Some((to, text)) if !text.trim().is_empty() => Input::Private { to, text },
            _ => Input::Usage(MSG_USAGE),
        },
        "me" if !rest.trim().is_empty() => Input::Action(rest),
        "me" => Input::Usage(ME_USAGE),
        "nick" => match rest.trim() {
            "" => Input::Usage(NICK_USAGE),
            new => Input::Nick(new),
        },
        "who" => Input::Who,
        "help" => Input::Help,
        "quit" => Input::Quit,
        "accept" => Input::Accept(optional(rest)),
        "decline" => Input::Decline(optional(rest)),
        "cancel" => Input::Cancel(optional(rest)),
        "transfers" => Input::Transfers,
        _ => Input::Unknown(command),
    }
}

/// The argument of a command that takes one, if it was given.
fn optional(rest: &str) -> Option<&str> {
    let rest = rest.trim();
    (!rest.is_empty()).then_some(rest)
}

/// The arguments of `transfer`: a path and maybe a nickname.
fn parse_transfer(args: &str, slash: bool) -> Input<'_> {
    match split_words(args).as_deref() {
        Some([path]) => Input::Transfer {
            path: path.clone(),
            to: None,
            slash,
        },
        Some([path, nick]) => Input::Transfer {
            path: path.clone(),
            to: Some(nick.clone()),
            slash,
        },
        _ => Input::Usage(TRANSFER_USAGE),
    }
}

/// Splits `text` into words as a shell does, in its simplest form: words
/// are separated by spaces; inside double quotes spaces are kept and `\"`
/// and `\\` stand for `"` and `\`; inside single quotes everything is
/// kept as it is; elsewhere a backslash keeps the character after it
/// (`my\ notes.txt` is one word). Returns `None` if a quote is left open.
///
/// # Examples
///
/// ```
/// use ftpchat::input::split_words;
///
/// let words = split_words(r#""my notes.txt" bob"#);
/// assert_eq!(words, Some(vec!["my notes.txt".to_string(), "bob".to_string()]));
/// assert_eq!(split_words("\"open"), None);
/// ```
pub fn split_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None; // None between words
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            escaped @ ('"' | '\\') => word.push(escaped),
                            other => {
                                word.push('\\');
                                word.push(other);
                            }
                        },
                        other => word.push(other),
                    }
                }
            }
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => word.push(other),
                    }
                }
            }
            // Outside quotes, a backslash keeps the next character as it
            // is, as in a shell: `my\ notes.txt` is one word.
            '\\' => {
                let word = word.get_or_insert_with(String::new);
                word.push(chars.next().unwrap_or('\\'));
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised() {
        assert_eq!(parse_input("/me waves hello"), Input::Action("waves hello"));
        assert_eq!(parse_input("/me"), Input::Usage(ME_USAGE));
        assert_eq!(parse_input("/nick alicia"), Input::Nick("alicia"));
        assert_eq!(parse_input("/NICK"), Input::Usage(NICK_USAGE));
        assert_eq!(parse_input("/who"), Input::Who);
        assert_eq!(parse_input("/WHO"), Input::Who);
        assert_eq!(parse_input("/Quit"), Input::Quit);
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
    fn transfer_control_commands_take_an_optional_argument() {
        assert_eq!(parse_input("/accept"), Input::Accept(None));
        assert_eq!(parse_input("/accept 3"), Input::Accept(Some("3")));
        assert_eq!(parse_input("/decline  #2 "), Input::Decline(Some("#2")));
        assert_eq!(
            parse_input("/cancel my notes.txt"),
            Input::Cancel(Some("my notes.txt"))
        );
        assert_eq!(parse_input("/cancel"), Input::Cancel(None));
        assert_eq!(parse_input("/transfers"), Input::Transfers);
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
    fn transfer_takes_a_path_and_maybe_a_nick() {
        let transfer = |path: &str, to: Option<&str>| Input::Transfer {
            path: path.to_string(),
            to: to.map(str::to_string),
            slash: false,
        };
        let slash = |path: &str, to: Option<&str>| Input::Transfer {
            path: path.to_string(),
            to: to.map(str::to_string),
            slash: true,
        };
        assert_eq!(
            parse_input("transfer report.pdf"),
            transfer("report.pdf", None)
        );
        assert_eq!(
            parse_input("/transfer report.pdf bob"),
            slash("report.pdf", Some("bob"))
        );
        assert_eq!(parse_input("/TRANSFER a"), slash("a", None));
        assert_eq!(parse_input("Transfer a"), transfer("a", None));
        assert_eq!(
            parse_input(r#"transfer "my notes.txt" bob"#),
            transfer("my notes.txt", Some("bob"))
        );
        assert_eq!(
            parse_input("transfer 'it''s.txt'"),
            transfer("its.txt", None)
        );
        assert_eq!(
            parse_input(r#"transfer "a \"quoted\" \\ name""#),
            transfer(r#"a "quoted" \ name"#, None)
        );
        assert_eq!(parse_input(r#"transfer """#), transfer("", None));
        assert_eq!(
            parse_input(r"transfer my\ folder/a\ b.txt bob"),
            transfer("my folder/a b.txt", Some("bob"))
        );
        assert_eq!(parse_input("/transfer"), Input::Usage(TRANSFER_USAGE));
        assert_eq!(parse_input("/transfer   "), Input::Usage(TRANSFER_USAGE));
        assert_eq!(parse_input("/transfer a b c"), Input::Usage(TRANSFER_USAGE));
        assert_eq!(
            parse_input("/transfer \"open"),
            Input::Usage(TRANSFER_USAGE)
        );
        // Without the slash, what cannot be a transfer is chat.
        assert_eq!(parse_input("transfer"), Input::Chat("transfer"));
        let thanks = "transfer complete, thanks all";
        assert_eq!(parse_input(thanks), Input::Chat(thanks));
        assert_eq!(
            parse_input(" transfer is done"),
            Input::Chat(" transfer is done")
        );
        assert_eq!(parse_input("transferred it"), Input::Chat("transferred it"));
    }

    #[test]
    fn text_keeps_its_spacing() {
        assert_eq!(parse_input("  indented"), Input::Chat("  indented"));
        assert_eq!(parse_input("a/b"), Input::Chat("a/b"));
    }

    #[test]
    fn help_lines_are_aligned_and_fit_80_columns() {
        for line in CHAT_HELP.lines().skip(1).chain(FILE_HELP.lines()) {
            assert!(line.chars().count() <= 80, "{line:?}");
            assert!(
                line.starts_with("  ") && !line.starts_with("   "),
                "{line:?}"
            );
            let description = line.char_indices().nth(22).map(|(i, _)| &line[i..]);
            assert!(line[..22].ends_with("  "), "{line:?}");
            assert!(description.is_some_and(|d| !d.starts_with(' ')), "{line:?}");
        }
    }
}
