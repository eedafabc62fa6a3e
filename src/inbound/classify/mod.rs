//! One classifier for every message that comes back, whichever way it came
//! (SMTP receiver, IMAP mailbox, `tend inbound FILE`): raw bytes in, a typed
//! [`Classification`] out. Pure: no store, no clock, no I/O.
//!
//! The order of the questions is the point:
//! 1. a delivery report (`message/delivery-status`, [`dsn`]), a feedback
//!    report (`message/feedback-report`, [`arf`]), or a plain-text bounce from
//!    a mailer daemon ([`plain`]): bounces carry `Auto-Submitted` too, so
//!    they are asked about before auto-replies;
//! 2. an automatic answer ([`auto`]): recorded, never a bounce or a reply;
//! 3. a mail to the unsubscribe address, then a reply tied to one of our
//!    sends ([`human`]);
//! 4. anything else is [`Unclassified`] and changes nothing.
//!
//! Limits, each giving `Unclassified` with its reason and never a panic:
//! messages over [`MAX_MESSAGE_BYTES`] are not parsed (only the envelope
//! recipients are read for a token); more than [`mime::MAX_PARTS`] MIME
//! containers or nesting deeper than [`mime::MAX_DEPTH`] are not followed; a
//! parser failure is caught.

mod arf;
mod auto;
mod dsn;
pub(crate) mod fields;
mod html;
mod human;
mod judge;
pub mod kinds;
mod mime;
mod plain;
mod quoted;

pub(crate) use judge::Reported;
pub use kinds::*;
pub use mime::{MAX_DEPTH, MAX_PARTS};

use crate::domain::{EmailAddress, TokenKey};
use crate::inbound::ident::{Identification, OurMessageId, TokenSearch, first_address};
use fields::Fields;
use mail_parser::{Message, MessageParser};

/// Messages larger than this are kept but not parsed: a bounce or a reply is
/// a few hundred kilobytes at most, even with the original attached.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

/// What the classifier needs to know about us.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The link-signing key that signs return-path tokens.
    pub key: &'a TokenKey,
    /// This database's installation id: only our Message-IDs count.
    pub installation: &'a str,
    /// The `mailto:` address of `List-Unsubscribe`, if one is advertised.
    pub unsubscribe_address: Option<&'a EmailAddress>,
    /// The unsubscribe address is also where people write (the From or
    /// Reply-To mailbox): mail to it asks to stop only if it says so.
    pub unsubscribe_address_shared: bool,
    /// `RCPT TO` addresses, when the message came by SMTP/LMTP.
    pub envelope_recipients: &'a [String],
}

impl<'a> Context<'a> {
    pub fn new(key: &'a TokenKey, installation: &'a str) -> Self {
        Self {
            key,
            installation,
            unsubscribe_address: None,
            unsubscribe_address_shared: false,
            envelope_recipients: &[],
        }
    }

    /// A mailbox only unsubscribe requests go to: whatever reaches it asks to stop.
    pub fn with_unsubscribe_address(mut self, address: Option<&'a EmailAddress>) -> Self {
        self.unsubscribe_address = address;
        self.unsubscribe_address_shared = false;
        self
    }

    /// A mailbox people also write to (replies, personal mail): only a
    /// message whose subject or first lines ask to stop is a request.
    pub fn with_shared_unsubscribe_address(mut self, address: Option<&'a EmailAddress>) -> Self {
        self.unsubscribe_address = address;
        self.unsubscribe_address_shared = true;
        self
    }

    pub fn with_envelope_recipients(mut self, recipients: &'a [String]) -> Self {
        self.envelope_recipients = recipients;
        self
    }
}

/// Headers that name who a message was delivered to.
const RECIPIENT_HEADERS: &[&str] = &[
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "to",
    "cc",
];

/// Classifies one raw message. Never panics.
pub fn classify(raw: &[u8], ctx: &Context<'_>) -> Classification {
    let mut tokens = TokenSearch::default();
    for recipient in ctx.envelope_recipients {
        tokens.offer(ctx.key, recipient);
    }
    let unclassified = |reason: Unclassified, tokens: &TokenSearch| {
        Classification::new(
            Kind::Unclassified(reason),
            Identification {
                token: tokens.found,
                rejected_tokens: tokens.rejected,
                ..Identification::default()
            },
        )
    };
    if raw.len() > MAX_MESSAGE_BYTES {
        return unclassified(
            Unclassified::TooLarge {
                size: raw.len(),
                limit: MAX_MESSAGE_BYTES,
            },
            &tokens,
        );
    }
    if mime::count_containers(raw) > MAX_PARTS {
        return unclassified(Unclassified::TooManyParts { limit: MAX_PARTS }, &tokens);
    }
    // mail-parser promises never to panic, but it has debug assertions and
    // this reads hostile input: a panic here must not take the receiver down.
    let parsed = std::panic::catch_unwind(|| MessageParser::new().parse(raw));
    let message = match parsed {
        Ok(Some(message)) => message,
        Ok(None) => return unclassified(Unclassified::NotAMessage, &tokens),
        Err(_) => return unclassified(Unclassified::ParserFailed, &tokens),
    };
    let header = Fields::header(&mime::header_block(&message));
    if header.is_empty() {
        return unclassified(Unclassified::NotAMessage, &tokens);
    }
    let walked = match mime::walk(&message) {
        Ok(walked) => walked,
        Err(reason) => return unclassified(reason, &tokens),
    };
    Reading::new(ctx, &message, header, walked, tokens).classify()
}

/// One message being read: what was found so far.
struct Reading<'a> {
    ctx: &'a Context<'a>,
    header: Fields,
    walked: mime::Walked,
    tokens: TokenSearch,
    /// Everything the message was addressed to, envelope first.
    recipients: Vec<String>,
    subject: Option<String>,
    from: Option<String>,
    from_name: Option<String>,
}

impl<'a> Reading<'a> {
    fn new(
        ctx: &'a Context<'a>,
        message: &Message<'_>,
        header: Fields,
        walked: mime::Walked,
        mut tokens: TokenSearch,
    ) -> Self {
        let mut recipients: Vec<String> = ctx.envelope_recipients.to_vec();
        for name in RECIPIENT_HEADERS {
            recipients.extend(header.all(name).map(str::to_string));
        }
        for recipient in &recipients[ctx.envelope_recipients.len()..] {
            tokens.offer(ctx.key, recipient);
        }
        let sender = message.from().and_then(|from| from.first());
        Self {
            ctx,
            subject: message.subject().map(str::to_string),
            from: sender.and_then(|s| s.address()).map(str::to_string),
            from_name: sender.and_then(|s| s.name()).map(str::to_string),
            header,
            walked,
            tokens,
            recipients,
        }
    }

    fn classify(mut self) -> Classification {
        let recipient_token = self.tokens.found;
        if let Some(report) = self.report() {
            let address = report
                .recipients
                .iter()
                .max_by_key(|r| r.effect)
                .and_then(|r| r.recipient.clone());
            return self.finish(Kind::DeliveryStatus(report), address, true);
        }
        if let Some(complaint) = arf::read(&self.walked.feedback_report, &self.walked.returned) {
            let address = complaint
                .original_rcpt_to
                .clone()
                .or_else(|| self.returned_to());
            return self.finish(Kind::Complaint(complaint), address, true);
        }
        let answer = human::reply(recipient_token, &self.header, self.ctx.installation);
        let answers_ours = answer.is_some() || recipient_token.is_some();
        let signals = auto::signals(&self.header, self.subject.as_deref(), answers_ours);
        let from = self
            .from
            .as_deref()
            .and_then(|f| EmailAddress::parse(f).ok());
        if !signals.is_empty() {
            let kind = Kind::AutoReply(AutoReply {
                signals,
                subject: self.subject.clone(),
            });
            return self.finish(kind, from, true);
        }
        if let Some(matched_by) = human::unsubscribe(
            &self.recipients,
            self.ctx.unsubscribe_address,
            self.ctx.unsubscribe_address_shared,
            human::is_list_mail(&self.header),
            answer.is_some(),
            recipient_token,
            self.subject.as_deref(),
            &self.walked.text,
        ) {
            let kind = Kind::UnsubscribeRequest(UnsubscribeRequest { matched_by });
            return self.finish(kind, from, false);
        }
        if let Some((matched_by, message_id)) = answer {
            let subject = self.subject.clone();
            let mut done = self.finish(
                Kind::Reply(HumanReply {
                    matched_by,
                    subject,
                }),
                from,
                false,
            );
            // The message it answers, rather than one it quotes.
            if message_id.is_some() {
                done.ident.message_id = message_id;
            }
            return done;
        }
        let reason = if self.walked.problems.is_empty() {
            Unclassified::Unrecognised {
                detail: match recipient_token {
                    Some(_) => {
                        "sent to a return address of ours, but neither a report nor automatic"
                            .into()
                    }
                    None => "not a report, not automatic, not tied to one of our sends".into(),
                },
            }
        } else {
            Unclassified::Malformed {
                detail: std::mem::take(&mut self.walked.problems).join("; "),
            }
        };
        self.finish(Kind::Unclassified(reason), None, false)
    }

    /// A delivery report: the RFC 3464 part if readable, else a plain-text
    /// bounce if the message presents itself as one.
    fn report(&mut self) -> Option<DeliveryReport> {
        if let Some(report) = dsn::read(&self.walked.delivery_status) {
            return Some(report);
        }
        let envelope = plain::Envelope {
            header: &self.header,
            from: self.from.as_deref(),
            from_name: self.from_name.as_deref(),
            subject: self.subject.as_deref(),
        };
        let is_report = self.walked.report_type.as_deref() == Some("delivery-status");
        (is_report || plain::looks_like_bounce(&envelope))
            .then(|| plain::read(&envelope, &self.walked.text, &mut self.walked.returned))
    }

    fn returned_to(&self) -> Option<EmailAddress> {
        self.walked
            .returned
            .iter()
            .filter_map(|f| f.get("to"))
            .find_map(first_address)
    }

    /// Fills the identification: tokens among the recipients (found already),
    /// then in the headers of a carried message, then our Message-ID there or
    /// in `In-Reply-To`/`References`. `about_returned`: the message reports on
    /// a message of ours (bounce, complaint, auto-reply), so its text may be
    /// searched too (an Exchange NDR quotes the original headers as HTML).
    fn finish(
        mut self,
        kind: Kind,
        address: Option<EmailAddress>,
        about_returned: bool,
    ) -> Classification {
        let (key, installation) = (self.ctx.key, self.ctx.installation);
        // The carried headers: `Return-Path` (our envelope sender), `Reply-To`.
        if self.tokens.found.is_none() {
            self.tokens.offer(key, &self.walked.returned_raw);
        }
        if about_returned && self.tokens.found.is_none() {
            self.tokens.offer(key, &self.walked.text);
        }
        let returned = self
            .walked
            .returned
            .iter()
            .filter_map(|f| f.get("message-id"))
            .find_map(|id| OurMessageId::parse(id, installation))
            .or_else(|| OurMessageId::find(&self.walked.returned_raw, installation));
        let in_text = || {
            about_returned
                .then(|| OurMessageId::find(&self.walked.text, installation))
                .flatten()
        };
        let answered = || {
            ["in-reply-to", "references"]
                .iter()
                .flat_map(|name| self.header.all(name))
                .find_map(|v| OurMessageId::find(v, installation))
        };
        let message_id = returned.or_else(in_text).or_else(answered);
        Classification::new(
            kind,
            Identification {
                token: self.tokens.found,
                message_id,
                address,
                rejected_tokens: self.tokens.rejected,
            },
        )
    }
}

#[cfg(test)]
mod tests;
