//! Postmark webhooks. Postmark signs nothing; what it offers is HTTP basic
//! auth credentials in the webhook URL, so those are the proof: configured
//! once, compared in constant time (lengths included, by comparing digests).
//!
//! One event per request, by `RecordType`: `Bounce` (its `Type` says hard,
//! soft, auto-responder, spam notification…; its `Details` carry the remote
//! reply for the table), `SpamComplaint`, `SubscriptionChange`, `Delivery`.

use super::{Clues, Provider, WebhookError, WebhookEvent, event, payload_error, rfc3339};
use crate::inbound::classify::{
    Action, AutoReply, AutoSignal, BounceFormat, Complaint, Context, DeliveryReport, FeedbackType,
    Kind, Reported, Unclassified, UnsubscribeMatch, UnsubscribeRequest,
};
use crate::send::reply::{Refusal, Verdict};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// The user and password configured in Postmark's webhook URL.
#[derive(Clone)]
pub struct BasicCredentials {
    user: String,
    password: String,
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BasicCredentials({}:***)", self.user)
    }
}

impl BasicCredentials {
    /// A password of at least 16 characters: it is the only proof there is.
    pub fn new(user: &str, password: &str) -> Result<Self, WebhookError> {
        if user.is_empty() || user.contains(':') || password.chars().count() < 16 {
            return Err(WebhookError::Key(
                "Postmark webhook credentials need a user without `:` and a password of 16+ characters".into(),
            ));
        }
        Ok(Self {
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    /// Checks an `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), WebhookError> {
        let header = authorization.ok_or(WebhookError::Unsigned)?.trim();
        let (scheme, encoded) = header.split_once(' ').ok_or(WebhookError::Unsigned)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(WebhookError::Unsigned);
        }
        let given = STANDARD
            .decode(encoded.trim())
            .map_err(|_| WebhookError::BadSignature)?;
        let expected = format!("{}:{}", self.user, self.password);
        let same: bool = Sha256::digest(&given)
            .ct_eq(&Sha256::digest(expected.as_bytes()))
            .into();
        if same {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }
}

/// Checks the credentials, then reads the event.
pub fn receive(
    body: &[u8],
    authorization: Option<&str>,
    credentials: &BasicCredentials,
    ctx: &Context<'_>,
) -> Result<Vec<WebhookEvent>, WebhookError> {
    credentials.check(authorization)?;
    let e: PmEvent = serde_json::from_slice(body).map_err(payload_error)?;
    Ok(vec![read(&e, ctx)])
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PmEvent {
    record_type: Option<String>,
    #[serde(rename = "ID")]
    id: Option<serde_json::Value>,
    #[serde(rename = "Type")]
    bounce_type: Option<String>,
    email: Option<String>,
    recipient: Option<String>,
    details: Option<String>,
    bounced_at: Option<String>,
    delivered_at: Option<String>,
    changed_at: Option<String>,
    suppress_sending: Option<bool>,
    suppression_reason: Option<String>,
    subject: Option<String>,
}

fn read(e: &PmEvent, ctx: &Context<'_>) -> WebhookEvent {
    let address = e.email.as_deref().or(e.recipient.as_deref());
    let ident = Clues {
        recipient: address,
        ..Clues::default()
    }
    .identify(ctx);
    let record = e.record_type.as_deref().unwrap_or("");
    let bounce_type = e.bounce_type.as_deref().unwrap_or("");
    let report = |action: Action, fallback: Option<(Verdict, &'static str)>| {
        let status = Reported {
            recipient: ident.address.clone(),
            diagnostic: e.details.as_deref().filter(|d| !d.trim().is_empty()),
            fallback,
            ..Reported::default()
        }
        .judge(action);
        Kind::DeliveryStatus(DeliveryReport {
            format: BounceFormat::Postmark,
            reporting_mta: None,
            recipients: vec![status],
        })
    };
    let complaint = || {
        Kind::Complaint(Complaint {
            feedback_type: FeedbackType::Abuse,
            reporter: Some("Postmark".into()),
            original_rcpt_to: ident.address.clone(),
            original_mail_from: None,
        })
    };
    let kind = match (record, bounce_type) {
        ("SpamComplaint", _) | ("Bounce", "SpamComplaint") => complaint(),
        ("Bounce", "AutoResponder") => Kind::AutoReply(AutoReply {
            signals: vec![AutoSignal::Provider],
            subject: e.subject.clone(),
        }),
        ("Bounce", "Transient" | "DnsError") => report(Action::Delayed, None),
        ("Bounce", kind) => report(Action::Failed, Some(fallback(kind))),
        ("Delivery", _) => report(Action::Delivered, None),
        ("SubscriptionChange", _) => match (e.suppress_sending, e.suppression_reason.as_deref()) {
            (Some(true), Some("ManualSuppression")) => {
                Kind::UnsubscribeRequest(UnsubscribeRequest {
                    matched_by: UnsubscribeMatch::Provider,
                })
            }
            (Some(true), Some("SpamComplaint")) => complaint(),
            _ => Kind::Unclassified(Unclassified::IgnoredEvent {
                event: "SubscriptionChange".into(),
            }),
        },
        (other, _) => Kind::Unclassified(Unclassified::IgnoredEvent {
            event: if other.is_empty() {
                "unknown".into()
            } else {
                other.to_string()
            },
        }),
    };
    let at = rfc3339(
        e.bounced_at
            .as_deref()
            .or(e.delivered_at.as_deref())
            .or(e.changed_at.as_deref()),
    );
    let event_id = e.id.as_ref().map(|id| match id {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    event(Provider::Postmark, event_id, at, kind, ident)
}

/// Postmark's bounce `Type`, for a bounce without a remote reply in `Details`.
fn fallback(bounce_type: &str) -> (Verdict, &'static str) {
    match bounce_type {
        "HardBounce" | "BadEmailAddress" => (Verdict::HardBounce, "Postmark: hard bounce"),
        "SoftBounce" => (Verdict::SoftBounce, "Postmark: soft bounce"),
        "Blocked" | "DMARCPolicy" => (Verdict::Refused(Refusal::Policy), "Postmark: blocked"),
        "SpamNotification" | "VirusNotification" => (
            Verdict::Refused(Refusal::Content),
            "Postmark: content refused",
        ),
        _ => (
            Verdict::Refused(Refusal::Policy),
            "Postmark: bounce of another kind",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TokenKey;
    use crate::inbound::classify::Effect;

    fn credentials() -> BasicCredentials {
        BasicCredentials::new("postmark", "correct horse battery staple").unwrap()
    }

    fn basic(user_password: &str) -> String {
        format!("Basic {}", STANDARD.encode(user_password))
    }

    fn run(body: &str) -> Vec<WebhookEvent> {
        let key = TokenKey::new(b"0123456789abcdef-test-secret").unwrap();
        let auth = basic("postmark:correct horse battery staple");
        receive(
            body.as_bytes(),
            Some(&auth),
            &credentials(),
            &Context::new(&key, "abc"),
        )
        .unwrap()
    }

    #[test]
    fn only_the_configured_credentials_are_accepted() {
        let c = credentials();
        assert_eq!(
            c.check(Some(&basic("postmark:correct horse battery staple"))),
            Ok(())
        );
        assert_eq!(c.check(None), Err(WebhookError::Unsigned));
        assert_eq!(c.check(Some("Bearer x")), Err(WebhookError::Unsigned));
        assert_eq!(
            c.check(Some(&basic("postmark:wrong"))),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            c.check(Some(&basic("other:correct horse battery staple"))),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(c.check(Some("Basic !!!")), Err(WebhookError::BadSignature));
        assert!(BasicCredentials::new("postmark", "short").is_err());
        assert!(!format!("{c:?}").contains("horse"));
    }

    #[test]
    fn postmark_records_map_to_the_same_kinds() {
        let hard = run(
            r#"{"RecordType":"Bounce","ID":4323372036854775807,"Type":"HardBounce","TypeCode":1,
            "Details":"smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email":"gone@example.com","BouncedAt":"2026-11-02T10:00:05Z","Subject":"Spring offers"}"#,
        );
        assert_eq!(hard[0].classification.effect(), Effect::HardBounce);
        assert_eq!(hard[0].event_id.as_deref(), Some("4323372036854775807"));
        let policy = run(
            r#"{"RecordType":"Bounce","ID":2,"Type":"HardBounce","Details":"smtp;554 5.7.1 blocked using zen.spamhaus.example","Email":"a@example.com"}"#,
        );
        assert_eq!(
            policy[0].classification.effect(),
            Effect::None,
            "the table, not the label, decides"
        );
        let bare = run(
            r#"{"RecordType":"Bounce","ID":3,"Type":"HardBounce","Details":"","Email":"a@example.com"}"#,
        );
        assert_eq!(bare[0].classification.effect(), Effect::HardBounce);
        let auto =
            run(r#"{"RecordType":"Bounce","ID":4,"Type":"AutoResponder","Email":"a@example.com"}"#);
        assert_eq!(
            (
                auto[0].classification.label(),
                auto[0].classification.effect()
            ),
            ("auto_reply", Effect::None)
        );
        let spam = run(
            r#"{"RecordType":"SpamComplaint","ID":5,"Type":"SpamComplaint","Email":"a@example.com"}"#,
        );
        assert_eq!(spam[0].classification.effect(), Effect::Complaint);
        let unsub = run(
            r#"{"RecordType":"SubscriptionChange","Recipient":"a@example.com","SuppressSending":true,"SuppressionReason":"ManualSuppression"}"#,
        );
        assert_eq!(unsub[0].classification.effect(), Effect::Unsubscribe);
        let open = run(r#"{"RecordType":"Open","Recipient":"a@example.com"}"#);
        assert_eq!(open[0].classification.effect(), Effect::None);
    }
}
