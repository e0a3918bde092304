//! # ftpchat: a chat server and client with file transfer, on `std` alone
//!
//! This library holds everything the two programs must agree on. The
//! server (`src/bin/ftpserver.rs`) and the client (`src/bin/ftpclient.rs`)
//! both use it, so a message is written and read by the same code.
//!
//! ## Map of the library
//!
//! | module | what it holds | the networking idea |
//! |---|---|---|
//! | [`protocol`] | message types, encode/decode, limits, ports | framing a byte stream into lines and chunks; bounding input |
//! | [`checksum`] | the `cksum` CRC | end-to-end integrity |
//! | [`files`] | safe names, temporary files, publishing | never trust a name; all-or-nothing saving |
//! | [`input`] | what a typed line means (`/msg`, `/who`, ...) | one parser for both kinds of client |
//! | [`display`] | the text a person sees for each message | never print a peer's bytes raw |
//! | [`trace`] | the lines `--trace` prints | watching a protocol on the wire |
//! | [`keepalive`] | `PING` after silence, give up after more | noticing a peer that vanished (half-open connections) |
//! | [`cli`] | command-line options | (plain Rust) |
//! | [`clock`] | timestamps for log lines | (plain Rust) |
//!
//! ## Vocabulary
//!
//! - **line**: one control message, UTF-8 text ending in `\n`.
//! - **chunk**: a piece of a file, sent as raw bytes right after a `DATA`
//!   line that gives its length.
//! - **frame**: one unit on the wire: a line, or a `DATA` line with its
//!   chunk.
//! - **peer**: the program at the other end of a TCP connection.
//! - **EOF**: end of file; on a socket, the peer closed its side cleanly.
//!   A read that returns 0 bytes means EOF.
//! - **full client**: `ftpclient`, which speaks the protocol of
//!   [`protocol`]; **plain client**: a person typing into `nc` or `telnet`.
//!
//! ## The journey of one chat line
//!
//! 1. Alice types `hello`. `ftpclient` reads it, [`input::parse_input`]
//!    says it is [`input::Input::Chat`], and the client writes
//!    [`protocol::ClientMessage::Chat`] as the bytes `CHAT hello\n`.
//! 2. The server's thread for Alice's connection reads the line with
//!    [`protocol::read_line`], decodes it with
//!    [`protocol::ClientMessage::decode`], and stamps it with her nickname
//!    as [`protocol::ServerMessage::Chat`]: `CHAT alice hello\n`.
//! 3. The server puts those bytes in the outgoing queue of every other
//!    client; each client's writer thread sends them.
//! 4. Bob's client reads the line, decodes it with
//!    [`protocol::ServerMessage::decode`], and prints
//!    [`display::describe`]'s text: `<alice> hello`. A plain client gets
//!    that same text from the server instead of the protocol line.
//!
//! ## The journey of one file
//!
//! 1. Alice types `transfer report.pdf`. The client starts a thread that
//!    sends [`protocol::ClientMessage::Send`] and waits for the server's
//!    [`protocol::ServerMessage::Accepted`].
//! 2. The thread reads the file one chunk at a time, feeds each chunk to a
//!    [`checksum::Cksum`], and writes it as a `DATA` frame (a
//!    [`protocol::ClientMessage::Data`] header, then the bytes) with
//!    [`protocol::write_all_vectored`]. Last comes `DONE` with the checksum.
//! 3. The server reads each chunk once and queues the same bytes, behind a
//!    [`protocol::ServerMessage::Data`] header, for every recipient. Full
//!    queues make it wait, which slows the sender: backpressure.
//! 4. Bob's client writes the chunks to a file from
//!    [`files::create_temp_file`], checks the checksum at `DONE`, and names
//!    the file with [`files::publish`] under [`files::safe_file_name`]. It
//!    answers `RECEIVED`, which the server passes to Alice as `DELIVERED`.
//!
//! `PROTOCOL.md` in the repository is the full specification of the wire
//! format.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checksum;
pub mod cli;
pub mod clock;
pub mod display;
pub mod files;
pub mod input;
pub mod keepalive;
pub mod protocol;
pub mod trace;
