//! The clock's thread: ends what has waited too long.
//!
//! Most of the server reacts to something a client sent. Two rules react
//! to *nothing* being sent: an offer nobody answers expires after
//! `--offer-timeout`, and a transfer whose sender stops sending its data
//! is cancelled after a while (see `Settings::data_timeout`). No
//! connection's thread is guaranteed to be awake when that happens, so
//! one thread wakes up a few times a second and asks the registry to end
//! what is due (`Clients::expire`).

use crate::log::log;
use crate::shared::Server;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The shortest and longest time the thread sleeps between looks.
const MIN_TICK: Duration = Duration::from_millis(50);
const MAX_TICK: Duration = Duration::from_secs(1);

/// Starts the thread, which runs until the server shuts down.
pub fn spawn_expiry(server: Arc<Server>) {
    let settings = &server.settings;
    // A quarter of the shortest time limit: an offer expires at most a
    // quarter late.
    let shortest = settings.offer_timeout.min(settings.data_timeout());
    let tick = (shortest / 4).clamp(MIN_TICK, MAX_TICK);
    let spawned = thread::Builder::new()
        .name("expiry".to_string())
        .spawn(move || {
            while !server.is_shutting_down() {
                thread::sleep(tick);
                let settings = &server.settings;
                let (offers, data) = (settings.offer_timeout, settings.data_timeout());
                server.clients.expire(Instant::now(), offers, data);
            }
        });
    if let Err(error) = spawned {
        log(format_args!(
            "cannot start the expiry thread: {error}; offers will not expire"
        ));
    }
}
