//! The server's own terminal: the commands its operator types, and
//! Ctrl-C.
//!
//! Ctrl-C on a terminal normally sends the program a signal that kills it
//! on the spot, and the standard library cannot catch signals: the server
//! would end without a word to its clients. So when standard input is a
//! terminal, the console switches signals off for it (`stty -isig`, see
//! `ftpchat::tty`); Ctrl-C then arrives as the byte 3, a key like any
//! other, and the server shuts down as `/quit` does. The console then
//! reads a key at a time and shows what is typed itself (Backspace
//! included).
//!
//! When standard input is not a terminal (the server runs in the
//! background, or under a test), lines are read as they come, and the end
//! of the input ends only the console, not the server.

use ftpchat::tty;
use std::io::{self, BufRead, IsTerminal, Read, Write};

/// What the operator did.
pub enum Typed {
    /// Typed a line and pressed Enter.
    Line(String),
    /// Pressed Ctrl-C.
    Interrupt,
    /// The input ended (or Ctrl-D on an empty line).
    End,
}

/// The console's input; it puts the terminal back when dropped.
pub struct Console {
    terminal: bool,
}

impl Console {
    /// Opens the console. On a terminal, Ctrl-C becomes a key and keys
    /// arrive one at a time; if that cannot be done, lines are read as
    /// they come (and Ctrl-C stops the server as any program).
    pub fn open() -> Console {
        let terminal = io::stdin().is_terminal()
            && tty::enter(&["-icanon", "-isig", "-echo", "min", "1", "time", "0"]).is_ok();
        Console { terminal }
    }

    /// Waits for the next line, or Ctrl-C, or the end.
    pub fn next(&mut self) -> Typed {
        match self.terminal {
            true => read_keys(),
            false => read_line(),
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.terminal {
            tty::restore();
        }
    }
}

/// A line from input that is not a terminal.
fn read_line() -> Typed {
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => Typed::End,
        Ok(_) => Typed::Line(line.trim_end_matches(['\n', '\r']).to_string()),
    }
}

/// A line typed on the terminal, a key at a time, shown as it is typed.
fn read_keys() -> Typed {
    let mut stdin = io::stdin().lock();
    let mut line: Vec<u8> = Vec::new();
    let mut byte = [0u8];
    loop {
        match stdin.read(&mut byte) {
            Ok(0) => return Typed::End,
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Typed::End,
        }
        let shown: &[u8] = match byte[0] {
            b'\n' | b'\r' => {
                show(b"\r\n");
                return Typed::Line(String::from_utf8_lossy(&line).into_owned());
            }
            0x03 => return Typed::Interrupt,
            0x04 if line.is_empty() => return Typed::End,
            0x7f | 0x08 if line.is_empty() => b"",
            0x7f | 0x08 => {
                // Remove the last character (all its UTF-8 bytes), and
                // rub it out on the screen.
                while let Some(last) = line.pop() {
                    if last & 0xc0 != 0x80 {
                        break;
                    }
                }
                b"\x08 \x08"
            }
            control if control < 0x20 => b"", // other control keys: ignored
            other => {
                line.push(other);
                &byte
            }
        };
        show(shown);
    }
}

/// Puts what was typed on the screen.
fn show(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}
