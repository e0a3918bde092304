//! Names for things that live as long as the server: connections and the
//! files being relayed.
//!
//! # Why a connection is not named by its port
//!
//! The original course program kept its clients in a map keyed by their
//! port number. But a port number does not identify a connection: two
//! machines can connect from the same source port, and once a client
//! leaves, the operating system reuses its port for someone else. A
//! [`ClientId`] is a counter that is never reused while the server runs,
//! so a stale id can never reach the wrong person.
//!
//! A [`RelayId`] does the same for a file being relayed: recipients see it
//! in `FILE`, `DATA`, `DONE` and `CANCEL`. It is unique on the server, so
//! two senders who both number their first file 1 cannot be confused.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies one connection for as long as the server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientId(u64);

impl ClientId {
    /// A fresh id, never handed out before.
    pub fn next() -> ClientId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ClientId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The server's number for a file it relays, as the recipients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RelayId(u64);

impl RelayId {
    /// The number after `self`.
    pub fn next(self) -> RelayId {
        RelayId(self.0 + 1)
    }

    /// The number as it is written on the wire.
    pub fn number(self) -> u64 {
        self.0
    }

    /// The relay that recipients call `number` (in `RECEIVED`).
    pub fn from_number(number: u64) -> RelayId {
        RelayId(number)
    }

    /// The number before any relay's: [`RelayId::next`] of it is the first.
    pub const ZERO: RelayId = RelayId(0);
}

impl fmt::Display for RelayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
