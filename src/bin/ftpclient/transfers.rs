//! Files: sending one from disk, and receiving them into `rec/`.
//!
//! **Sending.** `transfer PATH` starts a thread for the file, so the user
//! can go on chatting. The thread offers the file (`SEND`), waits for the
//! server's `ACCEPTED`, then writes the file as `DATA` frames, one chunk
//! each. A [`FileReader`] thread reads the chunks from disk just ahead of
//! it and adds each to the checksum, so only a few chunks are ever in
//! memory. When the server is slower than the disk, the socket's send
//! buffer fills and the write blocks: TCP's flow control paces the
//! reading of the file. Last comes `DONE` with the checksum, then the
//! recipients' reports (`DELIVERED`), and a summary for the user.
//!
//! Frames from this thread and from the user's chat share one connection.
//! Each frame is written whole while holding the connection's lock, so a
//! chat line can slip in between two chunks but never into one.
//!
//! **Receiving.** The receiver thread (the one that prints chat) handles
//! `FILE`, `DATA`, `DONE` and `CANCEL`. Each file is written to a hidden
//! temporary file as its chunks arrive, with a running checksum, and gets
//! its real name only when it is complete and the checksum matches (see
//! `ftpchat::files`). A [`Download`] that is dropped before that, for any
//! reason, deletes its temporary file.
//!
//! Writing to disk and checksumming take as long as reading from the
//! network, so a [`DiskWriter`] thread does them while the receiver thread
//! reads the next chunk: the two steps overlap, as on an assembly line.

use crate::Client;
use ftpchat::checksum::Cksum;
use ftpchat::files::{create_temp_file, publish, safe_file_name};
use ftpchat::protocol::{ClientMessage, Delivery};
use ftpchat::text::{format_size, make_visible};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long to wait for the server to accept or refuse a file.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait, after the last chunk, for every recipient's report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a live progress line is redrawn.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// What the server says about a file we are sending. The receiver thread
/// reads it and hands it to the file's thread through a channel.
pub enum Reply {
    /// `ACCEPTED`: the file goes to this many recipients.
    Accepted(usize),
    /// `REFUSED`: the server will not relay (any more of) the file.
    Refused(String),
    /// `DELIVERED`: how it went for one recipient.
    Delivered {
        /// The recipient.
        nick: String,
        /// Saved, or why not.
        outcome: Result<(), String>,
    },
}

/// A file being sent, as the receiver thread knows it.
pub struct Outgoing {
    /// The file's name, to report an interruption.
    pub name: String,
    /// Where to pass the server's replies about it.
    pub replies: Sender<Reply>,
}

/// Checks the file at `path` and starts a thread that sends it to `to`
/// (or everyone). Returns the thread, or a one-line error for the user.
pub fn start_upload(
    client: &Arc<Client>,
    path: &str,
    to: Option<&str>,
) -> Result<JoinHandle<()>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let metadata = file
        .metadata()
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if metadata.is_dir() {
        return Err(format!("cannot send {path}: it is a folder"));
    }
    // Only the last part of the path travels: the receivers need no more,
    // and should not learn how our folders are laid out.
    let name = std::path::Path::new(path)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| format!("cannot send {path}: it names no file"))?;
    let upload = Upload {
        id: client.next_transfer_id(),
        file,
        name,
        size: metadata.len(),
        to: to.map(str::to_string),
    };
    let (replies, receiver) = mpsc::channel();
    let outgoing = Outgoing {
        name: upload.name.clone(),
        replies,
    };
    client.outgoing().insert(upload.id, outgoing);
    let client = Arc::clone(client);
    thread::Builder::new()
        .name(format!("upload-{}", upload.id))
        .spawn(move || upload.run(&client, &receiver))
        .map_err(|e| format!("cannot start sending {path}: {e}"))
}

/// One file to send.
struct Upload {
    id: u64,
    file: File,
    name: String,
    size: u64,
    to: Option<String>,
}

/// What the recipients reported so far.
#[derive(Default)]
struct Reports {
    saved: Vec<String>,
    failed: Vec<(String, String)>,
}

impl Reports {
    fn count(&self) -> usize {
        self.saved.len() + self.failed.len()
    }

    fn add(&mut self, nick: String, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.saved.push(nick),
            Err(reason) => self.failed.push((nick, reason)),
        }
    }
}

impl Upload {
    /// Sends the file and prints how it went. Problems are printed, not
    /// returned: this runs on its own thread, and the user wants to know.
    fn run(mut self, client: &Client, replies: &Receiver<Reply>) {
        match self.send(client, replies) {
            Ok(()) => {}
            Err(Stop::Problem(problem)) => client.screen.complain(&format!("! {problem}")),
            // The receiver thread reports a lost connection, naming every
            // file still listed as being sent: so this one stays listed.
            Err(Stop::ConnectionLost) => return,
        }
        client.outgoing().remove(&self.id);
    }

    fn send(&mut self, client: &Client, replies: &Receiver<Reply>) -> Result<(), Stop> {
        let name = make_visible(&self.name).into_owned();
        let offer = ClientMessage::Send {
            id: self.id,
            size: self.size,
            to: self.to.as_deref().unwrap_or("*"),
            name: &self.name,
        };
        client.send(&offer).map_err(|_| Stop::ConnectionLost)?;
        let mut reports = Reports::default();
        let recipients = loop {
            match replies.recv_timeout(ACCEPT_TIMEOUT) {
                Ok(Reply::Accepted(count)) => break count,
                Ok(Reply::Refused(text)) => {
                    return Err(format!("cannot send {name}: {text}").into());
                }
                Ok(Reply::Delivered { nick, outcome }) => reports.add(nick, outcome),
                Err(_) => {
                    return Err(format!("cannot send {name}: the server did not answer").into());
                }
            }
        };
        let target = match &self.to {
            Some(nick) => make_visible(nick).into_owned(),
            None if recipients == 1 => "1 recipient".to_string(),
            None => format!("{recipients} recipients"),
        };
        let size = format_size(self.size);
        client
            .screen
            .print(&format!("* sending {name} ({size}) to {target}"));

        let started = Instant::now();
        let finished = self.send_data(client, replies, recipients, &mut reports)?;
        if let Some(checksum) = finished {
            let done = ClientMessage::Done {
                id: self.id,
                checksum,
            };
            client.send(&done).map_err(|_| Stop::ConnectionLost)?;
            // Wait until every recipient has said how it went.
            let deadline = Instant::now() + REPORT_TIMEOUT;
            while reports.count() < recipients {
                let left = deadline.saturating_duration_since(Instant::now());
                match replies.recv_timeout(left) {
                    Ok(Reply::Delivered { nick, outcome }) => reports.add(nick, outcome),
                    Ok(Reply::Refused(text)) => {
                        return Err(format!("sending {name} failed: {text}").into());
                    }
                    Ok(Reply::Accepted(_)) => {}
                    Err(_) => break,
                }
            }
        }
        match finished {
            // Everyone failed, whether before the last chunk or after.
            _ if reports.saved.is_empty() && reports.failed.len() == recipients => {
                client.screen.complain(&format!("! {name} reached nobody"));
            }
            Some(checksum) => {
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let rate = format_size((self.size as f64 / secs) as u64);
                let saved = reports.saved.len();
                client.screen.print(&format!(
                    "* sent {name} ({size}) to {saved} of {recipients} in {secs:.1} s ({rate}/s), cksum {checksum}"
                ));
            }
            None => {}
        }
        for (nick, reason) in &reports.failed {
            client.screen.complain(&format!(
                "! {name} did not reach {}: {}",
                make_visible(nick),
                make_visible(reason)
            ));
        }
        let silent = recipients - reports.count();
        if silent > 0 {
            client.screen.complain(&format!(
                "! {name}: {silent} recipients did not confirm within {} s",
                REPORT_TIMEOUT.as_secs()
            ));
        }
        Ok(())
    }

    /// Sends the file's bytes as `DATA` frames and returns their checksum.
    /// Gives up (with `CANCEL`) if the file cannot be read, changes size,
    /// or nobody is left to receive it.
    fn send_data(
        &mut self,
        client: &Client,
        replies: &Receiver<Reply>,
        recipients: usize,
        reports: &mut Reports,
    ) -> Result<Option<u32>, Stop> {
        let name = make_visible(&self.name).into_owned();
        let label = format!("{} >", short_name(&name));
        let mut progress = Progress::new(format!("send {}", self.id), label, self.size);
        let file = self
            .file
            .try_clone()
            .map_err(|e| Stop::Problem(format!("cannot send {name}: {e}")))?;
        let mut reader = FileReader::start(file, self.size, client.chunk_len);
        let mut sent = 0u64;
        // The server may give up on the file itself (`REFUSED`); then there
        // is nothing to cancel.
        let mut refused = None;
        let result = loop {
            // Reports can come at any time; look at them without waiting.
            while let Ok(reply) = replies.try_recv() {
                match reply {
                    Reply::Delivered { nick, outcome } => reports.add(nick, outcome),
                    Reply::Refused(text) => refused = Some(text),
                    Reply::Accepted(_) => {}
                }
            }
            if let Some(text) = refused.take() {
                progress.clear(&client.screen);
                return Err(format!("sending {name} stopped: {text}").into());
            }
            if reports.count() == recipients {
                // Every recipient has already failed: stop wasting the
                // network. The caller reports it as if the file had ended.
                let reason = "nobody is receiving it any more";
                let _ = client.send(&ClientMessage::Cancel {
                    id: self.id,
                    reason,
                });
                break Ok(None);
            }
            if sent == self.size {
                break Ok(Some(reader.finish()));
            }
            let chunk = match reader.next() {
                Ok(chunk) => chunk,
                Err(e) => break Err(e.to_string()),
            };
            client
                .send_data(self.id, &chunk)
                .map_err(|_| Stop::ConnectionLost)?;
            sent += chunk.len() as u64;
            reader.give_back(chunk);
            progress.show(&client.screen, sent);
        };
        progress.clear(&client.screen);
        result.map_err(|why| {
            let _ = client.send(&ClientMessage::Cancel {
                id: self.id,
                reason: &why,
            });
            Stop::Problem(format!("sending {name} stopped: {why}"))
        })
    }
}

/// Why sending a file stopped early.
enum Stop {
    /// Something to tell the user.
    Problem(String),
    /// The connection failed; the receiver thread tells the user.
    ConnectionLost,
}

impl From<String> for Stop {
    fn from(problem: String) -> Stop {
        Stop::Problem(problem)
    }
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

/// The files being received, by the server's transfer number. `None`
/// marks a file that failed: its remaining chunks are read and dropped.
pub struct Downloads {
    active: HashMap<u64, Option<Download>>,
    dir: PathBuf,
    /// One buffer for every chunk received: memory stays flat.
    chunk: Vec<u8>,
}

/// A file being received.
struct Download {
    from: String,
    name: String,
    size: u64,
    received: u64,
    disk: DiskWriter,
    temp: PathBuf,
    progress: Progress,
    /// Set once the file has its real name; until then, dropping the
    /// download removes the temporary file.
    published: bool,
}

impl Download {
    /// Gives up on this file: clears its progress and deletes the partial
    /// file (by dropping it) *before* the caller tells the user, so that
    /// "nothing was saved" is already true when it is printed. Returns
    /// "NAME from NICK" for that message.
    fn discard(self, client: &Client) -> String {
        self.progress.clear(&client.screen);
        format!("{} from {}", self.name, self.from)
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl Downloads {
    /// No files yet; they will be saved in `dir`.
    pub fn new(dir: PathBuf) -> Downloads {
        Downloads {
            active: HashMap::new(),
            dir,
            chunk: Vec::new(),
        }
    }

    /// `FILE`: a file is coming. Creates its temporary file.
    pub fn begin(&mut self, client: &Client, id: u64, size: u64, from: &str, name: &str) {
        let name = safe_file_name(name);
        let from = make_visible(from).into_owned();
        match create_temp_file(&self.dir, &name) {
            Ok((file, temp)) => {
                client.screen.print(&format!(
                    "* receiving {name} ({}) from {from}",
                    format_size(size)
                ));
                let label = format!("{} <", short_name(&name));
                let progress = Progress::new(format!("recv {id}"), label, size);
                let download = Download {
                    from,
                    name,
                    size,
                    received: 0,
                    disk: DiskWriter::start(file),
                    temp,
                    progress,
                    published: false,
                };
                self.active.insert(id, Some(download));
            }
            Err(error) => {
                client
                    .screen
                    .print(&format!("! cannot receive {name} from {from}: {error}"));
                client.report(id, Delivery::Failed(&error.to_string()));
                self.active.insert(id, None);
            }
        }
    }

    /// `DATA`: reads the chunk of `len` bytes that follows the header on
    /// `reader`, and writes it to its file.
    ///
    /// # Errors
    ///
    /// The connection failed or closed in the middle of the chunk.
    pub fn data(
        &mut self,
        client: &Client,
        reader: &mut impl BufRead,
        id: u64,
        len: usize,
    ) -> io::Result<()> {
        // The chunk is read from the same buffered reader as the header,
        // which may already hold its first bytes; it is read in any case, so
        // that the stream stays in step.
        let wanted = match self.active.get_mut(&id) {
            Some(Some(download)) if download.received + len as u64 <= download.size => {
                download.disk.buffer()
            }
            _ => None,
        };
        let Some(mut chunk) = wanted else {
            self.chunk.resize(len, 0);
            reader.read_exact(&mut self.chunk)?;
            match self.active.get_mut(&id) {
                Some(Some(download)) if download.received + len as u64 > download.size => {
                    let why = format!("more data than the {} bytes announced", download.size);
                    self.fail(client, id, &why);
                }
                Some(Some(_)) => self.fail_disk(client, id),
                _ => {} // a file we gave up on, or never heard of
            }
            return Ok(());
        };
        chunk.resize(len, 0);
        reader.read_exact(&mut chunk)?;
        let Some(Some(download)) = self.active.get_mut(&id) else {
            return Ok(());
        };
        if !download.disk.write(chunk) {
            self.fail_disk(client, id);
            return Ok(());
        }
        download.received += len as u64;
        download.progress.show(&client.screen, download.received);
        Ok(())
    }

    /// `DONE`: the sender has sent everything. Checks size and checksum,
    /// then gives the file its real name.
    pub fn done(&mut self, client: &Client, id: u64, checksum: u32) {
        let Some(Some(mut download)) = self.active.remove(&id) else {
            return;
        };
        download.progress.clear(&client.screen);
        let (file, ours) = match download.disk.finish() {
            Ok(written) => written,
            Err(error) => {
                let why = format!("cannot write {}: {error}", download.temp.display());
                self.active.insert(id, Some(download));
                self.fail(client, id, &why);
                self.active.remove(&id);
                return;
            }
        };
        let problem = if download.received != download.size {
            Some(format!(
                "only {} of {} bytes arrived",
                download.received, download.size
            ))
        } else if ours != checksum {
            Some(format!(
                "checksum mismatch (sender {checksum}, received {ours})"
            ))
        } else if let Err(error) = file.sync_data() {
            // Wait until the data is on the disk before giving the file its
            // name: otherwise a power cut could leave the name pointing at
            // missing data. (This costs about a third of the time of a
            // transfer on loopback, and is worth it.)
            Some(format!("cannot write {}: {error}", download.temp.display()))
        } else {
            match publish(&download.temp, &self.dir, &download.name) {
                Ok(path) => {
                    download.published = true;
                    // Report before printing: whoever reads our output and
                    // then makes us quit must not overtake the report.
                    client.report(id, Delivery::Ok);
                    client.screen.print(&format!(
                        "* received {} ({}) from {}, saved as {} (cksum {ours})",
                        download.name,
                        format_size(download.size),
                        download.from,
                        path.display()
                    ));
                    None
                }
                Err(error) => Some(error.to_string()),
            }
        };
        if let Some(why) = problem {
            self.active.insert(id, Some(download));
            self.fail(client, id, &why);
            self.active.remove(&id);
        }
    }

    /// `CANCEL`: the transfer stopped; the partial file is deleted.
    pub fn cancel(&mut self, client: &Client, id: u64, reason: &str) {
        if let Some(Some(download)) = self.active.remove(&id) {
            let what = download.discard(client);
            let reason = make_visible(reason);
            client.screen.print(&format!(
                "! receiving {what} stopped: {reason}; nothing was saved"
            ));
        }
    }

    /// The connection is gone: every partial file is deleted, and the user
    /// told which.
    pub fn abandon_all(&mut self, client: &Client, why: &str) {
        for download in self.active.drain().filter_map(|(_, download)| download) {
            let what = download.discard(client);
            client.screen.complain(&format!(
                "! receiving {what} stopped: {why}; nothing was saved"
            ));
        }
    }

    /// Gives up on file `id` because writing it failed, with the error the
    /// disk thread met.
    fn fail_disk(&mut self, client: &Client, id: u64) {
        if let Some(Some(download)) = self.active.get_mut(&id) {
            let error = download.disk.finish().err();
            let error = error.map_or("the disk writer stopped".to_string(), |e| e.to_string());
            let why = format!("cannot write {}: {error}", download.temp.display());
            self.fail(client, id, &why);
        }
    }

    /// Gives up on file `id`: deletes what arrived, tells the user and the
    /// sender, and drops the rest of its chunks as they come.
    fn fail(&mut self, client: &Client, id: u64, why: &str) {
        let discarded = match self.active.insert(id, None) {
            Some(Some(download)) => Some(download.discard(client)),
            _ => None,
        };
        client.report(id, Delivery::Failed(why)); // before printing, as in `done`
        if let Some(what) = discarded {
            client.screen.print(&format!(
                "! receiving {what} failed: {why}; nothing was saved"
            ));
        }
    }
}

/// How many chunk buffers one download cycles through: enough to keep
/// both threads busy, few enough that memory stays small.
const DISK_BUFFERS: usize = 4;

/// Reads one file's chunks, and keeps its checksum, on a thread of its
/// own: the sending side's counterpart of [`DiskWriter`], so that reading
/// the next chunk from disk overlaps with sending this one. The same
/// [`DISK_BUFFERS`] buffers go round between the two threads.
struct FileReader {
    /// Chunks read, in order (or the error that stopped the reading).
    full: Receiver<io::Result<Vec<u8>>>,
    /// Buffers sent, given back to be filled again.
    empty: Sender<Vec<u8>>,
    /// The reader thread; returns the checksum of everything it read.
    thread: Option<JoinHandle<u32>>,
}

impl FileReader {
    /// Starts reading `size` bytes of `file` in chunks of `chunk_len`.
    fn start(mut file: File, size: u64, chunk_len: usize) -> FileReader {
        let (full_tx, full) = mpsc::sync_channel(DISK_BUFFERS);
        let (empty, returned) = mpsc::channel::<Vec<u8>>();
        let thread = thread::spawn(move || {
            let mut checksum = Cksum::new();
            let (mut made, mut left) = (0, size);
            while left > 0 {
                let next = match returned.try_recv() {
                    Ok(buffer) => Ok(buffer),
                    Err(_) if made < DISK_BUFFERS => {
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
                if full_tx.send(chunk).is_err() || failed {
                    break;
                }
            }
            checksum.finish()
        });
        FileReader {
            full,
            empty,
            thread: Some(thread),
        }
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
    fn finish(&mut self) -> u32 {
        self.thread
            .take()
            .map_or(0, |thread| thread.join().unwrap_or(0))
    }
}

/// Writes one file's chunks, and keeps its checksum, on a thread of its
/// own. The receiver thread takes an empty buffer ([`DiskWriter::buffer`]),
/// reads a chunk into it, and hands it over ([`DiskWriter::write`]); the
/// disk thread writes it and hands the buffer back. [`DISK_BUFFERS`]
/// buffers go round, so memory stays flat.
struct DiskWriter {
    /// Full buffers to the disk thread; `None` once finished.
    full: Option<SyncSender<Vec<u8>>>,
    /// Empty buffers back from it.
    empty: Receiver<Vec<u8>>,
    /// Buffers made so far.
    made: usize,
    /// The disk thread: returns the file and its checksum, or the write
    /// error that stopped it.
    thread: Option<JoinHandle<io::Result<(File, u32)>>>,
}

impl DiskWriter {
    fn start(mut file: File) -> DiskWriter {
        let (full, chunks) = mpsc::sync_channel::<Vec<u8>>(DISK_BUFFERS);
        let (give_back, empty) = mpsc::channel();
        let thread = thread::spawn(move || {
            let mut checksum = Cksum::new();
            for chunk in chunks {
                file.write_all(&chunk)?;
                checksum.update(&chunk);
                let _ = give_back.send(chunk);
            }
            Ok((file, checksum.finish()))
        });
        DiskWriter {
            full: Some(full),
            empty,
            made: 0,
            thread: Some(thread),
        }
    }

    /// An empty buffer for the next chunk: a new one while fewer than
    /// [`DISK_BUFFERS`] exist, else one the disk thread has finished with.
    /// `None` if the disk thread has stopped (a write failed).
    fn buffer(&mut self) -> Option<Vec<u8>> {
        if let Ok(buffer) = self.empty.try_recv() {
            return Some(buffer);
        }
        if self.made < DISK_BUFFERS {
            self.made += 1;
            return Some(Vec::new());
        }
        self.empty.recv().ok()
    }

    /// Hands a chunk to the disk thread. `false` if it has stopped.
    fn write(&mut self, chunk: Vec<u8>) -> bool {
        self.full
            .as_ref()
            .is_some_and(|full| full.send(chunk).is_ok())
    }

    /// Waits for every chunk to be written; returns the file and the
    /// checksum of everything written, or the error that stopped it.
    fn finish(&mut self) -> io::Result<(File, u32)> {
        self.full = None; // no more chunks: the disk thread's loop ends
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the disk writer panicked")),
            None => Err(io::Error::other("the file was already finished")),
        }
    }
}

impl Drop for DiskWriter {
    fn drop(&mut self) {
        // Let the thread write what it has (a few chunks at most) and end.
        let _ = self.finish();
    }
}

/// A file name cut to at most 16 characters, for a progress line.
fn short_name(name: &str) -> String {
    if name.chars().count() <= 16 {
        return name.to_string();
    }
    let head: String = name.chars().take(15).collect();
    format!("{head}…")
}

/// A live progress line for one transfer (only on a terminal).
struct Progress {
    key: String,
    label: String,
    total: u64,
    started: Instant,
    last_shown: Option<Instant>,
}

impl Progress {
    fn new(key: String, label: String, total: u64) -> Progress {
        Progress {
            key,
            label,
            total,
            started: Instant::now(),
            last_shown: None,
        }
    }

    /// Shows that `done` of the total bytes have moved: percent, rate and
    /// time left. Redraws at most every [`PROGRESS_INTERVAL`].
    fn show(&mut self, screen: &crate::Screen, done: u64) {
        if !screen.is_interactive()
            || self
                .last_shown
                .is_some_and(|t| t.elapsed() < PROGRESS_INTERVAL)
        {
            return;
        }
        self.last_shown = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let percent = (done * 100).checked_div(self.total).unwrap_or(100);
        let left = if rate > 0.0 {
            (self.total - done.min(self.total)) as f64 / rate
        } else {
            0.0
        };
        let text = format!(
            "{} {percent}% of {}, {}/s, {:.0} s left",
            self.label,
            format_size(self.total),
            format_size(rate as u64),
            left.ceil()
        );
        screen.set_status(&self.key, Some(text));
    }

    fn clear(&self, screen: &crate::Screen) {
        screen.set_status(&self.key, None);
    }
}
