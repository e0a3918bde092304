//! How the server passes a file on: chunk by chunk, never the whole file.
//!
//! A sender announces a file with `SEND`, then sends it as `DATA` chunks
//! on the same connection as its chat, and ends with `DONE` and the file's
//! checksum. For each chunk the sender's thread reads the bytes once into
//! one buffer, puts the server's `DATA` header in front, and queues that
//! one shared frame for every recipient (see `outbox.rs`). The server never
//! writes files and never holds more than a few chunks per transfer:
//!
//! - each recipient's queue takes file data only up to a limit; beyond
//!   it, queueing the next chunk waits for that recipient to catch up;
//! - while it waits, this thread reads nothing more from the sender, so
//!   TCP's own flow control stops the sender too (its socket buffer
//!   fills up and its writes block).
//!
//! That chain is **backpressure**: the file moves at the pace of its
//! slowest recipient, and memory stays flat however large the file is.
//! A recipient that stops reading altogether is disconnected after
//! the stall timeout, and the file goes on to the others.
//!
//! Recipients report how it went with `RECEIVED`; the registry
//! (`registry.rs`) passes each report to the sender as `DELIVERED`.

use crate::ids::{ClientId, RelayId};
use crate::log::log;
use crate::outbox::{Frame, Outbox, Priority, Token};
use crate::plain::{ClientKind, encode_for, reply_error};
use crate::shared::Server;
use crate::transfers::{ChunkPlan, OfferedFile};
use ftpchat::protocol::{Chunk, Delivery, ErrorCode, ServerMessage};
use ftpchat::text::{format_size, make_visible};
use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Instant;

/// The member whose file frame is being handled: who they are, how to
/// answer them, and the server they are on.
pub struct FileSender<'a> {
    /// The member's connection.
    pub id: ClientId,
    /// The member's nickname, for the recipients.
    pub nick: &'a str,
    /// Where answers to the member go.
    pub outbox: &'a Outbox,
    /// The server, for its registry and settings.
    pub server: &'a Server,
}

/// A `SEND`: the sender's number for the file, its size and stamp, to
/// whom, and its name.
pub struct Offer<'a> {
    /// The sender's number for the transfer.
    pub id: u64,
    /// The file's size in bytes.
    pub size: u64,
    /// The sender's stamp for this version of the file, passed on.
    pub stamp: &'a str,
    /// A nickname, several separated by commas, or `*`.
    pub to: &'a str,
    /// The file's name, as the sender gave it.
    pub name: &'a str,
}

/// The files one member is sending: the server's number for each, by the
/// member's own transfer id.
#[derive(Default)]
pub struct Files {
    sending: HashMap<u64, RelayId>,
}

impl Files {
    /// `SEND`: the client offers a file. Finds its recipients, offers the
    /// file to them with `FILE`, and answers the sender `ACCEPTED` (or
    /// `REFUSED`, with the reason). Data flows once a recipient accepts.
    pub fn offer(&mut self, sender: &FileSender, offer: &Offer) {
        let Offer {
            id,
            size,
            stamp,
            to,
            name,
        } = *offer;
        let settings = &sender.server.settings;
        let clients = &sender.server.clients;
        self.sending.retain(|_, relay| clients.relay_exists(*relay));
        if self.sending.contains_key(&id) {
            let text = format!("transfer {id} is already under way");
            return refuse(sender, id, ErrorCode::TransferExists, &text);
        }
        if self.sending.len() >= settings.max_transfers {
            let text = format!(
                "you have {} transfers under way, the most this server allows; wait for one to end",
                self.sending.len()
            );
            return refuse(sender, id, ErrorCode::TooManyTransfers, &text);
        }
        if size > settings.max_file_size {
            let limit = settings.max_file_size;
            let text = format!("the file is {size} bytes; this server takes at most {limit}");
            return refuse(sender, id, ErrorCode::FileTooLarge, &text);
        }
        let deadline = Instant::now() + settings.offer_timeout;
        let file = OfferedFile {
            sender_id: id,
            from: sender.nick,
            name,
            size,
        };
        let started = match clients.start_relay(sender.id, &file, to, deadline) {
            Ok(started) => started,
            Err(refusal) => return refuse(sender, id, refusal.code, &refusal.text),
        };
        let absent = match started.absent.is_empty() {
            true => String::new(),
            false => format!(" (not connected: {})", started.absent.join(", ")),
        };
        log(format_args!(
            "{} {} offers {:?} ({size} bytes) to {} as transfer {}{absent}",
            sender.id,
            sender.nick,
            make_visible(name),
            started.nicks.join(", "),
            started.id
        ));
        // Answer the sender first: a recipient may answer at once, and
        // that answer must not reach the sender before `ACCEPTED`.
        let accepted = ServerMessage::Accepted {
            id,
            recipients: started.recipients.len() + started.absent.len(),
        };
        reply(sender, &accepted);
        for nick in &started.absent {
            let lost = ServerMessage::Delivered {
                id,
                nick,
                outcome: Delivery::Lost("not connected"),
            };
            reply(sender, &lost);
        }
        let file = ServerMessage::File {
            id: started.id.number(),
            size,
            stamp,
            from: sender.nick,
            name,
        };
        let file = Arc::new(file.to_bytes());
        for outbox in &started.recipients {
            outbox.send(Arc::clone(&file), Priority::Urgent);
        }
        let text = format!(
            "{} is sharing {} ({}); receiving files needs the full client, ftpclient",
            sender.nick,
            make_visible(name),
            format_size(size)
        );
        let notice = encode_for(ClientKind::Plain, &ServerMessage::Notice { text: &text });
        for outbox in &started.plain_members {
            outbox.send(Arc::clone(&notice), Priority::Urgent);
        }
        self.sending.insert(id, started.id);
    }

    /// `DATA`: reads one chunk and queues it for every recipient whose
    /// offset is inside it. Never waits for a recipient: the sender's
    /// credit (see `flow.rs`) bounds what is queued.
    ///
    /// # Errors
    ///
    /// The connection failed or closed in the middle of the chunk.
    pub fn relay_chunk<R: Read>(
        &mut self,
        sender: &FileSender,
        mut chunk: Chunk<'_, R>,
    ) -> io::Result<()> {
        let id = chunk.id();
        let len = chunk.len();
        let Some(relay) = self.under_way(sender, id) else {
            // The length is known, so the stream stays in step: skip the
            // chunk (the sender has been told why).
            return chunk.skip();
        };
        let mut frame = Vec::with_capacity(len + 32);
        let header = ServerMessage::Data {
            id: relay.number(),
            len,
        };
        header.encode(&mut frame);
        let header_len = frame.len();
        let clients = &sender.server.clients;
        clients.chunk_arriving(relay);
        chunk.read_to_vec(&mut frame)?;
        let plan = match clients.plan_chunk(relay, len) {
            Some(Ok(plan)) => plan,
            Some(Err(error)) => {
                self.abandon(sender, id, error.code, &error.text);
                return Ok(());
            }
            None => return no_such_transfer(sender, id),
        };
        queue_chunk(relay, Arc::new(frame), header_len, len, plan);
        Ok(())
    }

    /// `FROM`: the sender goes back to `offset`, to send again what a
    /// recipient that answered late (or resumes) still needs.
    pub fn go_back(&mut self, sender: &FileSender, id: u64, offset: u64) {
        let Some(relay) = self.under_way(sender, id) else {
            return;
        };
        if let Some(Err(error)) = sender.server.clients.go_back(relay, offset) {
            reply_error(sender.outbox, ClientKind::Full, error.code, &error.text);
        }
    }

    /// `DONE`: checks that the data reached the file's end, and passes the
    /// checksum on to the recipients that now have every byte. The relay
    /// then waits for their reports.
    pub fn finish(&mut self, sender: &FileSender, id: u64, checksum: u32) {
        let Some(relay) = self.under_way(sender, id) else {
            return;
        };
        let complete = match sender.server.clients.done(relay, checksum) {
            Some(Ok(complete)) => complete,
            Some(Err(error)) => return self.abandon(sender, id, error.code, &error.text),
            None => return no_such_transfer(sender, id).unwrap_or_default(),
        };
        let done = ServerMessage::Done {
            id: relay.number(),
            checksum,
        };
        let done = Arc::new(done.to_bytes());
        for outbox in complete {
            // Behind the data already queued for it.
            outbox.send(Arc::clone(&done), Priority::Bulk);
        }
    }

    /// `CANCEL`: the sender gives up; the recipients are told to discard
    /// what they have.
    pub fn cancel(&mut self, sender: &FileSender, id: u64, reason: &str) {
        match self.sending.remove(&id) {
            Some(relay) => {
                let reason = match reason {
                    "" => format!("{} cancelled it", sender.nick),
                    reason => format!("{} cancelled it: {reason}", sender.nick),
                };
                sender.server.clients.cancel_relay(relay, &reason);
            }
            None => no_such_transfer(sender, id).unwrap_or_default(),
        }
    }

    /// The server's number for the sender's transfer `id`, if it is under
    /// way and may take data. Data before any recipient has accepted has
    /// nowhere to go: the transfer is refused (`not-accepted`) and its
    /// offers withdrawn. (`ftpclient` never does this; it waits for
    /// `RECEIVING`.) Answers the sender itself when it returns `None`.
    fn under_way(&mut self, sender: &FileSender, id: u64) -> Option<RelayId> {
        let clients = &sender.server.clients;
        let Some(&relay) = self.sending.get(&id).filter(|&&r| clients.relay_exists(r)) else {
            self.sending.remove(&id);
            let _ = no_such_transfer(sender, id);
            return None;
        };
        if clients.awaits_answer(relay) {
            self.sending.remove(&id);
            let reason = "the sender sent data before anyone accepted";
            clients.cancel_relay(relay, reason);
            let text = "nobody has accepted the file yet; send its data after RECEIVING";
            refuse(sender, id, ErrorCode::NotAccepted, text);
            return None;
        }
        Some(relay)
    }

    /// Stops a transfer whose sender broke its rules (data that does not
    /// match the announced size, or beyond its credit): the recipients
    /// discard it, and the sender is told why.
    fn abandon(&mut self, sender: &FileSender, id: u64, code: ErrorCode, why: &str) {
        if let Some(relay) = self.sending.remove(&id) {
            let reason = match code {
                ErrorCode::WrongSize => format!("the sender sent {why}"),
                _ => format!("the sender broke the rules: {why}"),
            };
            sender.server.clients.cancel_relay(relay, &reason);
        }
        refuse(sender, id, code, why);
    }
}

/// `ACCEPT`: a recipient (`receiver`) takes file `id` from `offset`.
pub fn accept(receiver: &FileSender, id: u64, offset: u64) {
    let relay = RelayId::from_number(id);
    if let Err(error) = receiver.server.clients.accept(relay, receiver.id, offset) {
        reply_error(receiver.outbox, ClientKind::Full, error.code, &error.text);
    }
}

/// `DECLINE`: a recipient (`receiver`) refuses file `id`, or stops
/// receiving it.
pub fn decline(receiver: &FileSender, id: u64, reason: &str) {
    let relay = RelayId::from_number(id);
    if !receiver.server.clients.decline(relay, receiver.id, reason) {
        not_receiving(receiver, id);
    }
}

/// `RECEIVED`: a recipient (`receiver`) says how a file turned out.
pub fn report(receiver: &FileSender, id: u64, outcome: Delivery) {
    let relay = RelayId::from_number(id);
    if !receiver
        .server
        .clients
        .report_delivery(relay, receiver.id, outcome)
    {
        not_receiving(receiver, id);
    }
}

/// Answers a recipient's frame about a file it is not receiving.
fn not_receiving(receiver: &FileSender, id: u64) {
    let text = format!("you are not receiving transfer {id}");
    reply_error(
        receiver.outbox,
        ClientKind::Full,
        ErrorCode::NoSuchTransfer,
        &text,
    );
}

/// Answers a frame about a transfer that is not under way.
fn no_such_transfer(sender: &FileSender, id: u64) -> io::Result<()> {
    let text = format!("no transfer {id} is under way");
    reply_error(
        sender.outbox,
        ClientKind::Full,
        ErrorCode::NoSuchTransfer,
        &text,
    );
    Ok(())
}

/// Answers the sender of transfer `id` with `REFUSED`.
fn refuse(sender: &FileSender, id: u64, code: ErrorCode, text: &str) {
    let refused = ServerMessage::Refused {
        id,
        code: code.as_str(),
        text,
    };
    reply(sender, &refused);
}

fn reply(sender: &FileSender, message: &ServerMessage) {
    let frame = encode_for(ClientKind::Full, message);
    sender.outbox.send(frame, Priority::Urgent);
}

/// Queues one chunk (`frame`: its header, `header_len` bytes, then `len`
/// bytes of the chunk) for the recipients of `plan`. Those at the chunk's
/// start share the one frame; one that already has the chunk's first
/// bytes (it accepted from the middle of it) gets a frame of the rest.
/// Never waits: the sender's credit bounds what is queued, and comes back
/// as the recipients take the chunk (backpressure, without blocking).
fn queue_chunk(relay: RelayId, frame: Frame, header_len: usize, len: usize, plan: ChunkPlan) {
    let token: Token = plan.token;
    for (outbox, skip) in plan.receivers {
        if skip == 0 {
            outbox.send_chunk(Arc::clone(&frame), len, Arc::clone(&token));
            continue;
        }
        let rest = &frame[header_len + skip..];
        let mut tail = Vec::with_capacity(rest.len() + 32);
        let header = ServerMessage::Data {
            id: relay.number(),
            len: rest.len(),
        };
        header.encode(&mut tail);
        tail.extend_from_slice(rest);
        outbox.send_chunk(Arc::new(tail), rest.len(), Arc::clone(&token));
    }
}
