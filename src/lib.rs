//! # ftpchat: a chat server and client with file transfer, on `std` alone
//!
//! This library holds everything the two programs must agree on. The
//! server (`src/bin/ftpserver.rs`) and the client (`src/bin/ftpclient.rs`)
//! both use it, so a message is written and read by the same code. It
//! prints nothing.
//!
//! ## Map of the library
//!
//! | module | what it holds | the networking idea |
//! |---|---|---|
//! | [`protocol`] | the wire format: [`protocol::framing`] ([`protocol::FrameReader`]), [`protocol::errors`], [`protocol::fields`], [`protocol::client`], [`protocol::server`] | framing a byte stream into lines and chunks; bounding input |
//! | [`text`] | escaping what could steer a terminal; sizes for people | never print a peer's bytes raw |
//! | [`display`] | the text a person sees for each message | one look for both kinds of client |
//! | [`checksum`] | the `cksum` CRC | end-to-end integrity |
//! | [`files`] | safe names, temporary files, publishing | never trust a name; all-or-nothing saving |
//! | [`input`] | what a typed line means (`/msg`, `/who`, ...) | one parser for both kinds of client |
//! | [`trace`] | the lines `--trace` prints | watching a protocol on the wire |
//! | [`keepalive`] | `PING` after silence, give up after more | noticing a peer that vanished (half-open connections) |
//! | [`defaults`] | default ports, host and chunk size | (plain Rust) |
//! | [`cli`] | command-line options | (plain Rust) |
//! | [`clock`] | timestamps for log lines | (plain Rust) |
//! | [`tty`] | terminal modes through `stty` (Ctrl-C as a key) | (terminals, not networks) |
//!
//! No module of the library uses another in a circle: [`text`] uses
//! nothing, [`protocol`] uses [`text`], and the rest build on those two.
//!
//! The two programs, and an example, are not part of the library. Each
//! program's root file lists its own files, one idea each:
//!
//! | file | what it holds | the networking idea |
//! |---|---|---|
//! | `src/bin/ftpserver.rs` | options, the console, start-up | (plain Rust) |
//! | `src/bin/ftpserver/listening.rs`, `connection.rs` | the accept loop; one connection from first byte to last | sockets; one thread per connection |
//! | `src/bin/ftpserver/handshake.rs`, `session.rs` | the first line; the loop over a member's messages | a protocol's states; keep-alive |
//! | `src/bin/ftpserver/registry.rs`, `transfers.rs` | who is connected, and the files in flight | state shared between threads: one `Mutex` |
//! | `src/bin/ftpserver/outbox.rs` | each client's send queue and writer thread | a slow reader must not stall the others |
//! | `src/bin/ftpserver/relay.rs` | passing a file on, chunk by chunk | backpressure: the pace of the slowest receiver |
//! | `src/bin/ftpserver/expiry.rs` | offers nobody answers, data that stops | timers in a threaded server |
//! | `src/bin/ftpclient.rs` | options, connecting, starting the threads | (plain Rust) |
//! | `src/bin/ftpclient/control.rs`, `events.rs` | the control loop and what it hears | one thread decides; the others report |
//! | `src/bin/ftpclient/receiver.rs`, `keyboard.rs` | the socket's and the keyboard's threads | a client reads and writes at once |
//! | `src/bin/ftpclient/uploads.rs`, `upload_thread.rs` | sending files: offers, answers, data | streaming with flat memory; one writer per file |
//! | `src/bin/ftpclient/downloads.rs`, `disk.rs`, `pool.rs` | receiving files: consent, saving | overlapping disk and network; all-or-nothing files |
//! | `src/bin/ftpclient/link.rs` | the connection of the moment; reconnecting | connections fail: retry with backoff |
//! | `src/bin/ftpclient/partial.rs`, `resume.rs` | what is kept of a file cut off; offering it again | resuming: identity, offsets, end-to-end checks |
//! | `src/bin/ftpclient/terminal.rs`, `editor.rs`, `progress.rs` | the screen, the input line, progress | (terminals, not networks) |
//! | `examples/raw_client.rs` | a client made of a bare `TcpStream` | the protocol with nothing around it |
//!
//! ## Vocabulary
//!
//! - **line**: one control message, UTF-8 text ending in `\n`.
//! - **chunk**: a piece of a file, sent as raw bytes right after a `DATA`
//!   line that gives its length.
//! - **frame**: one unit on the wire: a line, or a `DATA` line with its
//!   chunk.
//! - **peer**: the program at the other end of a TCP connection.
//! - **EOF**: end of file; on a socket, the peer closed its side cleanly.
//!   A read that returns 0 bytes means EOF.
//! - **full client**: `ftpclient`, which speaks the protocol of
//!   [`protocol`]; **plain client**: a person typing into `nc` or `telnet`.
//!
//! ## The journey of one chat line
//!
//! Functions of the two programs are named with their file (a test checks
//! that each still exists); those of this library are links.
//!
//! 1. Alice types `hello`. Her keyboard's thread (`ftpclient/keyboard.rs`)
//!    passes the line to the control loop, where `Client::typed`
//!    (`ftpclient/control.rs`) asks [`input::parse_input`], which says it
//!    is [`input::Input::Chat`]. `Client::say` writes
//!    [`protocol::ClientMessage::Chat`] as the bytes `CHAT hello\n` with
//!    `Connection::send` (`ftpclient/connection.rs`), in one write.
//! 2. On the server, the thread for Alice's connection is waiting in
//!    `Session::serve` (`ftpserver/session.rs`). Its
//!    [`protocol::FrameReader`] hands out the line,
//!    [`protocol::ClientMessage::decode`] decodes it, and `Session::chat`
//!    stamps it with her nickname as [`protocol::ServerMessage::Chat`]:
//!    `CHAT alice hello\n`.
//! 3. `Clients::broadcast` (`ftpserver/registry.rs`) looks up the other
//!    members under the registry's lock, and after releasing it,
//!    `Outbox::send` (`ftpserver/outbox.rs`) puts the same bytes in each
//!    one's queue. Each member's writer thread, `Shared::run_writer`
//!    (`ftpserver/outbox.rs`), writes them to its socket.
//! 4. Bob's socket thread, `Receiver::receive` (`ftpclient/receiver.rs`),
//!    reads the line through its own frame reader and passes it to his
//!    control loop. `Client::server_line` (`ftpclient/control.rs`) decodes
//!    it with [`protocol::ServerMessage::decode`] and prints
//!    [`display::describe`]'s text: `<alice> hello`. A plain client gets
//!    that same text from the server instead of the protocol line.
//!
//! ## The journey of one file
//!
//! 1. Alice types `transfer report.pdf`. `Uploads::start`
//!    (`ftpclient/uploads.rs`) sends [`protocol::ClientMessage::Send`]. On
//!    the server, `Files::offer` (`ftpserver/relay.rs`) picks the
//!    recipients with `Clients::start_relay` (`ftpserver/registry.rs`),
//!    offers the file to them with [`protocol::ServerMessage::File`], and
//!    answers Alice with [`protocol::ServerMessage::Accepted`].
//! 2. Bob's `Downloads::offer` (`ftpclient/downloads.rs`) takes the offer
//!    (or asks Bob, who types `/accept`): `Downloads::start` creates a
//!    temporary file with [`files::create_temp_file`] and answers
//!    [`protocol::ClientMessage::Accept`]. The server's
//!    `Transfers::accept` (`ftpserver/transfers.rs`) tells Alice with
//!    [`protocol::ServerMessage::Receiving`].
//! 3. `Uploads::receiving` starts the file's data thread, `run_from`
//!    (`ftpclient/upload_thread.rs`). A `FileReader` thread reads the file
//!    one chunk at a time and feeds each chunk to a [`checksum::Cksum`];
//!    the data thread writes each as a `DATA` frame (a
//!    [`protocol::ClientMessage::Data`] header, then the bytes) with
//!    `Connection::send_data`, which uses
//!    [`protocol::write_all_vectored`]. Last comes `DONE` with the
//!    checksum.
//! 4. On the server, the frame reader hands out each `DATA` frame as a
//!    [`protocol::Chunk`], and `Files::relay_chunk` (`ftpserver/relay.rs`)
//!    reads it once and queues the same bytes, behind a
//!    [`protocol::ServerMessage::Data`] header, for every recipient that
//!    needs them (`Transfers::plan_chunk`), never waiting for a slow one.
//!    When every copy has been written, Alice gets that much credit back
//!    (`Flow::free` in `ftpserver/flow.rs`, as `MORE`): she sends at the
//!    pace of her slowest recipient, and the server never stops reading her
//!    (flow control, see [`protocol::flow`]).
//! 5. Bob's socket thread reads each chunk into a buffer lent by his
//!    `ChunkPool` (`ftpclient/pool.rs`), and the file's disk thread,
//!    `write_file` (`ftpclient/disk.rs`), writes it; at `DONE`, `save`
//!    compares the checksums and names the file with [`files::publish`]
//!    under [`files::safe_file_name`]. `Downloads::saved` answers
//!    `RECEIVED`, which `Clients::report_delivery`
//!    (`ftpserver/registry.rs`) passes to Alice as `DELIVERED`.
//!
//! With `--trace`, both programs print each of these frames as it goes by
//! (see [`trace`]).
//!
//! `PROTOCOL.md` in the repository is the full specification of the wire
//! format.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checksum;
pub mod cli;
pub mod clock;
pub mod defaults;
pub mod display;
pub mod files;
pub mod input;
pub mod keepalive;
pub mod protocol;
pub mod text;
pub mod trace;
pub mod tty;
