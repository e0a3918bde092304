//! The resume workload: a 1 GiB file interrupted at 60% by a server
//! killed (SIGKILL) and restarted, against the same file sent whole.
//!
//! The receiver is frozen (SIGSTOP) once 60% of the file is on its disk,
//! so the transfer stands still there; the server is then killed, a new
//! one started on the same port, and the receiver thawed. Both clients
//! reconnect on their own, the sender offers the file again, and the
//! receiver resumes from its partial file. The new server's `--trace`
//! counts the bytes sent again, and the clock runs from the new server's
//! start to the file saved and checked. Without resuming, all of the
//! file would be sent again.

use crate::common::{ClientProcess, ServerProcess, signal, wait_for_len};
use crate::report::{Report, Stats};
use crate::system::{random_file, scratch, warm_memory};
use crate::transfer::ftpchat_transfer;
use crate::{MIB, RUNS, WAIT};
use std::fs;
use std::path::Path;
use std::time::Instant;

/// Where the transfer is interrupted, in percent of the file.
const INTERRUPTED_AT_PERCENT: u64 = 60;

pub fn resume(report: &mut Report) {
    let dir = scratch("resume");
    let file = dir.join("resume.bin");
    let len = 1024 * MIB;
    random_file(&file, len);
    let (mut resent, mut kept, mut finish, mut whole) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let run = interrupted_transfer(&dir, &file, len);
        resent.push(run.resent as f64 / len as f64 * 100.0);
        kept.push(run.offset as f64 / len as f64 * 100.0);
        finish.push(run.secs);
        whole.push(ftpchat_transfer(&dir, &file, 1, None, &dir, true).secs);
    }
    let ratio = Stats::of(&finish).median / Stats::of(&whole).median;
    report.add(
        "resume",
        "kept by the receiver at the restart, % of the file",
        &kept,
        format!("interrupted at {INTERRUPTED_AT_PERCENT}%"),
    );
    report.add(
        "resume",
        "sent again after the restart, % of the file",
        &resent,
        "without resuming: 100%".to_string(),
    );
    report.add(
        "resume",
        "the whole file, uninterrupted, s",
        &whole,
        String::new(),
    );
    report.add(
        "resume",
        "restart to file saved, s",
        &finish,
        format!("ratio {ratio:.2} of the whole file's time (reconnecting included)"),
    );
    let _ = fs::remove_file(file);
}

/// What one interrupted transfer cost.
struct Interrupted {
    /// Where the receiver resumed from (bytes it kept).
    offset: u64,
    /// File data the sender sent again after the restart, in bytes.
    resent: u64,
    /// Seconds from the new server's start to the file saved.
    secs: f64,
}

fn interrupted_transfer(dir: &Path, file: &Path, len: u64) -> Interrupted {
    let home = dir.join("receiver");
    let _ = fs::remove_dir_all(&home);
    fs::create_dir_all(&home).unwrap();
    let mut first = ServerProcess::start(dir);
    let addr = first.addr();
    let mut receiver = ClientProcess::start(&home, addr, &["--nick", "receiver"]);
    receiver.stdout.until_within("online:", WAIT);
    let folder = file.parent().unwrap();
    let mut sender = ClientProcess::start(folder, addr, &["--nick", "sender"]);
    sender.stdout.until_within("online:", WAIT);
    receiver.stdout.until_within("sender joined", WAIT);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    sender.send(&format!("transfer {name}"));
    let part = home.join("rec").join(format!(".{name}.part"));
    wait_for_len(&part, len * INTERRUPTED_AT_PERCENT / 100);
    signal(&receiver, "STOP");
    first.kill();

    let port = addr.port().to_string();
    warm_memory(dir, len);
    let started = Instant::now();
    let mut second = ServerProcess::start_with(dir, &["--port", &port, "--trace"]);
    signal(&receiver, "CONT");
    receiver
        .stdout
        .until_within(&format!("* received {name}"), WAIT);
    let secs = started.elapsed().as_secs_f64();
    let saved = home.join("rec").join(&name);
    assert_eq!(fs::metadata(&saved).unwrap().len(), len, "{saved:?}");
    let frames = second.stderr.until_within(" receiver ok", WAIT);
    Interrupted {
        offset: accepted_offset(&frames),
        resent: data_bytes(&frames),
        secs,
    }
}

/// The offset of the last `ACCEPT` in a server's trace.
fn accepted_offset(frames: &[String]) -> u64 {
    frames
        .iter()
        .rev()
        .find_map(|line| line.split_once(" ACCEPT "))
        .and_then(|(_, fields)| fields.split(' ').nth(1)?.parse().ok())
        .expect("the receiver accepted")
}

/// The file data clients sent, in bytes, in a server's trace.
fn data_bytes(frames: &[String]) -> u64 {
    frames
        .iter()
        .filter(|line| line.contains(" <- "))
        .filter_map(|line| line.split_once(" DATA "))
        .filter_map(|(_, fields)| fields.split(' ').nth(1)?.parse::<u64>().ok())
        .sum()
}
