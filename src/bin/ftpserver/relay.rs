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
use crate::outbox::{Outbox, Priority};
use crate::plain::{ClientKind, encode_for, reply_error};
use crate::shared::Server;
use ftpchat::protocol::{Chunk, Delivery, ErrorCode, ServerMessage};
use ftpchat::text::{format_size, make_visible};
use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Arc;

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

/// The files one member is sending, by its own transfer id.
#[derive(Default)]
pub struct Files {
    sending: HashMap<u64, Sending>,
}

/// A file being sent through the server.
struct Sending {
    /// The server's number for it.
    relay: RelayId,
    /// The size the sender announced.
    size: u64,
    /// Bytes relayed so far.
    relayed: u64,
}

impl Files {
    /// `SEND`: the client offers a file. Finds its recipients, announces
    /// the file to them with `FILE`, and answers the sender `ACCEPTED` (or
    /// `REFUSED`, with the reason).
    pub fn offer(&mut self, sender: &FileSender, id: u64, size: u64, to: &str, name: &str) {
        if self.sending.contains_key(&id) {
            let text = format!("transfer {id} is already under way");
            return refuse(sender, id, ErrorCode::TransferExists, &text);
        }
        let limit = sender.server.settings.max_file_size;
        if size > limit {
            let text = format!("the file is {size} bytes; this server takes at most {limit}");
            return refuse(sender, id, ErrorCode::FileTooLarge, &text);
        }
        let started = match sender.server.clients.start_relay(sender.id, id, to) {
            Ok(started) => started,
            Err(refusal) => return refuse(sender, id, refusal.code, &refusal.text),
        };
        log(format_args!(
            "{} {} sends {:?} ({size} bytes) to {} recipients as transfer {}",
            sender.id,
            sender.nick,
            make_visible(name),
            started.recipients.len(),
            started.id
        ));
        // Answer the sender first: a recipient may fail at once, and its
        // report (`DELIVERED`) must not reach the sender before `ACCEPTED`.
        let accepted = ServerMessage::Accepted {
            id,
            recipients: started.recipients.len(),
        };
        reply(sender, &accepted);
        let file = ServerMessage::File {
            id: started.id.number(),
            size,
            from: sender.nick,
            name,
        };
        let file = Arc::new(file.to_bytes());
        for outbox in &started.recipients {
            outbox.send(Arc::clone(&file), Priority::Bulk);
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
        let sending = Sending {
            relay: started.id,
            size,
            relayed: 0,
        };
        self.sending.insert(id, sending);
    }

    /// `DATA`: reads one chunk and queues it for every recipient still
    /// waiting for the file. May wait for slow recipients: that is the
    /// backpressure.
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
        let Some(sending) = self.sending.get_mut(&id) else {
            // The length is known, so the stream stays in step: skip the
            // chunk and say why.
            chunk.skip()?;
            let text = format!("no transfer {id} is under way");
            reply_error(
                sender.outbox,
                ClientKind::Full,
                ErrorCode::NoSuchTransfer,
                &text,
            );
            return Ok(());
        };
        if sending.relayed + len as u64 > sending.size {
            chunk.skip()?;
            let text = format!("more data than the {} bytes announced", sending.size);
            self.abandon(sender, id, &text);
            return Ok(());
        }
        let mut frame = Vec::with_capacity(len + 32);
        let header = ServerMessage::Data {
            id: sending.relay.number(),
            len,
        };
        header.encode(&mut frame);
        chunk.read_to_vec(&mut frame)?;
        sending.relayed += len as u64;
        let relay = sending.relay;
        queue_for_recipients(sender.server, relay, Arc::new(frame));
        Ok(())
    }

    /// `DONE`: checks that the whole file arrived, and passes the checksum
    /// on. The relay then waits for the recipients' reports.
    pub fn finish(&mut self, sender: &FileSender, id: u64, checksum: u32) {
        let Some(sending) = self.sending.get(&id) else {
            let text = format!("no transfer {id} is under way");
            return reply_error(
                sender.outbox,
                ClientKind::Full,
                ErrorCode::NoSuchTransfer,
                &text,
            );
        };
        if sending.relayed != sending.size {
            let text = format!(
                "the file ended after {} of the {} bytes announced",
                sending.relayed, sending.size
            );
            return self.abandon(sender, id, &text);
        }
        let relay = sending.relay;
        self.sending.remove(&id);
        let done = ServerMessage::Done {
            id: relay.number(),
            checksum,
        };
        queue_for_recipients(sender.server, relay, Arc::new(done.to_bytes()));
        sender.server.clients.finish_relay(relay);
    }

    /// `CANCEL`: the sender gives up; the recipients are told to discard
    /// what they have.
    pub fn cancel(&mut self, sender: &FileSender, id: u64, reason: &str) {
        match self.sending.remove(&id) {
            Some(sending) => {
                let reason = format!("the sender cancelled it ({reason})");
                sender.server.clients.cancel_relay(sending.relay, &reason);
            }
            None => {
                let text = format!("no transfer {id} is under way");
                reply_error(
                    sender.outbox,
                    ClientKind::Full,
                    ErrorCode::NoSuchTransfer,
                    &text,
                );
            }
        }
    }

    /// Stops a transfer whose data does not match its announced size: the
    /// recipients discard it, and the sender is told why.
    fn abandon(&mut self, sender: &FileSender, id: u64, why: &str) {
        if let Some(sending) = self.sending.remove(&id) {
            let reason = format!("the sender sent {why}");
            sender.server.clients.cancel_relay(sending.relay, &reason);
        }
        refuse(sender, id, ErrorCode::WrongSize, why);
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
        let text = format!("you are not receiving transfer {id}");
        reply_error(
            receiver.outbox,
            ClientKind::Full,
            ErrorCode::NoSuchTransfer,
            &text,
        );
    }
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

/// Queues one file frame for every recipient of `relay` still waiting for
/// it. May wait for slow recipients: that is the backpressure.
fn queue_for_recipients(server: &Server, relay: RelayId, frame: Arc<Vec<u8>>) {
    let mut recipients: Vec<Outbox> = Vec::new();
    server.clients.relay_recipients(relay, &mut recipients);
    for outbox in &recipients {
        outbox.send(Arc::clone(&frame), Priority::Bulk);
    }
}
