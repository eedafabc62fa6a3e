//! RFC 5965 feedback reports (ARF): a mailbox provider's feedback loop says
//! one of its users marked our message as spam. The report part names the
//! type and, unless the provider redacts it, the complainant
//! (`Original-Rcpt-To`); the returned original carries our Message-ID and
//! return-path token, which is what usually identifies the send.

use super::fields::Fields;
use super::kinds::{Complaint, FeedbackType};
use crate::inbound::ident::first_address;

/// Reads the first feedback-report body, if there is one.
pub(crate) fn read(bodies: &[String], returned: &[Fields]) -> Option<Complaint> {
    let report = bodies.iter().map(|b| Fields::header(b)).next()?;
    let feedback_type = report
        .get("feedback-type")
        .map_or(FeedbackType::Abuse, FeedbackType::parse);
    // Outlook.com (JMRP) and some others keep the recipient only in a header of
    // the returned message.
    let original_rcpt_to = report
        .get("original-rcpt-to")
        .and_then(first_address)
        .or_else(|| {
            returned.iter().find_map(|fields| {
                fields
                    .get("x-hmxmroriginalrecipient")
                    .or_else(|| fields.get("x-original-to"))
                    .and_then(first_address)
            })
        });
    Some(Complaint {
        feedback_type,
        reporter: report.get("user-agent").map(str::to_string),
        original_rcpt_to,
        original_mail_from: report.get("original-mail-from").map(|s| {
            s.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_its_type_reporter_and_complainant() {
        let body = "Feedback-Type: abuse\r\nUser-Agent: Yahoo!-Mail-Feedback/2.0\r\nVersion: 1\r\n\
            Original-Mail-From: <bounces+12-abc@b.acme.example>\r\nOriginal-Rcpt-To: ana@example.com\r\n";
        let complaint = read(&[body.into()], &[]).unwrap();
        assert_eq!(complaint.feedback_type, FeedbackType::Abuse);
        assert_eq!(
            complaint.reporter.as_deref(),
            Some("Yahoo!-Mail-Feedback/2.0")
        );
        assert_eq!(
            complaint.original_rcpt_to.unwrap().as_str(),
            "ana@example.com"
        );
        assert_eq!(
            complaint.original_mail_from.as_deref(),
            Some("bounces+12-abc@b.acme.example")
        );
    }

    #[test]
    fn a_redacted_recipient_falls_back_to_the_returned_headers() {
        let body = "Feedback-Type: abuse\nOriginal-Rcpt-To: redacted\n";
        let returned = Fields::header("X-HmXmrOriginalRecipient: <ana@example.com>\nSubject: x\n");
        let complaint = read(&[body.into()], &[returned]).unwrap();
        assert_eq!(
            complaint.original_rcpt_to.unwrap().as_str(),
            "ana@example.com"
        );
        assert!(read(&[], &[]).is_none());
    }

    #[test]
    fn not_spam_and_auth_failure_are_not_complaints() {
        assert!(!FeedbackType::parse("not-spam").is_complaint());
        assert!(!FeedbackType::parse("auth-failure").is_complaint());
        assert!(FeedbackType::parse("fraud").is_complaint());
        assert!(FeedbackType::parse("opt-out").is_complaint());
    }
}
