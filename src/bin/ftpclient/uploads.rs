//! Sending files: an offer, the data, and the recipients' reports.
//!
//! `transfer PATH` offers the file (`SEND`) and waits for the server's
//! `ACCEPTED`. Then a thread of the file's own (`upload_thread.rs`) sends
//! it as `DATA` frames, one chunk each, and ends with `DONE` and the
//! checksum, while the control loop goes on with everything else (chat
//! included).
//!
//! The recipients' reports (`DELIVERED`) come back through the control
//! loop, which keeps each file's state here ([`Uploads`]) and prints a
//! summary once every recipient has reported.

use crate::connection::Connection;
use crate::events::Event;
use crate::progress::{Direction, Progress};
use crate::terminal::Screen;
use crate::upload_thread::{DataJob, DataThread, StopRequest};
use ftpchat::protocol::ClientMessage;
use ftpchat::text::{format_size, make_visible};
use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// How long to wait for the server to accept or refuse a file.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait, after the last chunk, for every recipient's report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(60);

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
        let data = match DataThread::start(job) {
            Ok(data) => data,
            Err(error) => {
                let why = format!("cannot start a thread to send it: {error}");
                let _ = connection.send(&ClientMessage::Cancel { id, reason: &why });
                screen.complain(&format!("! sending {} stopped: {why}", upload.name));
                self.active.remove(&id);
                return;
            }
        };
        upload.phase = Phase::Sending {
            recipients,
            started: Instant::now(),
            data,
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
