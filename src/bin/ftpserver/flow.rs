//! A sender's credit: how much of a transfer's data may be inside the
//! server at once (flow control on the first hop; see
//! `ftpchat::protocol::flow`).
//!
//! Each transfer has a [`Flow`]. A chunk the sender sends uses some of its
//! credit ([`Flow::receive`]); the server then queues it for the
//! recipients, with a [`ChunkToken`] that travels with every copy. When
//! the last copy has been written to its recipient's socket (or thrown
//! away, if that recipient left), the token is dropped, and its bytes are
//! freed: once enough is free, the server gives the sender that much
//! credit back with `MORE`. So the server's memory for a transfer stays
//! under one window, and the server never has to stop reading a sender
//! to wait for a slow recipient: the sender waits for credit instead.

use crate::outbox::{Outbox, Priority};
use ftpchat::protocol::ServerMessage;
use ftpchat::protocol::flow::{CREDIT_BATCH_BYTES, SEND_WINDOW_BYTES};
use std::sync::{Arc, Mutex, PoisonError};

/// One transfer's credit.
pub struct Flow {
    state: Mutex<Credit>,
    /// Where `MORE` goes.
    sender: Outbox,
    /// The sender's number for the transfer.
    sender_id: u64,
}

/// The numbers behind the credit, all in bytes since the transfer began.
struct Credit {
    /// What the sender may have sent in all.
    granted: u64,
    /// What it has sent.
    received: u64,
    /// What has left the server for every recipient.
    freed: u64,
}

/// Travels with every copy of one chunk; when the last is gone, the
/// chunk's bytes are freed.
pub struct ChunkToken {
    flow: Arc<Flow>,
    len: u64,
}

impl Flow {
    /// The credit of a transfer that `sender` numbers `sender_id`: one
    /// window, to start with.
    pub fn new(sender: Outbox, sender_id: u64) -> Arc<Flow> {
        Arc::new(Flow {
            state: Mutex::new(Credit {
                granted: SEND_WINDOW_BYTES,
                received: 0,
                freed: 0,
            }),
            sender,
            sender_id,
        })
    }

    /// A chunk of `len` bytes has arrived from the sender: it uses that
    /// much credit. Returns the token for its copies.
    ///
    /// # Errors
    ///
    /// The sender sent more than its credit allows.
    pub fn receive(self: &Arc<Self>, len: usize) -> Result<Arc<ChunkToken>, String> {
        let mut credit = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let len = len as u64;
        if credit.received + len > credit.granted {
            let allowed = credit.granted - credit.received;
            return Err(format!(
                "a chunk of {len} bytes with credit for {allowed}; wait for MORE"
            ));
        }
        credit.received += len;
        Ok(Arc::new(ChunkToken {
            flow: Arc::clone(self),
            len,
        }))
    }

    /// Bytes of the sender's data still inside the server.
    pub fn in_flight(&self) -> u64 {
        let credit = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        credit.received - credit.freed
    }

    /// `len` bytes have left the server for every recipient: gives the
    /// sender credit back, a batch at a time.
    fn free(&self, len: u64) {
        let more = {
            let mut credit = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            credit.freed += len;
            let allowed = credit.freed + SEND_WINDOW_BYTES;
            let more = allowed - credit.granted;
            if more < CREDIT_BATCH_BYTES {
                return;
            }
            credit.granted = allowed;
            more
        };
        // The lock is released: sending takes the sender's outbox lock.
        let message = ServerMessage::More {
            id: self.sender_id,
            bytes: more,
        };
        self.sender
            .send(Arc::new(message.to_bytes()), Priority::Urgent);
    }
}

impl Drop for ChunkToken {
    fn drop(&mut self) {
        self.flow.free(self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    /// A flow whose `MORE` frames can be read from the returned socket.
    fn flow() -> (Arc<Flow>, BufReader<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (far, _) = listener.accept().unwrap();
        far.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let timeout = Duration::from_secs(5);
        let outbox = Outbox::new(Arc::new(near), timeout, "test".into(), None).unwrap();
        (Flow::new(outbox, 7), BufReader::new(far))
    }

    #[test]
    fn credit_comes_back_when_every_copy_is_gone() {
        let (flow, mut sender) = flow();
        let chunk = (CREDIT_BATCH_BYTES / 2) as usize;
        let first = flow.receive(chunk).unwrap();
        let second = flow.receive(chunk).unwrap();
        let copy = Arc::clone(&first); // a second recipient's copy
        drop(first);
        drop(second);
        // Half a batch freed so far: nothing is sent yet.
        drop(copy); // the last copy: a whole batch is free
        let mut line = String::new();
        sender.read_line(&mut line).unwrap();
        assert_eq!(line, format!("MORE 7 {CREDIT_BATCH_BYTES}\n"));
    }

    #[test]
    fn a_sender_past_its_credit_is_refused() {
        let (flow, _sender) = flow();
        let _held = flow.receive(SEND_WINDOW_BYTES as usize).unwrap();
        assert!(flow.receive(1).is_err(), "the window is used up");
    }
}
