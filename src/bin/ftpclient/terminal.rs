//! The client's screen: printing events while the user types.
//!
//! Two threads share the terminal: one reads what the user types, the other
//! prints what arrives from the server. If the second simply printed, an
//! incoming message would land in the middle of a half-typed line. So, on
//! a terminal, the client edits the input line itself and, for every
//! incoming event, erases the input line, prints the event, and draws the
//! input line again below it. A mutex around the screen makes each of
//! those steps one piece.
//!
//! The standard library has no terminal API. By default a terminal hands a
//! program whole lines only after Enter, and echoes keys itself. We run the
//! `stty` program to switch that off ("raw" input: every key at once, no
//! echo), and run it again to put the settings back on every way out:
//! normal exit, error, panic, or the server going away.
//!
//! The input row also shows the progress of file transfers, in front of
//! the prompt, so that progress is one live line that never scrolls.
//!
//! When standard input is not a terminal (a script, a pipe, a test), none
//! of this happens: input is read a line at a time, every event is printed
//! as one plain line to standard output, and there is no live progress.

use std::collections::BTreeMap;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The terminal settings from before raw mode, for [`restore_terminal`].
/// A global, because the thread that notices the server has gone may have
/// to restore the terminal and end the process while the main thread is
/// still waiting for a key.
static SAVED_SETTINGS: Mutex<Option<String>> = Mutex::new(None);

/// What the user did at the input line.
pub enum Typed {
    /// Typed a line and pressed Enter.
    Line(String),
    /// Asked to leave: Ctrl-C, Ctrl-D on an empty line, or end of input.
    End,
}

/// The terminal, shared by the thread that reads input and the thread
/// that prints events.
pub struct Screen {
    /// `true` on a terminal in raw mode; `false` for plain line I/O.
    interactive: bool,
    /// The input line being edited, shown after `prompt`.
    editor: Mutex<Editor>,
}

struct Editor {
    prompt: String,
    input: String,
    /// Live status texts (file progress) shown before the prompt, by key.
    status: BTreeMap<String, String>,
    /// Width of the terminal, in columns, to keep the input on one row.
    columns: usize,
}

impl Screen {
    /// A screen for plain line input and output (not a terminal).
    pub fn plain() -> Screen {
        Screen {
            interactive: false,
            editor: Mutex::new(Editor {
                prompt: String::new(),
                input: String::new(),
                status: BTreeMap::new(),
                columns: 80,
            }),
        }
    }

    /// Puts the terminal in raw mode and returns a screen that edits the
    /// input line itself.
    ///
    /// # Errors
    ///
    /// Running `stty` failed (it is missing, or standard input is not a
    /// terminal).
    pub fn raw(prompt: &str) -> io::Result<Screen> {
        let saved = stty(&["-g"])?;
        // -icanon: keys arrive one at a time; -echo: we draw them;
        // -isig: Ctrl-C is a key we handle (so the terminal is restored);
        // -ixon: Ctrl-S does not freeze output; min 1: reads wait for a key.
        stty(&[
            "-icanon", "-echo", "-isig", "-ixon", "-iexten", "min", "1", "time", "0",
        ])?;
        *SAVED_SETTINGS
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(saved.trim().to_string());
        let columns = stty(&["size"])
            .ok()
            .and_then(|size| size.split_whitespace().nth(1)?.parse().ok())
            .filter(|&columns: &usize| columns > 10)
            .unwrap_or(80);
        let screen = Screen {
            interactive: true,
            editor: Mutex::new(Editor {
                prompt: prompt.to_string(),
                input: String::new(),
                status: BTreeMap::new(),
                columns,
            }),
        };
        screen.redraw(&mut screen.lock());
        Ok(screen)
    }

    fn lock(&self) -> MutexGuard<'_, Editor> {
        self.editor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Prints one event line to standard output, keeping the input line
    /// intact below it.
    pub fn print(&self, line: &str) {
        if !self.interactive {
            println!("{line}");
            return;
        }
        let mut editor = self.lock();
        let mut out = io::stdout().lock();
        // \r goes to the start of the row, ESC [ K erases it.
        let _ = write!(out, "\r\x1b[K{line}\r\n");
        drop(out);
        self.redraw(&mut editor);
    }

    /// Shows the user's own message as part of the conversation. Only on a
    /// terminal: a script's output holds only what it received.
    pub fn echo(&self, line: &str) {
        if self.interactive {
            self.print(line);
        }
    }

    /// Prints a message about the user's own action (a mistake, a local
    /// error): on standard error when scripted, on the screen otherwise.
    pub fn complain(&self, line: &str) {
        if self.interactive {
            self.print(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Prints a `--trace` line on standard error. If standard error is the
    /// terminal that shows the input line, the input line is erased first
    /// and drawn again below the trace, as for events.
    pub fn trace(&self, line: &str) {
        if !(self.interactive && io::stderr().is_terminal()) {
            eprintln!("{line}");
            return;
        }
        let mut editor = self.lock();
        let mut out = io::stdout().lock();
        let _ = write!(out, "\r\x1b[K");
        let _ = out.flush();
        drop(out);
        eprint!("{line}\r\n");
        self.redraw(&mut editor);
    }

    /// Whether this screen is a terminal that shows live progress.
    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// Shows `text` (or, with `None`, stops showing anything) as the live
    /// status called `key`, in front of the prompt. Does nothing when
    /// scripted.
    pub fn set_status(&self, key: &str, text: Option<String>) {
        if !self.interactive {
            return;
        }
        let mut editor = self.lock();
        match text {
            Some(text) => editor.status.insert(key.to_string(), text),
            None => editor.status.remove(key),
        };
        self.redraw(&mut editor);
    }

    /// Draws the status, the prompt and the input typed so far on the
    /// current row. Each is cut to fit: the status to two thirds of the row, the
    /// input to its tail.
    fn redraw(&self, editor: &mut Editor) {
        let mut status = String::new();
        if !editor.status.is_empty() {
            let all: Vec<&str> = editor.status.values().map(String::as_str).collect();
            let mut inside = all.join(" | ");
            let room = editor.columns * 2 / 3 - 3; // leaves room for "[", "] " and the input
            if let Some((cut, _)) = inside.char_indices().nth(room) {
                inside.truncate(cut);
                inside.push('…');
            }
            status = format!("[{inside}] ");
        }
        let used = status.chars().count() + editor.prompt.chars().count() + 1;
        let room = editor.columns.saturating_sub(used);
        let skip = editor.input.chars().count().saturating_sub(room);
        let visible: String = editor.input.chars().skip(skip).collect();
        let mut out = io::stdout().lock();
        let _ = write!(out, "\r\x1b[K{status}{}{visible}", editor.prompt);
        let _ = out.flush();
    }

    /// Waits for the user's next line.
    ///
    /// On a terminal, reads one key at a time: printable characters are
    /// added to the line, Backspace removes one, Ctrl-U clears the line,
    /// Ctrl-W removes a word, Enter submits, Ctrl-C or Ctrl-D (on an empty
    /// line) ends. Escape sequences (arrow keys) are ignored.
    pub fn read_line(&self) -> Typed {
        if !self.interactive {
            let mut line = String::new();
            return match io::stdin().lock().read_line(&mut line) {
                Ok(0) | Err(_) => Typed::End,
                Ok(_) => {
                    let end = line.trim_end_matches(['\n', '\r']).len();
                    line.truncate(end);
                    Typed::Line(line)
                }
            };
        }
        let mut stdin = io::stdin().lock();
        // Bytes of a UTF-8 character that has not fully arrived yet.
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let Some(byte) = read_byte(&mut stdin) else {
                return Typed::End;
            };
            let mut editor = self.lock();
            match byte {
                b'\r' | b'\n' => {
                    let line = std::mem::take(&mut editor.input);
                    self.redraw(&mut editor);
                    return Typed::Line(line);
                }
                0x03 => return Typed::End, // Ctrl-C
                0x04 if editor.input.is_empty() => return Typed::End, // Ctrl-D
                0x7f | 0x08 => {
                    editor.input.pop();
                }
                0x15 => editor.input.clear(), // Ctrl-U
                0x17 => {
                    // Ctrl-W: drop trailing spaces, then the word before them.
                    let kept = editor
                        .input
                        .trim_end()
                        .trim_end_matches(|c: char| !c.is_whitespace())
                        .len();
                    editor.input.truncate(kept);
                }
                0x1b => {
                    drop(editor);
                    skip_escape_sequence(&mut stdin);
                    continue;
                }
                byte if byte < 0x20 => {} // other control keys: ignored
                byte => {
                    partial.push(byte);
                    match std::str::from_utf8(&partial) {
                        Ok(text) => {
                            editor.input.push_str(text);
                            partial.clear();
                        }
                        Err(error) if error.error_len().is_some() || partial.len() >= 4 => {
                            partial.clear(); // not UTF-8: dropped
                        }
                        Err(_) => continue, // wait for the rest of the character
                    }
                }
            }
            self.redraw(&mut editor);
        }
    }

    /// Clears the input line and leaves the terminal as it was found.
    pub fn finish(&self) {
        if self.interactive {
            let mut out = io::stdout().lock();
            let _ = write!(out, "\r\x1b[K");
            let _ = out.flush();
            drop(out);
            restore_terminal();
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Puts back the terminal settings saved by [`Screen::raw`], if any. Safe
/// to call more than once and from any thread.
pub fn restore_terminal() {
    let saved = SAVED_SETTINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(settings) = saved {
        let _ = stty(&[&settings]);
    }
}

/// Runs `stty` on our terminal (it works on its standard input, which it
/// inherits from us) and returns what it printed.
fn stty(args: &[&str]) -> io::Result<String> {
    let output = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stderr(Stdio::null())
        .output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!("stty {} failed", args.join(" "))));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn read_byte(input: &mut impl Read) -> Option<u8> {
    let mut byte = [0u8];
    loop {
        match input.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => return Some(byte[0]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Skips the rest of an escape sequence such as the arrow keys'
/// `ESC [ A`: a `[` or `O`, then bytes up to a final letter or `~`.
fn skip_escape_sequence(input: &mut impl Read) {
    if !matches!(read_byte(input), Some(b'[' | b'O')) {
        return;
    }
    for _ in 0..16 {
        match read_byte(input) {
            Some(0x40..=0x7e) | None => return,
            Some(_) => {}
        }
    }
}
