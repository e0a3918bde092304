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
use std::time::{Duration, Instant};

/// The reading side of a connection whose socket the writer thread also
/// uses. A TCP socket may be read by one thread while another writes it,
/// and `&TcpStream` does both; sharing one socket this way costs one file
/// descriptor per client, where `try_clone` would cost two.
///
/// It can also be given a **deadline**. A socket's read timeout limits
/// each wait for bytes, and starts again with every byte: a client that
/// trickles a byte every second never times out (the *slowloris* attack).
/// With a deadline, each read may only wait for what is left of the time,
/// and fails once it is over, however the bytes come. The handshake has
/// one (`handshake.rs`), and so does each `DATA` chunk (`session.rs`).
pub struct ReadHalf {
    stream: Arc<TcpStream>,
    deadline: Option<Instant>,
    /// The read timeout between deadlines (silence after which a client
    /// is pinged), and whether a deadline has changed the socket's since.
    idle_timeout: Option<Duration>,
    timeout_changed: bool,
}

impl ReadHalf {
    /// The reading side of `stream`, with no deadline and no timeout.
    pub fn new(stream: Arc<TcpStream>) -> ReadHalf {
        ReadHalf {
            stream,
            deadline: None,
            idle_timeout: None,
            timeout_changed: false,
        }
    }

    /// Makes every read fail (as timed out) after `deadline`; `None`
    /// takes the deadline away (the idle timeout applies again).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Sets the read timeout that applies when there is no deadline.
    ///
    /// # Errors
    ///
    /// The socket refused the setting.
    pub fn set_idle_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.idle_timeout = timeout;
        self.timeout_changed = false;
        self.stream.set_read_timeout(timeout)
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::from(io::ErrorKind::TimedOut));
                }
                self.stream.set_read_timeout(Some(left))?;
                self.timeout_changed = true;
            }
            None if self.timeout_changed => self.set_idle_timeout(self.idle_timeout)?,
            None => {}
        }
        (&*self.stream).read(buf)
    }
}
