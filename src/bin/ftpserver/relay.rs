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
//! (`clients.rs`) passes each report to the sender as `DELIVERED`.

use crate::clients::{RelayId, encode_for};
use crate::outbox::{Outbox, Priority};
use crate::{ClientKind, Session, log};
use ftpchat::protocol::{Delivery, ErrorCode, ServerMessage};
use ftpchat::text::{format_size, make_visible};
use std::io::{self, BufRead, Read};
use std::sync::Arc;

/// A file this client is sending through the server.
pub struct Sending {
    /// The server's number for it.
    relay: RelayId,
    /// The size the sender announced.
    size: u64,
    /// Bytes relayed so far.
    relayed: u64,
}

impl Session<'_> {
    /// `SEND`: the client offers a file. Finds its recipients, announces
    /// the file to them with `FILE`, and answers the sender `ACCEPTED` (or
    /// `REFUSED`, with the reason).
    pub(crate) fn offer_file(&mut self, id: u64, size: u64, to: &str, name: &str) {
        if self.sending.contains_key(&id) {
            let text = format!("transfer {id} is already under way");
            return self.refuse_file(id, ErrorCode::TransferExists, &text);
        }
        if size > self.server.max_file_size {
            let limit = self.server.max_file_size;
            let text = format!("the file is {size} bytes; this server takes at most {limit}");
            return self.refuse_file(id, ErrorCode::FileTooLarge, &text);
        }
        let started = match self.server.clients.start_relay(self.id, id, to) {
            Ok(started) => started,
            Err(refusal) => return self.refuse_file(id, refusal.code, &refusal.text),
        };
        log(format_args!(
            "{} {} sends {:?} ({size} bytes) to {} recipients as transfer {}",
            self.id,
            self.nick,
            make_visible(name),
            started.recipients.len(),
            started.id
        ));
        // Answer the sender first: a recipient may fail at once, and its
        // report (`DELIVERED`) must not reach the sender before `ACCEPTED`.
        self.reply(&ServerMessage::Accepted {
            id,
            recipients: started.recipients.len(),
        });
        let file = ServerMessage::File {
            id: started.id,
            size,
            from: &self.nick,
            name,
        };
        let file = Arc::new(file.to_bytes());
        for outbox in &started.recipients {
            outbox.send(Arc::clone(&file), Priority::Bulk);
        }
        let text = format!(
            "{} is sharing {} ({}); receiving files needs the full client, ftpclient",
            self.nick,
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

    /// `DATA`: reads one chunk of `len` bytes from `reader` and queues it
    /// for every recipient still waiting for the file.
    ///
    /// # Errors
    ///
    /// The connection failed or closed in the middle of the chunk.
    pub(crate) fn relay_chunk(
        &mut self,
        reader: &mut impl BufRead,
        id: u64,
        len: usize,
    ) -> io::Result<()> {
        let Some(sending) = self.sending.get_mut(&id) else {
            // The length is known, so the stream stays in step: skip the
            // chunk and say why.
            discard(reader, len)?;
            let text = format!("no transfer {id} is under way");
            self.reply_error(ErrorCode::NoSuchTransfer, &text);
            return Ok(());
        };
        if sending.relayed + len as u64 > sending.size {
            discard(reader, len)?;
            let text = format!("more data than the {} bytes announced", sending.size);
            self.abandon_file(id, &text);
            return Ok(());
        }
        let mut frame = Vec::with_capacity(len + 32);
        ServerMessage::Data {
            id: sending.relay,
            len,
        }
        .encode(&mut frame);
        // Read the chunk from the same buffered reader that gave us the
        // header line, never from the raw socket: the reader may already
        // hold the chunk's first bytes. `take` stops at the chunk's end.
        let read = reader.take(len as u64).read_to_end(&mut frame)?;
        if read < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a chunk",
            ));
        }
        sending.relayed += len as u64;
        let relay = sending.relay;
        self.queue_for_recipients(relay, Arc::new(frame));
        Ok(())
    }

    /// `DONE`: checks that the whole file arrived, and passes the checksum
    /// on. The relay then waits for the recipients' reports.
    pub(crate) fn finish_file(&mut self, id: u64, checksum: u32) {
        let Some(sending) = self.sending.get(&id) else {
            let text = format!("no transfer {id} is under way");
            return self.reply_error(ErrorCode::NoSuchTransfer, &text);
        };
        if sending.relayed != sending.size {
            let text = format!(
                "the file ended after {} of the {} bytes announced",
                sending.relayed, sending.size
            );
            return self.abandon_file(id, &text);
        }
        let relay = sending.relay;
        self.sending.remove(&id);
        let done = ServerMessage::Done {
            id: relay,
            checksum,
        };
        self.queue_for_recipients(relay, Arc::new(done.to_bytes()));
        self.server.clients.finish_relay(relay);
    }

    /// `CANCEL`: the sender gives up; the recipients are told to discard
    /// what they have.
    pub(crate) fn cancel_file(&mut self, id: u64, reason: &str) {
        match self.sending.remove(&id) {
            Some(sending) => {
                let reason = format!("the sender cancelled it ({reason})");
                self.server.clients.cancel_relay(sending.relay, &reason);
            }
            None => {
                let text = format!("no transfer {id} is under way");
                self.reply_error(ErrorCode::NoSuchTransfer, &text);
            }
        }
    }

    /// `RECEIVED`: a recipient says how a file turned out.
    pub(crate) fn report_file(&mut self, id: u64, outcome: Delivery) {
        if !self.server.clients.report_delivery(id, self.id, outcome) {
            let text = format!("you are not receiving transfer {id}");
            self.reply_error(ErrorCode::NoSuchTransfer, &text);
        }
    }

    /// Stops a transfer whose data does not match its announced size: the
    /// recipients discard it, and the sender is told why.
    fn abandon_file(&mut self, id: u64, why: &str) {
        if let Some(sending) = self.sending.remove(&id) {
            let reason = format!("the sender sent {why}");
            self.server.clients.cancel_relay(sending.relay, &reason);
        }
        self.refuse_file(id, ErrorCode::WrongSize, why);
    }

    fn refuse_file(&self, id: u64, code: ErrorCode, text: &str) {
        self.reply(&ServerMessage::Refused {
            id,
            code: code.as_str(),
            text,
        });
    }

    /// Queues one file frame for every recipient of `relay` still waiting
    /// for it. May wait for slow recipients: that is the backpressure.
    fn queue_for_recipients(&mut self, relay: RelayId, frame: Arc<Vec<u8>>) {
        let mut recipients: Vec<Arc<Outbox>> = Vec::new();
        self.server.clients.relay_recipients(relay, &mut recipients);
        for outbox in &recipients {
            outbox.send(Arc::clone(&frame), Priority::Bulk);
        }
    }
}

/// Reads and drops `len` bytes: a chunk we will not relay.
fn discard(reader: &mut impl BufRead, len: usize) -> io::Result<()> {
    let skipped = io::copy(&mut reader.take(len as u64), &mut io::sink())?;
    if skipped < len as u64 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed in the middle of a chunk",
        ));
    }
    Ok(())
}
