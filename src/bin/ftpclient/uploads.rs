//! Sending files: an offer, the answers, the data, and the reports.
//!
//! `transfer PATH` offers the file (`SEND`); the server offers it to the
//! recipients and answers `ACCEPTED` with their number. Each recipient
//! answers on its own: one that accepts is announced with `RECEIVING`
//! (and the first one starts the data), one that declines, or does not
//! answer in time, with `DELIVERED`. A thread of the file's own
//! (`upload_thread.rs`) sends the data as `DATA` frames and ends with
//! `DONE` and the checksum, while the control loop goes on with everything
//! else (chat included). Once every recipient has reported (`DELIVERED`),
//! a summary says where the file arrived.
//!
//! [`Uploads`] keeps each file's state for the control loop, which owns
//! it: what the server says about a file, and what the user asks
//! (`/cancel`), both come here.

use crate::connection::Connection;
use crate::events::Event;
use crate::progress::{Direction, Progress};
use crate::terminal::Screen;
use crate::upload_thread::{Command, DataJob, DataThread};
use ftpchat::protocol::{ClientMessage, Delivery};
use ftpchat::text::{format_size, make_visible};
use std::collections::BTreeMap;
use std::fs::{File, Metadata};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// How long to wait for the server to accept or refuse a file.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait, after the last chunk, for every recipient's report.
/// (The server ends offers nobody answers; this only guards against a
/// server that never reports.)
const REPORT_TIMEOUT: Duration = Duration::from_secs(300);

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
    /// The number the user knows it by (`/cancel N`).
    number: u64,
    /// Its name, shown safely.
    name: String,
    size: u64,
    /// The one recipient, or everyone.
    to: Option<String>,
    /// How many recipients the server offered it to (from `ACCEPTED`).
    recipients: Option<usize>,
    /// Who has accepted so far.
    accepted: Vec<String>,
    reports: Reports,
    /// Bytes sent so far (in this run).
    sent: u64,
    progress: Progress,
    phase: Phase,
}

/// Where a file being sent has got to.
enum Phase {
    /// `SEND` is out; no recipient has accepted yet. The file is open,
    /// ready for the data thread.
    Offered {
        file: Option<File>,
        /// Until `ACCEPTED` comes: when to give up on the server.
        deadline: Option<Instant>,
    },
    /// The data is on its way.
    Sending {
        data: DataThread,
        /// We asked the data thread to stop (everyone failed, or the
        /// server refused the rest).
        stopping: bool,
    },
    /// `DONE` is out; waiting for the last reports (or a late recipient).
    Reporting {
        data: DataThread,
        checksum: u32,
        deadline: Instant,
        /// Time spent sending data, and how much (for the summary).
        busy: Duration,
        bytes: u64,
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
}

/// A one-line description of a transfer, for `/transfers`.
pub struct Listing {
    /// Its number.
    pub number: u64,
    /// The line.
    pub line: String,
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

    /// Checks the file at `path` and offers it to `to` (or everyone), as
    /// transfer `number`.
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
        number: u64,
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
        let stamp = file_stamp(&metadata);
        let offer = ClientMessage::Send {
            id,
            size: metadata.len(),
            stamp: &stamp,
            to: to.unwrap_or("*"),
            name: &name,
        };
        // A failed write is the connection failing: the socket's thread
        // reports it, naming this file among those cut off.
        let _ = connection.send(&offer);
        let shown = make_visible(&name).into_owned();
        let size = metadata.len();
        let progress = Progress::new(format!("send {id}"), &shown, Direction::Sending, size);
        let upload = Upload {
            number,
            name: shown,
            size,
            to: to.map(str::to_string),
            recipients: None,
            accepted: Vec::new(),
            reports: Reports::default(),
            sent: 0,
            progress,
            phase: Phase::Offered {
                file: Some(file),
                deadline: Some(Instant::now() + ACCEPT_TIMEOUT),
            },
        };
        self.active.insert(id, upload);
        Ok(())
    }

    /// `ACCEPTED`: the server offered file `id` to `recipients`.
    pub fn offered(&mut self, screen: &mut Screen, id: u64, recipients: usize) {
        let Some(upload) = self.active.get_mut(&id) else {
            return;
        };
        upload.recipients = Some(recipients);
        if let Phase::Offered { deadline, .. } = &mut upload.phase {
            *deadline = None;
        }
        let target = match &upload.to {
            Some(nick) => make_visible(nick).into_owned(),
            None if recipients == 1 => "1 recipient".to_string(),
            None => format!("{recipients} recipients"),
        };
        let size = format_size(upload.size);
        screen.print(&format!("* sending {} ({size}) to {target}", upload.name));
        // Reports may have come before `ACCEPTED` (a recipient that
        // declined at once), and already account for everyone.
        self.settle(screen, id);
    }

    /// `RECEIVING`: `nick` accepted file `id` and needs it from `offset`.
    /// The first acceptance starts the data; a later one that needs bytes
    /// already sent makes the data go back for it.
    pub fn receiving(
        &mut self,
        screen: &mut Screen,
        connection: &Arc<Connection>,
        id: u64,
        nick: &str,
        offset: u64,
    ) {
        let Some(upload) = self.active.get_mut(&id) else {
            return;
        };
        let shown = make_visible(nick).into_owned();
        screen.print(&format!("* {shown} accepted {}", upload.name));
        upload.accepted.push(shown);
        match &mut upload.phase {
            Phase::Offered { file, .. } => {
                let Some(file) = file.take() else { return };
                let job = DataJob {
                    id,
                    file,
                    size: upload.size,
                    chunk_len: self.chunk_len,
                    connection: Arc::clone(connection),
                    events: self.events.clone(),
                };
                match DataThread::start(job, offset) {
                    Ok(data) => {
                        upload.phase = Phase::Sending {
                            data,
                            stopping: false,
                        };
                    }
                    Err(error) => {
                        let why = format!("cannot start a thread to send it: {error}");
                        let _ = connection.send(&ClientMessage::Cancel { id, reason: &why });
                        screen.complain(&format!("! sending {} stopped: {why}", upload.name));
                        self.active.remove(&id);
                    }
                }
            }
            Phase::Sending { data, .. } => data.command(Command::SendFrom(offset)),
            Phase::Reporting { .. } if offset < upload.size => {
                // Sent whole already: the data thread goes over it again
                // for this recipient.
                let placeholder = Phase::Offered {
                    file: None,
                    deadline: None,
                };
                if let Phase::Reporting { data, .. } =
                    std::mem::replace(&mut upload.phase, placeholder)
                {
                    data.command(Command::SendFrom(offset));
                    upload.phase = Phase::Sending {
                        data,
                        stopping: false,
                    };
                }
            }
            Phase::Reporting { .. } => {}
        }
    }

    /// `MORE`: the server allows `bytes` more of file `id`'s data.
    pub fn more(&mut self, id: u64, bytes: u64) {
        if let Some(upload) = self.active.get(&id)
            && let Phase::Sending { data, .. } | Phase::Reporting { data, .. } = &upload.phase
        {
            data.command(Command::More(bytes));
        }
    }

    /// `REFUSED`: the server will not relay (any more of) file `id`.
    pub fn refused(&mut self, screen: &mut Screen, id: u64, text: &str) {
        let Some(upload) = self.active.remove(&id) else {
            return;
        };
        let name = &upload.name;
        let text = make_visible(text);
        screen.set_status(upload.progress.key(), None);
        match upload.phase {
            Phase::Offered { .. } if upload.recipients.is_none() => {
                screen.complain(&format!("! cannot send {name}: {text}"));
            }
            Phase::Offered { .. } => screen.complain(&format!("! sending {name} stopped: {text}")),
            Phase::Sending { data, .. } | Phase::Reporting { data, .. } => {
                data.stop(None);
                screen.complain(&format!("! sending {name} stopped: {text}"));
            }
        }
    }

    /// `DELIVERED`: how file `id` turned out for `nick`.
    pub fn delivered(&mut self, screen: &mut Screen, id: u64, nick: &str, outcome: Delivery) {
        let Some(upload) = self.active.get_mut(&id) else {
            return;
        };
        let nick = make_visible(nick).into_owned();
        let name = &upload.name;
        match outcome {
            Delivery::Ok => upload.reports.saved.push(nick),
            Delivery::Failed(reason) => {
                let reason = make_visible(reason).into_owned();
                upload.reports.failed.push((nick, reason));
            }
            Delivery::Lost(reason) => {
                let reason = match make_visible(reason) {
                    reason if reason.starts_with("connection ") => reason.into_owned(),
                    reason => format!("connection lost ({reason})"),
                };
                upload.reports.failed.push((nick, reason));
            }
            Delivery::Declined(reason) => {
                let reason = make_visible(reason);
                screen.print(&format!("* {nick} declined {name}: {reason}"));
                upload
                    .reports
                    .failed
                    .push((nick, format!("declined ({reason})")));
            }
            Delivery::Expired => {
                screen.print(&format!(
                    "* {nick} did not answer the offer of {name} in time"
                ));
                let reason = "did not answer the offer in time".to_string();
                upload.reports.failed.push((nick, reason));
            }
        }
        self.settle(screen, id);
    }

    /// Acts once the reports of file `id` allow it: every recipient has
    /// reported (the summary), or all have failed while the data was still
    /// going (stop sending: nobody is left to receive it).
    fn settle(&mut self, screen: &mut Screen, id: u64) {
        let Some(upload) = self.active.get_mut(&id) else {
            return;
        };
        let Some(recipients) = upload.recipients else {
            return;
        };
        let all_reported = upload.reports.count() >= recipients;
        let all_failed = all_reported && upload.reports.saved.is_empty();
        match &mut upload.phase {
            Phase::Sending { data, stopping, .. } if all_failed && !*stopping => {
                *stopping = true;
                let reason = "nobody is receiving it any more".to_string();
                data.command(Command::Stop(Some(reason)));
            }
            Phase::Sending { .. } => {}
            Phase::Offered { .. } | Phase::Reporting { .. } if all_reported => {
                self.finish(screen, id)
            }
            Phase::Offered { .. } | Phase::Reporting { .. } => {}
        }
    }

    /// The data thread of file `id` has sent this many bytes.
    pub fn progress(&mut self, screen: &mut Screen, id: u64, sent: u64) {
        if let Some(upload) = self.active.get_mut(&id) {
            upload.sent = sent;
            if screen.is_interactive() {
                let text = upload.progress.update(sent);
                if text.is_some() {
                    screen.set_status(upload.progress.key(), text);
                }
            }
        }
    }

    /// The data thread of file `id` has sent it all, `DONE` included, in
    /// `busy` of sending `bytes` in all.
    pub fn sent(
        &mut self,
        screen: &mut Screen,
        id: u64,
        checksum: u32,
        busy: Duration,
        bytes: u64,
    ) {
        let Some(upload) = self.active.get_mut(&id) else {
            return;
        };
        screen.set_status(upload.progress.key(), None);
        upload.sent = upload.size;
        let placeholder = Phase::Offered {
            file: None,
            deadline: None,
        };
        match std::mem::replace(&mut upload.phase, placeholder) {
            Phase::Sending { data, .. } | Phase::Reporting { data, .. } => {
                upload.phase = Phase::Reporting {
                    data,
                    checksum,
                    deadline: Instant::now() + REPORT_TIMEOUT,
                    busy,
                    bytes,
                };
            }
            offered => upload.phase = offered,
        }
        self.settle(screen, id);
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

    /// `/cancel`: stops the file the user knows as `number`; the server
    /// tells its recipients. Returns its name, or `None` if no file being
    /// sent has that number.
    pub fn cancel(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        number: u64,
    ) -> Option<String> {
        let id = self.id_of(number)?;
        let upload = self.active.remove(&id)?;
        screen.set_status(upload.progress.key(), None);
        let reason = String::new();
        match upload.phase {
            Phase::Offered { .. } => {
                let _ = connection.send(&ClientMessage::Cancel {
                    id,
                    reason: &reason,
                });
            }
            Phase::Sending { data, .. } | Phase::Reporting { data, .. } => data.stop(Some(reason)),
        }
        Some(upload.name)
    }

    /// Our number for the file the user knows as `number`.
    fn id_of(&self, number: u64) -> Option<u64> {
        self.active
            .iter()
            .find(|(_, upload)| upload.number == number)
            .map(|(&id, _)| id)
    }

    /// The numbers of files whose data is still to send (offered, or on
    /// their way): what Ctrl-C and leaving cancel.
    pub fn running(&self) -> Vec<u64> {
        self.active
            .values()
            .filter(|upload| !matches!(upload.phase, Phase::Reporting { .. }))
            .map(|upload| upload.number)
            .collect()
    }

    /// The numbers and names of files being sent whose name is `name`.
    pub fn named(&self, name: &str) -> Vec<(u64, String)> {
        self.active
            .values()
            .filter(|upload| upload.name == name)
            .map(|upload| (upload.number, upload.name.clone()))
            .collect()
    }

    /// One line per file being sent, for `/transfers`.
    pub fn listing(&self) -> Vec<Listing> {
        self.active
            .values()
            .map(|upload| {
                let to = match &upload.to {
                    Some(nick) => make_visible(nick).into_owned(),
                    None => "everyone".to_string(),
                };
                let state = match upload.phase {
                    Phase::Offered { .. } => "offered, waiting for an answer".to_string(),
                    Phase::Sending { .. } => {
                        let percent = (upload.sent * 100).checked_div(upload.size).unwrap_or(100);
                        format!("sending, {percent}%")
                    }
                    Phase::Reporting { .. } => "sent, waiting for the reports".to_string(),
                };
                let answers = match upload.recipients {
                    Some(recipients) => format!(
                        "; {} of {recipients} accepted, {} saved",
                        upload.accepted.len(),
                        upload.reports.saved.len()
                    ),
                    None => String::new(),
                };
                let line = format!(
                    "#{} > {} ({}) to {to}: {state}{answers}",
                    upload.number,
                    upload.name,
                    format_size(upload.size)
                );
                Listing {
                    number: upload.number,
                    line,
                }
            })
            .collect()
    }

    /// The earliest moment a file waits for (an answer or its reports).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.active
            .values()
            .filter_map(|upload| match upload.phase {
                Phase::Offered { deadline, .. } => deadline,
                Phase::Reporting { deadline, .. } => Some(deadline),
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
                Phase::Offered { deadline, .. } => deadline.is_some_and(|d| d <= now),
                Phase::Reporting { deadline, .. } => deadline <= now,
                Phase::Sending { .. } => false,
            })
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            let offered = matches!(self.active[&id].phase, Phase::Offered { .. });
            if offered {
                let upload = self.active.remove(&id).expect("listed just now");
                let name = &upload.name;
                screen.complain(&format!("! cannot send {name}: the server did not answer"));
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
            match upload.phase {
                Phase::Sending { data, .. } | Phase::Reporting { data, .. } => data.stop(None),
                Phase::Offered { .. } => {}
            }
        }
    }

    /// Prints the summary of file `id` and forgets it.
    fn finish(&mut self, screen: &mut Screen, id: u64) {
        let Some(mut upload) = self.active.remove(&id) else {
            return;
        };
        screen.set_status(upload.progress.key(), None);
        let placeholder = Phase::Offered {
            file: None,
            deadline: None,
        };
        let finished = match std::mem::replace(&mut upload.phase, placeholder) {
            Phase::Reporting {
                checksum,
                data,
                busy,
                bytes,
                ..
            } => {
                data.stop(None);
                Some((busy, bytes, checksum))
            }
            Phase::Sending { data, .. } => {
                data.stop(None);
                None
            }
            Phase::Offered { .. } => None,
        };
        upload.summarize(screen, finished);
    }
}

/// The stamp of a file, for its offer: its size and the time it was last
/// changed, in hexadecimal (`SIZE-NANOSECONDS`). Editing the file changes
/// its time, and so the stamp, and a receiver holding part of the old
/// version will not resume from it. `-` if the time cannot be read.
fn file_stamp(metadata: &Metadata) -> String {
    let changed = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok());
    match changed {
        Some(since_epoch) => format!("{:x}-{:x}", metadata.len(), since_epoch.as_nanos()),
        None => "-".to_string(),
    }
}

impl Upload {
    /// Prints how the file turned out: whom it reached, whom it did not,
    /// and who never said.
    fn summarize(&self, screen: &mut Screen, finished: Option<(Duration, u64, u32)>) {
        let name = &self.name;
        let reports = &self.reports;
        let recipients = self.recipients.unwrap_or(0);
        match finished {
            // Everyone failed, whether before the last chunk or after.
            _ if reports.saved.is_empty() && reports.failed.len() >= recipients => {
                screen.complain(&format!("! {name} reached nobody"));
            }
            Some((busy, bytes, checksum)) => {
                // The rate of the data itself: time spent waiting for
                // answers is left out.
                let secs = busy.as_secs_f64().max(0.001);
                let rate = format_size((bytes as f64 / secs) as u64);
                let size = format_size(self.size);
                let saved = reports.saved.len();
                screen.print(&format!(
                    "* sent {name} ({size}) to {saved} of {recipients} in {secs:.1} s ({rate}/s), cksum {checksum}"
                ));
            }
            None => {}
        }
        for (nick, reason) in &reports.failed {
            screen.complain(&format!("! {name} did not reach {nick}: {reason}"));
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
