//! Files in flight: what the server remembers about each file it relays.
//!
//! A file's bytes never stay on the server: the sender's thread passes
//! each chunk straight on to the recipients' outboxes (see `relay.rs`).
//! What stays is a little bookkeeping per file, a [`Relay`]: who sends it,
//! and which recipients have not yet said whether they saved it. That is
//! what lets the server tell a sender that a recipient left half way, and
//! tell the recipients that the sender left half way.
//!
//! [`Transfers`] is a plain map with no lock of its own: it lives inside
//! the registry (`registry.rs`), under the registry's one lock, because a
//! departure must update the members and the files in one step. Its
//! methods change the map and return the frames to send; the registry
//! sends them after releasing the lock.

use crate::ids::{ClientId, RelayId};
use crate::outbox::{Frame, Outbox, Priority};
use ftpchat::protocol::{Delivery, ServerMessage};
use std::collections::HashMap;
use std::sync::Arc;

/// Frames to send once the registry's lock is released: where, what, and
/// in which queue.
pub type Deliveries = Vec<(Outbox, Frame, Priority)>;

/// A file being relayed.
pub struct Relay {
    /// The connection sending it.
    pub sender: ClientId,
    /// The sender's own number for the transfer.
    pub sender_id: u64,
    /// Where reports about it go.
    pub sender_outbox: Outbox,
    /// Recipients that have not reported yet, with their nicknames.
    pub waiting: HashMap<ClientId, (String, Outbox)>,
    /// The sender has sent `DONE`: only the reports are still due.
    pub sent: bool,
}

/// A recipient's report, to pass on to the sender as `DELIVERED`.
pub struct Report {
    /// Where the sender reads.
    pub sender_outbox: Outbox,
    /// The sender's number for the file.
    pub sender_id: u64,
    /// The recipient who reported.
    pub nick: String,
}

/// Every file being relayed, by the server's number for it.
#[derive(Default)]
pub struct Transfers {
    relays: HashMap<RelayId, Relay>,
    /// The number the last relay got.
    last: Option<RelayId>,
}

impl Transfers {
    /// Adds `relay` and returns its new, never used number.
    pub fn start(&mut self, relay: Relay) -> RelayId {
        let id = self.last.unwrap_or(RelayId::ZERO).next();
        self.last = Some(id);
        self.relays.insert(id, relay);
        id
    }

    /// Puts into `outboxes` the outboxes of the recipients of `id` that
    /// still want the file (they have not left or reported a failure).
    pub fn recipients(&self, id: RelayId, outboxes: &mut Vec<Outbox>) {
        outboxes.clear();
        if let Some(relay) = self.relays.get(&id) {
            outboxes.extend(relay.waiting.values().map(|(_, outbox)| outbox.clone()));
        }
    }

    /// Notes that the sender of `id` has sent everything: the relay now
    /// only waits for the recipients' reports.
    pub fn finish(&mut self, id: RelayId) {
        if let Some(relay) = self.relays.get_mut(&id) {
            relay.sent = true;
            if relay.waiting.is_empty() {
                self.relays.remove(&id);
            }
        }
    }

    /// Stops relay `id` before the end of the file, and returns the
    /// `CANCEL` frames (with `reason`) for its remaining recipients.
    pub fn cancel(&mut self, id: RelayId, reason: &str) -> Deliveries {
        let mut deliveries = Vec::new();
        if let Some(relay) = self.relays.remove(&id) {
            relay.cancel(id, reason, &mut deliveries);
        }
        deliveries
    }

    /// Records that `recipient` reported on relay `id`. Returns where to
    /// pass the report on, or `None` if `recipient` was not waiting for it.
    pub fn report(&mut self, id: RelayId, recipient: ClientId) -> Option<Report> {
        let relay = self.relays.get_mut(&id)?;
        let (nick, _) = relay.waiting.remove(&recipient)?;
        let report = Report {
            sender_outbox: relay.sender_outbox.clone(),
            sender_id: relay.sender_id,
            nick,
        };
        if relay.sent && relay.waiting.is_empty() {
            self.relays.remove(&id);
        }
        Some(report)
    }

    /// Updates the relays for a client that left for `reason`: files it
    /// was sending are cancelled, and senders of files it was receiving
    /// are told it did not get them. Returns the frames that say so.
    pub fn forget_client(&mut self, client: ClientId, reason: &str) -> Deliveries {
        let failed = format!("left ({reason})");
        let mut deliveries = Vec::new();
        self.relays.retain(|&id, relay| {
            if relay.sender == client {
                if !relay.sent {
                    relay.cancel(id, "the sender left", &mut deliveries);
                }
                return false;
            }
            if let Some((nick, _)) = relay.waiting.remove(&client) {
                let message = ServerMessage::Delivered {
                    id: relay.sender_id,
                    nick: &nick,
                    outcome: Delivery::Failed(&failed),
                };
                let frame = Arc::new(message.to_bytes());
                deliveries.push((relay.sender_outbox.clone(), frame, Priority::Urgent));
            }
            !(relay.sent && relay.waiting.is_empty())
        });
        deliveries
    }
}

impl Relay {
    /// The `CANCEL` frames for every recipient still waiting. They go in
    /// the bulk queue, so they arrive after the data already queued.
    fn cancel(&self, id: RelayId, reason: &str, deliveries: &mut Deliveries) {
        let message = ServerMessage::Cancel {
            id: id.number(),
            reason,
        };
        let cancel: Frame = Arc::new(message.to_bytes());
        for (_, outbox) in self.waiting.values() {
            deliveries.push((outbox.clone(), Arc::clone(&cancel), Priority::Bulk));
        }
    }
}
