//! The wire format: what ftpchat's messages look like as bytes on a TCP connection.
//!
//! # Framing over a byte stream
//!
//! TCP delivers a *stream of bytes*, not a sequence of messages. One `read`
//! may return half a message, or the end of one message and the start of the
//! next. A protocol therefore needs *framing*: a rule that tells the reader
//! where each message ends. ftpchat uses the oldest and most readable rule
//! there is: a message is one **line** of UTF-8 text ending in `\n` (a `\r`
//! just before it is dropped, so `telnet` users are welcome). SMTP, IRC and
//! HTTP headers work the same way.
//!
//! Every line starts with a verb in capitals (`CHAT`, `PRIVATE`, `WHO`, ...)
//! followed by its fields, separated by single spaces; the last field may
//! contain spaces because nothing follows it. Nicknames never contain spaces,
//! so `PRIVATE bob see you at 5` splits without any quoting.
//!
//! # Bounded input
//!
//! A peer can send anything, including a "line" that never ends. [`read_line`]
//! reads at most [`MAX_LINE_LEN`] bytes before it gives up, so a hostile peer
//! cannot make us buffer more than that. Checking the length *after* reading
//! the whole line would be too late: the memory would already be spent.
//!
//! # Two kinds of client
//!
//! The first line a client sends decides what it is. The full client
//! (`ftpclient`) sends `HELLO ftpchat/1 NICK` and then speaks the verbs
//! below. Anything else is taken as the nickname of a *plain* client, a
//! person typing into `nc` or `telnet`: the server then reads their lines as
//! typed chat (see [`crate::input`]) and sends them human-readable text (see
//! [`crate::display`]) instead of protocol lines. A plain client is never sent
//! anything but text. `PROTOCOL.md` is the full specification.

use std::fmt;
use std::io::{self, BufRead, IoSlice, Read, Write};

/// The protocol name and version a full client announces in its `HELLO`.
pub const PROTOCOL_VERSION: &str = "ftpchat/1";

/// The ports the server listens on by default: the three of the original
/// course project, so that each can serve as a separate way in.
pub const DEFAULT_PORTS: [u16; 3] = [5555, 5556, 5557];

/// The address both programs use by default: loopback, so nothing is
/// reachable from the network unless the user asks for it with `--host`.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// Longest line either side accepts, in bytes, counting the final `\n`.
///
/// 4 KiB holds the longest chat message plus its verb and the sender's
/// nickname with plenty of room, and is small enough that reading one line
/// per connection costs little memory even with thousands of clients.
pub const MAX_LINE_LEN: usize = 4096;

/// Longest nickname, in bytes of UTF-8. Long enough for real names, short
/// enough that a line listing users stays readable.
pub const MAX_NICK_LEN: usize = 32;

/// Longest chat message text, in bytes of UTF-8. Comfortably under
/// [`MAX_LINE_LEN`], so a relayed line (`CHAT nick text`) always fits.
pub const MAX_TEXT_LEN: usize = 2048;

/// Largest chunk of file data one `DATA` frame may carry, in bytes.
/// A receiver refuses a larger one before reading it, so a peer cannot make
/// it buffer more than this.
pub const MAX_CHUNK_LEN: usize = 1024 * 1024;

/// The chunk size the client uses unless told otherwise (`--chunk-size`).
///
/// Chosen by measurement (`cargo bench -- chunk-size`; the numbers are in
/// BENCHMARKS.md): relayed throughput rises steeply with the chunk size up
/// to 256 KiB and levels off after it, and 1 KiB chunks, the original
/// program's, are about ten times slower. Small chunks pay a header, a few
/// system calls and a thread wake-up each; larger ones only hold more
/// memory per recipient.
pub const DEFAULT_CHUNK_LEN: usize = 256 * 1024;

/// The reasons the server gives in an `ERROR` line. Each has a short
/// machine-readable code that a client can match on; the human-readable
/// text follows it on the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The nickname breaks the rules of [`check_nick`].
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
    /// A line longer than [`MAX_LINE_LEN`]; the connection is closed.
    LineTooLong,
    /// A line that is not valid UTF-8.
    BadUtf8,
    /// A private message or a file to a nickname nobody uses.
    NoSuchNick,
    /// A `DATA` header that is malformed or announces more than
    /// [`MAX_CHUNK_LEN`] bytes; the connection is closed.
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
}

impl ErrorCode {
    /// Every code, for lookups and tests.
    pub const ALL: [ErrorCode; 18] = [
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

/// Reads one line from `reader` into `buf` and returns it without its
/// line ending.
///
/// Pass the same buffer for every line of a connection: it saves an
/// allocation per message, and it keeps a half-read line safe. If a read
/// times out in the middle of a line (the socket has a read timeout), the
/// bytes read so far stay in `buf`, and the next call carries on from
/// there. A complete line left in `buf` by the previous call is dropped
/// first. The reader must be the one buffered reader that lives as long as
/// the connection: a `BufReader` created per call would throw away bytes it
/// had read ahead.
///
/// Returns `Ok(None)` when the peer closed the connection cleanly *between*
/// lines: that is how a TCP peer says goodbye (end of file).
///
/// # Errors
///
/// - [`io::ErrorKind::UnexpectedEof`] if the connection closed in the middle
///   of a line;
/// - [`io::ErrorKind::InvalidData`] with [`ErrorCode::LineTooLong`] if no
///   line ending came within [`MAX_LINE_LEN`] bytes (the stream is then out
///   of step: we no longer know where the next message starts);
/// - [`io::ErrorKind::InvalidData`] with [`ErrorCode::BadUtf8`] if the line
///   is not UTF-8 (the whole line was consumed, so the next read starts at
///   the next line);
/// - any error of the underlying reader, such as a timeout.
///
/// # Examples
///
/// ```
/// use std::io::BufReader;
/// use ftpchat::protocol::read_line;
///
/// // Two messages that arrived in one TCP segment come out one at a time.
/// let mut reader = BufReader::new(&b"CHAT hi\r\nWHO\n"[..]);
/// let mut buf = Vec::new();
/// assert_eq!(read_line(&mut reader, &mut buf)?, Some("CHAT hi"));
/// assert_eq!(read_line(&mut reader, &mut buf)?, Some("WHO"));
/// assert_eq!(read_line(&mut reader, &mut buf)?, None); // clean end of stream
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_line<'b>(
    reader: &mut impl BufRead,
    buf: &'b mut Vec<u8>,
) -> io::Result<Option<&'b str>> {
    if buf.last() == Some(&b'\n') {
        buf.clear(); // the previous call's line, already handled
    }
    let continuing = !buf.is_empty();
    let room = MAX_LINE_LEN - buf.len();
    // `take` bounds how much `read_until` may buffer: the limit is checked
    // while reading, not after the damage is done. On an error (a timeout)
    // the bytes read so far stay in `buf` for the next call.
    let len_bytes = reader.by_ref().take(room as u64).read_until(b'\n', buf)?;
    if len_bytes == 0 && !continuing {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        if len_bytes < room {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a line",
            ));
        }
        return Err(ProtocolError::new(
            ErrorCode::LineTooLong,
            format!("line longer than {MAX_LINE_LEN} bytes"),
        )
        .into());
    }
    // Drop the `\n` and any `\r` before it: no decoded line ends in a
    // carriage return, so every field survives being encoded again.
    let mut end = buf.len() - 1;
    while end > 0 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    match std::str::from_utf8(&buf[..end]) {
        Ok(line) => Ok(Some(line)),
        Err(_) => Err(ProtocolError::new(ErrorCode::BadUtf8, "line is not valid UTF-8").into()),
    }
}

/// Writes all of `parts`, in order, with as few system calls as the kernel
/// allows: a vectored write (`writev`) hands it several buffers at once,
/// such as a `DATA` header and its chunk, without copying them together.
///
/// A write may be *partial*: the kernel takes only as many bytes as fit in
/// the socket's send buffer and says how many. So we loop, skipping what was
/// written, until everything is sent.
///
/// # Errors
///
/// Any error of the writer; a writer that accepts nothing is `WriteZero`.
///
/// # Examples
///
/// ```
/// use ftpchat::protocol::{ClientMessage, write_all_vectored};
///
/// // A DATA frame: the header line, then the chunk, in one call.
/// let chunk = b"\x00\x01 any bytes \n at all";
/// let header = ClientMessage::Data { id: 1, len: chunk.len() }.to_bytes();
/// let mut socket = Vec::new(); // anything that implements `Write`
/// write_all_vectored(&mut socket, &[&header, chunk])?;
/// assert_eq!(socket, b"DATA 1 21\n\x00\x01 any bytes \n at all");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_all_vectored(writer: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|part| IoSlice::new(part)).collect();
    let mut remaining = &mut slices[..];
    IoSlice::advance_slices(&mut remaining, 0); // skip empty parts
    while !remaining.is_empty() {
        match writer.write_vectored(remaining) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut remaining, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

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
                "nickname contains '{c}'; use letters, digits and {NICK_PUNCTUATION}"
            ),
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
fn split_word(s: &str) -> (&str, &str) {
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
    if text.is_empty() {
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
fn parse_number<T: std::str::FromStr>(
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

/// Decodes the fields of a `DATA` header, `ID LEN`. A fault here is a
/// [`ErrorCode::BadChunk`]: without a trusted length we cannot find the end
/// of the chunk.
fn decode_data_header(rest: &str) -> Result<(u64, usize), ProtocolError> {
    let bad = |detail: String| ProtocolError::new(ErrorCode::BadChunk, detail);
    let (id, len) = split_word(rest);
    let id = parse_number("DATA", "transfer id", id).map_err(|e| bad(e.detail))?;
    let len: usize = parse_number("DATA", "length", len).map_err(|e| bad(e.detail))?;
    if len > MAX_CHUNK_LEN {
        return Err(bad(format!(
            "chunk of {len} bytes; the limit is {MAX_CHUNK_LEN}"
        )));
    }
    Ok((id, len))
}

// The frames that carry a file look the same in both directions: `DATA`,
// `DONE` and `CANCEL` are spelled alike, and `SEND` (to the server) and
// `FILE` (from it) differ only in their verb and who they name. These
// functions decode their fields for both `ClientMessage` and
// `ServerMessage`.

/// Decodes `ID SIZE NICK NAME`, the fields of `SEND` and `FILE`; `who`
/// names the third field in error messages.
fn decode_offer<'a>(
    verb: &str,
    who: &str,
    rest: &'a str,
) -> Result<(u64, u64, &'a str, &'a str), ProtocolError> {
    let (id, rest) = split_word(rest);
    let (size, rest) = split_word(rest);
    let (nick, name) = split_word(rest);
    Ok((
        parse_number(verb, "transfer id", id)?,
        parse_number(verb, "size", size)?,
        check_present(verb, who, nick)?,
        check_name(verb, name)?,
    ))
}

/// Decodes `ID CKSUM`, the fields of `DONE`.
fn decode_done(rest: &str) -> Result<(u64, u32), ProtocolError> {
    let (id, checksum) = split_word(rest);
    Ok((
        parse_number("DONE", "transfer id", id)?,
        parse_number("DONE", "checksum", checksum)?,
    ))
}

/// Decodes `ID REASON`, the fields of `CANCEL`.
fn decode_cancel(rest: &str) -> Result<(u64, &str), ProtocolError> {
    let (id, reason) = split_word(rest);
    Ok((parse_number("CANCEL", "transfer id", id)?, reason))
}

/// How one recipient's copy of a file turned out, as a receiver reports it
/// (`RECEIVED`) and the server passes it on to the sender (`DELIVERED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// `ok`: the file was saved and its checksum matched.
    Ok,
    /// `failed REASON`: it was not saved, for this reason.
    Failed(&'a str),
}

impl<'a> Delivery<'a> {
    fn decode(verb: &str, text: &'a str) -> Result<Delivery<'a>, ProtocolError> {
        match split_word(text) {
            ("ok", "") => Ok(Delivery::Ok),
            ("failed", reason) => Ok(Delivery::Failed(reason)),
            _ => Err(ProtocolError::new(
                ErrorCode::BadMessage,
                format!("{verb} needs 'ok' or 'failed REASON'"),
            )),
        }
    }

    fn fields(&self) -> [&'a str; 2] {
        match self {
            Delivery::Ok => ["ok", ""],
            Delivery::Failed(reason) => ["failed", reason],
        }
    }
}

/// Checks a file name field: present, and at most
/// [`crate::files::MAX_NAME_LEN`] bytes.
fn check_name<'a>(verb: &str, name: &'a str) -> Result<&'a str, ProtocolError> {
    let name = check_present(verb, "file name", name)?;
    if name.len() > crate::files::MAX_NAME_LEN {
        return Err(ProtocolError::new(
            ErrorCode::BadMessage,
            format!(
                "file name is {} bytes; the limit is {}",
                name.len(),
                crate::files::MAX_NAME_LEN
            ),
        ));
    }
    Ok(name)
}

/// Checks that a message whose verb takes no fields has none.
fn check_no_fields(verb: &str, rest: &str) -> Result<(), ProtocolError> {
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
fn check_present<'a>(verb: &str, field: &str, value: &'a str) -> Result<&'a str, ProtocolError> {
    if value.is_empty() {
        Err(ProtocolError::new(
            ErrorCode::BadMessage,
            format!("{verb} needs a {field}"),
        ))
    } else {
        Ok(value)
    }
}

/// A message from a full client to the server, borrowed from the line it was
/// decoded from (decoding copies nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage<'a> {
    /// `HELLO ftpchat/1 NICK`: the handshake; must be the first line.
    Hello {
        /// The protocol version, [`PROTOCOL_VERSION`].
        version: &'a str,
        /// The nickname the client asks for.
        nick: &'a str,
    },
    /// `CHAT TEXT`: a message to everyone.
    Chat {
        /// What the user typed.
        text: &'a str,
    },
    /// `PRIVATE NICK TEXT`: a message to one user.
    Private {
        /// The recipient's nickname.
        to: &'a str,
        /// What the user typed.
        text: &'a str,
    },
    /// `WHO`: asks for the list of connected users.
    Who,
    /// `QUIT`: the client is leaving; the server answers `BYE` and closes.
    Quit,
    /// `PING TOKEN`: asks the other side to prove it is alive.
    Ping {
        /// Any word; the answer repeats it.
        token: &'a str,
    },
    /// `PONG TOKEN`: the answer to a `PING`.
    Pong {
        /// The token of the `PING` being answered.
        token: &'a str,
    },
    /// `SEND ID SIZE TO NAME`: offers a file of SIZE bytes to the user TO,
    /// or to every other full client if TO is `*`. ID is the sender's
    /// number for this transfer, used in its `DATA`, `DONE` and `CANCEL`.
    Send {
        /// The sender's transfer id.
        id: u64,
        /// The file's size in bytes.
        size: u64,
        /// A nickname, or `*` for everyone.
        to: &'a str,
        /// The file's name (without folders); receivers clean it up again.
        name: &'a str,
    },
    /// `DATA ID LEN`, followed by exactly LEN bytes of the file.
    Data {
        /// The transfer the bytes belong to.
        id: u64,
        /// How many bytes follow the header line.
        len: usize,
    },
    /// `DONE ID CKSUM`: all data has been sent; CKSUM is the file's `cksum`.
    Done {
        /// The transfer.
        id: u64,
        /// The `cksum` checksum of the whole file.
        checksum: u32,
    },
    /// `CANCEL ID REASON`: the sender gives up on this transfer.
    Cancel {
        /// The transfer.
        id: u64,
        /// Why, in a few words.
        reason: &'a str,
    },
    /// `RECEIVED ID ok` or `RECEIVED ID failed REASON`: a receiver reports
    /// how the file the server numbered ID turned out.
    Received {
        /// The transfer, as numbered in the server's `FILE`.
        id: u64,
        /// Saved, or why not.
        outcome: Delivery<'a>,
    },
}

impl<'a> ClientMessage<'a> {
    /// Parses one line (without its line ending) sent by a full client.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::UnknownCommand`] for an unknown verb and
    /// [`ErrorCode::BadMessage`] for a known verb with wrong fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::protocol::ClientMessage;
    ///
    /// let message = ClientMessage::decode("PRIVATE bob see you at 5")?;
    /// assert_eq!(message, ClientMessage::Private { to: "bob", text: "see you at 5" });
    /// # Ok::<(), ftpchat::protocol::ProtocolError>(())
    /// ```
    pub fn decode(line: &'a str) -> Result<ClientMessage<'a>, ProtocolError> {
        let (verb, rest) = split_word(line);
        match verb {
            "HELLO" => {
                let (version, nick) = split_word(rest);
                Ok(ClientMessage::Hello {
                    version: check_present(verb, "protocol version", version)?,
                    nick,
                })
            }
            "CHAT" => Ok(ClientMessage::Chat {
                text: check_text(rest)?,
            }),
            "PRIVATE" => {
                let (to, text) = split_word(rest);
                Ok(ClientMessage::Private {
                    to: check_present(verb, "nickname", to)?,
                    text: check_text(text)?,
                })
            }
            "WHO" => check_no_fields(verb, rest).map(|()| ClientMessage::Who),
            "QUIT" => check_no_fields(verb, rest).map(|()| ClientMessage::Quit),
            "PING" => Ok(ClientMessage::Ping {
                token: check_present(verb, "token", rest)?,
            }),
            "PONG" => Ok(ClientMessage::Pong {
                token: check_present(verb, "token", rest)?,
            }),
            "SEND" => {
                let (id, size, to, name) = decode_offer(verb, "recipient", rest)?;
                Ok(ClientMessage::Send { id, size, to, name })
            }
            "DATA" => decode_data_header(rest).map(|(id, len)| ClientMessage::Data { id, len }),
            "DONE" => decode_done(rest).map(|(id, checksum)| ClientMessage::Done { id, checksum }),
            "CANCEL" => {
                decode_cancel(rest).map(|(id, reason)| ClientMessage::Cancel { id, reason })
            }
            "RECEIVED" => {
                let (id, outcome) = split_word(rest);
                Ok(ClientMessage::Received {
                    id: parse_number(verb, "transfer id", id)?,
                    outcome: Delivery::decode(verb, outcome)?,
                })
            }
            _ => Err(unknown_command(verb)),
        }
    }

    /// Appends this message as one line, with its `\n`, to `out`. For
    /// `DATA` that is the header line only: the caller sends the bytes.
    ///
    /// Fields must not contain `\n`: they come from lines, which cannot.
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::protocol::ClientMessage;
    ///
    /// let mut out = Vec::new();
    /// ClientMessage::Chat { text: "hello, world" }.encode(&mut out);
    /// assert_eq!(out, b"CHAT hello, world\n");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ClientMessage::Hello { version, nick } => push_line(out, &["HELLO", version, nick]),
            ClientMessage::Chat { text } => push_line(out, &["CHAT", text]),
            ClientMessage::Private { to, text } => push_line(out, &["PRIVATE", to, text]),
            ClientMessage::Who => push_line(out, &["WHO"]),
            ClientMessage::Quit => push_line(out, &["QUIT"]),
            ClientMessage::Ping { token } => push_line(out, &["PING", token]),
            ClientMessage::Pong { token } => push_line(out, &["PONG", token]),
            ClientMessage::Send { id, size, to, name } => {
                push_line(out, &["SEND", &id.to_string(), &size.to_string(), to, name]);
            }
            ClientMessage::Data { id, len } => {
                push_line(out, &["DATA", &id.to_string(), &len.to_string()])
            }
            ClientMessage::Done { id, checksum } => {
                push_line(out, &["DONE", &id.to_string(), &checksum.to_string()]);
            }
            ClientMessage::Cancel { id, reason } => {
                push_line(out, &["CANCEL", &id.to_string(), reason])
            }
            ClientMessage::Received { id, outcome } => {
                let [word, reason] = outcome.fields();
                push_line(out, &["RECEIVED", &id.to_string(), word, reason]);
            }
        }
    }

    /// This message as a line of bytes, ready to write.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A message from the server to a full client, borrowed from the line it
/// was decoded from, or from the values it was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerMessage<'a> {
    /// `WELCOME NICK`: the handshake succeeded; this is your nickname.
    Welcome {
        /// The nickname, as registered.
        nick: &'a str,
    },
    /// `CHAT FROM TEXT`: someone said something to everyone.
    Chat {
        /// The sender's nickname, stamped by the server.
        from: &'a str,
        /// What they said.
        text: &'a str,
    },
    /// `PRIVATE FROM TEXT`: someone said something to you alone.
    Private {
        /// The sender's nickname, stamped by the server.
        from: &'a str,
        /// What they said.
        text: &'a str,
    },
    /// `JOINED NICK`: a user joined.
    Joined {
        /// Who joined.
        nick: &'a str,
    },
    /// `LEFT NICK REASON`: a user left.
    Left {
        /// Who left.
        nick: &'a str,
        /// Why, in a few words (`quit`, `connection lost`, ...).
        reason: &'a str,
    },
    /// `USERS TOTAL NICK...`: connected users. A long list is split over
    /// several lines that each repeat the total, so every line stays under
    /// [`MAX_LINE_LEN`].
    Users {
        /// How many users are connected in all.
        total: usize,
        /// Some of their nicknames, separated by single spaces.
        nicks: &'a str,
    },
    /// `NOTICE TEXT`: information from the server itself.
    Notice {
        /// The information.
        text: &'a str,
    },
    /// `ERROR CODE TEXT`: the last request failed, or the connection is
    /// about to be closed.
    Error {
        /// The wire spelling of an [`ErrorCode`] (kept as text, so that a
        /// client can show codes newer than itself).
        code: &'a str,
        /// What went wrong, for a person.
        text: &'a str,
    },
    /// `BYE REASON`: the server is closing this connection.
    Bye {
        /// Why.
        reason: &'a str,
    },
    /// `PING TOKEN`: the server asks the client to prove it is alive.
    Ping {
        /// Any word; the answer repeats it.
        token: &'a str,
    },
    /// `PONG TOKEN`: the answer to a client's `PING`.
    Pong {
        /// The token of the `PING` being answered.
        token: &'a str,
    },
    /// `ACCEPTED ID COUNT`: the server will relay the sender's transfer ID
    /// to COUNT recipients; send the data.
    Accepted {
        /// The sender's transfer id.
        id: u64,
        /// How many recipients will get the file.
        recipients: usize,
    },
    /// `REFUSED ID CODE TEXT`: the server will not relay transfer ID.
    Refused {
        /// The sender's transfer id.
        id: u64,
        /// The wire spelling of an [`ErrorCode`].
        code: &'a str,
        /// Why, for a person.
        text: &'a str,
    },
    /// `DELIVERED ID NICK ok` or `DELIVERED ID NICK failed REASON`: how
    /// the sender's transfer ID turned out for one recipient.
    Delivered {
        /// The sender's transfer id.
        id: u64,
        /// The recipient.
        nick: &'a str,
        /// Saved, or why not.
        outcome: Delivery<'a>,
    },
    /// `FILE ID SIZE FROM NAME`: a file of SIZE bytes from FROM is coming;
    /// its `DATA`, `DONE` or `CANCEL` frames carry the server's number ID.
    File {
        /// The server's number for this transfer.
        id: u64,
        /// The file's size in bytes.
        size: u64,
        /// The sender's nickname.
        from: &'a str,
        /// The name the sender gave (never trusted: see [`crate::files`]).
        name: &'a str,
    },
    /// `DATA ID LEN`, followed by exactly LEN bytes of the file.
    Data {
        /// The transfer the bytes belong to.
        id: u64,
        /// How many bytes follow the header line.
        len: usize,
    },
    /// `DONE ID CKSUM`: the file is complete; CKSUM is the sender's `cksum`.
    Done {
        /// The transfer.
        id: u64,
        /// The `cksum` checksum the sender computed.
        checksum: u32,
    },
    /// `CANCEL ID REASON`: the transfer stopped; discard what arrived.
    Cancel {
        /// The transfer.
        id: u64,
        /// Why, in a few words.
        reason: &'a str,
    },
}

impl<'a> ServerMessage<'a> {
    /// Parses one line (without its line ending) sent by the server.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::UnknownCommand`] for an unknown verb and
    /// [`ErrorCode::BadMessage`] for a known verb with wrong fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::protocol::ServerMessage;
    ///
    /// // The sender's nickname is one word; the text is the rest.
    /// let message = ServerMessage::decode("CHAT alice see you at 5")?;
    /// assert_eq!(message, ServerMessage::Chat { from: "alice", text: "see you at 5" });
    /// let header = ServerMessage::decode("DATA 3 262144")?;
    /// assert_eq!(header, ServerMessage::Data { id: 3, len: 262144 });
    /// # Ok::<(), ftpchat::protocol::ProtocolError>(())
    /// ```
    pub fn decode(line: &'a str) -> Result<ServerMessage<'a>, ProtocolError> {
        let (verb, rest) = split_word(line);
        match verb {
            "WELCOME" => Ok(ServerMessage::Welcome {
                nick: check_present(verb, "nickname", rest)?,
            }),
            "CHAT" | "PRIVATE" => {
                let (from, text) = split_word(rest);
                let from = check_present(verb, "nickname", from)?;
                if verb == "CHAT" {
                    Ok(ServerMessage::Chat { from, text })
                } else {
                    Ok(ServerMessage::Private { from, text })
                }
            }
            "JOINED" => Ok(ServerMessage::Joined {
                nick: check_present(verb, "nickname", rest)?,
            }),
            "LEFT" => {
                let (nick, reason) = split_word(rest);
                Ok(ServerMessage::Left {
                    nick: check_present(verb, "nickname", nick)?,
                    reason,
                })
            }
            "USERS" => {
                let (total, nicks) = split_word(rest);
                let total = total.parse().map_err(|_| {
                    ProtocolError::new(ErrorCode::BadMessage, "USERS needs a count of users")
                })?;
                Ok(ServerMessage::Users { total, nicks })
            }
            "NOTICE" => Ok(ServerMessage::Notice { text: rest }),
            "ERROR" => {
                let (code, text) = split_word(rest);
                Ok(ServerMessage::Error {
                    code: check_present(verb, "error code", code)?,
                    text,
                })
            }
            "BYE" => Ok(ServerMessage::Bye { reason: rest }),
            "PING" => Ok(ServerMessage::Ping {
                token: check_present(verb, "token", rest)?,
            }),
            "PONG" => Ok(ServerMessage::Pong {
                token: check_present(verb, "token", rest)?,
            }),
            "ACCEPTED" => {
                let (id, recipients) = split_word(rest);
                Ok(ServerMessage::Accepted {
                    id: parse_number(verb, "transfer id", id)?,
                    recipients: parse_number(verb, "count", recipients)?,
                })
            }
            "REFUSED" => {
                let (id, rest) = split_word(rest);
                let (code, text) = split_word(rest);
                Ok(ServerMessage::Refused {
                    id: parse_number(verb, "transfer id", id)?,
                    code: check_present(verb, "error code", code)?,
                    text,
                })
            }
            "DELIVERED" => {
                let (id, rest) = split_word(rest);
                let (nick, outcome) = split_word(rest);
                Ok(ServerMessage::Delivered {
                    id: parse_number(verb, "transfer id", id)?,
                    nick: check_present(verb, "nickname", nick)?,
                    outcome: Delivery::decode(verb, outcome)?,
                })
            }
            "FILE" => {
                let (id, size, from, name) = decode_offer(verb, "nickname", rest)?;
                Ok(ServerMessage::File {
                    id,
                    size,
                    from,
                    name,
                })
            }
            "DATA" => decode_data_header(rest).map(|(id, len)| ServerMessage::Data { id, len }),
            "DONE" => decode_done(rest).map(|(id, checksum)| ServerMessage::Done { id, checksum }),
            "CANCEL" => {
                decode_cancel(rest).map(|(id, reason)| ServerMessage::Cancel { id, reason })
            }
            _ => Err(unknown_command(verb)),
        }
    }

    /// Appends this message as one line, with its `\n`, to `out`.
    ///
    /// Fields must not contain `\n`: they come from lines, which cannot.
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::protocol::ServerMessage;
    ///
    /// let mut out = Vec::new();
    /// ServerMessage::Chat { from: "alice", text: "hi all" }.encode(&mut out);
    /// assert_eq!(out, b"CHAT alice hi all\n");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ServerMessage::Welcome { nick } => push_line(out, &["WELCOME", nick]),
            ServerMessage::Chat { from, text } => push_line(out, &["CHAT", from, text]),
            ServerMessage::Private { from, text } => push_line(out, &["PRIVATE", from, text]),
            ServerMessage::Joined { nick } => push_line(out, &["JOINED", nick]),
            ServerMessage::Left { nick, reason } => push_line(out, &["LEFT", nick, reason]),
            ServerMessage::Users { total, nicks } => {
                push_line(out, &["USERS", &total.to_string(), nicks]);
            }
            ServerMessage::Notice { text } => push_line(out, &["NOTICE", text]),
            ServerMessage::Error { code, text } => push_line(out, &["ERROR", code, text]),
            ServerMessage::Bye { reason } => push_line(out, &["BYE", reason]),
            ServerMessage::Ping { token } => push_line(out, &["PING", token]),
            ServerMessage::Pong { token } => push_line(out, &["PONG", token]),
            ServerMessage::Accepted { id, recipients } => {
                push_line(out, &["ACCEPTED", &id.to_string(), &recipients.to_string()]);
            }
            ServerMessage::Refused { id, code, text } => {
                push_line(out, &["REFUSED", &id.to_string(), code, text]);
            }
            ServerMessage::Delivered { id, nick, outcome } => {
                let [word, reason] = outcome.fields();
                push_line(out, &["DELIVERED", &id.to_string(), nick, word, reason]);
            }
            ServerMessage::File {
                id,
                size,
                from,
                name,
            } => {
                push_line(
                    out,
                    &["FILE", &id.to_string(), &size.to_string(), from, name],
                );
            }
            ServerMessage::Data { id, len } => {
                push_line(out, &["DATA", &id.to_string(), &len.to_string()])
            }
            ServerMessage::Done { id, checksum } => {
                push_line(out, &["DONE", &id.to_string(), &checksum.to_string()]);
            }
            ServerMessage::Cancel { id, reason } => {
                push_line(out, &["CANCEL", &id.to_string(), reason])
            }
        }
    }

    /// This message as a line of bytes, ready to write.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn unknown_command(verb: &str) -> ProtocolError {
    let shown: String = crate::display::make_visible(verb)
        .chars()
        .take(40)
        .collect();
    ProtocolError::new(
        ErrorCode::UnknownCommand,
        format!("unknown command '{shown}'"),
    )
}

/// Appends `fields` to `out`, separated by single spaces, then `\n`.
/// Trailing empty fields are left out, so `BYE` with no reason is `BYE\n`.
fn push_line(out: &mut Vec<u8>, fields: &[&str]) {
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

/// Splits a list of nicknames into `USERS` lines that each fit in
/// [`MAX_LINE_LEN`], and appends them to `out`. An empty list still gives
/// one line, so the client always gets an answer to `WHO`.
///
/// # Examples
///
/// ```
/// use ftpchat::protocol::encode_users;
///
/// let mut out = Vec::new();
/// encode_users(["alice", "bob"].into_iter(), &mut out);
/// assert_eq!(out, b"USERS 2 alice bob\n");
/// ```
pub fn encode_users<'n>(nicks: impl ExactSizeIterator<Item = &'n str>, out: &mut Vec<u8>) {
    let total = nicks.len();
    // Room for "USERS <total> " and the "\n", with the longest count.
    let room = MAX_LINE_LEN - "USERS  \n".len() - total.to_string().len();
    let mut list = String::new();
    for nick in nicks {
        if !list.is_empty() && list.len() + 1 + nick.len() > room {
            ServerMessage::Users {
                total,
                nicks: &list,
            }
            .encode(out);
            list.clear();
        }
        if !list.is_empty() {
            list.push(' ');
        }
        list.push_str(nick);
    }
    ServerMessage::Users {
        total,
        nicks: &list,
    }
    .encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    /// A reader that hands out its bytes one per `read` call, the worst
    /// case TCP can produce.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    fn lines_of(reader: &mut impl BufRead) -> io::Result<Vec<String>> {
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while let Some(line) = read_line(reader, &mut buf)? {
            lines.push(line.to_string());
        }
        Ok(lines)
    }

    fn code_of(error: &io::Error) -> Option<ErrorCode> {
        ProtocolError::find(error).map(|e| e.code)
    }

    #[test]
    fn line_split_across_reads_is_reassembled() {
        let mut reader = BufReader::new(Trickle(b"CHAT one\nCHAT two\r\n"));
        assert_eq!(lines_of(&mut reader).unwrap(), ["CHAT one", "CHAT two"]);
    }

    #[test]
    fn two_lines_in_one_buffer_come_out_separately() {
        let mut reader = BufReader::new(&b"WHO\nQUIT\n"[..]);
        assert_eq!(lines_of(&mut reader).unwrap(), ["WHO", "QUIT"]);
    }

    #[test]
    fn eof_between_lines_is_a_clean_close() {
        let mut reader = BufReader::new(&b""[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), None);
    }

    #[test]
    fn eof_inside_a_line_is_an_error() {
        let mut reader = BufReader::new(&b"CHAT half a mess"[..]);
        let mut buf = Vec::new();
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// A reader that gives out its pieces one per `read`, and a timeout
    /// error between pieces, as a socket with a read timeout does when the
    /// peer pauses.
    struct Pausing(Vec<&'static [u8]>);

    impl Read for Pausing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.first_mut() {
                None => Ok(0),
                Some([]) => {
                    self.0.remove(0);
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Some(piece) => {
                    let n = piece.len().min(buf.len());
                    buf[..n].copy_from_slice(&piece[..n]);
                    *piece = &piece[n..];
                    if piece.is_empty() {
                        self.0.remove(0); // used up; an empty piece is a pause
                    }
                    Ok(n)
                }
            }
        }
    }

    #[test]
    fn a_timeout_in_mid_line_loses_nothing() {
        let mut reader = BufReader::new(Pausing(vec![b"CHAT hel", b"", b"lo\nWHO", b"", b"\n"]));
        let mut buf = Vec::new();
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(
            read_line(&mut reader, &mut buf).unwrap(),
            Some("CHAT hello")
        );
        assert!(read_line(&mut reader, &mut buf).is_err());
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), Some("WHO"));
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), None);
    }

    #[test]
    fn a_continued_line_is_still_bounded() {
        let mut first = vec![b'x'; MAX_LINE_LEN - 10];
        first.push(b'y');
        let first: &'static [u8] = Box::leak(first.into_boxed_slice());
        let mut reader = BufReader::new(Pausing(vec![first, b"", &[b'z'; 100]]));
        let mut buf = Vec::new();
        assert!(read_line(&mut reader, &mut buf).is_err());
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(code_of(&error), Some(ErrorCode::LineTooLong));
        assert_eq!(buf.len(), MAX_LINE_LEN);
    }

    #[test]
    fn longest_allowed_line_is_accepted() {
        let mut input = vec![b'x'; MAX_LINE_LEN - 1];
        input.push(b'\n');
        let mut reader = BufReader::new(&input[..]);
        let mut buf = Vec::new();
        let line = read_line(&mut reader, &mut buf).unwrap().unwrap();
        assert_eq!(line.len(), MAX_LINE_LEN - 1);
    }

    #[test]
    fn over_long_line_is_refused_without_buffering_it() {
        // Ten times the limit, with no line ending in sight.
        let input = vec![b'x'; MAX_LINE_LEN * 10];
        let mut reader = BufReader::new(&input[..]);
        let mut buf = Vec::new();
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(code_of(&error), Some(ErrorCode::LineTooLong));
        assert!(buf.len() <= MAX_LINE_LEN, "buffered {} bytes", buf.len());
    }

    #[test]
    fn invalid_utf8_is_refused_and_the_next_line_still_reads() {
        let mut reader = BufReader::new(&b"CHAT \xff\xfe\nWHO\n"[..]);
        let mut buf = Vec::new();
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(code_of(&error), Some(ErrorCode::BadUtf8));
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), Some("WHO"));
    }

    #[test]
    fn carriage_returns_before_the_line_feed_are_dropped() {
        let mut reader = BufReader::new(&b"CHAT a\r\r\nCHAT b\rc\n"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), Some("CHAT a"));
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), Some("CHAT b\rc"));
    }

    /// A writer that takes at most 3 bytes per call, as a full socket
    /// buffer might.
    struct Stingy(Vec<u8>);

    impl Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_writes_are_continued() {
        let mut out = Stingy(Vec::new());
        write_all_vectored(&mut out, &[b"DATA 1 5\n", b"", b"hello"]).unwrap();
        assert_eq!(out.0, b"DATA 1 5\nhello");
    }

    #[test]
    fn client_messages_survive_a_round_trip() {
        let messages = [
            ClientMessage::Hello {
                version: PROTOCOL_VERSION,
                nick: "alice",
            },
            ClientMessage::Chat {
                text: "hello  there ",
            },
            ClientMessage::Private {
                to: "bob",
                text: "psst",
            },
            ClientMessage::Who,
            ClientMessage::Quit,
            ClientMessage::Ping { token: "42" },
            ClientMessage::Pong { token: "42" },
            ClientMessage::Send {
                id: 1,
                size: u64::MAX,
                to: "*",
                name: "my notes.txt",
            },
            ClientMessage::Data {
                id: 1,
                len: MAX_CHUNK_LEN,
            },
            ClientMessage::Done {
                id: 1,
                checksum: u32::MAX,
            },
            ClientMessage::Cancel {
                id: 1,
                reason: "file unreadable",
            },
            ClientMessage::Received {
                id: 9,
                outcome: Delivery::Ok,
            },
            ClientMessage::Received {
                id: 9,
                outcome: Delivery::Failed("disk full"),
            },
        ];
        for message in messages {
            let bytes = message.to_bytes();
            let line = std::str::from_utf8(&bytes)
                .unwrap()
                .strip_suffix('\n')
                .unwrap();
            assert_eq!(ClientMessage::decode(line).unwrap(), message, "{line:?}");
        }
    }

    #[test]
    fn server_messages_survive_a_round_trip() {
        let messages = [
            ServerMessage::Welcome { nick: "alice" },
            ServerMessage::Chat {
                from: "alice",
                text: "hi  all",
            },
            ServerMessage::Private {
                from: "bob",
                text: "psst",
            },
            ServerMessage::Joined { nick: "carol" },
            ServerMessage::Left {
                nick: "carol",
                reason: "connection lost",
            },
            ServerMessage::Users {
                total: 2,
                nicks: "alice bob",
            },
            ServerMessage::Notice {
                text: "server shutting down",
            },
            ServerMessage::Error {
                code: "nick-taken",
                text: "nickname bob is taken",
            },
            ServerMessage::Bye { reason: "goodbye" },
            ServerMessage::Ping { token: "7" },
            ServerMessage::Pong { token: "7" },
            ServerMessage::Accepted {
                id: 3,
                recipients: 2,
            },
            ServerMessage::Refused {
                id: 3,
                code: "no-recipients",
                text: "nobody else is online",
            },
            ServerMessage::Delivered {
                id: 3,
                nick: "bob",
                outcome: Delivery::Failed("checksum mismatch"),
            },
            ServerMessage::File {
                id: 17,
                size: 0,
                from: "alice",
                name: "a b.txt",
            },
            ServerMessage::Data { id: 17, len: 1 },
            ServerMessage::Done {
                id: 17,
                checksum: 0,
            },
            ServerMessage::Cancel {
                id: 17,
                reason: "sender left",
            },
        ];
        for message in messages {
            let bytes = message.to_bytes();
            let line = std::str::from_utf8(&bytes)
                .unwrap()
                .strip_suffix('\n')
                .unwrap();
            assert_eq!(ServerMessage::decode(line).unwrap(), message, "{line:?}");
        }
    }

    #[test]
    fn exact_bytes_of_each_client_message() {
        let hello = ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            nick: "alice",
        };
        assert_eq!(hello.to_bytes(), b"HELLO ftpchat/1 alice\n");
        let private = ClientMessage::Private {
            to: "bob",
            text: "hi",
        };
        assert_eq!(private.to_bytes(), b"PRIVATE bob hi\n");
        assert_eq!(ClientMessage::Who.to_bytes(), b"WHO\n");
        assert_eq!(ServerMessage::Bye { reason: "" }.to_bytes(), b"BYE\n");
    }

    #[test]
    fn malformed_client_lines_get_the_right_code() {
        let cases = [
            ("", ErrorCode::UnknownCommand),
            ("chat hi", ErrorCode::UnknownCommand),
            ("FLY away", ErrorCode::UnknownCommand),
            ("CHAT", ErrorCode::BadMessage),
            ("CHAT ", ErrorCode::BadMessage),
            ("PRIVATE", ErrorCode::BadMessage),
            ("PRIVATE bob", ErrorCode::BadMessage),
            ("PRIVATE  hi", ErrorCode::BadMessage),
            ("WHO everyone", ErrorCode::BadMessage),
            ("QUIT now", ErrorCode::BadMessage),
            ("HELLO", ErrorCode::BadMessage),
            ("PING", ErrorCode::BadMessage),
        ];
        for (line, code) in cases {
            let error = ClientMessage::decode(line).unwrap_err();
            assert_eq!(error.code, code, "{line:?}");
        }
    }

    #[test]
    fn exact_bytes_of_file_frames() {
        let send = ClientMessage::Send {
            id: 1,
            size: 1027,
            to: "*",
            name: "my notes.txt",
        };
        assert_eq!(send.to_bytes(), b"SEND 1 1027 * my notes.txt\n");
        assert_eq!(
            ClientMessage::Data { id: 1, len: 1024 }.to_bytes(),
            b"DATA 1 1024\n"
        );
        let received = ClientMessage::Received {
            id: 4,
            outcome: Delivery::Failed("disk full"),
        };
        assert_eq!(received.to_bytes(), b"RECEIVED 4 failed disk full\n");
    }

    #[test]
    fn bad_data_headers_break_framing() {
        let too_big = format!("DATA 1 {}", MAX_CHUNK_LEN + 1);
        for line in [
            "DATA",
            "DATA 1",
            "DATA x 5",
            "DATA 1 -5",
            "DATA 1 +5",
            too_big.as_str(),
            "DATA 1 99999999999999999999999",
        ] {
            let error = ClientMessage::decode(line).unwrap_err();
            assert_eq!(error.code, ErrorCode::BadChunk, "{line:?}");
            assert!(error.code.breaks_framing());
            assert_eq!(
                ServerMessage::decode(line).unwrap_err().code,
                ErrorCode::BadChunk
            );
        }
    }

    #[test]
    fn numbers_that_overflow_are_refused() {
        for line in [
            "SEND 18446744073709551616 1 * x",
            "SEND 1 18446744073709551616 * x",
            "DONE 1 4294967296",
            "SEND 1 1 *",
            "SEND 1 1",
            "RECEIVED 1 maybe",
            "RECEIVED 1",
        ] {
            let error = ClientMessage::decode(line).unwrap_err();
            assert_eq!(error.code, ErrorCode::BadMessage, "{line:?}");
            assert!(!error.code.breaks_framing());
        }
        let long_name = format!("SEND 1 1 * {}", "n".repeat(256));
        assert_eq!(
            ClientMessage::decode(&long_name).unwrap_err().code,
            ErrorCode::BadMessage
        );
    }

    #[test]
    fn chat_text_over_the_limit_is_refused() {
        let text = "x".repeat(MAX_TEXT_LEN + 1);
        let line = format!("CHAT {text}");
        assert_eq!(
            ClientMessage::decode(&line).unwrap_err().code,
            ErrorCode::BadMessage
        );
        let line = format!("CHAT {}", &text[1..]);
        assert!(ClientMessage::decode(&line).is_ok());
    }

    #[test]
    fn relayed_line_with_longest_nick_and_text_fits_in_a_line() {
        let nick = "n".repeat(MAX_NICK_LEN);
        let text = "t".repeat(MAX_TEXT_LEN);
        let bytes = ServerMessage::Private {
            from: &nick,
            text: &text,
        }
        .to_bytes();
        assert!(bytes.len() <= MAX_LINE_LEN);
    }

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
    }

    #[test]
    fn nick_comparison_ignores_case() {
        assert_eq!(nick_key("Alice"), nick_key("aLICE"));
        assert_ne!(nick_key("alice"), nick_key("alice2"));
    }

    #[test]
    fn error_codes_parse_back() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("no-such-code"), None);
    }

    #[test]
    fn long_user_lists_are_split_into_lines_that_fit() {
        let nicks: Vec<String> = (0..2000).map(|i| format!("user{i:05}")).collect();
        let mut out = Vec::new();
        encode_users(nicks.iter().map(String::as_str), &mut out);
        let text = String::from_utf8(out).unwrap();
        let mut seen = Vec::new();
        for line in text.lines() {
            assert!(line.len() < MAX_LINE_LEN);
            match ServerMessage::decode(line).unwrap() {
                ServerMessage::Users { total, nicks } => {
                    assert_eq!(total, 2000);
                    seen.extend(nicks.split(' ').map(str::to_string));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(text.lines().count() > 1);
        assert_eq!(seen, nicks);
    }

    #[test]
    fn empty_user_list_is_one_line() {
        let mut out = Vec::new();
        encode_users(std::iter::empty(), &mut out);
        assert_eq!(out, b"USERS 0\n");
    }
}
