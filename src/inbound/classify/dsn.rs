//! RFC 3464 delivery status notifications: the `message/delivery-status`
//! part, one per-message block (`Reporting-MTA`) and one block per recipient
//! (`Final-Recipient`, `Original-Recipient`, `Action`, `Status`,
//! `Diagnostic-Code`). Postfix, Exim (with DSN), Sendmail, Gmail, Yahoo,
//! Exchange Online and SES all write this part; the plain-text readers are
//! only for reports without it.

use super::fields::Fields;
use super::judge::Reported;
use super::kinds::{Action, BounceFormat, DeliveryReport, RecipientStatus};
use crate::inbound::ident::first_address;
use crate::send::reply::EnhancedCode;

/// Reads every delivery-status body; `None` if none names a recipient.
pub(crate) fn read(bodies: &[String]) -> Option<DeliveryReport> {
    let mut reporting_mta = None;
    let mut recipients = Vec::new();
    for body in bodies {
        for block in Fields::blocks(body) {
            if let Some(mta) = block.get("reporting-mta") {
                reporting_mta.get_or_insert_with(|| strip_type(mta).to_string());
            }
            if recipients.len() >= super::plain::MAX_RECIPIENTS {
                break;
            }
            if let Some(recipient) = recipient(&block) {
                recipients.push(recipient);
            }
        }
    }
    (!recipients.is_empty()).then_some(DeliveryReport {
        format: BounceFormat::Rfc3464,
        reporting_mta,
        recipients,
    })
}

fn recipient(block: &Fields) -> Option<RecipientStatus> {
    let is_recipient = ["final-recipient", "original-recipient", "action", "status"]
        .iter()
        .any(|name| block.has(name));
    if !is_recipient {
        return None;
    }
    let status = block
        .get("status")
        .and_then(|s| s.split_whitespace().next())
        .and_then(EnhancedCode::parse);
    // A missing or unknown action is read from the status class.
    let action = block
        .get("action")
        .and_then(Action::parse)
        .or(match status.map(|s| s.class) {
            Some(5) => Some(Action::Failed),
            Some(4) => Some(Action::Delayed),
            Some(2) => Some(Action::Delivered),
            _ => None,
        })?;
    let final_recipient = block.get("final-recipient").and_then(first_address);
    let original_recipient = block.get("original-recipient").and_then(first_address);
    Some(
        Reported {
            recipient: final_recipient.or_else(|| original_recipient.clone()),
            original_recipient,
            status,
            diagnostic: block.get("diagnostic-code"),
            phase: None,
            fallback: None,
        }
        .judge(action),
    )
}

/// `dns; mx.example.net` → `mx.example.net`.
fn strip_type(value: &str) -> &str {
    value.split_once(';').map_or(value, |(_, v)| v).trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::classify::kinds::Effect;

    #[test]
    fn per_recipient_blocks_are_read_and_judged() {
        let body = "Reporting-MTA: dns; mx.example.net\r\nArrival-Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n\
            Final-Recipient: rfc822; gone@example.com\r\nOriginal-Recipient: rfc822;Gone@Example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\
            Diagnostic-Code: smtp; 550 5.1.1 <gone@example.com>: Recipient address\r\n rejected: User unknown\r\n\r\n\
            Final-Recipient: rfc822; full@example.com\r\nAction: delayed\r\nStatus: 4.2.2\r\n";
        let report = read(&[body.to_string()]).unwrap();
        assert_eq!(report.reporting_mta.as_deref(), Some("mx.example.net"));
        assert_eq!(report.recipients.len(), 2);
        let gone = &report.recipients[0];
        assert_eq!(
            gone.recipient.as_ref().unwrap().as_str(),
            "gone@example.com"
        );
        assert_eq!(gone.effect, Effect::HardBounce);
        assert!(
            gone.diagnostic
                .as_deref()
                .unwrap()
                .contains("Recipient address rejected")
        );
        let full = &report.recipients[1];
        assert_eq!((full.action, full.effect), (Action::Delayed, Effect::None));
    }

    #[test]
    fn a_status_without_action_implies_it_and_empty_bodies_are_no_report() {
        let report = read(&[
            "Final-Recipient: rfc822; a@example.com\nStatus: 5.2.2 (mailbox full)\n".into(),
        ])
        .unwrap();
        assert_eq!(report.recipients[0].action, Action::Failed);
        assert_eq!(report.recipients[0].effect, Effect::SoftBounce);
        assert_eq!(read(&["Reporting-MTA: dns; x\n".into()]), None);
        assert_eq!(read(&["\u{0}\u{1}garbage".into()]), None);
    }
}
