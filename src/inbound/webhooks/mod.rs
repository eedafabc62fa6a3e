//! Provider webhooks: the same news as bounce mail, pushed over HTTP by the
//! service that sent for us. Each provider proves its requests its own way,
//! and nothing is read from a request before that proof holds:
//!
//! | provider | proof | module |
//! |---|---|---|
//! | Amazon SES via SNS | RSA signature (SignatureVersion 1: SHA1, 2: SHA256) by the certificate at `SigningCertURL`, which must be `https://sns.<region>.amazonaws.com/…`; topic from the configured list | [`sns`], [`ses`] |
//! | SendGrid event webhook | ECDSA P-256 over `timestamp ‖ body` (`X-Twilio-Email-Event-Webhook-Signature`/`-Timestamp`), public key from config | [`sendgrid`] |
//! | Postmark | none offered: HTTP basic auth credentials from config, compared in constant time | [`postmark`] |
//! | Mailgun | HMAC-SHA256 of `timestamp ‖ token` with the signing key, at most 5 minutes old, each token once ([`ReplayGuard`]) | [`mailgun`] |
//!
//! A request that fails its proof is a [`WebhookError`] for which
//! [`WebhookError::is_unauthorized`] holds: the HTTP layer answers 401 and
//! changes nothing. A proven request becomes one [`WebhookEvent`] per
//! recipient, carrying the same [`Classification`] as a bounce by mail.

pub mod mailgun;
pub mod postmark;
pub mod sendgrid;
pub mod ses;
pub mod sns;

pub use mailgun::{MemoryReplayGuard, ReplayGuard};

use super::classify::{Classification, Context, Kind};
use super::ident::{Identification, OurMessageId, TokenSearch, first_address};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Ses,
    SendGrid,
    Postmark,
    Mailgun,
}

/// One recipient's event from a proven request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEvent {
    pub provider: Provider,
    /// The provider's id for this event, to drop redeliveries.
    pub event_id: Option<String>,
    /// When it happened, as the provider says.
    pub occurred_at: Option<DateTime<Utc>>,
    pub classification: Classification,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the request carries no signature or credentials")]
    Unsigned,
    #[error("the request's signature or credentials do not match")]
    BadSignature,
    #[error(
        "the request was signed {age_seconds}s away from now; at most {limit_seconds}s is accepted"
    )]
    Stale {
        age_seconds: i64,
        limit_seconds: i64,
    },
    #[error("the request's token was already used")]
    Replayed,
    #[error("the signing certificate URL is not an https URL on an Amazon SNS host")]
    CertificateUrl,
    #[error("the signing certificate cannot be used: {0}")]
    Certificate(String),
    #[error("the SNS topic is not one configured for tend")]
    UnknownTopic,
    /// The configured key or credentials are unusable: tend's fault, not the caller's.
    #[error("the configured webhook key cannot be read: {0}")]
    Key(String),
    /// Signed, but not something we can read.
    #[error("the webhook payload cannot be read: {0}")]
    Payload(String),
}

impl WebhookError {
    /// The request did not prove where it came from: answer 401, change nothing.
    pub fn is_unauthorized(&self) -> bool {
        !matches!(self, WebhookError::Key(_) | WebhookError::Payload(_))
    }
}

fn payload_error(e: serde_json::Error) -> WebhookError {
    WebhookError::Payload(e.to_string())
}

/// What a provider event says identifies the send and contact.
#[derive(Debug, Default)]
struct Clues<'a> {
    recipient: Option<&'a str>,
    /// Our envelope sender as the provider saw it (`bounces+TOKEN@…`).
    envelope_sender: Option<&'a str>,
    /// The message's `Message-ID`, with or without brackets.
    message_id: Option<&'a str>,
}

impl Clues<'_> {
    fn identify(&self, ctx: &Context<'_>) -> Identification {
        let mut tokens = TokenSearch::default();
        if let Some(sender) = self.envelope_sender {
            tokens.offer(ctx.key, sender);
        }
        Identification {
            token: tokens.found,
            message_id: self
                .message_id
                .and_then(|id| OurMessageId::parse(id, ctx.installation)),
            address: self.recipient.and_then(first_address),
            rejected_tokens: tokens.rejected,
        }
    }
}

fn event(
    provider: Provider,
    event_id: Option<String>,
    occurred_at: Option<DateTime<Utc>>,
    kind: Kind,
    ident: Identification,
) -> WebhookEvent {
    WebhookEvent {
        provider,
        event_id,
        occurred_at,
        classification: Classification::new(kind, ident),
    }
}

fn rfc3339(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn unix(seconds: Option<f64>) -> Option<DateTime<Utc>> {
    let seconds = seconds?;
    DateTime::from_timestamp(seconds.trunc() as i64, (seconds.fract() * 1e9) as u32)
}
