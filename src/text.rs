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
/// use ftpchat::text::make_visible;
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
///
/// # Examples
///
/// ```
/// use ftpchat::text::needs_escape;
///
/// assert!(needs_escape('\x1b'));
/// assert!(needs_escape('\u{202e}')); // RIGHT-TO-LEFT OVERRIDE
/// assert!(!needs_escape('é'));
/// ```
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
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
