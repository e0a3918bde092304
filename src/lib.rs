//! # ftpchat: a chat server and client with file transfer, on `std` alone
//!
//! This library holds everything the two programs must agree on. The
//! server (`src/bin/ftpserver.rs`) and the client (`src/bin/ftpclient.rs`)
//! both use it, so a message is written and read by the same code.
//!
//! ## Map of the library
//!
//! | module | what it holds | the networking idea |
//! |---|---|---|
//! | [`text`] | escaping what could steer a terminal; sizes for people | never print a peer's bytes raw |
//! | [`protocol`] | framing ([`protocol::FrameReader`]), limits, error codes, message types | framing a byte stream into lines and chunks; bounding input |
//! | [`defaults`] | default ports, host and chunk size | (plain Rust) |
//! | [`checksum`] | the `cksum` CRC | end-to-end integrity |
//! | [`files`] | safe names, temporary files, publishing | never trust a name; all-or-nothing saving |
//! | [`input`] | what a typed line means (`/msg`, `/who`, ...) | one parser for both kinds of client |
//! | [`display`] | the text a person sees for each message | one look for both kinds of client |
//! | [`trace`] | the lines `--trace` prints | watching a protocol on the wire |
//! | [`keepalive`] | `PING` after silence, give up after more | noticing a peer that vanished (half-open connections) |
//! | [`cli`] | command-line options | (plain Rust) |
//! | [`clock`] | timestamps for log lines | (plain Rust) |
//!
//! The two programs, and an example, are not part of the library; their
//! files are:
//!
//! | file | what it holds | the networking idea |
//! |---|---|---|
//! | `src/bin/ftpserver.rs` | listening, the accept loop, the handshake, the loop that reads a client | sockets; one thread per connection |
//! | `src/bin/ftpserver/clients.rs` | the registry of connected clients | state shared between threads: one `Mutex<HashMap>` |
//! | `src/bin/ftpserver/outbox.rs` | each client's send queue and writer thread | a slow reader must not stall the others |
//! | `src/bin/ftpserver/relay.rs` | passing a file on, chunk by chunk | backpressure: the pace of the slowest receiver |
//! | `src/bin/ftpclient.rs` | connecting, joining, a thread for each direction | a client reads and writes at once |
//! | `src/bin/ftpclient/transfers.rs` | sending a file from disk, saving one | streaming with flat memory; overlapping disk and network |
//! | `src/bin/ftpclient/terminal.rs` | the input line, kept whole while messages arrive | (terminals, not networks) |
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
//! Functions of the two programs are named with their file; those of this
//! library are links.
//!
//! 1. Alice types `hello`. In `ftpclient.rs`, `chat` reads the line,
//!    [`input::parse_input`] says it is [`input::Input::Chat`], and
//!    `Client::send` writes [`protocol::ClientMessage::Chat`] as the bytes
//!    `CHAT hello\n`, in one write.
//! 2. On the server, the thread for Alice's connection (`handle_client` in
//!    `ftpserver.rs`) is waiting in `Session::relay`. It reads the line
//!    with [`protocol::read_line`], decodes it with
//!    [`protocol::ClientMessage::decode`], and `Session::chat` stamps it
//!    with her nickname as [`protocol::ServerMessage::Chat`]:
//!    `CHAT alice hello\n`.
//! 3. `Clients::broadcast` (`ftpserver/clients.rs`) looks up the other
//!    members under the registry's lock, and after releasing it,
//!    `Outbox::send` (`ftpserver/outbox.rs`) puts the same bytes in each
//!    one's queue. Each member's writer thread, `Outbox::run_writer`,
//!    writes them to its socket.
//! 4. Bob's receiver thread (`receive` in `ftpclient.rs`) reads the line,
//!    decodes it with [`protocol::ServerMessage::decode`], and prints
//!    [`display::describe`]'s text: `<alice> hello`. A plain client gets
//!    that same text from the server instead of the protocol line.
//!
//! ## The journey of one file
//!
//! 1. Alice types `transfer report.pdf`. `start_upload`
//!    (`ftpclient/transfers.rs`) starts a thread that sends
//!    [`protocol::ClientMessage::Send`] and waits for the server's
//!    [`protocol::ServerMessage::Accepted`]. On the server,
//!    `Session::offer_file` (`ftpserver/relay.rs`) picks the recipients
//!    and announces the file to them with [`protocol::ServerMessage::File`].
//! 2. A reader thread (`FileReader`) reads the file one chunk at a time
//!    and feeds each chunk to a [`checksum::Cksum`]; the upload thread
//!    writes each as a `DATA` frame (a [`protocol::ClientMessage::Data`]
//!    header, then the bytes) with `Client::send_data`, which uses
//!    [`protocol::write_all_vectored`]. Last comes `DONE` with the
//!    checksum.
//! 3. The server's `Session::relay_chunk` reads each chunk once, from the
//!    same buffered reader as the lines, and queues the same bytes, behind
//!    a [`protocol::ServerMessage::Data`] header, for every recipient.
//!    Full queues make it wait, which stops it reading from Alice, which
//!    slows Alice down through TCP's flow control: backpressure.
//! 4. Bob's `Downloads::begin` creates a file with
//!    [`files::create_temp_file`]; `Downloads::data` passes each chunk to
//!    a thread that writes it; `Downloads::done` compares the checksums
//!    and names the file with [`files::publish`] under
//!    [`files::safe_file_name`]. Bob answers `RECEIVED`, which the server
//!    passes to Alice as `DELIVERED`.
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
