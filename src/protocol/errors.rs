//! Error codes: what went wrong, in a word a program can match on.
//!
//! When the server refuses something it sends `ERROR CODE TEXT` (or, about
//! a file, `REFUSED ID CODE TEXT`): a short code for programs, then words
//! for people. Inside each program, a broken rule travels as an
//! [`io::Error`] that carries a [`ProtocolError`], so every function that
//! reads from the network keeps one error type. `PROTOCOL.md` section 6
//! lists the codes and when each is sent.

use std::fmt;
use std::io;

/// The reasons the server gives in an `ERROR` line. Each has a short
/// machine-readable code that a client can match on; the human-readable
/// text follows it on the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The nickname breaks the rules of [`check_nick`](super::check_nick).
    BadNick,
    /// Someone else already uses that nickname.
    NickTaken,
    /// The server has as many clients as it allows.
    ServerFull,
    /// The `HELLO` names a protocol version this server does not speak.
    BadVersion,
    /// The client did not finish the handshake in time.
    HandshakeTimeout,
    /// A second `HELLO` after the handshake has finished.
    AlreadyRegistered,
    /// The line starts with a verb this side does not know.
    UnknownCommand,
    /// A known verb with missing, extra or malformed fields.
    BadMessage,
    /// A line longer than [`MAX_LINE_LEN`](super::MAX_LINE_LEN); the connection is closed.
    LineTooLong,
    /// A line that is not valid UTF-8.
    BadUtf8,
    /// A private message or a file to a nickname nobody uses.
    NoSuchNick,
    /// A `DATA` header that is malformed or announces more than
    /// [`MAX_CHUNK_LEN`](super::MAX_CHUNK_LEN) bytes; the connection is closed.
    BadChunk,
    /// `DATA`, `DONE` or `CANCEL` for a transfer that is not under way.
    NoSuchTransfer,
    /// A `SEND` whose transfer id is already in use on this connection.
    TransferExists,
    /// A file larger than the server allows.
    FileTooLarge,
    /// A file nobody can receive: no other full client is online, or the
    /// named user has a plain client.
    NoRecipients,
    /// A file's data does not add up to the size its `SEND` announced.
    WrongSize,
    /// No answer to a `PING`; the connection is closed.
    PingTimeout,
    /// A `SEND` beyond the number of transfers one client may have under
    /// way at once.
    TooManyTransfers,
    /// A transfer whose sender stopped sending its data.
    Stalled,
    /// Data for a transfer that no recipient has accepted yet.
    NotAccepted,
    /// More data than the sender's flow-control window allows.
    Overrun,
    /// Chat lines faster than the server allows: dropped, and if it goes
    /// on, the connection is closed.
    Flood,
}

impl ErrorCode {
    /// Every code, for lookups and tests.
    pub const ALL: [ErrorCode; 23] = [
        ErrorCode::BadNick,
        ErrorCode::NickTaken,
        ErrorCode::ServerFull,
        ErrorCode::BadVersion,
        ErrorCode::HandshakeTimeout,
        ErrorCode::AlreadyRegistered,
        ErrorCode::UnknownCommand,
        ErrorCode::BadMessage,
        ErrorCode::LineTooLong,
        ErrorCode::BadUtf8,
        ErrorCode::NoSuchNick,
        ErrorCode::BadChunk,
        ErrorCode::NoSuchTransfer,
        ErrorCode::TransferExists,
        ErrorCode::FileTooLarge,
        ErrorCode::NoRecipients,
        ErrorCode::WrongSize,
        ErrorCode::PingTimeout,
        ErrorCode::TooManyTransfers,
        ErrorCode::Stalled,
        ErrorCode::NotAccepted,
        ErrorCode::Overrun,
        ErrorCode::Flood,
    ];

    /// The code as it appears on the wire, e.g. `nick-taken`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadNick => "bad-nick",
            ErrorCode::NickTaken => "nick-taken",
            ErrorCode::ServerFull => "server-full",
            ErrorCode::BadVersion => "bad-version",
            ErrorCode::HandshakeTimeout => "handshake-timeout",
            ErrorCode::AlreadyRegistered => "already-registered",
            ErrorCode::UnknownCommand => "unknown-command",
            ErrorCode::BadMessage => "bad-message",
            ErrorCode::LineTooLong => "line-too-long",
            ErrorCode::BadUtf8 => "bad-utf8",
            ErrorCode::NoSuchNick => "no-such-nick",
            ErrorCode::BadChunk => "bad-chunk",
            ErrorCode::NoSuchTransfer => "no-such-transfer",
            ErrorCode::TransferExists => "transfer-exists",
            ErrorCode::FileTooLarge => "file-too-large",
            ErrorCode::NoRecipients => "no-recipients",
            ErrorCode::WrongSize => "wrong-size",
            ErrorCode::PingTimeout => "ping-timeout",
            ErrorCode::TooManyTransfers => "too-many-transfers",
            ErrorCode::Stalled => "stalled",
            ErrorCode::NotAccepted => "not-accepted",
            ErrorCode::Overrun => "overrun",
            ErrorCode::Flood => "flood",
        }
    }

    /// Whether an error of this kind leaves the byte stream out of step:
    /// the receiver no longer knows where the next message starts, so the
    /// connection must be closed.
    pub fn breaks_framing(self) -> bool {
        matches!(self, ErrorCode::LineTooLong | ErrorCode::BadChunk)
    }

    /// The code for its wire spelling, or `None` for a code this version
    /// does not know (a newer server may send new ones).
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::protocol::ErrorCode;
    ///
    /// assert_eq!(ErrorCode::parse("nick-taken"), Some(ErrorCode::NickTaken));
    /// assert_eq!(ErrorCode::NickTaken.as_str(), "nick-taken");
    /// assert_eq!(ErrorCode::parse("from-the-future"), None);
    /// ```
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// A broken rule of the protocol: which rule (the code) and the details.
///
/// It converts into an [`io::Error`] of kind [`io::ErrorKind::InvalidData`],
/// so functions that read from the network can keep returning
/// [`io::Result`]; [`ProtocolError::find`] gets it back out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// Which rule was broken.
    pub code: ErrorCode,
    /// What exactly was wrong, for a person to read.
    pub detail: String,
}

impl ProtocolError {
    /// A new error with the given code and detail text.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ProtocolError {
        ProtocolError {
            code,
            detail: detail.into(),
        }
    }

    /// The protocol error inside an [`io::Error`], if it holds one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{self, BufReader};
    /// use ftpchat::protocol::{ErrorCode, ProtocolError, read_line};
    ///
    /// let mut reader = BufReader::new(&b"CHAT \xff\n"[..]);
    /// let error: io::Error = read_line(&mut reader, &mut Vec::new()).unwrap_err();
    /// let fault = ProtocolError::find(&error).expect("a broken rule, not an I/O failure");
    /// assert_eq!(fault.code, ErrorCode::BadUtf8);
    /// ```
    pub fn find(error: &io::Error) -> Option<&ProtocolError> {
        error.get_ref()?.downcast_ref::<ProtocolError>()
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for ProtocolError {}

impl From<ProtocolError> for io::Error {
    fn from(error: ProtocolError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_parse_back() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("no-such-code"), None);
    }

    #[test]
    fn only_errors_that_lose_the_frame_boundary_break_framing() {
        let breaking: Vec<ErrorCode> = ErrorCode::ALL
            .into_iter()
            .filter(|code| code.breaks_framing())
            .collect();
        assert_eq!(breaking, [ErrorCode::LineTooLong, ErrorCode::BadChunk]);
    }
}
