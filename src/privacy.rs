//! A person's rights over what tend holds: everything about one address
//! (export), erasing it while keeping just enough to never email them again
//! (a keyed hash of the address, checked at every import), and retention
//! rules that forget message bodies, events and raw inbound mail.
//!
//! The hash is HMAC-SHA256 under the `erasure` secret kept in the database
//! (made on first use): without the database, a hash cannot be tested
//! against a list of addresses.

use crate::config::RetentionSettings;
use crate::domain::{EmailAddress, NewSuppression, SuppressionReason, SuppressionScope};
use crate::store::prelude::*;
use crate::store::{Erased, PersonalData, RetentionCutoffs, RetentionRun, StoreError};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;

const ERASURE_SECRET: &str = "erasure";

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no randomness available to make the erasure key: {0}")]
    Random(String),
}

/// The key that turns an address into its erasure hash.
#[derive(Clone)]
pub struct ErasureKey(Vec<u8>);

impl std::fmt::Debug for ErasureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErasureKey(***)")
    }
}

impl ErasureKey {
    pub async fn load<S: Store>(store: &S, now: DateTime<Utc>) -> Result<Self, PrivacyError> {
        let mut candidate = [0u8; 32];
        getrandom::fill(&mut candidate).map_err(|e| PrivacyError::Random(e.to_string()))?;
        Ok(Self(store.secret(ERASURE_SECRET, &candidate, now).await?))
    }

    /// The hash kept for an (already normalised, lower-case) address.
    pub fn hash(&self, address: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(address.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Everything held about `address`; `None` when tend does not know it.
pub async fn export<S: Store>(
    store: &S,
    address: &EmailAddress,
) -> Result<Option<PersonalData>, PrivacyError> {
    let Some(contact) = store.contact_by_email(address).await? else {
        return Ok(None);
    };
    Ok(store.personal_data(contact.id).await?)
}

/// Erases `address`; `None` when tend does not know it.
pub async fn erase<S: Store>(
    store: &S,
    address: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<Option<(i64, Erased)>, PrivacyError> {
    let Some(contact) = store.contact_by_email(address).await? else {
        return Ok(None);
    };
    let key = ErasureKey::load(store, now).await?;
    let erased = store
        .erase_contact(contact.id, &key.hash(address.as_str()), now)
        .await?;
    Ok(Some((contact.id, erased)))
}

/// Checks imported addresses against the erasure list.
#[derive(Debug)]
pub struct ErasureList {
    key: ErasureKey,
    reasons: HashMap<String, SuppressionReason>,
}

impl ErasureList {
    pub async fn load<S: Store>(store: &S, now: DateTime<Utc>) -> Result<Self, PrivacyError> {
        Ok(Self {
            key: ErasureKey::load(store, now).await?,
            reasons: store.erasures().await?.into_iter().collect(),
        })
    }

    /// Suppresses again every address among `addresses` that was erased:
    /// a person who asked to be forgotten is not brought back by an import.
    /// Returns how many.
    pub async fn suppress_returning<S: Store>(
        &self,
        store: &S,
        addresses: impl IntoIterator<Item = &str>,
        now: DateTime<Utc>,
    ) -> Result<u64, PrivacyError> {
        if self.reasons.is_empty() {
            return Ok(0);
        }
        let mut again = 0;
        for address in addresses {
            let Some(reason) = self.reasons.get(&self.key.hash(address)) else {
                continue;
            };
            let suppression = NewSuppression {
                value: address.to_string(),
                scope: SuppressionScope::Address,
                reason: *reason,
                source: "erasure".into(),
                detail: "erased on request earlier; imported again".into(),
            };
            if store.add_suppression(&suppression, now).await? {
                again += 1;
            }
        }
        Ok(again)
    }
}

/// The cutoffs the retention settings give at `now`.
pub fn cutoffs(retention: &RetentionSettings, now: DateTime<Utc>) -> RetentionCutoffs {
    let before = |keep: &Option<crate::domain::Duration>| keep.map(|k| now - k.to_chrono());
    RetentionCutoffs {
        message_bodies: before(&retention.message_bodies),
        events: before(&retention.events),
        inbound_raw: before(&retention.inbound_raw),
    }
}

/// Applies the retention rules once.
pub async fn apply_retention<S: Store>(
    store: &S,
    retention: &RetentionSettings,
    now: DateTime<Utc>,
) -> Result<RetentionRun, PrivacyError> {
    Ok(store.apply_retention(&cutoffs(retention, now), now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_keyed_and_stable() {
        let a = ErasureKey(b"one key of 32 bytes, more or less".to_vec());
        let b = ErasureKey(b"another key entirely, same length".to_vec());
        assert_eq!(a.hash("ana@example.com"), a.hash("ana@example.com"));
        assert_ne!(a.hash("ana@example.com"), b.hash("ana@example.com"));
        assert_ne!(a.hash("ana@example.com"), a.hash("ben@example.com"));
        assert_eq!(a.hash("ana@example.com").len(), 64);
        assert!(!a.hash("ana@example.com").contains("ana"));
    }
}
