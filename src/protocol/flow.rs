//! Flow control: how much file data may be on its way at once, on each
//! hop.
//!
//! # Why TCP's own flow control is not enough
//!
//! TCP already stops a sender whose receiver does not read: the socket's
//! buffers fill, and writes block. But a buffer holds megabytes, and it
//! holds them in order: a chat line written after a file's chunks waits
//! behind every byte of them. On a slow link that is seconds. And a
//! server that waits for one slow recipient before it reads the sender's
//! next chunk stops reading that sender altogether: its chat, its
//! `CANCEL`, everything behind the chunk waits too (head-of-line
//! blocking).
//!
//! So ftpchat limits file data in flight itself, on each hop, as HTTP/2
//! and QUIC do with their flow-control windows:
//!
//! - **Sender to server.** A sender may have at most [`SEND_WINDOW_BYTES`]
//!   of a transfer's data that the server has not yet handed to all its
//!   recipients' sockets. It starts with that much credit when the
//!   transfer starts; the server gives more back with `MORE ID BYTES` as
//!   the recipients take the data. Since the sender never sends more than
//!   the server can take at once, the server never has to stop reading it,
//!   and a chat line from a sender is read right away.
//! - **Server to recipient.** A recipient acknowledges the file data it
//!   has read, with `GOT BYTES` (every [`ACK_EVERY_BYTES`]). Once it has
//!   done so, the server hands its socket at most [`RECEIVE_WINDOW_BYTES`]
//!   of data it has not acknowledged, so a chat line to it waits behind no
//!   more than that. (A client that never sends `GOT` is sent data as fast
//!   as its socket takes it.)
//!
//! The windows are sized so that a transfer on loopback or a LAN still
//! runs at full speed: the data in flight covers the time an
//! acknowledgement takes to come back.

/// Most bytes of one transfer's data a sender may have sent that the
/// server has not yet passed on (its credit when a transfer starts).
pub const SEND_WINDOW_BYTES: u64 = 2 * 1024 * 1024;

/// Most bytes of file data the server hands a recipient's socket beyond
/// what the recipient has acknowledged (once it acknowledges at all).
pub const RECEIVE_WINDOW_BYTES: u64 = 2 * 1024 * 1024;

/// How often a recipient acknowledges: after this many bytes of file
/// data read since its last `GOT`. A quarter of the window, so an
/// acknowledgement is always on its way before the window closes.
pub const ACK_EVERY_BYTES: u64 = RECEIVE_WINDOW_BYTES / 4;

/// The server gives a sender more credit once it can give at least this
/// much, so that `MORE` frames stay few: a quarter of the window.
pub const CREDIT_BATCH_BYTES: u64 = SEND_WINDOW_BYTES / 4;
