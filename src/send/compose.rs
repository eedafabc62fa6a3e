//! One path from (campaign, step, contact, now) to a ready MIME message,
//! shared by the sender and `tend preview` so the two cannot drift apart.

use super::Loaded;
use crate::catalog::Campaign;
use crate::config::{DkimAlgorithm, DkimSettings, Settings};
use crate::domain::{Contact, SentContent};
use crate::links::Links;
use crate::render::{MessageMeta, RenderError, Rendered, build_message, display_name, message_id};
use crate::variation::PastSend;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
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
    pub dkim: Option<Arc<DkimConfig>>,
    /// A random id kept in the database: Message-IDs from another
    /// installation (or a reset one) never collide with ours.
    pub installation: String,
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
                .map(dkim_config)
                .transpose()?
                .map(Arc::new),
            installation,
        })
    }
}

/// Headers covered by the signature, the unsubscribe pair included: nobody
/// downstream can swap the unsubscribe target without breaking it.
/// `Content-Type` is left out on purpose: lettre writes a multipart
/// message's Content-Type with the body, so its signer cannot cover it, and
/// listing it would make every multipart signature fail verification.
const SIGNED_HEADERS: [&str; 8] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
];

fn dkim_config(dkim: &DkimSettings) -> Result<DkimConfig, IdentityError> {
    let err = |message: String| IdentityError::DkimKey {
        path: dkim.key_file.display().to_string(),
        message,
    };
    let pem = std::fs::read_to_string(&dkim.key_file).map_err(|e| err(e.to_string()))?;
    let algorithm = match dkim.algorithm {
        DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
        DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
    };
    let key = DkimSigningKey::new(pem.trim(), algorithm).map_err(|e| {
        err(format!(
            "{e} (RSA keys must be PKCS#1 PEM, `-----BEGIN RSA PRIVATE KEY-----`; Ed25519 keys the base64 of the 32-byte seed)"
        ))
    })?;
    Ok(DkimConfig::new(
        dkim.selector.clone(),
        dkim.domain.clone(),
        key,
        SIGNED_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
}

/// Every message carries a visible way out, in both parts.
fn add_unsubscribe_footer(rendered: &mut Rendered, url: &str) {
    rendered.text = format!(
        "{}\n\n--\nTo stop receiving these emails: {url}\n",
        rendered.text.trim_end()
    );
    if let Some(html) = &mut rendered.html {
        let footer = format!(
            "<p style=\"font-size:12px;color:#777\">Don't want these emails? <a href=\"{url}\">Unsubscribe</a>.</p>"
        );
        match html.rfind("</body>") {
            Some(at) => html.insert_str(at, &footer),
            None => html.push_str(&footer),
        }
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
    add_unsubscribe_footer(&mut rendered, &unsubscribe_url);
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
    let meta = MessageMeta {
        from,
        reply_to: identity.reply_to.clone(),
        to: Mailbox::new(name, address),
        message_id: id.clone(),
        date: now,
        unsubscribe_url,
        unsubscribe_mailto: identity.unsubscribe_mailto.clone(),
        campaign: campaign.id.clone(),
    };
    let mut message = build_message(&rendered, &meta)?;
    if let Some(dkim) = &identity.dkim {
        message.sign(dkim);
    }
    Ok(Composed {
        message,
        subject: rendered.subject,
        message_id: id,
        content: SentContent {
            choices: rendered.choices,
            opener: rendered.opener,
            text: rendered.text,
        },
    })
}
