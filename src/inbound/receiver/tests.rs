//! The receiver spoken to over real TCP on 127.0.0.1, byte by byte, so every
//! reply code and its timing can be checked.

use super::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Records what it stored; fails as told.
#[derive(Default)]
struct Recorder {
    stored: Mutex<Vec<(Envelope, Vec<u8>)>>,
    /// Deliveries that returned `Ok`, counted right before returning.
    done: AtomicUsize,
    fail_next: Mutex<Option<Reject>>,
}

impl Handler for Recorder {
    async fn deliver(&self, envelope: Envelope, raw: Vec<u8>) -> Result<(), Reject> {
        if let Some(reject) = self.fail_next.lock().unwrap().take() {
            return Err(reject);
        }
        self.stored.lock().unwrap().push((envelope, raw));
        self.done.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct Server {
    port: u16,
    recorder: Arc<Recorder>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(options: ReceiverOptions) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let recorder = Arc::new(Recorder::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let handler = Arc::clone(&recorder);
        let task = tokio::spawn(serve(listener, options, handler, async {
            let _ = stopped.await;
        }));
        Server {
            port,
            recorder,
            stop: Some(stop),
            task,
        }
    }

    async fn client(&self) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let mut client = Client {
            io: BufReader::new(stream),
        };
        let greeting = client.reply().await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        client
    }

    fn stored(&self) -> Vec<(Envelope, Vec<u8>)> {
        self.recorder.stored.lock().unwrap().clone()
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

struct Client {
    io: BufReader<TcpStream>,
}

impl Client {
    async fn send(&mut self, text: &str) {
        self.io.get_mut().write_all(text.as_bytes()).await.unwrap();
    }

    /// One whole reply, its lines joined with `\n`.
    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.io.read_line(&mut line).await.unwrap();
            assert!(n > 0, "connection closed; got {lines:?}");
            let line = line.trim_end().to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    async fn command(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n")).await;
        self.reply().await
    }

    async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.io.read_to_end(&mut rest).await.unwrap();
        rest.is_empty()
    }
}

fn options() -> ReceiverOptions {
    ReceiverOptions {
        hostname: "in.test".into(),
        domains: vec!["bounce.test".into()],
        mailboxes: vec!["unsubscribe@acme.test".into()],
        ..ReceiverOptions::default()
    }
}

fn code(reply: &str) -> &str {
    &reply[..3]
}

#[tokio::test]
async fn an_smtp_message_is_unstuffed_and_250_comes_after_the_handler_stored_it() {
    let server = Server::start(options()).await;
    let mut c = server.client().await;
    let ehlo = c.command("EHLO mta.test").await;
    for ext in [
        "PIPELINING",
        "SIZE 10485760",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
    ] {
        assert!(ehlo.contains(ext), "{ext} in {ehlo}");
    }
    assert_eq!(code(&c.command("MAIL FROM:<>").await), "250");
    let rcpt = c.command("RCPT TO:<Bounces+42-abc@Bounce.Test>").await;
    assert_eq!(rcpt, "250 2.1.5 Ok");
    assert_eq!(code(&c.command("DATA").await), "354");
    c.send("Subject: x\r\n\r\n..leading dot\r\nline\r\n.\r\n")
        .await;
    let done = c.reply().await;
    assert_eq!(done, "250 2.0.0 Ok: stored");
    // The handler had returned before the client heard 250.
    assert_eq!(server.recorder.done.load(Ordering::SeqCst), 1);
    let stored = server.stored();
    let (envelope, raw) = &stored[0];
    assert_eq!(raw, b"Subject: x\r\n\r\n.leading dot\r\nline\r\n");
    assert_eq!(envelope.mail_from, "");
    assert_eq!(envelope.rcpt_to, ["Bounces+42-abc@Bounce.Test"]);
    assert_eq!(envelope.protocol, Protocol::Smtp);
    assert_eq!(envelope.helo, "mta.test");
    assert_eq!(c.command("QUIT").await, "221 2.0.0 Bye");
    assert!(c.closed().await);
    server.shutdown().await;
}

#[tokio::test]
async fn a_handler_error_is_451_and_the_session_goes_on() {
    let server = Server::start(options()).await;
    let mut c = server.client().await;
    c.command("EHLO mta.test").await;
    for (fail, expected) in [
        (
            Some(Reject::Temporary("database\r\nlocked".into())),
            "451 4.3.0 database  locked",
        ),
        (Some(Reject::Permanent("no".into())), "554 5.3.0 no"),
        (None, "250 2.0.0 Ok: stored"),
    ] {
        *server.recorder.fail_next.lock().unwrap() = fail;
        c.command("MAIL FROM:<x@y.test>").await;
        c.command("RCPT TO:<reply+1-aaaa@bounce.test>").await;
        c.command("DATA").await;
        c.send("Subject: y\r\n\r\nbody\r\n.\r\n").await;
        assert_eq!(c.reply().await, expected);
    }
    assert_eq!(server.stored().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn only_tend_addresses_are_accepted() {
    let server = Server::start(options()).await;
    let mut c = server.client().await;
    c.command("EHLO mta.test").await;
    c.command("MAIL FROM:<>").await;
    for (rcpt, expected) in [
        ("bounces+1-x@bounce.test", "250"),
        ("REPLY+9@BOUNCE.TEST", "250"),
        ("unsubscribe+3-y@bounce.test", "250"),
        ("Unsubscribe@Acme.Test", "250"),
        ("bounces+1-x@other.test", "550"),
        ("postmaster@bounce.test", "550"),
        ("bounces@bounce.test", "550"),
        ("unsubscribe@bounce.test", "550"),
        ("nobody", "550"),
    ] {
        let reply = c.command(&format!("RCPT TO:<{rcpt}>")).await;
        assert_eq!(code(&reply), expected, "{rcpt}: {reply}");
        if expected == "550" {
            assert!(reply.starts_with("550 5.1.1 "), "{reply}");
        }
    }
    c.command("DATA").await;
    c.send("Subject: z\r\n\r\n.\r\n").await;
    assert_eq!(code(&c.reply().await), "250");
    assert_eq!(server.stored()[0].0.rcpt_to.len(), 4);
    server.shutdown().await;
}

#[tokio::test]
async fn lmtp_answers_once_per_accepted_recipient() {
    let server = Server::start(ReceiverOptions {
        protocol: Some(Protocol::Lmtp),
        ..options()
    })
    .await;
    let mut c = server.client().await;
    assert_eq!(code(&c.command("EHLO mta.test").await), "500");
    assert_eq!(code(&c.command("MAIL FROM:<>").await), "503");
    let lhlo = c.command("LHLO mta.test").await;
    assert!(lhlo.starts_with("250-in.test"), "{lhlo}");
    c.command("MAIL FROM:<>").await;
    c.command("RCPT TO:<bounces+1-a@bounce.test>").await;
    c.command("RCPT TO:<stranger@bounce.test>").await;
    c.command("RCPT TO:<bounces+2-b@bounce.test>").await;
    c.command("DATA").await;
    c.send("Subject: two\r\n\r\nx\r\n.\r\nNOOP\r\n").await;
    assert_eq!(c.reply().await, "250 2.0.0 Ok: stored");
    assert_eq!(c.reply().await, "250 2.0.0 Ok: stored");
    // The third reply is the NOOP's: exactly two for the data.
    assert_eq!(c.reply().await, "250 2.0.0 Ok");
    let stored = server.stored();
    assert_eq!(stored.len(), 1, "one message stored once");
    assert_eq!(stored[0].0.protocol, Protocol::Lmtp);
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_fixed_protocol_the_greeting_verb_decides() {
    let server = Server::start(options()).await;
    let mut c = server.client().await;
    c.command("LHLO mta.test").await;
    c.command("MAIL FROM:<>").await;
    c.command("RCPT TO:<bounces+1-a@bounce.test>").await;
    c.command("RCPT TO:<bounces+2-b@bounce.test>").await;
    c.command("DATA").await;
    c.send("Subject: two\r\n\r\nx\r\n.\r\n").await;
    assert_eq!(code(&c.reply().await), "250");
    assert_eq!(code(&c.reply().await), "250");
    let mut smtp = server.client().await;
    assert_eq!(code(&smtp.command("HELO old.test").await), "250");
    smtp.command("MAIL FROM:<>").await;
    smtp.command("RCPT TO:<bounces+1-a@bounce.test>").await;
    smtp.command("RCPT TO:<bounces+2-b@bounce.test>").await;
    smtp.command("DATA").await;
    smtp.send("Subject: two\r\n\r\nx\r\n.\r\nNOOP\r\n").await;
    assert_eq!(code(&smtp.reply().await), "250");
    assert_eq!(smtp.reply().await, "250 2.0.0 Ok", "one reply only in SMTP");
    let protocols: Vec<Protocol> = server.stored().iter().map(|s| s.0.protocol).collect();
    assert_eq!(protocols, [Protocol::Lmtp, Protocol::Smtp]);
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_commands_are_all_answered_in_order() {
    let server = Server::start(options()).await;
    let mut c = server.client().await;
    c.send(
        "EHLO mta.test\r\nMAIL FROM:<>\r\nRCPT TO:<nope@x.test>\r\n\
         RCPT TO:<bounces+5-q@bounce.test>\r\nDATA\r\n",
    )
    .await;
    assert!(c.reply().await.starts_with("250-"));
    assert_eq!(code(&c.reply().await), "250");
    assert_eq!(code(&c.reply().await), "550");
    assert_eq!(code(&c.reply().await), "250");
    assert_eq!(code(&c.reply().await), "354");
    c.send("a\r\n.\r\nRSET\r\nQUIT\r\n").await;
    assert_eq!(code(&c.reply().await), "250");
    assert_eq!(c.reply().await, "250 2.0.0 Ok");
    assert_eq!(code(&c.reply().await), "221");
    server.shutdown().await;
}

#[tokio::test]
async fn oversize_messages_are_refused_with_552_and_nothing_is_stored() {
    let server = Server::start(ReceiverOptions {
        max_message_bytes: 1000,
        ..options()
    })
    .await;
    let mut c = server.client().await;
    assert!(c.command("EHLO mta.test").await.contains("SIZE 1000"));
    let declared = c.command("MAIL FROM:<> SIZE=1001").await;
    assert_eq!(declared, "552 5.3.4 Message size exceeds fixed limit");
    assert_eq!(code(&c.command("MAIL FROM:<> SIZE=999").await), "250");
    c.command("RCPT TO:<bounces+1-a@bounce.test>").await;
    c.command("DATA").await;
    let body = "0123456789abcdef\r\n".repeat(200);
    c.send(&format!("Subject: big\r\n\r\n{body}.\r\n")).await;
    assert_eq!(
        c.reply().await,
        "552 5.3.4 Message size exceeds fixed limit"
    );
    assert!(server.stored().is_empty());
    // The session is usable after the refusal.
    c.command("MAIL FROM:<>").await;
    c.command("RCPT TO:<bounces+1-a@bounce.test>").await;
    c.command("DATA").await;
    c.send("Subject: small\r\n\r\nok\r\n.\r\n").await;
    assert_eq!(code(&c.reply().await), "250");
    server.shutdown().await;
}

#[tokio::test]
async fn commands_out_of_order_or_unknown_are_refused() {
    let server = Server::start(options()).await;
    let mut c = server.client().await;
    assert_eq!(c.command("MAIL FROM:<>").await, "503 5.5.1 Send EHLO first");
    assert_eq!(code(&c.command("EHLO").await), "501");
    c.command("EHLO mta.test").await;
    assert_eq!(
        code(&c.command("RCPT TO:<bounces+1@bounce.test>").await),
        "503"
    );
    assert_eq!(code(&c.command("DATA").await), "503");
    c.command("MAIL FROM:<>").await;
    assert_eq!(code(&c.command("MAIL FROM:<>").await), "503");
    assert_eq!(c.command("DATA").await, "554 5.5.1 No valid recipients");
    assert_eq!(code(&c.command("MAIL FROM:<> RET=FULL").await), "503");
    assert_eq!(
        code(
            &c.command("RCPT TO:<bounces+1@bounce.test> NOTIFY=NEVER")
                .await
        ),
        "555"
    );
    assert_eq!(code(&c.command("STARTTLS").await), "502");
    assert_eq!(code(&c.command("BDAT 10 LAST").await), "502");
    assert_eq!(code(&c.command("WIBBLE").await), "500");
    let long = format!("NOOP {}", "x".repeat(10_000));
    assert_eq!(c.command(&long).await, "500 5.5.2 Line too long");
    assert_eq!(code(&c.command("VRFY someone").await), "252");
    assert_eq!(code(&c.command("RSET").await), "250");
    assert_eq!(code(&c.command("NOOP").await), "250");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_sending_junk_is_cut_off() {
    let server = Server::start(options()).await;
    let mut c = server.client().await;
    let mut last = String::new();
    for _ in 0..=20 {
        last = c.command("GET / HTTP/1.1").await;
    }
    assert_eq!(last, "421 4.7.0 Too many errors, closing");
    assert!(c.closed().await);
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_client_times_out_and_a_slow_data_is_cut() {
    let server = Server::start(ReceiverOptions {
        command_timeout: Duration::from_millis(300),
        ..options()
    })
    .await;
    let mut idle = server.client().await;
    let reply = idle.reply().await;
    assert!(reply.starts_with("421 4.4.2 "), "{reply}");
    assert!(idle.closed().await);

    let mut slow = server.client().await;
    slow.command("EHLO mta.test").await;
    slow.command("MAIL FROM:<>").await;
    slow.command("RCPT TO:<bounces+1-a@bounce.test>").await;
    slow.command("DATA").await;
    slow.send("Subject: half\r\n").await;
    assert!(slow.reply().await.starts_with("421 4.4.2 "));
    assert!(server.stored().is_empty(), "half a message is never stored");
    server.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_cap_are_told_to_come_back() {
    let server = Server::start(ReceiverOptions {
        max_connections: 1,
        ..options()
    })
    .await;
    let mut first = server.client().await;
    let stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut second = Client {
        io: BufReader::new(stream),
    };
    let refused = second.reply().await;
    assert!(refused.starts_with("421 4.3.2 "), "{refused}");
    assert!(second.closed().await);
    assert_eq!(first.command("QUIT").await, "221 2.0.0 Bye");
    assert!(first.closed().await);
    // The slot is free again once the first session has ended.
    let mut third = loop {
        let stream = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        let mut client = Client {
            io: BufReader::new(stream),
        };
        if client.reply().await.starts_with("220 ") {
            break client;
        }
    };
    assert_eq!(code(&third.command("NOOP").await), "250");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_tells_idle_sessions_421_and_returns() {
    let server = Server::start(options()).await;
    let mut c = server.client().await;
    c.command("EHLO mta.test").await;
    let port = server.port;
    server.shutdown().await;
    assert!(c.reply().await.starts_with("421 4.3.2 "));
    assert!(c.closed().await);
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[test]
fn local_part_patterns_match_like_globs() {
    for (pattern, text, expected) in [
        ("bounces+*", "bounces+12-abc", true),
        ("bounces+*", "bounces+", true),
        ("bounces+*", "bounces", false),
        ("*-tend", "x-tend", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "acb", false),
        ("exact", "exact", true),
        ("exact", "exactly", false),
    ] {
        assert_eq!(glob(pattern, text), expected, "{pattern} ~ {text}");
    }
}
