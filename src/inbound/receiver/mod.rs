//! The SMTP/LMTP receiver: the site's MTA hands tend the mail for the bounce
//! domain (delivery reports, feedback loops, replies, `mailto:` unsubscribes)
//! on a loopback port, and tend says `250` only once the [`Handler`] has
//! stored the message.
//!
//! Our own small server rather than a library: what matters here is when a
//! reply is given, not the breadth of the protocol. A message is accepted
//! (`250`) only after [`Handler::deliver`] returned `Ok`; a handler error is a
//! `451` so the MTA keeps the message and retries, and nothing is lost. LMTP
//! (RFC 2033) answers once per accepted recipient after the data, with the
//! one outcome of the one delivery: tend stores a message once, whatever the
//! number of its addresses among the recipients.
//!
//! Spoken: `EHLO`/`HELO` (SMTP) and `LHLO` (LMTP), chosen by
//! [`ReceiverOptions::protocol`] or by the client's greeting when unset;
//! `MAIL`, `RCPT`, `DATA` (with dot-unstuffing), `RSET`, `NOOP`, `QUIT`,
//! `VRFY` (never confirms). Advertised: `PIPELINING`, `SIZE`, `8BITMIME`,
//! `SMTPUTF8`, `ENHANCEDSTATUSCODES`. No `STARTTLS`, `AUTH` or `BDAT`: the
//! listener is for the local MTA.
//!
//! Limits: recipients must match the configured domains and local-part
//! patterns (`bounces+*`, …) or be one of the configured mailboxes, else
//! `550 5.1.1`; a message over [`ReceiverOptions::max_message_bytes`] is
//! refused with `552 5.3.4` (at `MAIL` when `SIZE=` says so, else after its
//! end, having discarded what went over instead of buffering it); slow
//! clients time out (`421 4.4.2`); past [`ReceiverOptions::max_connections`]
//! a new connection gets `421 4.3.2` and is closed.

mod session;
mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// Which dialect a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// RFC 5321: one reply after the data.
    Smtp,
    /// RFC 2033: one reply per accepted recipient after the data.
    Lmtp,
}

/// How the receiver listens; [`Default`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ReceiverOptions {
    /// The name in the greeting and the `EHLO` answer.
    pub hostname: String,
    /// `Some`: only that dialect (the other greeting verb gets `500`). `None`:
    /// the client's first `EHLO`/`HELO` or `LHLO` decides.
    pub protocol: Option<Protocol>,
    /// Recipient domains (any case). Empty: any domain (the MTA decides what
    /// it routes here).
    pub domains: Vec<String>,
    /// Local-part patterns, `*` matching any run of characters (any case).
    pub local_parts: Vec<String>,
    /// Whole addresses always accepted, whatever their domain: the
    /// `List-Unsubscribe` `mailto:` mailbox.
    pub mailboxes: Vec<String>,
    /// Largest message accepted, in bytes as received (dot-unstuffed).
    pub max_message_bytes: usize,
    /// Most recipients in one transaction (`452 4.5.3` beyond).
    pub max_recipients: usize,
    /// Most sessions at once.
    pub max_connections: usize,
    /// How long the client may stay silent while a command or a piece of the
    /// data is awaited.
    pub command_timeout: Duration,
    /// How long one message's data may take in all.
    pub data_timeout: Duration,
    /// On shutdown, how long sessions busy with a transaction may take to
    /// finish it before they are cut (their MTA then retries).
    pub shutdown_grace: Duration,
}

impl Default for ReceiverOptions {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            protocol: None,
            domains: Vec::new(),
            local_parts: ["bounces+*", "reply+*", "unsubscribe+*"]
                .map(String::from)
                .to_vec(),
            mailboxes: Vec::new(),
            max_message_bytes: crate::inbound::MAX_MESSAGE_BYTES,
            max_recipients: 100,
            max_connections: 32,
            // RFC 5321 4.5.3.2.7 asks at least 5 minutes of a server.
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl ReceiverOptions {
    /// Whether mail for `address` (without `<>`) is ours to take.
    pub fn accepts(&self, address: &str) -> bool {
        if self
            .mailboxes
            .iter()
            .any(|m| m.trim().eq_ignore_ascii_case(address))
        {
            return true;
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return false;
        };
        let domain_ok =
            self.domains.is_empty() || self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain));
        domain_ok
            && self
                .local_parts
                .iter()
                .any(|pattern| glob(&pattern.to_ascii_lowercase(), &local.to_ascii_lowercase()))
    }
}

/// `*` matches any run of characters, everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut text) = text.strip_prefix(head) else {
        return false;
    };
    let pieces: Vec<&str> = rest.split('*').collect();
    let (last, middle) = pieces
        .split_last()
        .expect("split yields one piece at least");
    for piece in middle {
        match text.find(piece) {
            Some(at) => text = &text[at + piece.len()..],
            None => return false,
        }
    }
    text.len() >= last.len() && text.ends_with(last)
}

/// Who sent a message and to whom, as the MTA said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub protocol: Protocol,
    /// The name the client gave in `EHLO`/`HELO`/`LHLO`.
    pub helo: String,
    /// `MAIL FROM`, without `<>`; empty for the null sender of a report.
    pub mail_from: String,
    /// The accepted `RCPT TO` addresses, without `<>`, in order.
    pub rcpt_to: Vec<String>,
    pub remote: SocketAddr,
}

/// Why a handler did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// Could not store it now (`451 4.3.0`): the MTA keeps it and retries.
    #[error("temporary: {0}")]
    Temporary(String),
    /// Will never take it (`554 5.3.0`): the MTA gives up on it.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// What the receiver hands each message to. `Ok` means stored: only then
/// does the MTA hear `250`.
pub trait Handler: Send + Sync + 'static {
    fn deliver(
        &self,
        envelope: Envelope,
        raw: Vec<u8>,
    ) -> impl Future<Output = Result<(), Reject>> + Send;
}

/// A shared handler is a handler.
impl<H: Handler> Handler for Arc<H> {
    fn deliver(
        &self,
        envelope: Envelope,
        raw: Vec<u8>,
    ) -> impl Future<Output = Result<(), Reject>> + Send {
        (**self).deliver(envelope, raw)
    }
}

/// What every session shares.
struct Shared<H> {
    options: ReceiverOptions,
    handler: H,
}

/// Accepts sessions on `listener` until `shutdown` completes, then stops
/// accepting, tells idle sessions `421` and gives busy ones
/// [`ReceiverOptions::shutdown_grace`] to finish their transaction.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    options: ReceiverOptions,
    handler: H,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let shared = Arc::new(Shared { options, handler });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    match Arc::clone(&slots).try_acquire_owned() {
                        Ok(slot) => {
                            let shared = Arc::clone(&shared);
                            let stop = stop_rx.clone();
                            sessions.spawn(async move {
                                session::run(stream, remote, shared, stop).await;
                                drop(slot);
                            });
                        }
                        Err(_) => {
                            tracing::warn!(%remote, limit = shared.options.max_connections,
                                "inbound receiver: too many connections, refusing one");
                            sessions.spawn(refuse(stream, shared.options.hostname.clone()));
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors, most likely: let sessions end.
                    tracing::warn!(error = %e, "inbound receiver: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(shared.options.shutdown_grace, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            sessions = sessions.len(),
            "inbound receiver: cutting sessions still busy after the grace period"
        );
        sessions.shutdown().await;
    }
}

async fn refuse(mut stream: TcpStream, hostname: String) {
    let line = format!("421 4.3.2 {hostname} too many connections, try again later\r\n");
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        stream.write_all(line.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests;
