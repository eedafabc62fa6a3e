//! Amazon SES notifications (and SES event publishing, the same shapes under
//! `eventType`): `Bounce`, `Complaint`, `Delivery`, `DeliveryDelay`.
//!
//! A bounced recipient's `status` and `diagnosticCode` go through the same
//! reply table as outgoing SMTP; SES's own category (`Permanent`/`NoEmail`,
//! `Transient`/`MailboxFull`, …) decides only when SES gives neither. The
//! send is identified by `mail.source` (our VERP envelope sender) and our
//! `Message-ID` in `mail.commonHeaders`.

use super::{Clues, Provider, WebhookError, WebhookEvent, event, payload_error, rfc3339};
use crate::inbound::classify::{
    Action, BounceFormat, Complaint, Context, DeliveryReport, FeedbackType, Kind, Reported,
    Unclassified,
};
use crate::send::reply::{EnhancedCode, Refusal, Verdict};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    notification_type: Option<String>,
    event_type: Option<String>,
    #[serde(default)]
    mail: Mail,
    bounce: Option<Bounce>,
    complaint: Option<SesComplaint>,
    delivery: Option<Delivery>,
    delivery_delay: Option<DeliveryDelay>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    source: Option<String>,
    #[serde(default)]
    common_headers: CommonHeaders,
    #[serde(default)]
    headers: Vec<Header>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommonHeaders {
    message_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: Option<String>,
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
    timestamp: Option<String>,
    feedback_id: Option<String>,
    #[serde(rename = "reportingMTA")]
    reporting_mta: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
    action: Option<String>,
    status: Option<String>,
    diagnostic_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesComplaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    complaint_feedback_type: Option<String>,
    user_agent: Option<String>,
    timestamp: Option<String>,
    feedback_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    #[serde(default)]
    recipients: Vec<String>,
    timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryDelay {
    #[serde(default)]
    delayed_recipients: Vec<Recipient>,
    timestamp: Option<String>,
}

/// The events of one SES notification; `id` (the SNS MessageId) names them.
pub(crate) fn events(
    message: &str,
    id: &str,
    ctx: &Context<'_>,
) -> Result<Vec<WebhookEvent>, WebhookError> {
    let n: Notification = serde_json::from_str(message).map_err(payload_error)?;
    let message_id = n.mail.common_headers.message_id.as_deref().or_else(|| {
        n.mail
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("message-id"))
            .map(|h| h.value.as_str())
    });
    let clues = |recipient: Option<&str>| {
        Clues {
            recipient,
            envelope_sender: n.mail.source.as_deref(),
            message_id,
        }
        .identify(ctx)
    };
    let numbered = |index: usize| Some(format!("{id}/{index}"));
    let kind = n
        .notification_type
        .as_deref()
        .or(n.event_type.as_deref())
        .unwrap_or("");
    let mut out = Vec::new();
    match (kind, &n) {
        (
            "Bounce",
            Notification {
                bounce: Some(b), ..
            },
        ) => {
            let fallback = fallback(b.bounce_type.as_deref(), b.bounce_sub_type.as_deref());
            for (index, r) in b.bounced_recipients.iter().enumerate() {
                let action = r
                    .action
                    .as_deref()
                    .and_then(Action::parse)
                    .unwrap_or(Action::Failed);
                let status = recipient_status(r, action, Some(fallback));
                let report = DeliveryReport {
                    format: BounceFormat::Ses,
                    reporting_mta: b.reporting_mta.as_deref().map(strip_type),
                    recipients: vec![status],
                };
                let at = rfc3339(b.timestamp.as_deref());
                let ident = clues(Some(&r.email_address));
                let event_id = b
                    .feedback_id
                    .as_ref()
                    .map(|f| format!("{f}/{index}"))
                    .or_else(|| numbered(index));
                out.push(event(
                    Provider::Ses,
                    event_id,
                    at,
                    Kind::DeliveryStatus(report),
                    ident,
                ));
            }
        }
        (
            "Complaint",
            Notification {
                complaint: Some(c), ..
            },
        ) => {
            for (index, r) in c.complained_recipients.iter().enumerate() {
                let complaint = Complaint {
                    feedback_type: c
                        .complaint_feedback_type
                        .as_deref()
                        .map_or(FeedbackType::Abuse, FeedbackType::parse),
                    reporter: c.user_agent.clone().or(Some("Amazon SES".into())),
                    original_rcpt_to: crate::inbound::ident::first_address(&r.email_address),
                    original_mail_from: n.mail.source.clone(),
                };
                let event_id = c
                    .feedback_id
                    .as_ref()
                    .map(|f| format!("{f}/{index}"))
                    .or_else(|| numbered(index));
                let ident = clues(Some(&r.email_address));
                out.push(event(
                    Provider::Ses,
                    event_id,
                    rfc3339(c.timestamp.as_deref()),
                    Kind::Complaint(complaint),
                    ident,
                ));
            }
        }
        (
            "Delivery",
            Notification {
                delivery: Some(d), ..
            },
        ) => {
            for (index, address) in d.recipients.iter().enumerate() {
                let status = Reported {
                    recipient: crate::inbound::ident::first_address(address),
                    ..Reported::default()
                }
                .judge(Action::Delivered);
                let report = DeliveryReport {
                    format: BounceFormat::Ses,
                    reporting_mta: None,
                    recipients: vec![status],
                };
                out.push(event(
                    Provider::Ses,
                    numbered(index),
                    rfc3339(d.timestamp.as_deref()),
                    Kind::DeliveryStatus(report),
                    clues(Some(address)),
                ));
            }
        }
        (
            "DeliveryDelay",
            Notification {
                delivery_delay: Some(d),
                ..
            },
        ) => {
            for (index, r) in d.delayed_recipients.iter().enumerate() {
                let report = DeliveryReport {
                    format: BounceFormat::Ses,
                    reporting_mta: None,
                    recipients: vec![recipient_status(r, Action::Delayed, None)],
                };
                out.push(event(
                    Provider::Ses,
                    numbered(index),
                    rfc3339(d.timestamp.as_deref()),
                    Kind::DeliveryStatus(report),
                    clues(Some(&r.email_address)),
                ));
            }
        }
        _ => {
            let kind = Kind::Unclassified(Unclassified::IgnoredEvent {
                event: if kind.is_empty() {
                    "unknown".into()
                } else {
                    kind.to_string()
                },
            });
            out.push(event(Provider::Ses, numbered(0), None, kind, clues(None)));
        }
    }
    Ok(out)
}

fn recipient_status(
    r: &Recipient,
    action: Action,
    fallback: Option<(Verdict, &'static str)>,
) -> crate::inbound::classify::RecipientStatus {
    Reported {
        recipient: crate::inbound::ident::first_address(&r.email_address),
        status: r.status.as_deref().and_then(EnhancedCode::parse),
        diagnostic: r.diagnostic_code.as_deref(),
        fallback,
        ..Reported::default()
    }
    .judge(action)
}

/// SES's own category, for a recipient reported without status or words.
fn fallback(bounce_type: Option<&str>, sub_type: Option<&str>) -> (Verdict, &'static str) {
    match (bounce_type.unwrap_or(""), sub_type.unwrap_or("")) {
        ("Permanent", "General" | "NoEmail") => (Verdict::HardBounce, "SES: permanent bounce"),
        ("Permanent", "Suppressed" | "OnAccountSuppressionList") => (
            Verdict::HardBounce,
            "SES: on the suppression list after an earlier bounce",
        ),
        ("Transient", "MailboxFull") => (Verdict::SoftBounce, "SES: mailbox full"),
        ("Transient", "MessageTooLarge") => {
            (Verdict::Refused(Refusal::Size), "SES: message too large")
        }
        ("Transient", "ContentRejected" | "AttachmentRejected") => {
            (Verdict::Refused(Refusal::Content), "SES: content rejected")
        }
        ("Transient", _) => (Verdict::SoftBounce, "SES: transient bounce"),
        _ => (
            Verdict::Refused(Refusal::Policy),
            "SES: bounce of undetermined type",
        ),
    }
}

/// `dsn; a8-70.smtp-out.amazonses.com` → the host.
fn strip_type(value: &str) -> String {
    value
        .split_once(';')
        .map_or(value, |(_, v)| v)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TokenKey;
    use crate::inbound::classify::Effect;

    fn run(message: &str) -> Vec<WebhookEvent> {
        let key = TokenKey::new(b"0123456789abcdef-test-secret").unwrap();
        events(message, "sns-1", &Context::new(&key, "abc")).unwrap()
    }

    #[test]
    fn a_permanent_bounce_is_judged_by_its_status_then_by_ses_category() {
        let got = run(
            r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General",
            "bouncedRecipients":[{"emailAddress":"gone@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"},
                                 {"emailAddress":"blocked@example.com","action":"failed","status":"5.7.1","diagnosticCode":"smtp; 554 5.7.1 blocked using zen.spamhaus.example"},
                                 {"emailAddress":"bare@example.com"}],
            "timestamp":"2026-11-02T10:00:05.000Z","feedbackId":"fb-1"},
            "mail":{"source":"bounces+1-x@b.example","commonHeaders":{"messageId":"<tend.7.3.abc@acme.example>"}}}"#,
        );
        let effects: Vec<Effect> = got.iter().map(|e| e.classification.effect()).collect();
        assert_eq!(
            effects,
            [Effect::HardBounce, Effect::None, Effect::HardBounce]
        );
        assert_eq!(got[0].event_id.as_deref(), Some("fb-1/0"));
        assert_eq!(
            got[0]
                .classification
                .ident
                .message_id
                .as_ref()
                .map(|m| m.send_id),
            Some(7)
        );
        assert_eq!(
            got[0].classification.ident.rejected_tokens, 1,
            "a forged envelope sender"
        );
        assert_eq!(
            got[0].occurred_at.unwrap().to_rfc3339(),
            "2026-11-02T10:00:05+00:00"
        );
    }

    #[test]
    fn complaints_deliveries_delays_and_others() {
        let got = run(
            r#"{"eventType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.com"}],"complaintFeedbackType":"abuse"},"mail":{}}"#,
        );
        assert_eq!(got[0].classification.effect(), Effect::Complaint);
        let got = run(
            r#"{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.com"}],"complaintFeedbackType":"not-spam"},"mail":{}}"#,
        );
        assert_eq!(got[0].classification.effect(), Effect::None);
        let got = run(
            r#"{"notificationType":"Delivery","delivery":{"recipients":["a@example.com","b@example.com"]},"mail":{}}"#,
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].classification.label(), "delivery_status");
        let got = run(
            r#"{"eventType":"DeliveryDelay","deliveryDelay":{"delayedRecipients":[{"emailAddress":"a@example.com","status":"4.4.7"}]},"mail":{}}"#,
        );
        assert_eq!(got[0].classification.label(), "delayed");
        let got = run(r#"{"eventType":"Open","mail":{}}"#);
        assert_eq!(got[0].classification.label(), "unclassified");
        let key = TokenKey::new(b"0123456789abcdef-test-secret").unwrap();
        assert!(matches!(
            events("not json", "x", &Context::new(&key, "abc")),
            Err(WebhookError::Payload(_))
        ));
    }

    #[test]
    fn ses_categories_decide_only_without_codes() {
        assert_eq!(
            fallback(Some("Transient"), Some("MailboxFull")).0,
            Verdict::SoftBounce
        );
        assert_eq!(
            fallback(Some("Undetermined"), None).0,
            Verdict::Refused(Refusal::Policy)
        );
    }
}
