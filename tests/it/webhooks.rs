//! Amazon SES notifications through SNS, signed as AWS signs them: an RSA
//! key made by `openssl` for each test, its certificate made by rcgen (as
//! SNS serves it at `SigningCertURL`), SignatureVersion 1 (SHA-1) signed by
//! `openssl dgst`, SignatureVersion 2 (SHA-256) by *ring*. SendGrid, Postmark
//! and Mailgun are tested next to their code (`src/inbound/webhooks/`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use tempfile::TempDir;
use tend::domain::TokenKey;
use tend::inbound::webhooks::WebhookError;
use tend::inbound::webhooks::sns::{self, SnsMessage};
use tend::inbound::{Context, Effect};

const SECRET: &[u8] = b"inbound-fixtures-secret-0123456789";
const INSTALLATION: &str = "5eed0fc0ffee";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:tend-ses-events";
const CERT_URL: &str = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000000000000.pem";

/// A test-only signing key standing in for AWS's, and its certificate
/// (also used by the daemon's webhook tests, `inbound_webhooks.rs`).
pub(crate) struct Signer {
    dir: TempDir,
    key_pem: Vec<u8>,
    pub(crate) cert_pem: String,
}

impl Signer {
    pub(crate) fn new() -> Signer {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "key.pem",
            ])
            .current_dir(dir.path())
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl genpkey: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key_pem = std::fs::read(dir.path().join("key.pem")).unwrap();
        let cert_pem =
            certificate(&rcgen::KeyPair::from_pem(std::str::from_utf8(&key_pem).unwrap()).unwrap());
        Signer {
            dir,
            key_pem,
            cert_pem,
        }
    }

    /// SignatureVersion 1: SHA1withRSA, which *ring* verifies but does not sign.
    pub(crate) fn sign_v1(&self, envelope: &mut Value) {
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha1", "-sign", "key.pem"])
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("openssl is installed");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(string_to_sign(envelope).as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl dgst");
        envelope["SignatureVersion"] = json!("1");
        envelope["Signature"] = json!(STANDARD.encode(out.stdout));
    }

    /// SignatureVersion 2: SHA256withRSA.
    pub(crate) fn sign_v2(&self, envelope: &mut Value) {
        let der = PrivatePkcs8KeyDer::from_pem_slice(&self.key_pem).unwrap();
        let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            string_to_sign(envelope).as_bytes(),
            &mut signature,
        )
        .unwrap();
        envelope["SignatureVersion"] = json!("2");
        envelope["Signature"] = json!(STANDARD.encode(signature));
    }
}

fn certificate(key: &rcgen::KeyPair) -> String {
    rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_string()])
        .unwrap()
        .self_signed(key)
        .unwrap()
        .pem()
}

/// What AWS signs, written out independently of the code under test.
fn string_to_sign(envelope: &Value) -> String {
    let names: &[&str] = match envelope["Type"].as_str().unwrap() {
        "Notification" => &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ],
        _ => &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ],
    };
    names
        .iter()
        .filter_map(|n| envelope[*n].as_str().map(|v| format!("{n}\n{v}\n")))
        .collect()
}

/// An SES bounce notification as SNS delivers it (before signing).
fn v1_bounce() -> Value {
    let key = TokenKey::new(SECRET).unwrap();
    let source = tend::inbound::verp::envelope_sender(&key, 160, "bounce.acme.example");
    let message = json!({
        "notificationType": "Bounce",
        "bounce": {
            "feedbackId": "0100019a2b3c4d5e-11111111-2222-3333-4444-555555555555-000000",
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "gone@example.com", "action": "failed", "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown"}],
            "timestamp": "2026-11-02T10:00:05.000Z",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.example.com"
        },
        "mail": {
            "timestamp": "2026-11-02T10:00:01.000Z",
            "source": source,
            "messageId": "0100019a2b3c4d5e-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000",
            "destination": ["gone@example.com"],
            "commonHeaders": {"from": ["Ana at Acme <ana@acme.example>"], "to": ["gone@example.com"],
                "messageId": "<tend.160.70.5eed0fc0ffee@acme.example>", "subject": "Spring offers for you"}
        }
    });
    json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Subject": "Amazon SES Email Event Notification",
        "Message": message.to_string(),
        "Timestamp": "2026-11-02T10:00:06.123Z",
        "SigningCertURL": CERT_URL,
    })
}

fn receive(body: &[u8], cert_pem: &str) -> Result<SnsMessage, WebhookError> {
    let key = TokenKey::new(SECRET).unwrap();
    let url = sns::certificate_url(body)?;
    sns::receive(
        body,
        &url,
        cert_pem.as_bytes(),
        &[TOPIC.to_string()],
        &Context::new(&key, INSTALLATION),
    )
}

fn v2_notification(signer: &Signer) -> Value {
    let message = json!({
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "annoyed@example.net"}],
            "complaintFeedbackType": "abuse",
            "timestamp": "2026-11-03T08:00:00.000Z",
            "feedbackId": "fb-complaint-1"
        },
        "mail": {"commonHeaders": {"messageId": "<tend.161.71.5eed0fc0ffee@acme.example>"}}
    });
    let mut envelope = json!({
        "Type": "Notification",
        "MessageId": "7d1b6a52-0000-4c2c-8f9d-bdfb0c7bf325",
        "TopicArn": TOPIC,
        "Message": message.to_string(),
        "Timestamp": "2026-11-03T08:00:01.000Z",
        "SigningCertURL": CERT_URL,
    });
    signer.sign_v2(&mut envelope);
    envelope
}

#[test]
fn a_signature_version_1_bounce_is_verified_and_read() {
    let signer = Signer::new();
    let mut envelope = v1_bounce();
    signer.sign_v1(&mut envelope);
    let body = envelope.to_string();
    let SnsMessage::Notification { topic_arn, events } =
        receive(body.as_bytes(), &signer.cert_pem).unwrap()
    else {
        panic!("not a notification");
    };
    assert_eq!(topic_arn, TOPIC);
    let c = &events[0].classification;
    assert_eq!(c.effect(), Effect::HardBounce);
    assert_eq!(c.ident.token.map(|t| t.send_id), Some(160));
    assert_eq!(c.ident.message_id.as_ref().map(|m| m.send_id), Some(160));
    assert_eq!(
        c.ident.address.as_ref().map(|a| a.as_str()),
        Some("gone@example.com")
    );
}

#[test]
fn a_signature_version_2_complaint_is_verified_and_read() {
    let signer = Signer::new();
    let body = v2_notification(&signer).to_string();
    let SnsMessage::Notification { events, .. } =
        receive(body.as_bytes(), &signer.cert_pem).unwrap()
    else {
        panic!("not a notification");
    };
    assert_eq!(events[0].classification.effect(), Effect::Complaint);
    assert_eq!(events[0].event_id.as_deref(), Some("fb-complaint-1/0"));
}

#[test]
fn a_subscription_confirmation_is_recognised() {
    let signer = Signer::new();
    let subscribe = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=2336412f37";
    let mut envelope = json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic. To confirm the subscription, visit the SubscribeURL.",
        "SubscribeURL": subscribe,
        "Timestamp": "2026-11-01T09:00:00.000Z",
        "SigningCertURL": CERT_URL,
    });
    signer.sign_v2(&mut envelope);
    assert_eq!(
        receive(envelope.to_string().as_bytes(), &signer.cert_pem).unwrap(),
        SnsMessage::SubscriptionConfirmation {
            topic_arn: TOPIC.into(),
            subscribe_url: subscribe.into()
        }
    );
}

#[test]
fn forged_altered_and_unsigned_notifications_are_refused() {
    let signer = Signer::new();
    let cert = &signer.cert_pem;
    // Altered after signing: the v1 bounce's recipient, the v2 complaint's timestamp.
    let mut v1 = v1_bounce();
    signer.sign_v1(&mut v1);
    v1["Message"] = json!(
        v1["Message"]
            .as_str()
            .unwrap()
            .replace("gone@", "someone.else@")
    );
    assert_eq!(
        receive(v1.to_string().as_bytes(), cert),
        Err(WebhookError::BadSignature)
    );
    let mut v2 = v2_notification(&signer);
    v2["Timestamp"] = json!("2026-11-03T08:00:02.000Z");
    assert_eq!(
        receive(v2.to_string().as_bytes(), cert),
        Err(WebhookError::BadSignature)
    );
    // A version-1 signature presented as version 2.
    let mut relabelled = v1_bounce();
    signer.sign_v1(&mut relabelled);
    relabelled["SignatureVersion"] = json!("2");
    assert_eq!(
        receive(relabelled.to_string().as_bytes(), cert),
        Err(WebhookError::BadSignature)
    );
    // Signed by the key of another certificate.
    let other = certificate(&rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap());
    let body = v2_notification(&signer).to_string();
    assert_eq!(
        receive(body.as_bytes(), &other),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        receive(body.as_bytes(), &Signer::new().cert_pem),
        Err(WebhookError::BadSignature)
    );
    // Unsigned, unknown signature versions, garbage.
    let mut unsigned = v2_notification(&signer);
    unsigned.as_object_mut().unwrap().remove("Signature");
    assert_eq!(
        receive(unsigned.to_string().as_bytes(), cert),
        Err(WebhookError::Unsigned)
    );
    let mut version = v2_notification(&signer);
    version["SignatureVersion"] = json!("3");
    assert_eq!(
        receive(version.to_string().as_bytes(), cert),
        Err(WebhookError::Unsigned)
    );
    assert_eq!(receive(b"{not json", cert), Err(WebhookError::Unsigned));
    assert!(matches!(
        receive(body.as_bytes(), "not a pem"),
        Err(WebhookError::Certificate(_))
    ));
}

#[test]
fn a_certificate_off_aws_or_from_another_url_is_refused() {
    let signer = Signer::new();
    let cert = signer.cert_pem.as_bytes();
    let mut elsewhere = v2_notification(&signer);
    elsewhere["SigningCertURL"] =
        json!("https://sns.us-east-1.amazonaws.com.evil.example/cert.pem");
    assert_eq!(
        sns::certificate_url(elsewhere.to_string().as_bytes()),
        Err(WebhookError::CertificateUrl)
    );
    let key = TokenKey::new(SECRET).unwrap();
    let ctx = Context::new(&key, INSTALLATION);
    let topics = [TOPIC.to_string()];
    let body = v2_notification(&signer).to_string();
    let other_url = CERT_URL.replace("0000.pem", "0001.pem");
    assert!(matches!(
        sns::receive(body.as_bytes(), &other_url, cert, &topics, &ctx),
        Err(WebhookError::Certificate(_))
    ));
    assert_eq!(
        sns::receive(
            elsewhere.to_string().as_bytes(),
            CERT_URL,
            cert,
            &topics,
            &ctx
        ),
        Err(WebhookError::CertificateUrl)
    );
}

#[test]
fn a_validly_signed_message_from_another_topic_is_refused() {
    let signer = Signer::new();
    let mut envelope = v2_notification(&signer);
    envelope["TopicArn"] = json!("arn:aws:sns:us-east-1:999999999999:someone-elses-topic");
    signer.sign_v2(&mut envelope);
    let refused = receive(envelope.to_string().as_bytes(), &signer.cert_pem).unwrap_err();
    assert_eq!(refused, WebhookError::UnknownTopic);
    assert!(refused.is_unauthorized());
}
