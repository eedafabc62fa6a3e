//! One SMTP or LMTP session: the command loop, the envelope, the data, and
//! the replies, which are flushed whenever the client's pipelined commands
//! are all answered (RFC 2920) and, for a message, only after the handler
//! stored it.

use super::wire::{self, Command, Data};
use super::{Envelope, Handler, Protocol, Reject, Shared};
use crate::domain::mask;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;
use tokio::time::Instant;

/// Bad commands tolerated in one session before it is closed.
const MAX_ERRORS: u32 = 20;

struct Transaction {
    mail_from: String,
    rcpt_to: Vec<String>,
}

struct Session<H> {
    shared: Arc<Shared<H>>,
    remote: SocketAddr,
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
    stop: watch::Receiver<bool>,
    /// Set by the greeting verb.
    hello: Option<(Protocol, String)>,
    transaction: Option<Transaction>,
    errors: u32,
    line: Vec<u8>,
}

/// Why a session ends.
enum End {
    Quit,
    Closed,
    /// Answered already (timeout, too many errors, shutdown).
    Said,
}

pub(super) async fn run<H: Handler>(
    stream: TcpStream,
    remote: SocketAddr,
    shared: Arc<Shared<H>>,
    stop: watch::Receiver<bool>,
) {
    let (read, write) = stream.into_split();
    let mut session = Session {
        shared,
        remote,
        reader: BufReader::new(read),
        writer: BufWriter::new(write),
        stop,
        hello: None,
        transaction: None,
        errors: 0,
        line: Vec::with_capacity(256),
    };
    match session.serve().await {
        Ok(_) => {}
        Err(e) => tracing::debug!(%remote, error = %e, "inbound receiver: session ended"),
    }
    let _ = session.writer.shutdown().await;
}

impl<H: Handler> Session<H> {
    fn options(&self) -> &super::ReceiverOptions {
        &self.shared.options
    }

    async fn serve(&mut self) -> io::Result<End> {
        let banner = match self.options().protocol {
            Some(Protocol::Lmtp) => "LMTP",
            _ => "ESMTP",
        };
        let greeting = format!("220 {} {banner} tend inbound", self.options().hostname);
        self.reply(&greeting).await?;
        loop {
            let line = match self.next_command().await? {
                Ok(line) => line,
                Err(end) => return Ok(end),
            };
            let (verb, arg) = match line.split_once(' ') {
                Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
                None => (line.to_ascii_uppercase(), ""),
            };
            let outcome = match verb.as_str() {
                "EHLO" | "HELO" | "LHLO" => self.hello(&verb, arg).await?,
                "MAIL" => self.mail(arg).await?,
                "RCPT" => self.rcpt(arg).await?,
                "DATA" => self.data(arg).await?,
                "RSET" => {
                    self.transaction = None;
                    self.no_argument(arg, "250 2.0.0 Ok").await?
                }
                "NOOP" => self.reply("250 2.0.0 Ok").await.map(|_| true)?,
                "QUIT" => {
                    self.reply("221 2.0.0 Bye").await?;
                    self.writer.flush().await?;
                    return Ok(End::Quit);
                }
                "VRFY" => self
                    .reply("252 2.5.2 Cannot VRFY user, but will accept the message")
                    .await
                    .map(|_| true)?,
                "HELP" => self.reply("214 2.0.0 See RFC 5321").await.map(|_| true)?,
                "STARTTLS" | "AUTH" | "BDAT" | "EXPN" | "ETRN" | "TURN" => {
                    self.error("502 5.5.1 Command not implemented").await?
                }
                _ => self.error("500 5.5.2 Command not recognized").await?,
            };
            if !outcome {
                return Ok(End::Said);
            }
        }
    }

    /// The next command line; `Err` ends the session (already answered).
    async fn next_command(&mut self) -> io::Result<Result<String, End>> {
        // Answer everything pipelined so far before waiting for more.
        if self.reader.buffer().is_empty() {
            self.writer.flush().await?;
        }
        let limit = self.options().command_timeout;
        let read =
            tokio::time::timeout(limit, wire::read_command(&mut self.reader, &mut self.line));
        let stop = self.stop.clone();
        let command = tokio::select! {
            read = read => match read {
                Ok(command) => command?,
                Err(_) => return self.timed_out().await.map(Err),
            },
            () = stopped(stop) => {
                let line = format!("421 4.3.2 {} shutting down", self.options().hostname);
                self.reply(&line).await?;
                self.writer.flush().await?;
                return Ok(Err(End::Said));
            }
        };
        match command {
            Command::Line(line) => Ok(Ok(line)),
            Command::Closed => Ok(Err(End::Closed)),
            Command::TooLong => {
                if self.error("500 5.5.2 Line too long").await? {
                    Box::pin(self.next_command()).await
                } else {
                    Ok(Err(End::Said))
                }
            }
        }
    }

    async fn timed_out(&mut self) -> io::Result<End> {
        tracing::info!(remote = %self.remote, "inbound receiver: client timed out");
        let line = format!(
            "421 4.4.2 {} Timeout exceeded, closing",
            self.options().hostname
        );
        self.reply(&line).await?;
        self.writer.flush().await?;
        Ok(End::Said)
    }

    async fn hello(&mut self, verb: &str, arg: &str) -> io::Result<bool> {
        let wanted = if verb == "LHLO" {
            Protocol::Lmtp
        } else {
            Protocol::Smtp
        };
        match self.options().protocol {
            Some(Protocol::Lmtp) if wanted == Protocol::Smtp => {
                return self
                    .error("500 5.5.1 This is an LMTP server: use LHLO")
                    .await;
            }
            Some(Protocol::Smtp) if wanted == Protocol::Lmtp => {
                return self
                    .error("500 5.5.1 This is an SMTP server: use EHLO")
                    .await;
            }
            _ => {}
        }
        let name = arg.split_whitespace().next().unwrap_or("");
        if name.is_empty() {
            return self
                .error(&format!("501 5.5.4 Syntax: {verb} hostname"))
                .await;
        }
        self.hello = Some((wanted, name.to_string()));
        self.transaction = None;
        let host = self.options().hostname.clone();
        if verb == "HELO" {
            self.reply(&format!("250 {host}")).await?;
            return Ok(true);
        }
        let size = self.options().max_message_bytes;
        let lines = [
            host,
            "PIPELINING".into(),
            format!("SIZE {size}"),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            self.reply(&format!("250{sep}{line}")).await?;
        }
        Ok(true)
    }

    async fn mail(&mut self, arg: &str) -> io::Result<bool> {
        if self.hello.is_none() {
            return self.error(self.need_hello()).await;
        }
        if self.transaction.is_some() {
            return self.error("503 5.5.1 Nested MAIL command").await;
        }
        let Some((path, params)) = split_path(arg, "FROM:") else {
            return self.error("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        for param in params.split_whitespace() {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            match key.to_ascii_uppercase().as_str() {
                "SIZE" => match value.parse::<u64>() {
                    Ok(size) if size > self.options().max_message_bytes as u64 => {
                        return self
                            .reply("552 5.3.4 Message size exceeds fixed limit")
                            .await
                            .map(|_| true);
                    }
                    Ok(_) => {}
                    Err(_) => return self.error("501 5.5.4 Bad SIZE parameter").await,
                },
                "BODY" if ["7BIT", "8BITMIME"].contains(&value.to_ascii_uppercase().as_str()) => {}
                "SMTPUTF8" if value.is_empty() => {}
                _ => return self.error("555 5.5.4 Unsupported parameter").await,
            }
        }
        self.transaction = Some(Transaction {
            mail_from: path,
            rcpt_to: Vec::new(),
        });
        self.reply("250 2.1.0 Ok").await.map(|_| true)
    }

    async fn rcpt(&mut self, arg: &str) -> io::Result<bool> {
        let Some(count) = self.transaction.as_ref().map(|t| t.rcpt_to.len()) else {
            return self.error("503 5.5.1 Need MAIL command").await;
        };
        let Some((address, params)) = split_path(arg, "TO:") else {
            return self.error("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if !params.trim().is_empty() {
            return self.error("555 5.5.4 Unsupported parameter").await;
        }
        if address.is_empty() {
            return self.error("501 5.1.3 Bad recipient address syntax").await;
        }
        if count >= self.options().max_recipients {
            return self
                .reply("452 4.5.3 Too many recipients")
                .await
                .map(|_| true);
        }
        if !self.options().accepts(&address) {
            tracing::info!(remote = %self.remote, recipient = %mask(&address),
                "inbound receiver: recipient not ours, refused");
            return self
                .reply("550 5.1.1 Recipient address rejected: not a tend address")
                .await
                .map(|_| true);
        }
        if let Some(t) = self.transaction.as_mut() {
            t.rcpt_to.push(address);
        }
        self.reply("250 2.1.5 Ok").await.map(|_| true)
    }

    async fn data(&mut self, arg: &str) -> io::Result<bool> {
        if !arg.is_empty() {
            return self.error("501 5.5.4 Syntax: DATA").await;
        }
        let Some(transaction) = self.transaction.take() else {
            return self.error("503 5.5.1 Need MAIL command").await;
        };
        if transaction.rcpt_to.is_empty() {
            self.transaction = Some(transaction);
            return self.error("554 5.5.1 No valid recipients").await;
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let mut data = Data::new(self.options().max_message_bytes);
        let deadline = Instant::now() + self.options().data_timeout;
        loop {
            if self.reader.buffer().is_empty() {
                self.writer.flush().await?;
            }
            let wait = self
                .options()
                .command_timeout
                .min(deadline.saturating_duration_since(Instant::now()));
            match tokio::time::timeout(wait, data.read(&mut self.reader)).await {
                Ok(Ok(true)) => break,
                Ok(Ok(false)) => continue,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.timed_out().await?;
                    return Ok(false);
                }
            }
        }
        let (protocol, helo) = self.hello.clone().expect("MAIL needs a greeting");
        let replies = transaction.rcpt_to.len();
        let line = if data.oversize() {
            tracing::info!(remote = %self.remote, size = data.size,
                limit = self.options().max_message_bytes,
                "inbound receiver: message over the size limit, refused");
            "552 5.3.4 Message size exceeds fixed limit".to_string()
        } else {
            let envelope = Envelope {
                protocol,
                helo,
                mail_from: transaction.mail_from,
                rcpt_to: transaction.rcpt_to,
                remote: self.remote,
            };
            self.deliver(envelope, std::mem::take(&mut data.message))
                .await
        };
        let count = if protocol == Protocol::Lmtp {
            replies
        } else {
            1
        };
        for _ in 0..count {
            self.reply(&line).await?;
        }
        Ok(true)
    }

    async fn deliver(&self, envelope: Envelope, raw: Vec<u8>) -> String {
        let size = raw.len();
        let from = if envelope.mail_from.is_empty() {
            "<>".to_string()
        } else {
            mask(&envelope.mail_from)
        };
        let to: Vec<String> = envelope.rcpt_to.iter().map(|r| mask(r)).collect();
        match self.shared.handler.deliver(envelope, raw).await {
            Ok(()) => {
                tracing::info!(remote = %self.remote, %from, to = ?to, size,
                    "inbound receiver: message stored");
                "250 2.0.0 Ok: stored".into()
            }
            Err(Reject::Temporary(why)) => {
                tracing::warn!(remote = %self.remote, %from, to = ?to, size, reason = %why,
                    "inbound receiver: message not stored, the MTA will retry");
                format!("451 4.3.0 {}", one_line(&why))
            }
            Err(Reject::Permanent(why)) => {
                tracing::warn!(remote = %self.remote, %from, to = ?to, size, reason = %why,
                    "inbound receiver: message refused for good");
                format!("554 5.3.0 {}", one_line(&why))
            }
        }
    }

    fn need_hello(&self) -> &'static str {
        match self.options().protocol {
            Some(Protocol::Lmtp) => "503 5.5.1 Send LHLO first",
            _ => "503 5.5.1 Send EHLO first",
        }
    }

    async fn no_argument(&mut self, arg: &str, ok: &str) -> io::Result<bool> {
        if arg.is_empty() {
            self.reply(ok).await.map(|_| true)
        } else {
            self.error("501 5.5.4 Syntax error: no parameters allowed")
                .await
        }
    }

    /// Answers a bad command; `Ok(false)` once there were too many.
    async fn error(&mut self, line: &str) -> io::Result<bool> {
        self.errors += 1;
        if self.errors > MAX_ERRORS {
            tracing::info!(remote = %self.remote, "inbound receiver: too many errors, closing");
            self.reply("421 4.7.0 Too many errors, closing").await?;
            self.writer.flush().await?;
            return Ok(false);
        }
        self.reply(line).await.map(|_| true)
    }

    async fn reply(&mut self, line: &str) -> io::Result<()> {
        let write = async {
            self.writer.write_all(line.as_bytes()).await?;
            self.writer.write_all(b"\r\n").await
        };
        // A client that does not read its replies is as slow as one that
        // does not write.
        match tokio::time::timeout(self.shared.options.command_timeout, write).await {
            Ok(result) => result,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    // A dropped sender means the server is gone: stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// `FROM:<path> params` → (path without `<>`, params). Lenient about a
/// space after the colon and a path without brackets.
fn split_path<'a>(arg: &'a str, keyword: &str) -> Option<(String, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let (path, params) = if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>')?;
        (&inner[..end], &inner[end + 1..])
    } else {
        rest.split_once(' ').unwrap_or((rest, ""))
    };
    // A source route (`<@a,@b:user@c>`) is ignored (RFC 5321 4.1.1.3).
    let path = match path.rsplit_once(':') {
        Some((route, mailbox)) if route.starts_with('@') => mailbox,
        _ => path,
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some((path.to_string(), params))
}

/// A handler's words, safe in one reply line.
fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    if flat.trim().is_empty() {
        "Try again later".into()
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_leniently() {
        let got = split_path("FROM:<a@b.example> SIZE=10", "FROM:").unwrap();
        assert_eq!(got, ("a@b.example".into(), " SIZE=10"));
        assert_eq!(split_path("from: <>", "FROM:").unwrap().0, "");
        assert_eq!(split_path("TO:x@y", "TO:").unwrap().0, "x@y");
        assert_eq!(split_path("TO:<@r1,@r2:x@y>", "TO:").unwrap().0, "x@y");
        assert!(split_path("TO:<x@y", "TO:").is_none());
        assert!(split_path("FROM<a@b>", "FROM:").is_none());
        assert!(split_path("TO:<a b@c>", "TO:").is_none());
    }

    #[test]
    fn a_handler_reason_cannot_inject_a_reply_line() {
        assert_eq!(one_line("db\r\n250 ok"), "db  250 ok");
        assert_eq!(one_line(""), "Try again later");
    }
}
