//! The complaint rate of a campaign: how many of its recipients marked a
//! message as spam (complaint events: `tend events import`, `POST /events`,
//! a provider's feedback loop), per message sent. Gmail and Yahoo ask bulk
//! senders to stay under 0.1 % and never reach 0.3 %; past that, mail goes
//! to spam or is refused.
//!
//! A complaint counts against the campaign of the last message tend sent
//! the contact before the complaint arrived: that is the message the person
//! was looking at. Complaints are read from the complaint suppressions (each
//! complaint suppresses the address, at the complaint's time), so a
//! complaint from an address already suppressed for another reason is not
//! counted twice, nor at all.

use crate::domain::EmailAddress;
use crate::domain::{SuppressionReason, SuppressionScope};
use crate::store::StoreError;
use crate::store::prelude::*;
use serde::Serialize;

/// At or above this share of messages, the rate needs attention (0.1 %).
pub const WARN_AT: f64 = 0.001;
/// Gmail's and Yahoo's limit (0.3 %): never reach it.
pub const LIMIT: f64 = 0.003;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintLevel {
    /// Under 0.1 %.
    Ok,
    /// 0.1 % or more: find out why before it grows.
    Warning,
    /// 0.3 % or more: over the big mailbox providers' limit.
    OverLimit,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Complaints {
    /// Messages of this campaign sent.
    pub sent: u64,
    pub complaints: u64,
    /// complaints / sent; `None` before anything was sent.
    pub rate: Option<f64>,
    pub level: ComplaintLevel,
    /// The rate in words, with what to do.
    pub summary: String,
}

pub fn level(rate: f64) -> ComplaintLevel {
    if rate >= LIMIT {
        ComplaintLevel::OverLimit
    } else if rate >= WARN_AT {
        ComplaintLevel::Warning
    } else {
        ComplaintLevel::Ok
    }
}

pub fn summary(sent: u64, complaints: u64) -> String {
    if sent == 0 {
        return "nothing sent yet".into();
    }
    let rate = complaints as f64 / sent as f64;
    let figure = format!(
        "{complaints} complaint(s) for {sent} message(s): {:.2} %",
        rate * 100.0
    );
    let advice = match level(rate) {
        ComplaintLevel::Ok => "under the 0.1 % Gmail and Yahoo ask for".to_string(),
        ComplaintLevel::Warning => "above 0.1 %: Gmail and Yahoo start filtering; check who this campaign reaches and how often".to_string(),
        ComplaintLevel::OverLimit => "at or above 0.3 %, the limit of Gmail and Yahoo: pause the campaign and narrow its segment".to_string(),
    };
    let small = if sent < 1000 && complaints > 0 {
        " (under 1,000 messages, one complaint moves the rate a lot)"
    } else {
        ""
    };
    format!("{figure}, {advice}{small}")
}

pub async fn complaints<S: Store>(store: &S, campaign: &str) -> Result<Complaints, StoreError> {
    let messages = store.sent_messages(campaign).await?;
    let sent = messages.iter().filter(|m| m.campaign == campaign).count() as u64;
    let mut count = 0;
    for s in store.list_suppressions().await? {
        if s.reason != SuppressionReason::Complaint || s.scope != SuppressionScope::Address {
            continue;
        }
        let Ok(email) = EmailAddress::parse(&s.value) else {
            continue;
        };
        let Some(contact) = store.contact_by_email(&email).await? else {
            continue;
        };
        let seen = messages
            .iter()
            .filter(|m| m.contact_id == contact.id && m.sent_at <= s.created_at)
            .max_by_key(|m| m.sent_at);
        if seen.is_some_and(|m| m.campaign == campaign) {
            count += 1;
        }
    }
    let rate = (sent > 0).then(|| count as f64 / sent as f64);
    Ok(Complaints {
        sent,
        complaints: count,
        rate,
        level: rate.map(level).unwrap_or(ComplaintLevel::Ok),
        summary: summary(sent, count),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_levels_follow_gmail_and_yahoo() {
        assert_eq!(level(0.0), ComplaintLevel::Ok);
        assert_eq!(level(0.0009), ComplaintLevel::Ok);
        assert_eq!(level(0.001), ComplaintLevel::Warning);
        assert_eq!(level(0.0029), ComplaintLevel::Warning);
        assert_eq!(level(0.003), ComplaintLevel::OverLimit);
        assert!(summary(2000, 1).contains("0.05 %, under the 0.1 %"));
        assert!(summary(1000, 4).contains("0.40 %, at or above 0.3 %"));
        assert!(summary(200, 1).contains("one complaint moves"));
        assert_eq!(summary(0, 0), "nothing sent yet");
    }
}
