//! Real bounces from a real Postfix ([`crate::postfix`]): tend's SMTP client
//! sends with a signed VERP return path (`bounces+TOKEN@bounce.test`) to a
//! mailbox that does not exist and to a full one; Postfix's delivery status
//! notifications come back to tend's receiver by LMTP (or SMTP), and the
//! classifier reads them: a hard bounce and a soft one, each naming its send.
//!
//! What Postfix 3.7 really says (and these tests assert): an unknown virtual
//! user is `Action: failed`, `Status: 5.1.1`, `Diagnostic-Code: X-Postfix;
//! unknown user: "…"`; a mailbox over `virtual_mailbox_limit` is `Action:
//! failed`, `Status: 5.2.2`, `Diagnostic-Code: x-unix; input/output error`
//! (bounced at once, not deferred), which the reply table reads as a soft
//! bounce (mailbox full).

use crate::postfix::{DOMAIN, HOSTNAME, Postfix, PostfixOptions, Relay};
use crate::receiver::{Receiver, bounce_options};
use std::sync::Arc;
use std::time::Duration;
use tend::config::TlsMode;
use tend::domain::TokenKey;
use tend::inbound::receiver::{Envelope, Protocol, Reject};
use tend::inbound::{BounceFormat, Classification, Context, Effect, Kind, Purpose, verp};
use tend::send::reply::Verdict;
use tend::send::smtp::{ClientConfig, Connection};

const SECRET: &[u8] = b"postfix-bounce-test-secret-0123456789";
const INSTALLATION: &str = "b0b0cafe";
const BOUNCE_DOMAIN: &str = "bounce.test";
/// Postfix writes a DSN within a second or two; generous for a loaded CI.
const WAIT: Duration = Duration::from_secs(60);

fn key() -> TokenKey {
    TokenKey::new(SECRET).unwrap()
}

fn message(send_id: i64, to: &str) -> Vec<u8> {
    format!(
        "From: Acme <news@acme.test>\r\nTo: {to}\r\nSubject: Hello from Acme\r\n\
         Message-ID: <tend.{send_id}.9.{INSTALLATION}@acme.test>\r\n\
         Date: Thu, 01 Jan 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHi there.\r\n"
    )
    .into_bytes()
}

fn client(port: u16) -> ClientConfig {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(tokio_rustls::rustls::RootCertStore::empty())
        .with_no_client_auth();
    ClientConfig {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        tls_config: Arc::new(tls),
        credentials: None,
        hello: "tend.acme.test".into(),
        timeout: Duration::from_secs(20),
    }
}

/// Sends `send_id`'s message to `to` through Postfix, VERP return path.
async fn send(postfix: &Postfix, send_id: i64, to: &str) {
    let from = verp::envelope_sender(&key(), send_id, BOUNCE_DOMAIN);
    let mut conn = Connection::open(&client(postfix.smtp_port)).await.unwrap();
    let reply = conn
        .send(
            &from,
            to,
            &message(send_id, to),
            &mut tend::send::gate::Gate::new(async { Ok(()) }),
        )
        .await
        .unwrap_or_else(|e| panic!("Postfix refused {to}: {e}\n{}", postfix.maillog()));
    assert_eq!(reply.code, 250);
    conn.quit().await;
}

fn classify(envelope: &Envelope, raw: &[u8]) -> Classification {
    let key = key();
    let ctx = Context::new(&key, INSTALLATION).with_envelope_recipients(&envelope.rcpt_to);
    tend::inbound::classify(raw, &ctx)
}

/// The next DSN from the receiver, with its classification.
async fn next_dsn(receiver: &mut Receiver, postfix: &Postfix) -> (Envelope, Classification) {
    let Some((envelope, raw)) = receiver.next(WAIT).await else {
        panic!("no DSN reached the receiver\n{}", postfix.maillog());
    };
    let found = classify(&envelope, &raw);
    (envelope, found)
}

fn postfix(receiver: &Receiver, relay: Relay) -> Option<Postfix> {
    Postfix::start(PostfixOptions {
        relay_domain: BOUNCE_DOMAIN.into(),
        relay_port: receiver.port,
        relay,
        mailboxes: vec!["ana".into()],
        full_mailboxes: vec!["full".into()],
    })
}

#[tokio::test]
async fn postfix_bounces_reach_the_receiver_by_lmtp_hard_for_no_such_user_soft_for_a_full_mailbox()
{
    let mut receiver = Receiver::start(bounce_options()).await;
    let Some(postfix) = postfix(&receiver, Relay::Lmtp) else {
        return;
    };
    send(&postfix, 501, &format!("ghost@{DOMAIN}")).await;
    send(&postfix, 502, &format!("full@{DOMAIN}")).await;

    let mut by_send = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let (envelope, found) = next_dsn(&mut receiver, &postfix).await;
        // Postfix's bounce: null sender, to the VERP address, over LMTP.
        assert_eq!(envelope.protocol, Protocol::Lmtp);
        assert_eq!(envelope.mail_from, "");
        assert_eq!(envelope.rcpt_to.len(), 1);
        assert!(envelope.rcpt_to[0].starts_with("bounces+"));
        let token = found.ident.token.expect("the VERP token names the send");
        assert_eq!(token.purpose, Purpose::Bounce);
        let message_id = found.ident.message_id.as_ref().map(|m| m.send_id);
        assert_eq!(
            message_id,
            Some(token.send_id),
            "the returned Message-ID agrees"
        );
        by_send.insert(token.send_id, found);
    }

    let hard = &by_send[&501];
    assert_eq!(hard.label(), "hard_bounce", "{:?}", hard.kind);
    assert_eq!(hard.effect(), Effect::HardBounce);
    let Kind::DeliveryStatus(report) = &hard.kind else {
        panic!("{:?}", hard.kind)
    };
    assert_eq!(report.format, BounceFormat::Rfc3464);
    assert_eq!(report.reporting_mta.as_deref(), Some(HOSTNAME));
    let recipient = &report.recipients[0];
    assert_eq!(
        recipient.recipient.as_ref().map(|a| a.as_str()),
        Some("ghost@local.test")
    );
    assert_eq!(
        recipient.status.map(|s| s.to_string()).as_deref(),
        Some("5.1.1")
    );
    assert_eq!(recipient.verdict, Some(Verdict::HardBounce));
    let diagnostic = recipient.diagnostic.as_deref().unwrap_or("");
    assert!(diagnostic.contains("unknown user"), "{diagnostic}");

    let soft = &by_send[&502];
    assert_eq!(soft.label(), "soft_bounce", "{:?}", soft.kind);
    assert_eq!(soft.effect(), Effect::SoftBounce);
    let Kind::DeliveryStatus(report) = &soft.kind else {
        panic!("{:?}", soft.kind)
    };
    let recipient = &report.recipients[0];
    assert_eq!(
        recipient.recipient.as_ref().map(|a| a.as_str()),
        Some("full@local.test")
    );
    // Postfix bounces a full mailbox at once, with a permanent 5.2.2; the
    // reply table reads "mailbox full" as soft.
    assert_eq!(
        recipient.status.map(|s| s.to_string()).as_deref(),
        Some("5.2.2")
    );
    assert_eq!(recipient.verdict, Some(Verdict::SoftBounce));
    let log = postfix.maillog();
    assert!(log.contains("dsn=5.2.2, status=bounced"), "{log}");
    assert!(log.contains("File too large"), "{log}");
}

#[tokio::test]
async fn a_dsn_the_receiver_could_not_store_is_retried_by_postfix_over_smtp() {
    let mut receiver = Receiver::start(bounce_options()).await;
    let Some(postfix) = postfix(&receiver, Relay::Smtp) else {
        return;
    };
    receiver
        .refuse_next(Reject::Temporary("store unavailable".into()))
        .await;
    send(&postfix, 503, &format!("nobody@{DOMAIN}")).await;
    let (envelope, found) = next_dsn(&mut receiver, &postfix).await;
    assert_eq!(envelope.protocol, Protocol::Smtp);
    assert_eq!(found.ident.token.map(|t| t.send_id), Some(503));
    assert_eq!(found.label(), "hard_bounce");
    // The first attempt was deferred on our 451, then delivered.
    let log = postfix.maillog();
    assert!(log.contains("451 4.3.0 store unavailable"), "{log}");
    assert!(log.contains("status=deferred"), "{log}");
    assert!(
        receiver.next(Duration::from_millis(300)).await.is_none(),
        "stored once"
    );
}
