//! Addresses and domains tend must never email, and why.

use crate::domain::EmailAddress;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionScope {
    Address,
    Domain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionReason {
    Unsubscribe,
    Bounce,
    Complaint,
    Manual,
}

impl SuppressionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribe => "unsubscribe",
            Self::Bounce => "bounce",
            Self::Complaint => "complaint",
            Self::Manual => "manual",
        }
    }
}

impl FromStr for SuppressionReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unsubscribe" => Ok(Self::Unsubscribe),
            "bounce" => Ok(Self::Bounce),
            "complaint" => Ok(Self::Complaint),
            "manual" => Ok(Self::Manual),
            other => Err(format!(
                "unknown suppression reason `{other}` (expected unsubscribe, bounce, complaint or manual)"
            )),
        }
    }
}

/// An address or a whole domain we must not email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSuppression {
    pub value: String,
    pub scope: SuppressionScope,
    pub reason: SuppressionReason,
    pub source: String,
    pub detail: String,
}

impl NewSuppression {
    pub fn address(
        email: &EmailAddress,
        reason: SuppressionReason,
        source: &str,
        detail: &str,
    ) -> Self {
        Self {
            value: email.as_str().to_string(),
            scope: SuppressionScope::Address,
            reason,
            source: source.into(),
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub value: String,
    pub scope: SuppressionScope,
    pub reason: SuppressionReason,
    pub source: String,
    pub detail: String,
    pub created_at: DateTime<Utc>,
}
