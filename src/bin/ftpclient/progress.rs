//! The live progress of a transfer: percent, rate and time left, shown in
//! front of the prompt on a terminal (see `terminal.rs`).
//!
//! A [`Progress`] turns "this many bytes so far" into a [`Status`]: the
//! same news in a long, a medium and a short form, so that the screen can
//! show the longest that fits its width (from `big.iso > 42% of 1.0 GiB,
//! 300.0 MiB/s, 2 s left` down to `>big.is… 42% 2s` in a narrow pane).
//! `>` marks a file going out, `<` one coming in. It redraws at most
//! every [`PROGRESS_INTERVAL`]: a 1 GiB file arrives as 4,096 chunks, and
//! a terminal redrawn 4,096 times would cost more than the transfer.

use std::time::{Duration, Instant};

use crate::width::{fit, text_width};
use ftpchat::text::format_size;

/// How often a live progress line is redrawn.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// Which way a file moves: `>` for one we send, `<` for one we receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A file we send.
    Sending,
    /// A file we receive.
    Receiving,
}

impl Direction {
    fn mark(self) -> char {
        match self {
            Direction::Sending => '>',
            Direction::Receiving => '<',
        }
    }
}

/// What a transfer is doing, in forms from the longest to the shortest;
/// the screen shows the longest that fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The forms, longest first.
    pub forms: Vec<String>,
}

impl Status {
    /// The longest form at most `columns` wide, if any fits.
    pub fn fitting(&self, columns: usize) -> Option<&str> {
        let fits = |form: &&String| text_width(form) <= columns;
        self.forms.iter().find(fits).map(String::as_str)
    }

    /// The shortest form.
    pub fn shortest(&self) -> &str {
        self.forms.last().map_or("", String::as_str)
    }
}

/// The live progress of one transfer.
pub struct Progress {
    /// The key of this transfer's status on the screen.
    key: String,
    name: String,
    direction: Direction,
    total: u64,
    /// When the data began to move, and from which byte: the rate counts
    /// only the bytes moved since (not those a resumed file already had).
    started: Instant,
    base: u64,
    last_shown: Option<Instant>,
}

impl Progress {
    /// Progress of `total` bytes of the file `name`, shown under `key`.
    pub fn new(key: String, name: &str, direction: Direction, total: u64) -> Progress {
        Progress {
            key,
            name: name.to_string(),
            direction,
            total,
            started: Instant::now(),
            base: 0,
            last_shown: None,
        }
    }

    /// The data begins to move now, from byte `from`: the rate is counted
    /// from here (an offer may wait a while for its answer, and a resumed
    /// file starts part way).
    pub fn restart(&mut self, from: u64) {
        self.started = Instant::now();
        self.base = from;
    }

    /// The key of this transfer's status on the screen.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The status for `done` of the total bytes, or `None` if it was
    /// redrawn less than [`PROGRESS_INTERVAL`] ago.
    pub fn update(&mut self, done: u64) -> Option<Status> {
        if self
            .last_shown
            .is_some_and(|t| t.elapsed() < PROGRESS_INTERVAL)
        {
            return None;
        }
        self.last_shown = Some(Instant::now());
        Some(self.status(done, self.started.elapsed()))
    }

    /// A status that says, in words, what happens after the data
    /// (`checking and saving`), and in one word where room is short
    /// (`saving`).
    pub fn after_data(&self, doing: &str, briefly: &str) -> Status {
        let mark = self.direction.mark();
        Status {
            forms: vec![
                format!("{} {mark} {doing}", self.name),
                format!("{mark}{} {doing}", shorten(&self.name, 8)),
                format!("{mark}{} {briefly}", shorten(&self.name, 8)),
                format!("{mark}{briefly}"),
            ],
        }
    }

    /// The status after `elapsed`, for `done` of the total bytes.
    fn status(&self, done: u64, elapsed: Duration) -> Status {
        let secs = elapsed.as_secs_f64().max(0.001);
        let rate = done.saturating_sub(self.base) as f64 / secs;
        let percent = (done.saturating_mul(100))
            .checked_div(self.total)
            .unwrap_or(100);
        let left = if rate > 0.0 {
            ((self.total - done.min(self.total)) as f64 / rate).ceil()
        } else {
            0.0
        };
        let (name, mark) = (&self.name, self.direction.mark());
        let (size, rate) = (format_size(self.total), format_size(rate as u64));
        Status {
            forms: vec![
                format!("{name} {mark} {percent}% of {size}, {rate}/s, {left:.0} s left"),
                format!("{} {mark} {percent}%, {left:.0} s left", shorten(name, 16)),
                format!("{mark}{} {percent}% {left:.0}s", shorten(name, 8)),
                format!("{mark}{percent}% {left:.0}s"),
            ],
        }
    }
}

/// `name` cut to at most `columns` columns, with `…` where it was cut.
fn shorten(name: &str, columns: usize) -> String {
    if text_width(name) <= columns {
        return name.to_string();
    }
    format!("{}…", fit(name, columns - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_shows_direction_percent_rate_and_time_left() {
        let progress = Progress::new("k".into(), "a.bin", Direction::Sending, 1000 << 20);
        let status = progress.status(250 << 20, Duration::from_secs(1));
        assert_eq!(
            status.forms,
            [
                "a.bin > 25% of 1000.0 MiB, 250.0 MiB/s, 3 s left",
                "a.bin > 25%, 3 s left",
                ">a.bin 25% 3s",
                ">25% 3s"
            ]
        );
        let empty = Progress::new("k".into(), "a.bin", Direction::Receiving, 0);
        let status = empty.status(0, Duration::from_secs(1));
        assert_eq!(
            status.forms[0],
            "a.bin < 100% of 0 bytes, 0 bytes/s, 0 s left"
        );
    }

    #[test]
    fn the_longest_form_that_fits_is_chosen() {
        let progress = Progress::new("k".into(), "holidays-2026.tar", Direction::Receiving, 100);
        let status = progress.status(42, Duration::from_secs(1));
        assert_eq!(status.fitting(80), Some(status.forms[0].as_str()));
        assert_eq!(status.fitting(32), Some("holidays-2026.t… < 42%, 2 s left"));
        assert_eq!(status.fitting(31), Some("<holiday… 42% 2s"));
        assert_eq!(status.fitting(20), Some("<holiday… 42% 2s"));
        assert_eq!(status.fitting(8), Some("<42% 2s"));
        assert_eq!(status.fitting(3), None);
        assert_eq!(status.shortest(), "<42% 2s");
    }

    #[test]
    fn a_resumed_file_counts_its_rate_from_where_it_resumed() {
        let mut progress = Progress::new("k".into(), "a.bin", Direction::Receiving, 1000 << 20);
        progress.restart(600 << 20);
        let status = progress.status(700 << 20, Duration::from_secs(1));
        assert_eq!(
            status.forms[0],
            "a.bin < 70% of 1000.0 MiB, 100.0 MiB/s, 3 s left"
        );
    }

    #[test]
    fn wide_names_are_cut_by_columns() {
        assert_eq!(shorten("exactly-16-chars", 16), "exactly-16-chars");
        assert_eq!(
            shorten("a-much-longer-file-name.txt", 16),
            "a-much-longer-f…"
        );
        assert_eq!(shorten("日本語のファイル.txt", 8), "日本語…");
    }

    #[test]
    fn redraws_are_spaced_out() {
        let mut progress = Progress::new("k".into(), "f", Direction::Sending, 100);
        assert!(progress.update(1).is_some());
        assert!(progress.update(2).is_none(), "too soon after the first");
    }
}
