//! Helpers shared by the integration tests: start the real binaries, talk
//! to them through pipes and raw sockets, and wait (with a timeout) for the
//! lines we expect. Every process is killed when its guard is dropped, so a
//! failing test leaves nothing running.

#![allow(dead_code)] // each test file uses a different part of this module

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub const SERVER: &str = env!("CARGO_BIN_EXE_ftpserver");
pub const CLIENT: &str = env!("CARGO_BIN_EXE_ftpclient");

/// A fresh, empty folder for the running test, named after it, used as
/// the working directory of the processes it starts. (The test harness
/// runs each test on a thread named after the test.)
pub fn scratch_dir() -> PathBuf {
    let thread = thread::current();
    let test_name = thread.name().expect("tests run on named threads");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test_name.replace("::", "-"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch folder can be created");
    dir
}

/// The `cksum` of `bytes`, as the programs compute it.
pub fn cksum(bytes: &[u8]) -> u32 {
    let mut sum = ftpchat::checksum::Cksum::new();
    sum.update(bytes);
    sum.finish()
}

/// Joins a client whose working folder is `dir`, with extra arguments,
/// and waits until it is in.
pub fn join_with(dir: &Path, server: &ServerProcess, nick: &str, args: &[&str]) -> ClientProcess {
    let mut all = vec!["--nick", nick];
    all.extend_from_slice(args);
    let mut client = ClientProcess::start(dir, server.addr(), &all);
    client.stdout.expect("online:");
    client
}

/// A folder for one client of a test, created empty inside `test_dir`.
pub fn client_dir(test_dir: &Path, nick: &str) -> PathBuf {
    let dir = test_dir.join(nick);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The lines a child process prints on one of its outputs, collected by a
/// thread so the child never blocks on a full pipe.
pub struct Lines {
    receiver: Receiver<String>,
    /// Every line seen so far, for error messages.
    seen: Vec<String>,
    /// Whose output this is, for error messages.
    pub name: String,
}

impl Lines {
    fn spawn(output: impl Read + Send + 'static, name: String) -> Lines {
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(output);
            let mut line = Vec::new();
            while let Ok(n) = reader.read_until(b'\n', &mut line) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches(['\n', '\r'])
                    .to_string();
                if sender.send(text).is_err() {
                    break;
                }
                line.clear();
            }
        });
        Lines {
            receiver,
            seen: Vec::new(),
            name,
        }
    }

    /// The next line, or `None` at the end of the output. Panics after
    /// [`TIMEOUT`].
    pub fn next(&mut self) -> Option<String> {
        match self.receiver.recv_timeout(TIMEOUT) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "{}: no line within {TIMEOUT:?}; saw {:#?}",
                    self.name, self.seen
                )
            }
        }
    }

    /// Reads lines until one contains `needle` and returns it.
    pub fn expect(&mut self, needle: &str) -> String {
        self.until(needle)
            .pop()
            .expect("until returns at least the match")
    }

    /// Reads lines until one contains `needle`; returns all of them, the
    /// match last.
    pub fn until(&mut self, needle: &str) -> Vec<String> {
        self.until_within(needle, TIMEOUT)
    }

    /// Like [`Lines::until`], waiting up to `timeout` in all.
    pub fn until_within(&mut self, needle: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    let found = line.contains(needle);
                    lines.push(line);
                    if found {
                        return lines;
                    }
                }
                Err(error) => panic!(
                    "{}: no line containing {needle:?} ({error:?}); saw {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// The lines that have arrived so far, without waiting for more.
    pub fn rest_now(&mut self) -> Vec<String> {
        let lines: Vec<String> = self.receiver.try_iter().collect();
        self.seen.extend(lines.iter().cloned());
        lines
    }

    /// All remaining lines, up to the end of the output.
    pub fn rest(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(line) = self.next() {
            lines.push(line);
        }
        lines
    }
}

/// A running child process (the server, a client, or any program): we
/// write its standard input and read its two outputs line by line. It is
/// killed when dropped, so a failing test leaves nothing running.
pub struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    pub stdout: Lines,
    pub stderr: Lines,
}

impl Process {
    /// Starts `command` with piped standard input and outputs; `name`
    /// labels its output in failures.
    pub fn spawn_command(mut command: Command, name: &str) -> Process {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the program starts");
        let stdout = Lines::spawn(child.stdout.take().unwrap(), format!("{name} stdout"));
        let stderr = Lines::spawn(child.stderr.take().unwrap(), format!("{name} stderr"));
        let stdin = child.stdin.take();
        // The guard exists before anything can fail, so a process that
        // never says what we wait for is still killed.
        Process {
            child,
            stdin,
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Types one line on its standard input.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("the process reads its input");
        stdin.flush().unwrap();
    }

    /// Writes bytes to its standard input as they are (a key such as
    /// Ctrl-C, byte 3, for a program on a terminal).
    pub fn write_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).expect("the process reads its input");
        stdin.flush().unwrap();
    }

    /// Ends its standard input, as a script that has run out of lines.
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Waits up to [`TIMEOUT`] for it to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait works") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {TIMEOUT:?}",
                self.stdout.name
            );
            thread::sleep(Duration::from_millis(10)); // polling an exit, not synchronising
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends `signal` (`STOP`, `CONT`, ...) to `process`, as `kill` does.
pub fn signal(process: &Process, signal: &str) {
    let kill = format!("kill -{signal} {}", process.pid());
    let status = Command::new("sh").arg("-c").arg(&kill).status().unwrap();
    assert!(status.success(), "`{kill}` works");
}

/// Waits (at most [`TIMEOUT`]) until the file at `path` holds at least
/// `len` bytes: a receiver's disk thread has written them.
pub fn wait_for_len(path: &Path, len: u64) {
    let deadline = Instant::now() + TIMEOUT;
    while fs::metadata(path).map(|m| m.len()).unwrap_or(0) < len {
        assert!(
            Instant::now() < deadline,
            "{} never reached {len} bytes",
            path.display()
        );
        thread::sleep(Duration::from_millis(2)); // polling a file, not synchronising
    }
}

/// Runs `program` with `args` on a pseudo-terminal (through `script`, a
/// standard tool), so that it sees a terminal and reads keys; `None`
/// where `script` is missing.
pub fn in_terminal(dir: &Path, program: &str, args: &[&str], name: &str) -> Option<Process> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed, so no pseudo-terminal");
        return None;
    }
    let mut line = format!("'{program}'");
    for arg in args {
        line.push_str(&format!(" '{arg}'"));
    }
    let mut command = Command::new("script");
    command
        .args(["-qfec", &line, "/dev/null"])
        .env("TERM", "xterm")
        .current_dir(dir);
    Some(Process::spawn_command(command, name))
}

/// A running `ftpserver`, with the addresses it announced.
pub struct ServerProcess {
    process: Process,
    /// The addresses from its `listening on` lines.
    pub addrs: Vec<SocketAddr>,
}

impl ServerProcess {
    /// Starts a server on one OS-chosen port of 127.0.0.1.
    pub fn start(dir: &Path) -> ServerProcess {
        ServerProcess::start_with(dir, &["--port", "0"])
    }

    /// Starts a server with these arguments, which must give the ports.
    pub fn start_with(dir: &Path, args: &[&str]) -> ServerProcess {
        let listeners = args.iter().filter(|a| **a == "--port").count().max(1);
        let mut command = Command::new(SERVER);
        command.args(args).current_dir(dir);
        ServerProcess::start_command(command, listeners)
    }

    /// Starts a server with `command` (which runs `ftpserver` somehow) and
    /// reads its `listening on` lines, one per listener.
    pub fn start_command(command: Command, listeners: usize) -> ServerProcess {
        let mut server = ServerProcess {
            process: Process::spawn_command(command, "server"),
            addrs: Vec::new(),
        };
        for _ in 0..listeners {
            let line = server
                .stdout
                .next()
                .expect("the server announces its address");
            let addr = line
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
            server
                .addrs
                .push(addr.parse().expect("the announced address parses"));
        }
        server
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Types a line on the server's console.
    pub fn console(&mut self, line: &str) {
        self.process.send(line);
    }

    /// Ends the server's standard input.
    pub fn close_console(&mut self) {
        self.process.close_input();
    }
}

impl Deref for ServerProcess {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.process
    }
}

impl DerefMut for ServerProcess {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// A running `ftpclient` driven through its standard input and output (so
/// it runs in scripted mode).
pub struct ClientProcess(Process);

impl ClientProcess {
    /// Starts a client called `nick` and waits until it has joined.
    pub fn join(dir: &Path, server: SocketAddr, nick: &str) -> ClientProcess {
        let mut client = ClientProcess::start(dir, server, &["--nick", nick]);
        client.stdout.expect("online:");
        client
    }

    /// Starts a client for `server` with extra arguments, without waiting.
    pub fn start(dir: &Path, server: SocketAddr, args: &[&str]) -> ClientProcess {
        let port = server.port().to_string();
        let host = server.ip().to_string();
        let mut all = vec!["--host", &host, "--port", &port];
        all.extend_from_slice(args);
        ClientProcess::spawn(dir, &all)
    }

    /// Starts a client with exactly these arguments (and none of the
    /// `FTPCHAT_` variables the tests' own environment may hold).
    pub fn spawn(dir: &Path, args: &[&str]) -> ClientProcess {
        let mut command = Command::new(CLIENT);
        command.args(args).current_dir(dir);
        for variable in ["FTPCHAT_NICK", "FTPCHAT_HOST", "FTPCHAT_PORT"] {
            command.env_remove(variable);
        }
        let name = args
            .iter()
            .skip_while(|a| **a != "--nick")
            .nth(1)
            .unwrap_or(&"client");
        ClientProcess::spawn_command(command, name)
    }

    /// Starts `command` (a client, or any program); `name` labels its
    /// output in failures.
    pub fn spawn_command(command: Command, name: &str) -> ClientProcess {
        ClientProcess(Process::spawn_command(command, name))
    }
}

impl Deref for ClientProcess {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.0
    }
}

impl DerefMut for ClientProcess {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.0
    }
}

/// A bare TCP connection to the server, for speaking the protocol byte by
/// byte, as `nc` would.
pub struct RawClient {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).expect("the server accepts connections");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        RawClient { stream, reader }
    }

    /// Connects and joins as a full client called `nick`, reading the
    /// greeting up to the list of users.
    pub fn join_full(addr: SocketAddr, nick: &str) -> RawClient {
        let mut client = RawClient::connect(addr);
        client.send(format!("HELLO ftpchat/1 {nick}\n").as_bytes());
        assert_eq!(client.read_line(), format!("WELCOME {nick}\n"));
        client.read_until("USERS ");
        client
    }

    /// Connects and joins as a plain client called `nick`.
    pub fn join_plain(addr: SocketAddr, nick: &str) -> RawClient {
        let mut client = RawClient::connect(addr);
        client.send(format!("{nick}\n").as_bytes());
        client.read_until(" online: ");
        client
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .expect("the server takes our bytes");
    }

    /// The next line, with its line ending, exactly as sent. Panics on a
    /// timeout; returns an empty string at end of stream.
    pub fn read_line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .unwrap_or_else(|e| panic!("no line from the server: {e}"));
        String::from_utf8(line).expect("the server sends UTF-8")
    }

    /// Reads lines until one contains `needle`; returns that line.
    pub fn read_until(&mut self, needle: &str) -> String {
        let mut seen = Vec::new();
        loop {
            let line = self.read_line();
            assert!(
                !line.is_empty(),
                "connection closed before {needle:?}; saw {seen:?}"
            );
            if line.contains(needle) {
                return line;
            }
            seen.push(line);
        }
    }

    /// Reads exactly `len` bytes (the payload of a `DATA` frame).
    pub fn read_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        self.reader
            .read_exact(&mut bytes)
            .expect("the whole chunk arrives");
        bytes
    }

    /// Waits for the server to close the connection; returns whatever it
    /// sent before closing.
    pub fn expect_close(&mut self) -> String {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!(
                "the connection did not close: {e}; got {:?}",
                String::from_utf8_lossy(&rest)
            ),
        }
        String::from_utf8_lossy(&rest).into_owned()
    }
}

/// A small, fast, reproducible random number generator (xorshift64*):
/// the same seed always gives the same numbers.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A reader that returns at most `step` bytes per call, as TCP may.
pub struct Dribble<'a> {
    pub data: &'a [u8],
    pub step: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.data.len().min(self.step).min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// `len` bytes that look random and use every byte value, the same for
/// the same `seed`.
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// The names in `dir`, hidden ones included, sorted; empty if `dir` does
/// not exist.
pub fn list_dir(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
