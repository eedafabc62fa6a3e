//! What ties an inbound message to a send and a contact: a return-path token,
//! one of our Message-IDs, or an address.
//!
//! From the most to the least precise: a VERP token ([`super::verp`]) names
//! the send row and is signed; our Message-ID
//! (`<tend.SEND.ENROLLMENT.INSTALLATION@domain>`) names the send and is only
//! ours if its installation id is this database's; an address names a contact
//! (or nobody: a forwarded mailbox, a redacted complaint).

use super::verp::{self, SendRef};
use crate::domain::{EmailAddress, TokenKey};
use serde::Serialize;

/// Everything found that identifies the send or the contact. The store side
/// resolves it: token first, then Message-ID, then address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identification {
    /// A verified return-path token (envelope recipient, `Delivered-To`,
    /// `To`, the returned message's `Return-Path`, …).
    pub token: Option<SendRef>,
    /// One of our Message-IDs: the returned message's, or the one a reply
    /// answers (`In-Reply-To`, `References`).
    pub message_id: Option<OurMessageId>,
    /// The contact's address as the message states it: the failed recipient
    /// of a bounce, the complainant of a report, the sender of a reply,
    /// auto-reply or unsubscribe request. Never logged unmasked.
    pub address: Option<EmailAddress>,
    /// Occurrences of tokens that looked like ours but failed their signature
    /// or format: forged, truncated or mangled. They identify nothing.
    pub rejected_tokens: u32,
}

impl Identification {
    /// Whether anything ties the message to one of our sends.
    pub fn names_a_send(&self) -> bool {
        self.token.is_some() || self.message_id.is_some()
    }
}

/// A Message-ID tend gave a send: `<tend.SEND.ENROLLMENT.INSTALLATION@domain>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OurMessageId {
    pub send_id: i64,
    pub enrollment_id: i64,
    pub installation: String,
}

impl OurMessageId {
    /// Reads one Message-ID, with or without its angle brackets. Preview ids
    /// (`tend.preview.…`) and ids of other installations are not sends of ours.
    pub fn parse(text: &str, installation: &str) -> Option<OurMessageId> {
        let text = text.trim();
        let text = text
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .unwrap_or(text);
        let (local, domain) = text.split_once('@')?;
        if domain.is_empty() || domain.contains(['<', '>', '@', ' ']) {
            return None;
        }
        let mut parts = local.split('.');
        let ("tend", Some(send), Some(enrollment), Some(inst), None) = (
            parts.next()?,
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let number = |s: &str| {
            let digits = !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
            digits.then(|| s.parse::<i64>().ok()).flatten()
        };
        if !inst.eq_ignore_ascii_case(installation) || installation.is_empty() {
            return None;
        }
        Some(OurMessageId {
            send_id: number(send)?,
            enrollment_id: number(enrollment)?,
            installation: inst.to_ascii_lowercase(),
        })
    }

    /// The first of our Message-IDs anywhere in `text`: a header value
    /// (`References` lists several), a quoted header, HTML (`&lt;tend.…&gt;`).
    pub fn find(text: &str, installation: &str) -> Option<OurMessageId> {
        let bytes = text.as_bytes();
        let mut from = 0;
        while let Some(at) = find_ascii_ci(&text[from..], "tend.") {
            let start = from + at;
            from = start + 5;
            let before_ok = start == 0 || !is_id_char(bytes[start - 1]);
            if !before_ok {
                continue;
            }
            let end = text[start..]
                .find(|c: char| !(c.is_ascii() && is_id_char(c as u8) || c == '@'))
                .map_or(text.len(), |n| start + n);
            if let Some(id) = OurMessageId::parse(&text[start..end], installation) {
                return Some(id);
            }
        }
        None
    }
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'=')
}

/// Byte offset of `needle` (ASCII) in `haystack`, ignoring ASCII case.
pub(crate) fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Gathers tokens: the first verified one wins, rejections are counted.
#[derive(Debug, Default)]
pub(crate) struct TokenSearch {
    pub found: Option<SendRef>,
    pub rejected: u32,
}

impl TokenSearch {
    /// Tries one address (or a header value holding addresses).
    pub fn offer(&mut self, key: &TokenKey, text: &str) {
        for candidate in token_candidates(text) {
            match verp::parse_recipient(key, candidate) {
                Ok(found) => {
                    self.found.get_or_insert(found);
                }
                Err(e) if e.is_rejection() => self.rejected += 1,
                Err(_) => {}
            }
        }
    }
}

/// Every `PREFIX+…@domain` run in `text` for a known prefix.
fn token_candidates(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for prefix in ["bounces+", "reply+", "unsubscribe+"] {
        let mut from = 0;
        while let Some(at) = find_ascii_ci(&text[from..], prefix) {
            let start = from + at;
            from = start + prefix.len();
            let bytes = text.as_bytes();
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.') {
                continue;
            }
            let end = text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '@')))
                .map_or(text.len(), |n| start + n);
            let candidate = text[start..end].trim_end_matches('.');
            if candidate.contains('@') {
                out.push(candidate);
            }
        }
    }
    out
}

/// The first valid address in a header value such as `"Ana" <ana@x.example>`
/// or `rfc822; ana@x.example`.
pub(crate) fn first_address(text: &str) -> Option<EmailAddress> {
    let text = text.rsplit_once(';').map_or(text, |(_, rest)| rest);
    if let Some(open) = text.find('<') {
        let inner = &text[open + 1..];
        let inner = &inner[..inner.find('>').unwrap_or(inner.len())];
        if let Ok(address) = EmailAddress::parse(inner.trim_start_matches("mailto:")) {
            return Some(address);
        }
    }
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '"' | '\'' | '[' | ']'))
        .map(|word| word.trim_matches(|c: char| matches!(c, '<' | '>' | ':' | '.' | ';')))
        .filter(|word| word.contains('@'))
        .find_map(|word| EmailAddress::parse(word.trim_start_matches("mailto:")).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::verp::Purpose;

    const INST: &str = "a1b2c3d4e5f6";

    #[test]
    fn our_message_id_is_read_with_or_without_brackets() {
        let id = OurMessageId {
            send_id: 12,
            enrollment_id: 7,
            installation: INST.into(),
        };
        assert_eq!(
            OurMessageId::parse("<tend.12.7.a1b2c3d4e5f6@acme.example>", INST),
            Some(id.clone())
        );
        assert_eq!(
            OurMessageId::parse("tend.12.7.A1B2C3D4E5F6@acme.example", INST),
            Some(id)
        );
    }

    #[test]
    fn previews_other_installations_and_lookalikes_are_not_ours() {
        for text in [
            "<tend.preview.welcome.1.7@acme.example>",
            "<tend.12.7.ffffffffffff@acme.example>",
            "<tend.12.7@acme.example>",
            "<tend.12.7.a1b2c3d4e5f6.9@acme.example>",
            "<tend.x.7.a1b2c3d4e5f6@acme.example>",
            "<tend.12.7.a1b2c3d4e5f6@>",
            "<CAF=abc@mail.gmail.example>",
        ] {
            assert_eq!(OurMessageId::parse(text, INST), None, "{text}");
        }
        assert_eq!(
            OurMessageId::parse("<tend.1.2.@acme.example>", ""),
            None,
            "an empty installation matches nothing"
        );
    }

    #[test]
    fn our_message_id_is_found_in_references_and_html() {
        let refs = "<CAF=x@mail.example> <tend.preview.a.1.2@acme.example>\r\n <tend.31.4.a1b2c3d4e5f6@acme.example>";
        assert_eq!(OurMessageId::find(refs, INST).map(|m| m.send_id), Some(31));
        let html = "Message-ID: &lt;tend.5.6.a1b2c3d4e5f6@acme.example&gt;<br>";
        assert_eq!(OurMessageId::find(html, INST).map(|m| m.send_id), Some(5));
        assert_eq!(
            OurMessageId::find("extend.5.6.a1b2c3d4e5f6@a.example", INST),
            None
        );
    }

    #[test]
    fn tokens_are_found_in_header_values_and_forgeries_counted() {
        let key = TokenKey::new(b"0123456789abcdef-test-secret").unwrap();
        let good = verp::envelope_sender(&key, 99, "b.acme.example");
        let forged = good.replacen("+99-", "+98-", 1);
        let mut search = TokenSearch::default();
        search.offer(&key, &format!("Return-Path: <{forged}>"));
        search.offer(&key, "ana@acme.example, news+weekly@acme.example");
        search.offer(&key, &format!("\"Bounces\" <{}>", good.to_uppercase()));
        assert_eq!(
            search.found,
            Some(SendRef {
                send_id: 99,
                purpose: Purpose::Bounce
            })
        );
        assert_eq!(search.rejected, 1);
    }

    #[test]
    fn first_address_reads_the_common_forms() {
        for (text, expected) in [
            ("rfc822; ana@example.com", "ana@example.com"),
            ("rfc822;<Ana@Example.com>", "ana@example.com"),
            ("\"Lopez, Ana\" <ana@example.com>", "ana@example.com"),
            ("<mailto:ana@example.com>", "ana@example.com"),
            ("Ana (ana@example.com)", "ana@example.com"),
        ] {
            assert_eq!(
                first_address(text).map(|a| a.as_str().to_string()),
                Some(expected.to_string()),
                "{text}"
            );
        }
        assert_eq!(first_address("rfc822; redacted"), None);
    }
}
