//! Signed links placed in messages (unsubscribe today). The signing key
//! comes from `http.secret` when set; otherwise tend generates one on first
//! use and keeps it in the database, so every daemon sharing the database
//! signs and verifies with the same key and links survive restarts.

use crate::config::Settings;
use crate::domain::{TokenKey, UnsubToken};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot load the link-signing secret: {0}")]
    Store(#[from] StoreError),
    #[error("no randomness available to generate the link-signing secret: {0}")]
    Random(String),
    #[error("the stored link-signing secret is too short")]
    ShortSecret,
}

/// Builds link URLs for one public base URL.
#[derive(Debug, Clone)]
pub struct Links {
    key: TokenKey,
    base: String,
}

impl Links {
    pub async fn load<S: Store>(
        store: &S,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Self, LinkError> {
        Ok(Self {
            key: signing_key(store, settings, now).await?,
            base: settings.http.public_url.trim_end_matches('/').to_string(),
        })
    }

    pub fn key(&self) -> &TokenKey {
        &self.key
    }

    /// The one-click unsubscribe URL for a contact and campaign.
    pub fn unsubscribe_url(&self, contact_id: i64, campaign: &str) -> String {
        let token = self.key.sign(&UnsubToken {
            contact_id,
            campaign: campaign.to_string(),
        });
        format!("{}/u/{token}", self.base)
    }
}

async fn signing_key<S: Store>(
    store: &S,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<TokenKey, LinkError> {
    if let Some(secret) = &settings.http.secret {
        return TokenKey::new(secret.expose().as_bytes()).ok_or(LinkError::ShortSecret);
    }
    let mut candidate = [0u8; 32];
    getrandom::fill(&mut candidate).map_err(|e| LinkError::Random(e.to_string()))?;
    let stored = store.secret("link-signing", &candidate, now).await?;
    TokenKey::new(&stored).ok_or(LinkError::ShortSecret)
}
