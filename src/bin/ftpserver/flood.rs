//! Chat floods: how many lines a client may send, and what happens to
//! one that sends more.
//!
//! A client that sends chat as fast as its connection allows fills
//! everyone's screen and queues, and nothing in TCP stops it: the server
//! reads fast. So each member has a **token bucket** ([`ChatBudget`]): it
//! holds up to `burst` tokens, gains `rate` tokens a second, and each
//! line (`CHAT`, `PRIVATE`, `WHO`) costs one. A person, even one pasting
//! a few lines, never runs out; a flood does at once. Then:
//!
//! 1. the first line over the budget is dropped, and the client warned
//!    once (`ERROR flood`);
//! 2. later lines over the budget are dropped without a word;
//! 3. a client that goes on until it has had another `burst` lines
//!    dropped is disconnected, with the reason.
//!
//! A client that slows down is forgiven: once its budget is full again,
//! the count of dropped lines starts over.

use std::time::{Duration, Instant};

/// Lines a client may send in a burst, by default.
pub const DEFAULT_CHAT_BURST: u32 = 20;

/// Lines a second a client may send in the long run, by default.
pub const DEFAULT_CHAT_RATE: f64 = 5.0;

/// What to do with one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the budget: handle it.
    Pass,
    /// Over the budget for the first time: drop it, and warn the client.
    Warn,
    /// Over the budget again: drop it.
    Drop,
    /// Over the budget for too long: disconnect the client.
    Disconnect,
}

/// One member's chat budget: a token bucket. See the module
/// documentation.
#[derive(Debug)]
pub struct ChatBudget {
    /// The most tokens the bucket holds; `0` means no limit.
    burst: u32,
    /// Tokens gained per second.
    rate: f64,
    tokens: f64,
    last: Instant,
    /// Lines dropped since the warning, if one was given.
    dropped: Option<u32>,
}

impl ChatBudget {
    /// A full bucket of `burst` tokens that gains `rate` a second; a
    /// `rate` of 0 means no limit at all.
    pub fn new(burst: u32, rate: f64, now: Instant) -> ChatBudget {
        ChatBudget {
            burst,
            rate,
            tokens: f64::from(burst),
            last: now,
            dropped: None,
        }
    }

    /// The verdict on one more line at `now`.
    pub fn spend(&mut self, now: Instant) -> Verdict {
        if self.rate <= 0.0 {
            return Verdict::Pass;
        }
        let gained = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + gained).min(f64::from(self.burst));
        self.last = now;
        if self.tokens >= f64::from(self.burst) {
            self.dropped = None; // full again: forgiven
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Pass;
        }
        match &mut self.dropped {
            None => {
                self.dropped = Some(0);
                Verdict::Warn
            }
            Some(dropped) if *dropped >= self.burst => Verdict::Disconnect,
            Some(dropped) => {
                *dropped += 1;
                Verdict::Drop
            }
        }
    }

    /// How long a line waits for a token at this rate: the text of the
    /// warning.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate.max(f64::MIN_POSITIVE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(budget: &mut ChatBudget, start: Instant, times_ms: &[u64]) -> Vec<Verdict> {
        times_ms
            .iter()
            .map(|&ms| budget.spend(start + Duration::from_millis(ms)))
            .collect()
    }

    #[test]
    fn a_burst_passes_and_a_flood_is_warned_then_cut_off() {
        let start = Instant::now();
        let mut budget = ChatBudget::new(3, 1.0, start);
        let got = verdicts(&mut budget, start, &[0, 0, 0, 0, 0, 0, 0, 0, 0]);
        use Verdict::*;
        assert_eq!(
            got,
            [
                Pass, Pass, Pass, Warn, Drop, Drop, Drop, Disconnect, Disconnect
            ]
        );
    }

    #[test]
    fn the_budget_refills_at_its_rate() {
        let start = Instant::now();
        let mut budget = ChatBudget::new(2, 2.0, start);
        use Verdict::*;
        // Two at once, then one every half second goes on for ever.
        let times: Vec<u64> = [0, 0].into_iter().chain((1..20).map(|i| i * 500)).collect();
        assert!(
            verdicts(&mut budget, start, &times)
                .iter()
                .all(|v| *v == Pass)
        );
    }

    #[test]
    fn slowing_down_is_forgiven() {
        let start = Instant::now();
        let mut budget = ChatBudget::new(2, 1.0, start);
        use Verdict::*;
        assert_eq!(
            verdicts(&mut budget, start, &[0, 0, 0, 0]),
            [Pass, Pass, Warn, Drop]
        );
        // Two seconds later the bucket is full again, and all is forgotten.
        let again = verdicts(&mut budget, start, &[2000, 2000, 2000]);
        assert_eq!(again, [Pass, Pass, Warn]);
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let start = Instant::now();
        let mut budget = ChatBudget::new(0, 0.0, start);
        assert!((0..10_000).all(|_| budget.spend(start) == Verdict::Pass));
    }
}
