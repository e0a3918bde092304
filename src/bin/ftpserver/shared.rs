//! What every thread of the server shares: the registry of clients, the
//! settings, and whether the server is shutting down.
//!
//! One [`Server`] is made at start-up and handed to each thread in an
//! `Arc` (a reference-counted pointer: the last thread to let go frees
//! it). Only the registry changes after start-up, and it has its own lock
//! (see `registry.rs`); the settings never change, and the shutdown flag
//! is an atomic, so reading them needs no lock at all.

use crate::registry::Clients;
use ftpchat::clock::LocalZone;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The server's settings, from the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Time a new connection has to send an acceptable first line.
    pub handshake_timeout: Duration,
    /// Silence from a full client after which it is pinged.
    pub keepalive: Duration,
    /// Time a client's socket may take no data before it is cut off.
    pub stall_timeout: Duration,
    /// Largest file the server relays, in bytes.
    pub max_file_size: u64,
    /// Time a recipient has to answer an offer.
    pub offer_timeout: Duration,
    /// Most files one client may be sending at once.
    pub max_transfers: usize,
    /// Whether to print every frame (`--trace`; see `ftpchat::trace`).
    pub trace: bool,
    /// Chat lines a client may send at once, and per second after that
    /// (0: no limit; see `flood.rs`).
    pub chat_burst: u32,
    pub chat_rate: f64,
    /// Public lines kept for late joiners (0: none; see `history.rs`).
    pub history_lines: usize,
    /// The server's time zone, for times shown to plain clients.
    pub zone: LocalZone,
}

impl Settings {
    /// How long a transfer's sender may send nothing while recipients wait
    /// for its data, before the transfer is cancelled: three stall
    /// timeouts, so that a pause the server itself caused (waiting for a
    /// slow recipient, which the stall timeout bounds) never counts.
    pub fn data_timeout(&self) -> Duration {
        self.stall_timeout * 3
    }
}

/// State shared by every thread of the server.
pub struct Server {
    /// Who is connected, and the files in flight.
    pub clients: Clients,
    /// The settings, for every connection alike.
    pub settings: Settings,
    /// Set by `/quit`; the accept loops check it after each `accept`.
    shutting_down: AtomicBool,
}

impl Server {
    /// A server with no clients yet, admitting up to `max_clients`.
    pub fn new(settings: Settings, max_clients: usize) -> Server {
        Server {
            clients: Clients::new(max_clients, settings.history_lines, settings.zone),
            settings,
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Whether `/quit` has been typed on the console.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Marks the server as shutting down; the accept loops stop at their
    /// next connection.
    pub fn start_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }
}
