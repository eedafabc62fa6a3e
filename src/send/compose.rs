//! One path from (campaign, step, contact, now) to a ready MIME message,
//! shared by the sender and `tend preview` so the two cannot drift apart.

use super::Loaded;
use crate::catalog::Campaign;
use crate::config::Settings;
use crate::render::{MessageMeta, RenderError, build_message, message_id};
use crate::store::{Contact, SentContent};
use crate::variation::PastSend;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::Mailbox;

/// Who messages come from, resolved once from settings.
#[derive(Debug, Clone)]
pub struct Identity {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub unsubscribe_mailto: String,
}

impl Identity {
    /// `None` when `sending.from` is not set.
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        let from = settings.from_mailbox()?;
        Some(Self {
            reply_to: settings
                .sending
                .reply_to
                .as_ref()
                .and_then(|r| r.parse().ok()),
            unsubscribe_mailto: settings
                .sending
                .unsubscribe_mailto
                .clone()
                .unwrap_or_else(|| from.email.to_string()),
            from,
        })
    }
}

#[derive(Debug)]
pub struct Composed {
    pub message: Message,
    pub subject: String,
    pub message_id: String,
    /// Variant choices, opener and text part: recorded with the send.
    pub content: SentContent,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("the stored address `{0}` is not valid")]
    Address(String),
}

/// `send` is the outbox row's (send id, enrollment id) when one exists; a
/// preview of a step not yet queued gets a Message-ID marked `preview`.
/// `history` is what the contact received before this message (oldest
/// first): variant choices depend on it, so preview and send must pass the
/// same (`Store::history(contact, Some(send))`).
#[allow(clippy::too_many_arguments)]
pub fn compose(
    loaded: &Loaded,
    identity: &Identity,
    campaign: &Campaign,
    step: usize,
    contact: &Contact,
    send: Option<(i64, i64)>,
    now: DateTime<Utc>,
    history: &[PastSend],
) -> Result<Composed, ComposeError> {
    let rendered = loaded
        .renderer
        .render(campaign, step, contact, now, history)?;
    let address = contact
        .email
        .parse()
        .map_err(|_| ComposeError::Address(contact.email.clone()))?;
    // Names are header data from imports: collapse whitespace, drop address-like names.
    let name = contact
        .name
        .as_ref()
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|n| !n.is_empty() && !n.contains('@'));
    let from = campaign
        .from
        .clone()
        .unwrap_or_else(|| identity.from.clone());
    let id = match send {
        Some((send_id, enrollment_id)) => message_id(send_id, enrollment_id, &from),
        None => format!(
            "<tend.preview.{}.{}.{}@{}>",
            campaign.id,
            step + 1,
            contact.id,
            from.email.domain()
        ),
    };
    let meta = MessageMeta {
        from,
        reply_to: identity.reply_to.clone(),
        to: Mailbox::new(name, address),
        message_id: id.clone(),
        date: now,
        unsubscribe_mailto: identity.unsubscribe_mailto.clone(),
        campaign: campaign.id.clone(),
    };
    Ok(Composed {
        message: build_message(&rendered, &meta)?,
        subject: rendered.subject,
        message_id: id,
        content: SentContent {
            choices: rendered.choices,
            opener: rendered.opener,
            text: rendered.text,
        },
    })
}
