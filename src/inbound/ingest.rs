//! Where every way in meets the store: a raw message (from the receiver,
//! the mailbox, `tend inbound FILE`) or a webhook event is classified, tied
//! to its send or contact, kept, and its effect applied — once, however
//! often it arrives.

use super::classify::{Classification, Context, Effect, Kind, classify};
use super::webhooks::WebhookEvent;
use crate::clock::Clock;
use crate::domain::{EmailAddress, TokenKey, mask, redact_addresses};
use crate::metrics;
use crate::store::prelude::*;
use crate::store::{InboundEffect, InboundRecorded, NewInbound, StoreError};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The soft-bounce rule (`sending.soft_bounce_limit` over `soft_bounce_span`).
#[derive(Debug, Clone, Copy)]
pub struct SoftRule {
    pub limit: u32,
    pub span: chrono::Duration,
}

/// What one message or event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub recorded: InboundRecorded,
    /// `hard_bounce`, `reply`, `auto_reply`, `unclassified`…
    pub kind: String,
    pub effect: InboundEffect,
    /// The contact it was tied to (masked), if any.
    pub contact: Option<String>,
    pub campaign: Option<String>,
    /// Why, in a line, addresses masked (for an unclassified message: what
    /// kept it from being read).
    pub detail: String,
}

/// The `mailto:` of `List-Unsubscribe` that mail is read for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeMailbox {
    pub address: EmailAddress,
    /// It is also the From or Reply-To mailbox, where people write about
    /// anything: only mail that asks to stop in words is a request there.
    pub shared: bool,
}

/// Everything ingestion needs, cheap to clone.
#[derive(Debug)]
pub struct Ingest<S> {
    store: S,
    keys: crate::links::Keys,
    installation: String,
    unsubscribe: Option<UnsubscribeMailbox>,
    soft: SoftRule,
    clock: Arc<dyn Clock>,
}

impl<S: Clone> Clone for Ingest<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            keys: self.keys.clone(),
            installation: self.installation.clone(),
            unsubscribe: self.unsubscribe.clone(),
            soft: self.soft,
            clock: Arc::clone(&self.clock),
        }
    }
}

fn effect(effect: Effect) -> InboundEffect {
    match effect {
        Effect::None => InboundEffect::None,
        Effect::SoftBounce => InboundEffect::SoftBounce,
        Effect::HardBounce => InboundEffect::HardBounce,
        Effect::Complaint => InboundEffect::Complaint,
        Effect::Reply => InboundEffect::Reply,
        Effect::Unsubscribe => InboundEffect::Unsubscribe,
    }
}

/// Why, in a line, addresses masked: the first diagnostic of a report, or
/// what kind of message it was.
fn detail(classification: &Classification) -> String {
    let text = match &classification.kind {
        Kind::DeliveryStatus(report) => report
            .recipients
            .iter()
            .find_map(|r| {
                r.diagnostic
                    .clone()
                    .map(|d| format!("{}: {d}", r.reason))
                    .or_else(|| Some(r.reason.to_string()))
            })
            .unwrap_or_else(|| "delivery report".into()),
        Kind::Complaint(_) => "feedback-loop complaint".into(),
        Kind::AutoReply(_) => "automatic reply".into(),
        Kind::Reply(_) => "a reply".into(),
        Kind::UnsubscribeRequest(_) => "unsubscribe request by mail".into(),
        Kind::Unclassified(u) => format!("unclassified: {u}"),
    };
    redact_addresses(&text).chars().take(500).collect()
}

impl<S: Store> Ingest<S> {
    pub fn new(
        store: S,
        keys: crate::links::Keys,
        installation: String,
        unsubscribe: Option<UnsubscribeMailbox>,
        soft: SoftRule,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            keys,
            installation,
            unsubscribe,
            soft,
            clock,
        }
    }

    /// The link keys as they are now (they verify return-path tokens).
    pub fn key(&self) -> TokenKey {
        self.keys.current()
    }

    /// What webhooks need to tie an event to a send, with `key` from [`Ingest::key`].
    pub fn context<'a>(&'a self, key: &'a TokenKey) -> Context<'a> {
        let ctx = Context::new(key, &self.installation);
        match &self.unsubscribe {
            Some(m) if m.shared => ctx.with_shared_unsubscribe_address(Some(&m.address)),
            Some(m) => ctx.with_unsubscribe_address(Some(&m.address)),
            None => ctx,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Classifies a raw message without keeping anything.
    pub fn classify(&self, raw: &[u8], envelope_recipients: &[String]) -> Classification {
        let key = self.key();
        let ctx = self
            .context(&key)
            .with_envelope_recipients(envelope_recipients);
        classify(raw, &ctx)
    }

    /// Whether a classification is tend's business: it names one of our
    /// sends or contacts, or is a kind tend recognises. A mailbox leaves
    /// everything else exactly where it is.
    pub fn is_ours(classification: &Classification) -> bool {
        classification.ident.token.is_some()
            || classification.ident.message_id.is_some()
            || !matches!(classification.kind, Kind::Unclassified(_))
    }

    /// Whether a message in a shared mailbox is tend's to take: it names one
    /// of our sends, or it is a kind tend acts on *and* concerns one of our
    /// contacts. Anything else (a bounce of someone's personal mail, a
    /// stranger's "unsubscribe") is left where it is.
    pub async fn concerns_us(&self, classification: &Classification) -> Result<bool, StoreError> {
        if classification.ident.token.is_some() || classification.ident.message_id.is_some() {
            return Ok(true);
        }
        if !Self::is_ours(classification) {
            return Ok(false);
        }
        match &classification.ident.address {
            Some(address) => Ok(self.store.contact_by_email(address).await?.is_some()),
            None => Ok(false),
        }
    }

    /// Classifies, ties, keeps and applies one raw message.
    pub async fn message(
        &self,
        source: &str,
        envelope_recipients: &[String],
        raw: Vec<u8>,
    ) -> Result<Ingested, StoreError> {
        let classification = self.classify(&raw, envelope_recipients);
        let digest = format!("{:x}", Sha256::digest(&raw));
        self.keep(source, digest, Some(raw), classification).await
    }

    /// Ties, keeps and applies one webhook event (a redelivery of the same
    /// event id is a duplicate).
    pub async fn webhook(&self, event: WebhookEvent) -> Result<Ingested, StoreError> {
        let provider = format!("{:?}", event.provider).to_lowercase();
        let digest = match &event.event_id {
            Some(id) => format!("{provider}:{id}"),
            None => format!(
                "{provider}:{:x}",
                Sha256::digest(serde_json::to_vec(&event).unwrap_or_default())
            ),
        };
        self.keep(
            &format!("webhook:{provider}"),
            digest,
            None,
            event.classification,
        )
        .await
    }

    async fn keep(
        &self,
        source: &str,
        digest: String,
        raw: Option<Vec<u8>>,
        classification: Classification,
    ) -> Result<Ingested, StoreError> {
        let now = self.clock.now();
        // Tie it to a send for sure (a signed token, our Message-ID), else
        // to the contact whose address it names.
        let send_id = classification
            .ident
            .token
            .as_ref()
            .map(|t| t.send_id)
            .or_else(|| classification.ident.message_id.as_ref().map(|m| m.send_id));
        let owner = match send_id {
            Some(id) => self.store.send_owner(id).await?,
            None => None,
        };
        // A token or Message-ID of ours naming a send this database does not
        // hold (another database's, or one deleted since) ties nothing.
        let send_known = owner.is_some();
        let (contact_id, campaign, contact_email) = match owner {
            Some((contact_id, campaign)) => {
                let email = self.store.contact_by_id(contact_id).await?.map(|c| c.email);
                (Some(contact_id), Some(campaign), email)
            }
            None => match &classification.ident.address {
                Some(address) => match self.store.contact_by_email(address).await? {
                    Some(contact) => (Some(contact.id), None, Some(contact.email)),
                    None => (None, None, None),
                },
                None => (None, None, None),
            },
        };
        let mut effect = effect(classification.effect());
        let mut why = detail(&classification);
        if effect == InboundEffect::SoftBounce {
            if let Some(contact) = contact_id {
                let mut times = self.store.soft_bounces(contact, send_id).await?;
                times.push(now);
                let first = times.iter().min().copied().unwrap_or(now);
                if times.len() as u32 >= self.soft.limit && now - first >= self.soft.span {
                    effect = InboundEffect::HardBounce;
                    why = format!(
                        "{} soft bounces since {}: {why}",
                        times.len(),
                        first.to_rfc3339()
                    );
                }
            }
        }
        let kind = classification.label().to_string();
        let summary = format!(
            "{kind}{}{}",
            contact_email
                .as_deref()
                .map(|e| format!(" from {}", mask(e)))
                .unwrap_or_default(),
            campaign
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        );
        let recorded = self
            .store
            .record_inbound(
                &NewInbound {
                    source: source.to_string(),
                    digest,
                    raw,
                    kind: kind.clone(),
                    effect,
                    classification: serde_json::to_value(&classification)
                        .unwrap_or(serde_json::Value::Null),
                    summary: summary.clone(),
                    send_id: send_id.filter(|_| send_known),
                    contact_id,
                    campaign: campaign.clone(),
                    detail: why.clone(),
                },
                now,
            )
            .await?;
        if !recorded.duplicate {
            metrics::INBOUND.with_label_values(&[kind.as_str()]).inc();
            tracing::info!(
                inbound = recorded.id,
                source,
                kind,
                effect = effect.as_str(),
                suppressed = recorded.suppressed,
                why,
                "{summary}"
            );
        }
        Ok(Ingested {
            recorded,
            kind,
            effect,
            contact: contact_email.as_deref().map(mask),
            campaign,
            detail: why,
        })
    }

    /// Forgets raw messages kept longer than `keep`.
    pub async fn purge(&self, keep: chrono::Duration) -> Result<u64, StoreError> {
        let before: DateTime<Utc> = self.clock.now() - keep;
        self.store.purge_inbound_raw(before).await
    }
}

/// Ingestion as the settings describe it: the link key (which signs
/// return-path tokens), this installation's id, the advertised unsubscribe
/// mailbox, the soft-bounce rule.
/// `keys`: the ring the rest of the process uses (so a rotation reaches
/// ingestion too); `None` loads it.
pub async fn from_settings<S: Store>(
    store: S,
    settings: &crate::config::Settings,
    clock: Arc<dyn Clock>,
    keys: Option<crate::links::Keys>,
) -> Result<Ingest<S>, crate::send::SendError> {
    let now = clock.now();
    let keys = match keys {
        Some(keys) => keys,
        None => crate::links::Keys::load(&store, settings, now).await?,
    };
    let installation = crate::send::installation_id(&store, now).await?;
    Ok(Ingest::new(
        store,
        keys,
        installation,
        unsubscribe_mailbox(settings),
        SoftRule {
            limit: settings.sending.soft_bounce_limit,
            span: settings.sending.soft_bounce_span.to_chrono(),
        },
        clock,
    ))
}

/// `sending.unsubscribe_mailto`, else the From address (as advertised in
/// `List-Unsubscribe` when no token is); shared when it is also the From or
/// Reply-To mailbox, since replies and personal mail arrive there too and
/// must not unsubscribe whoever wrote.
fn unsubscribe_mailbox(settings: &crate::config::Settings) -> Option<UnsubscribeMailbox> {
    let address_of = |m: lettre::message::Mailbox| EmailAddress::parse(m.email.as_ref()).ok();
    let from = settings.from_mailbox().and_then(address_of);
    let reply_to = settings
        .sending
        .reply_to
        .as_deref()
        .and_then(|r| r.parse().ok())
        .and_then(address_of);
    let address = match &settings.sending.unsubscribe_mailto {
        Some(configured) => EmailAddress::parse(configured).ok()?,
        None => from.clone()?,
    };
    let shared = from.as_ref() == Some(&address) || reply_to.as_ref() == Some(&address);
    Some(UnsubscribeMailbox { address, shared })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn settings(sending: &str) -> crate::config::Settings {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        write!(file, "[sending]\n{sending}").unwrap();
        crate::config::Settings::load_with_env(
            file.path(),
            true,
            std::iter::empty::<(&str, &str)>(),
        )
        .unwrap()
    }

    fn mailbox(address: &str, shared: bool) -> Option<UnsubscribeMailbox> {
        Some(UnsubscribeMailbox {
            address: EmailAddress::parse(address).unwrap(),
            shared,
        })
    }

    #[test]
    fn the_from_or_reply_to_mailbox_is_a_shared_unsubscribe_address() {
        let from = "from = \"Ana <ana@acme.example>\"\n";
        assert_eq!(
            unsubscribe_mailbox(&settings(from)),
            mailbox("ana@acme.example", true)
        );
        assert_eq!(
            unsubscribe_mailbox(&settings(&format!(
                "{from}unsubscribe_mailto = \"unsubscribe@acme.example\"\n"
            ))),
            mailbox("unsubscribe@acme.example", false)
        );
        assert_eq!(
            unsubscribe_mailbox(&settings(&format!(
                "{from}reply_to = \"Help <help@acme.example>\"\nunsubscribe_mailto = \"help@acme.example\"\n"
            ))),
            mailbox("help@acme.example", true)
        );
        assert_eq!(unsubscribe_mailbox(&settings("")), None);
    }
}
