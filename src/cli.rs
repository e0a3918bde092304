//! Command-line arguments, parsed by hand.
//!
//! Both programs take options of the form `--name VALUE` or `--name=VALUE`,
//! short ones as `-p VALUE` or `-pVALUE`, flags such as `--help` (`-h`),
//! and, for the client, positional arguments (`ftpclient HOST PORT`, as
//! `nc` takes them); `--` ends the options. [`Args`] walks through them one
//! at a time; each binary matches on the names it knows and turns values
//! into the types it needs. A mistake becomes a [`UsageError`], which the
//! program prints as one line, pointing to `--help`, before exiting with
//! code 2.

use std::fmt;
use std::str::FromStr;

/// A mistake on the command line, described for the user.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// One argument: an option's name, or a positional argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// An option, by the name typed (`--port`, `-p`); `-h` and `-V` come
    /// as `--help` and `--version`.
    Option(String),
    /// An argument that is not an option (`HOST`, `PORT`).
    Positional(String),
}

/// The arguments of a program, read one option at a time.
#[derive(Debug)]
pub struct Args {
    rest: std::vec::IntoIter<String>,
    /// The `VALUE` of a `--name=VALUE` (or `-nVALUE`) just read, until
    /// [`Args::value`] takes it.
    inline_value: Option<String>,
    /// Whether `--` has been read: everything after it is positional.
    options_ended: bool,
}

impl Args {
    /// The arguments this process was started with, without the program name.
    pub fn from_env() -> Args {
        Args::new(std::env::args().skip(1))
    }

    /// Arguments from any list, for tests.
    pub fn new(args: impl IntoIterator<Item = String>) -> Args {
        Args {
            rest: args.into_iter().collect::<Vec<_>>().into_iter(),
            inline_value: None,
            options_ended: false,
        }
    }

    /// The next option's name (for example `--port`), or `None` at the end.
    /// `-h` and `-V` are read as `--help` and `--version`.
    ///
    /// # Errors
    ///
    /// A [`UsageError`] for an argument that is not an option, or when the
    /// previous option was given a `=VALUE` it does not take.
    pub fn next_option(&mut self) -> Result<Option<String>, UsageError> {
        match self.next_arg()? {
            None => Ok(None),
            Some(Arg::Option(name)) => Ok(Some(name)),
            Some(Arg::Positional(arg)) => Err(UsageError(format!("unexpected argument '{arg}'"))),
        }
    }

    /// The next argument: an option's name, or a positional argument.
    ///
    /// # Errors
    ///
    /// A [`UsageError`] when the previous option was given a `=VALUE` it
    /// does not take.
    pub fn next_arg(&mut self) -> Result<Option<Arg>, UsageError> {
        if let Some(value) = self.inline_value.take() {
            return Err(UsageError(format!("unexpected value '{value}'")));
        }
        let Some(arg) = self.rest.next() else {
            return Ok(None);
        };
        if self.options_ended || arg == "-" || !arg.starts_with('-') {
            return Ok(Some(Arg::Positional(arg)));
        }
        if arg == "--" {
            self.options_ended = true;
            return self.next_arg();
        }
        let name = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((name, value)) => {
                    self.inline_value = Some(value.to_string());
                    format!("--{name}")
                }
                None => arg,
            }
        } else {
            // `-p5555` is `-p 5555`.
            let split = arg.char_indices().nth(2).map_or(arg.len(), |(at, _)| at);
            let (name, value) = arg.split_at(split);
            if !value.is_empty() {
                self.inline_value = Some(value.to_string());
            }
            name.to_string()
        };
        let name = match name.as_str() {
            "-h" => "--help".to_string(),
            "-V" => "--version".to_string(),
            _ => name,
        };
        Ok(Some(Arg::Option(name)))
    }

    /// The value of `option`, the option [`Args::next_option`] just returned.
    ///
    /// # Errors
    ///
    /// A [`UsageError`] when no value follows.
    pub fn value(&mut self, option: &str) -> Result<String, UsageError> {
        self.inline_value
            .take()
            .or_else(|| self.rest.next())
            .ok_or_else(|| UsageError(format!("{option} needs a value")))
    }

    /// The value of `option`, parsed as a number (or any type with
    /// [`FromStr`]).
    ///
    /// # Errors
    ///
    /// A [`UsageError`] naming the option and the value that did not parse.
    pub fn parsed<T: FromStr>(&mut self, option: &str) -> Result<T, UsageError> {
        let value = self.value(option)?;
        value
            .parse()
            .map_err(|_| UsageError(format!("invalid value '{value}' for {option}")))
    }
}

/// Parses a size given on the command line: a whole number of bytes,
/// optionally followed by a unit of 1024 (`K`, `M`, `G`, `T`, in either
/// case, with or without `iB`): `262144`, `256K`, `1M`, `2GiB`.
///
/// # Errors
///
/// The text is not such a size, or the size does not fit in 64 bits.
///
/// # Examples
///
/// ```
/// use ftpchat::cli::parse_size;
///
/// assert_eq!(parse_size("256K"), Ok(256 * 1024));
/// assert_eq!(parse_size("2g"), Ok(2 << 30));
/// assert!(parse_size("1.5M").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        _ => return Err(format!("'{text}' is not a size (use bytes, or K, M, G, T)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|_| !digits.is_empty())
        .and_then(|number| number.checked_mul(1 << shift))
        .ok_or_else(|| format!("'{text}' is not a size (use bytes, or K, M, G, T)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::new(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options_with_separate_and_inline_values() {
        let mut a = args(&["--port", "5555", "--host=::1", "-h"]);
        assert_eq!(a.next_option().unwrap().as_deref(), Some("--port"));
        assert_eq!(a.parsed::<u16>("--port"), Ok(5555));
        assert_eq!(a.next_option().unwrap().as_deref(), Some("--host"));
        assert_eq!(a.value("--host").unwrap(), "::1");
        assert_eq!(a.next_option().unwrap().as_deref(), Some("--help"));
        assert_eq!(a.next_option().unwrap(), None);
    }

    #[test]
    fn short_options_positionals_and_the_end_of_options() {
        let mut a = args(&["-n", "bob", "-p5555", "host", "--", "-x"]);
        let mut seen = Vec::new();
        while let Some(arg) = a.next_arg().unwrap() {
            if let Arg::Option(name) = &arg {
                let value = a.value(name).unwrap();
                seen.push(format!("{name}={value}"));
            } else {
                seen.push(format!("{arg:?}"));
            }
        }
        assert_eq!(
            seen,
            [
                "-n=bob",
                "-p=5555",
                "Positional(\"host\")",
                "Positional(\"-x\")"
            ]
        );
        let mut a = args(&["-V", "-"]);
        assert_eq!(a.next_arg().unwrap(), Some(Arg::Option("--version".into())));
        assert_eq!(a.next_arg().unwrap(), Some(Arg::Positional("-".into())));
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64K"), Ok(64 * 1024));
        assert_eq!(parse_size("64KiB"), Ok(64 * 1024));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("3T"), Ok(3 << 40));
        for bad in ["", "K", "-1", "1.5M", "12 K", "1X", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let mut a = args(&["--port"]);
        a.next_option().unwrap();
        assert_eq!(a.value("--port").unwrap_err().0, "--port needs a value");

        let mut a = args(&["--port", "99999"]);
        a.next_option().unwrap();
        assert_eq!(
            a.parsed::<u16>("--port").unwrap_err().0,
            "invalid value '99999' for --port"
        );

        let mut a = args(&["stray"]);
        assert_eq!(
            a.next_option().unwrap_err().0,
            "unexpected argument 'stray'"
        );

        let mut a = args(&["--help=yes"]);
        a.next_option().unwrap();
        assert_eq!(a.next_option().unwrap_err().0, "unexpected value 'yes'");
    }
}
