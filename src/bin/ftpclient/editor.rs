//! The input line: bytes from the keyboard become keys, and keys become
//! edits of the line being typed.
//!
//! On a terminal in raw mode (see `terminal.rs`) every key press arrives
//! as soon as it is made, as bytes: a letter as its UTF-8 bytes, Enter as
//! `\r`, Backspace as DEL (127), Ctrl-C as 3, and keys such as the arrows
//! as *escape sequences* (`ESC [ D` is Left). A key's bytes may arrive
//! split over two reads, so [`KeyDecoder`] keeps what it has seen of an
//! unfinished key between calls.
//!
//! [`Editor`] applies each [`Key`] to the line, with the keys of readline
//! (the line editor of `bash`): Left and Right (Ctrl-B, Ctrl-F), Home and
//! End (Ctrl-A, Ctrl-E), words with Alt-B and Alt-F (or Ctrl-Left and
//! Ctrl-Right), Backspace and Delete, Ctrl-K (to the end), Ctrl-U (to the
//! start), Ctrl-W (the word before), Up and Down through the lines typed
//! in this session, and Tab to complete the word before the cursor (the
//! control loop supplies the candidates: nicknames, commands, or files).
//! The cursor moves over whole graphemes (see `width.rs`): an emoji of
//! five characters is one step and one Backspace.
//!
//! Both are pure: no terminal, no threads, no input or output. That is
//! what makes them easy to test (see the tests below) and lets the
//! control loop stay small: it feeds bytes in, and acts on what comes out.

use crate::width::{next_boundary, previous_boundary};

/// One key press, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// A character to insert.
    Char(char),
    /// Enter (or Ctrl-J).
    Enter,
    /// Backspace: delete the grapheme before the cursor.
    Backspace,
    /// Delete (or Ctrl-D on a line that is not empty): delete the
    /// grapheme at the cursor.
    Delete,
    /// Left (Ctrl-B).
    Left,
    /// Right (Ctrl-F).
    Right,
    /// A word left (Alt-B, Ctrl-Left).
    WordLeft,
    /// A word right (Alt-F, Ctrl-Right).
    WordRight,
    /// Home (Ctrl-A).
    Home,
    /// End (Ctrl-E).
    End,
    /// Up (Ctrl-P): the line typed before.
    Up,
    /// Down (Ctrl-N): the line typed after.
    Down,
    /// Tab: complete the word before the cursor.
    Tab,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D.
    EndOfInput,
    /// Ctrl-U: delete from the start of the line to the cursor.
    KillToStart,
    /// Ctrl-K: delete from the cursor to the end of the line.
    KillToEnd,
    /// Ctrl-W: delete the word before the cursor.
    KillWord,
    /// A key this editor does nothing with (a function key, another
    /// control key).
    Other,
}

/// Turns bytes from a terminal into keys. See the module documentation.
#[derive(Debug, Default)]
pub struct KeyDecoder {
    /// Bytes of a key that has not fully arrived yet.
    pending: Vec<u8>,
}

/// Longest escape sequence the decoder waits for; a longer one is dropped.
const MAX_SEQUENCE_BYTES: usize = 16;

impl KeyDecoder {
    /// A decoder with nothing pending.
    pub fn new() -> KeyDecoder {
        KeyDecoder::default()
    }

    /// Takes one byte; returns the key it completes, if any.
    pub fn feed(&mut self, byte: u8) -> Option<Key> {
        self.pending.push(byte);
        let key = match self.pending[0] {
            0x1b => self.escape_sequence()?,
            0x80.. => self.utf8_character()?,
            control => {
                self.pending.clear();
                return Some(control_key(control));
            }
        };
        self.pending.clear();
        Some(key)
    }

    /// An escape sequence such as `ESC [ D`: `ESC`, then `[` or `O`, then
    /// bytes up to a final letter or `~`. `None` until it is complete.
    fn escape_sequence(&mut self) -> Option<Key> {
        let bytes = &self.pending;
        match bytes.get(1) {
            None => None,
            Some(b'[' | b'O') => match bytes.last() {
                Some(0x40..=0x7e) if bytes.len() > 2 => Some(sequence_key(&bytes[2..])),
                _ if bytes.len() >= MAX_SEQUENCE_BYTES => Some(Key::Other),
                _ => None,
            },
            Some(b'b') => Some(Key::WordLeft),
            Some(b'f') => Some(Key::WordRight),
            // ESC and another key (Alt with it, on many terminals): the
            // ESC is dropped and the key decoded on its own.
            Some(&other) => {
                self.pending.clear();
                self.feed(other)
            }
        }
    }

    /// A character of several UTF-8 bytes. `None` until it is complete;
    /// bytes that are not UTF-8 are dropped.
    fn utf8_character(&mut self) -> Option<Key> {
        match std::str::from_utf8(&self.pending) {
            Ok(text) => text.chars().next().map(Key::Char),
            Err(error) if error.error_len().is_some() || self.pending.len() >= 4 => {
                self.pending.clear();
                None
            }
            Err(_) => None, // wait for the rest of the character
        }
    }
}

/// The key for the end of an escape sequence, after `ESC [` or `ESC O`:
/// parameters (`1;5`, `3`) and a final byte (`D`, `~`).
fn sequence_key(tail: &[u8]) -> Key {
    let (final_byte, parameters) = tail.split_last().expect("at least the final byte");
    // Ctrl (5) or Alt (3) with an arrow moves by words.
    let modified = parameters.ends_with(b";5") || parameters.ends_with(b";3");
    match (final_byte, parameters) {
        (b'A', _) => Key::Up,
        (b'B', _) => Key::Down,
        (b'C', _) if modified => Key::WordRight,
        (b'D', _) if modified => Key::WordLeft,
        (b'C', _) => Key::Right,
        (b'D', _) => Key::Left,
        (b'H', _) | (b'~', b"1" | b"7") => Key::Home,
        (b'F', _) | (b'~', b"4" | b"8") => Key::End,
        (b'~', b"3") => Key::Delete,
        _ => Key::Other,
    }
}

/// The key for a single byte below 0x80.
fn control_key(byte: u8) -> Key {
    match byte {
        b'\r' | b'\n' => Key::Enter,
        0x7f | 0x08 => Key::Backspace,
        0x01 => Key::Home,
        0x02 => Key::Left,
        0x03 => Key::Interrupt,
        0x04 => Key::EndOfInput,
        0x05 => Key::End,
        0x06 => Key::Right,
        b'\t' => Key::Tab,
        0x0b => Key::KillToEnd,
        0x0e => Key::Down,
        0x10 => Key::Up,
        0x15 => Key::KillToStart,
        0x17 => Key::KillWord,
        0x20..=0x7e => Key::Char(char::from(byte)),
        _ => Key::Other,
    }
}

/// What a key did to the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The line or the cursor changed: draw it again.
    Changed,
    /// Nothing changed.
    Unchanged,
    /// Enter: here is the line; the editor is empty again.
    Submit(String),
    /// Tab: the word before the cursor is to be completed (see
    /// [`Editor::complete`]).
    Complete,
    /// Ctrl-C: stop what is running, or leave.
    Interrupt,
    /// Ctrl-D on an empty line: the end of the user's input.
    EndOfInput,
}

/// Most lines kept for Up and Down.
const MAX_HISTORY_LINES: usize = 500;

/// The line being typed, the cursor in it, and the lines typed before.
#[derive(Debug, Default)]
pub struct Editor {
    line: String,
    /// Where the cursor is: a byte index, always between graphemes.
    cursor: usize,
    /// Lines submitted in this session, oldest first.
    history: Vec<String>,
    /// While going through the history: which line is shown, and the
    /// line being typed before Up was pressed.
    browsing: Option<(usize, String)>,
}

impl Editor {
    /// An empty line.
    pub fn new() -> Editor {
        Editor::default()
    }

    /// The text typed so far.
    pub fn text(&self) -> &str {
        &self.line
    }

    /// Where the cursor is, as a byte index into [`Editor::text`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Applies `key` to the line.
    pub fn apply(&mut self, key: Key) -> Edit {
        let before = (self.line.len(), self.cursor);
        let changed_text = match key {
            Key::Char(c) => {
                self.line.insert(self.cursor, c);
                self.cursor += c.len_utf8();
                true
            }
            Key::Enter => return self.submit(),
            Key::Tab => return Edit::Complete,
            Key::Interrupt => return Edit::Interrupt,
            Key::EndOfInput if self.line.is_empty() => return Edit::EndOfInput,
            Key::EndOfInput | Key::Delete => self.delete(self.cursor, self.next(self.cursor)),
            Key::Backspace => self.delete(self.previous(self.cursor), self.cursor),
            Key::KillToStart => self.delete(0, self.cursor),
            Key::KillToEnd => self.delete(self.cursor, self.line.len()),
            Key::KillWord => self.delete(self.word_start(self.cursor), self.cursor),
            Key::Left => self.move_to(self.previous(self.cursor)),
            Key::Right => self.move_to(self.next(self.cursor)),
            Key::WordLeft => self.move_to(self.word_start(self.cursor)),
            Key::WordRight => self.move_to(self.word_end(self.cursor)),
            Key::Home => self.move_to(0),
            Key::End => self.move_to(self.line.len()),
            Key::Up => return self.older(),
            Key::Down => return self.newer(),
            Key::Other => false,
        };
        if changed_text {
            self.browsing = None; // an edited history line is a new line
        }
        match (self.line.len(), self.cursor) == before && !changed_text {
            true => Edit::Unchanged,
            false => Edit::Changed,
        }
    }

    /// Tab, with the `candidates` for the word before the cursor: those
    /// that start with it (ignoring case) are the matches. One match
    /// replaces the word, followed by `suffix` (a space, or `: ` after a
    /// nickname at the start of the line; nothing after a folder's `/`);
    /// several extend it to their
    /// longest common start. Returns the matches, for the caller to show
    /// when there are several.
    pub fn complete(&mut self, candidates: &[String], suffix: &str) -> Vec<String> {
        let start = self.word_start_simple(self.cursor);
        self.complete_from(start, candidates, suffix)
    }

    /// As [`Editor::complete`], for the word that starts at byte `start`
    /// (a quoted path may hold spaces).
    pub fn complete_from(
        &mut self,
        start: usize,
        candidates: &[String],
        suffix: &str,
    ) -> Vec<String> {
        let start = start.min(self.cursor);
        let word = &self.line[start..self.cursor];
        let lower = word.to_lowercase();
        let matches: Vec<String> = candidates
            .iter()
            .filter(|c| c.to_lowercase().starts_with(&lower))
            .cloned()
            .collect();
        let replacement = match matches.as_slice() {
            [] => return matches,
            // A folder: the user goes on into it.
            [only] if only.ends_with('/') => only.clone(),
            [only] => format!("{only}{suffix}"),
            // Their common start, keeping what was typed as typed.
            several => {
                let common = common_prefix(several);
                match common.get(word.len()..) {
                    Some(rest) => format!("{word}{rest}"),
                    None => common.to_string(),
                }
            }
        };
        if replacement.len() >= word.len() {
            self.line.replace_range(start..self.cursor, &replacement);
            self.cursor = start + replacement.len();
        }
        matches
    }

    /// The text before the cursor, for choosing completion candidates.
    pub fn before_cursor(&self) -> &str {
        &self.line[..self.cursor]
    }

    fn submit(&mut self) -> Edit {
        let line = std::mem::take(&mut self.line);
        self.cursor = 0;
        self.browsing = None;
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            if self.history.len() == MAX_HISTORY_LINES {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        Edit::Submit(line)
    }

    /// Up: shows the line typed before the one shown.
    fn older(&mut self) -> Edit {
        let index = match &self.browsing {
            Some((0, _)) => return Edit::Unchanged,
            Some((index, _)) => index - 1,
            None if self.history.is_empty() => return Edit::Unchanged,
            None => {
                let draft = std::mem::take(&mut self.line);
                self.browsing = Some((self.history.len(), draft));
                self.history.len() - 1
            }
        };
        if let Some((shown, _)) = &mut self.browsing {
            *shown = index;
        }
        self.show(self.history[index].clone());
        Edit::Changed
    }

    /// Down: shows the line typed after the one shown, and at the end the
    /// line that was being typed.
    fn newer(&mut self) -> Edit {
        let Some((index, _)) = &self.browsing else {
            return Edit::Unchanged;
        };
        let next = index + 1;
        if next < self.history.len() {
            if let Some((shown, _)) = &mut self.browsing {
                *shown = next;
            }
            self.show(self.history[next].clone());
        } else if let Some((_, draft)) = self.browsing.take() {
            self.show(draft);
        }
        Edit::Changed
    }

    fn show(&mut self, line: String) {
        self.line = line;
        self.cursor = self.line.len();
    }

    /// Deletes the bytes `from..to`, leaving the cursor at `from`.
    /// Returns whether anything was deleted.
    fn delete(&mut self, from: usize, to: usize) -> bool {
        if from >= to {
            return false;
        }
        self.line.replace_range(from..to, "");
        self.cursor = from;
        true
    }

    /// Moves the cursor; never changes the text.
    fn move_to(&mut self, position: usize) -> bool {
        self.cursor = position;
        false
    }

    /// The grapheme boundary before `at` (0 at the start).
    fn previous(&self, at: usize) -> usize {
        previous_boundary(&self.line[..at])
    }

    /// The grapheme boundary after `at` (the end at the end).
    fn next(&self, at: usize) -> usize {
        at + next_boundary(&self.line[at..])
    }

    /// The start of the word before `at`: back over spaces, then over the
    /// word (letters and digits; other characters end it).
    fn word_start(&self, at: usize) -> usize {
        let before = &self.line[..at];
        let trimmed = before.trim_end_matches(|c: char| !c.is_alphanumeric());
        trimmed.trim_end_matches(char::is_alphanumeric).len()
    }

    /// The end of the word after `at`.
    fn word_end(&self, at: usize) -> usize {
        let after = &self.line[at..];
        let skipped = after.len()
            - after
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .len();
        let word = after[skipped..]
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(after.len() - skipped);
        at + skipped + word
    }

    /// The start of the space-separated word before `at` (what Tab
    /// completes: a nickname, a command, a path).
    fn word_start_simple(&self, at: usize) -> usize {
        self.line[..at].rfind(' ').map_or(0, |space| space + 1)
    }
}

/// The longest start shared by all of `words`, ignoring case (spelled as
/// in the first).
fn common_prefix(words: &[String]) -> &str {
    let first = &words[0];
    let mut end = first.len();
    for word in &words[1..] {
        let shared = first
            .char_indices()
            .zip(word.chars())
            .find(|((_, a), b)| !a.to_lowercase().eq(b.to_lowercase()))
            .map_or(first.len().min(word.len()), |((index, _), _)| index);
        end = end.min(shared);
    }
    &first[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys in `bytes`, fed one byte at a time.
    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut decoder = KeyDecoder::new();
        bytes.iter().filter_map(|&b| decoder.feed(b)).collect()
    }

    /// What the editor shows after `bytes` (with `|` at the cursor), and
    /// every line submitted.
    fn typed(bytes: &[u8]) -> (String, Vec<String>) {
        let mut editor = Editor::new();
        let submitted = type_into(&mut editor, bytes);
        (shown(&editor), submitted)
    }

    fn type_into(editor: &mut Editor, bytes: &[u8]) -> Vec<String> {
        let mut submitted = Vec::new();
        for key in keys(bytes) {
            if let Edit::Submit(line) = editor.apply(key) {
                submitted.push(line);
            }
        }
        submitted
    }

    fn shown(editor: &Editor) -> String {
        let (before, after) = editor.text().split_at(editor.cursor());
        format!("{before}|{after}")
    }

    const LEFT: &str = "\x1b[D";
    const RIGHT: &str = "\x1b[C";
    const UP: &str = "\x1b[A";
    const DOWN: &str = "\x1b[B";

    #[test]
    fn characters_of_several_bytes_arrive_whole() {
        assert_eq!(
            keys("é世🙂".as_bytes()),
            [Key::Char('é'), Key::Char('世'), Key::Char('🙂')]
        );
        assert_eq!(keys(b"\xff\xfea"), [Key::Char('a')], "not UTF-8: dropped");
    }

    #[test]
    fn escape_sequences_are_one_key_each() {
        let bytes = b"\x1b[D\x1b[A\x1bOH\x1b[3~\x1b[1;5C\x1b[F\x1b[4~\x1b[15~x";
        assert_eq!(
            keys(bytes),
            [
                Key::Left,
                Key::Up,
                Key::Home,
                Key::Delete,
                Key::WordRight,
                Key::End,
                Key::End,
                Key::Other,
                Key::Char('x')
            ]
        );
        assert_eq!(
            keys(b"\x1bb\x1bf\x1bx"),
            [Key::WordLeft, Key::WordRight, Key::Char('x')]
        );
    }

    #[test]
    fn enter_submits_the_line_and_empties_the_editor() {
        assert_eq!(
            typed(b"hello\rworld\n"),
            ("|".to_string(), vec!["hello".into(), "world".into()])
        );
    }

    #[test]
    fn the_cursor_moves_and_edits_in_place() {
        let abcdef = format!("abcdef{LEFT}{LEFT}X");
        assert_eq!(typed(abcdef.as_bytes()).0, "abcdX|ef");
        assert_eq!(typed(b"world\x01hello \x05!").0, "hello world!|");
        let delete = format!("abc{LEFT}{LEFT}\x1b[3~");
        assert_eq!(typed(delete.as_bytes()).0, "a|c");
        let ctrl_d = format!("abc{LEFT}\x04");
        assert_eq!(
            typed(ctrl_d.as_bytes()).0,
            "ab|",
            "Ctrl-D deletes when not empty"
        );
        let right_at_end = format!("ab{RIGHT}{RIGHT}c");
        assert_eq!(typed(right_at_end.as_bytes()).0, "abc|");
        assert_eq!(typed(format!("{LEFT}a").as_bytes()).0, "a|");
    }

    #[test]
    fn deleting_characters_words_and_lines() {
        assert_eq!(typed("abé\x7f".as_bytes()).0, "ab|");
        assert_eq!(typed(b"one two  \x17").0, "one |");
        assert_eq!(typed(b"one two\x15three").0, "three|");
        assert_eq!(typed(b"\x7f\x7fa").0, "a|");
        let kill_to_end = format!("one two{LEFT}{LEFT}{LEFT}\x0b");
        assert_eq!(typed(kill_to_end.as_bytes()).0, "one |");
        let kill_to_start = format!("one two{LEFT}{LEFT}{LEFT}\x15");
        assert_eq!(typed(kill_to_start.as_bytes()).0, "|two");
    }

    #[test]
    fn words_are_letters_and_digits() {
        let back = "send file.txt now\x1bb\x1bb";
        assert_eq!(typed(back.as_bytes()).0, "send file.|txt now");
        assert_eq!(typed(b"send file.txt\x01\x1bf\x1bf").0, "send file|.txt");
    }

    #[test]
    fn wide_characters_and_emoji_sequences_are_one_step() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let line = format!("a{family}b{LEFT}\x7f");
        assert_eq!(
            typed(line.as_bytes()).0,
            "a|b",
            "one Backspace removes the family"
        );
        let accent = format!("e\u{301}x{LEFT}{LEFT}y");
        assert_eq!(typed(accent.as_bytes()).0, "y|e\u{301}x");
        let cjk = format!("日本語{LEFT}\x7f");
        assert_eq!(typed(cjk.as_bytes()).0, "日|語");
    }

    #[test]
    fn up_and_down_go_through_the_lines_typed() {
        let mut editor = Editor::new();
        type_into(&mut editor, b"first\rsecond\rsecond\rdraft");
        type_into(&mut editor, UP.as_bytes());
        assert_eq!(shown(&editor), "second|", "a repeated line is kept once");
        type_into(&mut editor, UP.as_bytes());
        assert_eq!(shown(&editor), "first|");
        type_into(&mut editor, UP.as_bytes());
        assert_eq!(shown(&editor), "first|", "the oldest stays");
        type_into(&mut editor, format!("{DOWN}{DOWN}").as_bytes());
        assert_eq!(shown(&editor), "draft|", "back to what was being typed");
        let sent = type_into(&mut editor, format!("\x15{UP}{UP}!\r").as_bytes());
        assert_eq!(sent, ["first!"]);
        assert_eq!(editor.history.last().map(String::as_str), Some("first!"));
    }

    #[test]
    fn tab_completes_the_word_before_the_cursor() {
        let nicks = ["alice".to_string(), "Albert".to_string(), "bob".to_string()];
        let mut editor = Editor::new();
        type_into(&mut editor, b"hi b");
        assert_eq!(editor.complete(&nicks, " "), ["bob"]);
        assert_eq!(shown(&editor), "hi bob |");
        let mut editor = Editor::new();
        type_into(&mut editor, b"A");
        assert_eq!(editor.complete(&nicks, ": ").len(), 2);
        assert_eq!(
            shown(&editor),
            "Al|",
            "the common start of alice and Albert"
        );
        type_into(&mut editor, b"i");
        editor.complete(&nicks, ": ");
        assert_eq!(shown(&editor), "alice: |");
        let mut editor = Editor::new();
        type_into(&mut editor, b"zed");
        assert!(editor.complete(&nicks, " ").is_empty());
        assert_eq!(shown(&editor), "zed|");
    }

    #[test]
    fn ctrl_c_always_interrupts_and_ctrl_d_ends_only_an_empty_line() {
        let mut editor = Editor::new();
        assert_eq!(editor.apply(Key::EndOfInput), Edit::EndOfInput);
        editor.apply(Key::Char('a'));
        assert_eq!(editor.apply(Key::Home), Edit::Changed);
        assert_eq!(editor.apply(Key::Home), Edit::Unchanged);
        assert_eq!(
            editor.apply(Key::EndOfInput),
            Edit::Changed,
            "deletes the a"
        );
        assert_eq!(editor.apply(Key::Interrupt), Edit::Interrupt);
        assert_eq!(editor.apply(Key::Tab), Edit::Complete);
    }
}
