//! The registry of connected clients, shared by every connection's thread.
//!
//! # Shared state between threads
//!
//! The server runs one thread per connection, and they all need to know
//! who else is connected: Alice's thread must reach Bob's connection to
//! relay her message. The registry is that shared knowledge: a
//! `HashMap<ClientId, Client>` behind one `Mutex`, inside an `Arc` that
//! every thread holds a clone of.
//!
//! All locking happens in this file. The handler threads call methods such
//! as [`Clients::broadcast`] and never see the lock, so the rules are in
//! one place:
//!
//! - the lock is held only to look things up or change the map, never
//!   while writing to a socket (that is the writer threads' job; see
//!   `outbox.rs`): one slow client must not hold up everyone else;
//! - a panic in some thread while it held the lock "poisons" the mutex; the
//!   map is still consistent (each method changes it in one step), so we
//!   take the data and carry on instead of crashing the whole server.
//!
//! # Why clients are keyed by a connection id
//!
//! The original program keyed clients by their port number. But a port
//! number does not identify a connection: two machines can connect from
//! the same source port, and once a client leaves, the operating system
//! reuses its port for someone else. A [`ClientId`] is a counter that is
//! never reused while the server runs, so a stale id can never reach the
//! wrong person.
//!
//! # Files in flight
//!
//! The registry also remembers each file being relayed (a [`Relay`]): who
//! sends it, and which recipients have not yet said whether they saved it.
//! That is what lets the server tell a sender that a recipient left half
//! way, and tell the recipients that a sender left half way. The file's
//! bytes themselves never stay here: the sender's thread passes each chunk
//! straight on to the recipients' outboxes.

use crate::outbox::{Frame, Outbox, Priority};
use ftpchat::display::describe;
use ftpchat::protocol::{Delivery, ErrorCode, ServerMessage, encode_users, nick_key};
use ftpchat::text::make_visible;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Above this many members, joins and leaves are no longer announced.
///
/// Announcing each arrival to everyone costs one message per member, so
/// filling a room of N people costs N × N / 2 messages: 50 million for
/// 10,000 people. Chat services and IRC servers stop announcing presence in
/// large rooms for the same reason; `/who` still lists everyone.
pub const LARGE_ROOM_MEMBERS: usize = 200;

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

/// Which language a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// `ftpclient`: protocol lines (and, later, file data).
    Full,
    /// A person with `nc` or `telnet`: readable text lines only.
    Plain,
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientKind::Full => "full client",
            ClientKind::Plain => "plain client",
        })
    }
}

/// What the registry knows about one connection.
struct Client {
    outbox: Arc<Outbox>,
    /// Set once the handshake has succeeded.
    member: Option<Member>,
}

/// A client that has finished the handshake.
struct Member {
    nick: String,
    kind: ClientKind,
}

/// The map itself: what the mutex protects.
#[derive(Default)]
struct Registry {
    /// Every open connection, including those still in the handshake.
    clients: HashMap<ClientId, Client>,
    /// The ids of members by [`nick_key`], to find a nickname quickly and
    /// keep nicknames unique.
    ids_by_nick: HashMap<String, ClientId>,
    /// Files being relayed, by the server's transfer number.
    relays: HashMap<RelayId, Relay>,
    /// The number the last relay got.
    last_relay: RelayId,
    /// Set when the server shuts down: departures are no longer announced.
    closing: bool,
}

/// The server's number for a file it relays. Recipients see it in `FILE`,
/// `DATA`, `DONE` and `CANCEL`; it is unique on the server, so two senders
/// who both number their first file 1 cannot be confused.
pub type RelayId = u64;

/// A file being relayed.
struct Relay {
    sender: ClientId,
    /// The sender's own number for the transfer.
    sender_id: u64,
    sender_outbox: Arc<Outbox>,
    /// Recipients that have not reported yet, with their nicknames.
    waiting: HashMap<ClientId, (String, Arc<Outbox>)>,
    /// The sender has sent `DONE`: only the reports are still due.
    sent: bool,
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
    pub recipients: Vec<Arc<Outbox>>,
    /// Plain clients who cannot receive it (they get a notice instead).
    pub plain_members: Vec<Arc<Outbox>>,
}

/// The shared registry of clients. See the module documentation.
pub struct Clients {
    registry: Mutex<Registry>,
    /// Signalled whenever a connection is removed; shutdown waits on it.
    client_removed: Condvar,
    max_clients: usize,
}

/// Why a nickname could not be taken.
#[derive(Debug)]
pub struct NickTaken;

/// Why a message could not be delivered to one user.
#[derive(Debug)]
pub struct NoSuchNick;

/// Appends the text a plain client sees for `message`, ending in `\r\n`,
/// the line ending of Internet text protocols (`telnet` needs the `\r`).
pub fn push_plain(message: &ServerMessage, out: &mut Vec<u8>) {
    if let Some(text) = describe(message) {
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The text version of `lines`, which holds whole encoded server messages:
/// what a plain client is sent instead of them.
pub fn plain_text_of(lines: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    for line in lines.split(|&b| b == b'\n') {
        let message = std::str::from_utf8(line).ok().map(ServerMessage::decode);
        if let Some(Ok(message)) = message {
            push_plain(&message, &mut text);
        }
    }
    text
}

/// The frame that greets a new member: `WELCOME` and the `USERS` lines
/// for a full client, the same in words for a plain one.
fn greeting(nick: &str, kind: ClientKind, users: Vec<u8>) -> Frame {
    let mut frame = Vec::new();
    match kind {
        ClientKind::Full => {
            ServerMessage::Welcome { nick }.encode(&mut frame);
            frame.extend(users);
        }
        ClientKind::Plain => {
            let text = format!(
                "welcome to ftpchat, {nick}! Type a line to talk to everyone, /help for commands"
            );
            push_plain(&ServerMessage::Notice { text: &text }, &mut frame);
            frame.extend(plain_text_of(&users));
        }
    }
    Arc::new(frame)
}

/// Encodes `message` for a client of the given kind.
pub fn encode_for(kind: ClientKind, message: &ServerMessage) -> Frame {
    let mut frame = Vec::new();
    match kind {
        ClientKind::Full => message.encode(&mut frame),
        ClientKind::Plain => push_plain(message, &mut frame),
    }
    Arc::new(frame)
}

/// A place in the registry, held by a connection's handler for as long as
/// the connection is open. Dropping it removes the client (and announces
/// the departure, if it had joined) however the handler ends: by
/// returning, by an error, or by a panic.
pub struct Registration<'a> {
    clients: &'a Clients,
    id: ClientId,
    /// Why the client left, as the others will be told.
    pub leave_reason: String,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.clients.remove(self.id, &self.leave_reason);
    }
}

impl Clients {
    /// An empty registry that admits up to `max_clients` connections.
    pub fn new(max_clients: usize) -> Clients {
        Clients {
            registry: Mutex::new(Registry::default()),
            client_removed: Condvar::new(),
            max_clients,
        }
    }

    /// Locks the registry; a poisoned lock is recovered (see the module
    /// documentation).
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a new connection, still in its handshake. Returns `None` if
    /// the server already has its maximum number of clients, or is
    /// shutting down.
    pub fn register(&self, id: ClientId, outbox: Arc<Outbox>) -> Option<Registration<'_>> {
        let mut registry = self.lock();
        if registry.closing || registry.clients.len() >= self.max_clients {
            return None;
        }
        registry.clients.insert(
            id,
            Client {
                outbox,
                member: None,
            },
        );
        Some(Registration {
            clients: self,
            id,
            leave_reason: "connection lost".to_string(),
        })
    }

    /// Makes connection `id` a member named `nick`, greets it (`WELCOME`
    /// and who is online: everyone's nickname, or in a large room just the
    /// count), and tells the others (unless the room is large).
    ///
    /// # Errors
    ///
    /// [`NickTaken`] if another member has that nickname (ignoring case).
    pub fn join(&self, id: ClientId, nick: &str, kind: ClientKind) -> Result<(), NickTaken> {
        let recipients = {
            let mut registry = self.lock();
            let key = nick_key(nick);
            if registry.ids_by_nick.contains_key(&key) {
                return Err(NickTaken);
            }
            let Some(client) = registry.clients.get_mut(&id) else {
                return Err(NickTaken); // cannot happen: `id` is registered
            };
            client.member = Some(Member {
                nick: nick.to_string(),
                kind,
            });
            let outbox = Arc::clone(&client.outbox);
            registry.ids_by_nick.insert(key, id);
            // In a large room, neither the others are told, nor is the
            // newcomer sent every name: the count will do (`WHO` lists all).
            let (users, recipients) = if registry.is_large_room() {
                let total = registry.ids_by_nick.len();
                let users = ServerMessage::Users { total, nicks: "" }.to_bytes();
                (users, Vec::new())
            } else {
                let users = Clients::users_message(&registry.nicks());
                (users, registry.members_except(Some(id)))
            };
            // The greeting is queued before the lock is released: from the
            // moment others can relay to the newcomer, their messages queue
            // behind it, so its first line is always WELCOME. (Its queue
            // is empty, so this never waits.)
            outbox.send(greeting(nick, kind, users), Priority::Urgent);
            recipients
        };
        send_batch(&recipients, ServerMessage::Joined { nick }.to_bytes());
        Ok(())
    }

    /// Removes connection `id`; if it was a member, tells the others that
    /// it left, and why.
    fn remove(&self, id: ClientId, reason: &str) {
        let (nick, recipients, deliveries) = {
            let mut registry = self.lock();
            let Some(client) = registry.clients.remove(&id) else {
                return;
            };
            self.client_removed.notify_all();
            let Some(member) = client.member else {
                return;
            };
            // The room's size with the leaver still in it decides, as the
            // size with the newcomer in it does for a join.
            let large = registry.is_large_room();
            registry.ids_by_nick.remove(&nick_key(&member.nick));
            if registry.closing {
                return;
            }
            let deliveries = registry.forget_relays_of(id, reason);
            let recipients = match large {
                true => Vec::new(),
                false => registry.members_except(None),
            };
            (member.nick, recipients, deliveries)
        };
        // Sending may wait for a slow client: never with the lock held.
        for (outbox, frame, priority) in deliveries {
            outbox.send(frame, priority);
        }
        let left = ServerMessage::Left {
            nick: &nick,
            reason,
        };
        send_batch(&recipients, left.to_bytes());
    }

    /// Sends `batch`, one or more encoded server messages, to every member
    /// except `from`.
    pub fn broadcast(&self, from: ClientId, batch: Vec<u8>) {
        let recipients = self.lock().members_except(Some(from));
        // The lock is released before sending: `send` may wait for a slow
        // client's queue to drain, and nobody else should wait with it.
        send_batch(&recipients, batch);
    }

    /// Sends `message` to the member called `nick` alone.
    ///
    /// # Errors
    ///
    /// [`NoSuchNick`] if nobody by that name is online.
    pub fn send_to(&self, nick: &str, message: &ServerMessage) -> Result<(), NoSuchNick> {
        let (outbox, kind) = {
            let registry = self.lock();
            let id = registry
                .ids_by_nick
                .get(&nick_key(nick))
                .ok_or(NoSuchNick)?;
            let client = &registry.clients[id];
            let kind = client.member.as_ref().map_or(ClientKind::Full, |m| m.kind);
            (Arc::clone(&client.outbox), kind)
        };
        outbox.send(encode_for(kind, message), Priority::Urgent);
        Ok(())
    }

    /// Registers a file that `sender` offers to `to` (a nickname, or `*`
    /// for every other full client) under its own number `sender_id`.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] when nobody could receive it: the nickname is unknown
    /// or is the sender's own, the recipient is a plain client, or no other
    /// full client is online.
    pub fn start_relay(
        &self,
        sender: ClientId,
        sender_id: u64,
        to: &str,
    ) -> Result<StartedRelay, Refusal> {
        let refuse = |code, text: String| Err(Refusal { code, text });
        let mut registry = self.lock();
        let sender_outbox = match registry.clients.get(&sender) {
            Some(client) => Arc::clone(&client.outbox),
            None => return refuse(ErrorCode::NoRecipients, "not joined".to_string()),
        };
        let mut waiting = HashMap::new();
        let mut plain_members = Vec::new();
        if to == "*" {
            for (id, client) in &registry.clients {
                match &client.member {
                    Some(m) if *id != sender && m.kind == ClientKind::Full => {
                        waiting.insert(*id, (m.nick.clone(), Arc::clone(&client.outbox)));
                    }
                    Some(m) if m.kind == ClientKind::Plain => {
                        plain_members.push(Arc::clone(&client.outbox))
                    }
                    _ => {}
                }
            }
            if waiting.is_empty() {
                let text = "nobody else who can receive files is online".to_string();
                return refuse(ErrorCode::NoRecipients, text);
            }
        } else {
            let shown = make_visible(to);
            let Some(&id) = registry.ids_by_nick.get(&nick_key(to)) else {
                return refuse(ErrorCode::NoSuchNick, format!("no user named {shown}"));
            };
            let client = &registry.clients[&id];
            let member = client
                .member
                .as_ref()
                .expect("ids_by_nick holds members only");
            if id == sender {
                return refuse(
                    ErrorCode::NoRecipients,
                    "you cannot send a file to yourself".to_string(),
                );
            }
            if member.kind == ClientKind::Plain {
                let text = format!("{shown} uses a plain client, which cannot receive files");
                return refuse(ErrorCode::NoRecipients, text);
            }
            waiting.insert(id, (member.nick.clone(), Arc::clone(&client.outbox)));
        }
        registry.last_relay += 1;
        let id = registry.last_relay;
        let recipients = waiting
            .values()
            .map(|(_, outbox)| Arc::clone(outbox))
            .collect();
        let relay = Relay {
            sender,
            sender_id,
            sender_outbox,
            waiting,
            sent: false,
        };
        registry.relays.insert(id, relay);
        Ok(StartedRelay {
            id,
            recipients,
            plain_members,
        })
    }

    /// Puts into `outboxes` the outboxes of the recipients of relay `id`
    /// that still want the file (they have not left or reported a failure).
    pub fn relay_recipients(&self, id: RelayId, outboxes: &mut Vec<Arc<Outbox>>) {
        outboxes.clear();
        if let Some(relay) = self.lock().relays.get(&id) {
            outboxes.extend(relay.waiting.values().map(|(_, outbox)| Arc::clone(outbox)));
        }
    }

    /// Notes that the sender of relay `id` has sent everything: the relay
    /// now only waits for the recipients' reports.
    pub fn finish_relay(&self, id: RelayId) {
        let mut registry = self.lock();
        if let Some(relay) = registry.relays.get_mut(&id) {
            relay.sent = true;
            if relay.waiting.is_empty() {
                registry.relays.remove(&id);
            }
        }
    }

    /// Stops relay `id` before the end of the file: its remaining
    /// recipients are sent `CANCEL` with `reason`.
    pub fn cancel_relay(&self, id: RelayId, reason: &str) {
        let relay = self.lock().relays.remove(&id);
        let mut deliveries = Vec::new();
        if let Some(relay) = relay {
            relay.cancel(id, reason, &mut deliveries);
        }
        for (outbox, frame, priority) in deliveries {
            outbox.send(frame, priority);
        }
    }

    /// Records how relay `id` turned out for `recipient`, and tells the
    /// sender. Returns `false` if `recipient` was not waiting for it.
    pub fn report_delivery(&self, id: RelayId, recipient: ClientId, outcome: Delivery) -> bool {
        let (sender_outbox, sender_id, nick) = {
            let mut registry = self.lock();
            let Some(relay) = registry.relays.get_mut(&id) else {
                return false;
            };
            let Some((nick, _)) = relay.waiting.remove(&recipient) else {
                return false;
            };
            let reply = (Arc::clone(&relay.sender_outbox), relay.sender_id, nick);
            if relay.sent && relay.waiting.is_empty() {
                registry.relays.remove(&id);
            }
            reply
        };
        let message = ServerMessage::Delivered {
            id: sender_id,
            nick: &nick,
            outcome,
        };
        sender_outbox.send(Arc::new(message.to_bytes()), Priority::Urgent);
        true
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
    /// every member (its text version to plain clients) and closes every
    /// connection once its queue is sent.
    pub fn close_all(&self, farewell: &ServerMessage) {
        let outboxes: Vec<(Arc<Outbox>, Option<ClientKind>)> = {
            let mut registry = self.lock();
            registry.closing = true;
            let all = registry.clients.values();
            all.map(|c| (Arc::clone(&c.outbox), c.member.as_ref().map(|m| m.kind)))
                .collect()
        };
        let full = encode_for(ClientKind::Full, farewell);
        let plain = encode_for(ClientKind::Plain, farewell);
        for (outbox, kind) in outboxes {
            let frame = match kind {
                Some(ClientKind::Plain) => &plain,
                _ => &full,
            };
            outbox.send(Arc::clone(frame), Priority::Urgent);
            outbox.close();
        }
    }

    /// Waits until every connection is gone, or `timeout` passes. Returns
    /// how many connections are left.
    pub fn wait_until_empty(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut registry = self.lock();
        while !registry.clients.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            registry = self
                .client_removed
                .wait_timeout(registry, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        registry.clients.len()
    }
}

/// Frames to send once the registry's lock is released: where, what, and
/// in which queue.
type Deliveries = Vec<(Arc<Outbox>, Frame, Priority)>;

impl Relay {
    /// The `CANCEL` frames for every recipient still waiting. They go in
    /// the bulk queue, so they arrive after the data already queued.
    fn cancel(&self, id: RelayId, reason: &str, deliveries: &mut Deliveries) {
        let cancel: Frame = Arc::new(ServerMessage::Cancel { id, reason }.to_bytes());
        for (_, outbox) in self.waiting.values() {
            deliveries.push((Arc::clone(outbox), Arc::clone(&cancel), Priority::Bulk));
        }
    }
}

impl Registry {
    /// Whether the room is too big to announce joins and leaves (see
    /// [`LARGE_ROOM_MEMBERS`]), counting whoever is arriving or leaving.
    fn is_large_room(&self) -> bool {
        self.ids_by_nick.len() > LARGE_ROOM_MEMBERS
    }

    /// Updates the relays for a client that left: files it was sending are
    /// cancelled, and senders of files it was receiving are told it did
    /// not get them. Returns the frames that say so.
    fn forget_relays_of(&mut self, client: ClientId, reason: &str) -> Deliveries {
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
                deliveries.push((Arc::clone(&relay.sender_outbox), frame, Priority::Urgent));
            }
            !(relay.sent && relay.waiting.is_empty())
        });
        deliveries
    }

    fn nicks(&self) -> Vec<String> {
        let mut nicks: Vec<String> = self
            .clients
            .values()
            .filter_map(|c| c.member.as_ref().map(|m| m.nick.clone()))
            .collect();
        nicks.sort_by_key(|nick| nick_key(nick));
        nicks
    }

    /// The outbox and kind of every member but `except`.
    fn members_except(&self, except: Option<ClientId>) -> Vec<(Arc<Outbox>, ClientKind)> {
        self.clients
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter_map(|(_, c)| c.member.as_ref().map(|m| (Arc::clone(&c.outbox), m.kind)))
            .collect()
    }
}

/// Queues `batch` for each recipient. The batch becomes one shared frame,
/// queued for every full client without a copy; its text version is made
/// only if a plain client is among the recipients, and then only once.
fn send_batch(recipients: &[(Arc<Outbox>, ClientKind)], batch: Vec<u8>) {
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

    /// Both ends of a loopback TCP connection.
    fn connection() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (far, _) = listener.accept().unwrap();
        far.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (near, far)
    }

    /// A member whose outbox writes to a socket we can read from.
    fn member<'c>(
        clients: &'c Clients,
        nick: &str,
    ) -> (ClientId, Registration<'c>, BufReader<TcpStream>) {
        let (near, far) = connection();
        let outbox = Outbox::new(
            Arc::new(near),
            Duration::from_secs(5),
            nick.to_string(),
            None,
        )
        .unwrap();
        let id = ClientId::next();
        let registration = clients.register(id, outbox).unwrap();
        clients.join(id, nick, ClientKind::Full).unwrap();
        // The greeting comes first, queued by `join` itself.
        let mut far = BufReader::new(far);
        let mut line = String::new();
        far.read_line(&mut line).unwrap();
        assert_eq!(line, format!("WELCOME {nick}\n"));
        line.clear();
        far.read_line(&mut line).unwrap();
        assert!(line.starts_with("USERS "), "{line:?}");
        (id, registration, far)
    }

    #[test]
    fn a_handler_that_panics_holding_the_lock_is_cleaned_up() {
        let clients = Arc::new(Clients::new(10));
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
    }

    #[test]
    fn nicknames_are_unique_regardless_of_case() {
        let clients = Clients::new(10);
        let (_, _alice, _) = member(&clients, "Alice");
        let id = ClientId::next();
        let (near, _far) = connection();
        let _registration = clients.register(
            id,
            Outbox::new(
                Arc::new(near),
                Duration::from_secs(5),
                "test".to_string(),
                None,
            )
            .unwrap(),
        );
        assert!(clients.join(id, "aLiCe", ClientKind::Plain).is_err());
        assert!(clients.join(id, "alice2", ClientKind::Plain).is_ok());
    }

    #[test]
    fn the_registry_refuses_connections_beyond_its_maximum() {
        let clients = Clients::new(1);
        let (_, _first, _) = member(&clients, "first");
        let (near, _far) = connection();
        let outbox = Outbox::new(
            Arc::new(near),
            Duration::from_secs(5),
            "test".to_string(),
            None,
        )
        .unwrap();
        assert!(clients.register(ClientId::next(), outbox).is_none());
    }
}
