//! The reading side of a client's socket, with a deadline.
//!
//! Each connection has one socket and two threads: its handler reads it,
//! and its writer thread (`outbox.rs`) writes it. A TCP socket may be read
//! by one thread while another writes it, and `&TcpStream` does both, so
//! the two share the socket through an `Arc` instead of duplicating it
//! (`try_clone` would cost a second file descriptor per client).

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

/// The reading side of a connection whose socket the writer thread also
/// uses. A TCP socket may be read by one thread while another writes it,
/// and `&TcpStream` does both; sharing one socket this way costs one file
/// descriptor per client, where `try_clone` would cost two.
///
/// It can also be given a **deadline**. A socket's read timeout limits
/// each wait for bytes, and starts again with every byte: a client that
/// trickles a byte every second never times out (the *slowloris* attack).
/// With a deadline, each read may only wait for what is left of the time,
/// and fails once it is over, however the bytes come.
pub struct ReadHalf {
    stream: Arc<TcpStream>,
    deadline: Option<Instant>,
}

impl ReadHalf {
    /// The reading side of `stream`, with no deadline.
    pub fn new(stream: Arc<TcpStream>) -> ReadHalf {
        ReadHalf {
            stream,
            deadline: None,
        }
    }

    /// Makes every read fail (as timed out) after `deadline`; `None`
    /// takes the deadline away (the socket's read timeout applies again).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::from(io::ErrorKind::TimedOut));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        (&*self.stream).read(buf)
    }
}
