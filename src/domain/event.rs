//! What a contact did: event kinds and the events tend records.

use crate::domain::EmailAddress;
use chrono::{DateTime, Utc};
use std::str::FromStr;

/// What a contact did. Any kind other than the three below is an activity
/// (`activity`, `purchase`, `login`, `reply`, `click`, …); see
/// [`TREATMENT_ONLY_KINDS`] for the ones a pilot never counts by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Activity(String),
    Unsubscribe,
    Bounce,
    Complaint,
}

impl EventKind {
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Activity(kind) => kind,
            EventKind::Unsubscribe => "unsubscribe",
            EventKind::Bounce => "bounce",
            EventKind::Complaint => "complaint",
        }
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let kind = s.trim().to_lowercase();
        let valid = !kind.is_empty()
            && kind.len() <= 40
            && kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "invalid event kind `{s}` (use `activity`, `unsubscribe`, `bounce`, `complaint`, or a word such as `purchase`)"
            ));
        }
        Ok(match kind.as_str() {
            "unsubscribe" => EventKind::Unsubscribe,
            "bounce" => EventKind::Bounce,
            "complaint" => EventKind::Complaint,
            _ => EventKind::Activity(kind),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub email: EmailAddress,
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub detail: String,
    pub source: String,
}

/// An event kind only the emailed group can produce, because tend derives
/// it from its own messages (a click on a tracked link), recorded under its
/// own `source`. A pilot's response must be something both groups can do, so
/// these never count under `activity`, and an event from such a source
/// counts only when `respond_on` names its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreatmentOnly {
    pub kind: &'static str,
    pub source: &'static str,
    /// What these events are, and why only the treatment can produce them,
    /// for warnings and reports.
    pub what: &'static str,
    pub why: &'static str,
}

pub const CLICK: TreatmentOnly = TreatmentOnly {
    kind: "click",
    source: "click",
    what: "clicks on tend's links",
    why: "only the treatment can click (only it gets tend's links)",
};

pub const REPLY: TreatmentOnly = TreatmentOnly {
    kind: "reply",
    source: "inbound",
    what: "replies to tend's messages",
    why: "only the treatment can answer a message (only it gets one)",
};

/// Every [`TreatmentOnly`] kind.
pub const TREATMENT_ONLY_KINDS: &[TreatmentOnly] = &[CLICK, REPLY];
