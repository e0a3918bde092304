//! Text that is safe to put on someone's screen, and sizes for people.
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
//! # Errors in words
//!
//! The operating system's own error texts (`Connection refused (os error
//! 111)`, `Resource temporarily unavailable`) say little to a person.
//! [`io_words`] says what happened in plain words instead.
//!
//! This module depends on nothing else in the crate: the wire format, the
//! file names and the trace all use it, and it uses none of them.

use std::borrow::Cow;
use std::fmt::Write;
use std::io;

/// An I/O error in words for people: what the operating system reported,
/// without its number (`connection refused`, `no such file or folder`).
/// An error this program made itself, with its own message, keeps it.
///
/// # Examples
///
/// ```
/// use ftpchat::text::io_words;
/// use std::io;
///
/// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
/// assert_eq!(io_words(&refused), "connection refused");
/// let ours = io::Error::other("the server closed the connection");
/// assert_eq!(io_words(&ours), "the server closed the connection");
/// ```
pub fn io_words(error: &io::Error) -> String {
    use io::ErrorKind::*;
    if error.get_ref().is_some() {
        return error.to_string(); // a message of our own
    }
    let words = match error.kind() {
        NotFound => "no such file or folder",
        PermissionDenied => "permission denied",
        ConnectionRefused => "connection refused",
        ConnectionReset => "the connection was reset by the other end",
        ConnectionAborted => "the connection was aborted",
        NotConnected => "not connected",
        AddrInUse => "the address is already in use",
        AddrNotAvailable => "the address does not belong to this machine",
        BrokenPipe => "the other end closed the connection",
        AlreadyExists => "it already exists",
        WouldBlock | TimedOut => "timed out",
        UnexpectedEof => "the connection closed in the middle of a message",
        HostUnreachable => "the host cannot be reached",
        NetworkUnreachable => "the network cannot be reached",
        NetworkDown => "the network is down",
        StorageFull => "the disk is full",
        QuotaExceeded => "the disk quota is used up",
        FileTooLarge => "the file is too large for the file system",
        IsADirectory => "it is a folder",
        NotADirectory => "part of the path is not a folder",
        ReadOnlyFilesystem => "the file system is read-only",
        Interrupted => "interrupted",
        OutOfMemory => "out of memory",
        _ => {
            // Anything else: the system's text, without "(os error N)".
            let text = error.to_string();
            return match text.rfind(" (os error ") {
                Some(cut) => text[..cut].to_lowercase(),
                None => text,
            };
        }
    };
    words.to_string()
}

/// Returns `text` with every character that could steer a terminal, or
/// hide or disguise text, replaced by a visible stand-in.
///
/// - C0 control characters and DEL are shown in caret notation, as
///   `cat -v` does: `\x1b` as `^[`, `\r` as `^M`, `\0` as `^@`, DEL as `^?`.
/// - C1 control characters (U+0080 to U+009F, which some terminals obey
///   like `ESC` sequences), the invisible characters that reverse or
///   reorder text (bidirectional overrides), and the other invisible
///   *format* characters (zero-width space U+200B, word joiner U+2060,
///   U+FEFF, Unicode tags...) are shown as `<U+200B>`.
/// - Two are kept where emoji need them, and only there: the zero-width
///   joiner (U+200D) between two emoji (👨‍👩‍👧 is three emoji joined), and
///   tag characters after a black flag (🏴 and tags make the flag of
///   Scotland). Anywhere else they could hide text, and are shown.
///
/// Text without such characters is returned as it is, without copying.
///
/// # Examples
///
/// ```
/// use ftpchat::text::make_visible;
///
/// assert_eq!(make_visible("plain text"), "plain text");
/// assert_eq!(make_visible("\x1b[2Jgotcha"), "^[[2Jgotcha");
/// assert_eq!(make_visible("hi\r<bob> fake"), "hi^M<bob> fake");
/// assert_eq!(make_visible("pay\u{200b}pal"), "pay<U+200B>pal");
/// assert_eq!(make_visible("👨\u{200d}👩"), "👨\u{200d}👩");
/// ```
pub fn make_visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut shown = String::with_capacity(text.len() + 8);
    let mut in_flag = false;
    for (index, &c) in chars.iter().enumerate() {
        in_flag = match c {
            '\u{1f3f4}' => true,
            '\u{e0020}'..='\u{e007f}' => in_flag,
            _ => false,
        };
        let emoji_join = c == ZERO_WIDTH_JOINER
            && index > 0
            && is_emoji_part(chars[index - 1])
            && chars.get(index + 1).is_some_and(|&next| is_emoji(next));
        match c {
            '\0'..='\x1f' => {
                shown.push('^');
                shown.push(char::from(c as u8 + 0x40));
            }
            '\x7f' => shown.push_str("^?"),
            _ if emoji_join || (in_flag && c != '\u{1f3f4}') => shown.push(c),
            c if needs_escape(c) => {
                let _ = write!(shown, "<U+{:04X}>", u32::from(c));
            }
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

/// Whether `c` could steer a terminal or disguise text: a control
/// character, or an invisible format character (which reorders text, or
/// takes no room: zero-width spaces and joiners, tags).
///
/// # Examples
///
/// ```
/// use ftpchat::text::needs_escape;
///
/// assert!(needs_escape('\x1b'));
/// assert!(needs_escape('\u{202e}')); // RIGHT-TO-LEFT OVERRIDE
/// assert!(needs_escape('\u{200b}')); // ZERO WIDTH SPACE
/// assert!(!needs_escape('é'));
/// ```
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_format(c)
}

/// Whether `c` is in Unicode's *format* category (Cf): invisible
/// characters that change how text around them is shown.
pub fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061c}'
            | '\u{06dd}'
            | '\u{070f}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// Whether `text` holds nothing a reader would see: only white space and
/// invisible format characters (or nothing at all).
///
/// # Examples
///
/// ```
/// use ftpchat::text::looks_empty;
///
/// assert!(looks_empty(" \t\u{200b} "));
/// assert!(!looks_empty(" hi "));
/// ```
pub fn looks_empty(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || is_format(c))
}

/// The zero-width joiner, which glues emoji into one picture.
const ZERO_WIDTH_JOINER: char = '\u{200d}';

/// Whether `c` is an emoji (a pictograph), roughly: what a ZWJ may join.
fn is_emoji(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27bf}' | '\u{2b00}'..='\u{2bff}' | '\u{1f000}'..='\u{1faff}')
}

/// Whether `c` may end an emoji before a ZWJ: an emoji, or a variation
/// selector or skin tone that follows one.
fn is_emoji_part(c: char) -> bool {
    is_emoji(c) || c == '\u{fe0f}' || ('\u{1f3fb}'..='\u{1f3ff}').contains(&c)
}

/// A byte count for people: `512 bytes`, `1.5 KiB`, `3.2 MiB`, `1.0 GiB`.
///
/// # Examples
///
/// ```
/// use ftpchat::text::format_size;
///
/// assert_eq!(format_size(1), "1 byte");
/// assert_eq!(format_size(1536), "1.5 KiB");
/// assert_eq!(format_size(5 << 30), "5.0 GiB");
/// ```
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes == 1 {
        return "1 byte".to_string();
    }
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
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
    fn invisible_characters_are_shown_except_inside_emoji() {
        for hidden in ['\u{200b}', '\u{200c}', '\u{2060}', '\u{feff}', '\u{00ad}'] {
            let text = format!("a{hidden}b");
            assert_eq!(make_visible(&text), format!("a<U+{:04X}>b", hidden as u32));
        }
        let family = "👨\u{200d}👩\u{200d}👧";
        assert_eq!(make_visible(family), family);
        let skin = "👍\u{1f3fd}\u{200d}🔥";
        assert_eq!(make_visible(skin), skin);
        assert_eq!(
            make_visible("a\u{200d}b"),
            "a<U+200D>b",
            "a ZWJ between letters"
        );
        assert_eq!(
            make_visible("👨\u{200d}"),
            "👨<U+200D>",
            "a ZWJ joining nothing"
        );
        let scotland = "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}";
        assert_eq!(make_visible(scotland), scotland);
        let smuggled = "hi\u{e0068}\u{e0069}";
        assert_eq!(
            make_visible(smuggled),
            "hi<U+E0068><U+E0069>",
            "tags hiding text"
        );
    }

    #[test]
    fn printable_unicode_passes_through_untouched() {
        let text = "Grüße, 世界! ✓";
        assert!(matches!(make_visible(text), Cow::Borrowed(_)));
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(format_size(0), "0 bytes");
        assert_eq!(format_size(1023), "1023 bytes");
        assert_eq!(format_size(1024), "1.0 KiB");
        assert_eq!(format_size(1_073_741_824), "1.0 GiB");
    }
}
