//! Files in flight: what the server remembers about each file it relays.
//!
//! A file's bytes never stay on the server: the sender's thread passes
//! each chunk straight on to the recipients' outboxes (see `relay.rs`).
//! What stays is a little bookkeeping per file, a [`Relay`]: who sends it,
//! where the sender's data has got to, and for each recipient how far it
//! has come:
//!
//! - **offered**: it has been told about the file (`FILE`) and has not
//!   answered yet;
//! - **receiving** from some offset: it accepted (`ACCEPT ID OFFSET`) and
//!   gets every byte from that offset on;
//! - **complete**: it has had every byte and `DONE`, and its report
//!   (`RECEIVED`) is due.
//!
//! A recipient that declines, reports, leaves, or lets its offer expire
//! is removed, and the sender told how it ended (`DELIVERED`).
//!
//! # One stream, recipients at different places
//!
//! The sender sends its data once, in order, and the server keeps its
//! position. Each chunk goes to the recipients whose offset is inside it
//! (most often all of them, at the same place). A recipient that accepts
//! late, after some data has gone by, needs bytes the sender has already
//! sent: the server tells the sender (`RECEIVING ID NICK OFFSET`), the
//! sender goes back (`FROM ID OFFSET`) and sends again from there, and the
//! recipients that already have those bytes simply get nothing until the
//! data reaches their offset. So nobody waits for anyone's answer, and a
//! late answer still gets the whole file. (The same mechanism resumes a
//! file from where a recipient's copy stopped.)
//!
//! [`Transfers`] is a plain map with no lock of its own: it lives inside
//! the registry (`registry.rs`), under the registry's one lock, because a
//! departure must update the members and the files in one step. Its
//! methods change the map and return the frames to send; the registry
//! sends them after releasing the lock. How each transfer ends for each
//! recipient is written down for the server's log the same way: kept
//! here, and logged by the registry once the lock is released (see
//! [`Transfers::take_log`]), so that a slow log never holds the lock.

use crate::flow::{ChunkToken, Flow};
use crate::ids::{ClientId, RelayId};
use crate::outbox::{Frame, Outbox, Priority};
use ftpchat::protocol::{Delivery, ErrorCode, ServerMessage};
use ftpchat::text::{format_size, make_visible};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Frames to send once the registry's lock is released: where, what, and
/// in which queue.
pub type Deliveries = Vec<(Outbox, Frame, Priority)>;

/// A file being relayed.
pub struct Relay {
    /// The connection sending it.
    pub sender: ClientId,
    /// The sender's own number for the transfer.
    pub sender_id: u64,
    /// How the log names it: the file's name, size and sender.
    pub label: String,
    /// Where answers about it go.
    pub sender_outbox: Outbox,
    /// The file's size, as offered.
    pub size: u64,
    /// Where the sender's data has got to: the offset of its next byte.
    pub position: u64,
    /// Whether some recipient has accepted, so the sender sends data.
    pub started: bool,
    /// The sender's checksum, once it has sent `DONE` (until it goes back
    /// with `FROM`).
    pub done: Option<u32>,
    /// The sender cancelled: it sends no more, and only the reports of
    /// recipients that already had everything are still due.
    pub cancelled: bool,
    /// The recipients that have not finished, by connection.
    pub recipients: HashMap<ClientId, Recipient>,
    /// When offers still unanswered expire.
    pub offer_deadline: Instant,
    /// When data last moved (or someone accepted), for the stall rule.
    pub last_progress: Instant,
    /// A chunk's header has come and its bytes are being read. The
    /// session's deadline for the chunk watches the sender then (its
    /// recipients get `PAUSED`), not the stall rule (`CANCEL`): both fire
    /// after the same time, and only one may answer.
    pub chunk_arriving: bool,
    /// The sender's credit (see `flow.rs`).
    pub flow: Arc<Flow>,
}

/// One recipient of a file.
pub struct Recipient {
    /// Its nickname, for the reports.
    pub nick: String,
    /// Where its frames go.
    pub outbox: Outbox,
    /// How far it has come.
    pub stage: Stage,
}

/// How far a recipient has come with a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Told about it; no answer yet.
    Offered,
    /// Accepted; the next byte it needs is at this offset.
    Receiving(u64),
    /// Has every byte and `DONE`; its report is due.
    Complete,
}

/// A file offered (`SEND`), as the relay needs it.
pub struct OfferedFile<'a> {
    /// The sender's number for the transfer.
    pub sender_id: u64,
    /// The sender's nickname, for the log.
    pub from: &'a str,
    /// The file's name, for the log.
    pub name: &'a str,
    /// Its size in bytes.
    pub size: u64,
}

/// Where one chunk goes: each recipient whose offset is inside it, with
/// how many of the chunk's bytes it already has (usually none).
pub struct ChunkPlan {
    /// `(outbox, bytes of the chunk to skip)` for each recipient.
    pub receivers: Vec<(Outbox, usize)>,
    /// Travels with every copy; frees the sender's credit when all are gone.
    pub token: Arc<ChunkToken>,
}

/// Why a frame about a transfer cannot be used.
#[derive(Debug)]
pub struct TransferError {
    /// The code for the answer.
    pub code: ErrorCode,
    /// What is wrong, for the sender.
    pub text: String,
}

impl TransferError {
    fn new(code: ErrorCode, text: String) -> TransferError {
        TransferError { code, text }
    }
}

/// Every file being relayed, by the server's number for it.
#[derive(Default)]
pub struct Transfers {
    relays: HashMap<RelayId, Relay>,
    /// The number the last relay got.
    last: Option<RelayId>,
    /// Lines for the server's log, not yet logged.
    log: Vec<String>,
}

impl Transfers {
    /// Adds `relay` and returns its new, never used number.
    pub fn start(&mut self, relay: Relay) -> RelayId {
        let id = self.last.unwrap_or(RelayId::ZERO).next();
        self.last = Some(id);
        self.relays.insert(id, relay);
        id
    }

    /// The lines for the server's log written since the last call: how
    /// transfers ended, for whom. The caller logs them once it has
    /// released the registry's lock.
    pub fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }

    /// Whether relay `id` exists.
    pub fn contains(&self, id: RelayId) -> bool {
        self.relays.contains_key(&id)
    }

    /// Whether relay `id` still waits for its first answer: nobody has
    /// accepted, and somebody may still.
    pub fn awaits_answer(&self, id: RelayId) -> bool {
        self.relays.get(&id).is_some_and(|relay| {
            !relay.started && relay.recipients.values().any(|r| r.stage == Stage::Offered)
        })
    }

    /// `ACCEPT`: `recipient` takes relay `id` from `offset`. Tells the
    /// sender where it is needed from.
    ///
    /// # Errors
    ///
    /// The recipient was not offered the file, or the offset is beyond it.
    pub fn accept(
        &mut self,
        id: RelayId,
        recipient: ClientId,
        offset: u64,
    ) -> Result<Deliveries, TransferError> {
        let not_offered = || {
            let text = format!("you were not offered transfer {id}");
            TransferError::new(ErrorCode::NoSuchTransfer, text)
        };
        let relay = self.relays.get_mut(&id).ok_or_else(not_offered)?;
        if relay.cancelled {
            return Err(not_offered());
        }
        if offset > relay.size {
            let text = format!(
                "offset {offset} is beyond the {} bytes of the file",
                relay.size
            );
            return Err(TransferError::new(ErrorCode::BadMessage, text));
        }
        let entry = relay
            .recipients
            .get_mut(&recipient)
            .ok_or_else(not_offered)?;
        if entry.stage != Stage::Offered {
            let text = format!("you have already accepted transfer {id}");
            return Err(TransferError::new(ErrorCode::BadMessage, text));
        }
        entry.stage = Stage::Receiving(offset);
        let nick = entry.nick.clone();
        relay.started = true;
        relay.last_progress = Instant::now();
        let mut deliveries = Vec::new();
        let receiving = ServerMessage::Receiving {
            id: relay.sender_id,
            nick: &nick,
            offset,
        };
        let frame = Arc::new(receiving.to_bytes());
        deliveries.push((relay.sender_outbox.clone(), frame, Priority::Urgent));
        Ok(deliveries)
    }

    /// `DECLINE`: `recipient` refuses relay `id`, or stops receiving it.
    /// Returns the report for the sender, or `None` if it was not a
    /// recipient.
    pub fn decline(
        &mut self,
        id: RelayId,
        recipient: ClientId,
        reason: &str,
    ) -> Option<Deliveries> {
        let relay = self.relays.get_mut(&id)?;
        let entry = relay.recipients.remove(&recipient)?;
        let frame = relay.report(id, &entry.nick, Delivery::Declined(reason), &mut self.log);
        let deliveries = vec![(relay.sender_outbox.clone(), frame, Priority::Urgent)];
        self.remove_if_finished(id);
        Some(deliveries)
    }

    /// `DATA`: where a chunk of `len` bytes from the sender goes. Moves the
    /// sender's position and the offsets of those who get it on, and uses
    /// the sender's credit.
    ///
    /// # Errors
    ///
    /// The chunk would take the file past its announced size, or is more
    /// than the sender's credit allows.
    pub fn plan_chunk(&mut self, id: RelayId, len: usize) -> Result<ChunkPlan, TransferError> {
        let relay = self
            .relays
            .get_mut(&id)
            .expect("the caller checked the relay");
        let start = relay.position;
        let end = start + len as u64;
        if end > relay.size {
            let text = format!("more data than the {} bytes announced", relay.size);
            return Err(TransferError::new(ErrorCode::WrongSize, text));
        }
        let token = relay
            .flow
            .receive(len)
            .map_err(|text| TransferError::new(ErrorCode::Overrun, text))?;
        let mut receivers = Vec::new();
        for entry in relay.recipients.values_mut() {
            if let Stage::Receiving(offset) = entry.stage
                && (start..end).contains(&offset)
            {
                receivers.push((entry.outbox.clone(), (offset - start) as usize));
                entry.stage = Stage::Receiving(end);
            }
        }
        relay.position = end;
        relay.done = None;
        relay.last_progress = Instant::now();
        relay.chunk_arriving = false;
        Ok(ChunkPlan { receivers, token })
    }

    /// `DATA`: the header of a chunk for relay `id` has come; its bytes
    /// are being read (see [`Relay::chunk_arriving`]).
    pub fn chunk_arriving(&mut self, id: RelayId) {
        if let Some(relay) = self.relays.get_mut(&id) {
            relay.chunk_arriving = true;
        }
    }

    /// `FROM`: the sender's next data for relay `id` starts at `offset`.
    ///
    /// # Errors
    ///
    /// The offset is beyond the file.
    pub fn go_back(&mut self, id: RelayId, offset: u64) -> Result<(), TransferError> {
        let relay = self
            .relays
            .get_mut(&id)
            .expect("the caller checked the relay");
        if offset > relay.size {
            let text = format!(
                "offset {offset} is beyond the {} bytes of the file",
                relay.size
            );
            return Err(TransferError::new(ErrorCode::BadMessage, text));
        }
        relay.position = offset;
        relay.done = None;
        relay.last_progress = Instant::now();
        Ok(())
    }

    /// `DONE`: the sender's data has reached the end. Returns the outboxes
    /// of the recipients that now have every byte (they get `DONE`).
    ///
    /// # Errors
    ///
    /// The data does not add up to the file's size.
    pub fn done(&mut self, id: RelayId, checksum: u32) -> Result<Vec<Outbox>, TransferError> {
        let relay = self
            .relays
            .get_mut(&id)
            .expect("the caller checked the relay");
        if relay.position != relay.size {
            let text = format!(
                "the file ended after {} of the {} bytes announced",
                relay.position, relay.size
            );
            return Err(TransferError::new(ErrorCode::WrongSize, text));
        }
        relay.done = Some(checksum);
        relay.last_progress = Instant::now();
        let size = relay.size;
        let mut complete = Vec::new();
        for entry in relay.recipients.values_mut() {
            if entry.stage == Stage::Receiving(size) {
                entry.stage = Stage::Complete;
                complete.push(entry.outbox.clone());
            }
        }
        self.remove_if_finished(id);
        Ok(complete)
    }

    /// Stops relay `id`: its recipients that have not had everything are
    /// sent `CANCEL` with `reason` (discard what arrived) and forgotten;
    /// those that have are still heard out.
    pub fn cancel(&mut self, id: RelayId, reason: &str) -> Deliveries {
        let cancel = ServerMessage::Cancel {
            id: id.number(),
            reason,
        };
        // At once, ahead of any data still queued (which the recipient
        // then drops, as data of no file it has): an offer is withdrawn
        // before any later offer, and a file stops being written without
        // waiting for the rest of it.
        self.stop(id, Arc::new(cancel.to_bytes()), Priority::Urgent, reason)
    }

    /// Stops relay `id` because its sender's connection was lost: as
    /// [`Transfers::cancel`], but with `PAUSED`, so that the recipients
    /// keep what arrived, to resume from when the sender offers the file
    /// again.
    fn pause(&mut self, id: RelayId, reason: &str) -> Deliveries {
        let paused = ServerMessage::Paused {
            id: id.number(),
            reason,
        };
        // Behind the data already queued: every byte that reached the
        // server is worth keeping.
        let why = format!("paused: {reason}");
        self.stop(id, Arc::new(paused.to_bytes()), Priority::Bulk, &why)
    }

    /// Stops relay `id`, sending `frame` (`CANCEL` or `PAUSED`), in the
    /// queue `priority`, to the recipients that have not had everything;
    /// `why` is for the log.
    fn stop(&mut self, id: RelayId, frame: Frame, priority: Priority, why: &str) -> Deliveries {
        let mut deliveries = Vec::new();
        if let Some(relay) = self.relays.get_mut(&id) {
            let mut stopped: Vec<&str> = relay
                .recipients
                .values()
                .filter(|entry| entry.stage != Stage::Complete)
                .map(|entry| entry.nick.as_str())
                .collect();
            if !stopped.is_empty() {
                stopped.sort_unstable();
                self.log.push(format!(
                    "transfer {id} ({}) to {}: stopped ({why})",
                    relay.label,
                    stopped.join(", ")
                ));
            }
            relay.cancelled = true;
            relay.recipients.retain(|_, entry| {
                if entry.stage == Stage::Complete {
                    return true;
                }
                deliveries.push((entry.outbox.clone(), Arc::clone(&frame), priority));
                false
            });
        }
        self.remove_if_finished(id);
        deliveries
    }

    /// Records that `recipient` reported `outcome` for relay `id`.
    /// Returns the report to pass on to the sender, or `None` if
    /// `recipient` was not receiving it.
    pub fn report(
        &mut self,
        id: RelayId,
        recipient: ClientId,
        outcome: Delivery,
    ) -> Option<Deliveries> {
        let relay = self.relays.get_mut(&id)?;
        // Any stage: a recipient that cannot even create the file reports
        // that instead of answering the offer.
        let entry = relay.recipients.remove(&recipient)?;
        let frame = relay.report(id, &entry.nick, outcome, &mut self.log);
        let deliveries = vec![(relay.sender_outbox.clone(), frame, Priority::Urgent)];
        self.remove_if_finished(id);
        Some(deliveries)
    }

    /// Updates the relays for a client that left for `reason`: files it
    /// was sending are stopped, and senders of files it was receiving are
    /// told it did not get them. A client that left `on_purpose` (`QUIT`)
    /// ends its files for good (`CANCEL`, `failed`); one whose connection
    /// was lost may come back and resume them (`PAUSED`, `lost`). Returns
    /// the frames that say so.
    pub fn forget_client(
        &mut self,
        client: ClientId,
        reason: &str,
        on_purpose: bool,
    ) -> Deliveries {
        let mut deliveries = Vec::new();
        let sent: Vec<RelayId> = self
            .relays
            .iter()
            .filter(|(_, relay)| relay.sender == client)
            .map(|(&id, _)| id)
            .collect();
        for id in sent {
            deliveries.extend(match on_purpose {
                true => self.cancel(id, "the sender left"),
                false => self.pause(id, &connection_lost("the sender's", reason)),
            });
            self.relays.remove(&id);
        }
        let failed = format!("left ({reason})");
        let outcome = match on_purpose {
            true => Delivery::Failed(&failed),
            false => Delivery::Lost(reason),
        };
        let receiving: Vec<RelayId> = self
            .relays
            .iter()
            .filter(|(_, relay)| relay.recipients.contains_key(&client))
            .map(|(&id, _)| id)
            .collect();
        for id in receiving {
            let relay = self.relays.get_mut(&id).expect("listed just now");
            let entry = relay.recipients.remove(&client).expect("listed just now");
            let frame = relay.report(id, &entry.nick, outcome, &mut self.log);
            deliveries.push((relay.sender_outbox.clone(), frame, Priority::Urgent));
            self.remove_if_finished(id);
        }
        deliveries
    }

    /// Ends what has waited too long at `now`: offers nobody answered
    /// within `offer_timeout` (the recipient is told the offer expired,
    /// the sender that it did), and transfers whose sender has sent
    /// nothing for `data_timeout` while recipients waited for data
    /// (everyone is told).
    pub fn expire(
        &mut self,
        now: Instant,
        offer_timeout: Duration,
        data_timeout: Duration,
    ) -> Deliveries {
        let mut deliveries = Vec::new();
        let ids: Vec<RelayId> = self.relays.keys().copied().collect();
        for id in ids {
            let relay = self.relays.get_mut(&id).expect("listed just now");
            if relay.offer_deadline <= now {
                relay.expire_offers(id, offer_timeout, &mut deliveries, &mut self.log);
            }
            if relay.is_stalled(now, data_timeout) {
                let secs = data_timeout.as_secs_f64();
                let text = format!("no data for {secs} s; the transfer is cancelled");
                let refused = ServerMessage::Refused {
                    id: relay.sender_id,
                    code: ErrorCode::Stalled.as_str(),
                    text: &text,
                };
                let frame = Arc::new(refused.to_bytes());
                deliveries.push((relay.sender_outbox.clone(), frame, Priority::Urgent));
                let reason = format!("the sender stopped sending (no data for {secs} s)");
                deliveries.extend(self.cancel(id, &reason));
                continue;
            }
            self.remove_if_finished(id);
        }
        deliveries
    }

    /// Forgets relay `id` once nothing more can happen to it: no recipient
    /// is left, and the sender has finished, cancelled, or never started
    /// (nobody accepted, so it sent nothing). A sender still sending keeps
    /// its relay until its `DONE` or `CANCEL`, so what is in flight is not
    /// answered with errors.
    fn remove_if_finished(&mut self, id: RelayId) {
        let finished = self.relays.get(&id).is_some_and(|relay| {
            relay.recipients.is_empty()
                && (relay.done.is_some() || relay.cancelled || !relay.started)
        });
        if finished {
            self.relays.remove(&id);
        }
    }
}

impl Relay {
    /// A relay of `file` from `sender` to `recipients`, whose offers
    /// expire at `offer_deadline`.
    pub fn new(
        sender: ClientId,
        file: &OfferedFile,
        sender_outbox: Outbox,
        recipients: HashMap<ClientId, Recipient>,
        offer_deadline: Instant,
    ) -> Relay {
        let label = format!(
            "{:?}, {}, from {}",
            make_visible(file.name),
            format_size(file.size),
            file.from
        );
        Relay {
            sender,
            sender_id: file.sender_id,
            label,
            flow: Flow::new(sender_outbox.clone(), file.sender_id),
            sender_outbox,
            size: file.size,
            position: 0,
            started: false,
            done: None,
            cancelled: false,
            recipients,
            offer_deadline,
            last_progress: Instant::now(),
            chunk_arriving: false,
        }
    }

    /// The `DELIVERED` frame that tells the sender how relay `id` went for
    /// `nick`; says so in `log` too.
    fn report(&self, id: RelayId, nick: &str, outcome: Delivery, log: &mut Vec<String>) -> Frame {
        let ending = match outcome {
            Delivery::Ok => "delivered".to_string(),
            Delivery::Declined("") => "declined".to_string(),
            Delivery::Declined(reason) => format!("declined ({reason})"),
            Delivery::Failed(reason) => format!("failed ({reason})"),
            Delivery::Expired => "not answered in time".to_string(),
            Delivery::Lost(reason) => format!("cut off ({reason}); may resume"),
        };
        let label = &self.label;
        log.push(format!("transfer {id} ({label}) to {nick}: {ending}"));
        let message = ServerMessage::Delivered {
            id: self.sender_id,
            nick,
            outcome,
        };
        Arc::new(message.to_bytes())
    }

    /// Withdraws the offers still unanswered: each recipient is told, and
    /// the sender learns that each expired.
    fn expire_offers(
        &mut self,
        id: RelayId,
        timeout: Duration,
        deliveries: &mut Deliveries,
        log: &mut Vec<String>,
    ) {
        let secs = timeout.as_secs_f64();
        let reason = format!("the offer expired (no answer within {secs} s)");
        let cancel = ServerMessage::Cancel {
            id: id.number(),
            reason: &reason,
        };
        let cancel: Frame = Arc::new(cancel.to_bytes());
        let expired: Vec<ClientId> = self
            .recipients
            .iter()
            .filter(|(_, entry)| entry.stage == Stage::Offered)
            .map(|(&client, _)| client)
            .collect();
        for client in expired {
            let entry = self.recipients.remove(&client).expect("listed just now");
            deliveries.push((entry.outbox, Arc::clone(&cancel), Priority::Urgent));
            let frame = self.report(id, &entry.nick, Delivery::Expired, log);
            deliveries.push((self.sender_outbox.clone(), frame, Priority::Urgent));
        }
    }

    /// Whether recipients wait for data the sender has stopped sending:
    /// nothing came for `data_timeout`, and none of its data is still in
    /// the server waiting for a slow recipient (then the sender waits for
    /// credit, and it is the recipient the stall timeout deals with).
    fn is_stalled(&self, now: Instant, data_timeout: Duration) -> bool {
        let waiting = self
            .recipients
            .values()
            .any(|entry| matches!(entry.stage, Stage::Receiving(_)));
        waiting
            && !self.cancelled
            && !self.chunk_arriving
            && self.flow.in_flight() == 0
            && now.duration_since(self.last_progress) >= data_timeout
    }
}

/// "WHOSE connection was lost", with `reason` added unless it only says
/// the same (`connection closed`, `connection lost`).
fn connection_lost(whose: &str, reason: &str) -> String {
    match reason.starts_with("connection ") {
        true => format!("{whose} connection was lost"),
        false => format!("{whose} connection was lost ({reason})"),
    }
}
