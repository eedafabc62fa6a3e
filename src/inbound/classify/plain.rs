//! Bounces without a `message/delivery-status` part: the plain-text reports
//! of qmail, Exim (without DSN), old Postfix and Sendmail, Yahoo, Exchange
//! NDRs written only for people, Gmail's "Address not found" text.
//!
//! A message is read as such a bounce only if it says it is one: a mailer
//! daemon as sender (`MAILER-DAEMON`, `postmaster`, "Mail Delivery
//! Subsystem", Exchange's system mailbox), a bounce subject ("Undelivered
//! Mail Returned to Sender", "failure notice", "Undeliverable: …"), or
//! Exim's `X-Failed-Recipients`. An empty return path is not enough: RFC 3834
//! asks auto-replies to use one too.
//!
//! Then the failed recipients are the addresses the report names (not ours,
//! not a daemon's, not our From), and each one's reply is the first SMTP
//! reply after it (`… said: 550 5.1.1 …`, `Remote Server returned '550 …'`,
//! `554: delivery error: …`, `(#5.1.1)`), judged by the same table as
//! outgoing SMTP.

use super::fields::Fields;
use super::judge::{Reported, phase_of};
use super::kinds::{Action, BounceFormat, DeliveryReport};
use super::quoted::{find_reply, find_status, reason_line};
use crate::domain::EmailAddress;
use crate::inbound::ident::first_address;

/// What the top of the message says about itself.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    pub header: &'a Fields,
    pub from: Option<&'a str>,
    pub from_name: Option<&'a str>,
    pub subject: Option<&'a str>,
}

#[rustfmt::skip]
const DAEMONS: &[&str] = &[
    "mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "postmaster", "mdaemon",
];

#[rustfmt::skip]
const BOUNCE_SUBJECTS: &[&str] = &[
    "undelivered mail returned to sender", "undeliverable", "delivery status notification",
    "mail delivery failed", "failure notice", "returned mail", "delivery failure",
    "message not delivered", "delivery has failed", "undelivered mail", "mail delivery system",
    "delivery notification", "delayed mail", "delivery delayed", "warning: message",
    "unzustellbar", "non remis", "no se puede entregar", "onbestelbaar", "non recapitabile",
    "não é possível entregar", "nicht zustellbar",
];

/// A bounce of one of our messages names one recipient; a report naming
/// thousands is read for its first few, in bounded time.
pub(crate) const MAX_RECIPIENTS: usize = 20;

/// Whether the message presents itself as a delivery report.
pub(crate) fn looks_like_bounce(envelope: &Envelope<'_>) -> bool {
    let daemon_sender = envelope.from.is_some_and(|from| {
        let local = from.split('@').next().unwrap_or("").to_ascii_lowercase();
        DAEMONS.contains(&local.as_str()) || local.starts_with("microsoftexchange")
    });
    let daemon_name = envelope.from_name.is_some_and(|name| {
        let name = name.to_lowercase();
        [
            "mail delivery",
            "mailer-daemon",
            "mailer daemon",
            "postmaster",
        ]
        .iter()
        .any(|n| name.contains(n))
    });
    let subject = envelope.subject.unwrap_or("").to_lowercase();
    let bounce_subject = BOUNCE_SUBJECTS.iter().any(|s| subject.contains(s));
    daemon_sender || daemon_name || bounce_subject || envelope.header.has("x-failed-recipients")
}

/// Where the report ends and the copy of the original message begins.
#[rustfmt::skip]
const COPY_MARKERS: &[&str] = &[
    "--- below this line is a copy of the message", "------ this is a copy of the message",
    "------ this is a copy of your message", "----- original message -----",
    "original message headers:", "----- unsent message below -----", "--- original message follows",
    "------- returned message --------",
];

/// Reads the report. Headers of a copy of the original found inline in the
/// text are added to `returned`.
pub(crate) fn read(
    envelope: &Envelope<'_>,
    text: &str,
    returned: &mut Vec<Fields>,
) -> DeliveryReport {
    let lower = text.to_lowercase();
    let (report, copy) = match COPY_MARKERS.iter().filter_map(|m| lower.find(m)).min() {
        // `to_lowercase` can change byte lengths outside ASCII; fall back to no split.
        Some(at) if text.is_char_boundary(at) && lower.len() == text.len() => {
            let copy = &text[at..];
            (
                &text[..at],
                copy.split_once('\n').map_or("", |(_, rest)| rest),
            )
        }
        _ => (text, ""),
    };
    if !copy.trim().is_empty() {
        let head = Fields::header(copy.trim_start());
        if !head.is_empty() {
            returned.push(head);
        }
    }
    let format = format_of(envelope, &lower);
    let delayed = is_delay(envelope.subject.unwrap_or(""), &report.to_lowercase());
    let action = if delayed {
        Action::Delayed
    } else {
        Action::Failed
    };

    let recipients = failed_recipients(envelope, report, returned);
    let report_lower = report.to_ascii_lowercase();
    let mentions: Vec<Option<usize>> = recipients
        .iter()
        .map(|r| report_lower.find(r.as_str()))
        .collect();
    let anywhere = find_reply(report);
    let mut statuses = Vec::new();
    for (index, recipient) in recipients.iter().enumerate() {
        let segment = match mentions[index] {
            Some(start) => {
                let end = mentions
                    .iter()
                    .flatten()
                    .filter(|&&m| m > start)
                    .min()
                    .copied()
                    .unwrap_or(report.len());
                &report[start..end]
            }
            None => report,
        };
        statuses.push(judge(segment, &anywhere, Some(recipient.clone()), action));
    }
    if statuses.is_empty() {
        statuses.push(judge(report, &anywhere, None, action));
    }
    DeliveryReport {
        format,
        reporting_mta: None,
        recipients: statuses,
    }
}

/// `anywhere`: the first reply of the whole report, for a recipient whose
/// own part quotes none.
fn judge(
    segment: &str,
    anywhere: &Option<(String, String)>,
    recipient: Option<EmailAddress>,
    action: Action,
) -> super::kinds::RecipientStatus {
    let (reply, context) = find_reply(segment)
        .or_else(|| anywhere.clone())
        .map_or((None, String::new()), |(r, c)| (Some(r), c));
    let status = find_status(reply.as_deref().unwrap_or(segment)).or_else(|| find_status(segment));
    let diagnostic = reply.or_else(|| reason_line(segment));
    Reported {
        recipient,
        original_recipient: None,
        status,
        diagnostic: diagnostic.as_deref(),
        phase: Some(phase_of(&format!(
            "{context} {}",
            diagnostic.as_deref().unwrap_or("")
        ))),
        fallback: None,
    }
    .judge(action)
}

fn format_of(envelope: &Envelope<'_>, lower: &str) -> BounceFormat {
    let from = envelope.from.unwrap_or("").to_ascii_lowercase();
    let subject = envelope.subject.unwrap_or("").to_lowercase();
    if envelope.header.has("x-failed-recipients")
        || lower.contains("this message was created automatically by mail delivery software")
    {
        BounceFormat::Exim
    } else if from.contains("yahoo")
        || lower.contains("sorry, we were unable to deliver your message")
    {
        BounceFormat::Yahoo
    } else if lower.contains("this is the qmail-send program") {
        BounceFormat::Qmail
    } else if lower.contains("this is the mail system at host") {
        BounceFormat::Postfix
    } else if lower.contains("transcript of session follows")
        || lower.contains("the original message was received at")
    {
        BounceFormat::Sendmail
    } else if lower.contains("delivery has failed to these recipients")
        || lower.contains("diagnostic information for administrators")
        || from.starts_with("microsoftexchange")
        || subject.starts_with("undeliverable:")
    {
        BounceFormat::Exchange
    } else if from.ends_with("@googlemail.com") || lower.contains("wasn't delivered to") {
        BounceFormat::Gmail
    } else {
        BounceFormat::Generic
    }
}

fn is_delay(subject: &str, report: &str) -> bool {
    let subject = subject.to_lowercase();
    let permanent = report.contains("permanent error") || report.contains("permanent fatal");
    let delay_words = [
        "delayed",
        "still being retried",
        "not yet been delivered",
        "will continue to try",
        "warning message only",
        "will be retried",
        "delivery attempts will continue",
    ];
    !permanent
        && (subject.contains("delay")
            || subject.contains("warning:")
            || delay_words.iter().any(|w| report.contains(w)))
}

/// The addresses the report says failed, in order of appearance.
fn failed_recipients(
    envelope: &Envelope<'_>,
    report: &str,
    returned: &[Fields],
) -> Vec<EmailAddress> {
    let ours: Vec<String> = [envelope.from]
        .into_iter()
        .flatten()
        .map(str::to_string)
        .chain(
            returned
                .iter()
                .filter_map(|f| f.get("from"))
                .filter_map(first_address)
                .map(|a| a.as_str().to_string()),
        )
        .map(|a| a.to_ascii_lowercase())
        .collect();
    let mut found: Vec<EmailAddress> = Vec::new();
    let consider = |found: &mut Vec<EmailAddress>, address: EmailAddress| {
        let local = address.as_str().split('@').next().unwrap_or("");
        let skip = ours.iter().any(|o| o == address.as_str())
            || DAEMONS.contains(&local)
            || local.starts_with("microsoftexchange")
            || ["bounces+", "reply+", "unsubscribe+"]
                .iter()
                .any(|p| local.starts_with(p))
            || found.contains(&address);
        if !skip && found.len() < MAX_RECIPIENTS {
            found.push(address);
        }
    };
    for value in envelope.header.all("x-failed-recipients") {
        for address in value.split(',').filter_map(first_address) {
            consider(&mut found, address);
        }
    }
    let words = report.split(|c: char| {
        c.is_whitespace() || matches!(c, ',' | '(' | ')' | '"' | '\'' | '[' | ']' | ';')
    });
    for word in words.filter(|w| w.contains('@')) {
        if let Some(address) = first_address(word) {
            consider(&mut found, address);
        }
    }
    if found.is_empty() {
        // The report names nobody (Exchange's "the recipient's mailbox is
        // full"): the original's `To` is who it was for.
        for value in returned.iter().filter_map(|f| f.get("to")) {
            if let Some(address) = first_address(value) {
                consider(&mut found, address);
            }
        }
    }
    found
}
