//! The socket's thread: reads every frame the server sends and passes it
//! to the control loop, and notices a server that has gone silent.
//!
//! It reads through the connection's one [`FrameReader`], so lines and
//! chunks come out whole however TCP split them. A line is passed on as
//! text; a chunk is read into a buffer from the [`ChunkPool`], which bounds
//! how much file data can be on its way to the disk (see `pool.rs`). It
//! acknowledges the file data it reads (`GOT`), so that the server keeps
//! at most a window of it on its way here (see `ftpchat::protocol::flow`).
//!
//! # Silence
//!
//! The socket has a read timeout of one keep-alive interval (see
//! `ftpchat::keepalive`). A read that times out between frames means the
//! server has said nothing for that long: this thread sends `PING`, and
//! gives up after a second silent interval. The same holds in the middle
//! of a chunk: the read goes on where it stopped after the `PING`.

use crate::connection::Connection;
use crate::events::{Ending, Event};
use crate::pool::ChunkPool;
use ftpchat::keepalive::{Keepalive, Silence, is_timeout};
use ftpchat::protocol::flow::ACK_EVERY_BYTES;
use ftpchat::protocol::{Chunk, ClientMessage, Frame, FrameReader};
use ftpchat::trace;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};

/// Everything the socket's thread needs.
pub struct Receiver {
    /// The connection's one frame reader.
    pub frames: FrameReader<TcpStream>,
    /// The writing half, to answer silence with `PING`.
    pub connection: Arc<Connection>,
    /// When to ping, and when to give up.
    pub keepalive: Keepalive,
    /// Where chunk buffers come from.
    pub pool: Arc<ChunkPool>,
    /// Where events go.
    pub events: Sender<Event>,
    /// With `--trace`, the server's address, for the trace of each frame.
    pub trace_peer: Option<SocketAddr>,
}

impl Receiver {
    /// Starts the thread. It ends when the connection does, after sending
    /// [`Event::Disconnected`], or when the control loop has gone.
    ///
    /// # Errors
    ///
    /// The thread could not be started.
    pub fn spawn(mut self) -> io::Result<JoinHandle<()>> {
        thread::Builder::new()
            .name("receiver".to_string())
            .spawn(move || {
                let ending = self.receive();
                let _ = self.events.send(Event::Disconnected(ending));
            })
    }

    /// Reads frames until the connection ends, and says how it ended.
    fn receive(&mut self) -> Ending {
        let mut acks = Acknowledgements::default();
        loop {
            let event = match self.frames.read_frame() {
                Ok(Some(frame)) => {
                    self.keepalive.heard();
                    let others = Others {
                        pool: &self.pool,
                        trace_peer: self.trace_peer,
                        events: &self.events,
                        keepalive: &mut self.keepalive,
                        connection: &self.connection,
                    };
                    match others.read_event(frame) {
                        Ok(event) => event,
                        Err(ending) => return ending,
                    }
                }
                Ok(None) => return Ending::Closed,
                Err(error) if is_timeout(&error) => match self.keepalive.silence() {
                    Silence::Ping(token) => {
                        let _ = self.connection.send(&ClientMessage::Ping { token: &token });
                        continue;
                    }
                    Silence::Dead => {
                        let secs = 2.0 * self.keepalive.interval().as_secs_f64();
                        return Ending::Silent(secs);
                    }
                },
                Err(error) => return Ending::Failed(error),
            };
            if let Event::Chunk { bytes, .. } = &event {
                acks.read(bytes.len() as u64, &self.connection);
            }
            if self.events.send(event).is_err() {
                return Ending::Closed; // the control loop has finished
            }
        }
    }
}

/// File data read and not yet acknowledged.
#[derive(Default)]
struct Acknowledgements {
    unacknowledged: u64,
}

impl Acknowledgements {
    /// `len` more bytes of file data have been read: acknowledges them
    /// every [`ACK_EVERY_BYTES`] (see `ftpchat::protocol::flow`), so that
    /// the server keeps at most a window of it on its way to us.
    fn read(&mut self, len: u64, connection: &Connection) {
        self.unacknowledged += len;
        if self.unacknowledged >= ACK_EVERY_BYTES {
            let bytes = std::mem::take(&mut self.unacknowledged);
            let _ = connection.send(&ClientMessage::Got { bytes });
        }
    }
}

/// The parts of a [`Receiver`] other than its frame reader, which the
/// frame being handled borrows.
struct Others<'a> {
    pool: &'a Arc<ChunkPool>,
    trace_peer: Option<SocketAddr>,
    events: &'a Sender<Event>,
    keepalive: &'a mut Keepalive,
    connection: &'a Connection,
}

impl Others<'_> {
    /// The event for one frame: a line as text, a chunk read whole into a
    /// pooled buffer. With `--trace`, the frame is traced first.
    fn read_event(self, frame: Frame<'_, TcpStream>) -> Result<Event, Ending> {
        let line = match &frame {
            Frame::Line(line) => line,
            Frame::Data(chunk) => chunk.header(),
        };
        if let Some(peer) = self.trace_peer {
            let _ = self.events.send(Event::Trace(trace::received(peer, line)));
        }
        match frame {
            Frame::Line(line) => Ok(Event::ServerLine(line.to_string())),
            Frame::Data(chunk) => self.read_chunk(chunk),
        }
    }

    /// Reads a chunk into a buffer from the pool (waiting for one if too
    /// much is on its way to the disk). Silence in the middle of it is met
    /// as between frames: a `PING`, and the reading goes on where it
    /// stopped; a second silent interval gives up.
    fn read_chunk(self, mut chunk: Chunk<'_, TcpStream>) -> Result<Event, Ending> {
        let mut bytes = self.pool.take(chunk.len());
        loop {
            let before = bytes.len();
            match chunk.read_to_vec(&mut bytes) {
                Ok(()) => break,
                Err(error) if is_timeout(&error) => {
                    if bytes.len() > before {
                        self.keepalive.heard(); // it is slow, not silent
                    }
                    match self.keepalive.silence() {
                        Silence::Ping(token) => {
                            let _ = self.connection.send(&ClientMessage::Ping { token: &token });
                        }
                        Silence::Dead => {
                            let secs = 2.0 * self.keepalive.interval().as_secs_f64();
                            return Err(Ending::Silent(secs));
                        }
                    }
                }
                Err(error) => return Err(Ending::Failed(error)),
            }
        }
        Ok(Event::Chunk {
            id: chunk.id(),
            bytes,
        })
    }
}
