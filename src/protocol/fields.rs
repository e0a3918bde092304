//! Fields: the grammar of the words inside a line, shared by both
//! directions, and the rules for nicknames.
//!
//! A line is a verb and fields separated by single spaces (`split_word`
//! takes them off one at a time); the last field runs to the end of the
//! line. Numbers are ASCII digits only: no sign, no spaces, and not too
//! large for their type, so `+2`, `-1` and `99999999999999999999` are all
//! refused rather than quietly changed. Every refusal is a
//! [`ProtocolError`] with [`ErrorCode::BadMessage`] that says which field
//! was wrong.
//!
//! The file frames (`SEND`/`FILE`, `DONE`, `CANCEL`, the outcome of a
//! delivery) look the same in both directions, so their fields are decoded
//! here, for [`super::ClientMessage`] and [`super::ServerMessage`] alike.

use super::errors::{ErrorCode, ProtocolError};
use crate::text::{looks_empty, make_visible};
use std::fmt;

/// Longest nickname, in bytes of UTF-8. Long enough for real names, short
/// enough that a line listing users stays readable.
pub const MAX_NICK_LEN: usize = 32;

/// Longest file name a `SEND` or `FILE` carries, in bytes: the usual limit
/// of a name on Linux, macOS and Windows file systems.
pub const MAX_NAME_LEN: usize = 255;

/// Longest chat message text, in bytes of UTF-8. Comfortably under
/// [`MAX_LINE_LEN`](super::MAX_LINE_LEN), so a relayed line (`CHAT nick text`) always fits.
pub const MAX_TEXT_LEN: usize = 2048;

/// Why a nickname was refused. [`check_nick`] returns it; its `Display`
/// text is what the user sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NickError {
    /// The nickname is empty.
    Empty,
    /// The nickname is longer than [`MAX_NICK_LEN`] bytes (it holds this many).
    TooLong(usize),
    /// The nickname contains a space or other white space.
    Space,
    /// The nickname contains a control character (shown escaped).
    Control(char),
    /// The nickname contains a character outside the allowed set.
    BadChar(char),
    /// The nickname starts with `-` (it would look like an option).
    LeadingDash,
}

impl fmt::Display for NickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NickError::Empty => write!(f, "nickname is empty"),
            NickError::TooLong(len) => {
                write!(
                    f,
                    "nickname is {len} bytes long; the limit is {MAX_NICK_LEN}"
                )
            }
            NickError::Space => write!(f, "nickname contains a space"),
            NickError::Control(c) => {
                write!(
                    f,
                    "nickname contains the control character {}",
                    c.escape_unicode()
                )
            }
            NickError::BadChar(c) => write!(
                f,
                "nickname contains '{}'; use letters, digits and {NICK_PUNCTUATION}",
                make_visible(&c.to_string())
            ),
            NickError::LeadingDash => write!(f, "nickname starts with '-'"),
        }
    }
}

impl std::error::Error for NickError {}

/// The punctuation allowed in nicknames besides letters and digits.
pub const NICK_PUNCTUATION: &str = "_-.[]{}|^`";

/// Checks that `nick` is a valid nickname: 1 to [`MAX_NICK_LEN`] bytes of
/// letters (any script), digits and the characters of [`NICK_PUNCTUATION`].
///
/// The rules keep nicknames easy to type and to read, and make sure a
/// nickname can never contain the space that separates fields on the wire,
/// nor characters that could disguise a message on someone's terminal.
///
/// # Errors
///
/// The first rule the nickname breaks, as a [`NickError`].
///
/// # Examples
///
/// ```
/// use ftpchat::protocol::{check_nick, NickError};
///
/// assert_eq!(check_nick("alice"), Ok(()));
/// assert_eq!(check_nick("Zoë_2"), Ok(()));
/// assert_eq!(check_nick("bob smith"), Err(NickError::Space));
/// assert_eq!(check_nick(""), Err(NickError::Empty));
/// ```
pub fn check_nick(nick: &str) -> Result<(), NickError> {
    if nick.is_empty() {
        return Err(NickError::Empty);
    }
    if nick.starts_with('-') {
        return Err(NickError::LeadingDash);
    }
    for c in nick.chars() {
        if c.is_whitespace() {
            return Err(NickError::Space);
        }
        if c.is_control() {
            return Err(NickError::Control(c));
        }
        if !c.is_alphanumeric() && !NICK_PUNCTUATION.contains(c) {
            return Err(NickError::BadChar(c));
        }
    }
    if nick.len() > MAX_NICK_LEN {
        return Err(NickError::TooLong(nick.len()));
    }
    Ok(())
}

/// The form of a nickname used to compare two for equality: `Alice` and
/// `alice` are the same person, as on IRC, so nobody can pose as someone
/// else by changing case.
///
/// # Examples
///
/// ```
/// use ftpchat::protocol::nick_key;
///
/// assert_eq!(nick_key("Alice"), nick_key("aLICE"));
/// ```
pub fn nick_key(nick: &str) -> String {
    nick.to_lowercase()
}

/// Splits `s` at its first space: the first word and the rest.
pub(super) fn split_word(s: &str) -> (&str, &str) {
    s.split_once(' ').unwrap_or((s, ""))
}

/// Checks the text of a chat or private message: not empty, and at most
/// [`MAX_TEXT_LEN`] bytes.
///
/// # Errors
///
/// [`ErrorCode::BadMessage`] saying which rule the text breaks.
///
/// # Examples
///
/// ```
/// use ftpchat::protocol::{ErrorCode, MAX_TEXT_LEN, check_text};
///
/// assert_eq!(check_text("hi")?, "hi");
/// assert_eq!(check_text("").unwrap_err().code, ErrorCode::BadMessage);
/// assert!(check_text(&"x".repeat(MAX_TEXT_LEN + 1)).is_err());
/// # Ok::<(), ftpchat::protocol::ProtocolError>(())
/// ```
pub fn check_text(text: &str) -> Result<&str, ProtocolError> {
    // Spaces, tabs and invisible characters alone would look like an
    // empty line on everyone's screen.
    if looks_empty(text) {
        return Err(ProtocolError::new(
            ErrorCode::BadMessage,
            "message text is empty",
        ));
    }
    if text.len() > MAX_TEXT_LEN {
        return Err(ProtocolError::new(
            ErrorCode::BadMessage,
            format!(
                "message text is {} bytes; the limit is {MAX_TEXT_LEN}",
                text.len()
            ),
        ));
    }
    Ok(text)
}

/// Parses a decimal number field: ASCII digits only (no sign, no spaces),
/// and not too large for its type.
pub(super) fn parse_number<T: std::str::FromStr>(
    verb: &str,
    field: &str,
    text: &str,
) -> Result<T, ProtocolError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse() {
        Ok(number) if digits => Ok(number),
        _ => Err(ProtocolError::new(
            ErrorCode::BadMessage,
            format!("{verb} needs a {field} (a whole number in range)"),
        )),
    }
}

// The frames that carry a file look the same in both directions: `DATA`,
// `DONE` and `CANCEL` are spelled alike, and `SEND` (to the server) and
// `FILE` (from it) differ only in their verb and who they name. These
// functions decode their fields for both `ClientMessage` and
// `ServerMessage`.

/// Longest file stamp a `SEND` or `FILE` carries, in bytes.
pub const MAX_STAMP_LEN: usize = 64;

/// The stamp of a file that cannot be resumed: a sender that gives no
/// identity for its file sends `-`.
pub const NO_STAMP: &str = "-";

/// The fields of `SEND ID SIZE STAMP TO NAME` and `FILE ID SIZE STAMP FROM
/// NAME`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OfferFields<'a> {
    pub id: u64,
    pub size: u64,
    pub stamp: &'a str,
    /// `TO` or `FROM`.
    pub who: &'a str,
    pub name: &'a str,
}

/// Decodes `ID SIZE STAMP NICK NAME`, the fields of `SEND` and `FILE`;
/// `who` names the fourth field in error messages.
pub(super) fn decode_offer<'a>(
    verb: &str,
    who: &str,
    rest: &'a str,
) -> Result<OfferFields<'a>, ProtocolError> {
    let (id, rest) = split_word(rest);
    let (size, rest) = split_word(rest);
    let (stamp, rest) = split_word(rest);
    let (nick, name) = split_word(rest);
    Ok(OfferFields {
        id: parse_number(verb, "transfer id", id)?,
        size: parse_number(verb, "size", size)?,
        stamp: check_stamp(verb, stamp)?,
        who: check_present(verb, who, nick)?,
        name: check_name(verb, name)?,
    })
}

/// Checks a stamp field: 1 to [`MAX_STAMP_LEN`] bytes of letters, digits
/// and `-._:` (so it is one word, and safe to show and to store).
fn check_stamp<'a>(verb: &str, stamp: &'a str) -> Result<&'a str, ProtocolError> {
    let stamp = check_present(verb, "file stamp", stamp)?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._:".contains(&b);
    if stamp.len() > MAX_STAMP_LEN || !stamp.bytes().all(allowed) {
        return Err(ProtocolError::new(
            ErrorCode::BadMessage,
            format!(
                "{verb} needs a file stamp of at most {MAX_STAMP_LEN} letters, digits and -._: (or -)"
            ),
        ));
    }
    Ok(stamp)
}

/// Decodes `ID CKSUM`, the fields of `DONE`.
pub(super) fn decode_done(rest: &str) -> Result<(u64, u32), ProtocolError> {
    let (id, checksum) = split_word(rest);
    Ok((
        parse_number("DONE", "transfer id", id)?,
        parse_number("DONE", "checksum", checksum)?,
    ))
}

/// Decodes `ID REASON`, the fields of `CANCEL`, `DECLINE` and `PAUSED`.
pub(super) fn decode_cancel<'a>(
    verb: &str,
    rest: &'a str,
) -> Result<(u64, &'a str), ProtocolError> {
    let (id, reason) = split_word(rest);
    Ok((parse_number(verb, "transfer id", id)?, reason))
}

/// How one recipient's copy of a file turned out, as a receiver reports it
/// (`RECEIVED`) and the server passes it on to the sender (`DELIVERED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// `ok`: the file was saved and its checksum matched.
    Ok,
    /// `failed REASON`: it was not saved, for this reason.
    Failed(&'a str),
    /// `declined REASON`: the recipient refused the offer, or stopped
    /// receiving the file (`DECLINE`).
    Declined(&'a str),
    /// `expired`: the recipient did not answer the offer in time.
    Expired,
    /// `lost REASON`: the recipient's connection was lost before it had
    /// the whole file. It may keep what it has, and resume when the file
    /// is offered again.
    Lost(&'a str),
}

impl<'a> Delivery<'a> {
    pub(super) fn decode(verb: &str, text: &'a str) -> Result<Delivery<'a>, ProtocolError> {
        match split_word(text) {
            ("ok", "") => Ok(Delivery::Ok),
            ("failed", reason) => Ok(Delivery::Failed(reason)),
            ("declined", reason) => Ok(Delivery::Declined(reason)),
            ("expired", "") => Ok(Delivery::Expired),
            ("lost", reason) => Ok(Delivery::Lost(reason)),
            _ => Err(ProtocolError::new(
                ErrorCode::BadMessage,
                format!(
                    "{verb} needs 'ok', 'failed REASON', 'declined REASON', 'expired' or 'lost REASON'"
                ),
            )),
        }
    }

    pub(super) fn fields(&self) -> [&'a str; 2] {
        match self {
            Delivery::Ok => ["ok", ""],
            Delivery::Failed(reason) => ["failed", reason],
            Delivery::Declined(reason) => ["declined", reason],
            Delivery::Expired => ["expired", ""],
            Delivery::Lost(reason) => ["lost", reason],
        }
    }
}

/// Decodes `ID OFFSET`, the fields of `ACCEPT`, `FROM` (and the end of
/// `RECEIVING`).
pub(super) fn decode_offset(verb: &str, rest: &str) -> Result<(u64, u64), ProtocolError> {
    let (id, offset) = split_word(rest);
    Ok((
        parse_number(verb, "transfer id", id)?,
        parse_number(verb, "offset", offset)?,
    ))
}

/// Checks a file name field: present, and at most [`MAX_NAME_LEN`] bytes.
fn check_name<'a>(verb: &str, name: &'a str) -> Result<&'a str, ProtocolError> {
    let name = check_present(verb, "file name", name)?;
    if name.len() > MAX_NAME_LEN {
        return Err(ProtocolError::new(
            ErrorCode::BadMessage,
            format!(
                "file name is {} bytes; the limit is {}",
                name.len(),
                MAX_NAME_LEN
            ),
        ));
    }
    Ok(name)
}

/// Checks that a message whose verb takes no fields has none.
pub(super) fn check_no_fields(verb: &str, rest: &str) -> Result<(), ProtocolError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(ProtocolError::new(
            ErrorCode::BadMessage,
            format!("{verb} takes no arguments"),
        ))
    }
}

/// Checks a field that must be present.
pub(super) fn check_present<'a>(
    verb: &str,
    field: &str,
    value: &'a str,
) -> Result<&'a str, ProtocolError> {
    if value.is_empty() {
        Err(ProtocolError::new(
            ErrorCode::BadMessage,
            format!("{verb} needs a {field}"),
        ))
    } else {
        Ok(value)
    }
}

/// The error for a verb nobody knows; the verb is shown safely, and cut
/// short (it may be a whole line of garbage).
pub(super) fn unknown_command(verb: &str) -> ProtocolError {
    let shown: String = make_visible(verb).chars().take(40).collect();
    ProtocolError::new(
        ErrorCode::UnknownCommand,
        format!("unknown command '{shown}'"),
    )
}

/// Appends `fields` to `out`, separated by single spaces, then `\n`.
/// Trailing empty fields are left out, so `BYE` with no reason is `BYE\n`.
pub(super) fn push_line(out: &mut Vec<u8>, fields: &[&str]) {
    let used = fields
        .iter()
        .rposition(|f| !f.is_empty())
        .map_or(0, |i| i + 1);
    for (i, field) in fields[..used].iter().enumerate() {
        debug_assert!(
            !field.contains('\n'),
            "a field must not contain a line ending"
        );
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(field.as_bytes());
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_rules() {
        assert_eq!(check_nick("a"), Ok(()));
        assert_eq!(check_nick(&"a".repeat(MAX_NICK_LEN)), Ok(()));
        assert_eq!(check_nick("[x]_y-z.|^`{}"), Ok(()));
        assert_eq!(check_nick("Björk"), Ok(()));
        assert_eq!(check_nick(""), Err(NickError::Empty));
        assert_eq!(
            check_nick(&"a".repeat(MAX_NICK_LEN + 1)),
            Err(NickError::TooLong(MAX_NICK_LEN + 1))
        );
        assert_eq!(check_nick("a b"), Err(NickError::Space));
        assert_eq!(check_nick("a\tb"), Err(NickError::Space));
        assert_eq!(check_nick("a\u{1b}[2J"), Err(NickError::Control('\u{1b}')));
        assert_eq!(check_nick("a\0"), Err(NickError::Control('\0')));
        assert_eq!(check_nick("*"), Err(NickError::BadChar('*')));
        assert_eq!(check_nick("<bob>"), Err(NickError::BadChar('<')));
        assert_eq!(
            check_nick("a\u{202e}b"),
            Err(NickError::BadChar('\u{202e}'))
        );
        for invisible in ['\u{200b}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{301}'] {
            let nick = format!("bob{invisible}");
            assert_eq!(check_nick(&nick), Err(NickError::BadChar(invisible)));
        }
        let shown = NickError::BadChar('\u{200b}').to_string();
        assert!(shown.starts_with("nickname contains '<U+200B>'"), "{shown}");
        assert_eq!(check_nick("-bob"), Err(NickError::LeadingDash));
        assert_eq!(check_nick("bob-"), Ok(()));
    }

    #[test]
    fn text_that_looks_empty_is_empty() {
        for blank in ["   ", "\t", " \u{200b}\u{feff} "] {
            assert!(check_text(blank).is_err(), "{blank:?}");
        }
        assert_eq!(check_text(" hi "), Ok(" hi "));
    }

    #[test]
    fn nick_comparison_ignores_case() {
        assert_eq!(nick_key("Alice"), nick_key("aLICE"));
        assert_ne!(nick_key("alice"), nick_key("alice2"));
    }

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(parse_number::<u64>("X", "n", "42"), Ok(42));
        assert_eq!(parse_number::<u64>("X", "n", "007"), Ok(7));
        for bad in ["", "+2", "-2", " 2", "2 ", "0x10", "18446744073709551616"] {
            assert!(parse_number::<u64>("X", "n", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn words_split_at_the_first_space() {
        assert_eq!(split_word("CHAT hi  there"), ("CHAT", "hi  there"));
        assert_eq!(split_word("WHO"), ("WHO", ""));
    }
}
