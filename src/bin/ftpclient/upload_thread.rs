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
//! The control loop (`uploads.rs`) starts a [`DataThread`] once the server
//! has accepted the file, and may ask it to stop; the thread reports its
//! progress and its end with events.

use crate::connection::Connection;
use crate::events::Event;
use ftpchat::checksum::Cksum;
use ftpchat::protocol::ClientMessage;
use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

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

/// Why the control loop asks a data thread to stop.
pub enum StopRequest {
    /// Send `CANCEL` with this reason, then stop.
    Cancel(String),
    /// Just stop: the server has already dropped the file.
    Quietly,
}

/// The thread that sends one file's data. It checks for a request to stop
/// before each chunk, so `DATA`, `DONE` and `CANCEL` are all written by
/// this one thread, in order.
pub struct DataThread {
    stop: Arc<Mutex<Option<StopRequest>>>,
    thread: JoinHandle<()>,
}

impl DataThread {
    /// Starts sending the file of `job`.
    ///
    /// # Errors
    ///
    /// The thread could not be started (the system has none to give).
    pub fn start(job: DataJob) -> io::Result<DataThread> {
        let stop = Arc::new(Mutex::new(None));
        let stop_for_thread = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name(format!("upload-{}", job.id))
            .spawn(move || send_data(job, &stop_for_thread))?;
        Ok(DataThread { stop, thread })
    }

    /// Asks the thread to stop before its next chunk.
    pub fn request_stop(&self, request: StopRequest) {
        *self.stop.lock().unwrap_or_else(PoisonError::into_inner) = Some(request);
    }

    /// Asks the thread to stop, and lets it finish on its own.
    pub fn stop(self, request: StopRequest) {
        self.request_stop(request);
        drop(self.thread); // detached: it ends before its next write
    }
}

/// The data thread's body: sends the file's bytes as `DATA` frames, then
/// `DONE` with their checksum, and says so with an event. Gives up (with
/// `CANCEL`) if the file cannot be read or changes size, or when asked.
fn send_data(job: DataJob, stop: &Mutex<Option<StopRequest>>) {
    let DataJob {
        id,
        file,
        size,
        chunk_len,
        connection,
        events,
    } = job;
    let mut reader = match FileReader::start(id, file, size, chunk_len) {
        Ok(reader) => reader,
        Err(error) => {
            let why = format!("cannot start reading it: {error}");
            let _ = connection.send(&ClientMessage::Cancel { id, reason: &why });
            let _ = events.send(Event::UploadStopped { id, why: Some(why) });
            return;
        }
    };
    let mut sent = 0u64;
    let event = loop {
        if let Some(request) = stop.lock().unwrap_or_else(PoisonError::into_inner).take() {
            if let StopRequest::Cancel(reason) = request {
                let _ = connection.send(&ClientMessage::Cancel {
                    id,
                    reason: &reason,
                });
            }
            break Event::UploadStopped { id, why: None };
        }
        let next = match sent == size {
            true => reader.finish().map(Err),
            false => reader.next().map(Ok),
        };
        let written = match next {
            Ok(Ok(chunk)) => connection.send_data(id, &chunk).map(|()| {
                sent += chunk.len() as u64;
                reader.give_back(chunk);
                None
            }),
            Ok(Err(checksum)) => connection
                .send(&ClientMessage::Done { id, checksum })
                .map(|()| Some(Event::UploadSent { id, checksum })),
            Err(error) => {
                let why = error.to_string();
                let _ = connection.send(&ClientMessage::Cancel { id, reason: &why });
                break Event::UploadStopped { id, why: Some(why) };
            }
        };
        match written {
            Ok(Some(done)) => break done,
            Ok(None) => {
                let _ = events.send(Event::UploadProgress { id, sent });
            }
            // The connection failed: the socket's thread reports it.
            Err(_) => break Event::UploadStopped { id, why: None },
        }
    };
    let _ = events.send(event);
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
    /// The reader thread; returns the checksum of everything it read.
    thread: Option<JoinHandle<u32>>,
}

impl FileReader {
    /// Starts reading `size` bytes of `file` (our file number `id`) in
    /// chunks of `chunk_len`.
    fn start(id: u64, file: File, size: u64, chunk_len: usize) -> io::Result<FileReader> {
        let (full_tx, full) = mpsc::sync_channel(READ_AHEAD_BUFFERS);
        let (empty, returned) = mpsc::channel::<Vec<u8>>();
        let thread = thread::Builder::new()
            .name(format!("read-{id}"))
            .spawn(move || read_file(file, size, chunk_len, &full_tx, &returned))?;
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

    /// The checksum of the whole file, once every chunk has been taken.
    fn finish(&mut self) -> io::Result<u32> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(checksum)) => Ok(checksum),
            Some(Err(_)) => Err(io::Error::other("the file reader failed")),
            None => Err(io::Error::other("the file was already finished")),
        }
    }
}

/// The file reader's body: reads `size` bytes of `file` in chunks, adding
/// each to the checksum, into buffers that come back on `returned`.
fn read_file(
    mut file: File,
    size: u64,
    chunk_len: usize,
    full: &SyncSender<io::Result<Vec<u8>>>,
    returned: &Receiver<Vec<u8>>,
) -> u32 {
    let mut checksum = Cksum::new();
    let (mut made, mut left) = (0, size);
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
            Err(e) => Err(io::Error::new(e.kind(), format!("cannot read it: {e}"))),
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
