//! Receiving files into `rec/`: whole, checked, and never half there.
//!
//! The server announces a file with `FILE`, sends it as `DATA` chunks, and
//! ends with `DONE` and the sender's checksum (or `CANCEL`). Each file is
//! written to a hidden temporary file as its chunks arrive, and gets its
//! real name only when it is complete and its checksum matches (see
//! `ftpchat::files`). So a file in `rec/` is always whole.
//!
//! Writing to disk and checksumming take as long as reading from the
//! network, so each file has a disk thread ([`DiskWriter`]) that does them
//! while the socket's thread reads the next chunk: the two steps overlap,
//! as on an assembly line. The disk thread also does the slow end of a
//! file (flushing it to the disk, checking it, naming it), so the control
//! loop never waits for the disk, and it removes the temporary file
//! whenever a file does not make it.
//!
//! Every outcome is reported to the server (`RECEIVED`), *before* it is
//! printed: whoever reads our output and then makes us quit must not
//! overtake the report.

use crate::connection::Connection;
use crate::events::Event;
use crate::pool::PooledBuf;
use crate::progress::{Direction, Progress};
use crate::terminal::Screen;
use ftpchat::checksum::Cksum;
use ftpchat::files::{create_temp_file, publish, safe_file_name};
use ftpchat::protocol::{ClientMessage, Delivery};
use ftpchat::text::{format_size, make_visible};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::thread::{self, JoinHandle};

/// The files being received, by the server's number for each. `None`
/// marks a file that failed: its remaining chunks are dropped.
pub struct Downloads {
    active: HashMap<u64, Option<Download>>,
    /// Where files are saved.
    dir: PathBuf,
    /// Where the disk threads report.
    events: Sender<Event>,
}

/// A file being received.
struct Download {
    /// `NAME from NICK`, for messages.
    what: String,
    /// The name it will be saved under (before any `-1` suffix).
    name: String,
    /// Who sent it, shown safely.
    from: String,
    size: u64,
    received: u64,
    disk: DiskWriter,
    progress: Progress,
}

impl Downloads {
    /// No files yet; they will be saved in `dir`.
    pub fn new(dir: PathBuf, events: Sender<Event>) -> Downloads {
        Downloads {
            active: HashMap::new(),
            dir,
            events,
        }
    }

    /// `FILE`: a file is coming. Creates its temporary file.
    pub fn begin(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        id: u64,
        size: u64,
        from: &str,
        name: &str,
    ) {
        let name = safe_file_name(name);
        let from = make_visible(from).into_owned();
        let job = DiskJobSpec {
            id,
            dir: self.dir.clone(),
            name: name.clone(),
            size,
            events: self.events.clone(),
        };
        match DiskWriter::start(job) {
            Ok(disk) => {
                let size_text = format_size(size);
                screen.print(&format!("* receiving {name} ({size_text}) from {from}"));
                let progress =
                    Progress::new(format!("recv {id}"), &name, Direction::Receiving, size);
                let download = Download {
                    what: format!("{name} from {from}"),
                    name,
                    from,
                    size,
                    received: 0,
                    disk,
                    progress,
                };
                self.active.insert(id, Some(download));
            }
            Err(error) => {
                screen.print(&format!("! cannot receive {name} from {from}: {error}"));
                report(connection, id, Delivery::Failed(&error.to_string()));
                self.active.insert(id, None);
            }
        }
    }

    /// `DATA`: hands a chunk to its file's disk thread.
    pub fn data(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        id: u64,
        chunk: PooledBuf,
    ) {
        let Some(Some(download)) = self.active.get_mut(&id) else {
            return; // a file we gave up on, or never heard of
        };
        let len = chunk.len() as u64;
        if download.received + len > download.size {
            let why = format!("more data than the {} bytes announced", download.size);
            return self.fail(screen, connection, id, &why);
        }
        download.received += len;
        download.disk.write(chunk);
        if screen.is_interactive() {
            let text = download.progress.update(download.received);
            if text.is_some() {
                screen.set_status(download.progress.key(), text);
            }
        }
    }

    /// `DONE`: the sender has sent everything. The disk thread checks size
    /// and checksum, and saves the file; it reports with an event
    /// ([`Downloads::saved`] or [`Downloads::failed`]).
    pub fn done(&mut self, screen: &mut Screen, id: u64, checksum: u32) {
        if let Some(Some(download)) = self.active.get_mut(&id) {
            screen.set_status(download.progress.key(), None);
            download.disk.finish(checksum);
        }
    }

    /// The disk thread saved file `id` as `path`.
    pub fn saved(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        id: u64,
        path: &Path,
        checksum: u32,
    ) {
        let Some(Some(download)) = self.active.remove(&id) else {
            return;
        };
        report(connection, id, Delivery::Ok);
        screen.print(&format!(
            "* received {} ({}) from {}, saved as {} (cksum {checksum})",
            download.name,
            format_size(download.size),
            download.from,
            path.display()
        ));
    }

    /// The disk thread could not write or check file `id`, and removed it.
    pub fn failed(&mut self, screen: &mut Screen, connection: &Connection, id: u64, why: &str) {
        self.fail(screen, connection, id, why);
    }

    /// `CANCEL`: the transfer stopped; the partial file is deleted.
    pub fn cancel(&mut self, screen: &mut Screen, id: u64, reason: &str) {
        if let Some(Some(download)) = self.active.remove(&id) {
            let what = download.discard(screen);
            let reason = make_visible(reason);
            screen.print(&format!(
                "! receiving {what} stopped: {reason}; nothing was saved"
            ));
        }
    }

    /// The connection is gone, or we are leaving: every partial file is
    /// deleted, and the user told which.
    pub fn abandon_all(&mut self, screen: &mut Screen, why: &str) {
        for download in self.active.drain().filter_map(|(_, download)| download) {
            let what = download.discard(screen);
            screen.complain(&format!(
                "! receiving {what} stopped: {why}; nothing was saved"
            ));
        }
    }

    /// Gives up on file `id`: deletes what arrived, tells the sender and
    /// the user, and drops the rest of its chunks as they come.
    fn fail(&mut self, screen: &mut Screen, connection: &Connection, id: u64, why: &str) {
        let discarded = match self.active.insert(id, None) {
            Some(Some(download)) => Some(download.discard(screen)),
            _ => None,
        };
        report(connection, id, Delivery::Failed(why));
        if let Some(what) = discarded {
            screen.print(&format!(
                "! receiving {what} failed: {why}; nothing was saved"
            ));
        }
    }
}

impl Download {
    /// Gives up on this file: clears its progress and waits until its
    /// disk thread has deleted the partial file, so that "nothing was
    /// saved" is already true when the caller prints it. Returns
    /// "NAME from NICK" for that message.
    fn discard(self, screen: &mut Screen) -> String {
        screen.set_status(self.progress.key(), None);
        drop(self.disk);
        self.what
    }
}

/// Tells the server how a received file turned out.
fn report(connection: &Connection, id: u64, outcome: Delivery) {
    let _ = connection.send(&ClientMessage::Received { id, outcome });
}

/// What a disk thread is to write, and where.
struct DiskJobSpec {
    id: u64,
    dir: PathBuf,
    /// The safe name to publish under.
    name: String,
    size: u64,
    events: Sender<Event>,
}

/// Work for a disk thread.
enum DiskJob {
    /// Append these bytes to the file.
    Write(PooledBuf),
    /// The last chunk has come: check the file against the sender's
    /// checksum, and save it.
    Finish(u32),
}

/// One file's disk thread, and the channel that feeds it. Dropping it
/// closes the channel and waits for the thread, which deletes the partial
/// file unless the file was saved.
struct DiskWriter {
    jobs: Option<Sender<DiskJob>>,
    thread: Option<JoinHandle<()>>,
}

impl DiskWriter {
    /// Creates the temporary file and starts the thread that writes it.
    fn start(spec: DiskJobSpec) -> io::Result<DiskWriter> {
        let (file, temp) = create_temp_file(&spec.dir, &spec.name)?;
        let (jobs, incoming) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(format!("disk-{}", spec.id))
            .spawn(move || write_file(spec, file, &temp, incoming))?;
        Ok(DiskWriter {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Hands a chunk to the disk thread. (If it has stopped, it has
    /// already reported why, and the chunk is dropped.)
    fn write(&mut self, chunk: PooledBuf) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(DiskJob::Write(chunk));
        }
    }

    /// Asks the disk thread to check and save the file.
    fn finish(&mut self, checksum: u32) {
        if let Some(jobs) = self.jobs.take() {
            let _ = jobs.send(DiskJob::Finish(checksum));
        }
    }
}

impl Drop for DiskWriter {
    fn drop(&mut self) {
        self.jobs = None; // no more work: the thread's loop ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The disk thread's body: writes each chunk and adds it to the checksum;
/// at the end, checks and saves the file. Whatever does not end in a saved
/// file ends with the temporary file deleted.
fn write_file(spec: DiskJobSpec, mut file: File, temp: &Path, jobs: mpsc::Receiver<DiskJob>) {
    let mut checksum = Cksum::new();
    for job in jobs {
        let result = match job {
            DiskJob::Write(chunk) => match file.write_all(&chunk) {
                Ok(()) => {
                    checksum.update(&chunk);
                    continue;
                }
                Err(error) => Err(format!("cannot write {}: {error}", temp.display())),
            },
            DiskJob::Finish(theirs) => save(&spec, &file, temp, &checksum, theirs),
        };
        let event = match result {
            Ok(path) => Event::DownloadSaved {
                id: spec.id,
                path,
                checksum: checksum.finish(),
            },
            Err(why) => {
                let _ = fs::remove_file(temp);
                Event::DownloadFailed { id: spec.id, why }
            }
        };
        let _ = spec.events.send(event);
        return;
    }
    // The channel closed without `Finish`: the file was abandoned.
    let _ = fs::remove_file(temp);
}

/// Checks the file written to `temp` (size, then checksum), makes sure it
/// is on the disk, and gives it its name. Returns where it was saved.
fn save(
    spec: &DiskJobSpec,
    file: &File,
    temp: &Path,
    ours: &Cksum,
    theirs: u32,
) -> Result<PathBuf, String> {
    if ours.len_bytes() != spec.size {
        let arrived = ours.len_bytes();
        return Err(format!("only {arrived} of {} bytes arrived", spec.size));
    }
    let ours = ours.finish();
    if ours != theirs {
        return Err(format!(
            "checksum mismatch (sender {theirs}, received {ours})"
        ));
    }
    // Wait until the data is on the disk before giving the file its name:
    // otherwise a power cut could leave the name pointing at missing data.
    // (This costs about a third of the time of a transfer on loopback, and
    // is worth it.)
    file.sync_data()
        .map_err(|error| format!("cannot write {}: {error}", temp.display()))?;
    publish(temp, &spec.dir, &spec.name).map_err(|error| error.to_string())
}
