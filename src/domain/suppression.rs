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
    /// An address (`ana@example.com`) or a whole domain (`example.com`),
    /// as an operator types it (`tend suppress add`, the console).
    pub fn parse(
        value: &str,
        reason: SuppressionReason,
        source: &str,
        detail: &str,
    ) -> Result<Self, String> {
        if value.contains('@') {
            let email = EmailAddress::parse(value).map_err(|e| e.to_string())?;
            return Ok(Self::address(&email, reason, source, detail));
        }
        let domain = value.trim().trim_start_matches('@').to_lowercase();
        let valid = domain.contains('.')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !valid {
            return Err(format!(
                "`{value}` is neither an email address nor a domain like example.com"
            ));
        }
        Ok(Self {
            value: domain,
            scope: SuppressionScope::Domain,
            reason,
            source: source.into(),
            detail: detail.into(),
        })
    }

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
