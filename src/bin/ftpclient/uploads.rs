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
//! A file cut off by a lost connection (ours, or a recipient's) waits to
//! be offered again to those it had not reached (see `resume.rs`), who
//! then resume from what they kept.
//!
//! [`Uploads`] keeps each file's state for the control loop, which owns
//! it: what the server says about a file, and what the user asks
//! (`/cancel`), both come here.

use crate::connection::Connection;
use crate::events::Event;
use crate::progress::{Direction, Progress};
use crate::resume::{RESUME_WINDOW, RETRY_INTERVAL, Resumes, Waiting};
use crate::terminal::Screen;
use crate::upload_thread::{Command, DataJob, DataThread};
use ftpchat::protocol::{ClientMessage, Delivery, ErrorCode, nick_key};
use ftpchat::text::{format_size, io_words, make_visible};
use std::collections::BTreeMap;
use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
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
    /// Files cut off by a lost connection, to offer again.
    waiting: Resumes,
    /// Files that could not be sent, or did not reach everyone (for a
    /// script's exit code).
    failures: u32,
}

/// One file being sent.
struct Upload {
    /// The number the user knows it by (`/cancel N`).
    number: u64,
    /// Where it is, to offer it again if it is cut off.
    path: PathBuf,
    /// Its name, shown safely.
    name: String,
    size: u64,
    /// The recipient (or several, separated by commas), or everyone.
    to: Option<String>,
    /// How many recipients the server offered it to (from `ACCEPTED`).
    recipients: Option<usize>,
    /// Who has accepted so far (nicknames as the server spells them).
    accepted: Vec<String>,
    /// The smallest offset a recipient needed: where the data began (more
    /// than 0 when every recipient resumed).
    first_offset: Option<u64>,
    /// If this offer is one made again, when the file first began to wait
    /// (see `resume.rs`).
    waiting_since: Option<Instant>,
    /// The stamp it was offered with, and (if it is offered again) the
    /// one it had before: if they differ, the file changed, and goes
    /// whole.
    stamp: String,
    stamp_before: Option<String>,
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

/// What the recipients reported so far (nicknames as the server spells
/// them).
#[derive(Default)]
struct Reports {
    saved: Vec<String>,
    failed: Vec<(String, String)>,
    /// Recipients whose connection was lost before they had the file,
    /// and why: the file will be offered to them again.
    lost: Vec<(String, String)>,
}

impl Reports {
    fn count(&self) -> usize {
        self.saved.len() + self.failed.len() + self.lost.len()
    }

    /// Whether `nick` has reported that it saved the file or will not.
    fn settled(&self, nick: &str) -> bool {
        let key = nick_key(nick);
        let same = |other: &String| nick_key(other) == key;
        self.saved.iter().any(same) || self.failed.iter().any(|(n, _)| same(n))
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
            waiting: Resumes::default(),
            failures: 0,
        }
    }

    /// How many files could not be sent, or did not reach everyone.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether no file is being sent or waiting to be offered again.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty() && self.waiting.is_empty()
    }

    /// `transfer`: checks the file at `path` and offers it to `to` (or
    /// everyone), as transfer `number`. A file of that path waiting to be
    /// offered again is this one now.
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
        let path = Path::new(path);
        let same_path: Vec<u64> = (self.waiting.iter())
            .filter(|w| w.path == path)
            .map(|w| w.number)
            .collect();
        self.offer(connection, path, to, number, None)?;
        for number in same_path {
            self.waiting.remove(number);
        }
        Ok(())
    }

    /// Opens the file at `path`, takes its stamp, and offers it to `to`
    /// (or everyone) as transfer `number`; `again` if it is
    /// offered again.
    fn offer(
        &mut self,
        connection: &Connection,
        path: &Path,
        to: Option<&str>,
        number: u64,
        again: Option<&Waiting>,
    ) -> Result<(), String> {
        let shown_path = path.display();
        let unreadable = |e: std::io::Error| format!("cannot read {shown_path}: {}", io_words(&e));
        let file = File::open(path).map_err(unreadable)?;
        let metadata = file.metadata().map_err(unreadable)?;
        if metadata.is_dir() {
            return Err(format!("cannot send {shown_path}: it is a folder"));
        }
        // Only the last part of the path travels: the receivers need no
        // more, and should not learn how our folders are laid out.
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| format!("cannot send {shown_path}: it names no file"))?;
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
            path: path.to_path_buf(),
            name: shown,
            size,
            to: to.map(str::to_string),
            recipients: None,
            accepted: Vec::new(),
            first_offset: None,
            waiting_since: again.map(|waiting| waiting.since),
            stamp_before: again.map(|waiting| waiting.stamp.clone()),
            stamp,
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
            Some(nicks) => make_visible(nicks).replace(',', ", "),
            None if recipients == 1 => "1 recipient".to_string(),
            None => format!("{recipients} recipients"),
        };
        let size = format_size(upload.size);
        let again = match &upload.stamp_before {
            Some(before) if *before == upload.stamp => " again, to resume",
            Some(_) => " again; it has changed, so from the start",
            None => "",
        };
        screen.print(&format!(
            "* offering {} ({size}) to {target}{again}",
            upload.name
        ));
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
        let shown = make_visible(nick);
        match offset {
            0 => screen.print(&format!("* {shown} accepted {}", upload.name)),
            _ => screen.print(&format!(
                "* {shown} accepted {}, resuming at {}%",
                upload.name,
                percent(offset, upload.size)
            )),
        }
        upload.accepted.push(nick.to_string());
        let first = upload
            .first_offset
            .map_or(offset, |first| first.min(offset));
        upload.first_offset = Some(first);
        match &mut upload.phase {
            Phase::Offered { file, .. } => {
                let Some(file) = file.take() else { return };
                upload.progress.restart(offset);
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

    /// `REFUSED`: the server will not relay (any more of) file `id`. A
    /// file offered again to recipients none of whom is back yet goes
    /// on waiting, without a word.
    pub fn refused(&mut self, screen: &mut Screen, id: u64, code: &str, text: &str) {
        let Some(upload) = self.active.remove(&id) else {
            return;
        };
        if let (Some(since), Some(to)) = (upload.waiting_since, &upload.to)
            && code == ErrorCode::NoSuchNick.as_str()
        {
            let targets = to.split(',').map(str::to_string).collect();
            let waiting = upload.waiting(targets, since);
            let try_at = Instant::now() + RETRY_INTERVAL;
            return self.waiting.add(waiting, try_at);
        }
        self.failures += 1;
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
        let name = &upload.name;
        let shown = make_visible(nick);
        let nick = nick.to_string();
        match outcome {
            Delivery::Ok => upload.reports.saved.push(nick),
            Delivery::Failed(reason) => {
                let reason = make_visible(reason).into_owned();
                upload.reports.failed.push((nick, reason));
            }
            Delivery::Lost(reason) => {
                let reason = match make_visible(reason) {
                    reason if reason.starts_with("connection ") => reason.into_owned(),
                    reason if reason == "not connected" => reason.into_owned(),
                    reason => format!("connection lost ({reason})"),
                };
                upload.reports.lost.push((nick, reason));
            }
            Delivery::Declined(reason) => {
                let reason = make_visible(reason);
                // After accepting, a recipient that declines has stopped
                // receiving the file (it cancelled).
                let key = nick_key(&nick);
                let had_accepted = upload.accepted.iter().any(|a| nick_key(a) == key);
                let (line, failure) = match had_accepted {
                    true => (
                        format!("* {shown} stopped receiving {name}: {reason}"),
                        format!("stopped receiving it ({reason})"),
                    ),
                    false => (
                        format!("* {shown} declined {name}: {reason}"),
                        format!("declined ({reason})"),
                    ),
                };
                screen.print(&line);
                upload.reports.failed.push((nick, failure));
            }
            Delivery::Expired => {
                screen.print(&format!(
                    "* {shown} did not answer the offer of {name} in time"
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
        let waiting = upload
            .progress
            .after_data("waiting for the reports", "waiting");
        screen.set_status(upload.progress.key(), Some(waiting));
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
                self.failures += 1;
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
        let waiting = self.waiting.remove(number).map(|w| w.name);
        let Some(id) = self.id_of(number) else {
            return waiting;
        };
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

    /// The numbers of files whose data is still to send (offered, on
    /// their way, or waiting to be offered again): what Ctrl-C and leaving
    /// cancel.
    pub fn running(&self) -> Vec<u64> {
        let mut numbers: Vec<u64> = (self.active.values())
            .filter(|upload| !matches!(upload.phase, Phase::Reporting { .. }))
            .map(|upload| upload.number)
            .chain(self.waiting.iter().map(|w| w.number))
            .collect();
        numbers.dedup();
        numbers
    }

    /// The numbers and names of files being sent whose name is `name`.
    pub fn named(&self, name: &str) -> Vec<(u64, String)> {
        let mut found: Vec<(u64, String)> = (self.active.values())
            .map(|upload| (upload.number, &upload.name))
            .chain(self.waiting.iter().map(|w| (w.number, &w.name)))
            .filter(|(_, shown)| *shown == name)
            .map(|(number, shown)| (number, shown.clone()))
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// One line per file being sent or waiting, for `/transfers`.
    pub fn listing(&self) -> Vec<Listing> {
        let mut lines: Vec<Listing> = self.active.values().map(Upload::listing).collect();
        for waiting in self.waiting.iter() {
            let nicks = make_visible(&waiting.targets.join(", ")).into_owned();
            let line = format!(
                "#{} > {} ({}) to {nicks}: cut off, waiting to offer it again",
                waiting.number,
                waiting.name,
                format_size(waiting.size)
            );
            let number = waiting.number;
            lines.push(Listing { number, line });
        }
        lines
    }

    /// The earliest moment a file waits for (an answer, its reports, or
    /// a try at offering it again).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.active
            .values()
            .filter_map(|upload| match upload.phase {
                Phase::Offered { deadline, .. } => deadline,
                Phase::Reporting { deadline, .. } => Some(deadline),
                Phase::Sending { .. } => None,
            })
            .chain(self.waiting.next_deadline())
            .min()
    }

    /// Gives up on what has waited past its deadline; offers the files
    /// waiting to be offered again, if it is time (and `connection` is
    /// up).
    pub fn on_timer(&mut self, screen: &mut Screen, connection: Option<&Connection>, now: Instant) {
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
        for waiting in self.waiting.expire(now) {
            self.failures += 1;
            let nicks = make_visible(&waiting.targets.join(", ")).into_owned();
            let minutes = RESUME_WINDOW.as_secs() / 60;
            screen.complain(&format!(
                "! gave up sending {} to {nicks}: not back within {minutes} minutes",
                waiting.name
            ));
        }
        if let Some(connection) = connection
            && self.waiting.due(now)
        {
            let all = self.waiting.take_all();
            self.offer_again(screen, connection, all);
        }
    }

    /// The connection is back: offers every file that was cut off again.
    pub fn reconnected(&mut self, screen: &mut Screen, connection: &Connection) {
        let all = self.waiting.take_all();
        self.offer_again(screen, connection, all);
    }

    /// `JOINED`: `nick` is back; offers it the files it had not finished.
    pub fn joined(&mut self, screen: &mut Screen, connection: &Connection, nick: &str) {
        let key = nick_key(nick);
        let found = self.waiting.take_for(|target| nick_key(target) == key);
        self.offer_again(screen, connection, found);
    }

    /// Offers each of `files` again, to its targets.
    fn offer_again(&mut self, screen: &mut Screen, connection: &Connection, files: Vec<Waiting>) {
        for file in files {
            let to = file.targets.join(",");
            let offered = self.offer(connection, &file.path, Some(&to), file.number, Some(&file));
            if let Err(problem) = offered {
                screen.complain(&format!("! cannot offer {} again: {problem}", file.name));
            }
        }
    }

    /// The connection is lost: each file on its way stops, and waits to
    /// be offered again to the recipients it had not reached, if there
    /// are any it knows of (`None` if the client will not reconnect).
    pub fn connection_lost(&mut self, screen: &mut Screen, why: &str, reconnecting: bool) {
        for (_, upload) in std::mem::take(&mut self.active) {
            screen.set_status(upload.progress.key(), None);
            let name = &upload.name;
            let targets = upload.pending_targets();
            match (&upload.phase, reconnecting && !targets.is_empty()) {
                (_, true) => {
                    let nicks = make_visible(&targets.join(", ")).into_owned();
                    screen.complain(&format!(
                        "! sending {name} stopped at {}%: {why}; it will be offered again to {nicks}",
                        percent(upload.sent, upload.size)
                    ));
                }
                (_, false) => screen.complain(&format!(
                    "! sending {name} stopped at {}%: {why}; its recipients may not have it",
                    percent(upload.sent, upload.size)
                )),
            }
            if reconnecting && !targets.is_empty() {
                // Offered again once reconnected (see `reconnected`).
                let since = upload.waiting_since.unwrap_or_else(Instant::now);
                let try_at = Instant::now() + RETRY_INTERVAL;
                self.waiting.add(upload.waiting(targets, since), try_at);
            }
            if let Phase::Sending { data, .. } | Phase::Reporting { data, .. } = upload.phase {
                data.stop(None);
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
        // Not reaching someone fails a script's command; a lost
        // connection is not yet a failure (the file is offered again).
        let lost = !upload.reports.lost.is_empty();
        if !upload.reports.failed.is_empty() || (finished.is_none() && !lost) {
            self.failures += 1;
        }
        // Those whose connection was lost get the file again when back.
        let lost: Vec<String> = upload.reports.lost.iter().map(|(n, _)| n.clone()).collect();
        if !lost.is_empty() {
            // At once: they may be back already.
            let since = upload.waiting_since.unwrap_or_else(Instant::now);
            self.waiting
                .add(upload.waiting(lost, since), Instant::now());
        }
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
    /// This file, waiting to be offered again to `targets` since `since`.
    fn waiting(&self, targets: Vec<String>, since: Instant) -> Waiting {
        Waiting {
            number: self.number,
            path: self.path.clone(),
            name: self.name.clone(),
            size: self.size,
            stamp: self.stamp.clone(),
            targets,
            since,
        }
    }

    /// The recipients it knows of that have not settled: those named in
    /// the offer (all those who accepted, for an offer to everyone), and
    /// those whose connection was lost, but not those who saved it or
    /// said no.
    fn pending_targets(&self) -> Vec<String> {
        let named = match &self.to {
            Some(nicks) => nicks.split(',').map(str::to_string).collect(),
            None => self.accepted.clone(),
        };
        let lost = self.reports.lost.iter().map(|(nick, _)| nick.clone());
        let mut targets: Vec<String> = Vec::new();
        for nick in named.into_iter().chain(lost) {
            let key = nick_key(&nick);
            let known = targets.iter().any(|t| nick_key(t) == key);
            if !known && !self.reports.settled(&nick) {
                targets.push(nick);
            }
        }
        targets
    }

    /// Its line in `/transfers`.
    fn listing(&self) -> Listing {
        let to = match &self.to {
            Some(nicks) => make_visible(nicks).replace(',', ", "),
            None => "everyone".to_string(),
        };
        let state = match self.phase {
            Phase::Offered { .. } => "offered, waiting for an answer".to_string(),
            Phase::Sending { .. } => format!("sending, {}%", percent(self.sent, self.size)),
            Phase::Reporting { .. } => "sent, waiting for the reports".to_string(),
        };
        let answers = match self.recipients {
            Some(recipients) => format!(
                "; {} of {recipients} accepted, {} saved",
                self.accepted.len(),
                self.reports.saved.len()
            ),
            None => String::new(),
        };
        let line = format!(
            "#{} > {} ({}) to {to}: {state}{answers}",
            self.number,
            self.name,
            format_size(self.size)
        );
        Listing {
            number: self.number,
            line,
        }
    }

    /// Prints how the file turned out: whom it reached, whom it did not
    /// (and who will get it again), and who never said.
    fn summarize(&self, screen: &mut Screen, finished: Option<(Duration, u64, u32)>) {
        let name = &self.name;
        let reports = &self.reports;
        let recipients = self.recipients.unwrap_or(0);
        let unreached = reports.failed.len() + reports.lost.len();
        match finished {
            // Everyone failed, whether before the last chunk or after. (One
            // recipient's failure, below, says it all.)
            _ if reports.saved.is_empty()
                && unreached >= recipients
                && recipients > 1
                && reports.lost.is_empty() =>
            {
                screen.complain(&format!("! {name} reached nobody"));
            }
            _ if reports.saved.is_empty() && unreached >= recipients => {}
            Some((busy, bytes, checksum)) => {
                // The rate of the data itself: time spent waiting for
                // answers is left out.
                let secs = busy.as_secs_f64().max(0.001);
                let rate = format_size((bytes as f64 / secs) as u64);
                let size = format_size(self.size);
                let saved = reports.saved.len();
                let resumed = match self.first_offset {
                    Some(offset) if offset > 0 => {
                        format!(", resumed at {}%", percent(offset, self.size))
                    }
                    _ => String::new(),
                };
                screen.print(&format!(
                    "* sent {name} ({size}) to {saved} of {recipients} in {secs:.1} s ({rate}/s){resumed}, cksum {checksum}"
                ));
            }
            None => {}
        }
        for (nick, reason) in &reports.failed {
            let nick = make_visible(nick);
            screen.complain(&format!("! {name} did not reach {nick}: {reason}"));
        }
        for (nick, reason) in &reports.lost {
            let nick = make_visible(nick);
            screen.complain(&format!(
                "! {name} did not reach {nick} yet: {reason}; it will be offered again when {nick} is back"
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

/// `part` of `whole`, in whole percent (100 for an empty whole).
fn percent(part: u64, whole: u64) -> u64 {
    part.saturating_mul(100).checked_div(whole).unwrap_or(100)
}
