//! A client's outgoing queue, and the writer thread that drains it.
//!
//! # Why not just write to the socket?
//!
//! Writing to a TCP socket blocks when the peer stops reading: the kernel's
//! send buffer fills up and `write` waits for room. If the thread that
//! relays Alice's message wrote straight to every other client, a single
//! client that stopped reading (a frozen laptop, a stuck program) would
//! freeze Alice's thread, and then everyone waiting on Alice.
//!
//! So each client gets an **outbox**: a queue of whole frames that other
//! threads add to, and a writer thread of its own that takes frames off
//! the queue and writes them. Adding to a queue never blocks on the network.
//! IRC servers call this the *send queue*.
//!
//! The writer thread exists only while there is something to write: the
//! first frame added to an empty, idle outbox starts it, and it ends after
//! [`LINGER`] with nothing to do. A thread costs about 10 KiB of memory
//! (its stack and the kernel's bookkeeping), so a server holding thousands
//! of quiet clients keeps one thread per client (the reader), not two.
//!
//! What is queued costs memory too, so the queue is bounded:
//!
//! - **Backpressure.** Above [`SOFT_LIMIT_BYTES`] in its queue, a thread
//!   that adds a frame first waits for the writer to catch up, for at most
//!   a short while ([`CHAT_WAIT`] for chat, the stall timeout for file
//!   data). A file is relayed at the pace of its slowest receiver, and
//!   memory stays flat however large the file. Each queue counts only its
//!   own bytes, so chat never waits because a file is queued. Chat does
//!   not wait for a client that has stopped reading altogether (its writer
//!   has finished nothing for [`STUCK_AFTER`]): waiting would not help, and
//!   would slow everyone down while it is stuck.
//! - **Eviction.** A client with more than [`HARD_LIMIT_BYTES`] queued, or
//!   whose socket takes no data for the stall timeout
//!   ([`DEFAULT_STALL_TIMEOUT`] unless `--stall-timeout` says otherwise),
//!   is disconnected. A
//!   stuck client therefore costs the others at most a short wait, and
//!   never more than a bounded amount of memory.
//!
//! Because only the writer thread writes to the socket and it writes whole
//! frames, frames from different threads never interleave on the wire.
//!
//! Two queues share the outbox: *urgent* (chat and control lines) and
//! *bulk* (file frames). The writer always empties the urgent queue first,
//! so chat overtakes a large file instead of waiting behind it.
//!
//! An [`Outbox`] is a handle: cloning it is cheap (it counts a reference
//! to the one shared queue), so the client's own handler, its writer
//! thread and the registry each hold one.

use ftpchat::keepalive::is_timeout;
use ftpchat::protocol::write_all_vectored;
use ftpchat::trace;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The bytes of one or more whole protocol messages. Shared with `Arc`, so
/// a message for a thousand clients is encoded once and queued a thousand
/// times without copying.
pub type Frame = Arc<Vec<u8>>;

/// Bytes in one queue above which adding a frame to it waits for the writer.
pub const SOFT_LIMIT_BYTES: usize = 256 * 1024;

/// Bytes in both queues above which the client is disconnected: it has
/// stopped reading, or reads far slower than the room talks.
pub const HARD_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// How long a chat message waits for a slow client's queue to drain
/// before it is queued anyway: short, so one stuck client delays the room
/// by at most this much per message.
pub const CHAT_WAIT: Duration = Duration::from_millis(50);

/// A writer that has finished no write for this long counts as stuck:
/// chat no longer waits for it.
pub const STUCK_AFTER: Duration = Duration::from_millis(200);

/// How long a client's socket may refuse data before the client is
/// disconnected. This also bounds how long a file transfer waits for it.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a writer thread waits for more frames before it ends. Long
/// enough that a conversation keeps its writer, short enough that a
/// message to thousands of quiet clients does not keep thousands of
/// threads alive.
pub const LINGER: Duration = Duration::from_millis(50);

/// Stack size of a writer thread: it only moves frames to the socket.
const WRITER_STACK_BYTES: usize = 128 * 1024;

/// Most frames the writer sends with one `writev` call.
const MAX_FRAMES_PER_WRITE: usize = 64;

/// Which queue a frame goes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Chat and control lines: sent before any bulk frame.
    Urgent,
    /// File frames: sent when no urgent frame waits. They stay in order
    /// among themselves, so a file's `DONE` never overtakes its data.
    Bulk,
}

/// One client's outgoing queue: a cheap handle to it. The client's own
/// handler thread, its writer thread (while there is one) and the
/// registry, through which other clients' threads add frames, each hold
/// a clone.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// What every handle of one outbox shares.
struct Shared {
    /// The queue and its state; held only for quick queue operations,
    /// never while writing to the socket.
    queue: Mutex<Queue>,
    /// Signalled when a frame is added or the outbox closes: wakes the writer.
    frame_added: Condvar,
    /// Signalled after the writer has sent frames: wakes waiting senders.
    frames_sent: Condvar,
    /// Signalled when the writer thread ends: wakes [`Outbox::wait_closed`].
    writer_ended: Condvar,
    /// The writer thread's name, for panics and debuggers.
    name: String,
    /// The connection, shared with the client's handler thread, which
    /// reads from it. Only the writer thread writes to it.
    stream: Arc<TcpStream>,
    /// How long the socket may take no data before the client is cut off.
    stall_timeout: Duration,
    /// With `--trace`, the peer's address, for the trace of each frame sent.
    trace_peer: Option<SocketAddr>,
}

struct Queue {
    urgent: VecDeque<Frame>,
    bulk: VecDeque<Frame>,
    /// Bytes of urgent frames queued or being written right now.
    urgent_bytes: usize,
    /// Bytes of bulk frames queued or being written right now.
    bulk_bytes: usize,
    /// No more frames are accepted; the writer sends what is queued, then
    /// shuts the socket down.
    closed: bool,
    /// Why the connection was cut from this side, if it was.
    failure: Option<String>,
    /// When the writer last finished a write (or the queue was made).
    last_progress: Instant,
    /// Whether a writer thread is running (writing, or lingering).
    writer_running: bool,
}

impl Queue {
    fn new() -> Queue {
        Queue {
            urgent: VecDeque::new(),
            bulk: VecDeque::new(),
            urgent_bytes: 0,
            bulk_bytes: 0,
            closed: false,
            failure: None,
            last_progress: Instant::now(),
            writer_running: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.urgent.is_empty() && self.bulk.is_empty()
    }

    /// Whether adding a frame of `priority` should wait for the writer:
    /// its queue is over the soft limit, and (for chat) the writer is still
    /// making progress, so waiting will help.
    fn should_wait(&self, priority: Priority) -> bool {
        let stuck = self.last_progress.elapsed() >= STUCK_AFTER;
        let over = self.bytes(priority) > SOFT_LIMIT_BYTES;
        over && !self.closed && !(priority == Priority::Urgent && stuck)
    }

    /// Adds `frame` to the queue for `priority`.
    fn push(&mut self, frame: Frame, priority: Priority) {
        match priority {
            Priority::Urgent => {
                self.urgent_bytes += frame.len();
                self.urgent.push_back(frame);
            }
            Priority::Bulk => {
                self.bulk_bytes += frame.len();
                self.bulk.push_back(frame);
            }
        }
    }

    /// Bytes in the queue for `priority`.
    fn bytes(&self, priority: Priority) -> usize {
        match priority {
            Priority::Urgent => self.urgent_bytes,
            Priority::Bulk => self.bulk_bytes,
        }
    }
}

impl Outbox {
    /// A new, empty outbox for the connection `stream`, whose client is
    /// cut off if its socket takes no data for `stall_timeout`. With a
    /// `trace_peer`, every frame sent is traced (see `ftpchat::trace`).
    ///
    /// # Errors
    ///
    /// Setting the socket's write timeout can fail.
    pub fn new(
        stream: Arc<TcpStream>,
        stall_timeout: Duration,
        name: String,
        trace_peer: Option<SocketAddr>,
    ) -> io::Result<Outbox> {
        // The write timeout is how a client that stopped reading is found:
        // a write that makes no progress for this long fails.
        stream.set_write_timeout(Some(stall_timeout))?;
        let shared = Shared {
            queue: Mutex::new(Queue::new()),
            frame_added: Condvar::new(),
            frames_sent: Condvar::new(),
            writer_ended: Condvar::new(),
            name,
            stream,
            stall_timeout,
            trace_peer,
        };
        Ok(Outbox {
            shared: Arc::new(shared),
        })
    }

    /// How long the socket may take no data before the client is cut off.
    pub fn stall_timeout(&self) -> Duration {
        self.shared.stall_timeout
    }

    /// Queues `frame` for sending. If its queue holds more than
    /// [`SOFT_LIMIT_BYTES`], first waits up to [`CHAT_WAIT`] (urgent) or
    /// the stall timeout (bulk) for the writer to catch up. If both queues
    /// together would exceed [`HARD_LIMIT_BYTES`], the client is
    /// disconnected instead. A frame for a closed outbox is dropped: its
    /// connection is ending, and the handler reports why.
    pub fn send(&self, frame: Frame, priority: Priority) {
        let shared = &*self.shared;
        let max_wait = match priority {
            Priority::Urgent => CHAT_WAIT,
            Priority::Bulk => shared.stall_timeout,
        };
        let queue = shared.lock();
        let (mut queue, _) = shared
            .frames_sent
            .wait_timeout_while(queue, max_wait, |queue| queue.should_wait(priority))
            .unwrap_or_else(PoisonError::into_inner);
        if queue.closed {
            return;
        }
        if queue.urgent_bytes + queue.bulk_bytes + frame.len() > HARD_LIMIT_BYTES {
            let reason = format!(
                "send queue full: over {} KiB unread",
                HARD_LIMIT_BYTES / 1024
            );
            return shared.fail(&mut queue, reason);
        }
        queue.push(frame, priority);
        let start_writer = !queue.writer_running;
        queue.writer_running = true;
        drop(queue);
        if start_writer {
            self.start_writer();
        } else {
            shared.frame_added.notify_one();
        }
    }

    /// Starts the writer thread. If the system has no thread to give (a
    /// limit reached), the client cannot be served, and is disconnected.
    fn start_writer(&self) {
        let shared = Arc::clone(&self.shared);
        let spawned = thread::Builder::new()
            .name(self.shared.name.clone())
            .stack_size(WRITER_STACK_BYTES)
            .spawn(move || shared.run_writer());
        if let Err(error) = spawned {
            let mut queue = self.shared.lock();
            queue.writer_running = false;
            let reason = format!("cannot start a writer thread: {error}");
            self.shared.fail(&mut queue, reason);
            self.shared.writer_ended.notify_all();
        }
    }

    /// Closes the outbox: frames already queued are still sent, then the
    /// connection is shut down. Later frames are dropped.
    pub fn close(&self) {
        let shared = &*self.shared;
        let mut queue = shared.lock();
        queue.closed = true;
        if !queue.writer_running {
            // Nothing is queued (a writer would be running), so nothing
            // is left to send: shut down now.
            let _ = shared.stream.shutdown(Shutdown::Both);
        }
        drop(queue);
        shared.frame_added.notify_all();
        shared.frames_sent.notify_all();
    }

    /// Waits until the writer thread, if one is running, has sent what was
    /// queued and ended, or `timeout` passes.
    pub fn wait_closed(&self, timeout: Duration) {
        let queue = self.shared.lock();
        let _ = self
            .shared
            .writer_ended
            .wait_timeout_while(queue, timeout, |queue| queue.writer_running);
    }

    /// Why this side cut the connection, if it did.
    pub fn failure(&self) -> Option<String> {
        self.shared.lock().failure.clone()
    }
}

impl Shared {
    /// Locks the queue. If another thread panicked while holding the lock,
    /// the queue is still consistent (every change to it is a single
    /// step), so we carry on rather than spread the panic.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cuts the connection from this side, for `reason`: what is queued is
    /// dropped, and every thread waiting on the outbox or the socket wakes.
    fn fail(&self, queue: &mut Queue, reason: String) {
        if queue.failure.is_none() {
            queue.failure = Some(reason);
        }
        queue.closed = true;
        queue.urgent.clear();
        queue.bulk.clear();
        // Shutting the socket down wakes every thread blocked on it: the
        // writer (its write fails) and the client's handler (its read
        // sees end of file), so the connection ends promptly.
        let _ = self.stream.shutdown(Shutdown::Both);
        self.frame_added.notify_all();
        self.frames_sent.notify_all();
    }

    /// The writer thread's body: sends queued frames (urgent ones first)
    /// until the queue has been empty for [`LINGER`], or the outbox is
    /// closed and empty (then it shuts the connection down), or the socket
    /// fails.
    fn run_writer(&self) {
        let mut batch: Vec<Frame> = Vec::new();
        loop {
            let Some(priority) = self.next_batch(&mut batch) else {
                return;
            };
            // The lock is released: the slow part happens without it.
            let sent_bytes: usize = batch.iter().map(|frame| frame.len()).sum();
            let parts: Vec<&[u8]> = batch.iter().map(|frame| frame.as_slice()).collect();
            if let Some(peer) = self.trace_peer {
                trace_sent(peer, &batch);
            }
            let result = write_all_vectored(&mut &*self.stream, &parts);
            drop(parts);
            batch.clear();
            let mut queue = self.lock();
            match priority {
                Priority::Urgent => queue.urgent_bytes -= sent_bytes,
                Priority::Bulk => queue.bulk_bytes -= sent_bytes,
            }
            self.frames_sent.notify_all();
            if let Err(error) = result {
                let reason = match is_timeout(&error) {
                    true => format!(
                        "not reading: no data accepted for {} s",
                        self.stall_timeout.as_secs_f64()
                    ),
                    false => format!("write failed: {error}"),
                };
                self.fail(&mut queue, reason);
                return self.end_writer(queue);
            }
            queue.last_progress = Instant::now();
        }
    }

    /// Waits for frames and moves the next batch into `batch`: urgent
    /// frames first, as many as one system call takes; a bulk frame only
    /// when no urgent one waits. Returns the batch's priority, or `None`
    /// when the writer should end (idle for [`LINGER`], or closed and
    /// empty, after shutting the connection down).
    fn next_batch(&self, batch: &mut Vec<Frame>) -> Option<Priority> {
        let mut queue = self.lock();
        while queue.is_empty() {
            if queue.closed {
                // Everything has been sent: say goodbye to the peer.
                let _ = self.stream.shutdown(Shutdown::Both);
                self.end_writer(queue);
                return None;
            }
            let (guard, waited) = self
                .frame_added
                .wait_timeout(queue, LINGER)
                .unwrap_or_else(PoisonError::into_inner);
            queue = guard;
            if waited.timed_out() && queue.is_empty() && !queue.closed {
                // Idle: end, and let the next frame start a new one.
                self.end_writer(queue);
                return None;
            }
        }
        let count = queue.urgent.len().min(MAX_FRAMES_PER_WRITE);
        batch.extend(queue.urgent.drain(..count));
        if batch.is_empty() {
            batch.extend(queue.bulk.pop_front());
            Some(Priority::Bulk)
        } else {
            Some(Priority::Urgent)
        }
    }

    /// Marks the writer thread as ended (with the queue locked, so that a
    /// frame added at the same moment starts a new one).
    fn end_writer(&self, mut queue: MutexGuard<'_, Queue>) {
        queue.writer_running = false;
        drop(queue);
        self.writer_ended.notify_all();
    }
}

/// Prints the trace of `frames`, about to be sent to `peer`, on standard
/// error: a line per protocol frame, all together.
fn trace_sent(peer: SocketAddr, frames: &[Frame]) {
    let mut stderr = io::stderr().lock();
    for frame in frames {
        for line in trace::sent(peer, frame) {
            let _ = writeln!(stderr, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;

    /// An outbox writing to one end of a loopback connection, and the
    /// other end, to read what it sends.
    fn outbox(stall_timeout: Duration) -> (Outbox, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (far, _) = listener.accept().unwrap();
        far.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let outbox = Outbox::new(Arc::new(near), stall_timeout, "test".into(), None).unwrap();
        (outbox, far)
    }

    fn frame(text: &str) -> Frame {
        Arc::new(text.as_bytes().to_vec())
    }

    #[test]
    fn frames_arrive_whole_and_in_order_then_the_connection_closes() {
        let (outbox, far) = outbox(Duration::from_secs(5));
        for i in 0..100 {
            outbox.send(frame(&format!("CHAT a {i}\n")), Priority::Urgent);
        }
        outbox.close();
        let mut text = String::new();
        BufReader::new(far).read_to_string(&mut text).unwrap();
        let expected: String = (0..100).map(|i| format!("CHAT a {i}\n")).collect();
        assert_eq!(text, expected);
    }

    #[test]
    fn urgent_frames_overtake_bulk_frames_already_queued() {
        let (outbox, far) = outbox(Duration::from_secs(5));
        // Queue all three before any writer runs, as if the client had
        // been slow to read while they came in.
        {
            let mut queue = outbox.shared.lock();
            queue.push(frame("DATA 1 0\n"), Priority::Bulk);
            queue.push(frame("DONE 1 5\n"), Priority::Bulk);
            queue.push(frame("CHAT a hi\n"), Priority::Urgent);
            queue.writer_running = true;
        }
        outbox.start_writer();
        outbox.close();
        let mut lines = BufReader::new(far).lines().map(Result::unwrap);
        assert_eq!(lines.next().as_deref(), Some("CHAT a hi"));
        assert_eq!(lines.next().as_deref(), Some("DATA 1 0"));
        assert_eq!(lines.next().as_deref(), Some("DONE 1 5"));
    }

    #[test]
    fn a_client_that_stops_reading_is_cut_off_after_the_stall_timeout() {
        let (outbox, _far) = outbox(Duration::from_millis(300)); // never read
        let chunk: Frame = Arc::new(vec![0; 64 * 1024]);
        let started = Instant::now();
        // Bulk frames wait for the writer (backpressure), so this loop is
        // slowed down, and then ends when the client is cut off.
        while outbox.failure().is_none() {
            outbox.send(Arc::clone(&chunk), Priority::Bulk);
            assert!(started.elapsed() < Duration::from_secs(10), "never cut off");
        }
        assert_eq!(
            outbox.failure().as_deref(),
            Some("not reading: no data accepted for 0.3 s")
        );
    }

    #[test]
    fn chat_does_not_wait_for_a_stuck_client_and_its_queue_is_bounded() {
        let (outbox, _far) = outbox(Duration::from_secs(60)); // never read
        let line: Frame = Arc::new(vec![b'x'; 2000]);
        let started = Instant::now();
        let mut sent = 0;
        while outbox.failure().is_none() {
            outbox.send(Arc::clone(&line), Priority::Urgent);
            sent += 1;
            assert!(sent < 100_000, "the queue never filled");
        }
        assert_eq!(
            outbox.failure().as_deref(),
            Some("send queue full: over 4096 KiB unread")
        );
        // Each line waited at most CHAT_WAIT, and only while the writer
        // still made progress: far less than a wait per line.
        let waited = started.elapsed();
        assert!(waited < CHAT_WAIT * 40, "chat waited {waited:?}");
    }
}
