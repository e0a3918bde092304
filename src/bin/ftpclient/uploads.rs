//! Sending files: an offer, the data, and the recipients' reports.
//!
//! `transfer PATH` offers the file (`SEND`) and waits for the server's
//! `ACCEPTED`. Then a thread of the file's own ([`DataThread`]) sends it as
//! `DATA` frames, one chunk each, and ends with `DONE` and the checksum,
//! while the control loop goes on with everything else (chat included).
//! A [`FileReader`] thread reads the chunks from disk just ahead of it and
//! adds each to the checksum, so only a few chunks are ever in memory.
//! When the server is slower than the disk, the socket's send buffer fills
//! and the write blocks: TCP's flow control paces the reading of the file.
//!
//! The recipients' reports (`DELIVERED`) come back through the control
//! loop, which keeps each file's state here ([`Uploads`]) and prints a
//! summary once every recipient has reported.

use crate::connection::Connection;
use crate::events::Event;
use crate::progress::{Direction, Progress};
use crate::terminal::Screen;
use ftpchat::checksum::Cksum;
use ftpchat::protocol::ClientMessage;
use ftpchat::text::{format_size, make_visible};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long to wait for the server to accept or refuse a file.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait, after the last chunk, for every recipient's report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(60);

/// How many chunk buffers the file reader and the sender pass between
/// them: enough to keep both threads busy, few enough that memory stays
/// small.
const READ_AHEAD_BUFFERS: usize = 4;

/// The files being sent, by our number for each.
pub struct Uploads {
    active: BTreeMap<u64, Upload>,
    /// The number given to the last file offered.
    last_id: u64,
    /// Size of the chunks files are sent in.
    chunk_len: usize,
    /// Where the files' threads report.
    events: Sender<Event>,
}

/// One file being sent.
struct Upload {
    /// Its name, shown safely.
    name: String,
    size: u64,
    /// The one recipient, or everyone.
    to: Option<String>,
    phase: Phase,
    reports: Reports,
    progress: Progress,
}

/// Where a file being sent has got to.
enum Phase {
    /// `SEND` is out; waiting for `ACCEPTED` or `REFUSED`. The file is
    /// open, ready for the data thread.
    Offered {
        file: Option<File>,
        deadline: Instant,
    },
    /// The data is on its way to `recipients` recipients.
    Sending {
        recipients: usize,
        started: Instant,
        data: DataThread,
        /// We asked the data thread to stop (everyone failed, or the
        /// server refused the rest).
        stopping: bool,
    },
    /// `DONE` is out; waiting for the last reports.
    Reporting {
        recipients: usize,
        started: Instant,
        checksum: u32,
        deadline: Instant,
    },
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

impl Uploads {
    /// No files yet; they will be sent in chunks of `chunk_len` bytes.
    pub fn new(chunk_len: usize, events: Sender<Event>) -> Uploads {
        Uploads {
            active: BTreeMap::new(),
            last_id: 0,
            chunk_len,
            events,
        }
    }

    /// Whether no file is being sent.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Checks the file at `path` and offers it to `to` (or everyone).
    ///
    /// # Errors
    ///
    /// A one-line message for the user: the file cannot be read, or is a
    /// folder.
    pub fn start(
        &mut self,
        connection: &Connection,
        path: &str,
        to: Option<&str>,
    ) -> Result<(), String> {
        let file = File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let metadata = file
            .metadata()
            .map_err(|e| format!("cannot read {path}: {e}"))?;
        if metadata.is_dir() {
            return Err(format!("cannot send {path}: it is a folder"));
        }
        // Only the last part of the path travels: the receivers need no
        // more, and should not learn how our folders are laid out.
        let name = std::path::Path::new(path)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| format!("cannot send {path}: it names no file"))?;
        self.last_id += 1;
        let id = self.last_id;
        let offer = ClientMessage::Send {
            id,
            size: metadata.len(),
            to: to.unwrap_or("*"),
            name: &name,
        };
        // A failed write is the connection failing: the socket's thread
        // reports it, naming this file among those cut off.
        let _ = connection.send(&offer);
        let shown = make_visible(&name).into_owned();
        let progress = Progress::new(format!("send {id}"), &shown, Direction::Sending, 0);
        let upload = Upload {
            name: shown,
            size: metadata.len(),
            to: to.map(str::to_string),
            phase: Phase::Offered {
                file: Some(file),
                deadline: Instant::now() + ACCEPT_TIMEOUT,
            },
            reports: Reports::default(),
            progress,
        };
        self.active.insert(id, upload);
        Ok(())
    }

    /// `ACCEPTED`: the server relays file `id` to `recipients`; the data
    /// thread starts.
    pub fn accepted(
        &mut self,
        screen: &mut Screen,
        connection: &Arc<Connection>,
        id: u64,
        recipients: usize,
    ) {
        let Some(upload) = self.active.get_mut(&id) else {
            return;
        };
        let Phase::Offered { file, .. } = &mut upload.phase else {
            return;
        };
        let Some(file) = file.take() else {
            return;
        };
        let target = match &upload.to {
            Some(nick) => make_visible(nick).into_owned(),
            None if recipients == 1 => "1 recipient".to_string(),
            None => format!("{recipients} recipients"),
        };
        let size = format_size(upload.size);
        screen.print(&format!("* sending {} ({size}) to {target}", upload.name));
        upload.progress = Progress::new(
            format!("send {id}"),
            &upload.name,
            Direction::Sending,
            upload.size,
        );
        let job = DataJob {
            id,
            file,
            size: upload.size,
            chunk_len: self.chunk_len,
            connection: Arc::clone(connection),
            events: self.events.clone(),
        };
        upload.phase = Phase::Sending {
            recipients,
            started: Instant::now(),
            data: DataThread::start(job),
            stopping: false,
        };
        // Reports may have come before `ACCEPTED` (a recipient that failed
        // at once), and already account for everyone.
        self.check_all_failed(id);
    }

    /// `REFUSED`: the server will not relay (any more of) file `id`.
    pub fn refused(&mut self, screen: &mut Screen, id: u64, text: &str) {
        let Some(upload) = self.active.remove(&id) else {
            return;
        };
        let name = &upload.name;
        let text = make_visible(text);
        match upload.phase {
            Phase::Offered { .. } => screen.complain(&format!("! cannot send {name}: {text}")),
            Phase::Sending { data, .. } => {
                data.stop(StopRequest::Quietly);
                screen.set_status(upload.progress.key(), None);
                screen.complain(&format!("! sending {name} stopped: {text}"));
            }
            Phase::Reporting { .. } => screen.complain(&format!("! sending {name} failed: {text}")),
        }
    }

    /// `DELIVERED`: how file `id` turned out for `nick`.
    pub fn delivered(
        &mut self,
        screen: &mut Screen,
        id: u64,
        nick: String,
        outcome: Result<(), String>,
    ) {
        let Some(upload) = self.active.get_mut(&id) else {
            return;
        };
        upload.reports.add(nick, outcome);
        match upload.phase {
            Phase::Sending { .. } => self.check_all_failed(id),
            Phase::Reporting { recipients, .. } if upload.reports.count() >= recipients => {
                self.finish(screen, id);
            }
            _ => {}
        }
    }

    /// If every recipient of file `id`, still being sent, has already
    /// failed, stops sending: there is nobody left to send it to.
    fn check_all_failed(&mut self, id: u64) {
        let Some(upload) = self.active.get_mut(&id) else {
            return;
        };
        if let Phase::Sending {
            recipients,
            data,
            stopping,
            ..
        } = &mut upload.phase
        {
            if upload.reports.count() >= *recipients && !*stopping {
                *stopping = true;
                let reason = "nobody is receiving it any more".to_string();
                data.request_stop(StopRequest::Cancel(reason));
            }
        }
    }

    /// The data thread of file `id` has sent this many bytes.
    pub fn progress(&mut self, screen: &mut Screen, id: u64, sent: u64) {
        if let Some(upload) = self.active.get_mut(&id) {
            if screen.is_interactive() {
                let text = upload.progress.update(sent);
                if text.is_some() {
                    screen.set_status(upload.progress.key(), text);
                }
            }
        }
    }

    /// The data thread of file `id` has sent it all, `DONE` included.
    pub fn sent(&mut self, screen: &mut Screen, id: u64, checksum: u32) {
        let Some(upload) = self.active.get_mut(&id) else {
            return;
        };
        screen.set_status(upload.progress.key(), None);
        let Phase::Sending {
            recipients,
            started,
            ..
        } = upload.phase
        else {
            return;
        };
        upload.phase = Phase::Reporting {
            recipients,
            started,
            checksum,
            deadline: Instant::now() + REPORT_TIMEOUT,
        };
        if upload.reports.count() >= recipients {
            self.finish(screen, id);
        }
    }

    /// The data thread of file `id` stopped early: with `why` for the
    /// user, or because it was asked to, or (neither) because the
    /// connection failed, in which case the file stays listed until the
    /// loss is reported.
    pub fn stopped(&mut self, screen: &mut Screen, id: u64, why: Option<String>) {
        let Some(upload) = self.active.get(&id) else {
            return;
        };
        screen.set_status(upload.progress.key(), None);
        let stopping = matches!(upload.phase, Phase::Sending { stopping: true, .. });
        match why {
            Some(why) => {
                let name = &upload.name;
                screen.complain(&format!("! sending {name} stopped: {why}"));
                self.active.remove(&id);
            }
            None if stopping => self.finish(screen, id),
            None => {}
        }
    }

    /// The earliest moment a file waits for (an answer or its reports).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.active
            .values()
            .filter_map(|upload| match upload.phase {
                Phase::Offered { deadline, .. } | Phase::Reporting { deadline, .. } => {
                    Some(deadline)
                }
                Phase::Sending { .. } => None,
            })
            .min()
    }

    /// Gives up on what has waited past its deadline.
    pub fn on_timer(&mut self, screen: &mut Screen, now: Instant) {
        let expired: Vec<u64> = self
            .active
            .iter()
            .filter(|(_, upload)| match upload.phase {
                Phase::Offered { deadline, .. } | Phase::Reporting { deadline, .. } => {
                    deadline <= now
                }
                Phase::Sending { .. } => false,
            })
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            if let Some(Upload {
                phase: Phase::Offered { .. },
                name,
                ..
            }) = self.active.get(&id)
            {
                screen.complain(&format!("! cannot send {name}: the server did not answer"));
                self.active.remove(&id);
            } else {
                self.finish(screen, id);
            }
        }
    }

    /// The connection is gone: says which files may not have arrived.
    pub fn interrupted(&mut self, screen: &mut Screen, why: &str) {
        for (_, upload) in std::mem::take(&mut self.active) {
            screen.set_status(upload.progress.key(), None);
            screen.complain(&format!(
                "! sending {} stopped: {why}; its recipients may not have it",
                upload.name
            ));
            if let Phase::Sending { data, .. } = upload.phase {
                data.stop(StopRequest::Quietly);
            }
        }
    }

    /// Prints the summary of file `id` and forgets it.
    fn finish(&mut self, screen: &mut Screen, id: u64) {
        let Some(upload) = self.active.remove(&id) else {
            return;
        };
        let (recipients, finished) = match upload.phase {
            Phase::Reporting {
                recipients,
                started,
                checksum,
                ..
            } => (recipients, Some((started, checksum))),
            Phase::Sending { recipients, .. } => (recipients, None),
            Phase::Offered { .. } => return,
        };
        upload.summarize(screen, recipients, finished);
    }
}

impl Upload {
    /// Prints how the file turned out: whom it reached, whom it did not,
    /// and who never said.
    fn summarize(&self, screen: &mut Screen, recipients: usize, finished: Option<(Instant, u32)>) {
        let name = &self.name;
        let reports = &self.reports;
        match finished {
            // Everyone failed, whether before the last chunk or after.
            _ if reports.saved.is_empty() && reports.failed.len() == recipients => {
                screen.complain(&format!("! {name} reached nobody"));
            }
            Some((started, checksum)) => {
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let rate = format_size((self.size as f64 / secs) as u64);
                let size = format_size(self.size);
                let saved = reports.saved.len();
                screen.print(&format!(
                    "* sent {name} ({size}) to {saved} of {recipients} in {secs:.1} s ({rate}/s), cksum {checksum}"
                ));
            }
            None => {}
        }
        for (nick, reason) in &reports.failed {
            screen.complain(&format!(
                "! {name} did not reach {}: {}",
                make_visible(nick),
                make_visible(reason)
            ));
        }
        let silent = recipients.saturating_sub(reports.count());
        if silent > 0 {
            screen.complain(&format!(
                "! {name}: {silent} recipients did not confirm within {} s",
                REPORT_TIMEOUT.as_secs()
            ));
        }
    }
}

/// What a data thread sends, and where.
struct DataJob {
    id: u64,
    file: File,
    size: u64,
    chunk_len: usize,
    connection: Arc<Connection>,
    events: Sender<Event>,
}

/// Why the control loop asks a data thread to stop.
enum StopRequest {
    /// Send `CANCEL` with this reason, then stop.
    Cancel(String),
    /// Just stop: the server has already dropped the file.
    Quietly,
}

/// The thread that sends one file's data. It checks for a request to stop
/// before each chunk, so `DATA`, `DONE` and `CANCEL` are all written by
/// this one thread, in order.
struct DataThread {
    stop: Arc<Mutex<Option<StopRequest>>>,
    thread: JoinHandle<()>,
}

impl DataThread {
    fn start(job: DataJob) -> DataThread {
        let stop = Arc::new(Mutex::new(None));
        let stop_for_thread = Arc::clone(&stop);
        let thread = thread::spawn(move || send_data(job, &stop_for_thread));
        DataThread { stop, thread }
    }

    /// Asks the thread to stop before its next chunk.
    fn request_stop(&self, request: StopRequest) {
        *self.stop.lock().unwrap_or_else(PoisonError::into_inner) = Some(request);
    }

    /// Asks the thread to stop, and lets it finish on its own.
    fn stop(self, request: StopRequest) {
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
    let mut reader = FileReader::start(file, size, chunk_len);
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
    /// Starts reading `size` bytes of `file` in chunks of `chunk_len`.
    fn start(file: File, size: u64, chunk_len: usize) -> FileReader {
        let (full_tx, full) = mpsc::sync_channel(READ_AHEAD_BUFFERS);
        let (empty, returned) = mpsc::channel::<Vec<u8>>();
        let thread = thread::spawn(move || read_file(file, size, chunk_len, &full_tx, &returned));
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
