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
//! Every outcome is reported to the server (`RECEIVED`, or `DECLINE` for
//! a file refused or cancelled here), *before* it is printed: whoever reads
//! our output and then makes us quit must not overtake the report.

use crate::connection::Connection;
use crate::disk::{DiskJobSpec, DiskWriter};
use crate::events::Event;
use crate::pool::PooledBuf;
use crate::progress::{Direction, Progress};
use crate::terminal::Screen;
use crate::uploads::Listing;
use ftpchat::files::safe_file_name;
use ftpchat::protocol::{ClientMessage, Delivery};
use ftpchat::text::{format_size, make_visible};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

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

/// The files offered to us or on their way in, by the server's number.
pub struct Downloads {
    active: BTreeMap<u64, Incoming>,
    /// Where files are saved.
    dir: PathBuf,
    /// Where the disk threads report.
    events: Sender<Event>,
    limits: Limits,
}

/// A file offered to us, or on its way in.
struct Incoming {
    /// The number the user knows it by (`/accept N`, `/cancel N`).
    number: u64,
    /// The name it will be saved under (before any `-1` suffix).
    name: String,
    /// Who sent it, shown safely.
    from: String,
    size: u64,
    stage: Stage,
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
        Downloads {
            active: BTreeMap::new(),
            dir,
            events,
            limits,
        }
    }

    /// `FILE`: a file of `size` bytes is offered, which the user will know
    /// as `number`. Accepts it, declines it, or asks, as the policy and
    /// the limits say.
    #[allow(clippy::too_many_arguments)]
    pub fn offer(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        id: u64,
        size: u64,
        from: &str,
        name: &str,
        number: u64,
    ) {
        let incoming = Incoming {
            number,
            name: safe_file_name(name),
            from: make_visible(from).into_owned(),
            size,
            stage: Stage::Offered,
        };
        let what = incoming.what();
        let size_text = format_size(size);
        let refusal = if self.active.len() >= self.limits.max_incoming {
            let limit = self.limits.max_incoming;
            Some(format!("too many files at once (the limit is {limit})"))
        } else if self.limits.max_size.is_some_and(|max| size > max) {
            let max = format_size(self.limits.max_size.unwrap_or(0));
            Some(format!("too large ({size_text}; the limit is {max})"))
        } else if self.limits.policy == AcceptPolicy::None {
            Some("not taking files".to_string())
        } else {
            None
        };
        if let Some(reason) = refusal {
            decline(connection, id, &reason);
            return screen.print(&format!("* declined {what} ({size_text}): {reason}"));
        }
        self.active.insert(id, incoming);
        match self.limits.policy {
            AcceptPolicy::All => self.start(screen, connection, id),
            _ => screen.print(&format!(
                "* {} offers {} ({size_text}) as #{number}: /accept {number} or /decline {number}",
                self.active[&id].from, self.active[&id].name
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
        let id = self.offer_numbered(number)?;
        self.start(screen, connection, id);
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
        let id = self.offer_numbered(number)?;
        let incoming = self.active.remove(&id).expect("found just now");
        decline(connection, id, "no thanks");
        Ok(incoming.what())
    }

    /// The server's number of the offer the user knows as `number` (the
    /// latest offer if `None`).
    fn offer_numbered(&self, number: Option<u64>) -> Result<u64, String> {
        let mut offers = self
            .active
            .iter()
            .filter(|(_, incoming)| matches!(incoming.stage, Stage::Offered));
        let found = match number {
            Some(number) => offers.find(|(_, i)| i.number == number),
            None => offers.max_by_key(|(_, incoming)| incoming.number),
        };
        match (found, number) {
            (Some((&id, _)), _) => Ok(id),
            (None, Some(number)) => Err(format!(
                "no file is offered as #{number}; /transfers lists them"
            )),
            (None, None) => Err("no file is offered to you".to_string()),
        }
    }

    /// Accepts file `id`: creates its temporary file and disk thread, and
    /// tells the server to send it.
    fn start(&mut self, screen: &mut Screen, connection: &Connection, id: u64) {
        let Some(incoming) = self.active.get_mut(&id) else {
            return;
        };
        let spec = DiskJobSpec {
            id,
            dir: self.dir.clone(),
            name: incoming.name.clone(),
            size: incoming.size,
            events: self.events.clone(),
        };
        let what = incoming.what();
        match DiskWriter::start(spec) {
            Ok(disk) => {
                let key = format!("recv {id}");
                let progress =
                    Progress::new(key, &incoming.name, Direction::Receiving, incoming.size);
                incoming.stage = Stage::Receiving(Download {
                    received: 0,
                    disk,
                    progress,
                });
                let _ = connection.send(&ClientMessage::Accept { id, offset: 0 });
                let size = format_size(incoming.size);
                let (name, from) = (&incoming.name, &incoming.from);
                screen.print(&format!("* receiving {name} ({size}) from {from}"));
            }
            Err(error) => {
                self.active.remove(&id);
                report(connection, id, Delivery::Failed(&error.to_string()));
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
        let Some(Incoming {
            stage: Stage::Receiving(download),
            size,
            ..
        }) = self.active.get_mut(&id)
        else {
            return; // a file we gave up on, or never accepted
        };
        let len = chunk.len() as u64;
        if download.received + len > *size {
            let why = format!("more data than the {size} bytes announced");
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
        let Some(incoming) = self.active.get_mut(&id) else {
            return;
        };
        let placeholder = Stage::Offered;
        if let Stage::Receiving(mut download) = std::mem::replace(&mut incoming.stage, placeholder)
        {
            screen.set_status(download.progress.key(), None);
            download.disk.finish(checksum);
            incoming.stage = Stage::Saving(download);
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
        let Some(incoming) = self.active.remove(&id) else {
            return;
        };
        report(connection, id, Delivery::Ok);
        screen.print(&format!(
            "* received {} ({}) from {}, saved as {} (cksum {checksum})",
            incoming.name,
            format_size(incoming.size),
            incoming.from,
            path.display()
        ));
    }

    /// The disk thread could not write or check file `id`, and removed it.
    pub fn failed(&mut self, screen: &mut Screen, connection: &Connection, id: u64, why: &str) {
        self.fail(screen, connection, id, why);
    }

    /// `CANCEL`: the offer is withdrawn, or the transfer stopped; a partial
    /// file is deleted. (A file already being saved is not stopped: the
    /// sender's `CANCEL` came after our copy was complete.)
    pub fn cancelled(&mut self, screen: &mut Screen, id: u64, reason: &str) {
        if matches!(
            self.active.get(&id),
            Some(Incoming {
                stage: Stage::Saving(_),
                ..
            }) | None
        ) {
            return;
        }
        let incoming = self.active.remove(&id).expect("checked just now");
        let reason = make_visible(reason);
        match incoming.stage {
            Stage::Offered => {
                let what = incoming.what();
                screen.print(&format!("* the offer of {what} ended: {reason}"));
            }
            _ => {
                let what = incoming.discard(screen);
                screen.print(&format!(
                    "! receiving {what} stopped: {reason}; nothing was saved"
                ));
            }
        }
    }

    /// `/cancel`: stops the incoming file the user knows as `number` (an
    /// offer is declined). `None` if no incoming file has that number.
    pub fn cancel(
        &mut self,
        screen: &mut Screen,
        connection: &Connection,
        number: u64,
    ) -> Option<Cancelled> {
        let (&id, incoming) = self.active.iter().find(|(_, i)| i.number == number)?;
        if let Stage::Saving(_) = incoming.stage {
            return Some(Cancelled::Saving(incoming.what()));
        }
        let incoming = self.active.remove(&id).expect("found just now");
        decline(connection, id, "cancelled");
        Some(Cancelled::Done(incoming.discard(screen)))
    }

    /// The numbers of files offered or arriving (not those being saved):
    /// what Ctrl-C and leaving cancel.
    pub fn running(&self) -> Vec<u64> {
        self.active
            .values()
            .filter(|incoming| !matches!(incoming.stage, Stage::Saving(_)))
            .map(|incoming| incoming.number)
            .collect()
    }

    /// The numbers and names of incoming files whose name is `name`.
    pub fn named(&self, name: &str) -> Vec<(u64, String)> {
        self.active
            .values()
            .filter(|incoming| incoming.name == name)
            .map(|incoming| (incoming.number, incoming.name.clone()))
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
            .values()
            .map(|incoming| {
                let number = incoming.number;
                let state = match &incoming.stage {
                    Stage::Offered => format!("offered: /accept {number} or /decline {number}"),
                    Stage::Receiving(download) => {
                        let percent = (download.received * 100)
                            .checked_div(incoming.size)
                            .unwrap_or(100);
                        format!("receiving, {percent}%")
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

    /// The connection is gone, or we are leaving: every partial file is
    /// deleted, and the user told which.
    pub fn abandon_all(&mut self, screen: &mut Screen, why: &str) {
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

    /// Gives up on file `id`: deletes what arrived, tells the sender and
    /// the user.
    fn fail(&mut self, screen: &mut Screen, connection: &Connection, id: u64, why: &str) {
        let Some(incoming) = self.active.remove(&id) else {
            return;
        };
        let what = incoming.discard(screen);
        report(connection, id, Delivery::Failed(why));
        screen.print(&format!(
            "! receiving {what} failed: {why}; nothing was saved"
        ));
    }
}

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
}

/// Tells the server how a received file turned out.
fn report(connection: &Connection, id: u64, outcome: Delivery) {
    let _ = connection.send(&ClientMessage::Received { id, outcome });
}

/// Tells the server we do not want (any more of) file `id`.
fn decline(connection: &Connection, id: u64, reason: &str) {
    let _ = connection.send(&ClientMessage::Decline { id, reason });
}
