//! History for late joiners: the last public lines, kept to greet
//! whoever joins next.
//!
//! Someone who joins a conversation half way through sees nothing of what
//! was said before, unless the server keeps some of it. [`History`] keeps
//! the last few public chat lines and actions (`/me`), each with the time
//! the server relayed it, in a ring of fixed size: when it is full, the
//! oldest line makes room for the newest, so its memory is bounded however
//! long the server runs. Private messages are never kept.
//!
//! The registry (`registry.rs`) records each batch of chat under the same
//! lock with which it picks the batch's recipients, and greets a newcomer
//! under that lock too. So every line is either in the history a newcomer
//! is sent or among the live lines sent after it: never both, never
//! neither.

use crate::plain::{ClientKind, push_plain};
use ftpchat::clock::LocalZone;
use ftpchat::protocol::{Said, ServerMessage};
use std::collections::VecDeque;

/// How many lines the server keeps for late joiners, unless told
/// otherwise (`--history`): about a screenful.
pub const DEFAULT_HISTORY_LINES: usize = 20;

/// The notice that comes before the history a newcomer is sent.
pub const HISTORY_HEADER: &str = "said before you joined:";

/// One public line, as it was said.
struct Entry {
    /// When the server relayed it, in seconds since 1970 (UTC).
    time: u64,
    kind: Said,
    from: String,
    text: String,
}

/// The last public lines, at most `capacity` of them.
pub struct History {
    entries: VecDeque<Entry>,
    capacity: usize,
}

impl History {
    /// An empty history that keeps up to `capacity` lines (0: none).
    pub fn new(capacity: usize) -> History {
        History {
            entries: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
        }
    }

    /// Keeps the public lines of `batch` (encoded server messages: `CHAT`
    /// and `ACTION` lines are kept, anything else is not), said at `time`.
    pub fn record(&mut self, batch: &[u8], time: u64) {
        if self.capacity == 0 {
            return;
        }
        for line in batch.split(|&b| b == b'\n') {
            let Some(Ok(message)) = std::str::from_utf8(line).ok().map(ServerMessage::decode)
            else {
                continue;
            };
            let (kind, from, text) = match message {
                ServerMessage::Chat { from, text } => (Said::Chat, from, text),
                ServerMessage::Action { from, text } => (Said::Action, from, text),
                _ => continue,
            };
            if self.entries.len() == self.capacity {
                self.entries.pop_front();
            }
            self.entries.push_back(Entry {
                time,
                kind,
                from: from.to_string(),
                text: text.to_string(),
            });
        }
    }

    /// Appends the history for a newcomer of the given kind to `out`: a
    /// `HISTORY` line each for a full client; for a plain client, a notice
    /// and then each line as text, after its time in `zone` (the time of
    /// day, and the date too if it was not said `today`).
    pub fn encode_for(&self, kind: ClientKind, zone: LocalZone, now: u64, out: &mut Vec<u8>) {
        if self.entries.is_empty() {
            return;
        }
        if kind == ClientKind::Plain {
            push_plain(
                &ServerMessage::Notice {
                    text: HISTORY_HEADER,
                },
                out,
            );
        }
        for entry in &self.entries {
            let message = ServerMessage::History {
                time: entry.time,
                kind: entry.kind,
                from: &entry.from,
                text: &entry.text,
            };
            match kind {
                ClientKind::Full => message.encode(out),
                ClientKind::Plain => {
                    out.extend_from_slice(zone.when(entry.time, now).as_bytes());
                    out.push(b' ');
                    push_plain(&message, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOON: u64 = 1_795_262_400; // 2026-11-21 12:00 UTC

    #[test]
    fn only_public_lines_are_kept_and_only_the_last_ones() {
        let mut history = History::new(2);
        history.record(b"CHAT alice one\nPRIVATE bob secret\nJOINED carol\n", NOON);
        history.record(b"ACTION bob waves\nCHAT alice three\n", NOON + 60);
        let mut full = Vec::new();
        history.encode_for(ClientKind::Full, LocalZone::UTC, NOON + 60, &mut full);
        assert_eq!(
            String::from_utf8(full).unwrap(),
            "HISTORY 1795262460 ACTION bob waves\nHISTORY 1795262460 CHAT alice three\n"
        );
    }

    #[test]
    fn plain_clients_read_the_times_in_the_servers_zone() {
        let mut history = History::new(20);
        history.record(b"CHAT alice hi\n", NOON);
        history.record(b"ACTION bob waves\n", NOON + 86_400);
        let zone = LocalZone::parse("+0130").unwrap();
        let mut plain = Vec::new();
        history.encode_for(ClientKind::Plain, zone, NOON + 86_400, &mut plain);
        assert_eq!(
            String::from_utf8(plain).unwrap(),
            "* said before you joined:\r\n\
             2026-11-21 13:30 <alice> hi\r\n\
             13:30 * bob waves\r\n"
        );
    }

    #[test]
    fn a_history_of_no_lines_keeps_none_and_says_nothing() {
        let mut history = History::new(0);
        history.record(b"CHAT alice hi\n", NOON);
        let mut out = Vec::new();
        history.encode_for(ClientKind::Plain, LocalZone::UTC, NOON, &mut out);
        assert!(out.is_empty());
    }
}
