//! Framing: turning a TCP byte stream into lines and chunks, and back.
//!
//! # TCP is a byte stream
//!
//! TCP delivers a *stream of bytes*, not a sequence of messages. One `read`
//! may return half a message, or the end of one message and the start of the
//! next. A protocol therefore needs *framing*: a rule that tells the reader
//! where each message ends. ftpchat has two rules:
//!
//! - a **line** ends at `\n` (a `\r` just before it is dropped, so `telnet`
//!   users are welcome);
//! - a **chunk** of file data is exactly as long as the `DATA ID LEN` line
//!   in front of it says. Its bytes may include `\n` or anything else: they
//!   are counted, never searched.
//!
//! A line, or a `DATA` line with its chunk, is a **frame**.
//!
//! # One reader per connection, kept for the connection's life
//!
//! Reading a socket one byte at a time would cost a system call per byte,
//! so we read through a buffer: one `read` fills it with whatever has
//! arrived, and lines are cut out of it. That buffer may then hold more
//! than the line we asked for: the start of the next line, or the first
//! bytes of a chunk. Those bytes belong to the next frame. A second
//! `BufReader`, or a read from the raw socket, would never see them, and
//! the stream would be out of step for good.
//!
//! [`FrameReader`] makes this a property of a type rather than a rule to
//! remember. It owns the connection's one buffered reader and its line
//! buffer, and hands out whole frames. A chunk is handed out as a
//! [`Chunk`]: a reader for exactly that chunk's bytes, taken from the same
//! buffer. Whatever of the chunk its user did not read is skipped before
//! the next frame (and when the `Chunk` is dropped), so nobody can leave
//! the stream in the middle of a chunk by mistake.
//!
//! # Bounded input
//!
//! A peer can send anything, including a "line" that never ends. A line is
//! read through `take`, at most [`MAX_LINE_LEN`] bytes, so a hostile peer
//! cannot make us buffer more than that; a `DATA` header announcing more
//! than [`MAX_CHUNK_LEN`] bytes is refused before a byte of the chunk is
//! read. Checking a length *after* reading would be too late: the memory
//! would already be spent.
//!
//! # Three outcomes of every read
//!
//! `Ok(Some(frame))` is a frame; `Ok(None)` is the peer closing the
//! connection cleanly *between* frames (end of file: its way of saying
//! goodbye); `Err` is a close *inside* a frame, bad input, or a failure
//! of the connection.

use super::errors::{ErrorCode, ProtocolError};
use super::fields::{parse_number, split_word};
use std::io::{self, BufRead, BufReader, IoSlice, Read, Write};

/// Longest line either side accepts, in bytes, counting the final `\n`.
///
/// 4 KiB holds the longest chat message plus its verb and the sender's
/// nickname with plenty of room, and is small enough that reading one line
/// per connection costs little memory even with thousands of clients.
pub const MAX_LINE_LEN: usize = 4096;

/// Largest chunk of file data one `DATA` frame may carry, in bytes.
/// A receiver refuses a larger one before reading it, so a peer cannot make
/// it buffer more than this.
pub const MAX_CHUNK_LEN: usize = 1024 * 1024;

/// The buffer a [`FrameReader`] reads through unless told otherwise: room
/// for dozens of chat lines, so one system call often brings several.
const DEFAULT_BUFFER_BYTES: usize = 8 * 1024;

/// Reads a connection frame by frame. See the module documentation for
/// why there must be exactly one per connection.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use ftpchat::protocol::{Frame, FrameReader};
///
/// // Two frames that arrived in one TCP segment: a line, and a chunk of
/// // three bytes (one of them a line feed, which is just data here).
/// let mut frames = FrameReader::new(&b"CHAT alice hi\nDATA 7 3\na\nbWHO\n"[..]);
/// match frames.read_frame()? {
///     Some(Frame::Line(line)) => assert_eq!(line, "CHAT alice hi"),
///     _ => unreachable!(),
/// }
/// match frames.read_frame()? {
///     Some(Frame::Data(mut chunk)) => {
///         assert_eq!((chunk.id(), chunk.len()), (7, 3));
///         let mut bytes = Vec::new();
///         chunk.read_to_vec(&mut bytes)?;
///         assert_eq!(bytes, b"a\nb");
///     }
///     _ => unreachable!(),
/// }
/// assert!(matches!(frames.read_frame()?, Some(Frame::Line("WHO"))));
/// assert!(frames.read_frame()?.is_none()); // the peer closed: a clean end
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct FrameReader<R> {
    /// The connection's one buffered reader.
    reader: BufReader<R>,
    /// The line being read; it survives a read that times out half way.
    line: Vec<u8>,
    /// Bytes of the last chunk handed out that have not been read yet:
    /// they are skipped before the next frame.
    chunk_left: usize,
}

/// One frame, as [`FrameReader::read_frame`] hands it out.
#[derive(Debug)]
pub enum Frame<'a, R: Read> {
    /// A line, without its line ending.
    Line(&'a str),
    /// A `DATA` header, with a reader for exactly the chunk that follows it.
    Data(Chunk<'a, R>),
}

/// The chunk of one `DATA` frame: reads exactly its bytes and no more.
/// What is left unread when it is dropped is skipped (without being
/// stored), so the next frame starts where it should.
#[derive(Debug)]
pub struct Chunk<'a, R: Read> {
    frames: &'a mut FrameReader<R>,
    id: u64,
    len: usize,
}

impl<R: Read> FrameReader<R> {
    /// A frame reader for `inner`, usually a `TcpStream`, with a buffer of
    /// a few KiB.
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader::with_capacity(DEFAULT_BUFFER_BYTES, inner)
    }

    /// A frame reader whose buffer holds `capacity` bytes. (A chunk larger
    /// than the buffer is read past it, straight into its destination.)
    pub fn with_capacity(capacity: usize, inner: R) -> FrameReader<R> {
        FrameReader {
            reader: BufReader::with_capacity(capacity, inner),
            line: Vec::new(),
            chunk_left: 0,
        }
    }

    /// The underlying reader, for its settings (such as a socket's read
    /// timeout). Reading from it directly would lose buffered bytes.
    pub fn get_ref(&self) -> &R {
        self.reader.get_ref()
    }

    /// The underlying reader, to change its settings. Reading from it
    /// directly would lose buffered bytes.
    pub fn get_mut(&mut self) -> &mut R {
        self.reader.get_mut()
    }

    /// Whether part of a line has arrived (a read timed out before its
    /// end): the next [`FrameReader::read_line`] goes on with it.
    pub fn is_mid_line(&self) -> bool {
        !self.line.is_empty() && self.line.last() != Some(&b'\n')
    }

    /// Whether bytes have arrived that no frame has used yet: if not, the
    /// next read will wait for the network.
    pub fn has_buffered_input(&self) -> bool {
        !self.reader.buffer().is_empty()
    }

    /// The next line, treating every line as text: for the handshake, and
    /// for plain clients, whose `DATA` is just a word they typed.
    ///
    /// # Errors
    ///
    /// As [`read_line`]; also the errors of skipping the rest of a chunk.
    pub fn read_line(&mut self) -> io::Result<Option<&str>> {
        self.skip_unread_chunk()?;
        read_line(&mut self.reader, &mut self.line)
    }

    /// The next frame: a line, or a `DATA` header with its chunk.
    ///
    /// # Errors
    ///
    /// As [`read_line`]; also [`ErrorCode::BadChunk`] for a `DATA` header
    /// that is malformed or announces more than [`MAX_CHUNK_LEN`] bytes.
    /// After that (as after [`ErrorCode::LineTooLong`]) the stream is out
    /// of step and the connection must be closed.
    pub fn read_frame(&mut self) -> io::Result<Option<Frame<'_, R>>> {
        self.skip_unread_chunk()?;
        let Some(line) = read_line(&mut self.reader, &mut self.line)? else {
            return Ok(None);
        };
        // Decide first, keeping only numbers: the line borrows our buffer,
        // and a chunk needs the whole reader.
        match parse_data_header(line) {
            None => {}
            Some(Err(fault)) => return Err(fault.into()),
            Some(Ok((id, len))) => {
                self.chunk_left = len;
                return Ok(Some(Frame::Data(Chunk {
                    frames: self,
                    id,
                    len,
                })));
            }
        }
        Ok(Some(Frame::Line(self.current_line())))
    }

    /// The line just read, without its line ending (only valid UTF-8 lines
    /// get this far).
    fn current_line(&self) -> &str {
        let end = self.line.len() - 1;
        let text = std::str::from_utf8(&self.line[..end]).unwrap_or_default();
        text.trim_end_matches('\r')
    }

    /// Skips what is left of the last chunk handed out, without storing
    /// it: the bytes are consumed straight from the read buffer.
    fn skip_unread_chunk(&mut self) -> io::Result<()> {
        while self.chunk_left > 0 {
            let available = self.reader.fill_buf()?.len();
            if available == 0 {
                return Err(closed_in_chunk());
            }
            let skipped = available.min(self.chunk_left);
            self.reader.consume(skipped);
            self.chunk_left -= skipped;
        }
        Ok(())
    }
}

impl<R: Read> Chunk<'_, R> {
    /// The transfer this chunk belongs to, as its header numbers it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The chunk's length in bytes, from its header.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the chunk is empty (a `DATA ID 0` frame, which changes nothing).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The header line, as received (for `--trace`).
    pub fn header(&self) -> &str {
        self.frames.current_line()
    }

    /// The connection's underlying reader, to change its settings (a
    /// deadline for this chunk, say). Reading from it directly would lose
    /// buffered bytes.
    pub fn get_mut(&mut self) -> &mut R {
        self.frames.get_mut()
    }

    /// Appends the whole chunk (what is left of it) to `out`.
    ///
    /// # Errors
    ///
    /// The connection failed or closed before the chunk's end
    /// ([`io::ErrorKind::UnexpectedEof`]), or a read timed out. After a
    /// timeout, the bytes read so far are in `out`, and calling again
    /// goes on from there.
    pub fn read_to_vec(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        out.reserve(self.frames.chunk_left);
        let before = out.len();
        // Read through `Take` and the buffered reader rather than through
        // `self`: for a socket, the standard library then reads straight
        // into `out`'s spare room. Through our own `read` it would zero
        // that room first (its default `read_buf`, which we cannot
        // override on stable Rust): a quarter of the receiving thread's
        // time, measured.
        let limit = self.frames.chunk_left as u64;
        let result = (&mut self.frames.reader).take(limit).read_to_end(out);
        self.frames.chunk_left -= out.len() - before;
        result?;
        match self.frames.chunk_left {
            0 => Ok(()),
            _ => Err(closed_in_chunk()),
        }
    }

    /// Skips the rest of the chunk now, and says whether that worked.
    /// (Dropping the chunk skips it too, but cannot report an error; the
    /// next read of the [`FrameReader`] does.)
    ///
    /// # Errors
    ///
    /// The connection failed or closed before the chunk's end.
    pub fn skip(self) -> io::Result<()> {
        self.frames.skip_unread_chunk()
    }
}

impl<R: Read> Read for Chunk<'_, R> {
    /// Reads the chunk's bytes; `Ok(0)` at its end. A connection that ends
    /// inside the chunk is an error, not an end: the file is cut short.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let wanted = buf.len().min(self.frames.chunk_left);
        if wanted == 0 {
            return Ok(0);
        }
        let read = self.frames.reader.read(&mut buf[..wanted])?;
        if read == 0 {
            return Err(closed_in_chunk());
        }
        self.frames.chunk_left -= read;
        Ok(read)
    }
}

impl<R: Read> Drop for Chunk<'_, R> {
    fn drop(&mut self) {
        // Best effort: an error here (the connection failed, or a read
        // timed out) stays in `chunk_left`, and the next read of the frame
        // reader skips the rest or reports it.
        let _ = self.frames.skip_unread_chunk();
    }
}

fn closed_in_chunk() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed in the middle of a chunk",
    )
}

/// Whether `line` is a `DATA` header, and if so its transfer id and chunk
/// length. A header that is malformed or announces too long a chunk is a
/// [`ErrorCode::BadChunk`]: without a trusted length nobody can find the
/// chunk's end. [`FrameReader`] uses this to read chunks, the messages'
/// decoders to decode `DATA`, and the trace to skip chunks it shows.
///
/// # Examples
///
/// ```
/// use ftpchat::protocol::framing::parse_data_header;
///
/// assert_eq!(parse_data_header("DATA 3 1024"), Some(Ok((3, 1024))));
/// assert_eq!(parse_data_header("CHAT DATA 3 1024"), None);
/// assert!(parse_data_header("DATA 3 lots").unwrap().is_err());
/// ```
pub fn parse_data_header(line: &str) -> Option<Result<(u64, usize), ProtocolError>> {
    let (verb, rest) = split_word(line);
    (verb == "DATA").then(|| decode_data_fields(rest))
}

/// Decodes the fields of a `DATA` header, `ID LEN`.
pub(super) fn decode_data_fields(rest: &str) -> Result<(u64, usize), ProtocolError> {
    let bad = |detail: String| ProtocolError::new(ErrorCode::BadChunk, detail);
    let (id, len) = split_word(rest);
    let id = parse_number("DATA", "transfer id", id).map_err(|e| bad(e.detail))?;
    let len: usize = parse_number("DATA", "length", len).map_err(|e| bad(e.detail))?;
    if len > MAX_CHUNK_LEN {
        return Err(bad(format!(
            "chunk of {len} bytes; the limit is {MAX_CHUNK_LEN}"
        )));
    }
    Ok((id, len))
}

/// Reads one line from `reader` into `buf` and returns it without its
/// line ending. [`FrameReader`] reads its lines with it; it is public for
/// programs that read lines only.
///
/// Pass the same buffer for every line of a connection: it saves an
/// allocation per message, and it keeps a half-read line safe. If a read
/// times out in the middle of a line (the socket has a read timeout), the
/// bytes read so far stay in `buf`, and the next call carries on from
/// there. A complete line left in `buf` by the previous call is dropped
/// first. The reader must be the one buffered reader that lives as long as
/// the connection: a `BufReader` created per call would throw away bytes it
/// had read ahead.
///
/// Returns `Ok(None)` when the peer closed the connection cleanly *between*
/// lines: that is how a TCP peer says goodbye (end of file).
///
/// # Errors
///
/// - [`io::ErrorKind::UnexpectedEof`] if the connection closed in the middle
///   of a line;
/// - [`io::ErrorKind::InvalidData`] with [`ErrorCode::LineTooLong`] if no
///   line ending came within [`MAX_LINE_LEN`] bytes (the stream is then out
///   of step: we no longer know where the next message starts);
/// - [`io::ErrorKind::InvalidData`] with [`ErrorCode::BadUtf8`] if the line
///   is not UTF-8 (the whole line was consumed, so the next read starts at
///   the next line);
/// - any error of the underlying reader, such as a timeout.
///
/// # Examples
///
/// ```
/// use std::io::BufReader;
/// use ftpchat::protocol::read_line;
///
/// // Two messages that arrived in one TCP segment come out one at a time.
/// let mut reader = BufReader::new(&b"CHAT hi\r\nWHO\n"[..]);
/// let mut buf = Vec::new();
/// assert_eq!(read_line(&mut reader, &mut buf)?, Some("CHAT hi"));
/// assert_eq!(read_line(&mut reader, &mut buf)?, Some("WHO"));
/// assert_eq!(read_line(&mut reader, &mut buf)?, None); // clean end of stream
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_line<'b>(
    reader: &mut impl BufRead,
    buf: &'b mut Vec<u8>,
) -> io::Result<Option<&'b str>> {
    if buf.last() == Some(&b'\n') {
        buf.clear(); // the previous call's line, already handled
    }
    let continuing = !buf.is_empty();
    let room = MAX_LINE_LEN - buf.len();
    // `take` bounds how much `read_until` may buffer: the limit is checked
    // while reading, not after the damage is done. On an error (a timeout)
    // the bytes read so far stay in `buf` for the next call.
    let len_bytes = reader.by_ref().take(room as u64).read_until(b'\n', buf)?;
    if len_bytes == 0 && !continuing {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        if len_bytes < room {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a line",
            ));
        }
        return Err(ProtocolError::new(
            ErrorCode::LineTooLong,
            format!("line longer than {MAX_LINE_LEN} bytes"),
        )
        .into());
    }
    // Drop the `\n` and any `\r` before it: no decoded line ends in a
    // carriage return, so every field survives being encoded again.
    let mut end = buf.len() - 1;
    while end > 0 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    match std::str::from_utf8(&buf[..end]) {
        Ok(line) => Ok(Some(line)),
        Err(_) => Err(ProtocolError::new(ErrorCode::BadUtf8, "line is not valid UTF-8").into()),
    }
}

/// Writes all of `parts`, in order, with as few system calls as the kernel
/// allows: a vectored write (`writev`) hands it several buffers at once,
/// such as a `DATA` header and its chunk, without copying them together.
///
/// A write may be *partial*: the kernel takes only as many bytes as fit in
/// the socket's send buffer and says how many. So we loop, skipping what was
/// written, until everything is sent.
///
/// # Errors
///
/// Any error of the writer; a writer that accepts nothing is `WriteZero`.
///
/// # Examples
///
/// ```
/// use ftpchat::protocol::{ClientMessage, write_all_vectored};
///
/// // A DATA frame: the header line, then the chunk, in one call.
/// let chunk = b"\x00\x01 any bytes \n at all";
/// let header = ClientMessage::Data { id: 1, len: chunk.len() }.to_bytes();
/// let mut socket = Vec::new(); // anything that implements `Write`
/// write_all_vectored(&mut socket, &[&header, chunk])?;
/// assert_eq!(socket, b"DATA 1 21\n\x00\x01 any bytes \n at all");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_all_vectored(writer: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|part| IoSlice::new(part)).collect();
    let mut remaining = &mut slices[..];
    IoSlice::advance_slices(&mut remaining, 0); // skip empty parts
    while !remaining.is_empty() {
        match writer.write_vectored(remaining) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut remaining, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives out its pieces at most `step` bytes per `read`
    /// (one byte per read is the worst case TCP can produce), and a
    /// timeout error for each empty piece, as a socket with a read timeout
    /// does when the peer pauses.
    struct Pieces {
        pieces: Vec<Vec<u8>>,
        step: usize,
    }

    impl Pieces {
        fn new(pieces: &[&[u8]], step: usize) -> Pieces {
            let pieces = pieces.iter().map(|piece| piece.to_vec()).collect();
            Pieces { pieces, step }
        }

        fn trickle(bytes: &[u8]) -> Pieces {
            Pieces::new(&[bytes], 1)
        }
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(piece) = self.pieces.first_mut() else {
                return Ok(0);
            };
            if piece.is_empty() {
                self.pieces.remove(0);
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = piece.len().min(buf.len()).min(self.step);
            buf[..n].copy_from_slice(&piece[..n]);
            piece.drain(..n);
            if piece.is_empty() {
                self.pieces.remove(0); // used up; an empty piece is a pause
            }
            Ok(n)
        }
    }

    fn lines_of(reader: &mut impl BufRead) -> io::Result<Vec<String>> {
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while let Some(line) = read_line(reader, &mut buf)? {
            lines.push(line.to_string());
        }
        Ok(lines)
    }

    fn code_of(error: &io::Error) -> Option<ErrorCode> {
        ProtocolError::find(error).map(|e| e.code)
    }

    /// What `frames` holds, as text: each line, and each chunk as
    /// `ID:BYTES` (read whole).
    fn frames_of<R: Read>(frames: &mut FrameReader<R>) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        while let Some(frame) = frames.read_frame()? {
            out.push(match frame {
                Frame::Line(line) => line.to_string(),
                Frame::Data(mut chunk) => {
                    let mut bytes = Vec::new();
                    chunk.read_to_vec(&mut bytes)?;
                    format!("{}:{}", chunk.id(), String::from_utf8_lossy(&bytes))
                }
            });
        }
        Ok(out)
    }

    #[test]
    fn line_split_across_reads_is_reassembled() {
        let mut reader = BufReader::new(Pieces::trickle(b"CHAT one\nCHAT two\r\n"));
        assert_eq!(lines_of(&mut reader).unwrap(), ["CHAT one", "CHAT two"]);
    }

    #[test]
    fn two_lines_in_one_buffer_come_out_separately() {
        let mut reader = BufReader::new(&b"WHO\nQUIT\n"[..]);
        assert_eq!(lines_of(&mut reader).unwrap(), ["WHO", "QUIT"]);
    }

    #[test]
    fn eof_between_lines_is_a_clean_close() {
        let mut reader = BufReader::new(&b""[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), None);
    }

    #[test]
    fn eof_inside_a_line_is_an_error() {
        let mut reader = BufReader::new(&b"CHAT half a mess"[..]);
        let mut buf = Vec::new();
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_timeout_in_mid_line_loses_nothing() {
        let pieces = Pieces::new(&[b"CHAT hel", b"", b"lo\nWHO", b"", b"\n"], usize::MAX);
        let mut reader = BufReader::new(pieces);
        let mut buf = Vec::new();
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(
            read_line(&mut reader, &mut buf).unwrap(),
            Some("CHAT hello")
        );
        assert!(read_line(&mut reader, &mut buf).is_err());
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), Some("WHO"));
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), None);
    }

    #[test]
    fn a_continued_line_is_still_bounded() {
        let mut first = vec![b'x'; MAX_LINE_LEN - 10];
        first.push(b'y');
        let pieces = Pieces::new(&[&first, b"", &[b'z'; 100]], usize::MAX);
        let mut reader = BufReader::new(pieces);
        let mut buf = Vec::new();
        assert!(read_line(&mut reader, &mut buf).is_err());
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(code_of(&error), Some(ErrorCode::LineTooLong));
        assert_eq!(buf.len(), MAX_LINE_LEN);
    }

    #[test]
    fn longest_allowed_line_is_accepted() {
        let mut input = vec![b'x'; MAX_LINE_LEN - 1];
        input.push(b'\n');
        let mut reader = BufReader::new(&input[..]);
        let mut buf = Vec::new();
        let line = read_line(&mut reader, &mut buf).unwrap().unwrap();
        assert_eq!(line.len(), MAX_LINE_LEN - 1);
    }

    #[test]
    fn over_long_line_is_refused_without_buffering_it() {
        // Ten times the limit, with no line ending in sight.
        let input = vec![b'x'; MAX_LINE_LEN * 10];
        let mut reader = BufReader::new(&input[..]);
        let mut buf = Vec::new();
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(code_of(&error), Some(ErrorCode::LineTooLong));
        assert!(buf.len() <= MAX_LINE_LEN, "buffered {} bytes", buf.len());
    }

    #[test]
    fn invalid_utf8_is_refused_and_the_next_line_still_reads() {
        let mut reader = BufReader::new(&b"CHAT \xff\xfe\nWHO\n"[..]);
        let mut buf = Vec::new();
        let error = read_line(&mut reader, &mut buf).unwrap_err();
        assert_eq!(code_of(&error), Some(ErrorCode::BadUtf8));
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), Some("WHO"));
    }

    #[test]
    fn carriage_returns_before_the_line_feed_are_dropped() {
        let mut reader = BufReader::new(&b"CHAT a\r\r\nCHAT b\rc\n"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), Some("CHAT a"));
        assert_eq!(read_line(&mut reader, &mut buf).unwrap(), Some("CHAT b\rc"));
    }

    #[test]
    fn chunks_and_lines_come_out_whole_one_byte_at_a_time() {
        let wire = b"CHAT a\r\nDATA 1 5\nx\ny\nzDATA 2 0\nDONE 1 9\n";
        let mut frames = FrameReader::with_capacity(4, Pieces::trickle(wire));
        assert_eq!(
            frames_of(&mut frames).unwrap(),
            ["CHAT a", "1:x\ny\nz", "2:", "DONE 1 9"]
        );
    }

    #[test]
    fn a_chunk_larger_than_the_buffer_is_read_past_it() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut wire = b"DATA 9 10000\n".to_vec();
        wire.extend_from_slice(&data);
        wire.extend_from_slice(b"WHO\n");
        let mut frames = FrameReader::with_capacity(64, &wire[..]);
        let Some(Frame::Data(mut chunk)) = frames.read_frame().unwrap() else {
            panic!("a chunk comes first");
        };
        assert_eq!(chunk.header(), "DATA 9 10000");
        let mut bytes = Vec::new();
        chunk.read_to_vec(&mut bytes).unwrap();
        drop(chunk);
        assert!(bytes == data);
        assert!(matches!(
            frames.read_frame().unwrap(),
            Some(Frame::Line("WHO"))
        ));
    }

    #[test]
    fn an_unread_chunk_is_skipped_however_little_was_read() {
        let wire = b"DATA 1 6\nabcdefDATA 2 3\nxyzWHO\n";
        let mut frames = FrameReader::with_capacity(4, Pieces::new(&[wire], 3));
        let Some(Frame::Data(mut chunk)) = frames.read_frame().unwrap() else {
            panic!("a chunk comes first");
        };
        let mut two = [0; 2];
        chunk.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"ab");
        drop(chunk); // four bytes left unread
        let Some(Frame::Data(chunk)) = frames.read_frame().unwrap() else {
            panic!("then the second chunk");
        };
        assert_eq!(chunk.id(), 2);
        chunk.skip().unwrap();
        assert!(matches!(
            frames.read_frame().unwrap(),
            Some(Frame::Line("WHO"))
        ));
    }

    #[test]
    fn eof_inside_a_chunk_is_an_error_not_an_end() {
        let mut frames = FrameReader::new(&b"DATA 1 10\nabc"[..]);
        let Some(Frame::Data(mut chunk)) = frames.read_frame().unwrap() else {
            panic!("a chunk");
        };
        let error = chunk.read_to_vec(&mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        // Dropped unread, the same cut is reported by the next read.
        let mut frames = FrameReader::new(&b"DATA 1 10\nabc"[..]);
        drop(frames.read_frame().unwrap());
        let error = frames.read_frame().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_timeout_inside_a_chunk_loses_nothing() {
        let pieces = Pieces::new(&[b"DATA 4 6\nabc", b"", b"defWHO\n"], usize::MAX);
        let mut frames = FrameReader::new(pieces);
        let Some(Frame::Data(mut chunk)) = frames.read_frame().unwrap() else {
            panic!("a chunk");
        };
        let mut bytes = Vec::new();
        let error = chunk.read_to_vec(&mut bytes).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        chunk.read_to_vec(&mut bytes).unwrap();
        drop(chunk);
        assert_eq!(bytes, b"abcdef");
        assert!(matches!(
            frames.read_frame().unwrap(),
            Some(Frame::Line("WHO"))
        ));
    }

    #[test]
    fn untrusted_data_headers_break_framing() {
        for wire in [&b"DATA 1 x\n"[..], b"DATA 1 1048577\n", b"DATA\n"] {
            let mut frames = FrameReader::new(wire);
            let error = frames.read_frame().unwrap_err();
            assert_eq!(code_of(&error), Some(ErrorCode::BadChunk), "{wire:?}");
        }
    }

    #[test]
    fn read_line_takes_data_as_plain_text() {
        let mut frames = FrameReader::new(&b"DATA 1 5\nhello\n"[..]);
        assert_eq!(frames.read_line().unwrap(), Some("DATA 1 5"));
        assert_eq!(frames.read_line().unwrap(), Some("hello"));
    }

    /// A writer that takes at most 3 bytes per call, as a full socket
    /// buffer might.
    struct Stingy(Vec<u8>);

    impl Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_writes_are_continued() {
        let mut out = Stingy(Vec::new());
        write_all_vectored(&mut out, &[b"DATA 1 5\n", b"", b"hello"]).unwrap();
        assert_eq!(out.0, b"DATA 1 5\nhello");
    }
}
