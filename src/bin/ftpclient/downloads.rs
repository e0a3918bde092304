//! Receiving files into `rec/`: offers, consent, and files that arrive
//! whole or not at all.
//!
//! The server announces a file with `FILE`: an **offer**, with the
//! sender, the name and the size. Nothing is written until the offer is
//! accepted. Depending on `--accept`, the client accepts it at once
//! (`all`, the default for scripts), declines it (`none`), or asks the
//! user (`ask`, the default on a terminal), who answers with `/accept` or
//! `/decline`. Offers beyond a limit are declined with the reason: more
//! files at once than `--max-incoming`, or a file larger than
//! `--max-receive-size`. A recipient that does not answer lets the offer
//! expire on the server.
//!
//! An accepted file (`ACCEPT ID 0`) then arrives as `DATA` chunks and ends
//! with `DONE` and the sender's checksum (or `CANCEL`). Each file has a
//! disk thread (`disk.rs`) that writes it, checks it and names it.
//!
//! # Resuming
//!
//! A file whose transfer is cut off by a lost connection (`PAUSED` from
//! the server when the sender's was lost, or our own) keeps what arrived,
//! as a partial file with a record of what it is (`partial.rs`). When the
//! same sender offers the same file again, with the same stamp, the offer
//! is taken at once, whatever `--accept` says (the user already took this
//! file), from where the partial ends: `ACCEPT ID OFFSET`.
//!
//! The server numbers files afresh on each connection, so a file is known
//! here by the user's number for it (`#3`), which never changes, and the
//! server's number for it on this connection is looked up beside.
//!
//! Every outcome is reported to the server (`RECEIVED`, or `DECLINE` for
//! a file refused or cancelled here), *before* it is printed: whoever reads
//! our output and then makes us quit must not overtake the report.

use crate::connection::Connection;
use crate::disk::{DiskJobSpec, DiskWriter};
use crate::events::Event;
use crate::partial::{self, PartInfo};
use crate::pool::PooledBuf;
use crate::progress::{Direction, Progress};
use crate::terminal::Screen;
use crate::uploads::Listing;
use ftpchat::files::safe_file_name;
use ftpchat::protocol::fields::NO_STAMP;
use ftpchat::protocol::{ClientMessage, Delivery};
use ftpchat::text::{format_size, io_words, make_visible};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Instant;

/// What to do with an offer (`--accept`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptPolicy {
    /// Ask the user (`/accept`, `/decline`).
    Ask,
    /// Accept every offer.
    All,
    /// Decline every offer.
    None,
}

/// The limits on what this client receives.
#[derive(Clone, Debug)]
pub struct Limits {
    /// What to do with an offer.
    pub policy: AcceptPolicy,
    /// Most files offered or on their way in at once: each open file costs
    /// a file descriptor, and a process has only so many.
    pub max_incoming: usize,
    /// Largest file accepted, in bytes, if there is a limit.
    pub max_size: Option<u64>,
}

/// The files offered to us or on their way in, by the user's number.
pub struct Downloads {
    active: BTreeMap<u64, Incoming>,
    /// The user's number of each file, by the server's number for it on
    /// this connection.
    numbers: HashMap<u64, u64>,
    /// Where files are saved.
    dir: PathBuf,
    /// Where the disk threads report.
    events: Sender<Event>,
    limits: Limits,
}

/// A file offered to us, or on its way in (the user's number for it is
/// its key in [`Downloads`]).
struct Incoming {
    /// The server's number for it, until the connection is lost.
    id: Option<u64>,
    /// The name it will be saved under (before any `-1` suffix).
    name: String,
    /// Who sent it, shown safely.
    from: String,
    size: u64,
    /// What it is, if it can be resumed (the sender gave a stamp).
    record: Option<PartInfo>,
    /// Where it was resumed from, if it was.
    resumed_from: Option<u64>,
    stage: Stage,
}

/// A `FILE` offer, as the server sent it.
pub struct Offer<'a> {
    /// The server's number for the file.
    pub id: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The sender's stamp for this version of it.
    pub stamp: &'a str,
    /// The sender's nickname.
    pub from: &'a str,
    /// The name the sender gave it.
    pub name: &'a str,
}

/// How far an incoming file has got.
enum Stage {
    /// Offered; nobody has answered yet.
    Offered,
    /// Accepted; its chunks are arriving.
    Receiving(Download),
    /// Complete; its disk thread is checking and saving it.
    Saving(Download),
}

/// A file being written.
struct Download {
    received: u64,
    disk: DiskWriter,
    progress: Progress,
    /// When the data began to come, and when its last byte came: the
    /// rate of the transfer, and how long saving took after it.
    started: Instant,
    data_ended: Option<Instant>,
}

/// What `/cancel` did to an incoming file.
pub enum Cancelled {
    /// Cancelled; here is "NAME from NICK".
    Done(String),
    /// Too late: it is being saved.
    Saving(String),
}

impl Downloads {
    /// No files yet; they will be saved in `dir`, within `limits`.
    pub fn new(dir: PathBuf, events: Sender<Event>, limits: Limits) -> Downloads {
        // Partials nobody came back for are not kept for ever.
        partial::sweep(&dir, partial::PARTIAL_MAX_AGE);
        Downloads {
            active: BTreeMap::new(),
            numbers: HashMap::new(),
            dir,
            events,
            limits,
        }
    }

    /// `FILE`: a file is offered, which the user will know as `number`.
    /// Resumes it if part of it is here from an earlier attempt; else
    /// accepts it, declines it, or asks, as the policy and the limits say.
    pub fn offer(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        offer: &Offer,
        number: u64,
    ) {
        let name = safe_file_name(offer.name);
        let record = (offer.stamp != NO_STAMP).then(|| PartInfo {
            from: offer.from.to_string(),
            name: name.clone(),
            size: offer.size,
            stamp: offer.stamp.to_string(),
        });
        let incoming = Incoming {
            id: Some(offer.id),
            name,
            from: make_visible(offer.from).into_owned(),
            size: offer.size,
            record,
            resumed_from: None,
            stage: Stage::Offered,
        };
        let what = incoming.what();
        let size = offer.size;
        let size_text = format_size(size);
        let resume = incoming
            .record
            .as_ref()
            .and_then(|record| partial::find(&self.dir, record));
        let refusal = if self.active.len() >= self.limits.max_incoming {
            let limit = self.limits.max_incoming;
            Some(format!("too many files at once (the limit is {limit})"))
        } else if self.limits.max_size.is_some_and(|max| size > max) {
            let max = format_size(self.limits.max_size.unwrap_or(0));
            Some(format!("too large ({size_text}; the limit is {max})"))
        } else if self.limits.policy == AcceptPolicy::None && resume.is_none() {
            Some("not taking files".to_string())
        } else {
            None
        };
        if let Some(reason) = refusal {
            decline(connection, offer.id, &reason);
            return screen.print(&format!("* declined {what} ({size_text}): {reason}"));
        }
        self.numbers.insert(offer.id, number);
        self.active.insert(number, incoming);
        match (resume, self.limits.policy) {
            (Some(found), _) => self.start(screen, connection, number, Some(found)),
            (None, AcceptPolicy::All) => self.start(screen, connection, number, None),
            (None, _) => screen.print(&format!(
                "* {} offers {} ({size_text}) as #{number}: /accept {number} or /decline {number}",
                self.active[&number].from, self.active[&number].name
            )),
        }
    }

    /// `/accept`: takes the offer the user knows as `number`, or the latest.
    ///
    /// # Errors
    ///
    /// No such offer, for the user.
    pub fn accept(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        number: Option<u64>,
    ) -> Result<(), String> {
        let number = self.offer_numbered(number)?;
        self.start(screen, connection, number, None);
        Ok(())
    }

    /// `/decline`: refuses the offer the user knows as `number`, or the
    /// latest. Returns "NAME from NICK".
    ///
    /// # Errors
    ///
    /// No such offer, for the user.
    pub fn decline(
        &mut self,
        connection: &Connection,
        number: Option<u64>,
    ) -> Result<String, String> {
        let number = self.offer_numbered(number)?;
        let incoming = self.remove(number).expect("found just now");
        if let Some(id) = incoming.id {
            decline(connection, id, "no thanks");
        }
        Ok(incoming.what())
    }

    /// The number of the offer the user knows as `number`, if there is
    /// one (the latest offer if `None`).
    fn offer_numbered(&self, number: Option<u64>) -> Result<u64, String> {
        let mut offers = self
            .active
            .iter()
            .filter(|(_, incoming)| matches!(incoming.stage, Stage::Offered));
        let found = match number {
            Some(number) => offers.find(|(n, _)| **n == number),
            None => offers.next_back(),
        };
        match (found, number) {
            (Some((&number, _)), _) => Ok(number),
            (None, Some(number)) => Err(format!(
                "no file is offered as #{number}; /transfers lists them"
            )),
            (None, None) => Err("no file is offered to you".to_string()),
        }
    }

    /// Accepts file `number`: creates its temporary file (or goes on with
    /// the partial file `resume`) and its disk thread, and tells the
    /// server to send it from where it is needed.
    fn start(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        number: u64,
        resume: Option<partial::Found>,
    ) {
        let Some(incoming) = self.active.get_mut(&number) else {
            return;
        };
        let Some(id) = incoming.id else { return };
        let offset = resume.as_ref().map_or(0, |found| found.len);
        if let (None, Some(record)) = (&resume, &incoming.record) {
            partial::forget_other_versions(&self.dir, record);
        }
        let spec = DiskJobSpec {
            number,
            dir: self.dir.clone(),
            name: incoming.name.clone(),
            size: incoming.size,
            record: incoming.record.clone(),
            resume,
            events: self.events.clone(),
        };
        let what = incoming.what();
        match DiskWriter::start(spec) {
            Ok(disk) => {
                let key = format!("recv {number}");
                let mut progress =
                    Progress::new(key, &incoming.name, Direction::Receiving, incoming.size);
                progress.restart(offset);
                incoming.stage = Stage::Receiving(Download {
                    received: offset,
                    disk,
                    progress,
                    started: Instant::now(),
                    data_ended: None,
                });
                let _ = connection.send(&ClientMessage::Accept { id, offset });
                let size = format_size(incoming.size);
                let (name, from) = (&incoming.name, &incoming.from);
                if offset > 0 {
                    incoming.resumed_from = Some(offset);
                    let at = percent(offset, incoming.size);
                    screen.print(&format!(
                        "* resuming {name} ({size}) from {from} at {at}%, with the part kept from before"
                    ));
                } else {
                    screen.print(&format!("* receiving {name} ({size}) from {from}"));
                }
            }
            Err(error) => {
                self.remove(number);
                let error = io_words(&error);
                report(connection, Some(id), Delivery::Failed(&error));
                screen.print(&format!("! cannot receive {what}: {error}"));
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
        let number = self.numbers.get(&id).copied().unwrap_or(0);
        let Some(Incoming {
            stage: Stage::Receiving(download),
            size,
            ..
        }) = self.active.get_mut(&number)
        else {
            return; // a file we gave up on, or never accepted
        };
        let len = chunk.len() as u64;
        if download.received + len > *size {
            let why = format!("more data than the {size} bytes announced");
            return self.fail(screen, connection, number, &why);
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
        let Some(incoming) = self.by_id(id) else {
            return;
        };
        let placeholder = Stage::Offered;
        if let Stage::Receiving(mut download) = std::mem::replace(&mut incoming.stage, placeholder)
        {
            // The last byte is in: checking and syncing to disk may take
            // a moment, which the status line says.
            let saving = download
                .progress
                .after_data("checking and saving", "saving");
            screen.set_status(download.progress.key(), Some(saving));
            download.data_ended = Some(Instant::now());
            download.disk.finish(checksum);
            incoming.stage = Stage::Saving(download);
        }
    }

    /// The disk thread saved file `number` as `path`.
    pub fn saved(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        number: u64,
        path: &Path,
        checksum: u32,
    ) {
        let Some(incoming) = self.remove(number) else {
            return;
        };
        report(connection, incoming.id, Delivery::Ok);
        let resumed = match incoming.resumed_from {
            Some(offset) => format!(", resumed at {}%", percent(offset, incoming.size)),
            None => String::new(),
        };
        let timing = match &incoming.stage {
            Stage::Saving(download) => {
                screen.set_status(download.progress.key(), None);
                let moved = incoming.size - incoming.resumed_from.unwrap_or(0);
                download.timing(moved)
            }
            _ => String::new(),
        };
        screen.print(&format!(
            "* received {} ({}) from {}{resumed}{timing}, saved as {} (cksum {checksum})",
            incoming.name,
            format_size(incoming.size),
            incoming.from,
            path.display()
        ));
    }

    /// The disk thread could not write or check file `number`, and
    /// removed it.
    pub fn failed(&mut self, screen: &mut Screen, connection: &Connection, number: u64, why: &str) {
        self.fail(screen, connection, number, why);
    }

    /// `CANCEL`: the offer is withdrawn, or the transfer stopped; a partial
    /// file is deleted. (A file already being saved is not stopped: the
    /// sender's `CANCEL` came after our copy was complete.)
    pub fn cancelled(&mut self, screen: &mut Screen, id: u64, reason: &str) {
        self.stopped(screen, id, reason, false);
    }

    /// `PAUSED`: the sender's connection was lost. What arrived is kept,
    /// to resume from when the sender offers the file again.
    pub fn paused(&mut self, screen: &mut Screen, id: u64, reason: &str) {
        self.stopped(screen, id, reason, true);
    }

    /// The server stopped file `id` for `reason`: an offer ends; a file on
    /// its way is kept (if `keep` and it can be resumed) or deleted.
    fn stopped(&mut self, screen: &mut Screen, id: u64, reason: &str, keep: bool) {
        let Some(&number) = self.numbers.get(&id) else {
            return;
        };
        if matches!(self.active[&number].stage, Stage::Saving(_)) {
            return;
        }
        let incoming = self.remove(number).expect("checked just now");
        let reason = make_visible(reason);
        if let Stage::Offered = incoming.stage {
            let what = incoming.what();
            return screen.print(&format!("* the offer of {what} ended: {reason}"));
        }
        let line = match keep {
            true => incoming.set_aside(screen, &reason),
            false => {
                let what = incoming.discard(screen);
                format!("! receiving {what} stopped: {reason}; nothing was saved")
            }
        };
        screen.print(&line);
    }

    /// `/cancel`: stops the incoming file the user knows as `number` (an
    /// offer is declined); what arrived is deleted. `None` if no incoming
    /// file has that number.
    pub fn cancel(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        number: u64,
    ) -> Option<Cancelled> {
        let incoming = self.active.get(&number)?;
        if let Stage::Saving(_) = incoming.stage {
            return Some(Cancelled::Saving(incoming.what()));
        }
        let incoming = self.remove(number).expect("found just now");
        if let Some(id) = incoming.id {
            decline(connection, id, "cancelled");
        }
        Some(Cancelled::Done(incoming.discard(screen)))
    }

    /// The numbers of files offered or arriving (not those being saved):
    /// what Ctrl-C and leaving cancel.
    pub fn running(&self) -> Vec<u64> {
        self.active
            .iter()
            .filter(|(_, incoming)| !matches!(incoming.stage, Stage::Saving(_)))
            .map(|(&number, _)| number)
            .collect()
    }

    /// The numbers and names of incoming files whose name is `name`.
    pub fn named(&self, name: &str) -> Vec<(u64, String)> {
        self.active
            .iter()
            .filter(|(_, incoming)| incoming.name == name)
            .map(|(&number, incoming)| (number, incoming.name.clone()))
            .collect()
    }

    /// Whether a file is being checked and saved: leaving waits for it, so
    /// that its report reaches the sender.
    pub fn is_saving(&self) -> bool {
        self.active
            .values()
            .any(|incoming| matches!(incoming.stage, Stage::Saving(_)))
    }

    /// One line per incoming file, for `/transfers`.
    pub fn listing(&self) -> Vec<Listing> {
        self.active
            .iter()
            .map(|(&number, incoming)| {
                let state = match &incoming.stage {
                    Stage::Offered => format!("offered: /accept {number} or /decline {number}"),
                    Stage::Receiving(download) => {
                        format!("receiving, {}%", percent(download.received, incoming.size))
                    }
                    Stage::Saving(_) => "checking and saving".to_string(),
                };
                let line = format!(
                    "#{number} < {} ({}) from {}: {state}",
                    incoming.name,
                    format_size(incoming.size),
                    incoming.from
                );
                Listing { number, line }
            })
            .collect()
    }

    /// The parts of files kept from earlier attempts, not being received
    /// now: one line each, for `/transfers`.
    pub fn kept_parts(&self) -> Vec<String> {
        partial::kept(&self.dir)
            .into_iter()
            .map(|(info, len)| {
                format!(
                    "{} ({}) from {}: {}% kept",
                    make_visible(&info.name),
                    format_size(info.size),
                    make_visible(&info.from),
                    percent(len, info.size)
                )
            })
            .collect()
    }

    /// We are leaving: every partial file is deleted, and the user told
    /// which.
    pub fn abandon_all(&mut self, screen: &mut Screen, why: &str) {
        self.numbers.clear();
        for (_, incoming) in std::mem::take(&mut self.active) {
            if matches!(incoming.stage, Stage::Offered) {
                continue;
            }
            let what = incoming.discard(screen);
            screen.complain(&format!(
                "! receiving {what} stopped: {why}; nothing was saved"
            ));
        }
    }

    /// The connection is lost: offers end with it; files on their way are
    /// kept to resume (if they can be) or deleted; files already being
    /// saved are still saved, though the sender cannot be told.
    pub fn connection_lost(&mut self, screen: &mut Screen, why: &str) {
        self.numbers.clear();
        let numbers: Vec<u64> = self.active.keys().copied().collect();
        for number in numbers {
            let incoming = self.active.get_mut(&number).expect("listed just now");
            incoming.id = None;
            if let Stage::Saving(_) = incoming.stage {
                continue;
            }
            let incoming = self.active.remove(&number).expect("listed just now");
            if let Stage::Offered = incoming.stage {
                continue;
            }
            let line = incoming.set_aside(screen, why);
            screen.complain(&line);
        }
    }

    /// Gives up on file `number`: deletes what arrived, tells the sender
    /// and the user.
    fn fail(&mut self, screen: &mut Screen, connection: &Connection, number: u64, why: &str) {
        let Some(incoming) = self.remove(number) else {
            return;
        };
        let id = incoming.id;
        let what = incoming.discard(screen);
        report(connection, id, Delivery::Failed(why));
        screen.print(&format!(
            "! receiving {what} failed: {why}; nothing was saved"
        ));
    }

    /// The incoming file the server numbers `id` on this connection.
    fn by_id(&mut self, id: u64) -> Option<&mut Incoming> {
        let number = self.numbers.get(&id)?;
        self.active.get_mut(number)
    }

    /// Forgets file `number`, and the server's number for it.
    fn remove(&mut self, number: u64) -> Option<Incoming> {
        let incoming = self.active.remove(&number)?;
        if let Some(id) = incoming.id {
            self.numbers.remove(&id);
        }
        Some(incoming)
    }
}

impl Download {
    /// ` in 2.1 s (480.2 MiB/s)`: how long the `moved` bytes took to come
    /// and at what rate, and `; 1.2 s to save` when checking and syncing
    /// them to the disk took long enough to notice.
    fn timing(&self, moved: u64) -> String {
        let ended = self.data_ended.unwrap_or_else(Instant::now);
        let secs = ended.duration_since(self.started).as_secs_f64().max(0.001);
        let rate = format_size((moved as f64 / secs) as u64);
        let mut text = format!(" in {secs:.1} s ({rate}/s)");
        let saving = ended.elapsed().as_secs_f64();
        if saving >= NOTICEABLE_SAVING_SECS {
            text.push_str(&format!("; {saving:.1} s to save"));
        }
        text
    }
}

/// How long saving must take to be mentioned, in seconds.
const NOTICEABLE_SAVING_SECS: f64 = 0.5;

impl Incoming {
    /// "NAME from NICK", for messages.
    fn what(&self) -> String {
        format!("{} from {}", self.name, self.from)
    }

    /// Gives up on this file: clears its progress and waits until its
    /// disk thread has deleted the partial file, so that "nothing was
    /// saved" is already true when the caller prints it. Returns "NAME
    /// from NICK" for that message.
    fn discard(self, screen: &mut Screen) -> String {
        let what = self.what();
        if let Stage::Receiving(download) | Stage::Saving(download) = self.stage {
            screen.set_status(download.progress.key(), None);
            drop(download.disk);
        }
        what
    }

    /// Stops receiving this file for `why`, keeping what arrived if the
    /// file can be resumed (deleting it if not). Returns the line that
    /// says which.
    fn set_aside(self, screen: &mut Screen, why: &str) -> String {
        let what = self.what();
        match self.stage {
            Stage::Receiving(download) if self.record.is_some() => {
                screen.set_status(download.progress.key(), None);
                let at = percent(download.received, self.size);
                download.disk.keep();
                format!(
                    "! receiving {what} stopped at {at}%: {why}; the part received is kept, \
                     to resume when the file is offered again"
                )
            }
            _ => {
                self.discard(screen);
                format!("! receiving {what} stopped: {why}; nothing was saved")
            }
        }
    }
}

/// `part` of `whole`, in whole percent (100 for an empty whole).
fn percent(part: u64, whole: u64) -> u64 {
    (part.saturating_mul(100)).checked_div(whole).unwrap_or(100)
}

/// Tells the server how a received file turned out, if the file is still
/// known on this connection (`id`).
fn report(connection: &Connection, id: Option<u64>, outcome: Delivery) {
    if let Some(id) = id {
        let _ = connection.send(&ClientMessage::Received { id, outcome });
    }
}

/// Tells the server we do not want (any more of) file `id`.
fn decline(connection: &Connection, id: u64, reason: &str) {
    let _ = connection.send(&ClientMessage::Decline { id, reason });
}
