//! The wire format: what ftpchat's messages look like as bytes on a TCP
//! connection.
//!
//! Each file of this module holds one section of `PROTOCOL.md`:
//!
//! | file | what it holds | `PROTOCOL.md` |
//! |---|---|---|
//! | [`framing`] | bytes into lines and chunks ([`FrameReader`]), and the limits that bound them | 1, 4.1, 6 |
//! | [`flow`] | how much file data may be in flight, on each hop | 4.3 |
//! | [`errors`] | the error codes ([`ErrorCode`]) and [`ProtocolError`] | 6 |
//! | [`fields`] | the grammar of fields both directions share; nicknames | 1, 2.2 |
//! | [`client`] | what a full client sends ([`ClientMessage`]) | 3.1, 4.1 |
//! | [`server`] | what the server sends ([`ServerMessage`]) | 3.2, 4.1 |
//!
//! Everything is re-exported here, so `ftpchat::protocol::ClientMessage`
//! works without naming the file.
//!
//! # Lines and verbs
//!
//! Every message is one **line** of UTF-8 text ending in `\n`, starting
//! with a verb in capitals (`CHAT`, `PRIVATE`, `WHO`, ...) followed by its
//! fields, separated by single spaces; the last field may contain spaces
//! because nothing follows it. Nicknames never contain spaces, so
//! `PRIVATE bob see you at 5` splits without any quoting. SMTP, IRC and
//! HTTP headers work the same way. A file travels as `DATA` lines, each
//! followed by a **chunk** of raw bytes (see [`framing`]).
//!
//! # Two kinds of client
//!
//! The first line a client sends decides what it is. The full client
//! (`ftpclient`) sends `HELLO ftpchat/1 NICK` and then speaks the verbs
//! of [`ClientMessage`]. Anything else is taken as the nickname of a
//! *plain* client, a person typing into `nc` or `telnet`: the server then
//! reads their lines as typed chat (see [`crate::input`]) and sends them
//! human-readable text (see [`crate::display`]) instead of protocol lines.
//! A plain client is never sent anything but text.

pub mod client;
pub mod errors;
pub mod fields;
pub mod flow;
pub mod framing;
pub mod server;

pub use client::ClientMessage;
pub use errors::{ErrorCode, ProtocolError};
pub use fields::{
    Delivery, MAX_NAME_LEN, MAX_NICK_LEN, MAX_TEXT_LEN, NICK_PUNCTUATION, NickError, check_nick,
    check_text, nick_key,
};
pub use framing::{
    Chunk, Frame, FrameReader, MAX_CHUNK_LEN, MAX_LINE_LEN, read_line, write_all_vectored,
};
pub use server::{Said, ServerMessage, encode_users};

/// The protocol name and version a full client announces in its `HELLO`.
pub const PROTOCOL_VERSION: &str = "ftpchat/1";
