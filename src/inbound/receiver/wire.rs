//! Reading the client's bytes without trusting their size: command lines up
//! to a limit, and message data in bounded pieces, dot-unstuffed, with
//! whatever goes over the message limit counted and dropped.

use std::io;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longest command line (RFC 5321 allows 512 octets; SMTPUTF8 addresses and
/// parameters make real ones longer).
pub(super) const MAX_COMMAND: usize = 4096;
/// Largest piece of data read at once: long lines are read in pieces.
const PIECE: usize = 64 * 1024;

/// One read of at most `limit` bytes, up to and including the next `\n`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// Ends with `\n`.
    Line,
    /// `limit` bytes without a `\n`: the line goes on.
    Partial,
    /// The client closed the connection (anything read is discarded).
    Closed,
}

/// Appends the next piece to `buf` (cleared first).
pub(super) async fn read_piece<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Piece> {
    buf.clear();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(Piece::Closed);
        }
        let room = limit - buf.len();
        let (take, ends) = match available.iter().take(room).position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len().min(room), false),
        };
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
        if ends {
            return Ok(Piece::Line);
        }
        if buf.len() == limit {
            return Ok(Piece::Partial);
        }
    }
}

/// A command line, or why there is none.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Command {
    Line(String),
    /// Over [`MAX_COMMAND`]: read to its end and dropped.
    TooLong,
    Closed,
}

pub(super) async fn read_command<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<Command> {
    match read_piece(reader, buf, MAX_COMMAND).await? {
        Piece::Line => {
            let text = String::from_utf8_lossy(buf);
            Ok(Command::Line(
                text.trim_end_matches(['\r', '\n']).to_string(),
            ))
        }
        Piece::Closed => Ok(Command::Closed),
        Piece::Partial => loop {
            match read_piece(reader, buf, MAX_COMMAND).await? {
                Piece::Line => return Ok(Command::TooLong),
                Piece::Partial => continue,
                Piece::Closed => return Ok(Command::Closed),
            }
        },
    }
}

/// A message's data as it arrives, until the `.` line.
#[derive(Debug)]
pub(super) struct Data {
    limit: usize,
    pub message: Vec<u8>,
    /// Bytes received in all (past the limit they are counted, not kept).
    pub size: usize,
    at_line_start: bool,
    piece: Vec<u8>,
}

impl Data {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            message: Vec::new(),
            size: 0,
            at_line_start: true,
            piece: Vec::with_capacity(8192),
        }
    }

    pub fn oversize(&self) -> bool {
        self.size > self.limit
    }

    /// Reads one piece: `Ok(true)` at the end-of-data line, `Ok(false)` to
    /// go on; a closed connection is an `UnexpectedEof` error.
    pub async fn read<R: AsyncBufRead + Unpin>(&mut self, reader: &mut R) -> io::Result<bool> {
        let mut piece = std::mem::take(&mut self.piece);
        let kind = read_piece(reader, &mut piece, PIECE).await;
        let done = match kind {
            Err(e) => Err(e),
            Ok(Piece::Closed) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client closed the connection during DATA",
            )),
            Ok(kind) => Ok(self.take(&piece, kind == Piece::Line)),
        };
        self.piece = piece;
        done
    }

    fn take(&mut self, piece: &[u8], ends_line: bool) -> bool {
        let mut bytes = piece;
        if self.at_line_start {
            if bytes == b".\r\n" {
                return true;
            }
            // RFC 5321 4.5.2: a leading dot was doubled by the client.
            if bytes.first() == Some(&b'.') {
                bytes = &bytes[1..];
            }
        }
        self.at_line_start = ends_line;
        self.size += bytes.len();
        if self.size <= self.limit {
            self.message.extend_from_slice(bytes);
        } else if !self.message.is_empty() {
            // Over the limit: the message will be refused, keep nothing.
            self.message = Vec::new();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn data(input: &[u8], limit: usize) -> (Data, usize) {
        let mut reader = tokio::io::BufReader::with_capacity(7, input);
        let mut data = Data::new(limit);
        while !data.read(&mut reader).await.unwrap() {}
        let rest = reader.buffer().len();
        (data, rest)
    }

    #[tokio::test]
    async fn data_is_unstuffed_and_ends_at_the_dot_line_only() {
        let (got, _) = data(b"a\r\n..b\r\n.c\r\nx.\r\n\r\n.\r\nNEXT", 1000).await;
        assert_eq!(got.message, b"a\r\n.b\r\nc\r\nx.\r\n\r\n");
        assert!(!got.oversize());
    }

    #[tokio::test]
    async fn a_long_line_is_read_in_pieces_and_a_dot_inside_it_is_kept() {
        let mut input = vec![b'y'; PIECE * 2 + 10];
        input.extend_from_slice(b"\r\n.\r\n");
        // The piece boundary falls where a `.` starts the next piece.
        input[PIECE] = b'.';
        let (got, _) = data(&input, 10 * PIECE).await;
        assert_eq!(got.message.len(), PIECE * 2 + 12);
        assert_eq!(got.message[PIECE], b'.');
    }

    #[tokio::test]
    async fn data_over_the_limit_is_counted_not_kept() {
        let mut input = b"0123456789\r\n".repeat(100);
        input.extend_from_slice(b".\r\n");
        let (got, _) = data(&input, 100).await;
        assert!(got.oversize());
        assert!(got.message.is_empty());
        assert_eq!(got.size, 1200);
    }

    #[tokio::test]
    async fn a_closed_connection_during_data_is_an_error() {
        let mut reader = tokio::io::BufReader::new(&b"half a message\r\n"[..]);
        let mut data = Data::new(100);
        assert!(!data.read(&mut reader).await.unwrap());
        let err = data.read(&mut reader).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn an_overlong_command_is_skipped_to_its_end() {
        let mut input = vec![b'A'; MAX_COMMAND * 3];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let mut reader = tokio::io::BufReader::new(&input[..]);
        let mut buf = Vec::new();
        let first = read_command(&mut reader, &mut buf).await.unwrap();
        assert_eq!(first, Command::TooLong);
        let next = read_command(&mut reader, &mut buf).await.unwrap();
        assert_eq!(next, Command::Line("NOOP".into()));
        let end = read_command(&mut reader, &mut buf).await.unwrap();
        assert_eq!(end, Command::Closed);
    }
}
