//! Signed links placed in messages (unsubscribe today). The signing key
//! comes from `http.secret` when set; otherwise tend generates one on first
//! use and keeps it in the database, so every daemon sharing the database
//! signs and verifies with the same key and links survive restarts.

use crate::config::Settings;
use crate::domain::{ClickToken, TokenKey, UnsubToken};
use crate::store::StoreError;
use crate::store::prelude::*;
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

impl Links {
    /// A signed redirect to `url` that records a `click` first.
    pub fn click_url(&self, contact_id: i64, campaign: &str, step: u32, url: &str) -> String {
        let token = self.key.sign_click(&ClickToken {
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
