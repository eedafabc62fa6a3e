//! Mailgun webhooks: `{"signature": {timestamp, token, signature},
//! "event-data": {…}}`, where `signature` is the hex HMAC-SHA256 of
//! `timestamp ‖ token` under the account's webhook signing key.
//!
//! A signed request can be replayed by whoever saw it, so a timestamp more
//! than [`MAX_AGE_SECONDS`] from now (either way) is refused, and each token
//! is accepted once ([`ReplayGuard`]; the guard is asked only after the
//! signature holds, so forged requests cannot fill it).

use super::{Clues, Provider, WebhookError, WebhookEvent, event, payload_error, unix};
use crate::inbound::classify::{
    Action, BounceFormat, Complaint, Context, DeliveryReport, FeedbackType, Kind, Reported,
    Unclassified, UnsubscribeMatch, UnsubscribeRequest,
};
use crate::send::reply::{EnhancedCode, Verdict};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::HashMap;

/// Mailgun's advice, and the issue's: five minutes.
pub const MAX_AGE_SECONDS: i64 = 300;

/// Remembers the tokens of accepted requests for as long as their timestamp
/// is acceptable. The daemon may keep them in the store to share them
/// between processes; [`MemoryReplayGuard`] is enough for one.
pub trait ReplayGuard {
    /// `true` the first time `token` is offered; `false` after.
    fn first_use(&mut self, token: &str, now: DateTime<Utc>) -> bool;
}

/// Tokens in memory, forgotten once older than the acceptance window.
#[derive(Debug, Default)]
pub struct MemoryReplayGuard {
    seen: HashMap<String, DateTime<Utc>>,
}

impl ReplayGuard for MemoryReplayGuard {
    fn first_use(&mut self, token: &str, now: DateTime<Utc>) -> bool {
        let window = chrono::Duration::seconds(2 * MAX_AGE_SECONDS);
        self.seen.retain(|_, at| now - *at <= window);
        self.seen.insert(token.to_string(), now).is_none()
    }
}

#[derive(Debug, Deserialize)]
struct Signature {
    timestamp: String,
    token: String,
    signature: String,
}

#[derive(Debug, Deserialize)]
struct EventData {
    id: Option<String>,
    event: Option<String>,
    timestamp: Option<f64>,
    severity: Option<String>,
    reason: Option<String>,
    recipient: Option<String>,
    #[serde(default)]
    envelope: Envelope,
    #[serde(default)]
    message: Message,
    #[serde(rename = "delivery-status", default)]
    delivery_status: DeliveryStatus,
}

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    sender: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Message {
    #[serde(default)]
    headers: Headers,
}

#[derive(Debug, Default, Deserialize)]
struct Headers {
    #[serde(rename = "message-id")]
    message_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DeliveryStatus {
    code: Option<u16>,
    message: Option<String>,
    description: Option<String>,
    #[serde(rename = "enhanced-code")]
    enhanced_code: Option<String>,
}

/// Verifies the request's signature, age and token, then reads its event.
pub fn receive(
    body: &[u8],
    signing_key: &[u8],
    now: DateTime<Utc>,
    replay: &mut dyn ReplayGuard,
    ctx: &Context<'_>,
) -> Result<Vec<WebhookEvent>, WebhookError> {
    // The signature first, alone: nothing else is read from an unproven request.
    let parsed: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| WebhookError::Unsigned)?;
    let signature: Signature = parsed
        .get("signature")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .ok_or(WebhookError::Unsigned)?;
    verify(&signature, signing_key, now, replay)?;
    let data = parsed
        .get("event-data")
        .cloned()
        .ok_or_else(|| WebhookError::Payload("no event-data".into()))?;
    let data: EventData = serde_json::from_value(data).map_err(payload_error)?;
    Ok(vec![read(&data, ctx)])
}

fn verify(
    s: &Signature,
    signing_key: &[u8],
    now: DateTime<Utc>,
    replay: &mut dyn ReplayGuard,
) -> Result<(), WebhookError> {
    if signing_key.is_empty() {
        return Err(WebhookError::Key("the Mailgun signing key is empty".into()));
    }
    let timestamp: i64 = s
        .timestamp
        .trim()
        .parse()
        .map_err(|_| WebhookError::BadSignature)?;
    let tag = hex(&s.signature).ok_or(WebhookError::BadSignature)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(signing_key).expect("HMAC takes keys of any length");
    mac.update(s.timestamp.as_bytes());
    mac.update(s.token.as_bytes());
    mac.verify_slice(&tag)
        .map_err(|_| WebhookError::BadSignature)?;
    let age = now.timestamp() - timestamp;
    if age.abs() > MAX_AGE_SECONDS {
        return Err(WebhookError::Stale {
            age_seconds: age,
            limit_seconds: MAX_AGE_SECONDS,
        });
    }
    if !replay.first_use(&s.token, now) {
        return Err(WebhookError::Replayed);
    }
    Ok(())
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn read(d: &EventData, ctx: &Context<'_>) -> WebhookEvent {
    let ident = Clues {
        recipient: d.recipient.as_deref(),
        envelope_sender: d.envelope.sender.as_deref(),
        message_id: d.message.headers.message_id.as_deref(),
    }
    .identify(ctx);
    let status = &d.delivery_status;
    // `code` and `message` are the remote reply; build it as one line for the table.
    let diagnostic = match (
        status.code,
        status.message.as_deref().or(status.description.as_deref()),
    ) {
        (Some(code), Some(text)) if code >= 400 => Some(format!("{code} {text}")),
        (_, text) => text.map(str::to_string),
    };
    let report = |action: Action, fallback: Option<(Verdict, &'static str)>| {
        let recipient = Reported {
            recipient: ident.address.clone(),
            status: status
                .enhanced_code
                .as_deref()
                .and_then(EnhancedCode::parse),
            diagnostic: diagnostic.as_deref().filter(|d| !d.trim().is_empty()),
            fallback,
            ..Reported::default()
        }
        .judge(action);
        Kind::DeliveryStatus(DeliveryReport {
            format: BounceFormat::Mailgun,
            reporting_mta: None,
            recipients: vec![recipient],
        })
    };
    let name = d.event.as_deref().unwrap_or("");
    let kind = match (name, d.severity.as_deref(), d.reason.as_deref()) {
        // Mailgun did not try: the address is on its bounce list already.
        ("failed", _, Some("suppress-bounce")) => report(
            Action::Failed,
            Some((Verdict::HardBounce, "Mailgun: on the bounce list")),
        ),
        ("failed", Some("temporary"), _) => report(Action::Delayed, None),
        ("failed", _, _) => report(Action::Failed, None),
        ("delivered", _, _) => report(Action::Delivered, None),
        ("complained", _, _) => Kind::Complaint(Complaint {
            feedback_type: FeedbackType::Abuse,
            reporter: Some("Mailgun".into()),
            original_rcpt_to: ident.address.clone(),
            original_mail_from: d.envelope.sender.clone(),
        }),
        ("unsubscribed", _, _) => Kind::UnsubscribeRequest(UnsubscribeRequest {
            matched_by: UnsubscribeMatch::Provider,
        }),
        (other, _, _) => Kind::Unclassified(Unclassified::IgnoredEvent {
            event: if other.is_empty() {
                "unknown".into()
            } else {
                other.to_string()
            },
        }),
    };
    event(
        Provider::Mailgun,
        d.id.clone(),
        unix(d.timestamp),
        kind,
        ident,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TokenKey;
    use crate::inbound::classify::Effect;
    use crate::inbound::verp;

    const KEY: &[u8] = b"key-3ax6xnjp29jd6fds4gc373sgvjxteol0";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_793_613_700, 0).unwrap()
    }

    fn sign(timestamp: &str, token: &str, key: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(timestamp.as_bytes());
        mac.update(token.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn body(timestamp: &str, token: &str, signature: &str, event_data: &str) -> Vec<u8> {
        format!(
            r#"{{"signature":{{"timestamp":"{timestamp}","token":"{token}","signature":"{signature}"}},"event-data":{event_data}}}"#
        )
        .into_bytes()
    }

    fn failed(sender: &str) -> String {
        format!(
            r#"{{"id":"ev-9","event":"failed","severity":"permanent","reason":"bounce","recipient":"gone@example.com",
            "timestamp":1793613650.25,"envelope":{{"sender":"{sender}"}},
            "message":{{"headers":{{"message-id":"tend.21.8.abc@acme.example"}}}},
            "delivery-status":{{"code":550,"message":"5.1.1 The email account that you tried to reach does not exist","attempt-no":1}}}}"#
        )
    }

    #[test]
    fn a_signed_fresh_request_is_read_once() {
        let token_key = TokenKey::new(b"0123456789abcdef-test-secret").unwrap();
        let ctx = Context::new(&token_key, "abc");
        let sender = verp::envelope_sender(&token_key, 21, "bounce.acme.example");
        let ts = "1793613690";
        let request = body(ts, "tok-1", &sign(ts, "tok-1", KEY), &failed(&sender));
        let mut guard = MemoryReplayGuard::default();
        let events = receive(&request, KEY, now(), &mut guard, &ctx).unwrap();
        let c = &events[0].classification;
        assert_eq!(c.effect(), Effect::HardBounce);
        assert_eq!(c.ident.token.map(|t| t.send_id), Some(21));
        assert_eq!(c.ident.message_id.as_ref().map(|m| m.send_id), Some(21));
        assert_eq!(events[0].event_id.as_deref(), Some("ev-9"));
        assert_eq!(
            receive(&request, KEY, now(), &mut guard, &ctx),
            Err(WebhookError::Replayed)
        );
    }

    #[test]
    fn forged_stale_and_unsigned_requests_are_refused_and_not_remembered() {
        let token_key = TokenKey::new(b"0123456789abcdef-test-secret").unwrap();
        let ctx = Context::new(&token_key, "abc");
        let data = failed("bounces@acme.example");
        let mut guard = MemoryReplayGuard::default();
        let mut refuse =
            |request: Vec<u8>| receive(&request, KEY, now(), &mut guard, &ctx).unwrap_err();
        let ts = "1793613690";
        let forged = sign(ts, "tok-2", b"another-key");
        assert_eq!(
            refuse(body(ts, "tok-2", &forged, &data)),
            WebhookError::BadSignature
        );
        let swapped = sign(ts, "tok-3", KEY);
        assert_eq!(
            refuse(body(ts, "tok-2", &swapped, &data)),
            WebhookError::BadSignature
        );
        assert_eq!(
            refuse(body(ts, "tok-2", "zz", &data)),
            WebhookError::BadSignature
        );
        let old = "1793613300";
        assert_eq!(
            refuse(body(old, "tok-4", &sign(old, "tok-4", KEY), &data)),
            WebhookError::Stale {
                age_seconds: 400,
                limit_seconds: MAX_AGE_SECONDS
            }
        );
        assert_eq!(
            refuse(format!(r#"{{"event-data":{data}}}"#).into_bytes()),
            WebhookError::Unsigned
        );
        assert_eq!(refuse(b"not json".to_vec()), WebhookError::Unsigned);
        // The forged request did not use up tok-2.
        assert!(
            receive(
                &body(ts, "tok-2", &sign(ts, "tok-2", KEY), &data),
                KEY,
                now(),
                &mut guard,
                &ctx
            )
            .is_ok()
        );
    }

    #[test]
    fn mailgun_events_map_to_the_same_kinds() {
        let token_key = TokenKey::new(b"0123456789abcdef-test-secret").unwrap();
        let ctx = Context::new(&token_key, "abc");
        let mut guard = MemoryReplayGuard::default();
        let mut n = 0;
        let mut run = |data: &str| {
            n += 1;
            let (ts, token) = ("1793613690".to_string(), format!("tok-{n}"));
            let request = body(&ts, &token, &sign(&ts, &token, KEY), data);
            receive(&request, KEY, now(), &mut guard, &ctx)
                .unwrap()
                .remove(0)
                .classification
        };
        let temporary = run(
            r#"{"event":"failed","severity":"temporary","recipient":"a@example.com","delivery-status":{"code":452,"message":"4.2.2 mailbox full"}}"#,
        );
        assert_eq!(
            (temporary.label(), temporary.effect()),
            ("delayed", Effect::None)
        );
        let listed = run(
            r#"{"event":"failed","severity":"permanent","reason":"suppress-bounce","recipient":"a@example.com"}"#,
        );
        assert_eq!(listed.effect(), Effect::HardBounce);
        let policy = run(
            r#"{"event":"failed","severity":"permanent","recipient":"a@example.com","delivery-status":{"code":550,"message":"5.7.1 rejected by policy"}}"#,
        );
        assert_eq!(policy.effect(), Effect::None);
        assert_eq!(
            run(r#"{"event":"complained","recipient":"a@example.com"}"#).effect(),
            Effect::Complaint
        );
        assert_eq!(
            run(r#"{"event":"unsubscribed","recipient":"a@example.com"}"#).effect(),
            Effect::Unsubscribe
        );
        assert_eq!(
            run(r#"{"event":"opened","recipient":"a@example.com"}"#).label(),
            "unclassified"
        );
    }

    #[test]
    fn the_memory_guard_forgets_tokens_past_the_window() {
        let mut guard = MemoryReplayGuard::default();
        assert!(guard.first_use("t", now()));
        assert!(!guard.first_use("t", now()));
        let later = now() + chrono::Duration::seconds(2 * MAX_AGE_SECONDS + 1);
        assert!(guard.first_use("t", later));
    }
}
