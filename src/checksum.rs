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
//! use lookup tables: "slicing-by-16" consumes 16 bytes per step with 16
//! table lookups, fast enough that the checksum is not what limits a
//! transfer.

/// The CRC-32 polynomial that `cksum` uses (x³² + x²⁶ + ... + 1), with
/// its most significant bit first.
const POLYNOMIAL: u32 = 0x04C1_1DB7;

/// `TABLES[0][b]` is the CRC of the single byte `b`; `TABLES[k][b]` is the
/// CRC of `b` followed by `k` zero bytes. Computed at compile time.
static TABLES: [[u32; 256]; 16] = make_tables();

const fn make_tables() -> [[u32; 256]; 16] {
    let mut tables = [[0u32; 256]; 16];
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
    while k < 16 {
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
#[derive(Clone, Debug, Default)]
pub struct Cksum {
    crc: u32,
    len_bytes: u64,
}

impl Cksum {
    /// A checksum of no bytes yet.
    pub fn new() -> Cksum {
        Cksum::default()
    }

    /// Adds `data` to the checksum.
    pub fn update(&mut self, data: &[u8]) {
        self.len_bytes += data.len() as u64;
        self.crc = update_crc(self.crc, data);
    }

    /// How many bytes have been added so far.
    pub fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// The checksum, as `cksum` prints it. As POSIX specifies, the length
    /// of the data is fed in after the data (least significant byte first,
    /// only as many bytes as it needs), and the result is inverted.
    pub fn finish(&self) -> u32 {
        let mut crc = self.crc;
        let mut len = self.len_bytes;
        while len > 0 {
            crc = update_crc(crc, &[len as u8]);
            len >>= 8;
        }
        !crc
    }
}

/// Feeds `data` into `crc`, 16 bytes per step while it can.
fn update_crc(mut crc: u32, data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let word =
            |i: usize| u32::from_be_bytes([block[i], block[i + 1], block[i + 2], block[i + 3]]);
        // The CRC so far is folded into the first four bytes; then each of
        // the 16 bytes is looked up in the table for its distance from the
        // end of the block.
        let a = crc ^ word(0);
        let (b, c, d) = (word(4), word(8), word(12));
        crc = t[15][(a >> 24) as usize]
            ^ t[14][(a >> 16 & 0xff) as usize]
            ^ t[13][(a >> 8 & 0xff) as usize]
            ^ t[12][(a & 0xff) as usize]
            ^ t[11][(b >> 24) as usize]
            ^ t[10][(b >> 16 & 0xff) as usize]
            ^ t[9][(b >> 8 & 0xff) as usize]
            ^ t[8][(b & 0xff) as usize]
            ^ t[7][(c >> 24) as usize]
            ^ t[6][(c >> 16 & 0xff) as usize]
            ^ t[5][(c >> 8 & 0xff) as usize]
            ^ t[4][(c & 0xff) as usize]
            ^ t[3][(d >> 24) as usize]
            ^ t[2][(d >> 16 & 0xff) as usize]
            ^ t[1][(d >> 8 & 0xff) as usize]
            ^ t[0][(d & 0xff) as usize];
    }
    for &byte in blocks.remainder() {
        crc = (crc << 8) ^ t[0][((crc >> 24) as u8 ^ byte) as usize];
    }
    crc
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
    /// the table-driven version against.
    fn slow_crc(data: &[u8]) -> u32 {
        let mut crc = 0u32;
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
    fn tables_agree_with_the_bitwise_definition() {
        let data: Vec<u8> = (0..4099u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 100, 4099] {
            assert_eq!(
                update_crc(0, &data[..len]),
                slow_crc(&data[..len]),
                "length {len}"
            );
        }
    }

    #[test]
    fn pieces_of_any_size_give_the_same_sum() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = cksum(&data);
        for piece in [1, 3, 16, 17, 1000, 4096] {
            let mut sum = Cksum::new();
            data.chunks(piece).for_each(|part| sum.update(part));
            assert_eq!(sum.finish(), whole, "pieces of {piece}");
            assert_eq!(sum.len_bytes(), 10_000);
        }
    }
}
