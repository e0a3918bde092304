//! One connection, from its first byte to its last: the body of each
//! client's thread.
//!
//! [`serve_connection`] sets the connection up (its socket options, its
//! outbox, its place in the registry), runs the handshake
//! (`handshake.rs`), serves the member's messages (`session.rs`), and
//! logs how it ended. A failure here ends this one connection, never the
//! server.
//!
//! Cleanup is done by values that are dropped however the thread ends
//! (a return, an error, even a panic): a [`Registration`] removes the
//! client from the registry and tells the others it left; a [`Closing`]
//! sends what is still queued for the client, then closes the socket.

use crate::handshake::handshake;
use crate::ids::ClientId;
use crate::log::log;
use crate::outbox::Outbox;
use crate::plain::{ClientKind, reply_error};
use crate::read_half::ReadHalf;
use crate::registry::Registration;
use crate::session::Session;
use crate::shared::Server;
use ftpchat::protocol::{ErrorCode, FrameReader};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Bytes of the buffer that reads each client's socket. Chat lines are
/// short; 4 KiB holds dozens of them, so one read often brings several,
/// and thousands of idle clients cost little memory. (A file chunk larger
/// than the buffer is read past it, straight into the chunk's own buffer.)
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Serves the connection `stream` from `peer` and logs how it ended.
pub fn serve_connection(stream: TcpStream, peer: SocketAddr, server: &Server) {
    let id = ClientId::next();
    log(format_args!("{id} connected from {peer}"));
    if let Err(error) = handle_client(stream, peer, id, server) {
        log(format_args!("{id} error: {error}"));
    }
}

/// Sets up the connection's outbox (whose writer thread starts when there
/// is something to send), then registers and serves it.
fn handle_client(
    stream: TcpStream,
    peer: SocketAddr,
    id: ClientId,
    server: &Server,
) -> io::Result<()> {
    stream.set_nodelay(true)?; // chat lines are small: send them at once
    // One socket, shared: this thread reads it, the writer thread writes it.
    let stream = Arc::new(stream);
    let name = format!("writer-{id}");
    let trace_peer = server.settings.trace.then_some(peer);
    let stall_timeout = server.settings.stall_timeout;
    let outbox = Outbox::new(Arc::clone(&stream), stall_timeout, name, trace_peer)?;
    let _closing = Closing(outbox.clone());
    let Some(registration) = server.clients.register(id, outbox.clone()) else {
        // The accept loop refuses connections to a full server; this one
        // came in at the same moment as the one that filled it.
        log(format_args!("{id} refused: server full"));
        let text = "the server is full; try again later";
        reply_error(&outbox, ClientKind::Full, ErrorCode::ServerFull, text);
        return Ok(());
    };
    serve_member(stream, peer, id, server, outbox, registration)
}

/// Runs the handshake, serves the member's messages, and logs why it
/// left. Leaving the registry happens when `registration` drops.
fn serve_member(
    stream: Arc<TcpStream>,
    peer: SocketAddr,
    id: ClientId,
    server: &Server,
    outbox: Outbox,
    mut registration: Registration,
) -> io::Result<()> {
    // One frame reader for the whole life of the connection (see
    // `ftpchat::protocol::framing` for why there must be exactly one).
    let mut frames =
        FrameReader::with_capacity(READ_BUFFER_BYTES, ReadHalf::new(Arc::clone(&stream)));
    let Some(joined) = handshake(&mut frames, peer, id, server, &outbox)? else {
        return Ok(());
    };
    let mut session = Session::new(joined, server, outbox.clone());
    let result = session.serve(&mut frames);
    let nick = session.nick();
    if !server.clients.is_member(id) && !server.is_shutting_down() {
        // The operator sent it away (`/kick`): already logged and
        // announced, with the reason. Whatever cut the reading short
        // (the kick closes the connection) is no news.
        return Ok(());
    }
    registration.on_purpose = session.ended_on_purpose();
    registration.leave_reason = match (&result, outbox.failure()) {
        _ if server.is_shutting_down() => "server shutting down".to_string(),
        (_, Some(failure)) => {
            log(format_args!("{id} {nick} disconnected: {failure}"));
            failure
        }
        (Ok(reason), None) => reason.clone(),
        (Err(_), None) => "connection lost".to_string(),
    };
    log(format_args!(
        "{id} {nick} left ({})",
        registration.leave_reason
    ));
    result.map(drop)
}

/// Closes a connection's outbox when dropped, however the handler ends:
/// what is queued (a goodbye, an error) is still sent, then the
/// connection is shut down. The handler's thread waits for that, so no
/// writer thread outlives its connection for long.
struct Closing(Outbox);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.close();
        self.0
            .wait_closed(self.0.stall_timeout() + Duration::from_secs(1));
    }
}
