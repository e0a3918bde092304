//! What the server sends a full client: the verbs of `PROTOCOL.md`
//! sections 3.2 and 4.1, as [`ServerMessage`], and [`encode_users`],
//! which splits a long list of users over several lines.

use super::errors::{ErrorCode, ProtocolError};
use super::fields::{
    Delivery, check_present, decode_cancel, decode_done, decode_offer, parse_number, push_line,
    split_word, unknown_command,
};
use super::framing::{MAX_LINE_LEN, decode_data_fields};

/// A message from the server to a full client, borrowed from the line it
/// was decoded from, or from the values it was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerMessage<'a> {
    /// `WELCOME NICK`: the handshake succeeded; this is your nickname.
    Welcome {
        /// The nickname, as registered.
        nick: &'a str,
    },
    /// `CHAT FROM TEXT`: someone said something to everyone.
    Chat {
        /// The sender's nickname, stamped by the server.
        from: &'a str,
        /// What they said.
        text: &'a str,
    },
    /// `PRIVATE FROM TEXT`: someone said something to you alone.
    Private {
        /// The sender's nickname, stamped by the server.
        from: &'a str,
        /// What they said.
        text: &'a str,
    },
    /// `ACTION FROM TEXT`: someone did something (`/me`), for everyone.
    Action {
        /// Who.
        from: &'a str,
        /// What, in the third person.
        text: &'a str,
    },
    /// `NICK OLD NEW`: the user called OLD is now called NEW (sent to
    /// everyone, the user included).
    Nick {
        /// The nickname it had.
        old: &'a str,
        /// The nickname it has now.
        new: &'a str,
    },
    /// `HISTORY TIME KIND FROM TEXT`: a public line said before this
    /// client joined, at TIME (seconds since 1970, UTC); KIND is `CHAT` or
    /// `ACTION`.
    History {
        /// When it was said.
        time: u64,
        /// A chat line or an action.
        kind: Said,
        /// Who said it.
        from: &'a str,
        /// What.
        text: &'a str,
    },
    /// `JOINED NICK`: a user joined.
    Joined {
        /// Who joined.
        nick: &'a str,
    },
    /// `LEFT NICK REASON`: a user left.
    Left {
        /// Who left.
        nick: &'a str,
        /// Why, in a few words (`quit`, `connection lost`, ...).
        reason: &'a str,
    },
    /// `USERS TOTAL NICK...`: connected users. A long list is split over
    /// several lines that each repeat the total, so every line stays under
    /// [`MAX_LINE_LEN`].
    Users {
        /// How many users are connected in all.
        total: usize,
        /// Some of their nicknames, separated by single spaces.
        nicks: &'a str,
    },
    /// `NOTICE TEXT`: information from the server itself.
    Notice {
        /// The information.
        text: &'a str,
    },
    /// `ERROR CODE TEXT`: the last request failed, or the connection is
    /// about to be closed.
    Error {
        /// The wire spelling of an [`ErrorCode`] (kept as text, so that a
        /// client can show codes newer than itself).
        code: &'a str,
        /// What went wrong, for a person.
        text: &'a str,
    },
    /// `BYE REASON`: the server is closing this connection.
    Bye {
        /// Why.
        reason: &'a str,
    },
    /// `PING TOKEN`: the server asks the client to prove it is alive.
    Ping {
        /// Any word; the answer repeats it.
        token: &'a str,
    },
    /// `PONG TOKEN`: the answer to a client's `PING`.
    Pong {
        /// The token of the `PING` being answered.
        token: &'a str,
    },
    /// `ACCEPTED ID COUNT`: the server will relay the sender's transfer ID
    /// to COUNT recipients; send the data.
    Accepted {
        /// The sender's transfer id.
        id: u64,
        /// How many recipients will get the file.
        recipients: usize,
    },
    /// `REFUSED ID CODE TEXT`: the server will not relay transfer ID.
    Refused {
        /// The sender's transfer id.
        id: u64,
        /// The wire spelling of an [`ErrorCode`].
        code: &'a str,
        /// Why, for a person.
        text: &'a str,
    },
    /// `DELIVERED ID NICK ok` or `DELIVERED ID NICK failed REASON`: how
    /// the sender's transfer ID turned out for one recipient.
    Delivered {
        /// The sender's transfer id.
        id: u64,
        /// The recipient.
        nick: &'a str,
        /// Saved, or why not.
        outcome: Delivery<'a>,
    },
    /// `RECEIVING ID NICK OFFSET`: (to the sender) NICK accepted transfer
    /// ID and needs its bytes from OFFSET on. The sender sends its data
    /// from the first such OFFSET; a later one below where its data has
    /// got to asks it to go back (`FROM`).
    Receiving {
        /// The sender's transfer id.
        id: u64,
        /// The recipient.
        nick: &'a str,
        /// The first byte it needs.
        offset: u64,
    },
    /// `MORE ID BYTES`: (to the sender) it may send BYTES more bytes of
    /// transfer ID's data (flow control; see [`crate::protocol::flow`]).
    More {
        /// The sender's transfer id.
        id: u64,
        /// How many more bytes it may send.
        bytes: u64,
    },
    /// `FILE ID SIZE STAMP FROM NAME`: FROM offers a file of SIZE bytes;
    /// its `DATA`, `DONE`, `CANCEL` or `PAUSED` frames carry the server's
    /// number ID. STAMP is the sender's name for this version of the file
    /// (`-`: not resumable).
    File {
        /// The server's number for this transfer.
        id: u64,
        /// The file's size in bytes.
        size: u64,
        /// The sender's stamp of the file, passed on unchanged.
        stamp: &'a str,
        /// The sender's nickname.
        from: &'a str,
        /// The name the sender gave (never trusted: see [`crate::files`]).
        name: &'a str,
    },
    /// `DATA ID LEN`, followed by exactly LEN bytes of the file.
    Data {
        /// The transfer the bytes belong to.
        id: u64,
        /// How many bytes follow the header line.
        len: usize,
    },
    /// `DONE ID CKSUM`: the file is complete; CKSUM is the sender's `cksum`.
    Done {
        /// The transfer.
        id: u64,
        /// The `cksum` checksum the sender computed.
        checksum: u32,
    },
    /// `CANCEL ID REASON`: the transfer stopped; discard what arrived.
    Cancel {
        /// The transfer.
        id: u64,
        /// Why, in a few words.
        reason: &'a str,
    },
    /// `PAUSED ID REASON`: the transfer stopped because the sender's
    /// connection was lost; keep what arrived, to resume when the sender
    /// offers the file again.
    Paused {
        /// The transfer.
        id: u64,
        /// Why, in a few words.
        reason: &'a str,
    },
}

/// What kind of public line a `HISTORY` frame repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Said {
    /// A chat line (`CHAT`).
    Chat,
    /// An action (`ACTION`, `/me`).
    Action,
}

impl<'a> ServerMessage<'a> {
    /// Parses one line (without its line ending) sent by the server.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::UnknownCommand`] for an unknown verb and
    /// [`ErrorCode::BadMessage`] for a known verb with wrong fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::protocol::ServerMessage;
    ///
    /// // The sender's nickname is one word; the text is the rest.
    /// let message = ServerMessage::decode("CHAT alice see you at 5")?;
    /// assert_eq!(message, ServerMessage::Chat { from: "alice", text: "see you at 5" });
    /// let header = ServerMessage::decode("DATA 3 262144")?;
    /// assert_eq!(header, ServerMessage::Data { id: 3, len: 262144 });
    /// # Ok::<(), ftpchat::protocol::ProtocolError>(())
    /// ```
    pub fn decode(line: &'a str) -> Result<ServerMessage<'a>, ProtocolError> {
        let (verb, rest) = split_word(line);
        match verb {
            "ACCEPTED" | "RECEIVING" | "MORE" | "REFUSED" | "DELIVERED" | "FILE" | "DATA"
            | "DONE" | "CANCEL" | "PAUSED" => ServerMessage::decode_file_frame(verb, rest),
            _ => ServerMessage::decode_chat_frame(verb, rest),
        }
    }

    /// Decodes the fields of a message about people and chat.
    fn decode_chat_frame(verb: &str, rest: &'a str) -> Result<ServerMessage<'a>, ProtocolError> {
        match verb {
            "WELCOME" => Ok(ServerMessage::Welcome {
                nick: check_present(verb, "nickname", rest)?,
            }),
            "CHAT" | "PRIVATE" => {
                let (from, text) = split_word(rest);
                let from = check_present(verb, "nickname", from)?;
                if verb == "CHAT" {
                    Ok(ServerMessage::Chat { from, text })
                } else {
                    Ok(ServerMessage::Private { from, text })
                }
            }
            "ACTION" => {
                let (from, text) = split_word(rest);
                Ok(ServerMessage::Action {
                    from: check_present(verb, "nickname", from)?,
                    text,
                })
            }
            "NICK" => {
                let (old, new) = split_word(rest);
                Ok(ServerMessage::Nick {
                    old: check_present(verb, "nickname", old)?,
                    new: check_present(verb, "new nickname", new)?,
                })
            }
            "HISTORY" => {
                let (time, rest) = split_word(rest);
                let (kind, rest) = split_word(rest);
                let (from, text) = split_word(rest);
                let kind = match kind {
                    "CHAT" => Said::Chat,
                    "ACTION" => Said::Action,
                    _ => {
                        let text = format!("{verb} needs CHAT or ACTION");
                        return Err(ProtocolError::new(ErrorCode::BadMessage, text));
                    }
                };
                Ok(ServerMessage::History {
                    time: parse_number(verb, "time", time)?,
                    kind,
                    from: check_present(verb, "nickname", from)?,
                    text,
                })
            }
            "JOINED" => Ok(ServerMessage::Joined {
                nick: check_present(verb, "nickname", rest)?,
            }),
            "LEFT" => {
                let (nick, reason) = split_word(rest);
                Ok(ServerMessage::Left {
                    nick: check_present(verb, "nickname", nick)?,
                    reason,
                })
            }
            "USERS" => {
                let (total, nicks) = split_word(rest);
                let total = parse_number(verb, "count of users", total)?;
                Ok(ServerMessage::Users { total, nicks })
            }
            "NOTICE" => Ok(ServerMessage::Notice { text: rest }),
            "ERROR" => {
                let (code, text) = split_word(rest);
                Ok(ServerMessage::Error {
                    code: check_present(verb, "error code", code)?,
                    text,
                })
            }
            "BYE" => Ok(ServerMessage::Bye { reason: rest }),
            "PING" => Ok(ServerMessage::Ping {
                token: check_present(verb, "token", rest)?,
            }),
            "PONG" => Ok(ServerMessage::Pong {
                token: check_present(verb, "token", rest)?,
            }),
            _ => Err(unknown_command(verb)),
        }
    }

    /// Decodes the fields of a message about a file (section 4.1).
    fn decode_file_frame(verb: &str, rest: &'a str) -> Result<ServerMessage<'a>, ProtocolError> {
        match verb {
            "ACCEPTED" => {
                let (id, recipients) = split_word(rest);
                Ok(ServerMessage::Accepted {
                    id: parse_number(verb, "transfer id", id)?,
                    recipients: parse_number(verb, "count", recipients)?,
                })
            }
            "RECEIVING" => {
                let (id, rest) = split_word(rest);
                let (nick, offset) = split_word(rest);
                Ok(ServerMessage::Receiving {
                    id: parse_number(verb, "transfer id", id)?,
                    nick: check_present(verb, "nickname", nick)?,
                    offset: parse_number(verb, "offset", offset)?,
                })
            }
            "MORE" => {
                let (id, bytes) = split_word(rest);
                Ok(ServerMessage::More {
                    id: parse_number(verb, "transfer id", id)?,
                    bytes: parse_number(verb, "byte count", bytes)?,
                })
            }
            "REFUSED" => {
                let (id, rest) = split_word(rest);
                let (code, text) = split_word(rest);
                Ok(ServerMessage::Refused {
                    id: parse_number(verb, "transfer id", id)?,
                    code: check_present(verb, "error code", code)?,
                    text,
                })
            }
            "DELIVERED" => {
                let (id, rest) = split_word(rest);
                let (nick, outcome) = split_word(rest);
                Ok(ServerMessage::Delivered {
                    id: parse_number(verb, "transfer id", id)?,
                    nick: check_present(verb, "nickname", nick)?,
                    outcome: Delivery::decode(verb, outcome)?,
                })
            }
            "FILE" => {
                let offer = decode_offer(verb, "nickname", rest)?;
                Ok(ServerMessage::File {
                    id: offer.id,
                    size: offer.size,
                    stamp: offer.stamp,
                    from: offer.who,
                    name: offer.name,
                })
            }
            "DATA" => decode_data_fields(rest).map(|(id, len)| ServerMessage::Data { id, len }),
            "DONE" => decode_done(rest).map(|(id, checksum)| ServerMessage::Done { id, checksum }),
            "CANCEL" => {
                decode_cancel(verb, rest).map(|(id, reason)| ServerMessage::Cancel { id, reason })
            }
            "PAUSED" => {
                decode_cancel(verb, rest).map(|(id, reason)| ServerMessage::Paused { id, reason })
            }
            _ => Err(unknown_command(verb)),
        }
    }

    /// Appends this message as one line, with its `\n`, to `out`.
    ///
    /// Fields must not contain `\n`: they come from lines, which cannot.
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::protocol::ServerMessage;
    ///
    /// let mut out = Vec::new();
    /// ServerMessage::Chat { from: "alice", text: "hi all" }.encode(&mut out);
    /// assert_eq!(out, b"CHAT alice hi all\n");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ServerMessage::Welcome { nick } => push_line(out, &["WELCOME", nick]),
            ServerMessage::Chat { from, text } => push_line(out, &["CHAT", from, text]),
            ServerMessage::Private { from, text } => push_line(out, &["PRIVATE", from, text]),
            ServerMessage::Action { from, text } => push_line(out, &["ACTION", from, text]),
            ServerMessage::Nick { old, new } => push_line(out, &["NICK", old, new]),
            ServerMessage::History {
                time,
                kind,
                from,
                text,
            } => {
                let kind = match kind {
                    Said::Chat => "CHAT",
                    Said::Action => "ACTION",
                };
                push_line(out, &["HISTORY", &time.to_string(), kind, from, text]);
            }
            ServerMessage::Joined { nick } => push_line(out, &["JOINED", nick]),
            ServerMessage::Left { nick, reason } => push_line(out, &["LEFT", nick, reason]),
            ServerMessage::Users { total, nicks } => {
                push_line(out, &["USERS", &total.to_string(), nicks]);
            }
            ServerMessage::Notice { text } => push_line(out, &["NOTICE", text]),
            ServerMessage::Error { code, text } => push_line(out, &["ERROR", code, text]),
            ServerMessage::Bye { reason } => push_line(out, &["BYE", reason]),
            ServerMessage::Ping { token } => push_line(out, &["PING", token]),
            ServerMessage::Pong { token } => push_line(out, &["PONG", token]),
            ServerMessage::Accepted { id, recipients } => {
                push_line(out, &["ACCEPTED", &id.to_string(), &recipients.to_string()]);
            }
            ServerMessage::Receiving { id, nick, offset } => {
                push_line(
                    out,
                    &["RECEIVING", &id.to_string(), nick, &offset.to_string()],
                );
            }
            ServerMessage::More { id, bytes } => {
                push_line(out, &["MORE", &id.to_string(), &bytes.to_string()]);
            }
            ServerMessage::Refused { id, code, text } => {
                push_line(out, &["REFUSED", &id.to_string(), code, text]);
            }
            ServerMessage::Delivered { id, nick, outcome } => {
                let [word, reason] = outcome.fields();
                push_line(out, &["DELIVERED", &id.to_string(), nick, word, reason]);
            }
            ServerMessage::File {
                id,
                size,
                stamp,
                from,
                name,
            } => {
                let (id, size) = (id.to_string(), size.to_string());
                push_line(out, &["FILE", &id, &size, stamp, from, name]);
            }
            ServerMessage::Data { id, len } => {
                push_line(out, &["DATA", &id.to_string(), &len.to_string()])
            }
            ServerMessage::Done { id, checksum } => {
                push_line(out, &["DONE", &id.to_string(), &checksum.to_string()]);
            }
            ServerMessage::Cancel { id, reason } => {
                push_line(out, &["CANCEL", &id.to_string(), reason])
            }
            ServerMessage::Paused { id, reason } => {
                push_line(out, &["PAUSED", &id.to_string(), reason])
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

/// Splits a list of nicknames into `USERS` lines that each fit in
/// [`MAX_LINE_LEN`], and appends them to `out`. An empty list still gives
/// one line, so the client always gets an answer to `WHO`.
///
/// # Examples
///
/// ```
/// use ftpchat::protocol::encode_users;
///
/// let mut out = Vec::new();
/// encode_users(["alice", "bob"].into_iter(), &mut out);
/// assert_eq!(out, b"USERS 2 alice bob\n");
/// ```
pub fn encode_users<'n>(nicks: impl ExactSizeIterator<Item = &'n str>, out: &mut Vec<u8>) {
    let total = nicks.len();
    // Room for "USERS <total> " and the "\n", with the longest count.
    let room = MAX_LINE_LEN - "USERS  \n".len() - total.to_string().len();
    let mut list = String::new();
    for nick in nicks {
        if !list.is_empty() && list.len() + 1 + nick.len() > room {
            ServerMessage::Users {
                total,
                nicks: &list,
            }
            .encode(out);
            list.clear();
        }
        if !list.is_empty() {
            list.push(' ');
        }
        list.push_str(nick);
    }
    ServerMessage::Users {
        total,
        nicks: &list,
    }
    .encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;
    use crate::protocol::{MAX_NICK_LEN, MAX_TEXT_LEN};

    #[test]
    fn server_messages_survive_a_round_trip() {
        let messages = [
            ServerMessage::Welcome { nick: "alice" },
            ServerMessage::Chat {
                from: "alice",
                text: "hi  all",
            },
            ServerMessage::Private {
                from: "bob",
                text: "psst",
            },
            ServerMessage::Joined { nick: "carol" },
            ServerMessage::Left {
                nick: "carol",
                reason: "connection lost",
            },
            ServerMessage::Users {
                total: 2,
                nicks: "alice bob",
            },
            ServerMessage::Notice {
                text: "server shutting down",
            },
            ServerMessage::Error {
                code: "nick-taken",
                text: "nickname bob is taken",
            },
            ServerMessage::Bye { reason: "goodbye" },
            ServerMessage::Ping { token: "7" },
            ServerMessage::Pong { token: "7" },
            ServerMessage::Accepted {
                id: 3,
                recipients: 2,
            },
            ServerMessage::Refused {
                id: 3,
                code: "no-recipients",
                text: "nobody else is online",
            },
            ServerMessage::Delivered {
                id: 3,
                nick: "bob",
                outcome: Delivery::Failed("checksum mismatch"),
            },
            ServerMessage::Delivered {
                id: 3,
                nick: "bob",
                outcome: Delivery::Declined("no thanks"),
            },
            ServerMessage::Delivered {
                id: 3,
                nick: "bob",
                outcome: Delivery::Expired,
            },
            ServerMessage::Receiving {
                id: 3,
                nick: "carol",
                offset: 1 << 40,
            },
            ServerMessage::More {
                id: 3,
                bytes: 1 << 20,
            },
            ServerMessage::File {
                id: 17,
                size: 0,
                stamp: "-",
                from: "alice",
                name: "a b.txt",
            },
            ServerMessage::Data { id: 17, len: 1 },
            ServerMessage::Done {
                id: 17,
                checksum: 0,
            },
            ServerMessage::Cancel {
                id: 17,
                reason: "sender left",
            },
            ServerMessage::Action {
                from: "alice",
                text: "waves at everyone",
            },
            ServerMessage::Nick {
                old: "alice",
                new: "alicia",
            },
            ServerMessage::History {
                time: 1_795_267_464,
                kind: Said::Action,
                from: "bob",
                text: "sighs",
            },
            ServerMessage::Paused {
                id: 17,
                reason: "connection lost",
            },
            ServerMessage::Delivered {
                id: 3,
                nick: "bob",
                outcome: Delivery::Lost("timed out"),
            },
        ];
        for message in messages {
            let bytes = message.to_bytes();
            let line = std::str::from_utf8(&bytes)
                .unwrap()
                .strip_suffix('\n')
                .unwrap();
            assert_eq!(ServerMessage::decode(line).unwrap(), message, "{line:?}");
        }
    }

    #[test]
    fn relayed_line_with_longest_nick_and_text_fits_in_a_line() {
        let nick = "n".repeat(MAX_NICK_LEN);
        let text = "t".repeat(MAX_TEXT_LEN);
        let bytes = ServerMessage::Private {
            from: &nick,
            text: &text,
        }
        .to_bytes();
        assert!(bytes.len() <= MAX_LINE_LEN);
    }

    #[test]
    fn long_user_lists_are_split_into_lines_that_fit() {
        let nicks: Vec<String> = (0..2000).map(|i| format!("user{i:05}")).collect();
        let mut out = Vec::new();
        encode_users(nicks.iter().map(String::as_str), &mut out);
        let text = String::from_utf8(out).unwrap();
        let mut seen = Vec::new();
        for line in text.lines() {
            assert!(line.len() < MAX_LINE_LEN);
            match ServerMessage::decode(line).unwrap() {
                ServerMessage::Users { total, nicks } => {
                    assert_eq!(total, 2000);
                    seen.extend(nicks.split(' ').map(str::to_string));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(text.lines().count() > 1);
        assert_eq!(seen, nicks);
    }

    #[test]
    fn empty_user_list_is_one_line() {
        let mut out = Vec::new();
        encode_users(std::iter::empty(), &mut out);
        assert_eq!(out, b"USERS 0\n");
    }

    #[test]
    fn a_count_of_users_is_digits_only() {
        assert_eq!(
            ServerMessage::decode("USERS 2 a b"),
            Ok(ServerMessage::Users {
                total: 2,
                nicks: "a b"
            })
        );
        for line in ["USERS +2 a b", "USERS -1", "USERS", "USERS two"] {
            let error = ServerMessage::decode(line).unwrap_err();
            assert_eq!(error.code, ErrorCode::BadMessage, "{line:?}");
        }
    }
}
