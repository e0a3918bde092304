//! What a full client sends the server: the verbs of `PROTOCOL.md`
//! sections 3.1 and 4.1, as [`ClientMessage`].
//!
//! A message borrows its text fields from the line it was decoded from,
//! so decoding copies nothing; encoding appends one whole line to a
//! buffer, ready to be written in one go.

use super::errors::ProtocolError;
use super::fields::{
    Delivery, check_no_fields, check_present, check_text, decode_cancel, decode_done, decode_offer,
    decode_offset, parse_number, push_line, split_word, unknown_command,
};
use super::framing::decode_data_fields;

/// A message from a full client to the server, borrowed from the line it
/// was decoded from (decoding copies nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage<'a> {
    /// `HELLO ftpchat/1 NICK`: the handshake; must be the first line.
    Hello {
        /// The protocol version, [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION).
        version: &'a str,
        /// The nickname the client asks for.
        nick: &'a str,
    },
    /// `CHAT TEXT`: a message to everyone.
    Chat {
        /// What the user typed.
        text: &'a str,
    },
    /// `PRIVATE NICK TEXT`: a message to one user.
    Private {
        /// The recipient's nickname.
        to: &'a str,
        /// What the user typed.
        text: &'a str,
    },
    /// `ACTION TEXT`: an action, said in the third person (`/me waves`).
    Action {
        /// What the user does.
        text: &'a str,
    },
    /// `NICK NEW`: asks to be known by another nickname.
    Nick {
        /// The nickname wanted.
        nick: &'a str,
    },
    /// `WHO`: asks for the list of connected users.
    Who,
    /// `QUIT`: the client is leaving; the server answers `BYE` and closes.
    Quit,
    /// `PING TOKEN`: asks the other side to prove it is alive.
    Ping {
        /// Any word; the answer repeats it.
        token: &'a str,
    },
    /// `PONG TOKEN`: the answer to a `PING`.
    Pong {
        /// The token of the `PING` being answered.
        token: &'a str,
    },
    /// `SEND ID SIZE STAMP TO NAME`: offers a file of SIZE bytes to the
    /// users TO (a nickname, or several separated by commas), or to every
    /// other full client if TO is `*`. ID is the sender's number for this
    /// transfer, used in its `DATA`, `DONE` and `CANCEL`. STAMP names this
    /// version of the file, so that a receiver holding part of it can
    /// resume (`-`: not resumable).
    Send {
        /// The sender's transfer id.
        id: u64,
        /// The file's size in bytes.
        size: u64,
        /// Names this version of the file (changes if the file does), or
        /// [`NO_STAMP`](super::fields::NO_STAMP).
        stamp: &'a str,
        /// A nickname, several separated by commas, or `*` for everyone.
        to: &'a str,
        /// The file's name (without folders); receivers clean it up again.
        name: &'a str,
    },
    /// `DATA ID LEN`, followed by exactly LEN bytes of the file.
    Data {
        /// The transfer the bytes belong to.
        id: u64,
        /// How many bytes follow the header line.
        len: usize,
    },
    /// `DONE ID CKSUM`: all data has been sent; CKSUM is the file's `cksum`.
    Done {
        /// The transfer.
        id: u64,
        /// The `cksum` checksum of the whole file.
        checksum: u32,
    },
    /// `CANCEL ID REASON`: the sender gives up on this transfer.
    Cancel {
        /// The transfer.
        id: u64,
        /// Why, in a few words.
        reason: &'a str,
    },
    /// `ACCEPT ID OFFSET`: a recipient takes the file the server numbered
    /// ID (in its `FILE`), from byte OFFSET on (0 for the whole file).
    Accept {
        /// The file, as numbered in the server's `FILE`.
        id: u64,
        /// The first byte the recipient needs.
        offset: u64,
    },
    /// `DECLINE ID REASON`: a recipient refuses the file the server
    /// numbered ID, or stops receiving it.
    Decline {
        /// The file, as numbered in the server's `FILE`.
        id: u64,
        /// Why, in a few words.
        reason: &'a str,
    },
    /// `FROM ID OFFSET`: (the sender) the `DATA` that follows for transfer
    /// ID starts at byte OFFSET, the answer to a `RECEIVING` that asks for
    /// bytes the sender has already sent.
    From {
        /// The sender's transfer id.
        id: u64,
        /// Where the next `DATA` starts in the file.
        offset: u64,
    },
    /// `GOT BYTES`: a recipient has read BYTES more bytes of file data
    /// (flow control; see [`crate::protocol::flow`]).
    Got {
        /// Bytes of `DATA` chunks read since the last `GOT`, all files
        /// together.
        bytes: u64,
    },
    /// `RECEIVED ID ok` or `RECEIVED ID failed REASON`: a receiver reports
    /// how the file the server numbered ID turned out.
    Received {
        /// The transfer, as numbered in the server's `FILE`.
        id: u64,
        /// Saved, or why not.
        outcome: Delivery<'a>,
    },
}

impl<'a> ClientMessage<'a> {
    /// Parses one line (without its line ending) sent by a full client.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::UnknownCommand`](super::ErrorCode::UnknownCommand) for an unknown verb and
    /// [`ErrorCode::BadMessage`](super::ErrorCode::BadMessage) for a known verb with wrong fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::protocol::ClientMessage;
    ///
    /// let message = ClientMessage::decode("PRIVATE bob see you at 5")?;
    /// assert_eq!(message, ClientMessage::Private { to: "bob", text: "see you at 5" });
    /// # Ok::<(), ftpchat::protocol::ProtocolError>(())
    /// ```
    pub fn decode(line: &'a str) -> Result<ClientMessage<'a>, ProtocolError> {
        let (verb, rest) = split_word(line);
        match verb {
            "HELLO" => {
                let (version, nick) = split_word(rest);
                Ok(ClientMessage::Hello {
                    version: check_present(verb, "protocol version", version)?,
                    nick,
                })
            }
            "CHAT" => Ok(ClientMessage::Chat {
                text: check_text(rest)?,
            }),
            "PRIVATE" => {
                let (to, text) = split_word(rest);
                Ok(ClientMessage::Private {
                    to: check_present(verb, "nickname", to)?,
                    text: check_text(text)?,
                })
            }
            "ACTION" => Ok(ClientMessage::Action {
                text: check_text(rest)?,
            }),
            "NICK" => Ok(ClientMessage::Nick {
                nick: check_present(verb, "nickname", rest)?,
            }),
            "WHO" => check_no_fields(verb, rest).map(|()| ClientMessage::Who),
            "QUIT" => check_no_fields(verb, rest).map(|()| ClientMessage::Quit),
            "PING" => Ok(ClientMessage::Ping {
                token: check_present(verb, "token", rest)?,
            }),
            "PONG" => Ok(ClientMessage::Pong {
                token: check_present(verb, "token", rest)?,
            }),
            "SEND" => {
                let offer = decode_offer(verb, "recipient", rest)?;
                Ok(ClientMessage::Send {
                    id: offer.id,
                    size: offer.size,
                    stamp: offer.stamp,
                    to: offer.who,
                    name: offer.name,
                })
            }
            "DATA" => decode_data_fields(rest).map(|(id, len)| ClientMessage::Data { id, len }),
            "DONE" => decode_done(rest).map(|(id, checksum)| ClientMessage::Done { id, checksum }),
            "CANCEL" => {
                decode_cancel(verb, rest).map(|(id, reason)| ClientMessage::Cancel { id, reason })
            }
            "ACCEPT" => {
                decode_offset(verb, rest).map(|(id, offset)| ClientMessage::Accept { id, offset })
            }
            "DECLINE" => {
                let (id, reason) = decode_cancel(verb, rest)?;
                Ok(ClientMessage::Decline { id, reason })
            }
            "FROM" => {
                decode_offset(verb, rest).map(|(id, offset)| ClientMessage::From { id, offset })
            }
            "GOT" => Ok(ClientMessage::Got {
                bytes: parse_number(verb, "byte count", rest)?,
            }),
            "RECEIVED" => {
                let (id, outcome) = split_word(rest);
                Ok(ClientMessage::Received {
                    id: parse_number(verb, "transfer id", id)?,
                    outcome: Delivery::decode(verb, outcome)?,
                })
            }
            _ => Err(unknown_command(verb)),
        }
    }

    /// Appends this message as one line, with its `\n`, to `out`. For
    /// `DATA` that is the header line only: the caller sends the bytes.
    ///
    /// Fields must not contain `\n`: they come from lines, which cannot.
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::protocol::ClientMessage;
    ///
    /// let mut out = Vec::new();
    /// ClientMessage::Chat { text: "hello, world" }.encode(&mut out);
    /// assert_eq!(out, b"CHAT hello, world\n");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ClientMessage::Hello { version, nick } => push_line(out, &["HELLO", version, nick]),
            ClientMessage::Chat { text } => push_line(out, &["CHAT", text]),
            ClientMessage::Private { to, text } => push_line(out, &["PRIVATE", to, text]),
            ClientMessage::Action { text } => push_line(out, &["ACTION", text]),
            ClientMessage::Nick { nick } => push_line(out, &["NICK", nick]),
            ClientMessage::Who => push_line(out, &["WHO"]),
            ClientMessage::Quit => push_line(out, &["QUIT"]),
            ClientMessage::Ping { token } => push_line(out, &["PING", token]),
            ClientMessage::Pong { token } => push_line(out, &["PONG", token]),
            ClientMessage::Send {
                id,
                size,
                stamp,
                to,
                name,
            } => {
                let (id, size) = (id.to_string(), size.to_string());
                push_line(out, &["SEND", &id, &size, stamp, to, name]);
            }
            ClientMessage::Data { id, len } => {
                push_line(out, &["DATA", &id.to_string(), &len.to_string()])
            }
            ClientMessage::Done { id, checksum } => {
                push_line(out, &["DONE", &id.to_string(), &checksum.to_string()]);
            }
            ClientMessage::Cancel { id, reason } => {
                push_line(out, &["CANCEL", &id.to_string(), reason])
            }
            ClientMessage::Accept { id, offset } => {
                push_line(out, &["ACCEPT", &id.to_string(), &offset.to_string()]);
            }
            ClientMessage::Decline { id, reason } => {
                push_line(out, &["DECLINE", &id.to_string(), reason]);
            }
            ClientMessage::From { id, offset } => {
                push_line(out, &["FROM", &id.to_string(), &offset.to_string()]);
            }
            ClientMessage::Got { bytes } => push_line(out, &["GOT", &bytes.to_string()]),
            ClientMessage::Received { id, outcome } => {
                let [word, reason] = outcome.fields();
                push_line(out, &["RECEIVED", &id.to_string(), word, reason]);
            }
        }
    }

    /// This message as a line of bytes, ready to write.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ErrorCode, PROTOCOL_VERSION};
    use crate::protocol::{MAX_CHUNK_LEN, MAX_TEXT_LEN, ServerMessage};

    #[test]
    fn client_messages_survive_a_round_trip() {
        let messages = [
            ClientMessage::Hello {
                version: PROTOCOL_VERSION,
                nick: "alice",
            },
            ClientMessage::Chat {
                text: "hello  there ",
            },
            ClientMessage::Private {
                to: "bob",
                text: "psst",
            },
            ClientMessage::Who,
            ClientMessage::Quit,
            ClientMessage::Action { text: "waves" },
            ClientMessage::Nick { nick: "alicia" },
            ClientMessage::Ping { token: "42" },
            ClientMessage::Pong { token: "42" },
            ClientMessage::Send {
                id: 1,
                size: u64::MAX,
                stamp: "-",
                to: "*",
                name: "my notes.txt",
            },
            ClientMessage::Send {
                id: 2,
                size: 5,
                stamp: "5-17a2b3c4d5e6f",
                to: "bob,carol",
                name: "x",
            },
            ClientMessage::Data {
                id: 1,
                len: MAX_CHUNK_LEN,
            },
            ClientMessage::Done {
                id: 1,
                checksum: u32::MAX,
            },
            ClientMessage::Cancel {
                id: 1,
                reason: "file unreadable",
            },
            ClientMessage::Received {
                id: 9,
                outcome: Delivery::Ok,
            },
            ClientMessage::Accept { id: 9, offset: 0 },
            ClientMessage::Accept {
                id: 9,
                offset: u64::MAX,
            },
            ClientMessage::Decline {
                id: 9,
                reason: "no thanks",
            },
            ClientMessage::From { id: 1, offset: 42 },
            ClientMessage::Got { bytes: 1 << 33 },
            ClientMessage::Received {
                id: 9,
                outcome: Delivery::Failed("disk full"),
            },
            ClientMessage::Received {
                id: 9,
                outcome: Delivery::Lost("connection reset"),
            },
        ];
        for message in messages {
            let bytes = message.to_bytes();
            let line = std::str::from_utf8(&bytes)
                .unwrap()
                .strip_suffix('\n')
                .unwrap();
            assert_eq!(ClientMessage::decode(line).unwrap(), message, "{line:?}");
        }
    }

    #[test]
    fn exact_bytes_of_each_client_message() {
        let hello = ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            nick: "alice",
        };
        assert_eq!(hello.to_bytes(), b"HELLO ftpchat/1 alice\n");
        let private = ClientMessage::Private {
            to: "bob",
            text: "hi",
        };
        assert_eq!(private.to_bytes(), b"PRIVATE bob hi\n");
        assert_eq!(ClientMessage::Who.to_bytes(), b"WHO\n");
        assert_eq!(ServerMessage::Bye { reason: "" }.to_bytes(), b"BYE\n");
    }

    #[test]
    fn malformed_client_lines_get_the_right_code() {
        let cases = [
            ("", ErrorCode::UnknownCommand),
            ("chat hi", ErrorCode::UnknownCommand),
            ("FLY away", ErrorCode::UnknownCommand),
            ("CHAT", ErrorCode::BadMessage),
            ("CHAT ", ErrorCode::BadMessage),
            ("PRIVATE", ErrorCode::BadMessage),
            ("PRIVATE bob", ErrorCode::BadMessage),
            ("PRIVATE  hi", ErrorCode::BadMessage),
            ("WHO everyone", ErrorCode::BadMessage),
            ("QUIT now", ErrorCode::BadMessage),
            ("HELLO", ErrorCode::BadMessage),
            ("PING", ErrorCode::BadMessage),
        ];
        for (line, code) in cases {
            let error = ClientMessage::decode(line).unwrap_err();
            assert_eq!(error.code, code, "{line:?}");
        }
    }

    #[test]
    fn exact_bytes_of_file_frames() {
        let send = ClientMessage::Send {
            id: 1,
            size: 1027,
            stamp: "403-1",
            to: "*",
            name: "my notes.txt",
        };
        assert_eq!(send.to_bytes(), b"SEND 1 1027 403-1 * my notes.txt\n");
        assert_eq!(
            ClientMessage::Data { id: 1, len: 1024 }.to_bytes(),
            b"DATA 1 1024\n"
        );
        let received = ClientMessage::Received {
            id: 4,
            outcome: Delivery::Failed("disk full"),
        };
        assert_eq!(received.to_bytes(), b"RECEIVED 4 failed disk full\n");
    }

    #[test]
    fn bad_data_headers_break_framing() {
        let too_big = format!("DATA 1 {}", MAX_CHUNK_LEN + 1);
        for line in [
            "DATA",
            "DATA 1",
            "DATA x 5",
            "DATA 1 -5",
            "DATA 1 +5",
            too_big.as_str(),
            "DATA 1 99999999999999999999999",
        ] {
            let error = ClientMessage::decode(line).unwrap_err();
            assert_eq!(error.code, ErrorCode::BadChunk, "{line:?}");
            assert!(error.code.breaks_framing());
            assert_eq!(
                ServerMessage::decode(line).unwrap_err().code,
                ErrorCode::BadChunk
            );
        }
    }

    #[test]
    fn numbers_that_overflow_are_refused() {
        for line in [
            "SEND 18446744073709551616 1 - * x",
            "SEND 1 18446744073709551616 - * x",
            "DONE 1 4294967296",
            "SEND 1 1 - *",
            "SEND 1 1 *",
            "SEND 1 1",
            "SEND 1 1 a/b * x",
            "SEND 1 1 \u{e9} * x",
            "RECEIVED 1 maybe",
            "RECEIVED 1",
        ] {
            let error = ClientMessage::decode(line).unwrap_err();
            assert_eq!(error.code, ErrorCode::BadMessage, "{line:?}");
            assert!(!error.code.breaks_framing());
        }
        let long_name = format!("SEND 1 1 * {}", "n".repeat(256));
        assert_eq!(
            ClientMessage::decode(&long_name).unwrap_err().code,
            ErrorCode::BadMessage
        );
    }

    #[test]
    fn chat_text_over_the_limit_is_refused() {
        let text = "x".repeat(MAX_TEXT_LEN + 1);
        let line = format!("CHAT {text}");
        assert_eq!(
            ClientMessage::decode(&line).unwrap_err().code,
            ErrorCode::BadMessage
        );
        let line = format!("CHAT {}", &text[1..]);
        assert!(ClientMessage::decode(&line).is_ok());
    }
}
