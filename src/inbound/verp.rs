//! Return paths that name the send (VERP): `bounces+TOKEN@bounce.domain`.
//!
//! Every message leaves with an envelope sender that carries a short signed
//! reference to its send row, so a delivery report, an auto-reply or a
//! feedback-loop complaint sent back to it names exactly one send, and so one
//! contact, without guessing from addresses in the report.
//!
//! `TOKEN` is `SEND-TAG`: the send id in decimal, a dash, and the first 80 bits
//! of an HMAC-SHA256 (the link-signing [`TokenKey`]) over the send id and the
//! token's [`Purpose`], in lower-case base32. Why not the base64 envelope of
//! the signed links: base64 is case-sensitive, and MTAs may fold the case of a
//! local part; digits, `a-z`, `2-7` and `-` survive that, and the longest token
//! (`unsubscribe+` and a 19-digit id) keeps the local part at 48 of the 64
//! octets RFC 5321 allows. 80 bits are plenty against forgery: each guess
//! costs the forger a mail through our receiver.
//!
//! The purpose is part of what is signed: a token minted for the envelope
//! sender (`bounces+`) is not valid in a `Reply-To` (`reply+`) or a `mailto:`
//! unsubscribe address (`unsubscribe+`), and the other way round.

use crate::domain::TokenKey;
use serde::Serialize;
use std::fmt;

/// 80 bits of tag: 16 base32 characters.
const TAG_BYTES: usize = 10;
const TAG_CHARS: usize = TAG_BYTES * 8 / 5;
/// `i64::MAX` has 19 digits.
const MAX_ID_DIGITS: usize = 19;

/// What an address carrying a token is for; part of the signed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The envelope sender (`Return-Path`): bounces, auto-replies, complaints.
    Bounce,
    /// The `Reply-To` address: human answers.
    Reply,
    /// The `mailto:` of `List-Unsubscribe`.
    Unsubscribe,
}

impl Purpose {
    const ALL: [Purpose; 3] = [Purpose::Bounce, Purpose::Reply, Purpose::Unsubscribe];

    /// The local part before the `+`.
    pub fn prefix(self) -> &'static str {
        match self {
            Purpose::Bounce => "bounces",
            Purpose::Reply => "reply",
            Purpose::Unsubscribe => "unsubscribe",
        }
    }
}

/// A verified reference to one send row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SendRef {
    pub send_id: i64,
    pub purpose: Purpose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerpError {
    /// Not one of our token addresses at all (another local part): not an error
    /// for a caller scanning many addresses, just nothing found.
    #[error("the address carries no return-path token")]
    NotVerp,
    #[error("the return-path token is malformed or truncated")]
    Malformed,
    #[error("the return-path token's signature does not match")]
    BadSignature,
}

impl VerpError {
    /// A token was there but is not ours: forged, truncated or mangled.
    pub fn is_rejection(self) -> bool {
        !matches!(self, VerpError::NotVerp)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

fn signed_payload(purpose: Purpose, send_id: i64) -> String {
    // Distinct from the payloads of the link tokens (`v1:…`, `c1…`).
    format!("tend-verp-v1\u{1f}{}\u{1f}{send_id}", purpose.prefix())
}

/// `SEND-TAG` for `send_id` and `purpose`.
pub fn token(key: &TokenKey, purpose: Purpose, send_id: i64) -> String {
    let tag = key.tag(signed_payload(purpose, send_id).as_bytes());
    format!("{send_id}-{}", base32(&tag[..TAG_BYTES]))
}

/// `PREFIX+TOKEN@domain`.
pub fn address(key: &TokenKey, purpose: Purpose, send_id: i64, domain: &str) -> String {
    format!(
        "{}+{}@{}",
        purpose.prefix(),
        token(key, purpose, send_id),
        domain.to_ascii_lowercase()
    )
}

/// The envelope sender (`MAIL FROM`) of a send: `bounces+TOKEN@bounce_domain`.
pub fn envelope_sender(key: &TokenKey, send_id: i64, bounce_domain: &str) -> String {
    address(key, Purpose::Bounce, send_id, bounce_domain)
}

/// A `Reply-To` address for a send: `reply+TOKEN@domain`.
pub fn reply_address(key: &TokenKey, send_id: i64, domain: &str) -> String {
    address(key, Purpose::Reply, send_id, domain)
}

/// Reads `PREFIX+TOKEN@domain` (any case, optionally in `<…>`) and checks its
/// signature. Any domain is accepted: the MTA routed the mail to us, and the
/// tag, not the domain, is what proves the token is ours.
pub fn parse_recipient(key: &TokenKey, address: &str) -> Result<SendRef, VerpError> {
    let address = address.trim();
    let address = address
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(address)
        .to_ascii_lowercase();
    let (local, domain) = address.rsplit_once('@').ok_or(VerpError::NotVerp)?;
    let (prefix, token) = local.split_once('+').ok_or(VerpError::NotVerp)?;
    let purpose = Purpose::ALL
        .into_iter()
        .find(|p| p.prefix() == prefix)
        .ok_or(VerpError::NotVerp)?;
    if domain.is_empty() {
        return Err(VerpError::Malformed);
    }
    let send_id = parse_token(key, purpose, token)?;
    Ok(SendRef { send_id, purpose })
}

fn parse_token(key: &TokenKey, purpose: Purpose, token: &str) -> Result<i64, VerpError> {
    let (id, tag) = token.split_once('-').ok_or(VerpError::Malformed)?;
    let canonical_id = !id.is_empty()
        && id.len() <= MAX_ID_DIGITS
        && id.bytes().all(|b| b.is_ascii_digit())
        && !id.starts_with('0');
    if !canonical_id || tag.len() != TAG_CHARS {
        return Err(VerpError::Malformed);
    }
    let send_id: i64 = id.parse().map_err(|_| VerpError::Malformed)?;
    let tag = unbase32(tag).ok_or(VerpError::Malformed)?;
    if key.verify_tag(signed_payload(purpose, send_id).as_bytes(), &tag) {
        Ok(send_id)
    } else {
        Err(VerpError::BadSignature)
    }
}

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32, lower case, no padding; `bytes.len() * 8` must be a
/// multiple of 5 (it is for the 10-byte tag).
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    out
}

fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    // Leftover bits must be zero padding, or two spellings would decode alike.
    (buffer & ((1 << bits) - 1) == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(b"0123456789abcdef-test-secret").unwrap()
    }

    #[test]
    fn an_envelope_sender_names_its_send_and_survives_case_folding() {
        let address = envelope_sender(&key(), 4217, "Bounce.Acme.example");
        let local = address.split('@').next().unwrap();
        assert!(local.starts_with("bounces+4217-"), "{address}");
        assert!(address.ends_with("@bounce.acme.example"));
        let expected = SendRef {
            send_id: 4217,
            purpose: Purpose::Bounce,
        };
        assert_eq!(parse_recipient(&key(), &address), Ok(expected));
        assert_eq!(
            parse_recipient(&key(), &address.to_uppercase()),
            Ok(expected)
        );
        assert_eq!(
            parse_recipient(&key(), &format!(" <{address}> ")),
            Ok(expected)
        );
    }

    #[test]
    fn the_longest_token_fits_the_local_part_limit() {
        let address = address(&key(), Purpose::Unsubscribe, i64::MAX, "x.example");
        let local = address.split('@').next().unwrap();
        assert!(local.len() <= 64, "{} octets: {local}", local.len());
        assert_eq!(
            parse_recipient(&key(), &address).map(|r| r.send_id),
            Ok(i64::MAX)
        );
    }

    #[test]
    fn forged_truncated_and_mangled_tokens_are_rejected() {
        let good = envelope_sender(&key(), 42, "b.example");
        let other = TokenKey::new(b"another-secret-of-16+bytes").unwrap();
        assert_eq!(parse_recipient(&other, &good), Err(VerpError::BadSignature));
        // Another send id under the same tag.
        let forged = good.replacen("+42-", "+43-", 1);
        assert_eq!(
            parse_recipient(&key(), &forged),
            Err(VerpError::BadSignature)
        );
        // One character of the tag changed.
        let at = good.find('@').unwrap();
        let mut mangled = good.clone();
        let last = if &good[at - 1..at] == "a" { "b" } else { "a" };
        mangled.replace_range(at - 1..at, last);
        assert_eq!(
            parse_recipient(&key(), &mangled),
            Err(VerpError::BadSignature)
        );
        // Truncated, padded, non-canonical ids, stray characters.
        let truncated = format!("{}{}", &good[..at - 1], &good[at..]);
        for bad in [
            truncated,
            good.replacen("+42-", "+042-", 1),
            good.replacen("+42-", "+-", 1),
            good.replacen("+42-", "+42", 1),
            good.replacen('@', "1@", 1),
            good.replacen('@', "!@", 1),
            "bounces+@b.example".to_string(),
            "bounces+42-aaaa@".to_string(),
        ] {
            assert_eq!(
                parse_recipient(&key(), &bad),
                Err(VerpError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_token_is_valid_only_for_its_purpose() {
        let bounce = token(&key(), Purpose::Bounce, 7);
        let as_reply = format!("reply+{bounce}@acme.example");
        let as_unsub = format!("unsubscribe+{bounce}@acme.example");
        assert_eq!(
            parse_recipient(&key(), &as_reply),
            Err(VerpError::BadSignature)
        );
        assert_eq!(
            parse_recipient(&key(), &as_unsub),
            Err(VerpError::BadSignature)
        );
        let reply = reply_address(&key(), 7, "acme.example");
        assert_eq!(
            parse_recipient(&key(), &reply),
            Ok(SendRef {
                send_id: 7,
                purpose: Purpose::Reply
            })
        );
    }

    #[test]
    fn other_addresses_are_not_tokens() {
        for address in [
            "ana@acme.example",
            "bounces@acme.example",
            "news+weekly@acme.example",
            "no-at-sign",
            "",
        ] {
            assert_eq!(
                parse_recipient(&key(), address),
                Err(VerpError::NotVerp),
                "{address}"
            );
        }
        assert!(!VerpError::NotVerp.is_rejection());
        assert!(VerpError::BadSignature.is_rejection());
    }

    #[test]
    fn base32_round_trips_and_refuses_non_canonical_spellings() {
        let bytes = [0u8, 1, 2, 253, 254, 255, 16, 32, 64, 128];
        let text = base32(&bytes);
        assert_eq!(text.len(), 16);
        assert_eq!(unbase32(&text).as_deref(), Some(&bytes[..]));
        assert_eq!(base32(b"foobar\0\0\0\0"), "mzxw6ytboiaaaaaa");
        assert_eq!(unbase32("mzxw6ytboI"), None);
        // 4 chars = 20 bits: 2 bytes and 4 bits that must be zero.
        assert_eq!(unbase32("aaab"), None);
        assert_eq!(unbase32("aaaa"), Some(vec![0, 0]));
    }
}
