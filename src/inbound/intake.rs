//! Provider webhooks meet the store: the configured proofs (SNS topics and
//! certificates, SendGrid's key, Postmark's credentials, Mailgun's signing
//! key and its replay guard) check each request, and its proven events go
//! through [`Ingest`] like a bounce by mail. The HTTP layer only maps
//! headers in and an [`IntakeError`] to a status out.

use super::fetch;
use super::ingest::Ingest;
use super::webhooks::mailgun::{self, MemoryReplayGuard};
use super::webhooks::postmark::{self, BasicCredentials};
use super::webhooks::sendgrid::{self, SendGridKey};
use super::webhooks::sns::{self, SnsMessage};
use super::webhooks::{Provider, WebhookError, WebhookEvent};
use crate::config::WebhookSettings;
use crate::store::StoreError;
use crate::store::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// What a request carried besides its body.
#[derive(Debug, Default, Clone)]
pub struct RequestProof {
    pub authorization: Option<String>,
    pub signature: Option<String>,
    pub timestamp: Option<String>,
}

/// What a proven request came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taken {
    /// Events in the request.
    pub events: usize,
    /// Of those, how many were new (not redeliveries).
    pub new: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// This provider's webhook is not configured.
    #[error("the {0} webhook is not configured")]
    Off(&'static str),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// The SNS signing certificate could not be had (tend's side, or AWS's).
    #[error("cannot get the SNS signing certificate: {0}")]
    Certificate(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where SNS signing certificates come from.
#[derive(Debug)]
enum Certificates {
    /// A configured PEM, for hosts without outbound HTTPS.
    File(PathBuf),
    /// Fetched from `SigningCertURL` (checked to be an SNS host) and kept.
    Fetched(tokio::sync::Mutex<HashMap<String, Vec<u8>>>),
}

/// The configured webhooks, ready to take requests.
#[derive(Debug)]
pub struct WebhookIntake<S> {
    ingest: Ingest<S>,
    ses_topics: Vec<String>,
    certificates: Certificates,
    sendgrid: Option<SendGridKey>,
    postmark: Option<BasicCredentials>,
    mailgun: Option<Vec<u8>>,
    replay: Mutex<MemoryReplayGuard>,
}

const CERTIFICATE_LIMIT: usize = 64 * 1024;
const FETCH_DEADLINE: Duration = Duration::from_secs(10);

impl<S: Store> WebhookIntake<S> {
    /// Checks the configured keys once, so a bad one is a start-up error.
    /// (Only here: a command such as `tend inbound list`, run from a shell
    /// without the daemon's secrets in its environment, needs none of them.)
    pub fn new(ingest: Ingest<S>, settings: &WebhookSettings) -> Result<Self, WebhookError> {
        let sendgrid = settings
            .sendgrid_public_key
            .as_deref()
            .map(SendGridKey::from_base64)
            .transpose()?;
        let postmark = match (&settings.postmark_user, &settings.postmark_password) {
            (Some(user), Some(password)) => Some(BasicCredentials::new(user, password.expose())?),
            (None, None) => None,
            (Some(_), None) => {
                return Err(WebhookError::Key(
                    "`inbound.webhooks.postmark_user` is set but TEND__INBOUND__WEBHOOKS__POSTMARK_PASSWORD is not".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(WebhookError::Key(
                    "TEND__INBOUND__WEBHOOKS__POSTMARK_PASSWORD is set but `inbound.webhooks.postmark_user` is not".into(),
                ));
            }
        };
        let certificates = match &settings.ses_certificate_file {
            Some(path) => {
                std::fs::read(path).map_err(|e| {
                    WebhookError::Key(format!(
                        "inbound.webhooks.ses_certificate_file {}: {e}",
                        path.display()
                    ))
                })?;
                Certificates::File(path.clone())
            }
            None => Certificates::Fetched(Default::default()),
        };
        Ok(Self {
            ingest,
            ses_topics: settings.ses_topics.clone(),
            certificates,
            sendgrid,
            postmark,
            mailgun: settings
                .mailgun_signing_key
                .as_ref()
                .map(|k| k.expose().as_bytes().to_vec()),
            replay: Mutex::new(MemoryReplayGuard::default()),
        })
    }

    /// Checks a request's proof, then keeps and applies its events.
    pub async fn receive(
        &self,
        provider: Provider,
        proof: &RequestProof,
        body: &[u8],
    ) -> Result<Taken, IntakeError> {
        let key = self.ingest.key();
        let ctx = self.ingest.context(&key);
        let events = match provider {
            Provider::Ses => return self.ses(body).await,
            Provider::SendGrid => {
                let key = self.sendgrid.as_ref().ok_or(IntakeError::Off("SendGrid"))?;
                sendgrid::receive(
                    body,
                    proof.signature.as_deref(),
                    proof.timestamp.as_deref(),
                    key,
                    &ctx,
                )?
            }
            Provider::Postmark => {
                let credentials = self.postmark.as_ref().ok_or(IntakeError::Off("Postmark"))?;
                postmark::receive(body, proof.authorization.as_deref(), credentials, &ctx)?
            }
            Provider::Mailgun => {
                let key = self.mailgun.as_ref().ok_or(IntakeError::Off("Mailgun"))?;
                let mut replay = self.replay.lock().unwrap_or_else(|e| e.into_inner());
                mailgun::receive(body, key, self.ingest.now(), &mut *replay, &ctx)?
            }
        };
        self.take(events).await
    }

    async fn take(&self, events: Vec<WebhookEvent>) -> Result<Taken, IntakeError> {
        let mut taken = Taken {
            events: events.len(),
            new: 0,
        };
        for event in events {
            if !self.ingest.webhook(event).await?.recorded.duplicate {
                taken.new += 1;
            }
        }
        Ok(taken)
    }

    async fn ses(&self, body: &[u8]) -> Result<Taken, IntakeError> {
        if self.ses_topics.is_empty() {
            return Err(IntakeError::Off("Amazon SES"));
        }
        let url = sns::certificate_url(body)?;
        let pem = self.certificate(&url).await?;
        let key = self.ingest.key();
        let ctx = self.ingest.context(&key);
        match sns::receive(body, &url, &pem, &self.ses_topics, &ctx)? {
            SnsMessage::Notification { events, .. } => self.take(events).await,
            SnsMessage::SubscriptionConfirmation {
                topic_arn,
                subscribe_url,
            } => {
                confirm(&topic_arn, &subscribe_url).await;
                Ok(Taken::default())
            }
            SnsMessage::UnsubscribeConfirmation { topic_arn } => {
                tracing::warn!(topic = %topic_arn, "SNS says this endpoint was unsubscribed from the topic: SES events stop arriving");
                Ok(Taken::default())
            }
        }
    }

    async fn certificate(&self, url: &str) -> Result<Vec<u8>, IntakeError> {
        match &self.certificates {
            Certificates::File(path) => std::fs::read(path)
                .map_err(|e| IntakeError::Certificate(format!("{}: {e}", path.display()))),
            Certificates::Fetched(cache) => {
                let mut cache = cache.lock().await;
                if let Some(pem) = cache.get(url) {
                    return Ok(pem.clone());
                }
                let pem = fetch::get(url, CERTIFICATE_LIMIT, FETCH_DEADLINE)
                    .await
                    .map_err(|e| IntakeError::Certificate(e.to_string()))?;
                // AWS rotates rarely and names each certificate by URL; a few suffice.
                if cache.len() >= 16 {
                    cache.clear();
                }
                cache.insert(url.to_string(), pem.clone());
                Ok(pem)
            }
        }
    }
}

/// Confirms an SNS subscription to a configured topic by fetching its
/// `SubscribeURL` (an SNS host only); says how to do it by hand otherwise.
async fn confirm(topic: &str, url: &str) {
    let host = url
        .strip_prefix("https://")
        .and_then(|r| r.split(['/', '?']).next())
        .unwrap_or_default();
    if !sns::is_sns_certificate_url(&format!("https://{host}/certificate.pem")) {
        tracing::error!(
            topic,
            "an SNS subscription confirmation names a SubscribeURL that is not an SNS host; not confirmed"
        );
        return;
    }
    match fetch::get(url, CERTIFICATE_LIMIT, FETCH_DEADLINE).await {
        Ok(_) => tracing::info!(
            topic,
            "confirmed the SNS subscription: SES events will arrive here"
        ),
        Err(e) => tracing::error!(
            topic,
            error = %e,
            "cannot confirm the SNS subscription; open this URL once to confirm it by hand: {url}"
        ),
    }
}
