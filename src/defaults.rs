//! The defaults both programs start from: where the server listens, and
//! how large the pieces of a file are. None of these is part of the wire
//! format: a server on another port, or a client with other chunks, speaks
//! the same protocol.

/// The ports the server listens on by default: the three of the original
/// course project, so that each can serve as a separate way in.
pub const DEFAULT_PORTS: [u16; 3] = [5555, 5556, 5557];

/// The address both programs use by default: loopback, so nothing is
/// reachable from the network unless the user asks for it with `--host`.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The chunk size the client uses unless told otherwise (`--chunk-size`).
///
/// Chosen by measurement (`cargo bench -- chunk-size`; the numbers are in
/// BENCHMARKS.md): relayed throughput rises steeply with the chunk size up
/// to 256 KiB and levels off after it, and 1 KiB chunks, the original
/// program's, are about ten times slower. Small chunks pay a header, a few
/// system calls and a thread wake-up each; larger ones only hold more
/// memory per recipient. The largest allowed is
/// [`MAX_CHUNK_LEN`](crate::protocol::MAX_CHUNK_LEN).
pub const DEFAULT_CHUNK_LEN: usize = 256 * 1024;
