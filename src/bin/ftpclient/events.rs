//! What the control loop hears.
//!
//! The client does several things at once: it reads the keyboard, reads
//! the socket, reads files to send and writes files received. Each of
//! these waits on something different, so each has a thread. But only one
//! thread, the main one, owns the client's state and decides what happens
//! next (`control.rs`). The others tell it what they saw by sending an
//! [`Event`] into one channel, and the main thread handles the events one
//! at a time, in the order they were sent. Nothing is shared but the
//! channel, so there is nothing to lock and no order to argue about.

use crate::pool::PooledBuf;
use ftpchat::protocol::FrameReader;
use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

/// Something that happened, for the control loop to act on.
pub enum Event {
    /// Bytes typed on a terminal in raw mode, as one read returned them.
    Keys(Vec<u8>),
    /// A line of a script's input, without its line ending.
    Line(String),
    /// Standard input ended (or could not be read any more).
    InputEnded,
    /// The terminal is now this many columns wide.
    Resized(usize),
    /// A line from the server, without its line ending.
    ServerLine(String),
    /// The chunk of a `DATA` frame from the server.
    Chunk {
        /// The server's number for the file.
        id: u64,
        /// The chunk's bytes.
        bytes: PooledBuf,
    },
    /// A `--trace` line to show.
    Trace(String),
    /// The connection to the server has ended.
    Disconnected(Ending),
    /// An attempt to connect and join again has ended (see `link.rs`).
    Rejoined(Rejoin),
    /// A file being sent has had this many bytes written to the server.
    UploadProgress {
        /// Our number for the file.
        id: u64,
        /// Bytes sent so far.
        sent: u64,
    },
    /// A file has been sent whole, `DONE` included.
    UploadSent {
        /// Our number for the file.
        id: u64,
        /// Its `cksum`.
        checksum: u32,
        /// Time spent sending data so far (waits for answers left out).
        busy: Duration,
        /// Bytes of data sent so far (more than the file's size when it
        /// was sent again for a late answer).
        bytes: u64,
    },
    /// Sending a file stopped early.
    UploadStopped {
        /// Our number for the file.
        id: u64,
        /// Why, for the user; `None` when the connection failed (which
        /// the socket's thread reports) or the control loop stopped it.
        why: Option<String>,
    },
    /// A file received has been checked and saved.
    DownloadSaved {
        /// The number the user knows the file by.
        number: u64,
        /// Where it was saved.
        path: PathBuf,
        /// Its `cksum`.
        checksum: u32,
    },
    /// A file being received could not be written or checked; its partial
    /// file has been removed.
    DownloadFailed {
        /// The number the user knows the file by.
        number: u64,
        /// Why.
        why: String,
    },
}

/// How the connection to the server ended, as the socket's thread saw it.
pub enum Ending {
    /// The server closed the connection.
    Closed,
    /// The server stayed silent for two keep-alive intervals (this many
    /// seconds in all).
    Silent(f64),
    /// Reading failed.
    Failed(io::Error),
}

/// How an attempt to join again went, as its thread saw it.
pub enum Rejoin {
    /// Connected and joined: the socket, and its one frame reader.
    Joined(TcpStream, FrameReader<TcpStream>),
    /// The server could not be reached, or did not answer: try again.
    Failed(io::Error),
    /// The nickname was refused (taken, most likely).
    NickRefused(String),
    /// The server refused us for good.
    Refused(String),
}
