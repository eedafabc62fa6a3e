//! Signed links placed in messages (unsubscribe, tracked clicks) and the
//! keys that sign them. The key comes from `http.secret` when set (with
//! `http.previous_secrets`, or the further lines of `http.secret_file`, still
//! verifying); otherwise tend generates one on first use and keeps it in the
//! database, so every daemon sharing the database signs and verifies with
//! the same key and links survive restarts. `tend keys rotate` makes a new
//! stored key sign while the old ones keep verifying; running daemons pick
//! it up at their next tick ([`Keys::refresh`]).

use crate::config::Settings;
use crate::domain::{ClickToken, TokenKey, UnsubToken};
use crate::store::StoreError;
use crate::store::prelude::*;
use chrono::{DateTime, Utc};
use std::sync::{Arc, RwLock};

/// The name of the stored link key; retired ones are `link-signing@TIME`.
pub const LINK_KEY: &str = "link-signing";

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot load the link-signing secret: {0}")]
    Store(#[from] StoreError),
    #[error("no randomness available to generate the link-signing secret: {0}")]
    Random(String),
    #[error("the stored link-signing secret is too short")]
    ShortSecret,
}

/// The key ring a process signs and verifies with, shared by everything
/// in it (sender, HTTP listener, inbound) and refreshed in place.
#[derive(Debug, Clone)]
pub struct Keys(Arc<RwLock<TokenKey>>);

impl Keys {
    /// A ring that never changes (tests, one-shot commands).
    pub fn fixed(key: TokenKey) -> Keys {
        Keys(Arc::new(RwLock::new(key)))
    }

    pub async fn load<S: Store>(
        store: &S,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Keys, LinkError> {
        Ok(Keys::fixed(ring(store, settings, now).await?))
    }

    /// The ring as it is now.
    pub fn current(&self) -> TokenKey {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the ring again (after a rotation); whether it changed.
    pub async fn refresh<S: Store>(
        &self,
        store: &S,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<bool, LinkError> {
        let fresh = ring(store, settings, now).await?;
        let mut key = self.0.write().unwrap_or_else(|e| e.into_inner());
        let changed = *key != fresh;
        *key = fresh;
        Ok(changed)
    }
}

/// Builds link URLs for one public base URL.
#[derive(Debug, Clone)]
pub struct Links {
    keys: Keys,
    base: String,
}

impl Links {
    pub async fn load<S: Store>(
        store: &S,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Self, LinkError> {
        Ok(Self::new(Keys::load(store, settings, now).await?, settings))
    }

    pub fn new(keys: Keys, settings: &Settings) -> Self {
        Self {
            keys,
            base: settings.http.public_url.trim_end_matches('/').to_string(),
        }
    }

    /// The ring as it is now: its newest secret signs.
    pub fn key(&self) -> TokenKey {
        self.keys.current()
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The one-click unsubscribe URL for a contact and campaign.
    pub fn unsubscribe_url(&self, contact_id: i64, campaign: &str) -> String {
        let token = self.key().sign(&UnsubToken {
            contact_id,
            campaign: campaign.to_string(),
        });
        format!("{}/u/{token}", self.base)
    }
}

impl Links {
    /// A signed redirect to `url` that records a `click` first.
    pub fn click_url(&self, contact_id: i64, campaign: &str, step: u32, url: &str) -> String {
        let token = self.key().sign_click(&ClickToken {
            contact_id,
            campaign: campaign.to_string(),
            step,
            url: url.to_string(),
        });
        format!("{}/c/{token}", self.base)
    }
}

/// Replaces every http(s) link in `text` with `track(url)`. In HTML only
/// `href` values are links; in plain text a URL runs to the next space or
/// bracket, without trailing punctuation.
pub fn rewrite_links(text: &str, html: bool, mut track: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let found = if html {
            ["href=\"http", "href='http"]
                .iter()
                .filter_map(|m| {
                    rest.find(m)
                        .map(|i| (i + 6, rest.as_bytes()[i + 5] as char))
                })
                .min()
        } else {
            ["http://", "https://"]
                .iter()
                .filter_map(|m| rest.find(m).map(|i| (i, ' ')))
                .min()
        };
        let Some((start, quote)) = found else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let mut end = if html {
            tail.find(quote).unwrap_or(tail.len())
        } else {
            tail.find(|c: char| c.is_whitespace() || "<>\"'()[]".contains(c))
                .unwrap_or(tail.len())
        };
        if !html {
            while end > 0 && ".,;:!?".contains(&tail[..end][end - 1..]) {
                end -= 1;
            }
        }
        let url = &tail[..end];
        let is_url = url.len() > "https://".len();
        out.push_str(&if is_url { track(url) } else { url.to_string() });
        rest = &tail[end..];
    }
}

/// The configured secrets (newest first), else the stored ones: the
/// current key (made on first use) and the retired ones not yet removed.
async fn ring<S: Store>(
    store: &S,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<TokenKey, LinkError> {
    if let Some(secret) = &settings.http.secret {
        let secrets = std::iter::once(secret)
            .chain(&settings.http.previous_secrets)
            .map(|s| s.expose().as_bytes().to_vec())
            .collect();
        return TokenKey::ring(secrets).ok_or(LinkError::ShortSecret);
    }
    let mut candidate = [0u8; 32];
    getrandom::fill(&mut candidate).map_err(|e| LinkError::Random(e.to_string()))?;
    let current = store.secret(LINK_KEY, &candidate, now).await?;
    let retired = store
        .secrets_named(LINK_KEY)
        .await?
        .into_iter()
        .filter(|s| s.name != LINK_KEY)
        .map(|s| s.value);
    TokenKey::ring(std::iter::once(current).chain(retired).collect()).ok_or(LinkError::ShortSecret)
}

/// Makes a new stored key sign; the old one keeps verifying until retired.
/// Returns the new key's fingerprint.
pub async fn rotate<S: Store>(store: &S, now: DateTime<Utc>) -> Result<String, LinkError> {
    // Make sure there is a current key to retire (a fresh database has none yet).
    let mut first = [0u8; 32];
    getrandom::fill(&mut first).map_err(|e| LinkError::Random(e.to_string()))?;
    store.secret(LINK_KEY, &first, now).await?;
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| LinkError::Random(e.to_string()))?;
    let retired_as = format!("{LINK_KEY}@{}", now.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
    store
        .rotate_secret(LINK_KEY, &fresh, &retired_as, now)
        .await?;
    Ok(crate::domain::fingerprint(&fresh))
}

#[cfg(test)]
mod tests {
    use super::rewrite_links;

    #[test]
    fn rewrites_html_hrefs_and_plain_text_urls_only() {
        let mark = |u: &str| format!("T[{u}]");
        assert_eq!(
            rewrite_links(
                r#"<a href="https://a.example/x?y=1">see</a> https://not-in-html.example"#,
                true,
                mark
            ),
            r#"<a href="T[https://a.example/x?y=1]">see</a> https://not-in-html.example"#
        );
        assert_eq!(
            rewrite_links(
                "Visit https://a.example/new. Or (https://b.example/x), bye",
                false,
                mark
            ),
            "Visit T[https://a.example/new]. Or (T[https://b.example/x]), bye"
        );
        assert_eq!(rewrite_links("no links here", false, mark), "no links here");
    }
}
