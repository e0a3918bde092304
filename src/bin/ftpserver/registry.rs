//! The registry of connected clients, shared by every connection's thread.
//!
//! # Shared state between threads
//!
//! The server runs one thread per connection, and they all need to know
//! who else is connected: Alice's thread must reach Bob's connection to
//! relay her message. The registry is that shared knowledge: a few
//! `HashMap`s behind one `Mutex`, in the [`Clients`] that every thread
//! reaches through the server's `Arc`.
//!
//! All locking happens in this file. The handler threads call methods such
//! as [`Clients::broadcast`] and never see the lock, so the rules are in
//! one place:
//!
//! - the lock is held only to look things up or change the maps, never
//!   while writing to a socket (that is the writer threads' job; see
//!   `outbox.rs`) or waiting for a slow client: one slow client must not
//!   hold up everyone else. Methods collect what to send under the lock,
//!   release it, then send;
//! - a panic in some thread while it held the lock "poisons" the mutex; the
//!   maps are still consistent (each method changes them in one step), so
//!   we take the data and carry on instead of crashing the whole server.
//!
//! # What it holds
//!
//! Connections still in their handshake are *pending*; those that have
//! chosen a nickname are *members*. The two are kept apart, and the index
//! of nicknames is changed only together with the members (in
//! [`Registry::add_member`] and [`Registry::remove_member`]), so the two
//! can never disagree. The files being relayed ([`Transfers`]) live under
//! the same lock, since a departure changes both at once, and so does the
//! history for late joiners ([`History`]), since a newcomer must get each
//! line either as history or live.

use crate::history::History;
use crate::ids::ClientId;
use crate::ids::RelayId;
use crate::log::log;
use crate::outbox::{Frame, Outbox, Priority};
use crate::plain::{ClientKind, encode_for, greeting, plain_text_of};
use crate::transfers::{
    ChunkPlan, Deliveries, OfferedFile, Recipient, Relay, Stage, TransferError, Transfers,
};
use ftpchat::clock::{LocalZone, unix_seconds};
use ftpchat::protocol::{Delivery, ErrorCode, ServerMessage, encode_users, nick_key};
use ftpchat::text::make_visible;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Above this many members, joins and leaves are no longer announced.
///
/// Announcing each arrival to everyone costs one message per member, so
/// filling a room of N people costs N × N / 2 messages: 50 million for
/// 10,000 people. Chat services and IRC servers stop announcing presence in
/// large rooms for the same reason; `/who` still lists everyone.
pub const LARGE_ROOM_MEMBERS: usize = 200;

/// A client that has finished the handshake.
struct Member {
    nick: String,
    kind: ClientKind,
    outbox: Outbox,
}

impl Member {
    /// This member as a recipient just offered a file.
    fn as_recipient(&self) -> Recipient {
        Recipient {
            nick: self.nick.clone(),
            outbox: self.outbox.clone(),
            stage: Stage::Offered,
        }
    }
}

/// The maps themselves: what the mutex protects.
struct Registry {
    /// Connections still in their handshake.
    pending: HashMap<ClientId, Outbox>,
    /// Connections that have joined.
    members: HashMap<ClientId, Member>,
    /// The ids of members by [`nick_key`], to find a nickname quickly and
    /// keep nicknames unique.
    ids_by_nick: HashMap<String, ClientId>,
    /// Files being relayed.
    transfers: Transfers,
    /// The last public lines, for whoever joins next.
    history: History,
    /// Set when the server shuts down: departures are no longer announced.
    closing: bool,
}

/// Why a file cannot be relayed.
#[derive(Debug)]
pub struct Refusal {
    /// The error code for the `REFUSED` line.
    pub code: ErrorCode,
    /// What went wrong, for the sender.
    pub text: String,
}

/// A file the server agreed to relay.
pub struct StartedRelay {
    /// The server's number for it.
    pub id: RelayId,
    /// The recipients' outboxes, to send `FILE` to.
    pub recipients: Vec<Outbox>,
    /// Plain clients who cannot receive it (they get a notice instead).
    pub plain_members: Vec<Outbox>,
    /// Nicknames of a list that are not connected (reported `lost`).
    pub absent: Vec<String>,
    /// The recipients' nicknames, sorted, for the log.
    pub nicks: Vec<String>,
}

/// Who a file goes to: see [`Registry::recipients_for`].
struct Audience {
    recipients: HashMap<ClientId, Recipient>,
    plain_members: Vec<Outbox>,
    absent: Vec<String>,
}

/// The shared registry of clients. See the module documentation.
pub struct Clients {
    registry: Mutex<Registry>,
    /// Signalled whenever a connection is removed; shutdown waits on it.
    client_removed: Condvar,
    max_clients: usize,
    /// The server's time zone, for the times of the history sent to plain
    /// clients (a full client shows them in its own).
    zone: LocalZone,
}

/// Why a nickname could not be taken.
#[derive(Debug)]
pub struct NickTaken;

/// A member sent away by the server's operator (see [`Clients::kick`]).
pub struct Kicked {
    /// The nickname it had.
    pub nick: String,
    /// Its connection.
    pub id: ClientId,
}

/// Why a message could not be delivered to one user.
#[derive(Debug)]
pub struct NoSuchNick;

/// A place in the registry, held by a connection's handler for as long as
/// the connection is open. Dropping it removes the client (and announces
/// the departure, if it had joined) however the handler ends: by
/// returning, by an error, or by a panic.
pub struct Registration<'a> {
    clients: &'a Clients,
    id: ClientId,
    /// Why the client left, as the others will be told.
    pub leave_reason: String,
    /// Whether it left on purpose (`QUIT`), or was sent away for breaking
    /// the rules: its files end for good. Otherwise its connection was
    /// lost, and it may come back to resume them.
    pub on_purpose: bool,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        (self.clients).remove(self.id, &self.leave_reason, self.on_purpose);
    }
}

impl Clients {
    /// An empty registry that admits up to `max_clients` connections, and
    /// keeps the last `history_lines` public lines for newcomers (see
    /// `history.rs`), whose times plain clients read in `zone`.
    pub fn new(max_clients: usize, history_lines: usize, zone: LocalZone) -> Clients {
        let registry = Registry {
            pending: HashMap::new(),
            members: HashMap::new(),
            ids_by_nick: HashMap::new(),
            transfers: Transfers::default(),
            history: History::new(history_lines),
            closing: false,
        };
        Clients {
            registry: Mutex::new(registry),
            client_removed: Condvar::new(),
            max_clients,
            zone,
        }
    }

    /// Locks the registry; a poisoned lock is recovered (see the module
    /// documentation).
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a new connection would be refused: the server has its
    /// maximum number of clients, or is shutting down.
    pub fn is_full(&self) -> bool {
        let registry = self.lock();
        registry.closing || registry.connections() >= self.max_clients
    }

    /// Adds a new connection, still in its handshake. Returns `None` if
    /// the server is full or shutting down.
    pub fn register(&self, id: ClientId, outbox: Outbox) -> Option<Registration<'_>> {
        let mut registry = self.lock();
        if registry.closing || registry.connections() >= self.max_clients {
            return None;
        }
        registry.pending.insert(id, outbox);
        Some(Registration {
            clients: self,
            id,
            leave_reason: "connection lost".to_string(),
            on_purpose: false,
        })
    }

    /// Makes pending connection `id` a member named `nick`, greets it
    /// (`WELCOME`, who is online: everyone's nickname, or in a large room
    /// just the count; then the history), and tells the others (unless
    /// the room is large).
    ///
    /// # Errors
    ///
    /// [`NickTaken`] if another member has that nickname (ignoring case).
    pub fn join(&self, id: ClientId, nick: &str, kind: ClientKind) -> Result<(), NickTaken> {
        let recipients = {
            let mut registry = self.lock();
            if registry.ids_by_nick.contains_key(&nick_key(nick)) {
                return Err(NickTaken);
            }
            let Some(outbox) = registry.pending.remove(&id) else {
                return Err(NickTaken); // cannot happen: `id` is registered
            };
            let member = Member {
                nick: nick.to_string(),
                kind,
                outbox: outbox.clone(),
            };
            registry.add_member(id, member);
            // In a large room, neither the others are told, nor is the
            // newcomer sent every name: the count will do (`WHO` lists all).
            let (users, recipients) = if registry.is_large_room() {
                let total = registry.members.len();
                let users = ServerMessage::Users { total, nicks: "" }.to_bytes();
                (users, Vec::new())
            } else {
                let users = Clients::users_message(&registry.nicks());
                (users, registry.members_except(Some(id)))
            };
            let mut history = Vec::new();
            let zone = self.zone;
            (registry.history).encode_for(kind, zone, unix_seconds(), &mut history);
            // The greeting is queued before the lock is released: from the
            // moment others can relay to the newcomer, their messages queue
            // behind it, so its first line is always WELCOME, and the
            // history comes before any live line. (Its queue is empty, so
            // this never waits.)
            outbox.send(greeting(nick, kind, users, history), Priority::Urgent);
            recipients
        };
        send_batch(&recipients, ServerMessage::Joined { nick }.to_bytes());
        Ok(())
    }

    /// Removes connection `id`; if it was a member, tells the others that
    /// it left, and why, and settles the files it was sending or receiving
    /// (for good if it left `on_purpose`). Returns `false` if it was
    /// already gone.
    fn remove(&self, id: ClientId, reason: &str, on_purpose: bool) -> bool {
        let (nick, recipients, deliveries) = {
            let mut registry = self.lock();
            if registry.pending.remove(&id).is_some() {
                self.client_removed.notify_all();
                return true;
            }
            // The room's size with the leaver still in it decides, as the
            // size with the newcomer in it does for a join.
            let large = registry.is_large_room();
            let Some(member) = registry.remove_member(id) else {
                return false; // already gone
            };
            self.client_removed.notify_all();
            if registry.closing {
                return true;
            }
            let deliveries = registry.transfers.forget_client(id, reason, on_purpose);
            let recipients = match large {
                true => Vec::new(),
                false => registry.members_except(None),
            };
            let log_lines = registry.transfers.take_log();
            (member.nick, recipients, (deliveries, log_lines))
        };
        // Sending may wait for a slow client: never with the lock held.
        send_deliveries(deliveries);
        let left = ServerMessage::Left {
            nick: &nick,
            reason,
        };
        send_batch(&recipients, left.to_bytes());
        true
    }

    /// Sends `batch`, one or more encoded `CHAT` and `ACTION` lines said
    /// by member `from`, to every other member, and keeps them in the
    /// history. Nothing is sent for a connection that is no longer a
    /// member (its operator sent it away).
    pub fn broadcast(&self, from: ClientId, batch: Vec<u8>) {
        let now = unix_seconds();
        let recipients = {
            let mut registry = self.lock();
            if !registry.members.contains_key(&from) {
                return;
            }
            registry.history.record(&batch, now);
            registry.members_except(Some(from))
        };
        // The lock is released before sending: `send` may wait for a slow
        // client's queue to drain, and nobody else should wait with it.
        send_batch(&recipients, batch);
    }

    /// Sends `message` (a notice from the server's operator) to every
    /// member.
    pub fn announce(&self, message: &ServerMessage) {
        let recipients = self.lock().members_except(None);
        send_batch(&recipients, message.to_bytes());
    }

    /// Member `id` is now called `new`: the index of nicknames follows,
    /// and everyone is told (`NICK OLD NEW`; in a large room, only the
    /// member itself). Returns the old nickname. Files already on their
    /// way keep the names they started with.
    ///
    /// # Errors
    ///
    /// [`NickTaken`] if another member has that nickname (ignoring case),
    /// or `id` is not a member.
    pub fn rename(&self, id: ClientId, new: &str) -> Result<String, NickTaken> {
        let (old, recipients) = {
            let mut registry = self.lock();
            let key = nick_key(new);
            if registry
                .ids_by_nick
                .get(&key)
                .is_some_and(|&other| other != id)
            {
                return Err(NickTaken);
            }
            let large = registry.is_large_room();
            let Some(member) = registry.members.get_mut(&id) else {
                return Err(NickTaken);
            };
            let old = std::mem::replace(&mut member.nick, new.to_string());
            let own = (member.outbox.clone(), member.kind);
            registry.ids_by_nick.remove(&nick_key(&old));
            registry.ids_by_nick.insert(key, id);
            let recipients = match large {
                true => vec![own],
                false => registry.members_except(None),
            };
            (old, recipients)
        };
        let message = ServerMessage::Nick { old: &old, new };
        send_batch(&recipients, message.to_bytes());
        Ok(old)
    }

    /// Sends the member called `nick` away, for `reason` (the server's
    /// operator typed `/kick`): it is told why (`BYE`) and its connection
    /// closed; the others are told it left, and why; its nickname is free
    /// at once; its files end for good. Returns who it was, or `None` if
    /// nobody by that name is online.
    pub fn kick(&self, nick: &str, reason: &str) -> Option<Kicked> {
        let (id, nick, outbox, kind) = {
            let registry = self.lock();
            let &id = registry.ids_by_nick.get(&nick_key(nick))?;
            let member = &registry.members[&id];
            (id, member.nick.clone(), member.outbox.clone(), member.kind)
        };
        // Removed first, so that everyone is told why even if the client
        // closes its end the moment it reads the goodbye. Its thread still
        // reads what the client had sent until the connection closes; as
        // it is no longer a member, none of that reaches anyone.
        if !self.remove(id, reason, true) {
            return None; // it left on its own meanwhile
        }
        let bye = ServerMessage::Bye { reason };
        outbox.send(encode_for(kind, &bye), Priority::Urgent);
        outbox.close();
        Some(Kicked { nick, id })
    }

    /// Sends `message` from member `from` to the member called `nick`
    /// alone.
    ///
    /// # Errors
    ///
    /// [`NoSuchNick`] if nobody by that name is online (or `from` is no
    /// longer a member).
    pub fn send_to(
        &self,
        from: ClientId,
        nick: &str,
        message: &ServerMessage,
    ) -> Result<(), NoSuchNick> {
        let (outbox, kind) = {
            let registry = self.lock();
            if !registry.members.contains_key(&from) {
                return Err(NoSuchNick);
            }
            let member = registry.member_named(nick).ok_or(NoSuchNick)?;
            (member.outbox.clone(), member.kind)
        };
        outbox.send(encode_for(kind, message), Priority::Urgent);
        Ok(())
    }

    /// Registers `file`, which `sender` offers to `to` (a nickname,
    /// several separated by commas, or `*` for every other full client).
    /// Offers nobody answers expire at `offer_deadline`.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] when nobody could receive it: the nickname is unknown
    /// or is the sender's own, the recipient is a plain client, or no other
    /// full client is online.
    pub fn start_relay(
        &self,
        sender: ClientId,
        file: &OfferedFile,
        to: &str,
        offer_deadline: Instant,
    ) -> Result<StartedRelay, Refusal> {
        let mut registry = self.lock();
        let Some(sender_member) = registry.members.get(&sender) else {
            let text = "not joined".to_string();
            return Err(Refusal {
                code: ErrorCode::NoRecipients,
                text,
            });
        };
        let sender_outbox = sender_member.outbox.clone();
        let Audience {
            recipients,
            plain_members,
            absent,
        } = registry.recipients_for(sender, to)?;
        let outboxes = recipients.values().map(|r| r.outbox.clone()).collect();
        let mut nicks: Vec<String> = recipients.values().map(|r| r.nick.clone()).collect();
        nicks.sort_by_key(|nick| nick_key(nick));
        let relay = Relay::new(sender, file, sender_outbox, recipients, offer_deadline);
        let id = registry.transfers.start(relay);
        Ok(StartedRelay {
            id,
            recipients: outboxes,
            plain_members,
            absent,
            nicks,
        })
    }

    /// Whether connection `id` is a member (it has joined, and has not
    /// been sent away).
    pub fn is_member(&self, id: ClientId) -> bool {
        self.lock().members.contains_key(&id)
    }

    /// Whether relay `id` is still under way.
    pub fn relay_exists(&self, id: RelayId) -> bool {
        self.lock().transfers.contains(id)
    }

    /// Whether relay `id` waits for its first answer: nobody has accepted
    /// it yet, and somebody still may.
    pub fn awaits_answer(&self, id: RelayId) -> bool {
        self.lock().transfers.awaits_answer(id)
    }

    /// `ACCEPT` from `recipient` for relay `id`, from `offset`.
    ///
    /// # Errors
    ///
    /// As [`Transfers::accept`].
    pub fn accept(
        &self,
        id: RelayId,
        recipient: ClientId,
        offset: u64,
    ) -> Result<(), TransferError> {
        let deliveries = self.lock().transfers.accept(id, recipient, offset)?;
        send_deliveries((deliveries, Vec::new()));
        Ok(())
    }

    /// `DECLINE` from `recipient` for relay `id`. Returns `false` if it was
    /// not a recipient.
    pub fn decline(&self, id: RelayId, recipient: ClientId, reason: &str) -> bool {
        let mut registry = self.lock();
        let deliveries = registry.transfers.decline(id, recipient, reason);
        let log_lines = registry.transfers.take_log();
        drop(registry);
        let declined = deliveries.is_some();
        send_deliveries((deliveries.unwrap_or_default(), log_lines));
        declined
    }

    /// Where a chunk of `len` bytes of relay `id` goes (see
    /// [`Transfers::plan_chunk`]); `None` if the relay is gone.
    pub fn plan_chunk(&self, id: RelayId, len: usize) -> Option<Result<ChunkPlan, TransferError>> {
        let mut registry = self.lock();
        registry
            .transfers
            .contains(id)
            .then(|| registry.transfers.plan_chunk(id, len))
    }

    /// `DATA`: a chunk for relay `id` is being read (see
    /// `Relay::chunk_arriving`).
    pub fn chunk_arriving(&self, id: RelayId) {
        self.lock().transfers.chunk_arriving(id);
    }

    /// `FROM`: the sender's next data for relay `id` starts at `offset`;
    /// `None` if the relay is gone.
    pub fn go_back(&self, id: RelayId, offset: u64) -> Option<Result<(), TransferError>> {
        let mut registry = self.lock();
        registry
            .transfers
            .contains(id)
            .then(|| registry.transfers.go_back(id, offset))
    }

    /// `DONE` for relay `id`: the outboxes that get `DONE`; `None` if the
    /// relay is gone.
    pub fn done(&self, id: RelayId, checksum: u32) -> Option<Result<Vec<Outbox>, TransferError>> {
        let mut registry = self.lock();
        registry
            .transfers
            .contains(id)
            .then(|| registry.transfers.done(id, checksum))
    }

    /// Stops relay `id` before the end of the file: its remaining
    /// recipients are sent `CANCEL` with `reason`.
    pub fn cancel_relay(&self, id: RelayId, reason: &str) {
        let mut registry = self.lock();
        let deliveries = registry.transfers.cancel(id, reason);
        let log_lines = registry.transfers.take_log();
        drop(registry);
        send_deliveries((deliveries, log_lines));
    }

    /// Records how relay `id` turned out for `recipient`, and tells the
    /// sender. Returns `false` if `recipient` was not receiving it.
    pub fn report_delivery(&self, id: RelayId, recipient: ClientId, outcome: Delivery) -> bool {
        let mut registry = self.lock();
        let Some(deliveries) = registry.transfers.report(id, recipient, outcome) else {
            return false;
        };
        let log_lines = registry.transfers.take_log();
        drop(registry);
        send_deliveries((deliveries, log_lines));
        true
    }

    /// Ends offers and transfers that have waited too long (see
    /// [`Transfers::expire`]).
    pub fn expire(&self, now: Instant, offer_timeout: Duration, data_timeout: Duration) {
        let mut registry = self.lock();
        let deliveries = registry.transfers.expire(now, offer_timeout, data_timeout);
        let log_lines = registry.transfers.take_log();
        drop(registry);
        send_deliveries((deliveries, log_lines));
    }

    /// Everyone's nickname, sorted without regard to case.
    pub fn nicks(&self) -> Vec<String> {
        self.lock().nicks()
    }

    /// Encodes the `USERS` lines listing `nicks`.
    pub fn users_message(nicks: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_users(nicks.iter().map(String::as_str), &mut out);
        out
    }

    /// Starts the shutdown: refuses new connections, sends `farewell` to
    /// every connection (its text version to plain clients) and closes
    /// each once its queue is sent.
    pub fn close_all(&self, farewell: &ServerMessage) {
        let outboxes: Vec<(Outbox, ClientKind)> = {
            let mut registry = self.lock();
            registry.closing = true;
            let pending = registry.pending.values();
            let pending = pending.map(|outbox| (outbox.clone(), ClientKind::Full));
            let members = registry.members.values();
            let members = members.map(|member| (member.outbox.clone(), member.kind));
            pending.chain(members).collect()
        };
        let full = encode_for(ClientKind::Full, farewell);
        let plain = encode_for(ClientKind::Plain, farewell);
        for (outbox, kind) in outboxes {
            let frame = match kind {
                ClientKind::Plain => &plain,
                ClientKind::Full => &full,
            };
            outbox.send(Arc::clone(frame), Priority::Urgent);
            outbox.close();
        }
    }

    /// Waits until every connection is gone, or `timeout` passes. Returns
    /// how many connections are left.
    pub fn wait_until_empty(&self, timeout: Duration) -> usize {
        let registry = self.lock();
        let (registry, _) = self
            .client_removed
            .wait_timeout_while(registry, timeout, |registry| registry.connections() > 0)
            .unwrap_or_else(PoisonError::into_inner);
        registry.connections()
    }
}

impl Registry {
    /// Pending connections and members together.
    fn connections(&self) -> usize {
        self.pending.len() + self.members.len()
    }

    /// Adds a member and its nickname to the index, together.
    fn add_member(&mut self, id: ClientId, member: Member) {
        self.ids_by_nick.insert(nick_key(&member.nick), id);
        self.members.insert(id, member);
    }

    /// Removes a member and its nickname from the index, together.
    fn remove_member(&mut self, id: ClientId) -> Option<Member> {
        let member = self.members.remove(&id)?;
        self.ids_by_nick.remove(&nick_key(&member.nick));
        Some(member)
    }

    /// The member with nickname `nick` (in any case), if one is online.
    fn member_named(&self, nick: &str) -> Option<&Member> {
        let id = self.ids_by_nick.get(&nick_key(nick))?;
        self.members.get(id)
    }

    /// Whether the room is too big to announce joins and leaves (see
    /// [`LARGE_ROOM_MEMBERS`]), counting whoever is arriving or leaving.
    fn is_large_room(&self) -> bool {
        self.members.len() > LARGE_ROOM_MEMBERS
    }

    /// Who receives a file that `sender` offers to `to` (a nickname,
    /// several separated by commas, or `*`): the recipients, with their
    /// nicknames, the plain clients who can only be told about it, and
    /// the nicknames of a list that are not connected (a file offered
    /// again to those who had not finished it, some of whom may not be
    /// back yet). Refused if nobody named is connected.
    fn recipients_for(&self, sender: ClientId, to: &str) -> Result<Audience, Refusal> {
        let refuse = |code, text: String| Err(Refusal { code, text });
        let mut audience = Audience {
            recipients: HashMap::new(),
            plain_members: Vec::new(),
            absent: Vec::new(),
        };
        if to == "*" {
            for (&id, member) in &self.members {
                match member.kind {
                    ClientKind::Plain => audience.plain_members.push(member.outbox.clone()),
                    ClientKind::Full if id != sender => {
                        audience.recipients.insert(id, member.as_recipient());
                    }
                    ClientKind::Full => {}
                }
            }
            if audience.recipients.is_empty() {
                let text = "nobody else who can receive files is online".to_string();
                return refuse(ErrorCode::NoRecipients, text);
            }
            return Ok(audience);
        }
        // Nicknames cannot contain a comma, so it can separate them.
        for nick in to.split(',') {
            let shown = make_visible(nick);
            let Some(&id) = self.ids_by_nick.get(&nick_key(nick)) else {
                if !audience.absent.contains(&nick.to_string()) {
                    audience.absent.push(nick.to_string());
                }
                continue;
            };
            let member = &self.members[&id];
            if id == sender {
                let text = "you cannot send a file to yourself".to_string();
                return refuse(ErrorCode::NoRecipients, text);
            }
            if member.kind == ClientKind::Plain {
                let text = format!("{shown} uses a plain client, which cannot receive files");
                return refuse(ErrorCode::NoRecipients, text);
            }
            audience.recipients.insert(id, member.as_recipient());
        }
        if audience.recipients.is_empty() {
            let shown = make_visible(to).replace(',', ", ");
            return refuse(ErrorCode::NoSuchNick, format!("no user named {shown}"));
        }
        Ok(audience)
    }

    fn nicks(&self) -> Vec<String> {
        let mut nicks: Vec<String> = self.members.values().map(|m| m.nick.clone()).collect();
        nicks.sort_by_key(|nick| nick_key(nick));
        nicks
    }

    /// The outbox and kind of every member but `except`.
    fn members_except(&self, except: Option<ClientId>) -> Vec<(Outbox, ClientKind)> {
        self.members
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .map(|(_, member)| (member.outbox.clone(), member.kind))
            .collect()
    }
}

/// Sends frames collected under the lock, and logs the lines written
/// with them, now that it is released.
fn send_deliveries((deliveries, log_lines): (Deliveries, Vec<String>)) {
    for line in log_lines {
        log(format_args!("{line}"));
    }
    for (outbox, frame, priority) in deliveries {
        outbox.send(frame, priority);
    }
}

/// Queues `batch` for each recipient. The batch becomes one shared frame,
/// queued for every full client without a copy; its text version is made
/// only if a plain client is among the recipients, and then only once.
fn send_batch(recipients: &[(Outbox, ClientKind)], batch: Vec<u8>) {
    if batch.is_empty() {
        return;
    }
    let mut plain: Option<Frame> = None;
    let full: Frame = Arc::new(batch);
    for (outbox, kind) in recipients {
        let frame = match kind {
            ClientKind::Full => &full,
            ClientKind::Plain => plain.get_or_insert_with(|| Arc::new(plain_text_of(&full))),
        };
        outbox.send(Arc::clone(frame), Priority::Urgent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    /// An outbox writing to one end of a loopback connection, and the
    /// other end, to read what it sends.
    fn connection(name: &str) -> (Outbox, BufReader<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (far, _) = listener.accept().unwrap();
        far.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let timeout = Duration::from_secs(5);
        let outbox = Outbox::new(Arc::new(near), timeout, name.to_string(), None).unwrap();
        (outbox, BufReader::new(far))
    }

    /// A member whose outbox writes to a socket we can read from.
    fn member<'c>(
        clients: &'c Clients,
        nick: &str,
    ) -> (ClientId, Registration<'c>, BufReader<TcpStream>) {
        let (outbox, mut far) = connection(nick);
        let id = ClientId::next();
        let registration = clients.register(id, outbox).unwrap();
        clients.join(id, nick, ClientKind::Full).unwrap();
        // The greeting comes first, queued by `join` itself.
        let mut line = String::new();
        far.read_line(&mut line).unwrap();
        assert_eq!(line, format!("WELCOME {nick}\n"));
        line.clear();
        far.read_line(&mut line).unwrap();
        assert!(line.starts_with("USERS "), "{line:?}");
        (id, registration, far)
    }

    /// The members and the index of nicknames agree.
    fn assert_consistent(clients: &Clients) {
        let registry = clients.lock();
        assert_eq!(registry.members.len(), registry.ids_by_nick.len());
        for (key, id) in &registry.ids_by_nick {
            assert_eq!(&nick_key(&registry.members[id].nick), key);
        }
    }

    #[test]
    fn a_handler_that_panics_holding_the_lock_is_cleaned_up() {
        let clients = Arc::new(Clients::new(10, 0, LocalZone::UTC));
        let (_, _bob, mut bob_socket) = member(&clients, "bob");
        let doomed = Arc::clone(&clients);
        let outcome = thread::spawn(move || {
            let (_, _registration, _socket) = member(&doomed, "alice");
            let _guard = doomed.lock(); // held while panicking: poisons the mutex
            panic!("a bug in a connection's thread");
        })
        .join();
        assert!(outcome.is_err(), "the thread panicked");
        // The registration's Drop removed alice despite the poisoned lock,
        // and the registry still works for everyone else.
        assert_eq!(clients.nicks(), ["bob"]);
        let mut line = String::new();
        bob_socket.read_line(&mut line).unwrap();
        assert_eq!(line, "JOINED alice\n");
        line.clear();
        bob_socket.read_line(&mut line).unwrap();
        assert_eq!(line, "LEFT alice connection lost\n");
        let (_, _carol, _) = member(&clients, "carol");
        assert_eq!(clients.nicks(), ["bob", "carol"]);
        assert_consistent(&clients);
    }

    #[test]
    fn nicknames_are_unique_regardless_of_case() {
        let clients = Clients::new(10, 0, LocalZone::UTC);
        let (_, _alice, _) = member(&clients, "Alice");
        let (outbox, _far) = connection("test");
        let id = ClientId::next();
        let _registration = clients.register(id, outbox);
        assert!(clients.join(id, "aLiCe", ClientKind::Plain).is_err());
        assert!(clients.join(id, "alice2", ClientKind::Plain).is_ok());
        assert_consistent(&clients);
    }

    #[test]
    fn the_registry_refuses_connections_beyond_its_maximum() {
        let clients = Clients::new(1, 0, LocalZone::UTC);
        assert!(!clients.is_full());
        let (_, _first, _) = member(&clients, "first");
        assert!(clients.is_full());
        let (outbox, _far) = connection("test");
        assert!(clients.register(ClientId::next(), outbox).is_none());
    }

    #[test]
    fn a_pending_connection_that_leaves_is_not_announced() {
        let clients = Clients::new(10, 0, LocalZone::UTC);
        let (_, _bob, mut bob_socket) = member(&clients, "bob");
        let (outbox, _far) = connection("test");
        drop(clients.register(ClientId::next(), outbox));
        let (_, _carol, _) = member(&clients, "carol");
        let mut line = String::new();
        bob_socket.read_line(&mut line).unwrap();
        assert_eq!(line, "JOINED carol\n", "nothing about the one that left");
        assert_consistent(&clients);
    }
}
