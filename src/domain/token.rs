//! Signed links. An unsubscribe token names a contact and a campaign — never
//! the raw address — and carries an HMAC-SHA256 tag, so a forged, altered or
//! truncated token is refused without touching the database.
//!
//! Format: `base64url(payload) "." base64url(tag[..16])`, payload
//! `v1:CONTACT_ID:CAMPAIGN`.
//!
//! A key is a ring: the newest secret signs, every secret in it verifies,
//! so rotating the secret does not break links in mail already sent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the tag kept in a token: 128 bits is plenty against forgery and keeps URLs short.
const TAG_LEN: usize = 16;

/// The secrets that sign and verify links, newest first.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey(Vec<Vec<u8>>);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

/// A secret's public name: the first 8 bytes of SHA-256 over it, in hex.
pub fn fingerprint(secret: &[u8]) -> String {
    use sha2::Digest;
    Sha256::digest(secret)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Who asked to stop, for which campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubToken {
    pub contact_id: i64,
    pub campaign: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match")]
    BadSignature,
}

fn mac_with(secret: &[u8], payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload);
    mac
}

impl TokenKey {
    /// A secret of its own for `purpose`, derived from the signing secret
    /// (HMAC-SHA256, hex); a rotation changes it.
    pub fn derive(&self, purpose: &str) -> String {
        mac_with(&self.0[0], purpose.as_bytes())
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A key needs at least 16 bytes of secret.
    pub fn new(secret: &[u8]) -> Option<Self> {
        (secret.len() >= 16).then(|| Self(vec![secret.to_vec()]))
    }

    /// A ring: `secrets[0]` signs, all verify. Every secret needs 16 bytes.
    pub fn ring(secrets: Vec<Vec<u8>>) -> Option<Self> {
        (!secrets.is_empty() && secrets.iter().all(|s| s.len() >= 16)).then_some(Self(secrets))
    }

    /// Short public names of the secrets, newest first (for `tend keys list`).
    pub fn fingerprints(&self) -> Vec<String> {
        self.0.iter().map(|s| fingerprint(s)).collect()
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        mac_with(&self.0[0], payload)
    }

    /// Whether any secret of the ring made `tag` (a prefix) for `payload`.
    /// Every secret is tried, so the time taken does not say which matched.
    fn verifies(&self, payload: &[u8], tag: &[u8]) -> bool {
        self.0.iter().fold(false, |found, secret| {
            mac_with(secret, payload).verify_truncated_left(tag).is_ok() | found
        })
    }

    /// `base64url(payload) "." base64url(tag)`: the envelope every token shares.
    fn seal(&self, payload: &str) -> String {
        let tag = self.mac(payload.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN])
        )
    }

    /// The payload of a sealed token, after a constant-time tag check.
    fn open(&self, text: &str) -> Result<String, TokenError> {
        let (payload, tag) = text.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        if tag.len() != TAG_LEN {
            return Err(TokenError::Malformed);
        }
        if !self.verifies(&payload, &tag) {
            return Err(TokenError::BadSignature);
        }
        String::from_utf8(payload).map_err(|_| TokenError::Malformed)
    }

    /// The full HMAC-SHA256 tag of `payload`, for token formats that cannot
    /// use the base64 envelope above: a VERP return path must survive MTAs
    /// that fold the case of the local part (`crate::inbound::verp`).
    pub fn tag(&self, payload: &[u8]) -> [u8; 32] {
        self.mac(payload).finalize().into_bytes().into()
    }

    /// Whether `tag` is the start of `payload`'s tag under any secret of
    /// the ring, compared in constant time.
    pub fn verify_tag(&self, payload: &[u8], tag: &[u8]) -> bool {
        self.verifies(payload, tag)
    }

    pub fn sign(&self, token: &UnsubToken) -> String {
        self.seal(&format!("v1:{}:{}", token.contact_id, token.campaign))
    }

    pub fn verify(&self, text: &str) -> Result<UnsubToken, TokenError> {
        let payload = self.open(text)?;
        let mut parts = payload.splitn(3, ':');
        let (Some("v1"), Some(id), Some(campaign)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        Ok(UnsubToken {
            contact_id: id.parse().map_err(|_| TokenError::Malformed)?,
            campaign: campaign.to_string(),
        })
    }
}

/// A tracked link: who clicked which link of which message. The target URL
/// is inside the signed payload, so the redirect can only go where tend sent
/// it (no open redirect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickToken {
    pub contact_id: i64,
    pub campaign: String,
    pub step: u32,
    pub url: String,
}

/// Separates payload fields; it cannot appear in ids or in a URL.
const SEP: char = '\u{1f}';

impl TokenKey {
    pub fn sign_click(&self, click: &ClickToken) -> String {
        self.seal(&format!(
            "c1{SEP}{}{SEP}{}{SEP}{}{SEP}{}",
            click.contact_id, click.campaign, click.step, click.url
        ))
    }

    pub fn verify_click(&self, text: &str) -> Result<ClickToken, TokenError> {
        let payload = self.open(text)?;
        let parts: Vec<&str> = payload.splitn(5, SEP).collect();
        let ["c1", contact, campaign, step, url] = parts[..] else {
            return Err(TokenError::Malformed);
        };
        Ok(ClickToken {
            contact_id: contact.parse().map_err(|_| TokenError::Malformed)?,
            campaign: campaign.to_string(),
            step: step.parse().map_err(|_| TokenError::Malformed)?,
            url: url.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(b"0123456789abcdef-test-secret").unwrap()
    }

    #[test]
    fn a_signed_token_verifies_and_hides_the_address() {
        let token = UnsubToken {
            contact_id: 42,
            campaign: "win-back".into(),
        };
        let text = key().sign(&token);
        assert!(!text.contains('@'));
        assert_eq!(key().verify(&text), Ok(token));
    }

    #[test]
    fn forged_altered_and_truncated_tokens_are_refused() {
        let text = key().sign(&UnsubToken {
            contact_id: 42,
            campaign: "win-back".into(),
        });
        let other = TokenKey::new(b"another-secret-of-16+bytes").unwrap();
        assert_eq!(other.verify(&text), Err(TokenError::BadSignature));
        let (payload, tag) = text.split_once('.').unwrap();
        let altered = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("v1:43:win-back"));
        assert_eq!(key().verify(&altered), Err(TokenError::BadSignature));
        assert_eq!(
            key().verify(&text[..text.len() - 2]),
            Err(TokenError::Malformed)
        );
        assert_eq!(key().verify(payload), Err(TokenError::Malformed));
        assert_eq!(key().verify(""), Err(TokenError::Malformed));
    }

    #[test]
    fn after_rotation_old_and_new_secrets_verify_and_a_removed_one_does_not() {
        let old = b"the-old-secret-of-16+bytes".to_vec();
        let new = b"the-new-secret-of-16+bytes".to_vec();
        let token = UnsubToken {
            contact_id: 42,
            campaign: "win-back".into(),
        };
        let by_old = TokenKey::new(&old).unwrap().sign(&token);
        let ring = TokenKey::ring(vec![new.clone(), old.clone()]).unwrap();
        let by_ring = ring.sign(&token);
        assert_eq!(ring.verify(&by_old), Ok(token.clone()), "mail already sent");
        assert_eq!(ring.verify(&by_ring), Ok(token.clone()));
        // The newest secret signs.
        assert_eq!(by_ring, TokenKey::new(&new).unwrap().sign(&token));
        let retired = TokenKey::new(&new).unwrap();
        assert_eq!(retired.verify(&by_old), Err(TokenError::BadSignature));
        assert!(ring.verify_tag(b"x", &TokenKey::new(&old).unwrap().tag(b"x")[..10]));
        assert!(!retired.verify_tag(b"x", &TokenKey::new(&old).unwrap().tag(b"x")[..10]));
        assert_eq!(
            ring.fingerprints(),
            vec![fingerprint(&new), fingerprint(&old)]
        );
        assert!(TokenKey::ring(vec![new, b"short".to_vec()]).is_none());
        assert!(TokenKey::ring(Vec::new()).is_none());
    }

    #[test]
    fn a_click_token_binds_its_target() {
        let click = ClickToken {
            contact_id: 7,
            campaign: "win-back".into(),
            step: 1,
            url: "https://acme.example/new?ref=mail&x=1".into(),
        };
        let text = key().sign_click(&click);
        assert_eq!(key().verify_click(&text), Ok(click));
        // Swapping the target for another site breaks the signature.
        let (_, tag) = text.split_once('.').unwrap();
        let evil =
            URL_SAFE_NO_PAD.encode("c1\u{1f}7\u{1f}win-back\u{1f}1\u{1f}https://evil.example/");
        assert_eq!(
            key().verify_click(&format!("{evil}.{tag}")),
            Err(TokenError::BadSignature)
        );
        // An unsubscribe token is not a click token.
        let unsub = key().sign(&UnsubToken {
            contact_id: 7,
            campaign: "win-back".into(),
        });
        assert_eq!(key().verify_click(&unsub), Err(TokenError::Malformed));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenKey::new(b"short").is_none());
    }
}
