//! The inbound receiver with real clients: Python's smtplib over SMTP and
//! LMTP (`tests/support/inbound_client.py`), and tend's own SMTP client
//! (`src/send/smtp.rs`, with PIPELINING). The helpers here ([`Receiver`])
//! also serve the Postfix tests.

#![allow(dead_code)]

use crate::helpers::repo;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tend::config::TlsMode;
use tend::inbound::receiver::{Envelope, Handler, Protocol, ReceiverOptions, Reject, serve};
use tend::send::reply::Phase;
use tend::send::smtp::{ClientConfig, Connection, FailureKind};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot};

/// A handler that passes each stored message on, and refuses the next
/// deliveries as told.
pub struct Forward {
    tx: mpsc::UnboundedSender<(Envelope, Vec<u8>)>,
    refusals: Mutex<Vec<Reject>>,
}

impl Handler for Forward {
    async fn deliver(&self, envelope: Envelope, raw: Vec<u8>) -> Result<(), Reject> {
        if let Some(reject) = self.refusals.lock().await.pop() {
            return Err(reject);
        }
        let _ = self.tx.send((envelope, raw));
        Ok(())
    }
}

/// tend's receiver on a free port of 127.0.0.1, stopped when dropped.
pub struct Receiver {
    pub port: u16,
    pub handler: Arc<Forward>,
    pub stored: mpsc::UnboundedReceiver<(Envelope, Vec<u8>)>,
    stop: Option<oneshot::Sender<()>>,
}

impl Receiver {
    /// Must run inside a tokio runtime.
    pub async fn start(options: ReceiverOptions) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, stored) = mpsc::unbounded_channel();
        let handler = Arc::new(Forward {
            tx,
            refusals: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, options, Arc::clone(&handler), async {
            let _ = stopped.await;
        }));
        Receiver {
            port,
            handler,
            stored,
            stop: Some(stop),
        }
    }

    /// The next stored message, waiting at most `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<(Envelope, Vec<u8>)> {
        tokio::time::timeout(timeout, self.stored.recv())
            .await
            .ok()
            .flatten()
    }

    /// Refuses the next delivery with `reject`.
    pub async fn refuse_next(&self, reject: Reject) {
        self.handler.refusals.lock().await.push(reject);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn bounce_options() -> ReceiverOptions {
    ReceiverOptions {
        hostname: "inbound.test".into(),
        domains: vec!["bounce.test".into()],
        mailboxes: vec!["unsubscribe@acme.test".into()],
        ..ReceiverOptions::default()
    }
}

fn python_client(port: u16, lmtp: bool, recipients: &[&str], message: &[u8]) -> serde_json::Value {
    let python = std::env::var("TEND_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut command = Command::new(python);
    command
        .arg(repo().join("tests/support/inbound_client.py"))
        .arg("--port")
        .arg(port.to_string());
    if lmtp {
        command.arg("--lmtp");
    }
    let mut child = command
        .args(recipients)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const MESSAGE: &[u8] = b"From: someone@example.org\r\nTo: bounces+7-x@bounce.test\r\n\
Subject: with a dot\r\n\r\n.a line that starts with a dot\r\n..and two\r\nend\r\n";

#[tokio::test]
async fn python_smtplib_delivers_over_smtp_and_the_dots_survive() {
    let mut receiver = Receiver::start(bounce_options()).await;
    let port = receiver.port;
    let out = tokio::task::spawn_blocking(move || {
        python_client(
            port,
            false,
            &["bounces+7-x@bounce.test", "stranger@bounce.test"],
            MESSAGE,
        )
    })
    .await
    .unwrap();
    let features = out["features"].to_string();
    for ext in ["pipelining", "size", "8bitmime", "smtputf8"] {
        assert!(features.contains(ext), "{ext} in {features}");
    }
    assert_eq!(out["rcpt"], serde_json::json!([250, 550]));
    assert_eq!(out["data"][0][0], 250);
    let (envelope, raw) = receiver.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(envelope.protocol, Protocol::Smtp);
    assert_eq!(envelope.rcpt_to, ["bounces+7-x@bounce.test"]);
    // smtplib doubles leading dots; the receiver undoes it.
    assert_eq!(
        String::from_utf8_lossy(&raw),
        String::from_utf8_lossy(MESSAGE)
    );
}

#[tokio::test]
async fn python_smtplib_over_lmtp_gets_one_reply_per_recipient() {
    let mut receiver = Receiver::start(ReceiverOptions {
        protocol: Some(Protocol::Lmtp),
        ..bounce_options()
    })
    .await;
    let port = receiver.port;
    let recipients = [
        "bounces+7-x@bounce.test",
        "nobody@bounce.test",
        "Unsubscribe@acme.test",
    ];
    let out = tokio::task::spawn_blocking(move || python_client(port, true, &recipients, MESSAGE))
        .await
        .unwrap();
    assert_eq!(out["rcpt"], serde_json::json!([250, 550, 250]));
    let data = out["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(data.iter().all(|reply| reply[0] == 250), "{data:?}");
    let (envelope, _) = receiver.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(envelope.protocol, Protocol::Lmtp);
    assert_eq!(envelope.rcpt_to.len(), 2);
    assert!(
        receiver.next(Duration::from_millis(200)).await.is_none(),
        "stored once"
    );
}

fn client_config(port: u16) -> ClientConfig {
    let roots = tokio_rustls::rustls::RootCertStore::empty();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    ClientConfig {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        tls_config: Arc::new(tls),
        credentials: None,
        hello: "sender.test".into(),
        timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn tends_own_smtp_client_delivers_pipelined_and_hears_the_refusals() {
    let mut receiver = Receiver::start(bounce_options()).await;
    let mut conn = Connection::open(&client_config(receiver.port))
        .await
        .unwrap();
    let reply = conn
        .send(
            "",
            "reply+3-abc@bounce.test",
            MESSAGE,
            &mut tend::send::gate::Gate::new(async { Ok(()) }),
        )
        .await
        .unwrap();
    assert_eq!(reply.code, 250);
    let (envelope, raw) = receiver.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(envelope.mail_from, "");
    assert!(raw.ends_with(b"end\r\n"));

    let refused = conn
        .send(
            "",
            "stranger@bounce.test",
            MESSAGE,
            &mut tend::send::gate::Gate::new(async { Ok(()) }),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.phase, Phase::RcptTo);
    assert!(
        matches!(&refused.kind, FailureKind::Reply(r) if r.code == 550),
        "{refused}"
    );
    conn.reset().await;

    // The handler could not store it: 451, nothing stored, the client may retry.
    receiver
        .refuse_next(Reject::Temporary("store busy".into()))
        .await;
    let deferred = conn
        .send(
            "",
            "bounces+4-abc@bounce.test",
            MESSAGE,
            &mut tend::send::gate::Gate::new(async { Ok(()) }),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&deferred.kind, FailureKind::Reply(r) if r.code == 451),
        "{deferred}"
    );
    conn.reset().await;
    let retried = conn
        .send(
            "",
            "bounces+4-abc@bounce.test",
            MESSAGE,
            &mut tend::send::gate::Gate::new(async { Ok(()) }),
        )
        .await
        .unwrap();
    assert_eq!(retried.code, 250);
    let (envelope, _) = receiver.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(envelope.rcpt_to, ["bounces+4-abc@bounce.test"]);
    conn.quit().await;
}

#[tokio::test]
async fn a_shut_gate_leaves_the_data_unended_and_the_server_keeps_nothing() {
    let mut receiver = Receiver::start(bounce_options()).await;
    let mut conn = Connection::open(&client_config(receiver.port))
        .await
        .unwrap();
    // The record is refused (say, the recipient unsubscribed since the
    // claim) while the envelope and data are already under way.
    let refused = conn
        .send(
            "",
            "reply+3-abc@bounce.test",
            MESSAGE,
            &mut tend::send::gate::Gate::new(async { Err("suppressed since the claim".into()) }),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused.kind, FailureKind::Aborted(why) if why == "suppressed since the claim"),
        "{refused}"
    );
    assert!(conn.is_broken(), "a session left inside DATA is not reused");
    drop(conn);
    let mut conn = Connection::open(&client_config(receiver.port))
        .await
        .unwrap();
    conn.send(
        "",
        "bounces+4-abc@bounce.test",
        MESSAGE,
        &mut tend::send::gate::Gate::new(async { Ok(()) }),
    )
    .await
    .unwrap();
    let (envelope, _) = receiver.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        envelope.rcpt_to,
        ["bounces+4-abc@bounce.test"],
        "the unended transaction was discarded"
    );
    conn.quit().await;
}
