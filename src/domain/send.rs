//! A message's journey: the states of an outbox row, why a row waits or a
//! passage ends, a pilot's groups, and what a sent message said (its variant
//! choices), which later messages read to avoid repeating it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendState {
    Queued,
    /// Owned by a sender, not yet on the wire: back to the queue if that sender dies.
    Claimed,
    /// Message data handed to the server, reply not yet recorded.
    Sending,
    Sent,
    Retry,
    Failed,
    Suppressed,
    Cancelled,
    InDoubt,
}

impl SendState {
    pub const ALL: [SendState; 9] = [
        SendState::Queued,
        SendState::Claimed,
        SendState::Sending,
        SendState::Sent,
        SendState::Retry,
        SendState::Failed,
        SendState::Suppressed,
        SendState::Cancelled,
        SendState::InDoubt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SendState::Queued => "queued",
            SendState::Claimed => "claimed",
            SendState::Sending => "sending",
            SendState::Sent => "sent",
            SendState::Retry => "retry",
            SendState::Failed => "failed",
            SendState::Suppressed => "suppressed",
            SendState::Cancelled => "cancelled",
            SendState::InDoubt => "in_doubt",
        }
    }
}

impl FromStr for SendState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SendState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown send state `{s}`"))
    }
}

impl fmt::Display for SendState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// Every step was sent.
    Completed,
    /// A step could not be delivered (failed or bounced).
    SendFailed,
    /// The contact became suppressed.
    Suppressed,
    /// The contact unsubscribed from this campaign only.
    Unsubscribed,
}

impl ExitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Completed => "completed",
            ExitReason::SendFailed => "send_failed",
            ExitReason::Suppressed => "suppressed",
            ExitReason::Unsubscribed => "unsubscribed",
        }
    }
}

/// Why a due row waits in the outbox instead of leaving now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// Outside the campaign's send window at the moment it would leave.
    Window,
    /// Inside the recipient's quiet hours at the moment it would leave.
    QuietHours,
    /// The contact reached a frequency cap (another message went out meanwhile).
    Cap,
    /// The relay's circuit breaker is open.
    RelayPaused,
    /// The recipient's domain is deferring or refusing; its sends are paused.
    DomainPaused,
}

impl HoldReason {
    pub const ALL: [HoldReason; 5] = [
        HoldReason::Window,
        HoldReason::QuietHours,
        HoldReason::Cap,
        HoldReason::RelayPaused,
        HoldReason::DomainPaused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::Window => "window",
            HoldReason::QuietHours => "quiet_hours",
            HoldReason::Cap => "cap",
            HoldReason::RelayPaused => "relay_paused",
            HoldReason::DomainPaused => "domain_paused",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            HoldReason::Window => "outside the send window",
            HoldReason::QuietHours => "in the recipient's quiet hours",
            HoldReason::Cap => "held by the frequency cap",
            HoldReason::RelayPaused => "relay paused (circuit breaker open)",
            HoldReason::DomainPaused => "recipient domain paused",
        }
    }
}

impl FromStr for HoldReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HoldReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown hold reason `{s}`"))
    }
}

/// What a sent message said, kept for de-repetition and the variation metric.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentContent {
    pub choices: Vec<Choice>,
    pub opener: String,
    pub text: String,
}

/// A pilot enrollment's group: the treatment is emailed, the holdout is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Treatment,
    Holdout,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Treatment => "treatment",
            Group::Holdout => "holdout",
        }
    }
}

/// One variant choice made while rendering a message, stored with the send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub slot: String,
    /// 1-based number of the chosen option.
    pub n: usize,
    /// How many options the slot offered.
    pub of: usize,
    /// The chosen text (`#N` for `pick(slot=…, count=N)`).
    pub text: String,
    /// The part where the slot was first used: subject, preheader, text, html.
    pub part: String,
}

impl Choice {
    /// Whether the contact could have received something else here.
    pub fn had_alternatives(&self) -> bool {
        self.of > 1
    }
}

/// A message the contact already received, as the choice rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastSend {
    pub send_id: i64,
    pub campaign: String,
    pub step: u32,
    pub subject: String,
    pub choices: Vec<Choice>,
    pub sent_at: DateTime<Utc>,
}

/// One sent message as the variation metric reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub contact_id: i64,
    pub campaign: String,
    pub step: u32,
    pub subject: String,
    pub opener: String,
    pub text: String,
    pub choices: Vec<Choice>,
    pub sent_at: DateTime<Utc>,
}
