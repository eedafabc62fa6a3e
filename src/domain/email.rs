//! Email addresses, validated and normalized once at the edge.

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A syntactically valid address, lower-cased so that uniqueness is
/// case-insensitive. The longest address SMTP allows is 254 octets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid email address `{input}`: {reason}")]
pub struct EmailError {
    pub input: String,
    pub reason: String,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let err = |reason: &str| EmailError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let text = input.trim();
        if text.is_empty() {
            return Err(err("it is empty"));
        }
        if text.len() > 254 {
            return Err(err("it is longer than 254 characters"));
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err("it contains spaces or control characters"));
        }
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err(err("it has no `@`"));
        };
        if local.is_empty() || domain.is_empty() {
            return Err(err("the part before or after `@` is empty"));
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(err("the domain needs a dot, e.g. `example.com`"));
        }
        // lettre's parser is the RFC 5321 authority for what it will accept on the wire.
        lettre::Address::from_str(text).map_err(|e| err(&e.to_string()))?;
        Ok(Self(text.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// A form safe for logs at info level: `an***@example.com`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks the local part of an address for logs.
pub fn mask(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let keep: String = local.chars().take(2).collect();
            format!("{keep}***@{domain}")
        }
        None => "***".to_string(),
    }
}

impl FromStr for EmailAddress {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_whitespace() {
        let a = EmailAddress::parse("  Ana.Lopez@Example.COM ").unwrap();
        assert_eq!(a.as_str(), "ana.lopez@example.com");
        assert_eq!(a.domain(), "example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "bob",
            "bob@",
            "@x.com",
            "a b@x.com",
            "a@localhost",
            "a@x.com\r\nBcc: e@x.com",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn masks_local_part() {
        assert_eq!(mask("ana@example.com"), "an***@example.com");
    }
}
