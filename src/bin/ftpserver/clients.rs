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

use crate::outbox::{Frame, Outbox};
use ftpchat::display::describe;
use ftpchat::protocol::{ServerMessage, encode_users, nick_key};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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
    /// Set when the server shuts down: departures are no longer announced.
    closing: bool,
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

    /// Makes connection `id` a member named `nick`, and tells the others.
    /// Returns the nicknames of everyone now online, to greet the newcomer.
    ///
    /// # Errors
    ///
    /// [`NickTaken`] if another member has that nickname (ignoring case).
    pub fn join(
        &self,
        id: ClientId,
        nick: &str,
        kind: ClientKind,
    ) -> Result<Vec<String>, NickTaken> {
        let (nicks, recipients) = {
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
            registry.ids_by_nick.insert(key, id);
            (registry.nicks(), registry.members_except(Some(id)))
        };
        send_batch(&recipients, ServerMessage::Joined { nick }.to_bytes());
        Ok(nicks)
    }

    /// Removes connection `id`; if it was a member, tells the others that
    /// it left, and why.
    fn remove(&self, id: ClientId, reason: &str) {
        let (nick, recipients) = {
            let mut registry = self.lock();
            let Some(client) = registry.clients.remove(&id) else {
                return;
            };
            self.client_removed.notify_all();
            let Some(member) = client.member else {
                return;
            };
            registry.ids_by_nick.remove(&nick_key(&member.nick));
            if registry.closing {
                return;
            }
            (member.nick, registry.members_except(None))
        };
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
        outbox.send(encode_for(kind, message));
        Ok(())
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
            outbox.send(Arc::clone(frame));
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

impl Registry {
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
        outbox.send(Arc::clone(frame));
    }
}
