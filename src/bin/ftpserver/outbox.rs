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
//! # Two queues
//!
//! *Urgent* frames (chat and control lines) and *bulk* frames (a file's
//! chunks, its `DONE` and `CANCEL`) have a queue each. The writer always
//! empties the urgent queue first, so chat overtakes a file instead of
//! waiting behind it, and bulk frames stay in order among themselves, so
//! a file's `DONE` never overtakes its data.
//!
//! What is queued costs memory, so both queues are bounded:
//!
//! - **Chat.** Above [`SOFT_LIMIT_BYTES`] of urgent frames, a thread that
//!   adds one first waits a moment ([`CHAT_WAIT`]) for the writer to catch
//!   up, unless the client has stopped reading altogether (its writer has
//!   finished nothing for [`STUCK_AFTER`]): then waiting would not help.
//!   Above [`HARD_LIMIT_BYTES`], the client is disconnected.
//! - **Files.** Adding a chunk never waits: flow control bounds how much
//!   of each transfer can be queued (a sender's credit, see `flow.rs`), so
//!   the thread reading a sender never stops for a slow recipient. Above
//!   [`BULK_LIMIT_BYTES`] in all (many transfers to one slow client), the
//!   client is disconnected.
//! - **A client that stops reading** (its socket does not take a frame
//!   within the stall timeout, or it acknowledges no data for that long,
//!   [`DEFAULT_STALL_TIMEOUT`] unless `--stall-timeout` says otherwise) is
//!   disconnected. A stuck client therefore costs the others at most that
//!   wait. (The time counts per frame, not per system call: a frozen
//!   client's kernel may still take a few bytes now and then as its
//!   buffers grow, and each would start a socket's write timeout again.)
//!
//! # The receive window
//!
//! A client that acknowledges the file data it reads (`GOT`) is handed at
//! most [`RECEIVE_WINDOW_BYTES`] of it beyond its last acknowledgement:
//! the writer holds the rest back. The kernel's send buffer therefore
//! never holds megabytes of file data ahead of a chat line: the urgent
//! queue can only overtake what is still in the outbox, not bytes already
//! handed to the kernel.
//!
//! Because only the writer thread writes to the socket and it writes whole
//! frames, frames from different threads never interleave on the wire.
//!
//! An [`Outbox`] is a handle: cloning it is cheap (it counts a reference
//! to the one shared queue), so the client's own handler, its writer
//! thread and the registry each hold one.

use ftpchat::keepalive::is_timeout;
use ftpchat::protocol::flow::RECEIVE_WINDOW_BYTES;
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

/// Something kept alive with a bulk frame until the frame has been written
/// or thrown away (a chunk's flow-control token, see `flow.rs`).
pub type Token = Arc<dyn Send + Sync>;

/// Bytes of urgent frames above which adding one waits for the writer.
pub const SOFT_LIMIT_BYTES: usize = 256 * 1024;

/// Bytes of urgent frames above which the client is disconnected: it has
/// stopped reading, or reads far slower than the room talks.
pub const HARD_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// Bytes of bulk frames above which the client is disconnected: more
/// files than it can take are on their way to it.
pub const BULK_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// How long a chat message waits for a slow client's queue to drain
/// before it is queued anyway: short, so one stuck client delays the room
/// by at most this much per message.
pub const CHAT_WAIT: Duration = Duration::from_millis(50);

/// A writer that has finished no write for this long counts as stuck:
/// chat no longer waits for it.
pub const STUCK_AFTER: Duration = Duration::from_millis(200);

/// How long a client's socket may refuse data (or the client acknowledge
/// none) before the client is disconnected.
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
    /// File frames: sent when no urgent frame waits, in order.
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
    /// The queues and their state; held only for quick queue operations,
    /// never while writing to the socket.
    queue: Mutex<Queue>,
    /// Signalled when a frame is added, an acknowledgement comes, or the
    /// outbox closes: wakes the writer.
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

/// A queued file frame.
struct BulkFrame {
    frame: Frame,
    /// Bytes of file data in it (a `DATA` chunk's length; 0 otherwise),
    /// for the receive window.
    data_len: u64,
    /// Kept alive until the frame is written or thrown away.
    _token: Option<Token>,
}

/// The receive window of a client that acknowledges what it reads.
struct Window {
    /// Bytes of file data the client says it has read.
    acked: u64,
    /// Since when the window has been full, with file data waiting.
    full_since: Option<Instant>,
}

struct Queue {
    urgent: VecDeque<Frame>,
    bulk: VecDeque<BulkFrame>,
    /// Bytes of urgent frames queued or being written right now.
    urgent_bytes: usize,
    /// Bytes of bulk frames queued or being written right now.
    bulk_bytes: usize,
    /// Bytes of file data written to the socket.
    data_written: u64,
    /// The receive window, once the client has acknowledged anything.
    window: Option<Window>,
    /// No more frames are accepted; the writer sends the urgent ones
    /// queued, then shuts the socket down.
    closed: bool,
    /// Why the connection was cut from this side, if it was.
    failure: Option<String>,
    /// When the writer last finished a write (or the queue was made).
    last_progress: Instant,
    /// Whether a writer thread is running (writing, or lingering).
    writer_running: bool,
}

/// Frames taken out of a queue that failed, to drop once its lock is
/// released (dropping a chunk's token may send a frame to another client,
/// whose outbox has a lock of its own: never take two at once).
type Discarded = (VecDeque<Frame>, VecDeque<BulkFrame>);

impl Queue {
    fn new() -> Queue {
        Queue {
            urgent: VecDeque::new(),
            bulk: VecDeque::new(),
            urgent_bytes: 0,
            bulk_bytes: 0,
            data_written: 0,
            window: None,
            closed: false,
            failure: None,
            last_progress: Instant::now(),
            writer_running: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.urgent.is_empty() && self.bulk.is_empty()
    }

    /// Whether adding a chat frame should wait for the writer: its queue
    /// is over the soft limit, and the writer is still making progress,
    /// so waiting will help.
    fn should_wait(&self) -> bool {
        let stuck = self.last_progress.elapsed() >= STUCK_AFTER;
        self.urgent_bytes > SOFT_LIMIT_BYTES && !self.closed && !stuck
    }

    /// Whether the next bulk frame may go to the socket now: the receive
    /// window (if the client keeps one) has room for its data.
    fn window_open(&self) -> bool {
        match (&self.window, self.bulk.front()) {
            (Some(window), Some(next)) if next.data_len > 0 => {
                self.data_written.saturating_sub(window.acked) < RECEIVE_WINDOW_BYTES
            }
            _ => true,
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
        // a frame not written within this long fails (see `FrameWriter`).
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

    /// Queues `frame`. An urgent frame first waits up to [`CHAT_WAIT`] if
    /// over [`SOFT_LIMIT_BYTES`] of them are queued; past a hard limit the
    /// client is disconnected instead. A frame for a closed outbox is
    /// dropped: its connection is ending, and the handler reports why.
    pub fn send(&self, frame: Frame, priority: Priority) {
        let bulk = BulkFrame {
            frame,
            data_len: 0,
            _token: None,
        };
        match priority {
            Priority::Urgent => self.push_urgent(bulk.frame),
            Priority::Bulk => self.push_bulk(bulk),
        }
    }

    /// Queues a `DATA` frame with `data_len` bytes of file data, keeping
    /// `token` alive until it has been written or thrown away. Never waits.
    pub fn send_chunk(&self, frame: Frame, data_len: usize, token: Token) {
        self.push_bulk(BulkFrame {
            frame,
            data_len: data_len as u64,
            _token: Some(token),
        });
    }

    fn push_urgent(&self, frame: Frame) {
        let shared = &*self.shared;
        let queue = shared.lock();
        let (mut queue, _) = shared
            .frames_sent
            .wait_timeout_while(queue, CHAT_WAIT, |queue| queue.should_wait())
            .unwrap_or_else(PoisonError::into_inner);
        if queue.closed {
            return;
        }
        if queue.urgent_bytes + frame.len() > HARD_LIMIT_BYTES {
            let reason = format!(
                "send queue full: over {} KiB unread",
                HARD_LIMIT_BYTES / 1024
            );
            let discarded = shared.fail(&mut queue, reason);
            drop(queue);
            return drop(discarded);
        }
        queue.urgent_bytes += frame.len();
        queue.urgent.push_back(frame);
        self.wake_writer(queue);
    }

    fn push_bulk(&self, bulk: BulkFrame) {
        let shared = &*self.shared;
        let mut queue = shared.lock();
        if queue.closed {
            drop(queue);
            return drop(bulk); // its token, outside the lock
        }
        if queue.bulk_bytes + bulk.frame.len() > BULK_LIMIT_BYTES {
            let reason = format!(
                "too much file data queued: over {} MiB",
                BULK_LIMIT_BYTES >> 20
            );
            let discarded = shared.fail(&mut queue, reason);
            drop(queue);
            drop(discarded);
            return drop(bulk);
        }
        queue.bulk_bytes += bulk.frame.len();
        queue.bulk.push_back(bulk);
        self.wake_writer(queue);
    }

    /// Makes sure a writer will send what was just queued: starts one if
    /// none is running, or wakes the one that is.
    fn wake_writer(&self, mut queue: MutexGuard<'_, Queue>) {
        let start_writer = !queue.writer_running;
        queue.writer_running = true;
        drop(queue);
        if start_writer {
            self.start_writer();
        } else {
            self.shared.frame_added.notify_one();
        }
    }

    /// `GOT`: the client has read `bytes` more bytes of file data. Opens
    /// its receive window by that much (and keeps one from now on).
    pub fn acknowledge(&self, bytes: u64) {
        let mut queue = self.shared.lock();
        let written = queue.data_written;
        let window = queue.window.get_or_insert(Window {
            acked: 0,
            full_since: None,
        });
        // A client cannot have read more than it was sent.
        let acked = window.acked.saturating_add(bytes).min(written);
        if acked > window.acked {
            window.acked = acked;
            window.full_since = None;
        }
        drop(queue);
        self.shared.frame_added.notify_all();
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
            let discarded = self.shared.fail(&mut queue, reason);
            drop(queue);
            drop(discarded);
            self.shared.writer_ended.notify_all();
        }
    }

    /// Closes the outbox: urgent frames already queued (a goodbye, an
    /// error) are still sent, file data is not, then the connection is
    /// shut down. Later frames are dropped.
    pub fn close(&self) {
        let shared = &*self.shared;
        let mut queue = shared.lock();
        queue.closed = true;
        let bulk = std::mem::take(&mut queue.bulk);
        queue.bulk_bytes = 0;
        if !queue.writer_running {
            // Nothing is queued (a writer would be running), so nothing
            // is left to send: shut down now.
            let _ = shared.stream.shutdown(Shutdown::Both);
        }
        drop(queue);
        drop(bulk);
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

/// What the writer does next.
enum Next {
    /// Write these urgent frames.
    Urgent(Vec<Frame>),
    /// Write this bulk frame.
    Bulk(BulkFrame),
    /// End the thread.
    End,
}

impl Shared {
    /// Locks the queue. If another thread panicked while holding the lock,
    /// the queue is still consistent (every change to it is a single
    /// step), so we carry on rather than spread the panic.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cuts the connection from this side, for `reason`: what is queued is
    /// taken out (for the caller to drop once the lock is released), and
    /// every thread waiting on the outbox or the socket wakes.
    fn fail(&self, queue: &mut Queue, reason: String) -> Discarded {
        if queue.failure.is_none() {
            queue.failure = Some(reason);
        }
        queue.closed = true;
        queue.urgent_bytes = 0;
        queue.bulk_bytes = 0;
        let discarded = (
            std::mem::take(&mut queue.urgent),
            std::mem::take(&mut queue.bulk),
        );
        // Shutting the socket down wakes every thread blocked on it: the
        // writer (its write fails) and the client's handler (its read
        // sees end of file), so the connection ends promptly.
        let _ = self.stream.shutdown(Shutdown::Both);
        self.frame_added.notify_all();
        self.frames_sent.notify_all();
        discarded
    }

    /// The writer thread's body: sends queued frames (urgent ones first)
    /// until the queue has been empty for [`LINGER`], or the outbox is
    /// closed and its urgent frames sent (then it shuts the connection
    /// down), or the socket fails.
    fn run_writer(&self) {
        loop {
            let (priority, frames, bulk) = match self.next() {
                Next::Urgent(frames) => (Priority::Urgent, frames, None),
                Next::Bulk(bulk) => (Priority::Bulk, vec![Arc::clone(&bulk.frame)], Some(bulk)),
                Next::End => return,
            };
            // The lock is released: the slow part happens without it.
            let sent_bytes: usize = frames.iter().map(|frame| frame.len()).sum();
            let parts: Vec<&[u8]> = frames.iter().map(|frame| frame.as_slice()).collect();
            if let Some(peer) = self.trace_peer {
                trace_sent(peer, &frames);
            }
            let mut writer = FrameWriter {
                stream: &self.stream,
                deadline: Instant::now() + self.stall_timeout,
            };
            let result = write_all_vectored(&mut writer, &parts);
            drop(parts);
            let mut queue = self.lock();
            match priority {
                Priority::Urgent => queue.urgent_bytes -= sent_bytes,
                Priority::Bulk => queue.bulk_bytes = queue.bulk_bytes.saturating_sub(sent_bytes),
            }
            queue.data_written += bulk.as_ref().map_or(0, |bulk| bulk.data_len);
            self.frames_sent.notify_all();
            if let Err(error) = result {
                let reason = match is_timeout(&error) {
                    true => format!(
                        "not reading: no data accepted for {} s",
                        self.stall_timeout.as_secs_f64()
                    ),
                    false => format!("write failed: {error}"),
                };
                let discarded = self.fail(&mut queue, reason);
                self.end_writer(queue);
                drop(discarded);
                return drop(bulk);
            }
            queue.last_progress = Instant::now();
            drop(queue);
            drop(bulk); // a chunk's token goes, outside the lock
        }
    }

    /// Waits for something to write and takes it off the queue: urgent
    /// frames first, as many as one system call takes; a bulk frame only
    /// when no urgent one waits and the receive window has room. Returns
    /// [`Next::End`] when the writer should end: idle for [`LINGER`], or
    /// closed with its urgent frames sent (after shutting the connection
    /// down), or a client that acknowledges nothing for the stall timeout
    /// (after cutting it off).
    fn next(&self) -> Next {
        let mut queue = self.lock();
        loop {
            if !queue.urgent.is_empty() {
                let count = queue.urgent.len().min(MAX_FRAMES_PER_WRITE);
                return Next::Urgent(queue.urgent.drain(..count).collect());
            }
            if queue.closed {
                // Everything urgent has been sent: say goodbye to the peer.
                let _ = self.stream.shutdown(Shutdown::Both);
                let bulk = std::mem::take(&mut queue.bulk);
                self.end_writer(queue);
                drop(bulk);
                return Next::End;
            }
            if !queue.bulk.is_empty() && queue.window_open() {
                let bulk = queue.bulk.pop_front().expect("not empty");
                return Next::Bulk(bulk);
            }
            let waiting_for_acks = !queue.bulk.is_empty();
            if waiting_for_acks && self.acks_stalled(&mut queue) {
                let secs = self.stall_timeout.as_secs_f64();
                let reason = format!("not reading: no data acknowledged for {secs} s");
                let discarded = self.fail(&mut queue, reason);
                self.end_writer(queue);
                drop(discarded);
                return Next::End;
            }
            let wait = if waiting_for_acks {
                self.stall_timeout
            } else {
                LINGER
            };
            let (guard, waited) = self
                .frame_added
                .wait_timeout(queue, wait)
                .unwrap_or_else(PoisonError::into_inner);
            queue = guard;
            if waited.timed_out() && queue.is_empty() && !queue.closed {
                // Idle: end, and let the next frame start a new one.
                self.end_writer(queue);
                return Next::End;
            }
        }
    }

    /// Whether a client whose window is full has acknowledged nothing for
    /// the stall timeout (the clock starts when the window fills).
    fn acks_stalled(&self, queue: &mut Queue) -> bool {
        let Some(window) = &mut queue.window else {
            return false;
        };
        let since = *window.full_since.get_or_insert_with(Instant::now);
        since.elapsed() >= self.stall_timeout
    }

    /// Marks the writer thread as ended (with the queue locked, so that a
    /// frame added at the same moment starts a new one).
    fn end_writer(&self, mut queue: MutexGuard<'_, Queue>) {
        queue.writer_running = false;
        drop(queue);
        self.writer_ended.notify_all();
    }
}

/// Writes one batch of frames to a socket, all before a deadline. A
/// socket's write timeout bounds each system call, and starts again
/// whenever the kernel takes a few bytes; this sets it, before each call,
/// to what is left of the time, so the whole batch must go in time.
struct FrameWriter<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl FrameWriter<'_> {
    /// Gives the next system call what is left of the time.
    fn before_write(&self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        self.stream.set_write_timeout(Some(left))
    }
}

impl Write for FrameWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.before_write()?;
        self.stream.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.before_write()?;
        self.stream.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

    /// Waits (polling, up to a bound) until `outbox` has cut its client off.
    fn wait_for_failure(outbox: &Outbox) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(failure) = outbox.failure() {
                return failure;
            }
            assert!(Instant::now() < deadline, "never cut off");
            std::thread::sleep(Duration::from_millis(10)); // polling a result
        }
    }

    fn frame(text: &str) -> Frame {
        Arc::new(text.as_bytes().to_vec())
    }

    /// A chunk frame: a `DATA` header and `len` bytes.
    fn chunk(len: usize) -> Frame {
        let mut frame = format!("DATA 1 {len}\n").into_bytes();
        frame.resize(frame.len() + len, b'x');
        Arc::new(frame)
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
            for line in ["DATA 1 0\n", "DONE 1 5\n"] {
                queue.bulk_bytes += line.len();
                queue.bulk.push_back(BulkFrame {
                    frame: frame(line),
                    data_len: 0,
                    _token: None,
                });
            }
            queue.urgent_bytes += "CHAT a hi\n".len();
            queue.urgent.push_back(frame("CHAT a hi\n"));
            queue.writer_running = true;
        }
        outbox.start_writer();
        let mut lines = BufReader::new(far).lines().map(Result::unwrap);
        assert_eq!(lines.next().as_deref(), Some("CHAT a hi"));
        assert_eq!(lines.next().as_deref(), Some("DATA 1 0"));
        assert_eq!(lines.next().as_deref(), Some("DONE 1 5"));
    }

    #[test]
    fn file_data_never_waits_and_a_client_that_stops_reading_is_cut_off() {
        let (outbox, _far) = outbox(Duration::from_secs(2)); // never read
        let token: Token = Arc::new(());
        for _ in 0..64 {
            outbox.send_chunk(chunk(256 * 1024), 256 * 1024, Arc::clone(&token));
        }
        // Had queueing waited for the writer, it would have waited until
        // the stall timeout cut the client off.
        assert_eq!(outbox.failure(), None, "queueing waited");
        assert_eq!(
            wait_for_failure(&outbox),
            "not reading: no data accepted for 2 s"
        );
        // Every chunk is written or thrown away: only our token is left.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&token) > 1 {
            assert!(Instant::now() < deadline, "chunks kept after the end");
            std::thread::sleep(Duration::from_millis(10)); // polling a result
        }
    }

    #[test]
    fn the_receive_window_holds_file_data_back_but_not_chat() {
        let (outbox, far) = outbox(Duration::from_secs(5));
        outbox.acknowledge(0); // this client keeps a window
        let len = 512 * 1024;
        let chunks = (RECEIVE_WINDOW_BYTES as usize / len) + 2;
        for _ in 0..chunks {
            outbox.send_chunk(chunk(len), len, Arc::new(()));
        }
        outbox.send(frame("CHAT a hi\n"), Priority::Urgent);
        // Read until the chat line: only a window of file data may come
        // first, however much is queued.
        let mut reader = BufReader::new(far);
        let mut data = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "CHAT a hi\n" {
                break;
            }
            let mut skip = vec![0; len];
            reader.read_exact(&mut skip).unwrap();
            data += len as u64;
        }
        assert!(
            data <= RECEIVE_WINDOW_BYTES,
            "{data} bytes of file before the chat"
        );
        // Acknowledging lets the rest through.
        outbox.acknowledge(len as u64);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, format!("DATA 1 {len}\n"));
    }

    #[test]
    fn a_client_that_acknowledges_nothing_is_cut_off() {
        let (outbox, _far) = outbox(Duration::from_millis(300));
        outbox.acknowledge(0);
        let len = 1024 * 1024;
        for _ in 0..4 {
            outbox.send_chunk(chunk(len), len, Arc::new(()));
        }
        assert_eq!(
            wait_for_failure(&outbox),
            "not reading: no data acknowledged for 0.3 s"
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
