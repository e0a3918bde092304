//! The keyboard's thread: reads standard input at all times and passes
//! what it reads to the control loop.
//!
//! Reading at all times matters: keys typed while a file is being sent
//! are read by the client, not left in the terminal for the shell to find
//! after the client exits. On a terminal in raw mode the thread passes on
//! raw bytes (the control loop decodes keys, see `editor.rs`); from a
//! script it passes on whole lines.
//!
//! On a terminal, a second thread watches its width: the standard library
//! cannot be told of a resize (that is a signal, `SIGWINCH`), so it asks
//! `stty size` a few times a second, and reports a change.

use crate::events::Event;
use ftpchat::tty;
use std::io::{self, BufRead, Read};
use std::sync::mpsc::Sender;
use std::thread;
use std::time::Duration;

/// How often the terminal's width is asked.
const SIZE_CHECK_INTERVAL: Duration = Duration::from_millis(200);

/// Starts the thread that reads standard input: raw bytes when
/// `interactive`, lines otherwise.
///
/// # Errors
///
/// The thread could not be started.
pub fn spawn_keyboard(interactive: bool, events: Sender<Event>) -> io::Result<()> {
    if interactive {
        let watcher = events.clone();
        thread::Builder::new()
            .name("terminal-size".to_string())
            .spawn(move || watch_size(&watcher))?;
    }
    thread::Builder::new()
        .name("keyboard".to_string())
        .spawn(move || match interactive {
            true => read_keys(&events),
            false => read_lines(&events),
        })?;
    Ok(())
}

/// Reports each change of the terminal's width, until the control loop
/// has gone.
fn watch_size(events: &Sender<Event>) {
    let mut known = tty::columns();
    loop {
        thread::sleep(SIZE_CHECK_INTERVAL);
        let now = tty::columns();
        if now != known {
            known = now;
            let Some(columns) = now else { continue };
            if events.send(Event::Resized(columns)).is_err() {
                return;
            }
        }
    }
}

/// Passes on bytes as they are typed, until input ends or the control
/// loop has gone.
fn read_keys(events: &Sender<Event>) {
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 256];
    loop {
        let event = match stdin.read(&mut buf) {
            Ok(0) => Event::InputEnded,
            Ok(n) => Event::Keys(buf[..n].to_vec()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => Event::InputEnded,
        };
        let ended = matches!(event, Event::InputEnded);
        if events.send(event).is_err() || ended {
            return;
        }
    }
}

/// Passes on a script's lines, without their line endings; bytes that are
/// not UTF-8 are replaced (a script cannot be asked to type again).
fn read_lines(events: &Sender<Event>) {
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let event = match stdin.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => Event::InputEnded,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                Event::Line(text.trim_end_matches(['\n', '\r']).to_string())
            }
        };
        let ended = matches!(event, Event::InputEnded);
        if events.send(event).is_err() || ended {
            return;
        }
    }
}
