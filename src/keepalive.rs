//! Noticing a peer that vanished without saying goodbye.
//!
//! When a program closes a TCP connection, its side sends a FIN and the
//! other side's `read` returns 0 (end of file). But when a machine loses
//! power, or a cable is pulled, nothing is sent: the connection is
//! *half-open*. The side still alive sees only silence, and a blocking
//! `read` would wait for ever.
//!
//! TCP has a keep-alive option for this, but the standard library cannot
//! switch it on. So both ends do it themselves, the way IRC does: each
//! reads with a timeout; after one interval of silence it sends `PING`, and
//! if the peer stays silent for another interval it gives up. A peer that
//! is alive answers `PONG` (or sends anything at all), which resets the
//! clock. A dead peer is therefore noticed within two intervals.

use std::io;
use std::time::Duration;

/// The interval both programs use unless told otherwise (`--keepalive`).
/// Short enough to notice a dead peer within a minute, long enough that an
/// idle connection costs almost nothing.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(30);

/// What a connection's reading side should do about silence.
#[derive(Debug, PartialEq, Eq)]
pub enum Silence {
    /// Ask the peer whether it is alive: send `PING` with this token.
    Ping(String),
    /// The peer did not answer: it is gone.
    Dead,
}

/// The keep-alive state of one connection.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ftpchat::keepalive::{Keepalive, Silence};
///
/// let mut keepalive = Keepalive::new(Duration::from_secs(30));
/// assert_eq!(keepalive.silence(), Silence::Ping("1".to_string()));
/// keepalive.heard(); // the PONG came back
/// assert_eq!(keepalive.silence(), Silence::Ping("2".to_string()));
/// assert_eq!(keepalive.silence(), Silence::Dead); // no answer this time
/// ```
#[derive(Debug)]
pub struct Keepalive {
    interval: Duration,
    /// A `PING` is out and nothing has been heard since.
    waiting: bool,
    pings_sent: u64,
}

impl Keepalive {
    /// A keep-alive that pings after `interval` of silence.
    pub fn new(interval: Duration) -> Keepalive {
        Keepalive {
            interval,
            waiting: false,
            pings_sent: 0,
        }
    }

    /// The interval: use it as the socket's read timeout.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Something arrived from the peer: it is alive.
    pub fn heard(&mut self) {
        self.waiting = false;
    }

    /// A read timed out after one interval of silence: what to do.
    pub fn silence(&mut self) -> Silence {
        if self.waiting {
            return Silence::Dead;
        }
        self.waiting = true;
        self.pings_sent += 1;
        Silence::Ping(self.pings_sent.to_string())
    }
}

/// Whether `error` is a read or write timing out (a socket with a timeout
/// reports it as `WouldBlock` on Unix and `TimedOut` on Windows).
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Parses a number of seconds given on the command line, such as `30` or
/// `0.5`, into a duration of at least one millisecond and at most
/// [`MAX_SECONDS`] (a year: anything longer is surely a mistake, and would
/// overflow the clock's arithmetic).
///
/// # Errors
///
/// The text is not a positive number of seconds, or is too large.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let duration = text
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .filter(|duration| *duration >= Duration::from_millis(1))
        .ok_or_else(|| format!("'{text}' is not a positive number of seconds"))?;
    if duration > Duration::from_secs(MAX_SECONDS) {
        return Err(format!("'{text}' is more than a year ({MAX_SECONDS} s)"));
    }
    Ok(duration)
}

/// The longest time any option takes, in seconds: a year.
pub const MAX_SECONDS: u64 = 365 * 24 * 60 * 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_positive_and_at_most_a_year() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(
            parse_seconds("31536000"),
            Ok(Duration::from_secs(MAX_SECONDS))
        );
        for bad in ["0", "-1", "abc", "1e19", "31536001", "inf", "NaN"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn silence_after_a_ping_means_the_peer_is_gone() {
        let mut keepalive = Keepalive::new(Duration::from_millis(10));
        assert_eq!(keepalive.silence(), Silence::Ping("1".into()));
        assert_eq!(keepalive.silence(), Silence::Dead);
    }

    #[test]
    fn hearing_anything_resets_the_clock() {
        let mut keepalive = Keepalive::new(Duration::from_millis(10));
        for token in 1..=3 {
            assert_eq!(keepalive.silence(), Silence::Ping(token.to_string()));
            keepalive.heard();
        }
    }

    #[test]
    fn seconds_parse() {
        assert_eq!(parse_seconds("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["0", "-1", "soon", "", "NaN", "1e400"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
