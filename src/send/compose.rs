//! One path from (campaign, step, contact, now) to a ready MIME message,
//! shared by the sender and `tend preview` so the two cannot drift apart:
//! render, rewrite links, append the footer (unsubscribe line and postal
//! address, in the message's language), assemble the MIME message, and sign
//! the final bytes ([`crate::render::dkim`]).

use super::Loaded;
use crate::catalog::Campaign;
use crate::config::Settings;
use crate::domain::{Contact, SentContent};
use crate::links::Links;
use crate::render::dkim::DkimSigner;
use crate::render::{
    MessageMeta, RenderError, add_footer, build_message, display_name, message_id,
};
use crate::variation::PastSend;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use std::sync::Arc;

/// RFC 5322 caps a header line at 998 characters.
const MAX_SUBJECT: usize = 998;

/// Who messages come from and how they are signed, resolved once from settings.
#[derive(Debug, Clone)]
pub struct Identity {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub unsubscribe_mailto: String,
    pub links: Links,
    pub dkim: Option<Arc<DkimSigner>>,
    /// A random id kept in the database: Message-IDs from another
    /// installation (or a reset one) never collide with ours.
    pub installation: String,
    /// The sender id at the end of `Feedback-ID` (`sending.feedback_id`);
    /// `None`: each message's From domain.
    pub feedback_id: Option<String>,
    /// `sending.postal_address`, printed under the unsubscribe line.
    pub postal_address: Option<String>,
    /// `sending.return_path`: the envelope sender when no inbound way in is set up.
    pub return_path: Option<String>,
    /// Set when bounces and replies come back to tend ([`crate::config::InboundSettings`]):
    /// return paths, unsubscribe mailboxes (and reply addresses) carry a
    /// signed token naming the send.
    pub tokens: Option<Tokens>,
}

/// Where tokenised addresses live.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// `inbound.bounce_domain` or the return path's domain; `None`: each
    /// message's From domain.
    pub domain: Option<String>,
    /// `inbound.reply_tokens`: `Reply-To: reply+TOKEN@domain`.
    pub reply: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "`sending.from` is not set: messages need a sender (e.g. from = \"Ana <ana@acme.example>\")"
    )]
    NoFrom,
    #[error("cannot create this installation's id: {0}")]
    Installation(String),
    #[error("cannot use the DKIM key {path}: {message}")]
    DkimKey { path: String, message: String },
}

impl Identity {
    pub fn new(
        settings: &Settings,
        links: Links,
        installation: String,
    ) -> Result<Self, IdentityError> {
        let from = settings.from_mailbox().ok_or(IdentityError::NoFrom)?;
        Ok(Self {
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
            links,
            dkim: settings
                .dkim
                .as_ref()
                .map(|d| {
                    DkimSigner::load(d).map_err(|e| IdentityError::DkimKey {
                        path: d.key_file.display().to_string(),
                        message: e.to_string(),
                    })
                })
                .transpose()?
                .map(Arc::new),
            installation,
            feedback_id: settings.sending.feedback_id.clone(),
            postal_address: settings.sending.postal_address.clone(),
            return_path: settings.sending.return_path.clone(),
            tokens: settings.inbound.enabled().then(|| Tokens {
                domain: settings.bounce_domain(),
                reply: settings.inbound.reply_tokens,
            }),
        })
    }

    /// The envelope sender (`MAIL FROM`) of a message from `from`: a signed
    /// `bounces+TOKEN@…` when bounces come back to tend, so every bounce
    /// names its send; else `sending.return_path`; else the From address.
    pub fn envelope_sender(&self, send_id: i64, from: &Mailbox) -> String {
        match &self.tokens {
            Some(tokens) => crate::inbound::verp::envelope_sender(
                &self.links.key(),
                send_id,
                tokens.domain.as_deref().unwrap_or(from.email.domain()),
            ),
            None => self
                .return_path
                .clone()
                .unwrap_or_else(|| from.email.to_string()),
        }
    }
}

/// The message as it goes on the wire, signature included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatted(Vec<u8>);

impl Formatted {
    /// The bytes to send (the name lettre's `Message` uses, so callers read the same).
    pub fn formatted(&self) -> Vec<u8> {
        self.0.clone()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Debug)]
pub struct Composed {
    pub message: Formatted,
    /// The envelope sender (`MAIL FROM`).
    pub envelope_from: String,
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
    #[error("the {field} is {len} characters long; the limit is {max}")]
    Oversized {
        field: &'static str,
        len: usize,
        max: usize,
    },
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
    let mut rendered = loaded
        .renderer
        .render(campaign, step, contact, now, history)?;
    if campaign.track_clicks {
        let track = |url: &str| {
            identity
                .links
                .click_url(contact.id, &campaign.id, step as u32, url)
        };
        rendered.text = crate::links::rewrite_links(&rendered.text, false, track);
        if let Some(html) = &rendered.html {
            rendered.html = Some(crate::links::rewrite_links(html, true, track));
        }
    }
    // After click rewriting: the unsubscribe link is never tracked.
    let unsubscribe_url = identity.links.unsubscribe_url(contact.id, &campaign.id);
    add_footer(
        &mut rendered,
        &unsubscribe_url,
        identity.postal_address.as_deref(),
    );
    if rendered.subject.chars().count() > MAX_SUBJECT {
        return Err(ComposeError::Oversized {
            field: "subject",
            len: rendered.subject.chars().count(),
            max: MAX_SUBJECT,
        });
    }
    let address = contact
        .email
        .parse()
        .map_err(|_| ComposeError::Address(contact.email.clone()))?;
    // A name that cannot go into a header costs the name, never the message.
    let name = display_name(contact.name.as_deref()).unwrap_or_else(|reason| {
        tracing::debug!(contact = contact.id, %reason, "addressing the message without the contact's name");
        None
    });
    let from = campaign
        .from
        .clone()
        .unwrap_or_else(|| identity.from.clone());
    let id = match send {
        Some((send_id, enrollment_id)) => {
            message_id(send_id, enrollment_id, &identity.installation, &from)
        }
        None => format!(
            "<tend.preview.{}.{}.{}@{}>",
            campaign.id,
            step + 1,
            contact.id,
            from.email.domain()
        ),
    };
    let sender_id = identity
        .feedback_id
        .clone()
        .unwrap_or_else(|| from.email.domain().to_lowercase());
    // With inbound on, replies and mailto unsubscribes name their send.
    let (reply_to, unsubscribe_mailto) = match (&identity.tokens, send) {
        (Some(tokens), Some((send_id, _))) => {
            let domain = tokens
                .domain
                .clone()
                .unwrap_or_else(|| from.email.domain().to_string());
            let key = identity.links.key();
            let reply = if tokens.reply {
                crate::inbound::verp::reply_address(&key, send_id, &domain)
                    .parse::<Mailbox>()
                    .ok()
                    .map(|mut mailbox| {
                        mailbox.name = identity
                            .reply_to
                            .as_ref()
                            .and_then(|r| r.name.clone())
                            .or_else(|| from.name.clone());
                        mailbox
                    })
            } else {
                identity.reply_to.clone()
            };
            let mailto = crate::inbound::verp::address(
                &key,
                crate::inbound::Purpose::Unsubscribe,
                send_id,
                &domain,
            );
            (reply, mailto)
        }
        _ => (
            identity.reply_to.clone(),
            identity.unsubscribe_mailto.clone(),
        ),
    };
    let envelope_from = match send {
        Some((send_id, _)) => identity.envelope_sender(send_id, &from),
        None => identity
            .return_path
            .clone()
            .unwrap_or_else(|| from.email.to_string()),
    };
    let meta = MessageMeta {
        feedback_id: format!("{}:{}:{sender_id}", campaign.id, step + 1),
        from,
        reply_to,
        to: Mailbox::new(name, address),
        message_id: id.clone(),
        date: now,
        unsubscribe_url,
        unsubscribe_mailto,
        campaign: campaign.id.clone(),
    };
    let bytes = build_message(&rendered, &meta)?;
    let bytes = match &identity.dkim {
        Some(signer) => signer.sign(&bytes, now.timestamp()),
        None => bytes,
    };
    Ok(Composed {
        message: Formatted(bytes),
        envelope_from,
        subject: rendered.subject,
        message_id: id,
        content: SentContent {
            choices: rendered.choices,
            opener: rendered.opener,
            text: rendered.text,
        },
    })
}
