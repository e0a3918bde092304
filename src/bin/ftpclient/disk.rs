//! One file's disk thread: writing it, checking it, and giving it its
//! name, so that a file in `rec/` is always whole.
//!
//! A file received is written to a hidden temporary file as its chunks
//! arrive, with a running checksum (see `ftpchat::files`). When the last
//! chunk has come, the thread checks the size and the checksum, flushes
//! the file to the disk, and only then gives it its real name. A file
//! whose connection was lost is **kept** as it is (a partial, see
//! `partial.rs`), to go on from later; one resumed goes on from the end
//! of its partial, after reading the bytes already there into the
//! checksum, so the check at the end still covers the whole file.
//! Whatever else does not end in a saved file ends with the temporary
//! file deleted.
//!
//! Doing this on a thread of its own lets the disk work while the socket's
//! thread reads the next chunk (the two overlap, as on an assembly line),
//! and keeps the control loop from ever waiting for the disk: the thread
//! reports how the file ended with an event.
//!
//! # On the disk as it arrives
//!
//! A file is reported saved only once its data is on the disk (`fsync`):
//! otherwise a power cut could leave a saved name over missing data. Done
//! once at the end, that waits for the whole file to go from memory to
//! the disk: seconds, for a large file, after the last byte came. So a
//! third thread, the [`Syncer`], syncs the file every [`SYNC_EVERY_BYTES`]
//! while it is still arriving, and the disk works in parallel with the
//! network; at the end only the last few megabytes are left to sync.

use crate::events::Event;
use crate::partial::{self, Found, PartInfo};
use crate::pool::PooledBuf;
use ftpchat::checksum::Cksum;
use ftpchat::files::{create_temp_file, publish};
use ftpchat::text::io_words;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::thread::{self, JoinHandle};

/// How much is written between two syncs while a file arrives: enough
/// that each sync is worth its cost, little enough that the last one, at
/// the end, is quick.
const SYNC_EVERY_BYTES: u64 = 32 * 1024 * 1024;

/// Bytes read at a time from a partial file, to checksum what it holds.
const PREFIX_READ_BYTES: usize = 256 * 1024;

/// What a disk thread is to write, and where.
pub struct DiskJobSpec {
    /// The number the user knows the file by (its events carry it).
    pub number: u64,
    /// The folder it is saved in.
    pub dir: PathBuf,
    /// The safe name to publish under.
    pub name: String,
    /// Its size, as offered.
    pub size: u64,
    /// What it is, if it can be resumed: recorded beside its partial.
    pub record: Option<PartInfo>,
    /// The partial file it goes on from, if it is resumed.
    pub resume: Option<Found>,
    /// Where the outcome is reported.
    pub events: Sender<Event>,
}

/// Work for a disk thread.
enum DiskJob {
    /// Append these bytes to the file.
    Write(PooledBuf),
    /// The last chunk has come: check the file against the sender's
    /// checksum, and save it.
    Finish(u32),
    /// The transfer stopped, to be resumed later: keep the partial file.
    Keep,
}

/// One file's disk thread, and the channel that feeds it. Dropping it
/// closes the channel and waits for the thread, which deletes the partial
/// file unless the file was saved or kept.
pub struct DiskWriter {
    jobs: Option<Sender<DiskJob>>,
    thread: Option<JoinHandle<()>>,
}

impl DiskWriter {
    /// Creates the temporary file and starts the thread that writes it.
    ///
    /// # Errors
    ///
    /// The folder or the file cannot be created, or the thread started.
    pub fn start(mut spec: DiskJobSpec) -> io::Result<DiskWriter> {
        let (file, temp, kept) = match spec.resume.take() {
            Some(found) => (found.file, found.path, found.len),
            None => {
                let (file, temp) = create_temp_file(&spec.dir, &spec.name)?;
                // Ours alone while we write it (see `partial.rs`).
                let _ = file.try_lock();
                if let Some(record) = &spec.record {
                    partial::write_record(&temp, record)?;
                }
                (file, temp, 0)
            }
        };
        let (jobs, incoming) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(format!("disk-{}", spec.number))
            .spawn(move || write_file(spec, file, &temp, kept, incoming))?;
        Ok(DiskWriter {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Hands a chunk to the disk thread. (If it has stopped, it has
    /// already reported why, and the chunk is dropped.)
    pub fn write(&mut self, chunk: PooledBuf) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(DiskJob::Write(chunk));
        }
    }

    /// Asks the disk thread to check and save the file.
    pub fn finish(&mut self, checksum: u32) {
        if let Some(jobs) = self.jobs.take() {
            let _ = jobs.send(DiskJob::Finish(checksum));
        }
    }

    /// Stops writing, keeping the partial file to resume from later, and
    /// waits until the chunks already handed over are written.
    pub fn keep(mut self) {
        if let Some(jobs) = self.jobs.take() {
            let _ = jobs.send(DiskJob::Keep);
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

/// The disk thread's body: checksums the `kept` bytes of a resumed file,
/// writes each chunk and adds it to the checksum; at the end, checks and
/// saves the file. Whatever does not end in a saved or kept file ends
/// with the temporary file (and its record) deleted.
fn write_file(
    spec: DiskJobSpec,
    mut file: File,
    temp: &Path,
    kept: u64,
    jobs: mpsc::Receiver<DiskJob>,
) {
    let mut checksum = Cksum::new();
    let mut failure = read_prefix(&mut file, kept, &mut checksum)
        .err()
        .map(|error| format!("cannot read {}: {}", temp.display(), io_words(&error)));
    let mut syncer = Syncer::start(&file);
    let mut unsynced = 0u64;
    for job in jobs {
        let result = match (job, failure.take()) {
            (DiskJob::Keep, _) if spec.record.is_some() => return,
            (DiskJob::Keep, _) => break,
            (_, Some(why)) => Err(why),
            (DiskJob::Write(chunk), None) => match file.write_all(&chunk) {
                Ok(()) => {
                    checksum.update(&chunk);
                    unsynced += chunk.len() as u64;
                    if unsynced >= SYNC_EVERY_BYTES {
                        unsynced = 0;
                        syncer.request();
                    }
                    continue;
                }
                Err(error) => Err(format!(
                    "cannot write {}: {}",
                    temp.display(),
                    io_words(&error)
                )),
            },
            (DiskJob::Finish(theirs), None) => {
                // What the syncer is doing is done before the last sync.
                syncer.stop();
                save(&spec, &file, temp, &checksum, theirs, kept)
            }
        };
        let event = match result {
            Ok(path) => Event::DownloadSaved {
                number: spec.number,
                path,
                checksum: checksum.finish(),
            },
            Err(why) => {
                partial::remove(temp);
                Event::DownloadFailed {
                    number: spec.number,
                    why,
                }
            }
        };
        let _ = spec.events.send(event);
        return;
    }
    // The channel closed without `Finish`: the file was abandoned.
    partial::remove(temp);
}

/// Reads the first `len` bytes of `file` (those kept from an earlier
/// attempt) into `checksum`, leaving the file positioned after them.
fn read_prefix(file: &mut File, len: u64, checksum: &mut Cksum) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0; PREFIX_READ_BYTES];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(left as usize);
        file.read_exact(&mut buf[..want])?;
        checksum.update(&buf[..want]);
        left -= want as u64;
    }
    Ok(())
}

/// Checks the file written to `temp` (size, then checksum), makes sure it
/// is on the disk, and gives it its name. Returns where it was saved.
fn save(
    spec: &DiskJobSpec,
    file: &File,
    temp: &Path,
    ours: &Cksum,
    theirs: u32,
    kept: u64,
) -> Result<PathBuf, String> {
    if ours.len_bytes() != spec.size {
        let arrived = ours.len_bytes();
        return Err(format!("only {arrived} of {} bytes arrived", spec.size));
    }
    let ours = ours.finish();
    if ours != theirs && kept > 0 {
        return Err(format!(
            "checksum mismatch (sender {theirs}, received {ours}): the {kept} bytes kept \
             from the earlier attempt did not match the sender's file"
        ));
    }
    if ours != theirs {
        return Err(format!(
            "checksum mismatch (sender {theirs}, received {ours})"
        ));
    }
    // Wait until the data is on the disk before giving the file its name:
    // otherwise a power cut could leave the name pointing at missing data.
    // (The syncer has done most of it already.)
    file.sync_data()
        .map_err(|error| format!("cannot write {}: {}", temp.display(), io_words(&error)))?;
    let saved = publish(temp, &spec.dir, &spec.name).map_err(|error| io_words(&error))?;
    partial::remove(temp); // only its record is left to delete
    Ok(saved)
}

/// A thread that syncs a file being written, when asked, while the writing
/// goes on: see "On the disk as it arrives" above. Without a thread of its
/// own (the system cannot give one, or the file cannot be opened twice)
/// it does nothing, and the sync at the end does all.
struct Syncer {
    requests: Option<mpsc::SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// A syncer for `file`, through a second handle to it.
    fn start(file: &File) -> Syncer {
        let idle = Syncer {
            requests: None,
            thread: None,
        };
        let Ok(handle) = file.try_clone() else {
            return idle;
        };
        // One request waits at most: asking while a sync runs asks for
        // one more after it, not one per chunk.
        let (requests, incoming) = mpsc::sync_channel(1);
        let thread = thread::Builder::new()
            .name("disk-sync".to_string())
            .spawn(move || {
                for () in incoming {
                    let _ = handle.sync_data(); // the sync at the end reports errors
                }
            });
        match thread {
            Ok(thread) => Syncer {
                requests: Some(requests),
                thread: Some(thread),
            },
            Err(_) => idle,
        }
    }

    /// Asks for a sync soon, unless one is already waiting.
    fn request(&mut self) {
        if let Some(requests) = &self.requests {
            let _ = requests.try_send(());
        }
    }

    /// Waits for the sync under way (if any) to end, and ends the thread.
    fn stop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop();
    }
}
