//! The client's screen: printing events while the user types.
//!
//! Events arrive while the user is half way through typing a line. If they
//! were simply printed, an incoming message would land in the middle of
//! that line. So, on a terminal, the client draws the input line itself
//! and, for every event, erases the input line, prints the event, and
//! draws the input line again below it. Only the control loop (the main
//! thread) draws, so these steps never interleave.
//!
//! By default a terminal hands a program whole lines only after Enter,
//! and echoes keys itself. We switch that off ("raw" input: every key at
//! once, no echo, Ctrl-C a key) with `ftpchat::tty`, which also puts the
//! settings back on every way out: normal exit, error, or panic.
//!
//! The input row also shows the progress of file transfers, in front of
//! the prompt, so that progress is one live line that never scrolls.
//!
//! When standard input is not a terminal (a script, a pipe, a test), none
//! of this happens: every event is printed as one plain line to standard
//! output, and there is no input line and no live progress.

use crate::editor::{Edit, Editor, Key};
use ftpchat::tty;
use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};

/// The terminal: the events printed, the input line, the status.
pub struct Screen {
    /// `true` on a terminal in raw mode; `false` for plain line output.
    interactive: bool,
    prompt: String,
    /// The line being typed.
    editor: Editor,
    /// Live status texts (file progress) shown before the prompt, by key.
    status: BTreeMap<String, String>,
    /// Width of the terminal, in columns, to keep the input on one row.
    columns: usize,
}

impl Screen {
    /// A screen for plain line output (not a terminal).
    pub fn plain() -> Screen {
        Screen {
            interactive: false,
            prompt: String::new(),
            editor: Editor::new(),
            status: BTreeMap::new(),
            columns: 80,
        }
    }

    /// Puts the terminal in raw mode and returns a screen that draws the
    /// input line itself.
    ///
    /// # Errors
    ///
    /// Running `stty` failed (it is missing, or standard input is not a
    /// terminal).
    pub fn raw(prompt: &str) -> io::Result<Screen> {
        // -icanon: keys arrive one at a time; -echo: we draw them;
        // -isig: Ctrl-C is a key we handle (so the terminal is restored);
        // -ixon: Ctrl-S does not freeze output; min 1: reads wait for a key.
        tty::enter(&[
            "-icanon", "-echo", "-isig", "-ixon", "-iexten", "min", "1", "time", "0",
        ])?;
        let columns = tty::columns().filter(|&columns| columns > 10).unwrap_or(80);
        let screen = Screen {
            interactive: true,
            prompt: prompt.to_string(),
            editor: Editor::new(),
            status: BTreeMap::new(),
            columns,
        };
        screen.redraw();
        Ok(screen)
    }

    /// Whether this screen is a terminal that shows live progress.
    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// Applies a key to the input line, draws it, and says what it did.
    pub fn edit(&mut self, key: Key) -> Edit {
        let edit = self.editor.apply(key);
        if edit != Edit::Unchanged {
            self.redraw();
        }
        edit
    }

    /// Prints one event line to standard output, keeping the input line
    /// intact below it.
    pub fn print(&mut self, line: &str) {
        if !self.interactive {
            println!("{line}");
            return;
        }
        let mut out = io::stdout().lock();
        // \r goes to the start of the row, ESC [ K erases it.
        let _ = write!(out, "\r\x1b[K{line}\r\n");
        drop(out);
        self.redraw();
    }

    /// Shows the user's own message as part of the conversation. Only on a
    /// terminal: a script's output holds only what it received.
    pub fn echo(&mut self, line: &str) {
        if self.interactive {
            self.print(line);
        }
    }

    /// Prints a message about the user's own action (a mistake, a local
    /// error): on standard error when scripted, on the screen otherwise.
    pub fn complain(&mut self, line: &str) {
        if self.interactive {
            self.print(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Prints a `--trace` line on standard error. If standard error is the
    /// terminal that shows the input line, the input line is erased first
    /// and drawn again below the trace, as for events.
    pub fn trace(&mut self, line: &str) {
        if !(self.interactive && io::stderr().is_terminal()) {
            eprintln!("{line}");
            return;
        }
        let mut out = io::stdout().lock();
        let _ = write!(out, "\r\x1b[K");
        let _ = out.flush();
        drop(out);
        eprint!("{line}\r\n");
        self.redraw();
    }

    /// Changes the prompt (the nickname changed).
    pub fn set_prompt(&mut self, prompt: &str) {
        if self.interactive {
            self.prompt = prompt.to_string();
            self.redraw();
        }
    }

    /// Shows `text` (or, with `None`, stops showing anything) as the live
    /// status called `key`, in front of the prompt. Does nothing when
    /// scripted.
    pub fn set_status(&mut self, key: &str, text: Option<String>) {
        if !self.interactive {
            return;
        }
        match text {
            Some(text) => self.status.insert(key.to_string(), text),
            None => self.status.remove(key),
        };
        self.redraw();
    }

    /// Draws the status, the prompt and the input typed so far on the
    /// current row. Each is cut to fit: the status to two thirds of the
    /// row, the input to its tail.
    fn redraw(&self) {
        let mut status = String::new();
        if !self.status.is_empty() {
            let all: Vec<&str> = self.status.values().map(String::as_str).collect();
            let mut inside = all.join(" | ");
            let room = self.columns * 2 / 3 - 3; // leaves room for "[", "] " and the input
            if let Some((cut, _)) = inside.char_indices().nth(room) {
                inside.truncate(cut);
                inside.push('…');
            }
            status = format!("[{inside}] ");
        }
        let input = self.editor.text();
        let used = status.chars().count() + self.prompt.chars().count() + 1;
        let room = self.columns.saturating_sub(used);
        let skip = input.chars().count().saturating_sub(room);
        let visible: String = input.chars().skip(skip).collect();
        let mut out = io::stdout().lock();
        let _ = write!(out, "\r\x1b[K{status}{}{visible}", self.prompt);
        let _ = out.flush();
    }

    /// Clears the input line and leaves the terminal as it was found.
    pub fn finish(&mut self) {
        if self.interactive {
            let mut out = io::stdout().lock();
            let _ = write!(out, "\r\x1b[K");
            let _ = out.flush();
            drop(out);
            tty::restore();
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.finish();
    }
}
