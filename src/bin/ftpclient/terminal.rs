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
//! Drawing is deferred: printing an event takes the input row away, and
//! changes only mark it to be drawn again; the control loop calls
//! [`Screen::flush`] once it has handled every event already waiting. A
//! burst of keys or of messages then costs one redraw, not one each.
//!
//! The row must never be wider than the terminal: a row that wraps onto a
//! second one leaves that one behind as debris at the next redraw. So the
//! row is laid out in columns (see `width.rs`) by [`layout`], a pure
//! function: the status takes the longest of its forms that leaves the
//! input at least a third of the row, and the input scrolls sideways to
//! keep the cursor in view. The keyboard's side watches the terminal's
//! width (`keyboard.rs`); when it changes, the rows the terminal
//! re-wrapped the old row onto are cleared, and the row drawn again.
//!
//! When standard input is not a terminal (a script, a pipe, a test), none
//! of this happens: every event is printed as one plain line to standard
//! output, and there is no input line and no live progress.
//!
//! # Times and mentions
//!
//! Each event line can start with the time it was shown (`14:03`, in the
//! user's time zone: on by default on a terminal, on request in scripts),
//! and a line said before one joined starts with the time it was said.
//! On a terminal, a line that mentions the user (see
//! `ftpchat::display::mentions`) is marked with `»`, shown in bold, and
//! rings the terminal's bell (unless the user asked for quiet); a script's
//! output stays plain text. [`event_text`] decides all this.

use crate::editor::{Edit, Editor, Key};
use crate::progress::Status;
use crate::width::{fit, grapheme_width, graphemes, text_width};
use ftpchat::clock::{LocalZone, unix_seconds};
use ftpchat::tty;
use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// How long a known width is trusted before a redraw asks again: between
/// a resize and the watcher's report (`keyboard.rs`), a row drawn at the
/// old width would wrap.
const WIDTH_TRUSTED_FOR: Duration = Duration::from_millis(20);

/// The terminal: the events printed, the input line, the status.
pub struct Screen {
    /// `true` on a terminal in raw mode; `false` for plain line output.
    interactive: bool,
    prompt: String,
    /// The line being typed.
    editor: Editor,
    /// Live status (file progress) shown before the prompt, by key.
    status: BTreeMap<String, Status>,
    /// Width of the terminal, in columns, and when it was last asked.
    columns: usize,
    columns_checked: Instant,
    /// Whether the input row is on the screen, the width of it as drawn,
    /// and the column of its cursor: to clear it (and what the terminal
    /// re-wrapped after a resize).
    row_shown: bool,
    drawn_width: usize,
    cursor_column: usize,
    /// Whether the row has changed since it was drawn.
    dirty: bool,
    /// The user's time zone; whether event lines start with the time;
    /// whether a mention rings the bell.
    zone: LocalZone,
    times: bool,
    bell: bool,
}

/// How event lines look: see "Times and mentions" above.
#[derive(Clone, Copy, Debug)]
pub struct Look {
    /// The user's time zone.
    pub zone: LocalZone,
    /// Whether each event line starts with the time.
    pub times: bool,
    /// Whether a mention rings the terminal's bell (never in scripts).
    pub bell: bool,
}

/// The mark in front of a line that mentions the user.
pub const MENTION_MARK: &str = "»";

impl Screen {
    /// A screen for plain line output (not a terminal).
    pub fn plain(look: Look) -> Screen {
        Screen {
            zone: look.zone,
            times: look.times,
            bell: false,
            interactive: false,
            prompt: String::new(),
            editor: Editor::new(),
            status: BTreeMap::new(),
            columns: 80,
            columns_checked: Instant::now(),
            row_shown: false,
            drawn_width: 0,
            cursor_column: 0,
            dirty: false,
        }
    }

    /// Puts the terminal in raw mode and returns a screen that draws the
    /// input line itself.
    ///
    /// # Errors
    ///
    /// Running `stty` failed (it is missing, or standard input is not a
    /// terminal).
    pub fn raw(prompt: &str, look: Look) -> io::Result<Screen> {
        // -icanon: keys arrive one at a time; -echo: we draw them;
        // -isig: Ctrl-C is a key we handle (so the terminal is restored);
        // -ixon: Ctrl-S does not freeze output; min 1: reads wait for a key.
        tty::enter(&[
            "-icanon", "-echo", "-isig", "-ixon", "-iexten", "min", "1", "time", "0",
        ])?;
        let mut screen = Screen {
            interactive: true,
            prompt: prompt.to_string(),
            editor: Editor::new(),
            status: BTreeMap::new(),
            columns: terminal_columns(),
            columns_checked: Instant::now(),
            row_shown: false,
            drawn_width: 0,
            cursor_column: 0,
            dirty: true,
            zone: look.zone,
            times: look.times,
            bell: look.bell,
        };
        screen.flush();
        Ok(screen)
    }

    /// Whether this screen is a terminal that shows live progress.
    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// Applies a key to the input line, and says what it did.
    pub fn edit(&mut self, key: Key) -> Edit {
        let edit = self.editor.apply(key);
        if edit != Edit::Unchanged {
            self.redraw();
        }
        edit
    }

    /// Draws the input row if it has changed (or was taken away to print
    /// something): called once the events waiting have been handled.
    pub fn flush(&mut self) {
        if !self.interactive || !self.dirty {
            return;
        }
        self.take_row_away();
        self.draw();
        self.dirty = false;
    }

    /// The text before the cursor, to choose what Tab completes.
    pub fn before_cursor(&self) -> &str {
        self.editor.before_cursor()
    }

    /// Tab: completes the word before the cursor with one of
    /// `candidates`, followed by `suffix`; shows them all if several
    /// match.
    pub fn complete(&mut self, candidates: &[String], suffix: &str) {
        let matches = self.editor.complete(candidates, suffix);
        self.show_matches(&matches);
    }

    /// As [`Screen::complete`], for the word that starts at byte `start`
    /// of the line.
    pub fn complete_from(&mut self, start: usize, candidates: &[String], suffix: &str) {
        let matches = self.editor.complete_from(start, candidates, suffix);
        self.show_matches(&matches);
    }

    /// Shows the matches of a completion, if there were several.
    fn show_matches(&mut self, matches: &[String]) {
        if matches.len() > 1 {
            self.list(&matches.join("  "));
        } else {
            self.redraw();
        }
    }

    /// Prints one event line to standard output (after the time, if times
    /// are on), keeping the input line intact below it.
    pub fn print(&mut self, line: &str) {
        let line = event_text(self.time_now().as_deref(), line, Mention::No);
        self.write_line(&line);
    }

    /// Prints an event line that mentions the user (see "Times and
    /// mentions" above).
    pub fn print_mention(&mut self, line: &str) {
        let mention = match self.interactive {
            true => Mention::Marked { bell: self.bell },
            false => Mention::No,
        };
        let line = event_text(self.time_now().as_deref(), line, mention);
        self.write_line(&line);
    }

    /// Prints a line said at `time` (seconds since 1970), before the user
    /// joined: after the time it was said, whether times are on or not.
    pub fn print_said_at(&mut self, time: u64, line: &str) {
        let when = self.zone.when(time, unix_seconds());
        self.write_line(&format!("{when} {line}"));
    }

    /// Prints a line of a listing (help, completions): not an event, so
    /// never after a time.
    pub fn list(&mut self, line: &str) {
        self.write_line(line);
    }

    /// The time now, as event lines show it, if times are on.
    fn time_now(&self) -> Option<String> {
        self.times.then(|| self.zone.hh_mm(unix_seconds()))
    }

    /// Writes one line to standard output, keeping the input line intact
    /// below it.
    fn write_line(&mut self, line: &str) {
        if !self.interactive {
            println!("{line}");
            return;
        }
        self.take_row_away();
        let mut out = io::stdout().lock();
        let _ = write!(out, "{line}\r\n");
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
        self.take_row_away();
        let _ = io::stdout().flush();
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

    /// Shows `status` (or, with `None`, stops showing anything) as the
    /// live status called `key`, in front of the prompt. Does nothing
    /// when scripted.
    pub fn set_status(&mut self, key: &str, status: Option<Status>) {
        if !self.interactive {
            return;
        }
        match status {
            Some(status) => self.status.insert(key.to_string(), status),
            None => self.status.remove(key),
        };
        self.redraw();
    }

    /// The terminal is now `columns` wide: the row is drawn again to fit.
    pub fn resize(&mut self, columns: usize) {
        if columns >= 10 {
            self.columns = columns;
            self.columns_checked = Instant::now();
            self.redraw();
        }
    }

    /// Marks the row to be drawn again (at the next [`Screen::flush`]).
    fn redraw(&mut self) {
        self.dirty = true;
    }

    /// Erases the input row if it is on the screen, and the rows the
    /// terminal wrapped it onto if it is narrower than the row (after a
    /// resize); leaves the cursor at the start of the (first) row.
    fn take_row_away(&mut self) {
        if !self.row_shown {
            return;
        }
        self.check_width();
        let mut out = io::stdout().lock();
        let rows_down = rows_below_start(self.drawn_width, self.cursor_column, self.columns);
        if rows_down > 0 {
            let _ = write!(out, "\x1b[{rows_down}A");
        }
        // \r goes to the start of the row, ESC [ J erases to the end of
        // the screen.
        let _ = write!(out, "\r\x1b[J");
        self.row_shown = false;
    }

    /// Asks the terminal's width again, unless it was asked just now.
    fn check_width(&mut self) {
        if self.columns_checked.elapsed() >= WIDTH_TRUSTED_FOR {
            self.columns = terminal_columns();
            self.columns_checked = Instant::now();
        }
    }

    /// Draws the status, the prompt and the input typed so far on the
    /// current row (the row has been taken away), and puts the cursor
    /// where it is in the input.
    fn draw(&mut self) {
        self.check_width();
        let statuses: Vec<&Status> = self.status.values().collect();
        let row = layout(
            self.columns,
            &statuses,
            &self.prompt,
            self.editor.text(),
            self.editor.cursor(),
        );
        let mut out = io::stdout().lock();
        let _ = write!(out, "{}\r", row.text);
        if row.cursor_column > 0 {
            let _ = write!(out, "\x1b[{}C", row.cursor_column);
        }
        let _ = out.flush();
        self.row_shown = true;
        self.drawn_width = text_width(&row.text);
        self.cursor_column = row.cursor_column;
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

/// Whether, and how, a line that mentions the user stands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mention {
    /// It does not (or not here: a script's output stays plain).
    No,
    /// Marked and in bold, with the terminal's bell if `bell`.
    Marked {
        /// Whether to ring the bell.
        bell: bool,
    },
}

/// The text written for an event `line`: after its `time` (if any), and,
/// for a mention, marked with [`MENTION_MARK`], in bold (`ESC [1m` to
/// `ESC [0m`), and followed by the bell (the byte 7) if wanted.
pub fn event_text(time: Option<&str>, line: &str, mention: Mention) -> String {
    let time = time.map(|time| format!("{time} ")).unwrap_or_default();
    match mention {
        Mention::No => format!("{time}{line}"),
        Mention::Marked { bell } => {
            let bell = if bell { "\x07" } else { "" };
            format!("\x1b[1m{time}{MENTION_MARK} {line}\x1b[0m{bell}")
        }
    }
}

/// How many rows below the start of a row `drawn_width` columns wide the
/// cursor (at `cursor_column` of it) is, on a terminal `columns` wide
/// that wrapped it: the row where its column falls, but never below the
/// last row the text reached (at the right edge a terminal keeps the
/// cursor on the last column rather than wrapping).
fn rows_below_start(drawn_width: usize, cursor_column: usize, columns: usize) -> usize {
    let text_rows = drawn_width.saturating_sub(1) / columns;
    (cursor_column / columns).min(text_rows)
}

/// The terminal's width, or 80 if it cannot be found out (or is absurdly
/// small).
fn terminal_columns() -> usize {
    tty::columns()
        .filter(|&columns| columns >= 10)
        .unwrap_or(80)
}

/// The input row as drawn: its text, and the column of the cursor.
#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    /// What to write, at most `columns - 1` wide.
    pub text: String,
    /// Where the cursor goes, counted from 0.
    pub cursor_column: usize,
}

/// Lays out the input row in `columns`: the `statuses` (in brackets), the
/// `prompt`, and the `input` with its cursor at byte `cursor`. The last
/// column is left free, so the row never wraps. The input keeps at least a
/// third of the row; each status takes the longest form that fits what is
/// left (or is left out); the input scrolls sideways to keep the cursor in
/// view.
pub fn layout(
    columns: usize,
    statuses: &[&Status],
    prompt: &str,
    input: &str,
    cursor: usize,
) -> Row {
    let usable = columns.saturating_sub(1);
    let prompt = fit(prompt, usable / 2);
    let keep_for_input = (usable / 3).max(4);
    let room = usable.saturating_sub(text_width(prompt) + keep_for_input);
    let status = status_text(statuses, room);
    let before_input = text_width(&status) + text_width(prompt);
    let (shown, cursor_in_shown) = scroll(input, cursor, usable - before_input.min(usable));
    Row {
        text: format!("{status}{prompt}{shown}"),
        cursor_column: before_input + cursor_in_shown,
    }
}

/// The statuses as `[one | two] `, in at most `room` columns: every one in
/// its longest form that lets all fit, else as many as fit in their
/// shortest form and a count of the others; empty if none fits.
fn status_text(statuses: &[&Status], room: usize) -> String {
    if statuses.is_empty() || room < 4 {
        return String::new();
    }
    let inside = room - 3; // "[", "] "
    let separators = 3 * (statuses.len() - 1); // " | "
    let each = inside.saturating_sub(separators) / statuses.len();
    let forms: Option<Vec<&str>> = statuses.iter().map(|s| s.fitting(each)).collect();
    if let Some(forms) = forms {
        return format!("[{}] ", forms.join(" | "));
    }
    // Not all fit: the first ones, shortest, and how many more.
    let mut shown: Vec<&str> = Vec::new();
    for (index, status) in statuses.iter().enumerate() {
        let more = statuses.len() - index - 1;
        let tail = match more {
            0 => String::new(),
            n => format!(" +{n}"),
        };
        let candidate = [shown.clone(), vec![status.shortest()]]
            .concat()
            .join(" | ")
            + &tail;
        if text_width(&candidate) > inside {
            break;
        }
        shown.push(status.shortest());
    }
    if shown.is_empty() {
        return String::new();
    }
    let more = statuses.len() - shown.len();
    let tail = match more {
        0 => String::new(),
        n => format!(" +{n}"),
    };
    format!("[{}{tail}] ", shown.join(" | "))
}

/// The part of `input` to show in `room` columns with the cursor (at byte
/// `cursor`) in view, and the cursor's column in it. When the input is
/// too wide, it scrolls: the cursor stays at the right edge while typing
/// at the end.
fn scroll(input: &str, cursor: usize, room: usize) -> (&str, usize) {
    let room = room.max(1);
    if text_width(input) <= room {
        return (input, text_width(&input[..cursor]));
    }
    // Start as late as needed for the cursor to fit, with room for it.
    let mut start = 0;
    let mut width_to_cursor = text_width(&input[..cursor]);
    for grapheme in graphemes(input) {
        if width_to_cursor <= room || start >= cursor {
            break;
        }
        width_to_cursor -= grapheme_width(grapheme);
        start += grapheme.len();
    }
    let shown = fit(&input[start..], room);
    (shown, width_to_cursor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{Direction, Progress};

    #[test]
    fn event_lines_carry_the_time_and_mentions_stand_out() {
        assert_eq!(event_text(None, "<bob> hi", Mention::No), "<bob> hi");
        assert_eq!(
            event_text(Some("14:03"), "<bob> hi", Mention::No),
            "14:03 <bob> hi"
        );
        assert_eq!(
            event_text(
                Some("14:03"),
                "<bob> alice?",
                Mention::Marked { bell: true }
            ),
            "\x1b[1m14:03 » <bob> alice?\x1b[0m\x07"
        );
        assert_eq!(
            event_text(None, "*bob* psst", Mention::Marked { bell: false }),
            "\x1b[1m» *bob* psst\x1b[0m"
        );
    }

    fn status(name: &str, direction: Direction) -> Status {
        Progress::new("k".into(), name, direction, 1000).after_data("checking and saving", "saving")
    }

    #[test]
    fn a_short_line_shows_whole() {
        let row = layout(80, &[], "bob> ", "hello", 5);
        assert_eq!(
            row,
            Row {
                text: "bob> hello".into(),
                cursor_column: 10
            }
        );
        let row = layout(80, &[], "bob> ", "hello", 1);
        assert_eq!(row.cursor_column, 6);
    }

    #[test]
    fn a_long_line_scrolls_to_keep_the_cursor_in_view() {
        let input = "abcdefghijklmnopqrstuvwxyz".repeat(6);
        for columns in [40, 80, 120] {
            let row = layout(columns, &[], "nina> ", &input, input.len());
            assert_eq!(text_width(&row.text), columns - 1, "never wraps");
            assert!(row.text.ends_with("xyz"), "{row:?}");
            assert_eq!(row.cursor_column, columns - 1);
            let row = layout(columns, &[], "nina> ", &input, 0);
            assert!(row.text.starts_with("nina> abc"), "{row:?}");
            assert_eq!(row.cursor_column, 6);
        }
    }

    #[test]
    fn wide_characters_never_make_the_row_wrap() {
        let input = "日本語のテキストを入力しています。これは長い行です。";
        for columns in [40, 59, 80] {
            let row = layout(columns, &[], "frank> ", input, input.len());
            assert!(text_width(&row.text) < columns, "{columns}: {row:?}");
            assert!(row.text.ends_with("行です。"), "{row:?}");
        }
        let family = "👨\u{200d}👩\u{200d}👧".repeat(30);
        let row = layout(40, &[], "x> ", &family, family.len());
        assert!(text_width(&row.text) < 40, "{row:?}");
        assert_eq!(row.cursor_column, 3 + text_width(&row.text[3..]));
    }

    #[test]
    fn the_status_fits_at_40_80_and_120_columns() {
        let mut progress = Progress::new("k".into(), "big.bin", Direction::Receiving, 1 << 30);
        progress.restart(0);
        let live = progress.update(120 << 20).unwrap();
        for (columns, expected) in [
            (40, "[<big.bin 11% "),
            (80, "[big.bin < 11%, "),
            (120, "[big.bin < 11% of 1.0 GiB, "),
        ] {
            let row = layout(columns, &[&live], "nina> ", "hi", 2);
            assert!(row.text.starts_with(expected), "{columns}: {row:?}");
            assert!(row.text.ends_with("] nina> hi"), "{columns}: {row:?}");
            assert!(text_width(&row.text) < columns);
            // The input keeps at least a third of the row.
            assert!(text_width(&row.text) - 2 + (columns - 1) / 3 < columns);
        }
    }

    #[test]
    fn a_narrower_terminal_is_cleared_from_where_the_row_began() {
        assert_eq!(rows_below_start(60, 60, 80), 0, "no wrap");
        assert_eq!(rows_below_start(118, 118, 59), 1, "cursor at the edge");
        assert_eq!(rows_below_start(118, 59, 59), 1);
        assert_eq!(rows_below_start(118, 10, 59), 0);
        assert_eq!(rows_below_start(100, 100, 40), 2);
        assert_eq!(rows_below_start(0, 0, 40), 0);
    }

    #[test]
    fn several_statuses_share_the_row() {
        let a = status("a.bin", Direction::Sending);
        let b = status("b.bin", Direction::Receiving);
        let row = layout(120, &[&a, &b], "> ", "", 0);
        assert_eq!(
            row.text,
            "[a.bin > checking and saving | b.bin < checking and saving] > "
        );
        let many: Vec<Status> = (0..9)
            .map(|i| status(&format!("f{i}"), Direction::Receiving))
            .collect();
        let refs: Vec<&Status> = many.iter().collect();
        let row = layout(40, &refs, "> ", "", 0);
        assert!(row.text.contains(" +"), "{row:?}");
        assert!(text_width(&row.text) < 40);
    }
}
