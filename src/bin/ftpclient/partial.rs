//! Partial files: what is kept of a file whose transfer was cut off, so
//! that it can go on from where it stopped instead of from the start.
//!
//! A file being received is written to a hidden `.NAME.part` file (see
//! `disk.rs`). When the sender offers it with a stamp (`FILE ID SIZE STAMP
//! FROM NAME`, the stamp changing whenever the file does), a small text
//! file beside it, `.NAME.part.info`, records what it is a part of:
//!
//! ```text
//! ftpchat partial 1
//! from alice
//! name big.iso
//! size 1073741824
//! stamp 40000000-187ab3c0f2e1d400
//! ```
//!
//! If the connection is lost (the sender's or ours), the two files stay.
//! When the same sender offers the same file again, same name, size and
//! stamp, [`find`] finds the partial, and the client accepts from its
//! length (`ACCEPT ID OFFSET`) instead of from 0. A partial whose record
//! does not match (the file changed, so its stamp did) is never extended:
//! the file comes whole, and once it is being received, the old partial is
//! deleted. The final checksum still
//! covers every byte, the kept ones too, so a partial damaged on the disk
//! is caught at the end and the file discarded.
//!
//! While a disk thread writes a partial it holds a lock on it (an
//! advisory `flock`, which the system releases if the process dies), so
//! two clients sharing a folder never write into the same partial, and a
//! partial in use is never swept away. [`sweep`] deletes partials left
//! unused for longer than [`PARTIAL_MAX_AGE`].

use ftpchat::protocol::nick_key;
use ftpchat::text::io_words;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a partial file nobody resumed is kept: a week.
pub const PARTIAL_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The first line of every record, naming its format.
const RECORD_HEADER: &str = "ftpchat partial 1";

/// Longest record read, in bytes: a record is a few short lines, and a
/// longer file is not one of ours.
const MAX_RECORD_BYTES: u64 = 1024;

/// What a partial file is a part of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// The sender's nickname.
    pub from: String,
    /// The file's safe name (see `ftpchat::files::safe_file_name`).
    pub name: String,
    /// The whole file's size, in bytes.
    pub size: u64,
    /// The sender's stamp of this version of the file.
    pub stamp: String,
}

impl PartInfo {
    /// Whether a partial of `self` may be extended with the file `offer`
    /// describes: same sender (nicknames compared as the server does),
    /// name, size and stamp.
    fn matches(&self, offer: &PartInfo) -> bool {
        self.same_file(offer) && self.size == offer.size && self.stamp == offer.stamp
    }

    /// Whether both name the same file from the same sender, whatever
    /// its version.
    fn same_file(&self, other: &PartInfo) -> bool {
        nick_key(&self.from) == nick_key(&other.from) && self.name == other.name
    }

    /// The record's text.
    fn to_text(&self) -> String {
        format!(
            "{RECORD_HEADER}\nfrom {}\nname {}\nsize {}\nstamp {}\n",
            self.from, self.name, self.size, self.stamp
        )
    }

    /// Reads a record's text; `None` if it is not a whole, valid record.
    fn parse(text: &str) -> Option<PartInfo> {
        let mut lines = text.lines();
        if lines.next()? != RECORD_HEADER {
            return None;
        }
        let mut field = |key: &str| {
            let line = lines.next()?;
            line.strip_prefix(key)?
                .strip_prefix(' ')
                .map(str::to_string)
        };
        Some(PartInfo {
            from: field("from")?,
            name: field("name")?,
            size: field("size")?.parse().ok()?,
            stamp: field("stamp")?,
        })
    }
}

/// A partial file found for an offer, locked for this client.
pub struct Found {
    /// The partial file, open for reading and writing, and locked.
    pub file: File,
    /// Where it is.
    pub path: PathBuf,
    /// How many bytes it holds: where the transfer goes on from.
    pub len: u64,
}

/// The record's path for the partial file at `part`: `.NAME.part.info`.
pub fn record_path(part: &Path) -> PathBuf {
    let mut name = part.as_os_str().to_owned();
    name.push(".info");
    PathBuf::from(name)
}

/// Writes the record of `info` beside the partial file at `part`. It is
/// written under a temporary name and then renamed, so a record is
/// always whole.
///
/// # Errors
///
/// The record cannot be written; the error names its path.
pub fn write_record(part: &Path, info: &PartInfo) -> io::Result<()> {
    let record = record_path(part);
    let mut temp = record.as_os_str().to_owned();
    temp.push(".new");
    let temp = PathBuf::from(temp);
    fs::write(&temp, info.to_text())
        .and_then(|()| fs::rename(&temp, &record))
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot write {}: {}", record.display(), io_words(&e)),
            )
        })
}

/// Deletes the partial file at `part` and its record.
pub fn remove(part: &Path) {
    let _ = fs::remove_file(part);
    let _ = fs::remove_file(record_path(part));
}

/// Looks in `dir` for a partial of the file `offer` describes (same
/// sender, name, size and stamp), not in use by another client. A partial
/// longer than the file cannot be one: it is deleted.
pub fn find(dir: &Path, offer: &PartInfo) -> Option<Found> {
    for (part, info) in records(dir) {
        if !info.matches(offer) {
            continue;
        }
        let Some(file) = open_unused(&part) else {
            continue; // another client is writing it
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        if len > offer.size {
            drop(file);
            remove(&part);
            continue;
        }
        return Some(Found {
            file,
            path: part,
            len,
        });
    }
    None
}

/// Deletes the partials in `dir` of other versions of the file `taken`
/// describes (same sender and name, another stamp or size): once a new
/// version is being received, they can never be extended.
pub fn forget_other_versions(dir: &Path, taken: &PartInfo) {
    for (part, info) in records(dir) {
        if info.same_file(taken) && !info.matches(taken) && open_unused(&part).is_some() {
            remove(&part);
        }
    }
}

/// The partials in `dir` that nobody is writing, with their records and
/// lengths.
pub fn kept(dir: &Path) -> Vec<(PartInfo, u64)> {
    let mut kept: Vec<(PartInfo, u64)> = records(dir)
        .into_iter()
        .filter_map(|(part, info)| {
            let file = open_unused(&part)?;
            let len = file.metadata().ok()?.len();
            Some((info, len))
        })
        .collect();
    kept.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    kept
}

/// Deletes the partial files in `dir` (and records without a partial)
/// that nobody has touched for `max_age` and nobody is writing. Returns
/// how many partial files it deleted.
pub fn sweep(dir: &Path, max_age: Duration) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut deleted = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if !name.starts_with('.') {
            continue;
        }
        if let Some(part_name) = name.strip_suffix(".info").filter(|n| n.ends_with(".part")) {
            if !path.with_file_name(part_name).exists() {
                let _ = fs::remove_file(&path);
            }
            continue;
        }
        if !name.ends_with(".part") {
            continue;
        }
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|changed| now.duration_since(changed).ok());
        if age.is_some_and(|age| age >= max_age) && open_unused(&path).is_some() {
            remove(&path);
            deleted += 1;
        }
    }
    deleted
}

/// Every partial file in `dir` that has a valid record, with the record.
fn records(dir: &Path) -> Vec<(PathBuf, PartInfo)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let part_name = name
            .to_str()
            .filter(|n| n.starts_with('.') && n.ends_with(".part.info"))
            .and_then(|n| n.strip_suffix(".info"));
        let Some(part_name) = part_name else {
            continue;
        };
        let mut text = String::new();
        let read = File::open(&path)
            .and_then(|file| file.take(MAX_RECORD_BYTES).read_to_string(&mut text));
        if let (Ok(_), Some(info)) = (read, PartInfo::parse(&text)) {
            found.push((path.with_file_name(part_name), info));
        }
    }
    found
}

/// Opens the partial file at `part` for reading and writing, and locks
/// it; `None` if it cannot be opened or another client holds its lock.
pub fn open_unused(part: &Path) -> Option<File> {
    let file = OpenOptions::new().read(true).write(true).open(part).ok()?;
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(fs::TryLockError::WouldBlock) => None,
        // A file system without locks: go on without one.
        Err(fs::TryLockError::Error(_)) => Some(file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ftpchat-partial-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn info(stamp: &str) -> PartInfo {
        PartInfo {
            from: "Alice".to_string(),
            name: "big.iso".to_string(),
            size: 10,
            stamp: stamp.to_string(),
        }
    }

    /// A partial of `info` holding `bytes`, as a disk thread leaves it.
    fn leave_partial(dir: &Path, info: &PartInfo, bytes: &[u8]) -> PathBuf {
        let part = dir.join(format!(".{}.part", info.name));
        fs::write(&part, bytes).unwrap();
        write_record(&part, info).unwrap();
        part
    }

    #[test]
    fn records_survive_a_round_trip() {
        let info = info("a-1");
        assert_eq!(PartInfo::parse(&info.to_text()), Some(info.clone()));
        assert_eq!(PartInfo::parse("ftpchat partial 1\nfrom a\n"), None);
        assert_eq!(PartInfo::parse("something else\n"), None);
        let bad_size = info.to_text().replace("size 10", "size ten");
        assert_eq!(PartInfo::parse(&bad_size), None);
    }

    #[test]
    fn a_matching_partial_is_found_and_locked() {
        let dir = scratch("match");
        let part = leave_partial(&dir, &info("a-1"), b"0123");
        let mut offer = info("a-1");
        offer.from = "alice".to_string(); // nicknames compare without case
        let found = find(&dir, &offer).expect("found");
        assert_eq!((found.path.as_path(), found.len), (part.as_path(), 4));
        assert!(open_unused(&part).is_none(), "locked while in use");
        assert!(find(&dir, &offer).is_none(), "not found twice");
        drop(found);
        assert!(find(&dir, &offer).is_some(), "unlocked once let go");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_version_is_never_extended() {
        let dir = scratch("version");
        let part = leave_partial(&dir, &info("a-1"), b"0123");
        assert!(find(&dir, &info("a-2")).is_none());
        assert!(part.exists(), "kept until the new version is taken");
        forget_other_versions(&dir, &info("a-2"));
        assert!(!part.exists(), "then the stale partial is deleted");
        assert!(!record_path(&part).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_partial_longer_than_the_file_is_discarded() {
        let dir = scratch("long");
        let part = leave_partial(&dir, &info("a-1"), b"0123456789AB");
        assert!(find(&dir, &info("a-1")).is_none());
        assert!(!part.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn other_files_are_left_alone() {
        let dir = scratch("others");
        let part = leave_partial(&dir, &info("a-1"), b"0123");
        let mut other = info("a-1");
        other.name = "other.iso".to_string();
        assert!(find(&dir, &other).is_none());
        other = info("a-1");
        other.from = "bob".to_string();
        assert!(find(&dir, &other).is_none());
        assert!(part.exists(), "another sender's or file's partial stays");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sweeping_deletes_only_old_unused_partials() {
        let dir = scratch("sweep");
        let part = leave_partial(&dir, &info("a-1"), b"0123");
        fs::write(dir.join(".orphan.part.info"), "x").unwrap();
        fs::write(dir.join("kept.txt"), "x").unwrap();
        assert_eq!(sweep(&dir, Duration::from_secs(3600)), 0);
        assert!(part.exists());
        assert!(!dir.join(".orphan.part.info").exists());
        let in_use = open_unused(&part).unwrap();
        assert_eq!(sweep(&dir, Duration::ZERO), 0, "in use: kept");
        drop(in_use);
        assert_eq!(sweep(&dir, Duration::ZERO), 1);
        assert!(!part.exists() && !record_path(&part).exists());
        assert!(dir.join("kept.txt").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
