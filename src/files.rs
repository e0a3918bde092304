//! Saving received files safely: trusted names, and all-or-nothing writes.
//!
//! # Never trust a name from the network
//!
//! The sender chooses a file's name, and a hostile sender can choose
//! `../../.bashrc` or `/etc/passwd`. A receiver that joined such a name to
//! its `rec/` folder would write outside it. [`safe_file_name`] keeps only
//! the last component of the name, and replaces every character that could
//! mean something to a file system or a terminal.
//!
//! # A file appears complete, or not at all
//!
//! A transfer can stop half way: the sender quits, the network fails, the
//! disk fills up. If we wrote straight to `rec/report.pdf`, a broken
//! transfer would leave a file that looks real but is cut short. So a file
//! is written under a hidden temporary name ([`create_temp_file`]) and
//! given its real name only once it is complete and its checksum matches
//! ([`publish`]). Giving a name is a single step for the file system: a
//! reader sees either no file or the whole file.
//!
//! [`publish`] never overwrites: if `report.pdf` exists, the new file
//! becomes `report-1.pdf`. It uses `hard_link`, which fails if the target
//! exists (and does so atomically, so two transfers finishing at the same
//! moment cannot both take the same name), then removes the temporary
//! name. `rename` would silently replace an existing file.

use crate::text::{io_words, needs_escape};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Longest name [`safe_file_name`] returns, in bytes: short enough to add a
/// `-123` suffix or the temporary name's decoration and stay under the
/// file systems' 255-byte limit
/// ([`MAX_NAME_LEN`](crate::protocol::MAX_NAME_LEN)).
const MAX_SAFE_NAME_LEN: usize = 200;

/// The name used when nothing usable is left of the sender's name.
const FALLBACK_NAME: &str = "unnamed";

/// Turns a name chosen by a sender into one that is safe to create inside
/// the receiving folder.
///
/// - Only the part after the last `/`, `\` or `:` is kept, so no name can
///   climb out of the folder or name a drive.
/// - Control characters, characters that reverse text, and characters that
///   some file systems forbid (`<>:"|?*`) become `_`.
/// - Leading dots and spaces are removed (no hidden files, no `..`), as are
///   trailing dots and spaces.
/// - The name is cut to at most 200 bytes, keeping its extension; the cut
///   never leaves a trailing dot or space either.
/// - A name that Windows reserves for a device (`CON`, `NUL`, `COM1`,
///   `LPT1`..., with or without an extension) gets a `_` in front, so the
///   folder can be copied to any system.
/// - If nothing is left, the name is `unnamed`.
///
/// Cleaning a clean name changes nothing.
///
/// # Examples
///
/// ```
/// use ftpchat::files::safe_file_name;
///
/// assert_eq!(safe_file_name("report.pdf"), "report.pdf");
/// assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
/// assert_eq!(safe_file_name("C:\\Windows\\evil.dll"), "evil.dll");
/// assert_eq!(safe_file_name(".."), "unnamed");
/// assert_eq!(safe_file_name("bell\x07.txt"), "bell_.txt");
/// assert_eq!(safe_file_name("nul.txt"), "_nul.txt");
/// ```
pub fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\', ':']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            if needs_escape(c) || "<>\"|?*".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    let short = shorten(trimmed, MAX_SAFE_NAME_LEN);
    let short = short.trim_end_matches(['.', ' ']);
    if short.is_empty() {
        FALLBACK_NAME.to_string()
    } else if is_windows_device(short) {
        format!("_{short}")
    } else {
        short.to_string()
    }
}

/// Whether Windows reserves `name` for a device: `CON`, `PRN`, `AUX`,
/// `NUL`, `COM1` to `COM9`, `LPT1` to `LPT9`, in any case, alone or before
/// a dot (`nul.txt` is the device too).
fn is_windows_device(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("").trim_end();
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => {
            let numbered = upper.strip_prefix("COM").or(upper.strip_prefix("LPT"));
            numbered.is_some_and(|digit| {
                digit.len() == 1 && ('1'..='9').contains(&digit.chars().next().unwrap_or('0'))
            })
        }
    }
}

/// A name as file systems that ignore case or Unicode normalization see
/// it: `README` and `readme`, or `café` written with `é` and with `e` and
/// a combining accent, have the same key. (Accents are dropped from Latin
/// letters too, so `cafe` shares the key: a false match only means one
/// more `-1`, never a file overwritten.)
fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(base_letter)
        .flat_map(char::to_lowercase)
        .collect()
}

/// The unaccented letter of a precomposed Latin letter (`é` is `e`).
fn base_letter(c: char) -> char {
    match c {
        'À'..='Å' => 'A',
        'à'..='å' => 'a',
        'Ç' => 'C',
        'ç' => 'c',
        'È'..='Ë' => 'E',
        'è'..='ë' => 'e',
        'Ì'..='Ï' => 'I',
        'ì'..='ï' => 'i',
        'Ñ' => 'N',
        'ñ' => 'n',
        'Ò'..='Ö' | 'Ø' => 'O',
        'ò'..='ö' | 'ø' => 'o',
        'Ù'..='Ü' => 'U',
        'ù'..='ü' => 'u',
        'Ý' => 'Y',
        'ý' | 'ÿ' => 'y',
        _ => c,
    }
}

/// Cuts `name` to at most `max` bytes on a character boundary, keeping a
/// short extension (such as `.pdf`) at the end.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let extension = match name.rfind('.') {
        Some(dot) if name.len() - dot <= 16 => &name[dot..],
        _ => "",
    };
    let mut stem_end = max - extension.len();
    while !name.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    format!("{}{}", &name[..stem_end], extension)
}

/// Splits a name into stem and extension: `report.pdf` into `report` and
/// `.pdf`. A name without a dot has no extension.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// Creates a new, empty, hidden file in `dir` to receive `name` into,
/// named `.NAME.part` (or `.NAME.1.part`, ... if that exists). Creates
/// `dir` first if it does not exist. `name` must come from
/// [`safe_file_name`].
///
/// # Errors
///
/// The folder cannot be created, or no file can be created in it; the
/// error names the path.
pub fn create_temp_file(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    fs::create_dir_all(dir).map_err(|e| with_path(e, "cannot create folder", dir))?;
    for attempt in 0u32.. {
        let temp_name = match attempt {
            0 => format!(".{name}.part"),
            n => format!(".{name}.{n}.part"),
        };
        let path = dir.join(temp_name);
        // `create_new` fails if the file exists: we never write into a
        // file we did not create.
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 1000 => {}
            Err(e) => return Err(with_path(e, "cannot create", &path)),
        }
    }
    unreachable!("the loop returns within 1001 attempts")
}

/// Gives the complete file at `temp` its final name in `dir`: `name`, or
/// `STEM-1.EXT`, `STEM-2.EXT`, ... if that is taken, counting as taken a
/// name that differs only in case or accents (on a file system that
/// ignores them, they are the same file). Never overwrites an existing
/// file. Returns the final path.
///
/// # Errors
///
/// The file cannot be linked or the temporary name removed; the error
/// names the path.
pub fn publish(temp: &Path, dir: &Path, name: &str) -> io::Result<PathBuf> {
    let (stem, extension) = split_extension(name);
    let taken: Vec<String> = fs::read_dir(dir)
        .map_err(|e| with_path(e, "cannot read folder", dir))?
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .map(|existing| name_key(&existing))
        .collect();
    for attempt in 0u32..10_000 {
        let candidate = match attempt {
            0 => name.to_string(),
            n => format!("{stem}-{n}{extension}"),
        };
        if taken.contains(&name_key(&candidate)) {
            continue;
        }
        let path = dir.join(candidate);
        match fs::hard_link(temp, &path) {
            Ok(()) => {
                fs::remove_file(temp).map_err(|e| with_path(e, "cannot remove", temp))?;
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(with_path(e, "cannot save", &path)),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "cannot save {}: too many files with that name",
            dir.join(name).display()
        ),
    ))
}

fn with_path(error: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("{what} {}: {}", path.display(), io_words(&error)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_inside_the_folder() {
        let cases = [
            ("../x", "x"),
            ("/etc/x", "x"),
            ("a/b", "b"),
            ("..", "unnamed"),
            (".", "unnamed"),
            ("", "unnamed"),
            ("dir/", "unnamed"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("D:evil", "evil"),
            (".bashrc", "bashrc"),
            ("...hidden", "hidden"),
            ("name. ", "name"),
            ("\x1b[2Jclear.txt", "_[2Jclear.txt"),
            ("line\nbreak\r.txt", "line_break_.txt"),
            ("nul\0byte", "nul_byte"),
            ("evil\u{202e}fdp.exe", "evil_fdp.exe"),
            ("what?<>|*\".txt", "what______.txt"),
            ("résumé 2024.pdf", "résumé 2024.pdf"),
        ];
        for (hostile, safe) in cases {
            assert_eq!(safe_file_name(hostile), safe, "{hostile:?}");
        }
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.pdf", "a".repeat(10_000));
        let safe = safe_file_name(&long);
        assert_eq!(safe.len(), MAX_SAFE_NAME_LEN);
        assert!(safe.ends_with("a.pdf"));
        let wide = "é".repeat(300); // two bytes each: the cut must not split one
        let safe = safe_file_name(&wide);
        assert!(safe.len() <= MAX_SAFE_NAME_LEN && safe.chars().all(|c| c == 'é'));
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ftpchat-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn publishing_never_overwrites() {
        let dir = scratch("publish");
        let mut saved = Vec::new();
        for content in ["first", "second", "third"] {
            let (_, temp) = create_temp_file(&dir, "report.pdf").unwrap();
            assert!(temp.file_name().unwrap().to_str().unwrap().starts_with('.'));
            fs::write(&temp, content).unwrap();
            saved.push(publish(&temp, &dir, "report.pdf").unwrap());
            assert!(!temp.exists());
        }
        let names: Vec<_> = saved
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["report.pdf", "report-1.pdf", "report-2.pdf"]);
        assert_eq!(fs::read_to_string(&saved[0]).unwrap(), "first");
        assert_eq!(fs::read_to_string(&saved[2]).unwrap(), "third");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_files_of_the_same_name_do_not_clash() {
        let dir = scratch("temp");
        let (_, a) = create_temp_file(&dir, "x").unwrap();
        let (_, b) = create_temp_file(&dir, "x").unwrap();
        assert_ne!(a, b);
        assert!(dir.is_dir(), "the folder is created");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn windows_device_names_are_renamed() {
        for (name, safe) in [
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("Nul.tar.gz", "_Nul.tar.gz"),
            ("COM1.log", "_COM1.log"),
            ("lpt9", "_lpt9"),
        ] {
            assert_eq!(safe_file_name(name), safe, "{name}");
        }
        for name in ["COM10", "console", "CONTRACT.pdf", "LPT0", "auxiliary"] {
            assert_eq!(safe_file_name(name), name);
        }
    }

    #[test]
    fn a_cut_name_never_ends_in_a_space_or_dot() {
        let name = format!("{}    {}", "a".repeat(197), "b".repeat(20));
        let safe = safe_file_name(&name);
        assert_eq!(safe, "a".repeat(197));
        let dotted = format!("{}..{}.x", "a".repeat(190), "b".repeat(30));
        assert!(!safe_file_name(&dotted).ends_with(['.', ' ']));
    }

    #[test]
    fn cleaning_is_stable_and_always_safe() {
        let pieces = [
            "a", "Z", "é", "e\u{301}", "日", "🙂", ".", " ", "/", "\\", ":", "\x07", "\u{202e}",
            "\u{200b}", "*", "con", "CON.", "..", "-",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5000 {
            let len = (next() % 80) as usize;
            let name: String = (0..len)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            let safe = safe_file_name(&name);
            assert_eq!(safe_file_name(&safe), safe, "{name:?}");
            assert!(
                !safe.is_empty() && safe.len() <= MAX_SAFE_NAME_LEN,
                "{name:?}"
            );
            assert!(!safe.starts_with(['.', ' ']), "{safe:?}");
            assert!(!safe.ends_with(['.', ' ']), "{safe:?}");
            assert!(!safe.contains(['/', '\\', ':']) && !safe.chars().any(needs_escape));
            assert!(!is_windows_device(&safe), "{safe:?}");
        }
    }

    #[test]
    fn names_that_differ_in_case_or_accents_count_as_taken() {
        let dir = scratch("case");
        let mut saved = Vec::new();
        for name in ["README", "readme", "caf\u{e9}.txt", "cafe\u{301}.txt"] {
            let (_, temp) = create_temp_file(&dir, name).unwrap();
            saved.push(publish(&temp, &dir, name).unwrap());
        }
        let names: Vec<_> = saved
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            ["README", "readme-1", "caf\u{e9}.txt", "cafe\u{301}-1.txt"]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_without_extension_get_a_plain_suffix() {
        assert_eq!(split_extension("Makefile"), ("Makefile", ""));
        assert_eq!(split_extension("a.tar.gz"), ("a.tar", ".gz"));
    }
}
