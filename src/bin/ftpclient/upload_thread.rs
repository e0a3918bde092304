//! The thread that sends one file's bytes: chunks read ahead from the
//! disk, written to the server as `DATA` frames, then `DONE`.
//!
//! A [`FileReader`] thread reads the chunks from disk just ahead of the
//! sending thread and adds each to the checksum, so reading the next chunk
//! overlaps with sending this one, and only a few chunks are ever in
//! memory. When the server is slower than the disk, the socket's send
//! buffer fills and the write blocks: TCP's flow control paces the reading
//! of the file.
//!
//! The control loop (`uploads.rs`) starts a [`DataThread`] when the first
//! recipient accepts, and then talks to it through a channel of
//! [`Command`]s, which the thread reads between two chunks: "a recipient
//! needs the file from this offset" (it goes back, with `FROM`, if its
//! data has already passed that offset; this is how a recipient that
//! answered late still gets the whole file), "the server allows this much
//! more data" (flow control: the thread sends only what the server can
//! take at once, see `ftpchat::protocol::flow`), and "stop". Because this one
//! thread writes every `DATA`, `FROM`, `DONE` and `CANCEL` of its file,
//! they reach the server in the order they were decided.
//!
//! After `DONE` the thread waits for more commands, until the control
//! loop stops it once every recipient has reported.

use crate::connection::Connection;
use crate::events::Event;
use ftpchat::checksum::Cksum;
use ftpchat::protocol::ClientMessage;
use ftpchat::protocol::flow::SEND_WINDOW_BYTES;
use ftpchat::text::io_words;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How many chunk buffers the file reader and the sender pass between
/// them: enough to keep both threads busy, few enough that memory stays
/// small.
const READ_AHEAD_BUFFERS: usize = 4;

/// What a data thread sends, and where.
pub struct DataJob {
    /// Our number for the file.
    pub id: u64,
    /// The file, open.
    pub file: File,
    /// Its size, as offered.
    pub size: u64,
    /// Bytes per chunk.
    pub chunk_len: usize,
    /// Where the frames go.
    pub connection: Arc<Connection>,
    /// Where progress and the end are reported.
    pub events: Sender<Event>,
}

/// What the control loop asks of a data thread.
pub enum Command {
    /// A recipient needs the file from this offset on.
    SendFrom(u64),
    /// The server allows this many more bytes (`MORE`).
    More(u64),
    /// Stop; with a reason, say so to the server with `CANCEL` first.
    Stop(Option<String>),
}

/// The thread that sends one file's data, and the channel to it.
pub struct DataThread {
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl DataThread {
    /// Starts sending the file of `job` from byte `from`.
    ///
    /// # Errors
    ///
    /// The thread could not be started (the system has none to give).
    pub fn start(job: DataJob, from: u64) -> io::Result<DataThread> {
        let (commands, incoming) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(format!("upload-{}", job.id))
            .spawn(move || run(job, from, &incoming))?;
        Ok(DataThread {
            commands,
            thread: Some(thread),
        })
    }

    /// Passes a command to the thread (which has ended if it cannot take it).
    pub fn command(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Asks the thread to stop, and lets it end on its own: it may be
    /// waiting for the server to take a chunk.
    pub fn stop(mut self, reason: Option<String>) {
        self.command(Command::Stop(reason));
        drop(self.thread.take()); // detached: it ends before its next write
    }
}

/// One file's data on its way out: where it stands, and what it knows.
struct Streamer {
    id: u64,
    size: u64,
    chunk_len: usize,
    file: File,
    connection: Arc<Connection>,
    events: Sender<Event>,
    /// Where the server thinks our data is: the offset of our next byte.
    position: u64,
    /// The file's checksum, once one run has read all of it.
    checksum: Option<u32>,
    /// How many more bytes of data the server allows (flow control: see
    /// `ftpchat::protocol::flow`).
    credit: u64,
    /// Time spent in earlier runs, when this run began, and the data sent
    /// in them all, for the summary.
    busy: Duration,
    run_began: Instant,
    bytes_sent: u64,
}

/// How a run over the file ended.
enum RunEnd {
    /// It reached the end and sent `DONE`.
    Done,
    /// A recipient needs earlier bytes: run again from there.
    Again(u64),
    /// Stopped, by request or by a failure already reported.
    Stopped,
}

/// The data thread's body: runs over the file from `from`, then waits for
/// commands, until it is stopped or the control loop has gone.
fn run(job: DataJob, from: u64, commands: &Receiver<Command>) {
    let mut sender = Streamer {
        id: job.id,
        size: job.size,
        chunk_len: job.chunk_len,
        file: job.file,
        connection: job.connection,
        events: job.events,
        position: 0,
        checksum: None,
        credit: SEND_WINDOW_BYTES,
        busy: Duration::ZERO,
        run_began: Instant::now(),
        bytes_sent: 0,
    };
    let mut from = Some(from);
    while let Some(start) = from.take() {
        sender.run_began = Instant::now();
        let end = sender.run_from(start, commands);
        sender.busy += sender.run_began.elapsed();
        from = match end {
            RunEnd::Again(offset) => Some(offset),
            RunEnd::Stopped => None,
            // Sent whole: wait for a late recipient, or the end.
            RunEnd::Done => loop {
                match commands.recv() {
                    Ok(Command::SendFrom(offset)) if offset < sender.size => break Some(offset),
                    Ok(Command::SendFrom(_)) => {}
                    Ok(Command::More(bytes)) => sender.credit += bytes,
                    Ok(Command::Stop(reason)) => {
                        sender.cancel(reason);
                        break None;
                    }
                    Err(_) => break None,
                }
            },
        };
    }
}

impl Streamer {
    /// Sends the file from `start` to its end, then `DONE`; reads the
    /// commands between chunks.
    fn run_from(&mut self, start: u64, commands: &Receiver<Command>) -> RunEnd {
        if start != self.position {
            let from = ClientMessage::From {
                id: self.id,
                offset: start,
            };
            if self.connection.send(&from).is_err() {
                return self.connection_lost();
            }
            self.position = start;
        }
        // The checksum covers the whole file: unless an earlier run has
        // it already, read from the start, sending only from `start`.
        let read_from = if self.checksum.is_some() { start } else { 0 };
        let reader = self.file.try_clone().and_then(|file| {
            FileReader::start(self.id, file, read_from, self.size, self.chunk_len)
        });
        let mut reader = match reader {
            Ok(reader) => reader,
            Err(error) => return self.fail(&format!("cannot read it: {}", io_words(&error))),
        };
        let mut offset = read_from;
        while offset < self.size {
            if let Some(end) = self.obey(next_command(commands)) {
                return end;
            }
            let chunk = match reader.next() {
                Ok(chunk) => chunk,
                Err(error) => return self.fail(&io_words(&error)),
            };
            let chunk_end = offset + chunk.len() as u64;
            if chunk_end > start {
                let skip = start.saturating_sub(offset) as usize;
                let len = (chunk.len() - skip) as u64;
                // Wait for credit, still obeying commands meanwhile (a
                // cancel is prompt even when the server is slow to take).
                while self.credit < len {
                    if let Some(end) = self.obey(commands.recv().ok().or(Some(Command::Stop(None))))
                    {
                        return end;
                    }
                }
                self.credit -= len;
                self.bytes_sent += len;
                if self.connection.send_data(self.id, &chunk[skip..]).is_err() {
                    return self.connection_lost();
                }
                self.position = chunk_end;
                let sent = chunk_end;
                let _ = self
                    .events
                    .send(Event::UploadProgress { id: self.id, sent });
            }
            offset = chunk_end;
            reader.give_back(chunk);
        }
        self.finish(&mut reader)
    }

    /// Acts on a command read between two chunks. Returns how the run
    /// ends, if it does: a recipient needs bytes already sent, or a stop.
    fn obey(&mut self, command: Option<Command>) -> Option<RunEnd> {
        match command? {
            Command::SendFrom(wanted) if wanted < self.position => Some(RunEnd::Again(wanted)),
            Command::SendFrom(_) => None,
            Command::More(bytes) => {
                self.credit += bytes;
                None
            }
            Command::Stop(reason) => {
                self.cancel(reason);
                Some(RunEnd::Stopped)
            }
        }
    }

    /// Sends `DONE` with the checksum (this run's, or an earlier one's).
    fn finish(&mut self, reader: &mut FileReader) -> RunEnd {
        let checksum = match (self.checksum, reader.finish()) {
            (Some(checksum), _) | (None, Ok(checksum)) => checksum,
            (None, Err(error)) => return self.fail(&io_words(&error)),
        };
        self.checksum = Some(checksum);
        let done = ClientMessage::Done {
            id: self.id,
            checksum,
        };
        if self.connection.send(&done).is_err() {
            return self.connection_lost();
        }
        let sent = Event::UploadSent {
            id: self.id,
            checksum,
            busy: self.busy + self.run_began.elapsed(),
            bytes: self.bytes_sent,
        };
        let _ = self.events.send(sent);
        RunEnd::Done
    }

    /// Gives up for `why`: tells the server with `CANCEL`, and the
    /// control loop.
    fn fail(&self, why: &str) -> RunEnd {
        let cancel = ClientMessage::Cancel {
            id: self.id,
            reason: why,
        };
        let _ = self.connection.send(&cancel);
        let stopped = Event::UploadStopped {
            id: self.id,
            why: Some(why.to_string()),
        };
        let _ = self.events.send(stopped);
        RunEnd::Stopped
    }

    /// The connection failed: the socket's thread reports it.
    fn connection_lost(&self) -> RunEnd {
        let _ = self.events.send(Event::UploadStopped {
            id: self.id,
            why: None,
        });
        RunEnd::Stopped
    }

    /// Stops on request: with a reason, `CANCEL` tells the server.
    fn cancel(&self, reason: Option<String>) {
        if let Some(reason) = reason {
            let cancel = ClientMessage::Cancel {
                id: self.id,
                reason: &reason,
            };
            let _ = self.connection.send(&cancel);
        }
        let _ = self.events.send(Event::UploadStopped {
            id: self.id,
            why: None,
        });
    }
}

/// The next command, if one is waiting; a closed channel (the control
/// loop has gone) is a request to stop.
fn next_command(commands: &Receiver<Command>) -> Option<Command> {
    match commands.try_recv() {
        Ok(command) => Some(command),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Disconnected) => Some(Command::Stop(None)),
    }
}

/// Reads one file's chunks, and keeps its checksum, on a thread of its
/// own, so that reading the next chunk from disk overlaps with sending
/// this one. The same [`READ_AHEAD_BUFFERS`] buffers go round between the
/// two threads.
struct FileReader {
    /// Chunks read, in order (or the error that stopped the reading).
    full: Receiver<io::Result<Vec<u8>>>,
    /// Buffers sent, given back to be filled again.
    empty: Sender<Vec<u8>>,
    /// The reader thread; returns the checksum of everything it read
    /// (meaningful when it read from the start).
    thread: Option<JoinHandle<u32>>,
}

impl FileReader {
    /// Starts reading `file` (our file number `id`) from byte `start` to
    /// `size`, in chunks of `chunk_len`.
    fn start(
        id: u64,
        mut file: File,
        start: u64,
        size: u64,
        chunk_len: usize,
    ) -> io::Result<FileReader> {
        file.seek(SeekFrom::Start(start))?;
        let (full_tx, full) = mpsc::sync_channel(READ_AHEAD_BUFFERS);
        let (empty, returned) = mpsc::channel::<Vec<u8>>();
        let thread = thread::Builder::new()
            .name(format!("read-{id}"))
            .spawn(move || read_file(file, size - start, chunk_len, &full_tx, &returned))?;
        Ok(FileReader {
            full,
            empty,
            thread: Some(thread),
        })
    }

    /// The next chunk of the file.
    fn next(&mut self) -> io::Result<Vec<u8>> {
        self.full
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the file reader stopped")))
    }

    /// Gives a sent chunk's buffer back, to be filled again.
    fn give_back(&mut self, buffer: Vec<u8>) {
        let _ = self.empty.send(buffer);
    }

    /// The checksum of what was read, once every chunk has been taken.
    fn finish(&mut self) -> io::Result<u32> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(checksum)) => Ok(checksum),
            Some(Err(_)) => Err(io::Error::other("the file reader failed")),
            None => Err(io::Error::other("the file was already finished")),
        }
    }
}

impl Drop for FileReader {
    /// Waits for the reader thread to end, so that no two readers ever use
    /// the file at once: handles made with `try_clone` share one read
    /// position, and a reader left running would move it under the next.
    fn drop(&mut self) {
        // Closing both channels makes the thread's next send or receive
        // fail, and it ends.
        let (_, closed_full) = mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.full, closed_full));
        let (closed_empty, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.empty, closed_empty));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The file reader's body: reads `len` bytes of `file` in chunks, adding
/// each to the checksum, into buffers that come back on `returned`.
fn read_file(
    mut file: File,
    len: u64,
    chunk_len: usize,
    full: &SyncSender<io::Result<Vec<u8>>>,
    returned: &Receiver<Vec<u8>>,
) -> u32 {
    let mut checksum = Cksum::new();
    let (mut made, mut left) = (0, len);
    while left > 0 {
        let next = match returned.try_recv() {
            Ok(buffer) => Ok(buffer),
            Err(_) if made < READ_AHEAD_BUFFERS => {
                made += 1;
                Ok(Vec::new())
            }
            Err(_) => returned.recv(),
        };
        let Ok(mut buffer) = next else { break }; // the sender stopped
        buffer.resize(chunk_len.min(left as usize), 0);
        let chunk = match read_full(&mut file, &mut buffer) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file got shorter while it was being sent",
            )),
            Ok(len) => {
                buffer.truncate(len);
                checksum.update(&buffer);
                left -= len as u64;
                Ok(buffer)
            }
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot read it: {}", io_words(&e)),
            )),
        };
        let failed = chunk.is_err();
        if full.send(chunk).is_err() || failed {
            break;
        }
    }
    checksum.finish()
}

/// Reads until `buf` is full or the file ends; returns how much was read.
/// (A single `read` may return less than asked even in mid-file.)
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
