//! Terminal modes, switched with the `stty` program.
//!
//! By default a terminal hands a program whole lines only after Enter,
//! echoes keys itself, and turns Ctrl-C into a signal that kills the
//! program on the spot. A chat client wants keys one at a time, and both
//! programs want Ctrl-C as a key they can act on (cancel a transfer, shut
//! down cleanly), which a signal the standard library cannot catch would
//! not allow. The standard library has no terminal API, so we run the
//! `stty` program on our terminal, and run it again to put the settings
//! back on every way out (normal exit, error, or panic).
//!
//! Only one terminal is changed per process, so the saved settings are
//! kept in one place here, where [`restore`] can always find them.

use std::io;
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

/// The terminal's settings from before [`enter`], for [`restore`].
static SAVED_SETTINGS: Mutex<Option<String>> = Mutex::new(None);

/// Switches the terminal on standard input to the settings `args` (as
/// `stty` takes them), saving the current ones first.
///
/// # Errors
///
/// Running `stty` failed: it is missing, or standard input is not a
/// terminal.
pub fn enter(args: &[&str]) -> io::Result<()> {
    let saved = stty(&["-g"])?;
    stty(args)?;
    let mut slot = SAVED_SETTINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    slot.get_or_insert_with(|| saved.trim().to_string());
    Ok(())
}

/// Puts back the settings saved by [`enter`], if any. Safe to call more
/// than once and from any thread (a panic hook included).
pub fn restore() {
    let saved = SAVED_SETTINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(settings) = saved {
        let _ = stty(&[&settings]);
    }
}

/// The terminal's width in columns, if it can be found out.
pub fn columns() -> Option<usize> {
    let size = stty(&["size"]).ok()?;
    size.split_whitespace().nth(1)?.parse().ok()
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
