//! End-to-end integrity: the POSIX `cksum` checksum.
//!
//! TCP already checks each segment with a 16-bit checksum, but that check is
//! weak, and it only covers each hop: a file passes through the sender's
//! disk, the sender, the server, the receiver and the receiver's disk, and
//! any of them can corrupt it. So the sender computes a checksum over the
//! whole file as it reads it, the receiver computes one over what it wrote,
//! and the file is kept only if the two agree. This is the *end-to-end
//! argument*: only the ends can check the end-to-end result.
//!
//! The algorithm is the CRC that the POSIX `cksum` command prints, so a
//! user can check any copy by hand: `cksum rec/report.pdf` prints the same
//! number the client did. (A CRC detects accidents, not tampering; for that
//! one would need a cryptographic hash such as SHA-256, at several times
//! the cost.)
//!
//! A CRC divides the message, as a long binary number, by a fixed
//! polynomial and keeps the remainder. Done bit by bit that is slow, so we
//! use lookup tables: "slicing-by-8" consumes 8 bytes per step with 8
//! table lookups.
//!
//! # Folding: most of the work without tables
//!
//! What the CRC keeps is the remainder, so any change to the message that
//! adds a multiple of the polynomial leaves the CRC as it was. Some
//! multiples have only three terms: this polynomial divides
//! x^(8·91639) + x^(8·41678) + 1 (`FAR_BYTES` and `NEAR_BYTES`). The
//! pair was found by computing x^(8·n) modulo the polynomial for growing
//! `n` until one value and an earlier one differed by exactly 1; a test
//! checks it. A byte followed by `FAR_BYTES` more bytes stands for
//! x^(8·FAR_BYTES) times something; adding that multiple replaces it with
//! the same byte `FAR_BYTES - NEAR_BYTES` and `FAR_BYTES` bytes further
//! on. So [`Cksum`] *folds* each 8-byte word of a long input forward into
//! two words ahead of it (two XORs, no table), and the message keeps its
//! CRC while its front becomes, in effect, zeros. Leading zeros change
//! nothing here because `cksum`'s CRC starts from 0 (a CRC that starts
//! from all ones, as zlib's does, would need one more correction). Only
//! the last 90 KiB are left for the table-driven CRC, once, when the sum
//! is finished. This is the idea of Sam Russell's "Chorba" CRC (2024), in
//! its simplest form. On data in the processor's caches it runs at about
//! four times slicing-by-16 (`cargo bench -- checksum`); on data that comes
//! from main memory, at about 1.6 times.
//!
//! The simplification: each piece of input is copied into a window before
//! it is folded. zlib-ng's Chorba folds straight from the input and keeps
//! only the carries; hardware CRCs (the carry-less multiply instructions)
//! are faster still, but need `unsafe` intrinsics.
//!
//! # Four lanes at once
//!
//! The table-driven CRC (used for the last 90 KiB, and for short inputs)
//! needs the remainder of each step before the next,
//! so one running CRC keeps the processor waiting on its own result. But
//! a CRC is *linear*: the CRC of `A` followed by `B` is the CRC of `A`
//! shifted by the length of `B` (multiplied by x^(8·len B), modulo the
//! polynomial), XORed with the CRC of `B` alone. So a long buffer is cut
//! into four equal lanes, four independent CRCs run side by side in one
//! loop (the processor overlaps their work), and the four results are
//! joined at the end with three such shifts. This is the idea of zlib's
//! "braided" CRC (Kadatch and Jenkins), in its simplest form.

/// The CRC-32 polynomial that `cksum` uses (x³² + x²⁶ + ... + 1), with
/// its most significant bit first.
const POLYNOMIAL: u32 = 0x04C1_1DB7;

/// How many independent CRCs run side by side over a long buffer.
const LANES: usize = 4;

/// Bytes one lane consumes per step (slicing-by-8).
const STEP_BYTES: usize = 8;

/// Buffers shorter than this are not worth cutting into lanes (joining
/// the lanes costs a few hundred operations).
const MIN_LANED_BYTES: usize = 1024;

/// `TABLES[0][b]` is the CRC of the single byte `b`; `TABLES[k][b]` is the
/// CRC of `b` followed by `k` zero bytes. Computed at compile time.
static TABLES: [[u32; 256]; STEP_BYTES] = make_tables();

const fn make_tables() -> [[u32; 256]; STEP_BYTES] {
    let mut tables = [[0u32; 256]; STEP_BYTES];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = (byte as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ POLYNOMIAL
            } else {
                crc << 1
            };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut k = 1;
    while k < STEP_BYTES {
        let mut byte = 0;
        while byte < 256 {
            let previous = tables[k - 1][byte];
            tables[k][byte] = (previous << 8) ^ tables[0][(previous >> 24) as usize];
            byte += 1;
        }
        k += 1;
    }
    tables
}

/// A running `cksum` computation: feed it the bytes with
/// [`Cksum::update`], in as many pieces as they come, then call
/// [`Cksum::finish`].
///
/// # Examples
///
/// ```
/// use ftpchat::checksum::Cksum;
///
/// // `printf 123456789 | cksum` prints 930766865 9
/// let mut sum = Cksum::new();
/// sum.update(b"12345");
/// sum.update(b"6789");
/// assert_eq!(sum.finish(), 930766865);
/// ```
#[derive(Clone, Default)]
pub struct Cksum {
    /// The message so far, except that everything before `start` has
    /// been folded forward (and so counts as zeros).
    pending: Vec<u8>,
    /// Where the part not yet folded begins in `pending`.
    start: usize,
    len_bytes: u64,
}

/// The folding multiple of the polynomial is
/// x^(8·FAR_BYTES) + x^(8·NEAR_BYTES) + 1: a word moves
/// `FAR_BYTES - NEAR_BYTES` and `FAR_BYTES` bytes ahead.
const FAR_BYTES: usize = 91_639;
/// See [`FAR_BYTES`].
const NEAR_BYTES: usize = 41_678;

/// How much of the input is copied into `pending` at a time: a large
/// `update` does not make the window grow with it.
const PIECE_BYTES: usize = 64 * 1024;

/// How much folded space `pending` may hold at its front before the rest
/// is moved down. Moving costs copying the `FAR_BYTES` kept, so it is done
/// only after several times that much was folded. Together, `pending`
/// never holds more than about 256 + 90 + 64 KiB.
const FOLDED_MAX_BYTES: usize = 256 * 1024;

impl Cksum {
    /// A checksum of no bytes yet.
    pub fn new() -> Cksum {
        Cksum::default()
    }

    /// Adds `data` to the checksum.
    pub fn update(&mut self, data: &[u8]) {
        self.len_bytes += data.len() as u64;
        for piece in data.chunks(PIECE_BYTES) {
            self.pending.extend_from_slice(piece);
            self.fold();
        }
    }

    /// Folds forward every word whose two targets, up to `FAR_BYTES`
    /// ahead, have arrived. A folded word is not zeroed: `start` moves
    /// past it, and what lies before `start` no longer counts.
    fn fold(&mut self) {
        let pending = &mut self.pending;
        let mut at = self.start;
        while at + FAR_BYTES + STEP_BYTES <= pending.len() {
            let word = read_word(pending, at);
            xor_word(pending, at + FAR_BYTES - NEAR_BYTES, word);
            xor_word(pending, at + FAR_BYTES, word);
            at += STEP_BYTES;
        }
        self.start = at;
        if self.start >= FOLDED_MAX_BYTES {
            pending.drain(..self.start);
            self.start = 0;
        }
    }

    /// How many bytes have been added so far.
    pub fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// The checksum, as `cksum` prints it. As POSIX specifies, the length
    /// of the data is fed in after the data (least significant byte first,
    /// only as many bytes as it needs), and the result is inverted.
    pub fn finish(&self) -> u32 {
        let mut crc = update_crc(0, &self.pending[self.start..]);
        let mut len = self.len_bytes;
        while len > 0 {
            crc = update_crc(crc, &[len as u8]);
            len >>= 8;
        }
        !crc
    }
}

impl std::fmt::Debug for Cksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (f.debug_struct("Cksum"))
            .field("len_bytes", &self.len_bytes)
            .field("unfolded_bytes", &(self.pending.len() - self.start))
            .finish()
    }
}

/// The 8 bytes at `at`, as a word (in the machine's byte order: a fold
/// only moves bytes, so any order does, if reading and writing agree).
fn read_word(bytes: &[u8], at: usize) -> u64 {
    let word: [u8; STEP_BYTES] = bytes[at..at + STEP_BYTES].try_into().expect("8 bytes");
    u64::from_ne_bytes(word)
}

/// XORs `word` into the 8 bytes at `at`.
fn xor_word(bytes: &mut [u8], at: usize, word: u64) {
    let sum = read_word(bytes, at) ^ word;
    bytes[at..at + STEP_BYTES].copy_from_slice(&sum.to_ne_bytes());
}

/// Feeds `data` into `crc`: in four lanes if it is long, else in one.
fn update_crc(crc: u32, data: &[u8]) -> u32 {
    let lane_len = data.len() / (LANES * STEP_BYTES) * STEP_BYTES;
    if data.len() < MIN_LANED_BYTES {
        return update_one_lane(crc, data);
    }
    let (a, rest) = data.split_at(lane_len);
    let (b, rest) = rest.split_at(lane_len);
    let (c, rest) = rest.split_at(lane_len);
    let (d, tail) = rest.split_at(lane_len);
    // The first lane goes on from `crc`; the others start from nothing.
    let (mut crc_a, mut crc_b, mut crc_c, mut crc_d) = (crc, 0, 0, 0);
    let steps = a
        .chunks_exact(STEP_BYTES)
        .zip(b.chunks_exact(STEP_BYTES))
        .zip(c.chunks_exact(STEP_BYTES))
        .zip(d.chunks_exact(STEP_BYTES));
    for (((a, b), c), d) in steps {
        crc_a = step(crc_a, a);
        crc_b = step(crc_b, b);
        crc_c = step(crc_c, c);
        crc_d = step(crc_d, d);
    }
    // Join the lanes: shift what came before past each next lane.
    let shift = x_to_the_8n(lane_len);
    let joined = [crc_b, crc_c, crc_d]
        .into_iter()
        .fold(crc_a, |joined, lane| multiply(joined, shift) ^ lane);
    update_one_lane(joined, tail)
}

/// Feeds `data` into `crc` in one lane, 8 bytes per step while it can.
fn update_one_lane(mut crc: u32, data: &[u8]) -> u32 {
    let mut blocks = data.chunks_exact(STEP_BYTES);
    for block in &mut blocks {
        crc = step(crc, block);
    }
    for &byte in blocks.remainder() {
        crc = (crc << 8) ^ TABLES[0][((crc >> 24) as u8 ^ byte) as usize];
    }
    crc
}

/// One step of slicing-by-8: `crc` followed by the 8 bytes of `block`.
/// The CRC so far is folded into the first four bytes; then each byte is
/// looked up in the table for its distance from the end of the block.
#[inline(always)]
fn step(crc: u32, block: &[u8]) -> u32 {
    let block: &[u8; STEP_BYTES] = block.try_into().expect("a whole step");
    let t = &TABLES;
    let a = crc ^ u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
    t[7][(a >> 24) as usize]
        ^ t[6][(a >> 16 & 0xff) as usize]
        ^ t[5][(a >> 8 & 0xff) as usize]
        ^ t[4][(a & 0xff) as usize]
        ^ t[3][block[4] as usize]
        ^ t[2][block[5] as usize]
        ^ t[1][block[6] as usize]
        ^ t[0][block[7] as usize]
}

/// `a` times `b`, as polynomials over GF(2), modulo the CRC polynomial
/// (bit 31 is the coefficient of x³¹).
fn multiply(a: u32, b: u32) -> u32 {
    let mut product = 0u32;
    for bit in (0..32).rev() {
        // product = product · x, then + a if b has x^bit.
        product = if product & 0x8000_0000 != 0 {
            (product << 1) ^ POLYNOMIAL
        } else {
            product << 1
        };
        if b >> bit & 1 != 0 {
            product ^= a;
        }
    }
    product
}

/// x^(8·n) modulo the CRC polynomial: what shifting a CRC past `n` bytes
/// multiplies it by (by squaring and multiplying: about 20 steps for a
/// megabyte).
fn x_to_the_8n(mut n: usize) -> u32 {
    let mut result = 1u32; // x⁰
    let mut power = 1u32 << 8; // x⁸
    while n > 0 {
        if n & 1 != 0 {
            result = multiply(result, power);
        }
        power = multiply(power, power);
        n >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cksum(data: &[u8]) -> u32 {
        let mut sum = Cksum::new();
        sum.update(data);
        sum.finish()
    }

    /// The CRC one bit at a time, straight from the definition, to check
    /// the table-driven version against: `data` fed into `crc`.
    fn slow_crc_from(mut crc: u32, data: &[u8]) -> u32 {
        for &byte in data {
            crc ^= u32::from(byte) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 {
                    (crc << 1) ^ POLYNOMIAL
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    #[test]
    fn published_check_value() {
        // The CRC catalogue's "check" for CRC-32/CKSUM: the CRC of
        // "123456789" before the length is added and the result inverted.
        assert_eq!(update_crc(0, b"123456789"), !0x765E_7680);
        assert_eq!(!update_crc(0, b"123456789"), 0x765E_7680);
    }

    #[test]
    fn matches_the_cksum_command() {
        // Each value is what GNU `cksum` prints for the same bytes.
        assert_eq!(cksum(b""), 4_294_967_295);
        assert_eq!(cksum(b"a"), 1_220_704_766);
        assert_eq!(cksum(b"123456789"), 930_766_865);
        assert_eq!(cksum(&[0u8; 1000]), 2_610_763_910);
        let mut all_bytes: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
        all_bytes.extend_from_slice(b"xyz");
        assert_eq!(cksum(&all_bytes), 1_625_634_390);
    }

    #[test]
    fn every_length_and_alignment_agrees_with_the_definition() {
        let data: Vec<u8> = (0..4096 + 8u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for offset in 0..8 {
            let slice = &data[offset..offset + 4096];
            // The CRC of every prefix, bit by bit, in one pass.
            let mut expected = vec![0u32];
            for &byte in slice {
                let last = *expected.last().unwrap();
                expected.push(slow_crc_from(last, &[byte]));
            }
            for len in 0..=4096 {
                assert_eq!(
                    update_crc(0, &slice[..len]),
                    expected[len],
                    "length {len} at offset {offset}"
                );
            }
        }
    }

    #[test]
    fn matches_the_cksum_command_on_files() {
        let dir = std::env::temp_dir().join(format!("ftpchat-cksum-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut seed = 7u64;
        for len in [0usize, 1, 1023, 1024, 100_003, 1 << 20] {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    (seed >> 33) as u8
                })
                .collect();
            let path = dir.join(format!("{len}.bin"));
            std::fs::write(&path, &data).unwrap();
            let Ok(output) = std::process::Command::new("cksum").arg(&path).output() else {
                eprintln!("skipped: no cksum command here");
                return;
            };
            let printed = String::from_utf8_lossy(&output.stdout);
            let expected = format!("{} {len} {}", cksum(&data), path.display());
            assert_eq!(printed.trim_end(), expected);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Folding is right only if the three-term polynomial is a multiple
    /// of the `cksum` polynomial.
    #[test]
    fn the_folding_polynomial_is_a_multiple_of_the_cksum_polynomial() {
        // x^(8·FAR) + x^(8·NEAR) + 1 ≡ 0, so x^(8·FAR) ≡ x^(8·NEAR) + 1.
        assert_eq!(x_to_the_8n(FAR_BYTES), x_to_the_8n(NEAR_BYTES) ^ 1);
    }

    /// Long inputs (folded, and moved down in the window) give the sum
    /// of the bit-by-bit definition.
    #[test]
    fn folded_inputs_agree_with_the_definition() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let data: Vec<u8> = (0..(1 << 20) + 100)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        // Around the length where folding starts, and well past it.
        let far = FAR_BYTES;
        let lengths = (far - 9..far + 20).chain([2 * far + 3, 400_000, (1 << 20) + 100]);
        for len in lengths {
            let mut sum = Cksum::new();
            // In pieces of 100,000 bytes: several folds and moves.
            data[..len]
                .chunks(100_000)
                .for_each(|piece| sum.update(piece));
            let mut expected = slow_crc_from(0, &data[..len]);
            let mut left = len;
            while left > 0 {
                expected = slow_crc_from(expected, &[left as u8]);
                left >>= 8;
            }
            assert_eq!(sum.finish(), !expected, "length {len}");
        }
    }

    #[test]
    fn lanes_join_like_one_long_crc() {
        let data: Vec<u8> = (0..100_003u32).map(|i| (i * 31 + i / 7) as u8).collect();
        for len in [1024, 1025, 4096, 65_536, 100_003] {
            let start = 12_345u32;
            assert_eq!(
                update_crc(start, &data[..len]),
                update_one_lane(start, &data[..len]),
                "length {len}"
            );
        }
        assert_eq!(x_to_the_8n(0), 1);
        assert_eq!(x_to_the_8n(1), 1 << 8);
        assert_eq!(multiply(x_to_the_8n(3), x_to_the_8n(5)), x_to_the_8n(8));
    }

    #[test]
    fn pieces_of_any_size_give_the_same_sum() {
        let data: Vec<u8> = (0..600_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = cksum(&data);
        for piece in [1, 3, 16, 17, 1000, 1024, 4096, 100_000] {
            let mut sum = Cksum::new();
            data.chunks(piece).for_each(|part| sum.update(part));
            assert_eq!(sum.finish(), whole, "pieces of {piece}");
            assert_eq!(sum.len_bytes(), 600_000);
        }
        // Random splits.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20 {
            let mut sum = Cksum::new();
            let mut at = 0;
            while at < data.len() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let len = (seed % 20_000) as usize + 1;
                let end = (at + len).min(data.len());
                sum.update(&data[at..end]);
                at = end;
            }
            assert_eq!(sum.finish(), whole);
        }
    }
}
