//! Provider webhooks against the real daemon over real HTTP: `tend run`
//! with `[inbound.webhooks]` set for Amazon SES (SNS, its signatures checked
//! against a test certificate given as `ses_certificate_file`), SendGrid (a
//! P-256 key made here), Postmark (basic auth) and Mailgun (an HMAC key),
//! the secrets from the environment as in production.
//!
//! The contacts were first sent their welcome message (`tend run --once`,
//! VERP return paths on), so the events name real sends: by the envelope
//! sender's token and by our Message-ID, as the providers report them.
//! A signed event suppresses its contact once, however often it is
//! delivered; a request that does not prove where it came from gets 401 and
//! changes nothing.

use crate::helpers::{Daemon, NOW, TestApp, http_request_with};
use crate::webhooks::Signer;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:tend-ses-events";
const CERT_URL: &str = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000000000000.pem";
const POSTMARK_USER: &str = "postmark";
const POSTMARK_PASSWORD: &str = "correct horse battery staple";
const MAILGUN_KEY: &str = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
/// The link-signing key `TestApp::command` gives every command.
const SECRET: &str = "a-fixed-secret-for-tend-tests";

const CONTACTS: &str = "email,name,created_at
ses@example.com,Sesame,2026-03-09
sendgrid@example.com,Sandy,2026-03-09
postmark@example.com,Pam,2026-03-09
mailgun@example.com,Meg,2026-03-09
victim@example.com,Vic,2026-03-09
";

/// The DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte point.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn p256() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap()
}

/// The key as SendGrid shows it: base64 DER SubjectPublicKeyInfo.
fn spki_base64(pair: &EcdsaKeyPair) -> String {
    STANDARD.encode([P256_SPKI_PREFIX, pair.public_key().as_ref()].concat())
}

/// `NOW` in Unix seconds: the daemon's clock starts there.
fn now_unix() -> i64 {
    NOW.parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap()
        .timestamp()
}

/// What the welcome message to one contact was sent with.
#[derive(Debug, Clone)]
struct Sent {
    /// The envelope sender, `bounces+TOKEN@acme.example`.
    envelope_from: String,
    /// `<tend.SEND.ENROLLMENT.INSTALLATION@acme.example>`.
    message_id: String,
    send_id: i64,
}

/// A daemon taking all four providers' webhooks, its contacts mailed once.
struct Hooks {
    app: TestApp,
    daemon: Daemon,
    addr: SocketAddr,
    sns: Signer,
    sendgrid: EcdsaKeyPair,
    sent: BTreeMap<String, Sent>,
}

/// The secrets, from the environment only (as in production), and the
/// link-signing key for `run --once` and the daemon alike.
const ENV: &[(&str, &str)] = &[
    ("TEND__HTTP__SECRET", SECRET),
    (
        "TEND__INBOUND__WEBHOOKS__POSTMARK_PASSWORD",
        POSTMARK_PASSWORD,
    ),
    ("TEND__INBOUND__WEBHOOKS__MAILGUN_SIGNING_KEY", MAILGUN_KEY),
];

impl Hooks {
    fn start() -> Hooks {
        let app = TestApp::with_smtp(&[]);
        app.import_contacts(CONTACTS);
        let sns = Signer::new();
        let sendgrid = p256();
        app.write("sns-certificate.pem", &sns.cert_pem);
        let config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
        app.write(
            "config/tend.toml",
            &format!(
                "{config}\n[inbound.webhooks]\nses_topics = [\"{TOPIC}\"]\nses_certificate_file = \"{}\"\n\
                 sendgrid_public_key = \"{}\"\npostmark_user = \"{POSTMARK_USER}\"\n",
                app.path("sns-certificate.pem").display(),
                spki_base64(&sendgrid),
            ),
        );
        app.tend_with(&["run", "--once", "--now", NOW], ENV).ok();
        let mut sent = BTreeMap::new();
        for message in app.smtp().wait_for(5, Duration::from_secs(30)) {
            let message_id = message.header("Message-ID").unwrap();
            let send_id = message_id
                .trim_matches(['<', '>'])
                .split('.')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                message.mail_from.starts_with("bounces+"),
                "inbound on: a VERP return path, not {}",
                message.mail_from
            );
            sent.insert(
                message.rcpt_tos[0].clone(),
                Sent {
                    envelope_from: message.mail_from.clone(),
                    message_id,
                    send_id,
                },
            );
        }
        let daemon = app.spawn_daemon(ENV);
        let addr = daemon.http_addr();
        Hooks {
            app,
            daemon,
            addr,
            sns,
            sendgrid,
            sent,
        }
    }

    fn sent(&self, to: &str) -> &Sent {
        &self.sent[to]
    }

    /// POSTs `body` to `/inbound/PROVIDER`; (status, JSON answer).
    fn post(&self, provider: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let mut all = headers.to_vec();
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            all.push(("Content-Type", "application/json"));
        }
        let (status, text) = http_request_with(
            self.addr,
            "POST",
            &format!("/inbound/{provider}"),
            &all,
            body,
        );
        let answer = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{provider} {status}: {e}: {text}"));
        (status, answer)
    }

    /// The suppressions and inbound rows: what a refused request must not change.
    fn state(&self) -> (Value, Value) {
        let read = |args: &[&str]| -> Value {
            let out = self.app.tend(args).ok();
            serde_json::from_str(&out.stdout).unwrap()
        };
        (
            read(&["--json", "suppress", "list"]),
            read(&["--json", "inbound", "list"]),
        )
    }

    fn suppressed(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .state()
            .0
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["value"].as_str().unwrap().to_string(),
                    s["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        all.sort();
        all
    }

    /// An SES bounce of `to` as SNS delivers it, signed by `signer`.
    fn ses_bounce(&self, signer: &Signer, to: &str, sent: Option<&Sent>) -> Value {
        let mut mail = json!({
            "timestamp": "2026-03-10T10:00:01.000Z",
            "messageId": "0100019a2b3c4d5e-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000",
            "destination": [to],
        });
        if let Some(sent) = sent {
            mail["source"] = json!(sent.envelope_from);
            mail["commonHeaders"] = json!({ "messageId": sent.message_id, "to": [to] });
        }
        let message = json!({
            "notificationType": "Bounce",
            "bounce": {
                "feedbackId": format!("fb-{to}"),
                "bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": "5.1.1",
                    "diagnosticCode": format!("smtp; 550 5.1.1 <{to}>: Recipient address rejected: User unknown")}],
                "timestamp": "2026-03-10T10:00:05.000Z",
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.example.com"
            },
            "mail": mail,
        });
        let mut envelope = json!({
            "Type": "Notification",
            "MessageId": format!("sns-{to}"),
            "TopicArn": TOPIC,
            "Subject": "Amazon SES Email Event Notification",
            "Message": message.to_string(),
            "Timestamp": "2026-03-10T10:00:06.123Z",
            "SigningCertURL": CERT_URL,
        });
        signer.sign_v2(&mut envelope);
        envelope
    }

    fn post_ses(&self, envelope: &Value) -> (u16, Value) {
        self.post(
            "ses",
            &[
                ("Content-Type", "text/plain; charset=UTF-8"),
                (
                    "x-amz-sns-message-type",
                    envelope["Type"].as_str().unwrap_or("Notification"),
                ),
            ],
            &envelope.to_string(),
        )
    }

    /// A SendGrid batch, signed by `pair` with `timestamp`.
    fn post_sendgrid(&self, pair: &EcdsaKeyPair, timestamp: &str, body: &str) -> (u16, Value) {
        let signed = [timestamp.as_bytes(), body.as_bytes()].concat();
        let signature = STANDARD.encode(pair.sign(&SystemRandom::new(), &signed).unwrap());
        self.post(
            "sendgrid",
            &[
                ("X-Twilio-Email-Event-Webhook-Signature", &signature),
                ("X-Twilio-Email-Event-Webhook-Timestamp", timestamp),
            ],
            body,
        )
    }

    fn post_postmark(&self, user_password: Option<&str>, body: &str) -> (u16, Value) {
        let header = user_password.map(|up| format!("Basic {}", STANDARD.encode(up)));
        let headers: Vec<(&str, &str)> = header
            .as_deref()
            .map(|h| vec![("Authorization", h)])
            .unwrap_or_default();
        self.post("postmark", &headers, body)
    }
}

fn sendgrid_spamreport(to: &str, event_id: &str, sent: &Sent) -> String {
    json!([{
        "email": to, "timestamp": now_unix(), "event": "spamreport",
        "sg_event_id": event_id, "smtp-id": sent.message_id,
    }])
    .to_string()
}

fn postmark_bounce(id: i64, to: &str) -> String {
    json!({
        "RecordType": "Bounce", "ID": id, "Type": "HardBounce", "TypeCode": 1,
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": to, "BouncedAt": "2026-03-10T10:00:05Z", "Subject": "Welcome",
    })
    .to_string()
}

fn mailgun_sign(timestamp: &str, token: &str, key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A Mailgun permanent failure of `to`, its signature as given.
fn mailgun_failed(
    (timestamp, token, signature): (&str, &str, &str),
    event_id: &str,
    to: &str,
    sent: Option<&Sent>,
) -> String {
    let mut data = json!({
        "id": event_id, "event": "failed", "severity": "permanent", "reason": "bounce",
        "recipient": to, "timestamp": now_unix() as f64 + 0.25,
        "delivery-status": {"code": 550, "message": "5.1.1 The email account that you tried to reach does not exist", "attempt-no": 1},
    });
    if let Some(sent) = sent {
        data["envelope"] = json!({ "sender": sent.envelope_from });
        data["message"] =
            json!({ "headers": { "message-id": sent.message_id.trim_matches(['<', '>']) } });
    }
    json!({
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": data,
    })
    .to_string()
}

fn taken(events: u64, new: u64) -> Value {
    json!({ "events": events, "new": new })
}

#[test]
fn signed_events_suppress_their_contact_once_however_often_they_come() {
    let hooks = Hooks::start();
    assert!(hooks.suppressed().is_empty());

    // Amazon SES through SNS: the bounce names the send by its VERP sender.
    let ses = hooks.ses_bounce(
        &hooks.sns,
        "ses@example.com",
        Some(hooks.sent("ses@example.com")),
    );
    assert_eq!(hooks.post_ses(&ses), (200, taken(1, 1)));
    // SendGrid: a spam report, by our Message-ID in `smtp-id`.
    let timestamp = now_unix().to_string();
    let sendgrid = sendgrid_spamreport(
        "sendgrid@example.com",
        "sg-1",
        hooks.sent("sendgrid@example.com"),
    );
    assert_eq!(
        hooks.post_sendgrid(&hooks.sendgrid, &timestamp, &sendgrid),
        (200, taken(1, 1))
    );
    // Postmark: a hard bounce, by address (Postmark reports no header of ours).
    let credentials = format!("{POSTMARK_USER}:{POSTMARK_PASSWORD}");
    let postmark = postmark_bounce(4_323_372_036_854_775_807, "postmark@example.com");
    assert_eq!(
        hooks.post_postmark(Some(&credentials), &postmark),
        (200, taken(1, 1))
    );
    // Mailgun: a permanent failure, fresh and signed.
    let ts = now_unix().to_string();
    let mailgun = mailgun_failed(
        (&ts, "tok-1", &mailgun_sign(&ts, "tok-1", MAILGUN_KEY)),
        "mg-1",
        "mailgun@example.com",
        Some(hooks.sent("mailgun@example.com")),
    );
    assert_eq!(hooks.post("mailgun", &[], &mailgun), (200, taken(1, 1)));

    let expected = vec![
        ("mailgun@example.com".to_string(), "bounce".to_string()),
        ("postmark@example.com".to_string(), "bounce".to_string()),
        ("sendgrid@example.com".to_string(), "complaint".to_string()),
        ("ses@example.com".to_string(), "bounce".to_string()),
    ];
    assert_eq!(hooks.suppressed(), expected, "victim@ untouched");
    let (_, rows) = hooks.state();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let by_source: BTreeMap<&str, &Value> = rows
        .iter()
        .map(|r| (r["source"].as_str().unwrap(), r))
        .collect();
    for (source, email, kind, tied) in [
        ("webhook:ses", "ses@example.com", "hard_bounce", true),
        (
            "webhook:sendgrid",
            "sendgrid@example.com",
            "complaint",
            true,
        ),
        (
            "webhook:postmark",
            "postmark@example.com",
            "hard_bounce",
            false,
        ),
        (
            "webhook:mailgun",
            "mailgun@example.com",
            "hard_bounce",
            true,
        ),
    ] {
        let row = by_source
            .get(source)
            .unwrap_or_else(|| panic!("no {source} row: {rows:#?}"));
        assert_eq!(row["email"], email, "{source}");
        assert_eq!(row["kind"], kind, "{source}");
        assert_eq!(row["suppressed"], email, "{source}");
        if tied {
            assert_eq!(row["send_id"], hooks.sent(email).send_id, "{source}");
            assert_eq!(row["campaign"], "welcome", "{source}");
        } else {
            assert_eq!(row["send_id"], Value::Null, "{source}");
        }
    }
    let before = hooks.state();

    // Providers deliver again (a timeout on their side, a retry): counted once.
    assert_eq!(hooks.post_ses(&ses), (200, taken(1, 0)));
    assert_eq!(
        hooks.post_sendgrid(&hooks.sendgrid, &timestamp, &sendgrid),
        (200, taken(1, 0))
    );
    assert_eq!(
        hooks.post_postmark(Some(&credentials), &postmark),
        (200, taken(1, 0))
    );
    // A Mailgun retry is signed anew (another token) for the same event.
    let retry = mailgun_failed(
        (&ts, "tok-2", &mailgun_sign(&ts, "tok-2", MAILGUN_KEY)),
        "mg-1",
        "mailgun@example.com",
        Some(hooks.sent("mailgun@example.com")),
    );
    assert_eq!(hooks.post("mailgun", &[], &retry), (200, taken(1, 0)));
    assert_eq!(hooks.state(), before);

    // Undone by an operator, the SES bounce's contact may be mailed again;
    // a redelivery afterwards does not suppress it anew.
    let ses_row = by_source["webhook:ses"]["id"].as_i64().unwrap().to_string();
    hooks
        .app
        .tend(&["inbound", "undo", &ses_row, "--note", "SES sandbox test"])
        .ok();
    assert_eq!(hooks.post_ses(&ses), (200, taken(1, 0)));
    assert!(
        !hooks
            .suppressed()
            .contains(&("ses@example.com".to_string(), "bounce".to_string()))
    );
}

#[test]
fn unproven_requests_get_401_and_change_nothing() {
    let hooks = Hooks::start();
    let victim = "victim@example.com";
    let sent = hooks.sent(victim).clone();
    let before = hooks.state();
    let refused = |(status, answer): (u16, Value), what: &str| {
        assert_eq!(status, 401, "{what}: {answer}");
        assert!(answer["error"].is_string(), "{what}: {answer}");
    };

    // SES: signed with a key that is not the configured certificate's.
    let forger = Signer::new();
    refused(
        hooks.post_ses(&hooks.ses_bounce(&forger, victim, Some(&sent))),
        "SNS signed by another key",
    );
    // Altered after signing.
    let mut altered = hooks.ses_bounce(&hooks.sns, "ses@example.com", None);
    altered["Message"] = json!(
        altered["Message"]
            .as_str()
            .unwrap()
            .replace("ses@example.com", victim)
    );
    refused(hooks.post_ses(&altered), "SNS message altered");
    // Unsigned.
    let mut unsigned = hooks.ses_bounce(&hooks.sns, victim, Some(&sent));
    unsigned.as_object_mut().unwrap().remove("Signature");
    refused(hooks.post_ses(&unsigned), "SNS unsigned");
    // Validly signed, but for someone else's topic.
    let mut elsewhere = hooks.ses_bounce(&hooks.sns, victim, Some(&sent));
    elsewhere["TopicArn"] = json!("arn:aws:sns:us-east-1:999999999999:someone-elses-topic");
    hooks.sns.sign_v2(&mut elsewhere);
    refused(hooks.post_ses(&elsewhere), "SNS from another topic");
    // A subscription to an unknown topic is not confirmed (nor fetched).
    let mut subscribe = json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": "arn:aws:sns:us-east-1:999999999999:someone-elses-topic",
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37",
        "Timestamp": "2026-03-10T09:00:00.000Z",
        "SigningCertURL": CERT_URL,
    });
    hooks.sns.sign_v2(&mut subscribe);
    refused(
        hooks.post_ses(&subscribe),
        "SubscriptionConfirmation of an unknown topic",
    );
    // A certificate URL off AWS.
    let mut off_aws = hooks.ses_bounce(&hooks.sns, victim, Some(&sent));
    off_aws["SigningCertURL"] = json!("https://sns.us-east-1.amazonaws.com.evil.example/cert.pem");
    hooks.sns.sign_v2(&mut off_aws);
    refused(hooks.post_ses(&off_aws), "SNS certificate off AWS");
    refused(hooks.post("ses", &[], "{not json"), "SNS garbage");

    // SendGrid: unsigned, signed by another key, a signature for another body.
    let timestamp = now_unix().to_string();
    let body = sendgrid_spamreport(victim, "sg-forged", &sent);
    refused(hooks.post("sendgrid", &[], &body), "SendGrid unsigned");
    refused(
        hooks.post_sendgrid(&p256(), &timestamp, &body),
        "SendGrid signed by another key",
    );
    let signed_other = [timestamp.as_bytes(), b"[]"].concat();
    let signature = STANDARD.encode(
        hooks
            .sendgrid
            .sign(&SystemRandom::new(), &signed_other)
            .unwrap(),
    );
    refused(
        hooks.post(
            "sendgrid",
            &[
                ("X-Twilio-Email-Event-Webhook-Signature", &signature),
                ("X-Twilio-Email-Event-Webhook-Timestamp", &timestamp),
            ],
            &body,
        ),
        "SendGrid signature of another body",
    );

    // Postmark: no credentials, wrong password, wrong user.
    let body = postmark_bounce(77, victim);
    refused(
        hooks.post_postmark(None, &body),
        "Postmark without credentials",
    );
    refused(
        hooks.post_postmark(Some(&format!("{POSTMARK_USER}:guess")), &body),
        "Postmark wrong password",
    );
    refused(
        hooks.post_postmark(Some(&format!("admin:{POSTMARK_PASSWORD}")), &body),
        "Postmark wrong user",
    );

    // Mailgun: another key, stale, unsigned; and a replayed token.
    let ts = now_unix().to_string();
    refused(
        hooks.post(
            "mailgun",
            &[],
            &mailgun_failed(
                (&ts, "tok-f", &mailgun_sign(&ts, "tok-f", "another-key")),
                "mg-f",
                victim,
                Some(&sent),
            ),
        ),
        "Mailgun signed with another key",
    );
    let stale = (now_unix() - 3600).to_string();
    let (status, answer) = hooks.post(
        "mailgun",
        &[],
        &mailgun_failed(
            (&stale, "tok-s", &mailgun_sign(&stale, "tok-s", MAILGUN_KEY)),
            "mg-s",
            victim,
            Some(&sent),
        ),
    );
    assert_eq!(status, 401, "{answer}");
    // The daemon's clock moved on from NOW by a second or two since.
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("s away from now; at most 300s is accepted"),
        "{answer}"
    );
    refused(
        hooks.post(
            "mailgun",
            &[],
            &json!({"event-data": {"event": "failed", "recipient": victim}}).to_string(),
        ),
        "Mailgun unsigned",
    );
    assert_eq!(before, hooks.state(), "nothing changed by refused requests");

    // A genuine Mailgun request, then its signature replayed on another
    // event (the signature covers the token, not the body): refused.
    let genuine = (
        ts.as_str(),
        "tok-1",
        mailgun_sign(&ts, "tok-1", MAILGUN_KEY),
    );
    let (status, answer) = hooks.post(
        "mailgun",
        &[],
        &mailgun_failed(
            (genuine.0, genuine.1, &genuine.2),
            "mg-1",
            "mailgun@example.com",
            None,
        ),
    );
    assert_eq!((status, answer), (200, taken(1, 1)));
    let after_genuine = hooks.state();
    let (status, answer) = hooks.post(
        "mailgun",
        &[],
        &mailgun_failed(
            (genuine.0, genuine.1, &genuine.2),
            "mg-replayed",
            victim,
            Some(&sent),
        ),
    );
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"], "the request's token was already used");
    assert_eq!(hooks.state(), after_genuine);
    assert!(
        !hooks.suppressed().iter().any(|(value, _)| value == victim),
        "the victim was never suppressed"
    );
    hooks
        .daemon
        .logs
        .wait_for("refused a webhook request", Duration::from_secs(10));
}

#[test]
fn a_signed_request_that_cannot_be_read_is_400_and_changes_nothing() {
    let hooks = Hooks::start();
    let before = hooks.state();
    let timestamp = now_unix().to_string();
    let (status, answer) =
        hooks.post_sendgrid(&hooks.sendgrid, &timestamp, "{\"not\": \"a list\"}");
    assert_eq!(status, 400, "{answer}");
    let credentials = format!("{POSTMARK_USER}:{POSTMARK_PASSWORD}");
    let (status, answer) = hooks.post_postmark(Some(&credentials), "not json");
    assert_eq!(status, 400, "{answer}");
    assert_eq!(hooks.state(), before);
}

#[test]
fn a_provider_that_is_not_configured_is_404() {
    let app = TestApp::without_smtp();
    // Only Mailgun.
    let daemon = app.spawn_daemon(&[("TEND__INBOUND__WEBHOOKS__MAILGUN_SIGNING_KEY", MAILGUN_KEY)]);
    let addr = daemon.http_addr();
    for (provider, name) in [
        ("ses", "Amazon SES"),
        ("sendgrid", "SendGrid"),
        ("postmark", "Postmark"),
    ] {
        let (status, body) = http_request_with(
            addr,
            "POST",
            &format!("/inbound/{provider}"),
            &[("Content-Type", "application/json")],
            "[]",
        );
        assert_eq!(status, 404, "{provider}: {body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            answer["error"],
            format!("the {name} webhook is not configured")
        );
    }
    let (status, _) = http_request_with(
        addr,
        "POST",
        "/inbound/mailgun",
        &[("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(status, 401, "Mailgun is configured: unsigned is refused");
    drop(daemon);

    // No webhook at all.
    let daemon = app.spawn_daemon(&[]);
    let (status, body) = http_request_with(
        daemon.http_addr(),
        "POST",
        "/inbound/mailgun",
        &[("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("webhooks are not configured"), "{body}");
}

#[test]
fn a_postmark_user_without_its_password_stops_the_daemon_but_no_command() {
    let app = TestApp::without_smtp();
    let config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    app.write(
        "config/tend.toml",
        &format!("{config}\n[inbound.webhooks]\npostmark_user = \"{POSTMARK_USER}\"\n"),
    );
    // An operator's shell holds none of the daemon's secrets.
    let out = app.tend(&["inbound", "list"]).ok();
    assert_eq!(out.stdout.trim(), "nothing has come back yet");
    let mut daemon = app.spawn_daemon(&[]);
    daemon.logs.wait_for(
        "`inbound.webhooks.postmark_user` is set but TEND__INBOUND__WEBHOOKS__POSTMARK_PASSWORD is not",
        Duration::from_secs(30),
    );
    let status = daemon.child.wait().unwrap();
    assert!(
        !status.success(),
        "the daemon must not start with Postmark half configured"
    );
}
