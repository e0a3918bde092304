//! The control loop: the one place that decides what the client does
//! next.
//!
//! The main thread owns the client's state (the screen, the files on
//! their way in and out, whether we are leaving) and runs [`run`]: it
//! waits for the next [`Event`] (a key or a line typed, a line or a chunk
//! from the server, a file's progress, the connection lost), acts on it,
//! and waits again. Other threads only read (the keyboard, the socket, the
//! disk) and report; none of them prints or decides. So there is one exit
//! path, here, with its exit code.
//!
//! Some things happen when nothing does: the server not answering an
//! offer, or the goodbye not coming. The loop waits for events with a
//! timeout, until the earliest such deadline.

use crate::connection::Connection;
use crate::downloads::Downloads;
use crate::editor::{Edit, KeyDecoder};
use crate::events::{Ending, Event};
use crate::terminal::Screen;
use crate::uploads::Uploads;
use ftpchat::display::describe;
use ftpchat::input::{CHAT_HELP, FILE_HELP, Input, parse_input};
use ftpchat::protocol::{self, ClientMessage, Delivery, ServerMessage};
use ftpchat::text::make_visible;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long to wait for the server's goodbye after `QUIT`.
const QUIT_TIMEOUT: Duration = Duration::from_secs(2);

/// How the client ends.
pub enum Exit {
    /// The user left: exit code 0.
    Left,
    /// The connection failed, for this reason: exit code 1.
    Lost(String),
}

/// Whether the user is leaving, and how far that has got.
enum Leaving {
    /// Not leaving.
    No,
    /// Asked to leave; files still being sent are finished first.
    AfterUploads,
    /// `QUIT` is out; waiting for the server to close, until the deadline.
    QuitSent(Instant),
}

/// Everything the control loop owns.
pub struct Client {
    screen: Screen,
    connection: Arc<Connection>,
    nick: String,
    uploads: Uploads,
    downloads: Downloads,
    /// Decodes the bytes typed on a terminal into keys.
    keys: KeyDecoder,
    /// The reason the server gave in its `BYE`, if it said goodbye.
    bye: Option<String>,
    leaving: Leaving,
}

impl Client {
    /// A client that has joined as `nick` on `connection`.
    pub fn new(
        screen: Screen,
        connection: Arc<Connection>,
        nick: String,
        uploads: Uploads,
        downloads: Downloads,
    ) -> Client {
        Client {
            screen,
            connection,
            nick,
            uploads,
            downloads,
            keys: KeyDecoder::new(),
            bye: None,
            leaving: Leaving::No,
        }
    }

    /// Prints one line on the screen.
    pub fn print(&mut self, line: &str) {
        self.screen.print(line);
    }
}

/// Handles events until the client is done, and says how it ended.
pub fn run(client: &mut Client, events: &Receiver<Event>) -> Exit {
    loop {
        let event = match client.next_deadline() {
            None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(deadline) => {
                events.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            }
        };
        let exit = match event {
            Ok(event) => client.handle(event),
            Err(RecvTimeoutError::Timeout) => client.on_timer(Instant::now()),
            // Every sender has gone: the socket's thread among them, which
            // always says why first. Nothing more can happen.
            Err(RecvTimeoutError::Disconnected) => Some(Exit::Left),
        };
        if let Some(exit) = exit {
            return exit;
        }
    }
}

impl Client {
    /// Acts on one event. Returns how the client ends, if it does.
    fn handle(&mut self, event: Event) -> Option<Exit> {
        match event {
            Event::Keys(bytes) => self.keys_typed(&bytes),
            Event::Line(line) => self.typed(&line),
            Event::InputEnded => self.leave(),
            Event::ServerLine(line) => self.server_line(&line),
            Event::Chunk { id, bytes } => {
                self.downloads
                    .data(&mut self.screen, &self.connection, id, bytes);
            }
            Event::Trace(line) => self.screen.trace(&line),
            Event::Disconnected(ending) => return Some(self.disconnected(ending)),
            Event::UploadProgress { id, sent } => self.uploads.progress(&mut self.screen, id, sent),
            Event::UploadSent { id, checksum } => self.uploads.sent(&mut self.screen, id, checksum),
            Event::UploadStopped { id, why } => self.uploads.stopped(&mut self.screen, id, why),
            Event::DownloadSaved { id, path, checksum } => {
                let (screen, connection) = (&mut self.screen, &self.connection);
                self.downloads
                    .saved(screen, connection, id, &path, checksum);
            }
            Event::DownloadFailed { id, why } => {
                let (screen, connection) = (&mut self.screen, &self.connection);
                self.downloads.failed(screen, connection, id, &why);
            }
        }
        self.quit_when_ready();
        None
    }

    /// The earliest moment something is due without an event.
    fn next_deadline(&self) -> Option<Instant> {
        let quit = match self.leaving {
            Leaving::QuitSent(deadline) => Some(deadline),
            _ => None,
        };
        [quit, self.uploads.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles what is due at `now`.
    fn on_timer(&mut self, now: Instant) -> Option<Exit> {
        self.uploads.on_timer(&mut self.screen, now);
        if let Leaving::QuitSent(deadline) = self.leaving {
            if deadline <= now {
                // No goodbye in time: leave all the same.
                self.downloads
                    .abandon_all(&mut self.screen, "the client quit");
                return Some(Exit::Left);
            }
        }
        self.quit_when_ready();
        None
    }

    /// Bytes typed on a terminal: each key edits the input line.
    fn keys_typed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let Some(key) = self.keys.feed(byte) else {
                continue;
            };
            match self.screen.edit(key) {
                Edit::Submit(line) => self.typed(&line),
                Edit::Leave => self.leave(),
                Edit::Changed | Edit::Unchanged => {}
            }
        }
    }

    /// The user asked to leave (`/quit`, Ctrl-C, Ctrl-D, end of input).
    fn leave(&mut self) {
        if matches!(self.leaving, Leaving::No) {
            self.leaving = Leaving::AfterUploads;
        }
    }

    /// Sends `QUIT` once the user wants to leave and no file is still
    /// being sent: files being sent are part of what the user asked for.
    fn quit_when_ready(&mut self) {
        if matches!(self.leaving, Leaving::AfterUploads) && self.uploads.is_empty() {
            let _ = self.connection.send(&ClientMessage::Quit);
            self.leaving = Leaving::QuitSent(Instant::now() + QUIT_TIMEOUT);
        }
    }

    /// One line the user typed: chat, or a command.
    fn typed(&mut self, line: &str) {
        let done = match parse_input(line) {
            Input::Empty => Ok(()),
            Input::Chat(text) => self.say(text),
            Input::Private { to, text } => self.whisper(to, text),
            Input::Who => self.send(&ClientMessage::Who),
            Input::Transfer { path, to } => {
                self.uploads.start(&self.connection, &path, to.as_deref())
            }
            Input::Help => {
                for line in CHAT_HELP.lines().chain(FILE_HELP.lines()) {
                    self.screen.print(line);
                }
                Ok(())
            }
            Input::Quit => {
                self.leave();
                Ok(())
            }
            Input::Usage(usage) => Err(usage.to_string()),
            Input::Unknown(command) => Err(format!(
                "unknown command /{}; type /help for the list",
                make_visible(command)
            )),
        };
        if let Err(problem) = done {
            self.screen.complain(&format!("! {problem}"));
        }
    }

    /// Says `text` to everyone.
    fn say(&mut self, text: &str) -> Result<(), String> {
        let text = protocol::check_text(text).map_err(|fault| fault.detail)?;
        let echo = ServerMessage::Chat {
            from: &self.nick,
            text,
        };
        self.screen.echo(&describe(&echo).unwrap_or_default());
        self.send(&ClientMessage::Chat { text })
    }

    /// Says `text` to `to` alone.
    fn whisper(&mut self, to: &str, text: &str) -> Result<(), String> {
        let text = protocol::check_text(text).map_err(|fault| fault.detail)?;
        let echo = format!("-> *{}* {}", make_visible(to), make_visible(text));
        self.screen.echo(&echo);
        self.send(&ClientMessage::Private { to, text })
    }

    fn send(&self, message: &ClientMessage) -> Result<(), String> {
        self.connection.send(message).map_err(|e| e.to_string())
    }

    /// One line from the server.
    fn server_line(&mut self, line: &str) {
        if self.bye.is_some() {
            return; // nothing counts after the server's goodbye
        }
        let message = match ServerMessage::decode(line) {
            Ok(message) => message,
            Err(fault) => {
                // A newer server may send something we do not know: say
                // so and carry on, since the line itself was well framed.
                let text = format!("! could not understand the server: {fault}");
                return self.screen.complain(&text);
            }
        };
        let (screen, connection) = (&mut self.screen, &self.connection);
        match message {
            ServerMessage::Ping { token } => {
                let _ = connection.send(&ClientMessage::Pong { token });
            }
            ServerMessage::Bye { reason } => self.bye = Some(reason.to_string()),
            ServerMessage::File {
                id,
                size,
                from,
                name,
            } => self
                .downloads
                .begin(screen, connection, id, size, from, name),
            ServerMessage::Done { id, checksum } => self.downloads.done(screen, id, checksum),
            ServerMessage::Cancel { id, reason } => self.downloads.cancel(screen, id, reason),
            ServerMessage::Accepted { id, recipients } => {
                self.uploads.accepted(screen, connection, id, recipients);
            }
            ServerMessage::Refused { id, text, .. } => self.uploads.refused(screen, id, text),
            ServerMessage::Delivered { id, nick, outcome } => {
                let outcome = match outcome {
                    Delivery::Ok => Ok(()),
                    Delivery::Failed(reason) => Err(reason.to_string()),
                };
                self.uploads
                    .delivered(screen, id, nick.to_string(), outcome);
            }
            message => {
                if let Some(text) = describe(&message) {
                    screen.print(&text);
                }
            }
        }
    }

    /// The connection has ended. After our `QUIT` that is the goodbye we
    /// waited for; otherwise the files cut off are named, and the client
    /// ends with the reason.
    fn disconnected(&mut self, ending: Ending) -> Exit {
        if matches!(self.leaving, Leaving::QuitSent(_)) {
            self.downloads
                .abandon_all(&mut self.screen, "the client quit");
            return Exit::Left;
        }
        let server = self.connection.server();
        let why = match (&self.bye, ending) {
            (Some(reason), _) => format!(
                "disconnected by the server at {server}: {}",
                make_visible(reason)
            ),
            (None, Ending::Closed) => format!("the server at {server} closed the connection"),
            (None, Ending::Silent(secs)) => {
                format!("lost the connection to {server}: no answer from the server for {secs} s")
            }
            (None, Ending::Failed(error)) => format!("lost the connection to {server}: {error}"),
        };
        self.downloads.abandon_all(&mut self.screen, &why);
        self.uploads.interrupted(&mut self.screen, &why);
        Exit::Lost(why)
    }
}
