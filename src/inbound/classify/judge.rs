//! A reported failure judged by the same table as a reply to an outgoing
//! SMTP command ([`crate::send::reply::classify`]): a bounce report is only
//! the remote server's reply carried back by mail.
//!
//! The report's `Status` is the enhanced code; the reply code and text come
//! from its `Diagnostic-Code` (`smtp; 550 5.1.1 …`). A report without a reply
//! code gets `554`/`454` (class from the status): a failure "without a reason
//! about the recipient", so that a bare `5.0.0` never suppresses anyone, while
//! a status or text that names the mailbox (`5.1.1`, "user unknown") still does.

use super::kinds::{Action, RecipientStatus};
use crate::domain::EmailAddress;
use crate::send::reply::{self, EnhancedCode, Phase, Reply, Verdict};

/// What a report (or a provider event) says about one recipient.
#[derive(Debug, Default)]
pub(crate) struct Reported<'a> {
    pub recipient: Option<EmailAddress>,
    pub original_recipient: Option<EmailAddress>,
    pub status: Option<EnhancedCode>,
    pub diagnostic: Option<&'a str>,
    /// Where the remote server said it, when the report tells apart from the
    /// diagnostic ("SMTP error … after RCPT TO"); else read from the diagnostic.
    pub phase: Option<Phase>,
    /// Used when the report states neither a usable code nor words: a
    /// provider's own category (SES `Permanent`/`NoEmail`).
    pub fallback: Option<(Verdict, &'static str)>,
}

impl Reported<'_> {
    pub fn judge(self, action: Action) -> RecipientStatus {
        let (verdict, reason) = match action {
            Action::Failed | Action::Delayed => {
                let (verdict, reason) = verdict(action, &self, self.phase);
                (Some(verdict), reason)
            }
            Action::Delivered => (None, "delivered"),
            Action::Relayed => (None, "relayed to a system that sends no reports"),
            Action::Expanded => (None, "delivered to a list or alias"),
        };
        RecipientStatus {
            recipient: self.recipient,
            original_recipient: self.original_recipient,
            action,
            status: self.status,
            diagnostic: self
                .diagnostic
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty()),
            verdict,
            reason,
            effect: RecipientStatus::effect_of(action, verdict),
        }
    }
}

fn verdict(
    action: Action,
    reported: &Reported<'_>,
    phase: Option<Phase>,
) -> (Verdict, &'static str) {
    let (status, diagnostic, fallback) = (reported.status, reported.diagnostic, reported.fallback);
    let said = diagnostic.and_then(read_reply);
    let text = said
        .as_ref()
        .map(|r| r.text.clone())
        .or_else(|| diagnostic.map(|d| strip_type(d).to_string()))
        .unwrap_or_default();
    let class = status
        .map(|s| u16::from(s.class))
        .or_else(|| said.as_ref().map(|r| r.code / 100))
        .unwrap_or(if action == Action::Delayed { 4 } else { 5 });
    if let Some(fallback) = fallback {
        if status.is_none() && said.is_none() && text.trim().is_empty() {
            return fallback;
        }
    }
    let code = said
        .as_ref()
        .map(|r| r.code)
        .filter(|c| c / 100 == class)
        .unwrap_or(class * 100 + 54);
    let enhanced = status
        .filter(|s| u16::from(s.class) == class)
        .or_else(|| said.as_ref().and_then(|r| r.enhanced));
    let judged = reply::classify(
        phase.unwrap_or_else(|| phase_of(&text)),
        &Reply {
            code,
            enhanced,
            text,
        },
    );
    match (judged.verdict, fallback) {
        // A provider that says "permanent, no such mailbox" knows better than
        // a missing reason read as "refused without a reason".
        (Verdict::Refused(_), Some(fallback)) if said.is_none() && status.is_none() => fallback,
        _ => (judged.verdict, judged.reason),
    }
}

/// `smtp; 550 5.1.1 …` → the reply; `X-Postfix; unknown user` → none.
pub(crate) fn read_reply(diagnostic: &str) -> Option<Reply> {
    let text = strip_type(diagnostic).trim();
    let text = text.trim_start_matches(['#', '\'', '"', '(']);
    let bytes = text.as_bytes();
    if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Yahoo writes `554: delivery error`; Exchange quotes `'550 …'`.
    let line = match bytes.get(3) {
        Some(b':') => format!("{} {}", &text[..3], text[4..].trim_start()),
        _ => text.to_string(),
    };
    let line = line.trim_end_matches(['\'', '"', '#', ' ']);
    let reply = Reply::parse(&[line]).ok()?;
    matches!(reply.class(), 4 | 5).then_some(reply)
}

/// Drops an RFC 3464 diagnostic type (`smtp;`, `X-Postfix;`).
fn strip_type(diagnostic: &str) -> &str {
    match diagnostic.split_once(';') {
        Some((kind, rest))
            if !kind.is_empty()
                && kind.len() <= 16
                && kind
                    .trim()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            rest.trim()
        }
        _ => diagnostic.trim(),
    }
}

/// Where in the conversation the remote server said it, when the report tells.
pub(crate) fn phase_of(text: &str) -> Phase {
    let lower = text.to_ascii_lowercase();
    if lower.contains("end of data") || lower.contains("after data") {
        Phase::EndOfData
    } else if lower.contains("mail from command") || lower.contains("after mail from") {
        Phase::MailFrom
    } else {
        Phase::RcptTo
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::classify::kinds::Effect;
    use Action::{Delayed, Failed};

    fn effect(action: Action, status: &str, diagnostic: &str) -> Effect {
        Reported {
            status: EnhancedCode::parse(status),
            diagnostic: Some(diagnostic).filter(|d| !d.is_empty()),
            ..Reported::default()
        }
        .judge(action)
        .effect
    }

    #[test]
    fn reports_are_read_like_replies() {
        #[rustfmt::skip]
        let cases: &[(Action, &str, &str, Effect)] = &[
            (Failed, "5.1.1", "smtp; 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown", Effect::HardBounce),
            (Failed, "5.1.1", "", Effect::HardBounce),
            (Failed, "4.2.2", "smtp; 452 4.2.2 Mailbox full", Effect::SoftBounce),
            (Failed, "5.2.2", "smtp; 552 5.2.2 Over quota", Effect::SoftBounce),
            // Policy, reputation, content: about us, never the recipient.
            (Failed, "5.7.1", "smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", Effect::None),
            (Failed, "5.7.1", "", Effect::None),
            (Failed, "5.0.0", "", Effect::None),
            (Failed, "5.0.0", "X-Postfix; unknown user: \"nobody\"", Effect::HardBounce),
            (Failed, "4.4.7", "smtp; 421 4.4.7 Delivery time expired", Effect::None),
            (Delayed, "4.2.2", "smtp; 452 4.2.2 Mailbox full", Effect::None),
            (Failed, "", "554: delivery error: dd This user doesn't have a yahoo.com account", Effect::HardBounce),
            (Failed, "", "'550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'", Effect::HardBounce),
        ];
        for (action, status, diagnostic, expected) in cases {
            assert_eq!(
                effect(*action, status, diagnostic),
                *expected,
                "{status} {diagnostic}"
            );
        }
    }

    #[test]
    fn the_status_class_wins_over_a_disagreeing_reply_code() {
        // An expired message: the MTA failed it, the last reply was a 4xx.
        let judged = Reported {
            status: EnhancedCode::parse("4.2.2"),
            diagnostic: Some("smtp; 552 5.2.2 mailbox full"),
            ..Reported::default()
        }
        .judge(Failed);
        assert_eq!(judged.verdict, Some(Verdict::SoftBounce));
    }

    #[test]
    fn a_provider_fallback_applies_only_without_codes_or_words() {
        let hard = Some((Verdict::HardBounce, "provider: no such mailbox"));
        let judged = Reported {
            fallback: hard,
            ..Reported::default()
        }
        .judge(Failed);
        assert_eq!(
            (judged.effect, judged.reason),
            (Effect::HardBounce, "provider: no such mailbox")
        );
        let judged = Reported {
            status: EnhancedCode::parse("5.7.1"),
            fallback: hard,
            ..Reported::default()
        }
        .judge(Failed);
        assert_eq!(judged.effect, Effect::None);
    }
}
