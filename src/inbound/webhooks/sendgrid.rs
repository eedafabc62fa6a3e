//! SendGrid's event webhook, signed: ECDSA P-256 with SHA-256 over the
//! `X-Twilio-Email-Event-Webhook-Timestamp` value followed by the raw body,
//! the signature (base64 DER) in `X-Twilio-Email-Event-Webhook-Signature`,
//! verified with the public key shown in SendGrid's settings (base64 DER
//! SubjectPublicKeyInfo).
//!
//! The body is a JSON array of events. `bounce` (with `type` `bounce` or
//! `blocked`) and `dropped` are failures judged by the reply table,
//! `deferred` a delay, `spamreport` a complaint, `unsubscribe` and
//! `group_unsubscribe` requests; `smtp-id` carries our Message-ID. Opens,
//! clicks and the rest are kept as ignored events.

use super::{Clues, Provider, WebhookError, WebhookEvent, event, payload_error, unix};
use crate::inbound::classify::{
    Action, BounceFormat, Complaint, Context, DeliveryReport, FeedbackType, Kind, Reported,
    Unclassified, UnsubscribeMatch, UnsubscribeRequest,
};
use crate::send::reply::{EnhancedCode, Refusal, Verdict};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use serde::Deserialize;

pub const SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

/// The verification key from configuration, checked once at load.
#[derive(Debug, Clone)]
pub struct SendGridKey(Vec<u8>);

impl SendGridKey {
    /// The base64 key SendGrid shows (`MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…`).
    pub fn from_base64(text: &str) -> Result<SendGridKey, WebhookError> {
        let der = STANDARD
            .decode(text.trim())
            .map_err(|e| WebhookError::Key(format!("not base64: {e}")))?;
        let spki = SubjectPublicKeyInfoDer::from(der.as_slice());
        webpki::RawPublicKeyEntity::try_from(&spki)
            .map_err(|e| WebhookError::Key(format!("not a public key: {e}")))?;
        Ok(SendGridKey(der))
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let spki = SubjectPublicKeyInfoDer::from(self.0.as_slice());
        webpki::RawPublicKeyEntity::try_from(&spki)
            .and_then(|key| {
                key.verify_signature(webpki::ring::ECDSA_P256_SHA256, message, signature)
            })
            .is_ok()
    }
}

/// Verifies a request (header values as received) and reads its events.
pub fn receive(
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    key: &SendGridKey,
    ctx: &Context<'_>,
) -> Result<Vec<WebhookEvent>, WebhookError> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(WebhookError::Unsigned);
    };
    let signature = STANDARD
        .decode(signature.trim())
        .map_err(|_| WebhookError::BadSignature)?;
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(body);
    if !key.verify(&signed, &signature) {
        return Err(WebhookError::BadSignature);
    }
    let events: Vec<SgEvent> = serde_json::from_slice(body).map_err(payload_error)?;
    Ok(events.iter().map(|e| read(e, ctx)).collect())
}

#[derive(Debug, Deserialize)]
struct SgEvent {
    email: Option<String>,
    event: Option<String>,
    timestamp: Option<f64>,
    sg_event_id: Option<String>,
    #[serde(rename = "smtp-id")]
    smtp_id: Option<String>,
    reason: Option<String>,
    response: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    bounce_type: Option<String>,
}

fn read(e: &SgEvent, ctx: &Context<'_>) -> WebhookEvent {
    let ident = Clues {
        recipient: e.email.as_deref(),
        envelope_sender: None,
        message_id: e.smtp_id.as_deref(),
    }
    .identify(ctx);
    let name = e.event.as_deref().unwrap_or("");
    let failure = |action: Action| {
        let status = Reported {
            recipient: ident.address.clone(),
            status: e.status.as_deref().and_then(EnhancedCode::parse),
            diagnostic: e.reason.as_deref().or(e.response.as_deref()),
            // "blocked" is SendGrid's word for a refusal of us; said alone,
            // it is read as one. With a status or reason the table decides.
            fallback: (e.bounce_type.as_deref() == Some("blocked"))
                .then_some((Verdict::Refused(Refusal::Policy), "SendGrid: blocked")),
            ..Reported::default()
        }
        .judge(action);
        Kind::DeliveryStatus(DeliveryReport {
            format: BounceFormat::SendGrid,
            reporting_mta: None,
            recipients: vec![status],
        })
    };
    let kind = match name {
        "bounce" | "dropped" => failure(Action::Failed),
        "deferred" => failure(Action::Delayed),
        "delivered" => failure(Action::Delivered),
        "spamreport" => Kind::Complaint(Complaint {
            feedback_type: FeedbackType::Abuse,
            reporter: Some("SendGrid".into()),
            original_rcpt_to: ident.address.clone(),
            original_mail_from: None,
        }),
        "unsubscribe" | "group_unsubscribe" => Kind::UnsubscribeRequest(UnsubscribeRequest {
            matched_by: UnsubscribeMatch::Provider,
        }),
        other => Kind::Unclassified(Unclassified::IgnoredEvent {
            event: other.to_string(),
        }),
    };
    event(
        Provider::SendGrid,
        e.sg_event_id.clone(),
        unix(e.timestamp),
        kind,
        ident,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TokenKey;
    use crate::inbound::classify::Effect;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    /// The DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte point.
    const P256_SPKI_PREFIX: &[u8] = &[
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];

    fn keys() -> (EcdsaKeyPair, SendGridKey) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let spki = [P256_SPKI_PREFIX, pair.public_key().as_ref()].concat();
        let key = SendGridKey::from_base64(&STANDARD.encode(spki)).unwrap();
        (pair, key)
    }

    fn sign(pair: &EcdsaKeyPair, timestamp: &str, body: &[u8]) -> String {
        let message = [timestamp.as_bytes(), body].concat();
        STANDARD.encode(pair.sign(&SystemRandom::new(), &message).unwrap())
    }

    const BODY: &[u8] = br#"[
        {"email":"gone@example.com","timestamp":1793613605,"event":"bounce","type":"bounce","status":"5.1.1",
         "reason":"550 5.1.1 The email account that you tried to reach does not exist","sg_event_id":"ev-1",
         "smtp-id":"<tend.12.4.abc@acme.example>"},
        {"email":"policy@example.com","timestamp":1793613606,"event":"bounce","type":"blocked","status":"5.7.1",
         "reason":"554 5.7.1 rejected due to policy","sg_event_id":"ev-2"},
        {"email":"angry@example.com","timestamp":1793613607,"event":"spamreport","sg_event_id":"ev-3"},
        {"email":"bye@example.com","timestamp":1793613608,"event":"unsubscribe","sg_event_id":"ev-4"},
        {"email":"late@example.com","timestamp":1793613609,"event":"deferred","response":"451 4.7.1 try later","sg_event_id":"ev-5"},
        {"email":"reader@example.com","timestamp":1793613610,"event":"open","sg_event_id":"ev-6"}
    ]"#;

    #[test]
    fn a_signed_batch_becomes_one_event_per_entry() {
        let (pair, key) = keys();
        let token_key = TokenKey::new(b"0123456789abcdef-test-secret").unwrap();
        let ctx = Context::new(&token_key, "abc");
        let timestamp = "1793613611";
        let signature = sign(&pair, timestamp, BODY);
        let events = receive(BODY, Some(&signature), Some(timestamp), &key, &ctx).unwrap();
        let effects: Vec<(Option<&str>, Effect)> = events
            .iter()
            .map(|e| (e.event_id.as_deref(), e.classification.effect()))
            .collect();
        assert_eq!(
            effects,
            [
                (Some("ev-1"), Effect::HardBounce),
                (Some("ev-2"), Effect::None),
                (Some("ev-3"), Effect::Complaint),
                (Some("ev-4"), Effect::Unsubscribe),
                (Some("ev-5"), Effect::None),
                (Some("ev-6"), Effect::None),
            ]
        );
        assert_eq!(
            events[0]
                .classification
                .ident
                .message_id
                .as_ref()
                .map(|m| m.send_id),
            Some(12)
        );
        assert_eq!(events[4].classification.label(), "delayed");
    }

    #[test]
    fn unsigned_forged_and_altered_requests_are_refused() {
        let (pair, key) = keys();
        let (other, _) = keys();
        let token_key = TokenKey::new(b"0123456789abcdef-test-secret").unwrap();
        let ctx = Context::new(&token_key, "abc");
        let good = sign(&pair, "1793613611", BODY);
        let refused = |body: &[u8], sig: Option<&str>, ts: Option<&str>| {
            receive(body, sig, ts, &key, &ctx).unwrap_err()
        };
        assert_eq!(
            refused(BODY, None, Some("1793613611")),
            WebhookError::Unsigned
        );
        assert_eq!(refused(BODY, Some(&good), None), WebhookError::Unsigned);
        let forged = sign(&other, "1793613611", BODY);
        assert_eq!(
            refused(BODY, Some(&forged), Some("1793613611")),
            WebhookError::BadSignature
        );
        assert_eq!(
            refused(BODY, Some(&good), Some("1793613612")),
            WebhookError::BadSignature
        );
        let altered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("gone@", "good@");
        assert_eq!(
            refused(altered.as_bytes(), Some(&good), Some("1793613611")),
            WebhookError::BadSignature
        );
        assert_eq!(
            refused(BODY, Some("not base64!"), Some("1793613611")),
            WebhookError::BadSignature
        );
        assert!(refused(BODY, None, None).is_unauthorized());
    }

    #[test]
    fn a_bad_configured_key_is_a_key_error() {
        assert!(matches!(
            SendGridKey::from_base64("nope!"),
            Err(WebhookError::Key(_))
        ));
        assert!(matches!(
            SendGridKey::from_base64("AAAA"),
            Err(WebhookError::Key(_))
        ));
        assert!(!WebhookError::Key(String::new()).is_unauthorized());
    }
}
