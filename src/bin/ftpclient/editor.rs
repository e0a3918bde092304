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
//! [`Editor`] applies each [`Key`] to the line and says what happened.
//! Both are pure: no terminal, no threads, no input or output. That is
//! what makes them easy to test (see the tests below) and lets the
//! control loop stay small: it feeds bytes in, and acts on what comes out.

/// One key press, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// A character to insert.
    Char(char),
    /// Enter (or Ctrl-J).
    Enter,
    /// Backspace: delete the character before the cursor.
    Backspace,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D.
    EndOfInput,
    /// Ctrl-U: delete the whole line.
    KillLine,
    /// Ctrl-W: delete the word before the cursor.
    KillWord,
    /// A key this editor does nothing with (an arrow, a function key,
    /// another control key).
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
                Some(0x40..=0x7e) if bytes.len() > 2 => Some(Key::Other),
                _ if bytes.len() >= MAX_SEQUENCE_BYTES => Some(Key::Other),
                _ => None,
            },
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

/// The key for a single byte below 0x80.
fn control_key(byte: u8) -> Key {
    match byte {
        b'\r' | b'\n' => Key::Enter,
        0x7f | 0x08 => Key::Backspace,
        0x03 => Key::Interrupt,
        0x04 => Key::EndOfInput,
        0x15 => Key::KillLine,
        0x17 => Key::KillWord,
        0x20..=0x7e => Key::Char(char::from(byte)),
        _ => Key::Other,
    }
}

/// What a key did to the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The line changed: draw it again.
    Changed,
    /// Nothing changed.
    Unchanged,
    /// Enter: here is the line; the editor is empty again.
    Submit(String),
    /// Ctrl-C: stop what is running, or leave.
    Interrupt,
    /// Ctrl-D on an empty line: the end of the user's input.
    EndOfInput,
}

/// The line being typed.
#[derive(Debug, Default)]
pub struct Editor {
    line: String,
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

    /// Applies `key` to the line.
    pub fn apply(&mut self, key: Key) -> Edit {
        match key {
            Key::Char(c) => self.line.push(c),
            Key::Enter => return Edit::Submit(std::mem::take(&mut self.line)),
            Key::Backspace => {
                if self.line.pop().is_none() {
                    return Edit::Unchanged;
                }
            }
            Key::Interrupt => return Edit::Interrupt,
            Key::EndOfInput if self.line.is_empty() => return Edit::EndOfInput,
            Key::KillLine => self.line.clear(),
            Key::KillWord => {
                // Drop trailing spaces, then the word before them.
                let kept = self
                    .line
                    .trim_end()
                    .trim_end_matches(|c: char| !c.is_whitespace())
                    .len();
                self.line.truncate(kept);
            }
            Key::EndOfInput | Key::Other => return Edit::Unchanged,
        }
        Edit::Changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys in `bytes`, fed one byte at a time.
    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut decoder = KeyDecoder::new();
        bytes.iter().filter_map(|&b| decoder.feed(b)).collect()
    }

    /// What the editor shows after `bytes`, and every line submitted.
    fn typed(bytes: &[u8]) -> (String, Vec<String>) {
        let mut editor = Editor::new();
        let mut submitted = Vec::new();
        for key in keys(bytes) {
            if let Edit::Submit(line) = editor.apply(key) {
                submitted.push(line);
            }
        }
        (editor.text().to_string(), submitted)
    }

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
        let arrows = b"\x1b[D\x1b[A\x1bOH\x1b[3~x";
        assert_eq!(
            keys(arrows),
            [
                Key::Other,
                Key::Other,
                Key::Other,
                Key::Other,
                Key::Char('x')
            ]
        );
        // Alt-b: the ESC is dropped, the b kept.
        assert_eq!(keys(b"\x1bb"), [Key::Char('b')]);
    }

    #[test]
    fn enter_submits_the_line_and_empties_the_editor() {
        assert_eq!(
            typed(b"hello\rworld\n"),
            (String::new(), vec!["hello".into(), "world".into()])
        );
    }

    #[test]
    fn deleting_characters_words_and_lines() {
        assert_eq!(typed("abé\x7f".as_bytes()).0, "ab");
        assert_eq!(typed(b"one two  \x17").0, "one ");
        assert_eq!(typed(b"one two\x15three").0, "three");
        assert_eq!(typed(b"\x7f\x7fa").0, "a");
    }

    #[test]
    fn arrow_keys_leave_the_line_alone_for_now() {
        assert_eq!(typed(b"abcdef\x1b[D\x1b[DX").0, "abcdefX");
    }

    #[test]
    fn ctrl_c_always_interrupts_and_ctrl_d_ends_only_an_empty_line() {
        let mut editor = Editor::new();
        assert_eq!(editor.apply(Key::EndOfInput), Edit::EndOfInput);
        editor.apply(Key::Char('a'));
        assert_eq!(editor.apply(Key::EndOfInput), Edit::Unchanged);
        assert_eq!(editor.apply(Key::Interrupt), Edit::Interrupt);
    }
}
