//! Watching the wire: the lines `--trace` prints.
//!
//! A protocol is easiest to learn by watching it. Both programs take
//! `--trace`, which prints every frame they send or receive to standard
//! error, one line each: the time, the direction (`->` sent to the peer,
//! `<-` received from it), the peer's address, and the frame. A client
//! joining and saying hello looks like this from its side:
//!
//! ```text
//! 2026-11-24T13:14:24.120Z -> 127.0.0.1:5555 HELLO ftpchat/1 alice
//! 2026-11-24T13:14:24.121Z <- 127.0.0.1:5555 WELCOME alice
//! 2026-11-24T13:14:24.121Z <- 127.0.0.1:5555 USERS 2 alice bob
//! 2026-11-24T13:14:26.503Z -> 127.0.0.1:5555 CHAT hello
//! ```
//!
//! Two rules keep the trace readable and safe to print:
//!
//! - Control characters are shown with [`make_visible`] (`ESC` as `^[`,
//!   the `\r` of a plain client's `\r\n` as `^M`), so a peer cannot steer
//!   the terminal that shows the trace.
//! - A chunk frame shows its header only, the transfer and the length:
//!   `DATA 1 262144 (+262144 bytes)`. The file's bytes are never printed.
//!
//! A trace line shows a frame *as the program saw it*: a received line
//! once a [`crate::protocol::FrameReader`] has taken it off the stream (so
//! without its line ending), a frame to send just before it is written.
//! So a program's trace never shows an answer before the frame it
//! answers. A line that cannot be read at all (too long, not UTF-8, a
//! `DATA` header that cannot be trusted) is not traced; on the server,
//! the `ERROR` sent back about it is.
//!
//! These functions only build the text; the programs decide where it goes
//! (the server prints it to standard error, the client does too, keeping
//! its input line tidy). Tracing is off unless `--trace` is given; when
//! it is off, the programs skip these calls after checking one `bool`.

use crate::clock::timestamp;
use crate::protocol::framing::parse_data_header;
use crate::text::make_visible;
use std::net::SocketAddr;

/// Which way a frame went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Written to the peer.
    Sent,
    /// Read from the peer.
    Received,
}

impl Direction {
    /// The arrow a trace line shows: `->` for sent, `<-` for received.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => "->",
            Direction::Received => "<-",
        }
    }
}

/// The trace line for `line`, just received from `peer`, stamped with the
/// current time.
pub fn received(peer: SocketAddr, line: &str) -> String {
    format_trace(
        &timestamp(),
        Direction::Received,
        peer,
        &describe_line(line),
    )
}

/// The trace lines for `bytes`, being sent to `peer`: one per frame, all
/// stamped with the current time. `bytes` holds whole frames; the chunk
/// after a `DATA` header may be left out (it is never shown anyway).
pub fn sent(peer: SocketAddr, bytes: &[u8]) -> Vec<String> {
    let time = timestamp();
    describe_frames(bytes)
        .iter()
        .map(|frame| format_trace(&time, Direction::Sent, peer, frame))
        .collect()
}

/// One trace line: time, direction, peer and the frame's readable form.
///
/// # Examples
///
/// ```
/// use ftpchat::trace::{Direction, format_trace};
///
/// let peer = "127.0.0.1:5555".parse()?;
/// let line = format_trace("2026-11-24T13:14:26.503Z", Direction::Sent, peer, "CHAT hello");
/// assert_eq!(line, "2026-11-24T13:14:26.503Z -> 127.0.0.1:5555 CHAT hello");
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn format_trace(time: &str, direction: Direction, peer: SocketAddr, frame: &str) -> String {
    format!("{time} {} {peer} {frame}", direction.arrow())
}

/// The readable form of one line (without its `\n`): control characters
/// made visible, and a `DATA` header followed by the size of the chunk
/// that comes after it on the wire.
///
/// # Examples
///
/// ```
/// use ftpchat::trace::describe_line;
///
/// assert_eq!(describe_line("CHAT \x1b[31mred"), "CHAT ^[[31mred");
/// assert_eq!(describe_line("DATA 7 1024"), "DATA 7 1024 (+1024 bytes)");
/// ```
pub fn describe_line(line: &str) -> String {
    let shown = make_visible(line);
    match chunk_len(line) {
        Some(len) => format!("{shown} (+{len} bytes)"),
        None => shown.into_owned(),
    }
}

/// The readable form of each frame in `bytes`, which holds whole frames
/// as written to a socket: lines, and `DATA` headers with their chunks.
/// A chunk is skipped by the length in its header (read by
/// [`parse_data_header`], the rule the [`crate::protocol::FrameReader`]
/// reads by), so bytes of a file are never mistaken for lines (nor
/// shown). The bytes are all in memory, and shown as they are, `\r`
/// included: this is a walk over a buffer, not a read from a socket.
///
/// # Examples
///
/// ```
/// use ftpchat::trace::describe_frames;
///
/// let wire = b"FILE 3 5 - alice a.txt\nDATA 3 5\nhi\nyoDONE 3 1234\n";
/// assert_eq!(
///     describe_frames(wire),
///     ["FILE 3 5 - alice a.txt", "DATA 3 5 (+5 bytes)", "DONE 3 1234"]
/// );
/// ```
pub fn describe_frames(bytes: &[u8]) -> Vec<String> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (line, after) = match rest.iter().position(|&byte| byte == b'\n') {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, &rest[rest.len()..]), // the last line has no end
        };
        let line = String::from_utf8_lossy(line);
        frames.push(describe_line(&line));
        // The chunk is not made of lines: jump over it. (Plain clients are
        // sent text lines that start with `*`, `<` or `!`, never `DATA`.)
        let skip = chunk_len(&line).unwrap_or(0).min(after.len());
        rest = &after[skip..];
    }
    frames
}

/// The length of the chunk that follows `line`, if it is a well-formed
/// `DATA` header: the same rule [`crate::protocol::FrameReader`] reads by.
fn chunk_len(line: &str) -> Option<usize> {
    match parse_data_header(line) {
        Some(Ok((_, len))) => Some(len),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_lines_is_one_trace_line_each() {
        let wire = b"CHAT alice hi\nCHAT alice there\nJOINED bob\n";
        assert_eq!(
            describe_frames(wire),
            ["CHAT alice hi", "CHAT alice there", "JOINED bob"]
        );
    }

    #[test]
    fn chunk_bytes_are_never_shown_even_when_they_look_like_lines() {
        let mut wire = b"DATA 1 12\n".to_vec();
        wire.extend_from_slice(b"CHAT secret\n");
        wire.extend_from_slice(b"DONE 1 99\n");
        assert_eq!(
            describe_frames(&wire),
            ["DATA 1 12 (+12 bytes)", "DONE 1 99"]
        );
    }

    #[test]
    fn a_header_without_its_chunk_is_described_alone() {
        assert_eq!(
            describe_frames(b"DATA 2 65536\n"),
            ["DATA 2 65536 (+65536 bytes)"]
        );
    }

    #[test]
    fn binary_chunks_and_control_characters_stay_printable() {
        let mut wire = b"DATA 4 256\n".to_vec();
        wire.extend((0..=255u8).collect::<Vec<u8>>());
        wire.extend_from_slice(b"* bob joined\r\n");
        let frames = describe_frames(&wire);
        assert_eq!(frames, ["DATA 4 256 (+256 bytes)", "* bob joined^M"]);
        assert!(frames.iter().all(|f| !f.chars().any(char::is_control)));
    }

    #[test]
    fn a_malformed_header_is_shown_as_text() {
        assert_eq!(describe_line("DATA x 5"), "DATA x 5");
        assert_eq!(describe_frames(b"DATA 1 99999999\n"), ["DATA 1 99999999"]);
    }

    #[test]
    fn trace_lines_carry_time_direction_and_peer() {
        let peer: SocketAddr = "[::1]:5555".parse().unwrap();
        let lines = sent(peer, b"WHO\n");
        assert_eq!(lines.len(), 1);
        let (time, rest) = lines[0].split_once(' ').unwrap();
        assert!(time.ends_with('Z') && time.len() == 24, "{time}");
        assert_eq!(rest, "-> [::1]:5555 WHO");
        assert!(received(peer, "BYE goodbye").ends_with(" <- [::1]:5555 BYE goodbye"));
    }
}
