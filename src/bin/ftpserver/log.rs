//! The server's log: one line per event on standard output, each stamped
//! with the time in UTC (see `ftpchat::clock`), so that a log from several
//! threads reads in the order things happened.

use ftpchat::clock::timestamp;

/// Prints one log line, stamped with the time, to standard output.
///
/// The standard library's `println!` locks standard output for the whole
/// line, so lines from different threads never mix.
pub fn log(message: std::fmt::Arguments) {
    println!("{} {message}", timestamp());
}
