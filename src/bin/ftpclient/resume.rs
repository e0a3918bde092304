//! Files waiting to be offered again: the sender's half of resuming.
//!
//! A file being sent is cut off for some of its recipients when a
//! connection is lost: ours (the server restarted, the network dropped),
//! or a recipient's (reported `DELIVERED ID NICK lost ...`). Those
//! recipients keep what they had (see `partial.rs`), so the file is not
//! given up: it **waits** here, with the nicknames it still has to reach,
//! and is offered to them again (`SEND` with a list of nicknames) when
//! that can work:
//!
//! - at once after we reconnect, or when a recipient's loss is reported
//!   (it may be back already);
//! - when one of them joins again (`JOINED`);
//! - and every [`RETRY_INTERVAL`] meanwhile, since a large room announces
//!   no arrivals.
//!
//! Each recipient then accepts from where its copy ends, and the data
//! goes from the smallest offset any of them needs (`FROM`). A file whose
//! recipients do not come back within [`RESUME_WINDOW`] is given up, and
//! the user told; `/cancel` gives it up at once.
//!
//! [`Waiting`] is plain data; `uploads.rs` decides when to offer again.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often a waiting file is offered again while its recipients are
/// away (the server answers at once if none of them is back).
pub const RETRY_INTERVAL: Duration = Duration::from_secs(15);

/// How long a file waits for its recipients to come back before it is
/// given up: long enough for a server to restart or a laptop to find its
/// network again. (A receiver keeps its part longer; a later `transfer`
/// of the same file still resumes.)
pub const RESUME_WINDOW: Duration = Duration::from_secs(10 * 60);

/// A file to offer again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// The number the user knows it by (`/cancel 3`); it keeps it.
    pub number: u64,
    /// Where the file is, to open it again (and check it has not changed:
    /// its stamp is taken again).
    pub path: PathBuf,
    /// Its name, shown safely.
    pub name: String,
    /// Its size when it was last offered, for `/transfers`.
    pub size: u64,
    /// Its stamp when it was last offered: a new one means it changed.
    pub stamp: String,
    /// The nicknames it has still to reach.
    pub targets: Vec<String>,
    /// When it first began to wait: the window counts from here, however
    /// many times it is offered again.
    pub since: Instant,
}

/// The files waiting to be offered again, and when to try next.
#[derive(Default)]
pub struct Resumes {
    waiting: Vec<Waiting>,
    /// When to offer them all again, if any is waiting.
    next_try: Option<Instant>,
}

impl Resumes {
    /// Whether no file is waiting.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Adds a file to offer again, at `try_at` at the latest. A file
    /// already waiting under the same number has its targets joined to
    /// this one's.
    pub fn add(&mut self, file: Waiting, try_at: Instant) {
        match self.waiting.iter_mut().find(|w| w.number == file.number) {
            Some(waiting) => {
                for nick in file.targets {
                    if !waiting.targets.contains(&nick) {
                        waiting.targets.push(nick);
                    }
                }
            }
            None => self.waiting.push(file),
        }
        self.next_try = Some(self.next_try.map_or(try_at, |next| next.min(try_at)));
    }

    /// Takes every waiting file, to offer them all again now.
    pub fn take_all(&mut self) -> Vec<Waiting> {
        self.next_try = None;
        std::mem::take(&mut self.waiting)
    }

    /// Takes the waiting files that have `nick` (compared by `same`, as
    /// the server compares nicknames) among their targets: `nick` is
    /// back.
    pub fn take_for(&mut self, same: impl Fn(&str) -> bool) -> Vec<Waiting> {
        let (found, rest) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.targets.iter().any(|t| same(t)));
        self.waiting = rest;
        if self.waiting.is_empty() {
            self.next_try = None;
        }
        found
    }

    /// Forgets the file the user knows as `number`; returns it.
    pub fn remove(&mut self, number: u64) -> Option<Waiting> {
        let index = self.waiting.iter().position(|w| w.number == number)?;
        let removed = self.waiting.remove(index);
        if self.waiting.is_empty() {
            self.next_try = None;
        }
        Some(removed)
    }

    /// The waiting files, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Waiting> {
        self.waiting.iter()
    }

    /// The earliest moment something is due: the next try, or a file's
    /// window ending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let ends = self.waiting.iter().map(|w| w.since + RESUME_WINDOW);
        ends.chain(self.next_try).min()
    }

    /// Takes the files whose window has ended at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Waiting> {
        let (expired, rest) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.since + RESUME_WINDOW <= now);
        self.waiting = rest;
        if self.waiting.is_empty() {
            self.next_try = None;
        }
        expired
    }

    /// Whether it is time (at `now`) to offer every waiting file again.
    pub fn due(&self, now: Instant) -> bool {
        self.next_try.is_some_and(|next| next <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(number: u64, targets: &[&str], since: Instant) -> Waiting {
        Waiting {
            number,
            path: PathBuf::from("a.bin"),
            name: "a.bin".to_string(),
            size: 1,
            stamp: "1-1".to_string(),
            targets: targets.iter().map(|t| t.to_string()).collect(),
            since,
        }
    }

    #[test]
    fn the_same_file_waits_once_for_all_its_recipients() {
        let now = Instant::now();
        let mut resumes = Resumes::default();
        resumes.add(waiting(3, &["bob"], now), now);
        resumes.add(waiting(3, &["carol", "bob"], now), now);
        resumes.add(waiting(4, &["dave"], now), now);
        assert_eq!(resumes.next_deadline(), Some(now));
        let all = resumes.take_all();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].targets, ["bob", "carol"]);
        assert!(resumes.is_empty() && resumes.next_deadline().is_none());
    }

    #[test]
    fn a_recipient_back_takes_the_files_waiting_for_it() {
        let now = Instant::now();
        let mut resumes = Resumes::default();
        resumes.add(waiting(1, &["bob", "carol"], now), now);
        resumes.add(waiting(2, &["dave"], now), now);
        let found = resumes.take_for(|nick| nick.eq_ignore_ascii_case("CAROL"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].number, 1);
        assert_eq!(resumes.iter().count(), 1);
        assert!(resumes.take_for(|nick| nick == "zed").is_empty());
    }

    #[test]
    fn tries_come_every_interval_and_the_window_ends_it() {
        let start = Instant::now();
        let mut resumes = Resumes::default();
        resumes.add(waiting(1, &["bob"], start), start + RETRY_INTERVAL);
        assert_eq!(resumes.next_deadline(), Some(start + RETRY_INTERVAL));
        assert!(!resumes.due(start));
        assert!(resumes.due(start + RETRY_INTERVAL));
        assert!(resumes.expire(start + RETRY_INTERVAL).is_empty());
        let late = start + RESUME_WINDOW;
        assert_eq!(resumes.expire(late).len(), 1);
        assert!(resumes.is_empty() && resumes.next_deadline().is_none());
    }

    #[test]
    fn a_cancelled_file_stops_waiting() {
        let now = Instant::now();
        let mut resumes = Resumes::default();
        resumes.add(waiting(7, &["bob"], now), now);
        assert_eq!(resumes.remove(7).map(|w| w.number), Some(7));
        assert_eq!(resumes.remove(7), None);
        assert!(resumes.next_deadline().is_none());
    }
}
