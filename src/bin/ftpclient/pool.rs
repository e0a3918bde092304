//! Bounded memory between the socket and the disk.
//!
//! A chunk of a file received travels from the socket's thread, through
//! the control loop, to the thread that writes its file. If the disk were
//! slower than the network and nothing stopped the socket's thread, the
//! chunks in between would pile up in memory without limit. So chunks
//! travel in buffers from a [`ChunkPool`], which lends out at most
//! [`POOL_BYTES`] at a time: when that much is on its way to the disk,
//! the socket's thread waits for a buffer to come back. While it waits it
//! reads nothing, the socket's receive buffer fills, and TCP's flow control
//! slows the server down: backpressure, all the way to the sender.
//!
//! A buffer goes back to the pool when it is dropped, wherever that
//! happens (written to disk, or thrown away with a cancelled file), so a
//! buffer can never be lost and the pool never runs dry by mistake. Its
//! memory is kept for the next chunk, so a long transfer allocates only a
//! few buffers in all.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Most bytes of chunks on their way to the disk at once: eight chunks of
/// the default 256 KiB, or two of the largest allowed.
pub const POOL_BYTES: usize = 2 * 1024 * 1024;

/// Lends out buffers for chunks, up to [`POOL_BYTES`] at a time.
#[derive(Default)]
pub struct ChunkPool {
    state: Mutex<PoolState>,
    /// Signalled when a buffer comes back.
    returned: Condvar,
}

#[derive(Default)]
struct PoolState {
    /// Bytes lent out and not yet back.
    lent: usize,
    /// Buffers back from earlier chunks, ready to be lent again.
    spare: Vec<Vec<u8>>,
}

/// A buffer lent by a [`ChunkPool`]; it goes back when dropped.
pub struct PooledBuf {
    bytes: Vec<u8>,
    /// The size counted against the pool for this buffer.
    counted: usize,
    pool: Arc<ChunkPool>,
}

impl ChunkPool {
    /// An empty pool.
    pub fn new() -> Arc<ChunkPool> {
        Arc::new(ChunkPool::default())
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty buffer with room for `len` bytes. Waits while lending it
    /// would put more than [`POOL_BYTES`] out (unless nothing is out: one
    /// chunk always fits, whatever its size).
    pub fn take(self: &Arc<Self>, len: usize) -> PooledBuf {
        let state = self.lock();
        let mut state = self
            .returned
            .wait_while(state, |state| {
                state.lent > 0 && state.lent + len > POOL_BYTES
            })
            .unwrap_or_else(PoisonError::into_inner);
        state.lent += len;
        let mut bytes = state.spare.pop().unwrap_or_default();
        drop(state);
        bytes.clear();
        bytes.reserve(len);
        PooledBuf {
            bytes,
            counted: len,
            pool: Arc::clone(self),
        }
    }

    /// Bytes lent out right now.
    #[cfg(test)]
    fn lent(&self) -> usize {
        self.lock().lent
    }
}

impl Deref for PooledBuf {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.bytes
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        state.lent -= self.counted;
        // Keep a few buffers for the next chunks; more would only hold
        // memory the pool no longer needs.
        if state.spare.len() < 8 {
            state.spare.push(std::mem::take(&mut self.bytes));
        }
        drop(state);
        self.pool.returned.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn a_full_pool_waits_until_a_buffer_comes_back() {
        let pool = ChunkPool::new();
        let first = pool.take(POOL_BYTES / 2);
        let second = pool.take(POOL_BYTES / 2);
        assert_eq!(pool.lent(), POOL_BYTES);
        let (sender, taken) = mpsc::channel();
        let waiting = Arc::clone(&pool);
        thread::spawn(move || sender.send(waiting.take(1024).counted).unwrap());
        assert!(
            taken.recv_timeout(Duration::from_millis(100)).is_err(),
            "the pool is full: the third buffer waits"
        );
        drop(first);
        assert_eq!(taken.recv_timeout(Duration::from_secs(5)), Ok(1024));
        drop(second);
    }

    #[test]
    fn a_chunk_larger_than_the_pool_is_still_lent_alone() {
        let pool = ChunkPool::new();
        let big = pool.take(POOL_BYTES * 2);
        assert_eq!(pool.lent(), POOL_BYTES * 2);
        drop(big);
        assert_eq!(pool.lent(), 0);
    }

    #[test]
    fn buffers_are_reused() {
        let pool = ChunkPool::new();
        let mut buf = pool.take(1000);
        buf.extend_from_slice(&[7; 1000]);
        let address = buf.as_ptr();
        drop(buf);
        let again = pool.take(1000);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), address, "the same memory, lent again");
    }
}
