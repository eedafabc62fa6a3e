//! MIME assembly: headers every message carries, and the body parts. The
//! HTML part is always a complete document (doctype, `html lang`, `head`
//! with charset, viewport and title) next to its plain-text alternative: a
//! template's HTML fragment is wrapped, a template that writes its own
//! document keeps it.

use super::RenderError;
use super::Rendered;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

/// Who and what a message is, apart from its rendered content.
#[derive(Debug, Clone)]
pub struct MessageMeta {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub to: Mailbox,
    pub message_id: String,
    pub date: DateTime<Utc>,
    /// The signed one-click URL (RFC 8058) for `List-Unsubscribe`.
    pub unsubscribe_url: String,
    /// `mailto:` alternative in `List-Unsubscribe`, for clients without HTTP.
    pub unsubscribe_mailto: String,
    pub campaign: String,
    /// `CAMPAIGN:STEP:SENDER`: Gmail's feedback loop reports complaint
    /// rates per value; the last field identifies the sender.
    pub feedback_id: String,
}

/// The Message-ID of a send, derived from its id so that a duplicate
/// delivered downstream is recognisable as the same send.
/// `<tend.SEND.ENROLLMENT.INSTALLATION@domain>`: derived from the send row,
/// so a downstream duplicate is recognisable, and from the installation's
/// random id, so a reset database or a second install never reissues one.
pub fn message_id(send_id: i64, enrollment_id: i64, installation: &str, from: &Mailbox) -> String {
    format!(
        "<tend.{send_id}.{enrollment_id}.{installation}@{}>",
        from.email.domain()
    )
}

const LIST_UNSUBSCRIBE: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe");
const LIST_UNSUBSCRIBE_POST: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe-Post");
const LIST_ID: HeaderName = HeaderName::new_from_ascii_str("List-Id");
const FEEDBACK_ID: HeaderName = HeaderName::new_from_ascii_str("Feedback-ID");

pub fn build_message(rendered: &Rendered, meta: &MessageMeta) -> Result<Message, RenderError> {
    let domain = meta.from.email.domain().to_string();
    let mut builder = Message::builder()
        .from(meta.from.clone())
        .to(meta.to.clone())
        .subject(rendered.subject.clone())
        .date(meta.date.into())
        .message_id(Some(meta.message_id.clone()))
        .raw_header(HeaderValue::new(
            LIST_UNSUBSCRIBE,
            format!(
                "<{}>, <mailto:{}?subject=unsubscribe>",
                meta.unsubscribe_url, meta.unsubscribe_mailto
            ),
        ))
        .raw_header(HeaderValue::new(
            LIST_UNSUBSCRIBE_POST,
            "List-Unsubscribe=One-Click".to_string(),
        ))
        .raw_header(HeaderValue::new(
            LIST_ID,
            format!("<{}.{domain}>", meta.campaign),
        ))
        .raw_header(HeaderValue::new(FEEDBACK_ID, meta.feedback_id.clone()));
    if let Some(reply_to) = &meta.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    let result = match &rendered.html {
        None => builder.singlepart(SinglePart::plain(rendered.text.clone())),
        Some(html) => {
            let html = document(html, rendered);
            let html = with_preheader(&html, rendered.preheader.as_deref());
            // A boundary derived from the Message-ID keeps preview and send identical.
            builder.multipart(
                MultiPart::alternative()
                    .boundary(format!(
                        "tend-{}",
                        hex8(&format!("boundary{}", meta.message_id))
                    ))
                    .singlepart(SinglePart::plain(rendered.text.clone()))
                    .singlepart(SinglePart::html(html)),
            )
        }
    };
    result.map_err(|e| RenderError::Message(e.to_string()))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether a template's HTML is already a document of its own.
pub fn is_document(html: &str) -> bool {
    let lower = html.trim_start().to_ascii_lowercase();
    lower.starts_with("<!doctype") || lower.starts_with("<html")
}

/// A fragment in a complete, accessible document: the language for screen
/// readers (`html lang`, and again on the message container because some
/// webmail keeps only the body), charset, viewport for phones, the subject
/// as title, explicit colours so the footer's contrast holds.
pub fn document(html: &str, rendered: &Rendered) -> String {
    if is_document(html) {
        return html.to_string();
    }
    let lang = rendered.locale.code();
    let title = escape(&rendered.subject);
    format!(
        "<!DOCTYPE html>\n\
<html lang=\"{lang}\" dir=\"ltr\">\n\
<head>\n\
<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"color-scheme\" content=\"light\">\n\
<title>{title}</title>\n\
</head>\n\
<body style=\"margin:0;padding:0;background-color:#ffffff;color:#1f1f1f\">\n\
<div role=\"article\" aria-roledescription=\"email\" aria-label=\"{title}\" lang=\"{lang}\" dir=\"ltr\" \
style=\"max-width:600px;margin:0 auto;padding:24px;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1f1f1f;background-color:#ffffff\">\n\
{}\n\
</div>\n\
</body>\n\
</html>\n",
        html.trim()
    )
}

/// Inbox preview text: a hidden first element of the HTML body.
fn with_preheader(html: &str, preheader: Option<&str>) -> String {
    let Some(pre) = preheader.filter(|p| !p.is_empty()) else {
        return html.to_string();
    };
    let escaped = pre
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let hidden = format!(
        "<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\">{escaped}</div>"
    );
    match html
        .find("<body")
        .and_then(|i| html[i..].find('>').map(|j| i + j + 1))
    {
        Some(at) => format!("{}{hidden}{}", &html[..at], &html[at..]),
        None => format!("{hidden}{html}"),
    }
}

fn hex8(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
