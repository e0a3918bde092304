//! The link to the server: the connection of the moment, and a new one
//! when it is lost.
//!
//! A connection can end without a goodbye: the server crashed or was
//! restarted, the network dropped, or the server went silent and the
//! keep-alive gave up. The client then does not exit: it **reconnects**.
//! It tries again after 1 s, then 2, 4, 8, and every 15 s, for up to
//! `--reconnect-for` (five minutes), and on success joins again under the
//! same nickname, so that the files cut off can resume (see `resume.rs`
//! and `partial.rs`). The growing delays (*backoff*) keep a crowd of
//! clients from hammering a server that is trying to start.
//!
//! Ends that are meant are not retried: after our `QUIT`, after the
//! server's `BYE` (shutting down, or sending us away), or when the server
//! refuses the handshake for good. `--no-reconnect` turns reconnecting off.
//!
//! Each attempt (connect, then `HELLO`) runs on a thread of its own, since
//! it may wait seconds for a server that does not answer; the control
//! loop goes on meanwhile (typing, `/transfers`, `/quit`), and hears how
//! the attempt went as an [`Event::Rejoined`].
//!
//! If the nickname is taken when we come back, the server may simply not
//! have noticed yet that our old connection is dead (it finds out within
//! two keep-alive intervals): the client tries again for that long. After
//! that someone else may have it: on a terminal the user is asked for
//! another (while the client goes on trying the old one), and a script
//! exits with 1.

use crate::connection::{Answer, Connection, HANDSHAKE_TIMEOUT, connect, handshake};
use crate::events::{Event, Rejoin};
use crate::pool::ChunkPool;
use crate::receiver::Receiver;
use ftpchat::keepalive::Keepalive;
use ftpchat::protocol::FrameReader;
use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How much longer than two keep-alive intervals a nickname taken when we
/// come back may still be held by our own old connection (the server
/// drops a silent connection after two intervals of its own).
const GHOST_MARGIN: Duration = Duration::from_secs(2);

/// The delays between attempts to reconnect, in seconds; the last one
/// repeats.
const BACKOFF_SECS: [u64; 5] = [1, 2, 4, 8, 15];

/// What the link needs to know to connect again.
pub struct LinkSettings {
    /// The server's host name or address, as the user gave it.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// Silence after which the server is pinged (see `receiver.rs`).
    pub keepalive: Duration,
    /// Whether to trace every frame (`--trace`).
    pub trace: bool,
    /// How long to keep trying to reconnect; `None`: never try.
    pub reconnect_for: Option<Duration>,
}

/// What the control loop should do after an attempt, or a tick.
pub enum Progress {
    /// Nothing to say.
    Quiet,
    /// Print this line.
    Say(String),
    /// We are back: print this line, and offer the files cut off again.
    Back(String),
    /// The user must choose another nickname: print this line, and take
    /// the next line typed as the nickname.
    AskNick(String),
    /// Give up, for this reason (the client exits with 1).
    GiveUp(String),
}

/// The link: the current connection and the socket's thread reading it,
/// or the state of an outage.
pub struct Link {
    settings: LinkSettings,
    connection: Arc<Connection>,
    /// The socket's thread, until it has been joined.
    receiver: Option<JoinHandle<()>>,
    pool: Arc<ChunkPool>,
    events: Sender<Event>,
    outage: Option<Outage>,
}

/// A connection lost, and the attempts to get one back.
struct Outage {
    since: Instant,
    /// When the time allowed for reconnecting ends.
    deadline: Instant,
    /// Attempts started so far.
    attempts: usize,
    /// When the next attempt starts; `None` while one runs, or while the
    /// user is asked for a nickname.
    next: Option<Instant>,
    /// While an attempt runs: when the one after it is planned (`None`
    /// if this is the last).
    planned: Option<Instant>,
    /// Whether the user is asked for another nickname.
    asking: bool,
}

impl Outage {
    /// An attempt failed for `why`: plans the next one, or gives up if
    /// that was the last.
    fn retry_or_give_up(&mut self, server: &str, why: &str) -> Progress {
        match self.planned.take() {
            Some(planned) => {
                self.next = Some(planned.max(Instant::now()));
                // The `* reconnecting to SERVER (attempt N …)` line names
                // the server, and `why` often names it again.
                Progress::Say(format!("! attempt {} failed: {why}", self.attempts))
            }
            None => Progress::GiveUp(format!(
                "could not reconnect to {server} within {} s ({} attempts; the last: {why})",
                seconds(self.deadline - self.since),
                self.attempts
            )),
        }
    }
}

impl Link {
    /// The link over `stream`, just joined: starts the socket's thread.
    ///
    /// # Errors
    ///
    /// The socket cannot be set up, or the thread started.
    pub fn start(
        settings: LinkSettings,
        stream: TcpStream,
        frames: FrameReader<TcpStream>,
        pool: Arc<ChunkPool>,
        events: Sender<Event>,
    ) -> io::Result<Link> {
        let (connection, receiver) = open(&settings, stream, frames, &pool, &events)?;
        Ok(Link {
            settings,
            connection,
            receiver: Some(receiver),
            pool,
            events,
            outage: None,
        })
    }

    /// The connection of the moment (a dead one during an outage: what is
    /// written to it is lost, and nothing waits).
    pub fn connection(&self) -> &Arc<Connection> {
        &self.connection
    }

    /// Whether the link is up.
    pub fn is_up(&self) -> bool {
        self.outage.is_none()
    }

    /// `HOST:PORT`, as the user named the server.
    pub fn server_name(&self) -> String {
        format!("{}:{}", self.settings.host, self.settings.port)
    }

    /// Whether a lost connection is to be followed by attempts to
    /// reconnect.
    pub fn reconnects(&self) -> bool {
        self.settings.reconnect_for.is_some()
    }

    /// The connection is lost: closes it, waits for the socket's thread
    /// (which has said so and ended), and schedules the first attempt.
    pub fn lost(&mut self) {
        self.close();
        let now = Instant::now();
        let deadline = now + self.settings.reconnect_for.unwrap_or_default();
        self.outage = Some(Outage {
            since: now,
            deadline,
            attempts: 0,
            next: Some((now + delay(0)).min(deadline)),
            planned: None,
            asking: false,
        });
    }

    /// When the next attempt is due, if one is.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.outage.as_ref().and_then(|outage| outage.next)
    }

    /// At `now`: starts the next attempt to join as `nick` if it is due,
    /// or gives up if the time allowed is over.
    pub fn on_timer(&mut self, now: Instant, nick: &str) -> Progress {
        let server = self.server_name();
        let Some(outage) = &mut self.outage else {
            return Progress::Quiet;
        };
        if outage.next.is_none_or(|next| next > now) {
            return Progress::Quiet;
        }
        outage.attempts += 1;
        outage.next = None;
        // The one after is planned now, within the time allowed: the last
        // attempt comes when that time ends.
        let planned = (now + delay(outage.attempts)).min(outage.deadline);
        outage.planned = (now < outage.deadline).then_some(planned);
        let attempt = outage.attempts;
        let then = match outage.planned {
            Some(planned) => format!("next in {} s", seconds(planned - now)),
            None => "the last".to_string(),
        };
        if let Err(error) = self.attempt(nick) {
            return Progress::GiveUp(format!("cannot start a thread to reconnect: {error}"));
        }
        Progress::Say(format!(
            "* reconnecting to {server} (attempt {attempt}, {then})"
        ))
    }

    /// Starts an attempt to join as `nick`, on a thread of its own.
    fn attempt(&self, nick: &str) -> io::Result<()> {
        let (host, port) = (self.settings.host.clone(), self.settings.port);
        let (nick, trace) = (nick.to_string(), self.settings.trace);
        let events = self.events.clone();
        thread::Builder::new()
            .name("reconnect".to_string())
            .spawn(move || {
                let result = rejoin(&host, port, &nick, trace);
                let _ = events.send(Event::Rejoined(result));
            })
            .map(drop)
    }

    /// The user chose another nickname to join with: the next attempt
    /// starts at once (on the control loop's next tick).
    pub fn nick_chosen(&mut self) {
        if let Some(outage) = &mut self.outage {
            outage.next = Some(Instant::now());
            outage.asking = false;
        }
    }

    /// How an attempt to join as `nick` went. `interactive`: a user can be
    /// asked for another nickname.
    pub fn rejoined(&mut self, result: Rejoin, nick: &str, interactive: bool) -> Progress {
        let server = self.server_name();
        let keepalive = self.settings.keepalive;
        let Some(outage) = &mut self.outage else {
            return Progress::Quiet; // an attempt that no longer matters
        };
        let (stream, frames) = match result {
            Rejoin::Joined(stream, frames) => (stream, frames),
            Rejoin::Refused(why) => {
                return Progress::GiveUp(format!(
                    "the server at {server} refused to let us back: {why}"
                ));
            }
            // Our old connection may still hold the nickname on the server
            // until it notices the connection is dead: try again for that
            // long, then it is someone else's.
            Rejoin::NickRefused(why) if outage.since.elapsed() > 2 * keepalive + GHOST_MARGIN => {
                if !interactive {
                    return Progress::GiveUp(format!("could not join {server} again: {why}"));
                }
                // Ask for another, and meanwhile go on trying this one:
                // the server may yet let our old connection go.
                let first_time = !outage.asking;
                outage.asking = true;
                let retried = outage.retry_or_give_up(&server, &why);
                return match (retried, first_time) {
                    (Progress::GiveUp(why), _) => Progress::GiveUp(why),
                    (_, true) => Progress::AskNick(format!(
                        "! {why}; type another nickname to join with (or /quit)"
                    )),
                    (_, false) => Progress::Quiet,
                };
            }
            Rejoin::NickRefused(why) => {
                let why = format!("{why} (perhaps still by our old connection)");
                return outage.retry_or_give_up(&server, &why);
            }
            Rejoin::Failed(error) => return outage.retry_or_give_up(&server, &error.to_string()),
        };
        match open(&self.settings, stream, frames, &self.pool, &self.events) {
            Ok((connection, receiver)) => {
                self.connection = connection;
                self.receiver = Some(receiver);
                self.outage = None;
                Progress::Back(format!("* reconnected to {server} as {nick}"))
            }
            Err(error) => outage.retry_or_give_up(&server, &error.to_string()),
        }
    }

    /// Whether the link waits for the user to choose a nickname.
    pub fn wants_nick(&self) -> bool {
        self.outage.as_ref().is_some_and(|outage| outage.asking)
    }

    /// Closes the connection, which wakes the socket's thread, and hands
    /// that thread over (to be joined once nothing it waits for is left).
    pub fn close(&mut self) -> Option<JoinHandle<()>> {
        self.connection.shut_down();
        let receiver = self.receiver.take();
        if self.outage.is_none() {
            return receiver;
        }
        // During an outage the thread has already ended.
        if let Some(receiver) = receiver {
            let _ = receiver.join();
        }
        None
    }
}

/// A duration in seconds, to a tenth: `2`, `1.5`.
fn seconds(duration: Duration) -> String {
    let tenths = (duration.as_secs_f64() * 10.0).round() / 10.0;
    format!("{tenths}")
}

/// The delay after attempt number `attempt` (0: before the first).
fn delay(attempt: usize) -> Duration {
    let index = attempt.min(BACKOFF_SECS.len() - 1);
    Duration::from_secs(BACKOFF_SECS[index])
}

/// Sets up a connection just joined: its writing half, and the socket's
/// thread reading it.
fn open(
    settings: &LinkSettings,
    stream: TcpStream,
    frames: FrameReader<TcpStream>,
    pool: &Arc<ChunkPool>,
    events: &Sender<Event>,
) -> io::Result<(Arc<Connection>, JoinHandle<()>)> {
    // From now on a read that times out means silence: ping the server.
    stream.set_read_timeout(Some(settings.keepalive))?;
    let trace = settings.trace.then(|| events.clone());
    let connection = Arc::new(Connection::new(stream, trace)?);
    let receiver = Receiver {
        frames,
        connection: Arc::clone(&connection),
        keepalive: Keepalive::new(settings.keepalive),
        pool: Arc::clone(pool),
        events: events.clone(),
        trace_peer: settings.trace.then_some(connection.server()),
    }
    .spawn()?;
    Ok((connection, receiver))
}

/// Connects to `host`:`port` and joins as `nick` (an attempt's thread).
fn rejoin(host: &str, port: u16, nick: &str, trace: bool) -> Rejoin {
    let joined = connect(host, port).and_then(|mut stream| {
        let mut frames = FrameReader::new(stream.try_clone()?);
        stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        let answer = handshake(&mut stream, &mut frames, nick, trace)?;
        Ok((stream, frames, answer))
    });
    match joined {
        Ok((stream, frames, Answer::Welcome)) => Rejoin::Joined(stream, frames),
        Ok((_, _, Answer::NickRefused(why))) => Rejoin::NickRefused(why),
        Ok((_, _, Answer::Refused(why))) => Rejoin::Refused(why),
        Err(error) => Rejoin::Failed(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delays_grow_then_stay() {
        let delays: Vec<u64> = (0..8).map(|n| delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 15, 15, 15, 15]);
    }
}
