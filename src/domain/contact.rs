//! A contact: a person tend may email, as imported and as stored.

use crate::domain::EmailAddress;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub type Attributes = serde_json::Map<String, serde_json::Value>;

/// A contact as imported. `None` means "not given": it never erases a stored value.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub timezone: Option<chrono_tz::Tz>,
    pub tags: Option<Vec<String>>,
    pub attributes: Attributes,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub tags: Vec<String>,
    pub attributes: Attributes,
}
