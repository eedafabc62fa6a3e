//! tend's own SMTP client (RFC 5321), built on tokio and rustls.
//!
//! Why not a pooled transport from a library: tend must know *where* in the
//! conversation an answer came (a refusal of MAIL FROM is never about the
//! recipient), must record durably that a message is about to be taken
//! before its end-of-data marker (so a crash leaves only truly in-doubt
//! rows; [`super::gate`]), and must not stall on Nagle's algorithm (a socket
//! with `TCP_NODELAY`). With PIPELINING (RFC
//! 2920) `MAIL`, `RCPT` and `DATA` go out in one write.
//!
//! A [`Connection`] is one session; [`Pool`] keeps idle sessions for reuse.

use super::gate::Gate;
use super::reply::{Phase, Reply};
use crate::config::TlsMode;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufStream, ReadBuf,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

/// Longest reply line accepted (RFC 5321 allows 512; some servers are chattier).
const MAX_LINE: usize = 4096;
/// Most lines in one reply (an EHLO answer has one per extension).
const MAX_LINES: usize = 100;
/// Idle sessions older than this are closed rather than reused: servers drop
/// idle clients, and a stale session costs a failed command.
const IDLE_FOR: Duration = Duration::from_secs(20);

/// Everything it takes to open sessions to one relay.
#[derive(Clone)]
pub struct ClientConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub tls_config: Arc<rustls::ClientConfig>,
    pub credentials: Option<(String, String)>,
    /// The name announced in EHLO.
    pub hello: String,
    /// Bound for each read, write and connect.
    pub timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("hello", &self.hello)
            .finish()
    }
}

/// Why a session or a transaction did not end in acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// The server answered with a negative reply.
    Reply(Reply),
    /// The connection broke or could not be made.
    Io(String),
    Timeout,
    Tls(String),
    /// The server spoke something that is not SMTP, or lacks what we need.
    Protocol(String),
    /// The message exceeds the size the server announced (nothing was sent).
    TooBig {
        size: usize,
        limit: usize,
    },
    /// The row was taken back before its data went out (nothing was sent).
    Aborted(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub phase: Phase,
    pub kind: FailureKind,
}

impl Failure {
    fn new(phase: Phase, kind: FailureKind) -> Self {
        Self { phase, kind }
    }

    fn io(phase: Phase, e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::TimedOut {
            Self::new(phase, FailureKind::Timeout)
        } else {
            Self::new(phase, FailureKind::Io(e.to_string()))
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = format!("{:?}", self.phase);
        match &self.kind {
            FailureKind::Reply(reply) => write!(f, "{reply} (at {phase})"),
            FailureKind::Io(e) => write!(f, "connection error at {phase}: {e}"),
            FailureKind::Timeout => write!(f, "timed out at {phase}"),
            FailureKind::Tls(e) => write!(f, "TLS error: {e}"),
            FailureKind::Protocol(e) => write!(f, "protocol error at {phase}: {e}"),
            FailureKind::TooBig { size, limit } => write!(
                f,
                "message of {size} bytes exceeds the server's limit of {limit} bytes"
            ),
            FailureKind::Aborted(why) => write!(f, "not sent: {why}"),
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What the server announced in its EHLO answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Extensions {
    starttls: bool,
    pipelining: bool,
    eight_bit: bool,
    smtputf8: bool,
    size: Option<usize>,
    auth_plain: bool,
    auth_login: bool,
}

impl Extensions {
    fn parse(lines: &[String]) -> Self {
        let mut ext = Extensions::default();
        // The first line is the server's greeting name, not an extension.
        for line in lines.iter().skip(1) {
            let text = line.get(4..).unwrap_or("").to_ascii_uppercase();
            let mut words = text.split_whitespace();
            match words.next() {
                Some("STARTTLS") => ext.starttls = true,
                Some("PIPELINING") => ext.pipelining = true,
                Some("8BITMIME") => ext.eight_bit = true,
                Some("SMTPUTF8") => ext.smtputf8 = true,
                Some("SIZE") => {
                    ext.size = words.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0)
                }
                Some("AUTH") => {
                    for mechanism in words {
                        ext.auth_plain |= mechanism == "PLAIN";
                        ext.auth_login |= mechanism == "LOGIN";
                    }
                }
                _ => {}
            }
        }
        ext
    }
}

/// One SMTP session.
pub struct Connection {
    io: BufStream<Stream>,
    ext: Extensions,
    timeout: Duration,
    /// Set when the session can no longer be trusted (I/O error, 421, an
    /// abandoned DATA): it is dropped instead of reused.
    broken: bool,
    last_used: Instant,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("ext", &self.ext)
            .field("broken", &self.broken)
            .finish()
    }
}

async fn timed<T>(
    limit: Duration,
    phase: Phase,
    work: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Failure::io(phase, e)),
        Err(_) => Err(Failure::new(phase, FailureKind::Timeout)),
    }
}

/// Ends the data of a transaction (after a CRLF).
const END_OF_DATA: &[u8] = b".\r\n";

/// The message with dot-stuffing, CRLF line ends and the end-of-data marker.
pub fn data_block(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 8);
    let mut at_line_start = true;
    let mut previous = 0u8;
    for &byte in message {
        if at_line_start && byte == b'.' {
            out.push(b'.');
        }
        // A bare LF becomes CRLF: SMTP lines end in CRLF only.
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        at_line_start = byte == b'\n';
        previous = byte;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(END_OF_DATA);
    out
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Connection {
    /// Connects, reads the greeting, says EHLO, upgrades to TLS and
    /// authenticates as configured.
    pub async fn open(config: &ClientConfig) -> Result<Connection, Failure> {
        let tcp = timed(
            config.timeout,
            Phase::Connect,
            TcpStream::connect((config.host.as_str(), config.port)),
        )
        .await?;
        tcp.set_nodelay(true)
            .map_err(|e| Failure::io(Phase::Connect, e))?;
        let stream = match config.tls {
            TlsMode::Tls => Stream::Tls(Box::new(Self::handshake(config, tcp).await?)),
            TlsMode::None | TlsMode::Starttls => Stream::Plain(tcp),
        };
        let mut conn = Connection {
            io: BufStream::new(stream),
            ext: Extensions::default(),
            timeout: config.timeout,
            broken: false,
            last_used: Instant::now(),
        };
        conn.expect(Phase::Greeting, 220).await?;
        conn.ehlo(&config.hello).await?;
        if config.tls == TlsMode::Starttls {
            if !conn.ext.starttls {
                return Err(Failure::new(
                    Phase::StartTls,
                    FailureKind::Protocol(
                        "the server does not offer STARTTLS (set smtp.tls = \"none\" only for a trusted local relay)"
                            .into(),
                    ),
                ));
            }
            conn.command(Phase::StartTls, "STARTTLS").await?;
            conn.expect(Phase::StartTls, 220).await?;
            let Stream::Plain(tcp) = conn.io.into_inner() else {
                unreachable!("STARTTLS is only sent on a plain connection")
            };
            let tls = Self::handshake(config, tcp).await?;
            conn.io = BufStream::new(Stream::Tls(Box::new(tls)));
            conn.ext = Extensions::default();
            conn.ehlo(&config.hello).await?;
        }
        if let Some((user, password)) = &config.credentials {
            conn.authenticate(user, password).await?;
        }
        Ok(conn)
    }

    async fn handshake(
        config: &ClientConfig,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, Failure> {
        let name = ServerName::try_from(config.host.clone()).map_err(|e| {
            Failure::new(
                Phase::StartTls,
                FailureKind::Tls(format!("`{}` is not a valid server name: {e}", config.host)),
            )
        })?;
        let connector = TlsConnector::from(Arc::clone(&config.tls_config));
        match tokio::time::timeout(config.timeout, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => Ok(tls),
            Ok(Err(e)) => Err(Failure::new(
                Phase::StartTls,
                FailureKind::Tls(e.to_string()),
            )),
            Err(_) => Err(Failure::new(Phase::StartTls, FailureKind::Timeout)),
        }
    }

    async fn ehlo(&mut self, hello: &str) -> Result<(), Failure> {
        self.command(Phase::Ehlo, &format!("EHLO {hello}")).await?;
        let (reply, lines) = self.read_reply(Phase::Ehlo).await?;
        if reply.code == 250 {
            self.ext = Extensions::parse(&lines);
            return Ok(());
        }
        // Servers from before ESMTP know only HELO.
        if matches!(reply.code, 500 | 502) {
            self.command(Phase::Ehlo, &format!("HELO {hello}")).await?;
            let (reply, _) = self.read_reply(Phase::Ehlo).await?;
            if reply.code == 250 {
                self.ext = Extensions::default();
                return Ok(());
            }
            return Err(self.refused(Phase::Ehlo, reply));
        }
        Err(self.refused(Phase::Ehlo, reply))
    }

    async fn authenticate(&mut self, user: &str, password: &str) -> Result<(), Failure> {
        if self.ext.auth_plain {
            let token = base64(format!("\0{user}\0{password}").as_bytes());
            self.command(Phase::Auth, &format!("AUTH PLAIN {token}"))
                .await?;
        } else if self.ext.auth_login {
            self.command(Phase::Auth, "AUTH LOGIN").await?;
            self.expect(Phase::Auth, 334).await?;
            self.command(Phase::Auth, &base64(user.as_bytes())).await?;
            self.expect(Phase::Auth, 334).await?;
            self.command(Phase::Auth, &base64(password.as_bytes()))
                .await?;
        } else {
            return Err(Failure::new(
                Phase::Auth,
                FailureKind::Protocol(
                    "credentials are configured but the server offers no AUTH PLAIN or LOGIN here"
                        .into(),
                ),
            ));
        }
        self.expect(Phase::Auth, 235).await.map(|_| ())
    }

    /// Sends one message to one recipient. The `gate` (the caller's durable
    /// record that the message is going out) is passed while the envelope
    /// is exchanged and the data written, and before the end-of-data marker,
    /// the only thing that makes the server take the message. A shut gate
    /// leaves the marker unwritten and drops the session, which makes the
    /// server discard the transaction.
    pub async fn send<Fut>(
        &mut self,
        from: &str,
        to: &str,
        message: &[u8],
        gate: &mut Gate<Fut>,
    ) -> Result<Reply, Failure>
    where
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        self.last_used = Instant::now();
        if let Some(limit) = self.ext.size {
            if message.len() > limit {
                return Err(Failure::new(
                    Phase::MailFrom,
                    FailureKind::TooBig {
                        size: message.len(),
                        limit,
                    },
                ));
            }
        }
        let (data, passed) = tokio::join!(self.transaction(from, to, message), gate.pass());
        if let Err(why) = passed {
            // Leaving DATA without the end marker aborts the transaction.
            self.broken = true;
            return Err(Failure::new(Phase::Data, FailureKind::Aborted(why)));
        }
        data?;
        self.write(Phase::EndOfData, END_OF_DATA).await?;
        let (reply, _) = self.read_reply(Phase::EndOfData).await?;
        if reply.code == 250 {
            Ok(reply)
        } else {
            Err(self.refused(Phase::EndOfData, reply))
        }
    }

    /// The envelope and the message data, all but the end-of-data marker.
    async fn transaction(&mut self, from: &str, to: &str, message: &[u8]) -> Result<(), Failure> {
        let mut mail = format!("MAIL FROM:<{from}>");
        if self.ext.size.is_some() {
            mail += &format!(" SIZE={}", message.len());
        }
        if !message.is_ascii() && self.ext.eight_bit {
            mail += " BODY=8BITMIME";
        }
        if !(from.is_ascii() && to.is_ascii()) && self.ext.smtputf8 {
            mail += " SMTPUTF8";
        }
        let rcpt = format!("RCPT TO:<{to}>");
        let (mail_reply, rcpt_reply, data_reply) = if self.ext.pipelining {
            self.write(
                Phase::MailFrom,
                format!("{mail}\r\n{rcpt}\r\nDATA\r\n").as_bytes(),
            )
            .await?;
            let mail_reply = self.read_reply(Phase::MailFrom).await?.0;
            // A server that refused and then hung up: its refusal is the answer.
            let rcpt_reply = match self.read_reply(Phase::RcptTo).await {
                Ok((reply, _)) => reply,
                Err(_) if mail_reply.code != 250 => {
                    return Err(self.refused(Phase::MailFrom, mail_reply));
                }
                Err(e) => return Err(e),
            };
            let data_reply = match self.read_reply(Phase::Data).await {
                Ok((reply, _)) => reply,
                Err(_) if mail_reply.code != 250 => {
                    return Err(self.refused(Phase::MailFrom, mail_reply));
                }
                Err(_) if !matches!(rcpt_reply.code, 250 | 251) => {
                    return Err(self.refused(Phase::RcptTo, rcpt_reply));
                }
                Err(e) => return Err(e),
            };
            (mail_reply, Some(rcpt_reply), Some(data_reply))
        } else {
            self.command(Phase::MailFrom, &mail).await?;
            let mail_reply = self.read_reply(Phase::MailFrom).await?.0;
            if mail_reply.code != 250 {
                (mail_reply, None, None)
            } else {
                self.command(Phase::RcptTo, &rcpt).await?;
                let rcpt_reply = self.read_reply(Phase::RcptTo).await?.0;
                if !matches!(rcpt_reply.code, 250 | 251) {
                    (mail_reply, Some(rcpt_reply), None)
                } else {
                    self.command(Phase::Data, "DATA").await?;
                    let data_reply = self.read_reply(Phase::Data).await?.0;
                    (mail_reply, Some(rcpt_reply), Some(data_reply))
                }
            }
        };
        let refusal = if mail_reply.code != 250 {
            Some((Phase::MailFrom, mail_reply))
        } else if let Some(r) = rcpt_reply.filter(|r| !matches!(r.code, 250 | 251)) {
            Some((Phase::RcptTo, r))
        } else {
            data_reply
                .as_ref()
                .filter(|r| r.code != 354)
                .map(|r| (Phase::Data, r.clone()))
        };
        if let Some((phase, reply)) = refusal {
            if data_reply.as_ref().is_some_and(|r| r.code == 354) {
                // A server that said 354 despite a refused recipient gets an
                // empty, recipient-less message it must refuse.
                self.write(Phase::EndOfData, b".\r\n").await?;
                let _ = self.read_reply(Phase::EndOfData).await?;
            }
            return Err(self.refused(phase, reply));
        }
        let block = data_block(message);
        self.write(Phase::Data, &block[..block.len() - END_OF_DATA.len()])
            .await
    }

    /// After a refusal the session stays usable, once reset; a 421 closes it.
    fn refused(&mut self, phase: Phase, reply: Reply) -> Failure {
        if reply.code == 421 {
            self.broken = true;
        }
        Failure::new(phase, FailureKind::Reply(reply))
    }

    /// Resets the session after a refused transaction so it can be reused.
    pub async fn reset(&mut self) {
        if self.broken {
            return;
        }
        let ok = match self.command(Phase::MailFrom, "RSET").await {
            Ok(()) => matches!(self.read_reply(Phase::MailFrom).await, Ok((r, _)) if r.code == 250),
            Err(_) => false,
        };
        self.broken |= !ok;
    }

    /// Says goodbye politely (best effort).
    pub async fn quit(mut self) {
        if !self.broken && self.command(Phase::MailFrom, "QUIT").await.is_ok() {
            let _ = self.read_reply(Phase::MailFrom).await;
        }
        let _ = self.io.shutdown().await;
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    async fn write(&mut self, phase: Phase, bytes: &[u8]) -> Result<(), Failure> {
        let timeout = self.timeout;
        let result = timed(timeout, phase, async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await;
        self.broken |= result.is_err();
        result
    }

    async fn command(&mut self, phase: Phase, line: &str) -> Result<(), Failure> {
        self.write(phase, format!("{line}\r\n").as_bytes()).await
    }

    async fn expect(&mut self, phase: Phase, code: u16) -> Result<Reply, Failure> {
        let (reply, _) = self.read_reply(phase).await?;
        if reply.code == code {
            Ok(reply)
        } else {
            Err(self.refused(phase, reply))
        }
    }

    async fn read_reply(&mut self, phase: Phase) -> Result<(Reply, Vec<String>), Failure> {
        let result = self.read_reply_inner(phase).await;
        self.broken |= result.is_err();
        result
    }

    async fn read_reply_inner(&mut self, phase: Phase) -> Result<(Reply, Vec<String>), Failure> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let timeout = self.timeout;
            let read = timed(timeout, phase, async {
                let mut limited = (&mut self.io).take(MAX_LINE as u64);
                limited.read_line(&mut line).await
            })
            .await?;
            if read == 0 {
                return Err(Failure::new(
                    phase,
                    FailureKind::Io("the server closed the connection".into()),
                ));
            }
            if !line.ends_with('\n') {
                return Err(Failure::new(
                    phase,
                    FailureKind::Protocol("reply line too long".into()),
                ));
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                break;
            }
            if lines.len() >= MAX_LINES {
                return Err(Failure::new(
                    phase,
                    FailureKind::Protocol("reply has too many lines".into()),
                ));
            }
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let reply = Reply::parse(&refs)
            .map_err(|e| Failure::new(phase, FailureKind::Protocol(e.to_string())))?;
        Ok((reply, lines))
    }
}

/// Idle sessions to one relay, reused across messages.
#[derive(Debug)]
pub struct Pool {
    config: ClientConfig,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn relay(&self) -> String {
        format!("{}:{}", self.config.host, self.config.port)
    }

    /// A fresh or idle session, and whether it was reused.
    pub async fn get(&self) -> Result<(Connection, bool), Failure> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match idle {
                Some(conn) if conn.last_used.elapsed() < IDLE_FOR => return Ok((conn, true)),
                Some(conn) => {
                    tokio::spawn(conn.quit());
                }
                None => return Ok((Connection::open(&self.config).await?, false)),
            }
        }
    }

    /// A new session, never an idle one.
    pub async fn open(&self) -> Result<Connection, Failure> {
        Connection::open(&self.config).await
    }

    /// Returns a session after use; broken ones are dropped.
    pub async fn put(&self, mut conn: Connection, refused: bool) {
        if refused {
            conn.reset().await;
        }
        if !conn.is_broken() {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
    }

    /// Closes idle sessions politely.
    pub async fn close(&self) {
        let idle: Vec<Connection> =
            std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for conn in idle {
            conn.quit().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_dot_stuffed_and_terminated_once() {
        assert_eq!(data_block(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(data_block(b".x"), b"..x\r\n.\r\n");
        assert_eq!(data_block(b"a\nb"), b"a\r\nb\r\n.\r\n");
        assert_eq!(data_block(b"a\r\n.\r\nb\r\n"), b"a\r\n..\r\nb\r\n.\r\n");
    }

    #[test]
    fn extensions_are_read_from_the_ehlo_answer() {
        let lines: Vec<String> = [
            "250-mx.example Hello",
            "250-PIPELINING",
            "250-SIZE 1000",
            "250-8BITMIME",
            "250-AUTH LOGIN PLAIN",
            "250 STARTTLS",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let ext = Extensions::parse(&lines);
        assert!(
            ext.pipelining && ext.eight_bit && ext.starttls && ext.auth_plain && ext.auth_login
        );
        assert_eq!(ext.size, Some(1000));
        assert!(!ext.smtputf8);
    }
}
