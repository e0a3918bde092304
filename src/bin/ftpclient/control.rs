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
//!
//! # Scripts
//!
//! A script's lines are run in order, and what each one causes is printed
//! before the next one runs: after a line that asks the server something
//! (`/msg`, `/who`, a file offer), the client sends `PING` and holds the
//! following lines until the `PONG` comes back. The server answers in
//! order, so by then any error about that line has arrived. Each command
//! that fails (here, or on the server) is counted, and a script with
//! failures exits with 1.
//!
//! # Leaving
//!
//! `/quit`, Ctrl-D, and Ctrl-C with nothing running leave at once: files
//! still on their way are cancelled (and the others told), then `QUIT`
//! goes out. A file already complete and being saved is the exception:
//! its report must reach the sender first ("one truth about delivery",
//! `PROTOCOL.md` section 4). Ctrl-C while files are on their way cancels
//! them and stays. A script whose input ends finishes sending its files
//! first, as the course program did.

use crate::downloads::{Cancelled, Downloads, Offer};
use crate::editor::{Edit, KeyDecoder};
use crate::events::{Ending, Event, Rejoin};
use crate::link::{Link, Progress};
use crate::terminal::Screen;
use crate::uploads::Uploads;
use ftpchat::clock::unix_seconds;
use ftpchat::display::{describe, mentions};
use ftpchat::input::{CHAT_HELP, FILE_HELP, Input, parse_input};
use ftpchat::protocol::{self, ClientMessage, ErrorCode, ServerMessage, nick_key};
use ftpchat::text::{io_words, make_visible};
use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long to wait for the server's goodbye after `QUIT`.
const QUIT_TIMEOUT: Duration = Duration::from_secs(2);

/// How the client ends.
pub enum Exit {
    /// The user left: exit code 0.
    Left,
    /// A script ended, and this many of its commands failed: exit code 1.
    Failed(u32),
    /// The connection failed, for this reason: exit code 1.
    Lost(String),
}

/// Whether the user is leaving, and how far that has got.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaving {
    /// Not leaving.
    No,
    /// A script's input ended: files being sent are finished first.
    AfterUploads,
    /// Leaving now; only files being saved are waited for.
    AfterSaving,
    /// `QUIT` is out; waiting for the server to close, until the deadline.
    QuitSent(Instant),
}

/// Everything the control loop owns.
pub struct Client {
    screen: Screen,
    /// The connection to the server, and reconnecting when it is lost.
    link: Link,
    nick: String,
    uploads: Uploads,
    downloads: Downloads,
    /// Decodes the bytes typed on a terminal into keys.
    keys: KeyDecoder,
    /// The reason the server gave in its `BYE`, if it said goodbye.
    bye: Option<String>,
    leaving: Leaving,
    /// The number the last transfer, either way, was given: the user
    /// names transfers by these (`/accept 3`, `/cancel 2`).
    last_number: u64,
    /// Who is online, as far as we know (for Tab), by `nick_key`.
    roster: BTreeMap<String, String>,
    /// A script's lines held until the server has answered the one before
    /// (see "Scripts" above), the token of the `PING` that says so, and
    /// whether the script's input has ended meanwhile.
    held: VecDeque<String>,
    sync: Option<String>,
    input_ended: bool,
    /// Commands that failed (counted for a script's exit code).
    failures: u32,
    /// A nickname the user typed to join again with, while the old one is
    /// taken, until the server takes it.
    chosen_nick: Option<String>,
    /// The history the server sends on joining (`HISTORY`): whether its
    /// heading has been shown since we joined, and, after reconnecting,
    /// the time the connection was lost (only lines said since are shown:
    /// the others were seen).
    history_heading_shown: bool,
    history_since: Option<u64>,
    lost_at: Option<u64>,
}

impl Client {
    /// A client that has joined as `nick` over `link`.
    pub fn new(
        screen: Screen,
        link: Link,
        nick: String,
        uploads: Uploads,
        downloads: Downloads,
    ) -> Client {
        Client {
            screen,
            link,
            nick,
            uploads,
            downloads,
            keys: KeyDecoder::new(),
            bye: None,
            leaving: Leaving::No,
            last_number: 0,
            roster: BTreeMap::new(),
            held: VecDeque::new(),
            sync: None,
            input_ended: false,
            failures: 0,
            chosen_nick: None,
            history_heading_shown: false,
            history_since: None,
            lost_at: None,
        }
    }

    /// Prints one line on the screen.
    pub fn print(&mut self, line: &str) {
        self.screen.print(line);
    }

    /// Closes the connection, which wakes the socket's thread; returns
    /// that thread, to be joined once nothing it may wait for is left.
    pub fn close(&mut self) -> Option<JoinHandle<()>> {
        self.link.close()
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
        let mut exit = match event {
            Ok(event) => client.handle(event),
            Err(RecvTimeoutError::Timeout) => client.on_timer(Instant::now()),
            // Every sender has gone: the socket's thread among them, which
            // always says why first. Nothing more can happen.
            Err(RecvTimeoutError::Disconnected) => Some(Exit::Left),
        };
        // Whatever else is already waiting is handled before the input
        // line is drawn again: a burst costs one redraw.
        for _ in 0..MAX_EVENTS_PER_REDRAW {
            if exit.is_some() {
                break;
            }
            match events.try_recv() {
                Ok(event) => exit = client.handle(event),
                Err(_) => break,
            }
        }
        if let Some(exit) = exit {
            return client.count_failures(exit);
        }
        client.screen.flush();
    }
}

/// Most events handled between two redraws of the input line (so that a
/// long burst still shows progress).
const MAX_EVENTS_PER_REDRAW: usize = 256;

impl Client {
    /// A script that leaves after failed commands fails.
    fn count_failures(&self, exit: Exit) -> Exit {
        let failures = self.failures + self.uploads.failures();
        match exit {
            Exit::Left if !self.screen.is_interactive() && failures > 0 => Exit::Failed(failures),
            exit => exit,
        }
    }

    /// Acts on one event. Returns how the client ends, if it does.
    fn handle(&mut self, event: Event) -> Option<Exit> {
        let interactive = self.screen.is_interactive();
        let (screen, connection) = (&mut self.screen, self.link.connection());
        match event {
            Event::Keys(bytes) => self.keys_typed(&bytes),
            Event::Line(line) => self.script_line(line),
            Event::Resized(columns) => self.screen.resize(columns),
            Event::InputEnded if interactive => self.leave_now(),
            Event::InputEnded if self.sync.is_some() => self.input_ended = true,
            Event::InputEnded => self.leave_after_uploads(),
            Event::ServerLine(line) => self.server_line(&line),
            Event::Chunk { id, bytes } => self.downloads.data(screen, connection, id, bytes),
            Event::Trace(line) => screen.trace(&line),
            Event::Disconnected(ending) => return self.disconnected(ending),
            Event::Rejoined(result) => return self.rejoined(result),
            Event::UploadProgress { id, sent } => self.uploads.progress(screen, id, sent),
            Event::UploadSent {
                id,
                checksum,
                busy,
                bytes,
            } => self.uploads.sent(screen, id, checksum, busy, bytes),
            Event::UploadStopped { id, why } => self.uploads.stopped(screen, id, why),
            Event::DownloadSaved {
                number,
                path,
                checksum,
            } => {
                self.downloads
                    .saved(screen, connection, number, &path, checksum);
            }
            Event::DownloadFailed { number, why } => {
                self.downloads.failed(screen, connection, number, &why);
            }
        }
        self.quit_when_ready()
    }

    /// The earliest moment something is due without an event.
    fn next_deadline(&self) -> Option<Instant> {
        let quit = match self.leaving {
            Leaving::QuitSent(deadline) => Some(deadline),
            _ => None,
        };
        let link = self.link.next_deadline();
        [quit, self.uploads.next_deadline(), link]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles what is due at `now`.
    fn on_timer(&mut self, now: Instant) -> Option<Exit> {
        let connection = self.link.is_up().then(|| &**self.link.connection());
        self.uploads.on_timer(&mut self.screen, connection, now);
        let nick = self.joining_as().to_string();
        let progress = self.link.on_timer(now, &nick);
        if let Some(exit) = self.link_progress(progress) {
            return Some(exit);
        }
        if let Leaving::QuitSent(deadline) = self.leaving
            && deadline <= now
        {
            // No goodbye in time: leave all the same.
            self.downloads
                .abandon_all(&mut self.screen, "the client quit");
            return Some(Exit::Left);
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
                Edit::Complete => self.complete(),
                Edit::Interrupt => self.interrupt(),
                Edit::EndOfInput => self.leave_now(),
                Edit::Changed | Edit::Unchanged => {}
            }
        }
    }

    /// A line of a script: run now, or held until the server has
    /// answered the line before.
    fn script_line(&mut self, line: String) {
        if self.sync.is_some() {
            return self.held.push_back(line);
        }
        let asks_server = !matches!(
            parse_input(&line),
            Input::Empty
                | Input::Chat(_)
                | Input::Action(_)
                | Input::Help
                | Input::Transfers
                | Input::Quit
        );
        let failures = self.failures;
        self.typed(&line);
        // Wait for the server's answer, unless the line failed here.
        if asks_server && self.failures == failures && self.link.is_up() {
            let token = format!("sync-{}", self.last_number + u64::from(self.failures));
            if self.send(&ClientMessage::Ping { token: &token }).is_ok() {
                self.sync = Some(token);
            }
        }
    }

    /// `PONG`: if it answers our sync, the held lines run.
    fn ponged(&mut self, token: &str) {
        if self.sync.as_deref() != Some(token) {
            return;
        }
        self.sync = None;
        while self.sync.is_none() {
            let Some(line) = self.held.pop_front() else {
                break;
            };
            self.script_line(line);
        }
        if self.sync.is_none() && std::mem::take(&mut self.input_ended) {
            self.leave_after_uploads();
        }
    }

    /// Tab: completes the word before the cursor: a command at the start
    /// of the line, a file after `transfer`, a nickname anywhere else.
    fn complete(&mut self) {
        let before = self.screen.before_cursor();
        if let Some((start, typed)) = path_argument(before) {
            let candidates = quoted_file_names(typed);
            return self.screen.complete_from(start, &candidates, " ");
        }
        let words: Vec<&str> = before.split(' ').collect();
        let own = nick_key(&self.nick);
        let nicks: Vec<String> = (self.roster.iter())
            .filter(|(key, _)| **key != own)
            .map(|(_, nick)| nick.clone())
            .collect();
        let (candidates, suffix) = match words.as_slice() {
            [command] if command.starts_with('/') => (command_names(), " "),
            [_] => (nicks, ": "),
            _ => (nicks, " "),
        };
        self.screen.complete(&candidates, suffix);
    }

    /// Ctrl-C: cancels the files on their way, if any; else leaves.
    fn interrupt(&mut self) {
        if self.leaving != Leaving::No || !self.cancel_running().is_empty() {
            if self.leaving == Leaving::No {
                self.screen.print("* press Ctrl-C again to leave");
            }
            return;
        }
        self.leave_now();
    }

    /// `/quit`, Ctrl-D, or Ctrl-C with nothing running: cancels what is on
    /// its way and leaves (once files being saved are saved).
    fn leave_now(&mut self) {
        if matches!(self.leaving, Leaving::AfterSaving | Leaving::QuitSent(_)) {
            return;
        }
        let cancelled = self.cancel_running();
        if !cancelled.is_empty() {
            self.screen.print("* leaving");
        }
        self.leaving = Leaving::AfterSaving;
        if self.downloads.is_saving() {
            self.screen
                .print("* leaving once the files being saved are saved");
        }
    }

    /// A script's input ended: leaves once its files are sent.
    fn leave_after_uploads(&mut self) {
        if self.leaving == Leaving::No {
            self.leaving = Leaving::AfterUploads;
        }
    }

    /// Sends `QUIT` once leaving has nothing left to wait for; leaves at
    /// once if the connection is lost (there is nobody to say goodbye to).
    fn quit_when_ready(&mut self) -> Option<Exit> {
        let ready = match self.leaving {
            Leaving::AfterUploads => self.uploads.is_empty() && !self.downloads.is_saving(),
            Leaving::AfterSaving => !self.downloads.is_saving(),
            Leaving::No | Leaving::QuitSent(_) => false,
        };
        if ready && !self.link.is_up() {
            return Some(Exit::Left);
        }
        if ready {
            // Files still arriving are given up now, not after: one that
            // was saved after our `QUIT` would be a file the sender is told
            // we never got.
            self.downloads
                .abandon_all(&mut self.screen, "the client quit");
            let _ = self.link.connection().send(&ClientMessage::Quit);
            self.leaving = Leaving::QuitSent(Instant::now() + QUIT_TIMEOUT);
        }
        None
    }

    /// The next number for a transfer.
    fn next_number(&mut self) -> u64 {
        self.last_number += 1;
        self.last_number
    }

    /// One line the user typed: chat, or a command.
    fn typed(&mut self, line: &str) {
        if self.link.wants_nick() && !line.starts_with('/') && !line.trim().is_empty() {
            return self.choose_nick(line.trim());
        }
        let input = parse_input(line);
        let needs_server = !matches!(
            input,
            Input::Empty | Input::Transfers | Input::Help | Input::Quit | Input::Cancel(_)
        );
        if needs_server && !self.link.is_up() {
            let server = self.link.server_name();
            let text = format!("! not connected to {server} (reconnecting); not sent");
            self.failures += 1;
            return self.screen.complain(&text);
        }
        let done = match input {
            Input::Empty => Ok(()),
            Input::Chat(text) => self.say(text).map(|()| self.note_unquoted_path(text)),
            Input::Private { to, text } => self.whisper(to, text),
            Input::Action(text) => self.act(text),
            Input::Nick(nick) => self.rename(nick),
            Input::Who => self.send(&ClientMessage::Who),
            // "transfer complete, thanks": no such file, so it is chat.
            Input::Transfer {
                path, slash: false, ..
            } if !std::path::Path::new(&path).is_file() => {
                let note = format!(
                    "* sent as chat: there is no file {} here (/transfer PATH sends one)",
                    make_visible(&path)
                );
                self.say(line).map(|()| self.screen.print(&note))
            }
            Input::Transfer { path, to, .. } => {
                let number = self.next_number();
                self.uploads
                    .start(self.link.connection(), &path, to.as_deref(), number)
            }
            Input::Accept(which) => self.accept(which),
            Input::Decline(which) => self.decline(which),
            Input::Cancel(which) => self.cancel(which),
            Input::Transfers => {
                self.list_transfers();
                Ok(())
            }
            Input::Help => {
                for line in CHAT_HELP.lines().chain(FILE_HELP.lines()) {
                    self.screen.list(line);
                }
                Ok(())
            }
            Input::Quit => {
                self.leave_now();
                Ok(())
            }
            Input::Usage(usage) => Err(usage.to_string()),
            Input::Unknown(command) => Err(format!(
                "unknown command /{}; type /help for the list",
                make_visible(command)
            )),
        };
        if let Err(problem) = done {
            self.failures += 1;
            self.screen.complain(&format!("! {problem}"));
        }
    }

    /// After chat that starts with the word `transfer` and goes on with
    /// the name of a file with spaces in it (or that name and a
    /// nickname), says how to send the file: quote its name.
    fn note_unquoted_path(&mut self, text: &str) {
        let Some((first, rest)) = text.split_once(' ') else {
            return;
        };
        if !first.eq_ignore_ascii_case("transfer") {
            return;
        }
        let without_last = rest.rsplit_once(' ').map_or("", |(path, _)| path);
        let Some(path) = [rest, without_last]
            .into_iter()
            .find(|path| !path.is_empty() && std::path::Path::new(path).is_file())
        else {
            return;
        };
        let note = format!(
            "* sent as chat: to send {0}, quote its name: transfer \"{0}\"",
            make_visible(path)
        );
        self.screen.print(&note);
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

    /// `/me`: does `text`, for everyone to see.
    fn act(&mut self, text: &str) -> Result<(), String> {
        let text = protocol::check_text(text).map_err(|fault| fault.detail)?;
        let echo = ServerMessage::Action {
            from: &self.nick,
            text,
        };
        self.screen.echo(&describe(&echo).unwrap_or_default());
        self.send(&ClientMessage::Action { text })
    }

    /// `/nick`: asks to be called `nick`. The name changes when the
    /// server says so (`NICK`), for everyone at once.
    fn rename(&mut self, nick: &str) -> Result<(), String> {
        protocol::check_nick(nick).map_err(|error| {
            let shown = make_visible(nick);
            format!("cannot be called '{shown}': {error}")
        })?;
        self.send(&ClientMessage::Nick { nick })
    }

    /// Says `text` to `to` alone.
    fn whisper(&mut self, to: &str, text: &str) -> Result<(), String> {
        let text = protocol::check_text(text).map_err(|fault| fault.detail)?;
        // Shown as sent only to someone we know is here: a message to a
        // mistyped name is answered with the server's error instead.
        if self.roster.contains_key(&nick_key(to)) {
            let echo = format!("-> *{}* {}", make_visible(to), make_visible(text));
            self.screen.echo(&echo);
        }
        self.send(&ClientMessage::Private { to, text })
    }

    fn send(&self, message: &ClientMessage) -> Result<(), String> {
        self.link
            .connection()
            .send(message)
            .map_err(|e| io_words(&e))
    }

    /// `/accept [N]`.
    fn accept(&mut self, which: Option<&str>) -> Result<(), String> {
        let number = which.map(parse_number).transpose()?;
        let (screen, connection) = (&mut self.screen, self.link.connection());
        self.downloads.accept(screen, connection, number)
    }

    /// `/decline [N]`.
    fn decline(&mut self, which: Option<&str>) -> Result<(), String> {
        let number = which.map(parse_number).transpose()?;
        let what = self.downloads.decline(self.link.connection(), number)?;
        self.screen.print(&format!("* declined {what}"));
        Ok(())
    }

    /// `/cancel [N | NAME]`.
    fn cancel(&mut self, which: Option<&str>) -> Result<(), String> {
        let Some(which) = which else {
            if self.cancel_running().is_empty() {
                return Err("no transfer is under way".to_string());
            }
            return Ok(());
        };
        let number = match parse_target(which) {
            Target::Number(number) => number,
            Target::Name(name) => {
                let mut found = self.uploads.named(name);
                found.extend(self.downloads.named(name));
                match found.as_slice() {
                    [(number, _)] => *number,
                    [] => return Err(format!("no transfer is called {}", make_visible(name))),
                    several => {
                        let numbers: Vec<String> =
                            several.iter().map(|(n, _)| format!("#{n}")).collect();
                        return Err(format!(
                            "several transfers are called {}: {}; /cancel one by number",
                            make_visible(name),
                            numbers.join(", ")
                        ));
                    }
                }
            }
        };
        self.cancel_number(number)
    }

    /// Cancels transfer `number`, either way, and says so.
    fn cancel_number(&mut self, number: u64) -> Result<(), String> {
        let (screen, connection) = (&mut self.screen, self.link.connection());
        if let Some(name) = self.uploads.cancel(screen, connection, number) {
            let told = match self.link.is_up() {
                true => "; its recipients are told",
                false => "",
            };
            screen.print(&format!("* cancelled {name} (#{number}){told}"));
            return Ok(());
        }
        match self.downloads.cancel(screen, connection, number) {
            Some(Cancelled::Done(what)) => {
                screen.print(&format!(
                    "* cancelled {what} (#{number}); nothing was saved"
                ));
                Ok(())
            }
            Some(Cancelled::Saving(what)) => Err(format!(
                "{what} (#{number}) has arrived whole and is being saved"
            )),
            None => Err(format!(
                "no transfer is numbered #{number}; /transfers lists them"
            )),
        }
    }

    /// Cancels every file offered or on its way, both ways; returns their
    /// numbers.
    fn cancel_running(&mut self) -> Vec<u64> {
        let mut numbers = self.uploads.running();
        numbers.extend(self.downloads.running());
        numbers.sort_unstable();
        for &number in &numbers {
            let _ = self.cancel_number(number);
        }
        numbers
    }

    /// `/transfers`: every offer and file on its way, in order, and the
    /// parts of files kept to resume.
    fn list_transfers(&mut self) {
        let mut lines = self.uploads.listing();
        lines.extend(self.downloads.listing());
        let kept = self.downloads.kept_parts();
        if lines.is_empty() && kept.is_empty() {
            return self.screen.print("* no transfers");
        }
        lines.sort_by_key(|listing| listing.number);
        if !lines.is_empty() {
            self.screen.print("* transfers (> going out, < coming in):");
        }
        for listing in lines {
            self.screen.print(&format!("  {}", listing.line));
        }
        if !kept.is_empty() {
            self.screen
                .print("* parts kept, to resume when offered again:");
        }
        for line in kept {
            self.screen.print(&format!("  {line}"));
        }
    }

    /// One line from the server.
    fn server_line(&mut self, line: &str) {
        if self.bye.is_some() {
            return; // nothing counts after the server's goodbye
        }
        let message = match ServerMessage::decode(line) {
            Ok(message) => message,
            // A newer server may send messages this client does not know:
            // they are skipped (`PROTOCOL.md`, "Versions").
            Err(fault) if fault.code == ErrorCode::UnknownCommand => return,
            Err(fault) => {
                // A message we know, with fields we cannot read: say so
                // and carry on, since the line itself was well framed.
                let text = format!("! could not understand the server: {fault}");
                return self.screen.complain(&text);
            }
        };
        if let ServerMessage::File { .. } = message {
            self.last_number += 1;
        }
        let number = self.last_number;
        let (screen, connection) = (&mut self.screen, self.link.connection());
        match message {
            ServerMessage::Ping { token } => {
                let _ = connection.send(&ClientMessage::Pong { token });
            }
            ServerMessage::Pong { token } => self.ponged(token),
            ServerMessage::Error { code, .. } => {
                // An answer to something we asked is a failed command; a
                // word about the connection itself is not.
                let about_connection = [ErrorCode::PingTimeout, ErrorCode::HandshakeTimeout];
                if !about_connection.map(ErrorCode::as_str).contains(&code) {
                    self.failures += 1;
                }
                screen.complain(&describe(&message).unwrap_or_default());
            }
            ServerMessage::Bye { reason } => self.bye = Some(reason.to_string()),
            ServerMessage::File {
                id,
                size,
                stamp,
                from,
                name,
            } => {
                let offer = Offer {
                    id,
                    size,
                    stamp,
                    from,
                    name,
                };
                self.downloads.offer(screen, connection, &offer, number);
            }
            ServerMessage::Done { id, checksum } => self.downloads.done(screen, id, checksum),
            ServerMessage::Cancel { id, reason } => self.downloads.cancelled(screen, id, reason),
            ServerMessage::Paused { id, reason } => self.downloads.paused(screen, id, reason),
            ServerMessage::Accepted { id, recipients } => {
                self.uploads.offered(screen, id, recipients);
            }
            ServerMessage::Receiving { id, nick, offset } => {
                self.uploads.receiving(screen, connection, id, nick, offset);
            }
            ServerMessage::More { id, bytes } => self.uploads.more(id, bytes),
            ServerMessage::Refused { id, code, text } => {
                self.uploads.refused(screen, id, code, text);
            }
            ServerMessage::Delivered { id, nick, outcome } => {
                self.uploads.delivered(screen, id, nick, outcome);
            }
            ServerMessage::Joined { nick } => {
                self.roster.insert(nick_key(nick), nick.to_string());
                screen.print(&describe(&message).unwrap_or_default());
                // Someone whose file was cut off may be back for it.
                self.uploads.joined(screen, connection, nick);
            }
            ServerMessage::Chat { text, .. } | ServerMessage::Action { text, .. } => {
                let line = describe(&message).unwrap_or_default();
                match mentions(text, &self.nick) {
                    true => screen.print_mention(&line),
                    false => screen.print(&line),
                }
            }
            ServerMessage::Private { .. } => {
                screen.print_mention(&describe(&message).unwrap_or_default());
            }
            ServerMessage::Nick { old, new } => self.renamed(old, new),
            ServerMessage::History { time, .. } => {
                if self.history_since.is_some_and(|since| time < since) {
                    return; // seen before the connection was lost
                }
                if !self.history_heading_shown {
                    self.history_heading_shown = true;
                    let heading = match self.history_since {
                        None => "* said before you joined:",
                        Some(_) => "* said while you were away:",
                    };
                    screen.print(heading);
                }
                screen.print_said_at(time, &describe(&message).unwrap_or_default());
            }
            message => {
                match message {
                    ServerMessage::Left { nick, .. } => {
                        self.roster.remove(&nick_key(nick));
                    }
                    ServerMessage::Users { nicks, .. } => {
                        let known = nicks.split(' ').filter(|n| !n.is_empty());
                        self.roster
                            .extend(known.map(|n| (nick_key(n), n.to_string())));
                    }
                    _ => {}
                }
                if let Some(text) = describe(&message) {
                    screen.print(&text);
                }
            }
        }
    }

    /// `NICK`: someone, perhaps us, is now called `new`.
    fn renamed(&mut self, old: &str, new: &str) {
        self.roster.remove(&nick_key(old));
        self.roster.insert(nick_key(new), new.to_string());
        if old != self.nick {
            let line = describe(&ServerMessage::Nick { old, new }).unwrap_or_default();
            return self.screen.print(&line);
        }
        self.nick = new.to_string();
        self.screen.set_prompt(&format!("{new}> "));
        let line = format!("* you are now known as {}", make_visible(new));
        self.screen.print(&line);
    }

    /// The connection has ended. After our `QUIT` that is the goodbye we
    /// waited for. After the server's `BYE`, or without reconnecting, the
    /// files cut off are named, and the client ends with the reason.
    /// Otherwise the client reconnects (see `link.rs`), and the files cut
    /// off wait to resume.
    fn disconnected(&mut self, ending: Ending) -> Option<Exit> {
        if matches!(self.leaving, Leaving::QuitSent(_)) {
            self.downloads
                .abandon_all(&mut self.screen, "the client quit");
            return Some(Exit::Left);
        }
        let server = self.link.connection().server();
        let why = match (&self.bye, ending) {
            (Some(reason), _) => format!(
                "disconnected by the server at {server}: {}",
                make_visible(reason)
            ),
            (None, Ending::Closed) => format!("the server at {server} closed the connection"),
            (None, Ending::Silent(secs)) => {
                format!("lost the connection to {server}: no answer from the server for {secs} s")
            }
            (None, Ending::Failed(error)) => {
                format!("lost the connection to {server}: {}", io_words(&error))
            }
        };
        let leaving_now = matches!(self.leaving, Leaving::AfterSaving);
        let reconnect = self.bye.is_none() && !leaving_now && self.link.reconnects();
        if reconnect {
            self.screen.complain(&format!("! {why}"));
        }
        self.downloads.connection_lost(&mut self.screen, &why);
        self.uploads
            .connection_lost(&mut self.screen, &why, reconnect);
        if !reconnect {
            return Some(Exit::Lost(why));
        }
        self.lost_at.get_or_insert(unix_seconds());
        self.link.lost();
        None
    }

    /// An attempt to reconnect has ended.
    fn rejoined(&mut self, result: Rejoin) -> Option<Exit> {
        let interactive = self.screen.is_interactive();
        let nick = self.joining_as().to_string();
        let progress = self.link.rejoined(result, &nick, interactive);
        self.link_progress(progress)
    }

    /// The nickname to join again with: the one the user chose while
    /// reconnecting, or ours.
    fn joining_as(&self) -> &str {
        self.chosen_nick.as_deref().unwrap_or(&self.nick)
    }

    /// The user typed `nick` to join again with.
    fn choose_nick(&mut self, nick: &str) {
        if let Err(error) = protocol::check_nick(nick) {
            let text = format!("! {error}; type another nickname to join with (or /quit)");
            return self.screen.complain(&text);
        }
        // Ours once the server takes it (see `link_progress`).
        self.chosen_nick = Some(nick.to_string());
        self.link.nick_chosen();
    }

    /// Acts on what the link says about reconnecting.
    fn link_progress(&mut self, progress: Progress) -> Option<Exit> {
        match progress {
            Progress::Quiet => None,
            Progress::Say(line) if !line.starts_with('!') => {
                self.screen.print(&line);
                None
            }
            Progress::Say(line) | Progress::AskNick(line) => {
                self.screen.complain(&line);
                None
            }
            Progress::Back(line) => {
                if let Some(nick) = self.chosen_nick.take() {
                    self.screen.set_prompt(&format!("{nick}> "));
                    self.nick = nick;
                }
                self.bye = None;
                self.roster.clear(); // the server sends the list again
                self.history_heading_shown = false;
                self.history_since = self.lost_at.take();
                self.screen.print(&line);
                let (screen, connection) = (&mut self.screen, self.link.connection());
                self.uploads.reconnected(screen, connection);
                self.quit_when_ready()
            }
            Progress::GiveUp(why) => Some(Exit::Lost(why)),
        }
    }
}

/// The commands, for Tab.
fn command_names() -> Vec<String> {
    let names = [
        "/accept",
        "/cancel",
        "/decline",
        "/help",
        "/msg",
        "/quit",
        "/transfer",
        "/transfers",
        "/who",
    ];
    names.map(str::to_string).to_vec()
}

/// If the cursor is in the path of a `transfer` line (`before` is the line
/// up to the cursor), where that path starts (a byte index) and what of it
/// is typed.
fn path_argument(before: &str) -> Option<(usize, &str)> {
    let (command, rest) = before.split_once(' ')?;
    let is_transfer =
        command.eq_ignore_ascii_case("transfer") || command.eq_ignore_ascii_case("/transfer");
    if !is_transfer {
        return None;
    }
    let path = rest.trim_start_matches(' ');
    let start = before.len() - path.len();
    // Still in the path: inside an open quote, or before any space that
    // is not escaped.
    let in_path = match path.strip_prefix('"') {
        Some(quoted) => !quoted.contains('"'),
        None => !path.replace("\\ ", "").contains(' '),
    };
    in_path.then_some((start, path))
}

/// The completions of a path typed so far, written so that `transfer`
/// reads them back as one path: quoted (`"my folder/`) if the typing began
/// with a quote, with each space escaped (`my\ folder/`) otherwise.
fn quoted_file_names(typed: &str) -> Vec<String> {
    let (quoted, partial) = match typed.strip_prefix('"') {
        Some(rest) => (true, rest.to_string()),
        None => (false, typed.replace("\\ ", " ")),
    };
    file_names(&partial)
        .into_iter()
        .map(|name| match (quoted, name.ends_with('/')) {
            (false, _) => name.replace(' ', "\\ "),
            (true, true) => format!("\"{name}"),
            (true, false) => format!("\"{name}\""),
        })
        .collect()
}

/// The files and folders whose path starts with `partial` (a path as typed
/// so far): `notes/re` gives `notes/report.pdf`, `notes/recent/`. Hidden
/// ones only when `partial` names them.
fn file_names(partial: &str) -> Vec<String> {
    let (folder, start) = match partial.rfind('/') {
        Some(slash) => partial.split_at(slash + 1),
        None => ("", partial),
    };
    let Ok(entries) = std::fs::read_dir(if folder.is_empty() { "." } else { folder }) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let wanted =
                name.starts_with(start) && (start.starts_with('.') || !name.starts_with('.'));
            let slash = match entry.path().is_dir() {
                true => "/",
                false => "",
            };
            wanted.then(|| format!("{folder}{name}{slash}"))
        })
        .collect();
    names.sort();
    names
}

/// What `/cancel` names: a transfer's number, or a file name.
enum Target<'a> {
    Number(u64),
    Name(&'a str),
}

/// `3` or `#3` is a number; anything else, a file name.
fn parse_target(text: &str) -> Target<'_> {
    match parse_number(text) {
        Ok(number) => Target::Number(number),
        Err(_) => Target::Name(text),
    }
}

/// A transfer's number, as the user types it: `3` or `#3`.
fn parse_number(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix('#').unwrap_or(text);
    match digits.parse() {
        Ok(number) if digits.bytes().all(|b| b.is_ascii_digit()) => Ok(number),
        _ => Err(format!(
            "'{}' is not a transfer number; /transfers lists them",
            make_visible(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_after_transfer_completes_the_path() {
        assert_eq!(path_argument("transfer my"), Some((9, "my")));
        assert_eq!(path_argument("/TRANSFER  a"), Some((11, "a")));
        assert_eq!(path_argument("transfer \"my fo"), Some((9, "\"my fo")));
        assert_eq!(path_argument("transfer my\\ fo"), Some((9, "my\\ fo")));
        assert_eq!(path_argument("transfer a.txt b"), None, "the nickname");
        assert_eq!(path_argument("transfer \"a b\" c"), None);
        assert_eq!(path_argument("hello there"), None);
        assert_eq!(path_argument("transfer"), None);
    }

    #[test]
    fn completed_paths_with_spaces_stay_one_path() {
        let dir = std::env::temp_dir().join(format!("ftpchat-complete-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("my folder")).unwrap();
        std::fs::write(dir.join("my folder/notes file.txt"), "x").unwrap();
        let base = format!("{}/", dir.display());
        let escaped = base.replace(' ', "\\ ");
        assert_eq!(
            quoted_file_names(&format!("{base}my")),
            [format!("{escaped}my\\ folder/")]
        );
        assert_eq!(
            quoted_file_names(&format!("\"{base}my folder/no")),
            [format!("\"{base}my folder/notes file.txt\"")]
        );
        let line = format!("transfer {escaped}my\\ folder/notes\\ file.txt bob");
        let expected = format!("{base}my folder/notes file.txt");
        assert!(
            matches!(parse_input(&line), Input::Transfer { path, .. } if path == expected),
            "{line}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
