//! The live progress of a transfer: percent, rate and time left, shown in
//! front of the prompt on a terminal (see `terminal.rs`).
//!
//! A [`Progress`] turns "this many bytes so far" into one short line of
//! text. It redraws at most every [`PROGRESS_INTERVAL`]: a 1 GiB file
//! arrives as 4,096 chunks, and a terminal redrawn 4,096 times would cost
//! more than the transfer.

use std::time::{Duration, Instant};

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

/// The live progress of one transfer.
pub struct Progress {
    /// The key of this transfer's status on the screen.
    key: String,
    /// `NAME >` or `NAME <`.
    label: String,
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
        let mark = match direction {
            Direction::Sending => '>',
            Direction::Receiving => '<',
        };
        Progress {
            key,
            label: format!("{} {mark}", short_name(name)),
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

    /// The status text for `done` of the total bytes, or `None` if it was
    /// redrawn less than [`PROGRESS_INTERVAL`] ago.
    pub fn update(&mut self, done: u64) -> Option<String> {
        if self
            .last_shown
            .is_some_and(|t| t.elapsed() < PROGRESS_INTERVAL)
        {
            return None;
        }
        self.last_shown = Some(Instant::now());
        Some(self.text(done, self.started.elapsed()))
    }

    /// `NAME > 42% of 1.0 GiB, 300.0 MiB/s, 2 s left` after `elapsed`.
    fn text(&self, done: u64, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64().max(0.001);
        let rate = done.saturating_sub(self.base) as f64 / secs;
        let percent = (done * 100).checked_div(self.total).unwrap_or(100);
        let left = if rate > 0.0 {
            (self.total - done.min(self.total)) as f64 / rate
        } else {
            0.0
        };
        format!(
            "{} {percent}% of {}, {}/s, {:.0} s left",
            self.label,
            format_size(self.total),
            format_size(rate as u64),
            left.ceil()
        )
    }
}

/// A file name cut to at most 16 characters, for a progress line.
fn short_name(name: &str) -> String {
    if name.chars().count() <= 16 {
        return name.to_string();
    }
    let head: String = name.chars().take(15).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_direction_percent_rate_and_time_left() {
        let progress = Progress::new("k".into(), "a.bin", Direction::Sending, 1000 << 20);
        assert_eq!(
            progress.text(250 << 20, Duration::from_secs(1)),
            "a.bin > 25% of 1000.0 MiB, 250.0 MiB/s, 3 s left"
        );
        let progress = Progress::new("k".into(), "a.bin", Direction::Receiving, 0);
        assert_eq!(
            progress.text(0, Duration::from_secs(1)),
            "a.bin < 100% of 0 bytes, 0 bytes/s, 0 s left"
        );
    }

    #[test]
    fn a_resumed_file_counts_its_rate_from_where_it_resumed() {
        let mut progress = Progress::new("k".into(), "a.bin", Direction::Receiving, 1000 << 20);
        progress.restart(600 << 20);
        assert_eq!(
            progress.text(700 << 20, Duration::from_secs(1)),
            "a.bin < 70% of 1000.0 MiB, 100.0 MiB/s, 3 s left"
        );
    }

    #[test]
    fn long_names_are_shortened() {
        assert_eq!(short_name("exactly-16-chars"), "exactly-16-chars");
        assert_eq!(
            short_name("a-much-longer-file-name.txt"),
            "a-much-longer-f…"
        );
    }

    #[test]
    fn redraws_are_spaced_out() {
        let mut progress = Progress::new("k".into(), "f", Direction::Sending, 100);
        assert!(progress.update(1).is_some());
        assert!(progress.update(2).is_none(), "too soon after the first");
    }
}
