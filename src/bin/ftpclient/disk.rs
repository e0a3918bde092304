//! One file's disk thread: writing it, checking it, and giving it its
//! name, so that a file in `rec/` is always whole.
//!
//! A file received is written to a hidden temporary file as its chunks
//! arrive, with a running checksum (see `ftpchat::files`). When the last
//! chunk has come, the thread checks the size and the checksum, flushes
//! the file to the disk, and only then gives it its real name. Whatever
//! does not end that way ends with the temporary file deleted.
//!
//! Doing this on a thread of its own lets the disk work while the socket's
//! thread reads the next chunk (the two overlap, as on an assembly line),
//! and keeps the control loop from ever waiting for the disk: the thread
//! reports how the file ended with an event.

use crate::events::Event;
use crate::pool::PooledBuf;
use ftpchat::checksum::Cksum;
use ftpchat::files::{create_temp_file, publish};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::thread::{self, JoinHandle};

/// What a disk thread is to write, and where.
pub struct DiskJobSpec {
    /// The server's number for the file.
    pub id: u64,
    /// The folder it is saved in.
    pub dir: PathBuf,
    /// The safe name to publish under.
    pub name: String,
    /// Its size, as offered.
    pub size: u64,
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
}

/// One file's disk thread, and the channel that feeds it. Dropping it
/// closes the channel and waits for the thread, which deletes the partial
/// file unless the file was saved.
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
    pub fn start(spec: DiskJobSpec) -> io::Result<DiskWriter> {
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
