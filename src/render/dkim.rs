//! DKIM signing (RFC 6376, relaxed/relaxed; RFC 8463 for Ed25519) over the
//! message exactly as it goes on the wire.
//!
//! lettre's signer hashes its header map, and lettre writes a multipart
//! message's `Content-Type` together with the body, so that signer cannot
//! cover it. Signing the final bytes instead covers every header that is
//! really there, `Content-Type` included, and a verifier sees the same bytes.
//!
//! `From` is listed twice (over-signed): the second entry matches no
//! header, so a `From` added on the way makes the signature fail instead of
//! letting a second sender ride on ours. Headers in the list that a message
//! lacks (`Reply-To` when none is set) are signed as absent the same way.

use crate::config::{DkimAlgorithm, DkimSettings};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};
use std::fmt;

/// What the signature covers, in this order (`h=`).
pub const SIGNED_HEADERS: [&str; 13] = [
    "From",
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "MIME-Version",
    "Content-Type",
];

enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// A loaded key with its selector and domain.
pub struct DkimSigner {
    selector: String,
    domain: String,
    key: Key,
}

impl fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimSigner")
            .field("selector", &self.selector)
            .field("domain", &self.domain)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the DKIM key {path}: {message}")]
    Read { path: String, message: String },
    #[error(
        "not an RSA private key in PEM (PKCS#1 `BEGIN RSA PRIVATE KEY` or PKCS#8 `BEGIN PRIVATE KEY`)"
    )]
    Rsa,
    #[error("not an Ed25519 key: expected the base64 of the 32-byte seed")]
    Ed25519,
}

impl DkimSigner {
    /// Loads the `[dkim]` key file.
    pub fn load(dkim: &DkimSettings) -> Result<Self, KeyError> {
        let key = std::fs::read_to_string(&dkim.key_file).map_err(|e| KeyError::Read {
            path: dkim.key_file.display().to_string(),
            message: e.to_string(),
        })?;
        match dkim.algorithm {
            DkimAlgorithm::Rsa => Self::rsa(&dkim.selector, &dkim.domain, &key),
            DkimAlgorithm::Ed25519 => Self::ed25519(&dkim.selector, &dkim.domain, &key),
        }
    }

    /// The DNS TXT record receivers look up at `SELECTOR._domainkey.DOMAIN`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record's value: `v=DKIM1; k=rsa; p=…` (the public key).
    pub fn dns_record(&self) -> String {
        use rsa::pkcs8::EncodePublicKey;
        let (k, p) = match &self.key {
            Key::Rsa(key) => (
                "rsa",
                key.to_public_key()
                    .to_public_key_der()
                    .map(|der| STANDARD.encode(der.as_bytes()))
                    .unwrap_or_default(),
            ),
            Key::Ed25519(key) => ("ed25519", STANDARD.encode(key.verifying_key().to_bytes())),
        };
        format!("v=DKIM1; k={k}; p={p}")
    }

    /// The RSA modulus size in bits (`None` for Ed25519).
    pub fn rsa_bits(&self) -> Option<usize> {
        use rsa::traits::PublicKeyParts;
        match &self.key {
            Key::Rsa(key) => Some(key.size() * 8),
            Key::Ed25519(_) => None,
        }
    }

    pub fn rsa(selector: &str, domain: &str, pem: &str) -> Result<Self, KeyError> {
        let pem = pem.trim();
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|_| KeyError::Rsa)?;
        Ok(Self::new(selector, domain, Key::Rsa(Box::new(key))))
    }

    pub fn ed25519(selector: &str, domain: &str, seed_base64: &str) -> Result<Self, KeyError> {
        let seed: [u8; 32] = STANDARD
            .decode(seed_base64.trim())
            .map_err(|_| KeyError::Ed25519)?
            .try_into()
            .map_err(|_| KeyError::Ed25519)?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        Ok(Self::new(selector, domain, Key::Ed25519(Box::new(key))))
    }

    fn new(selector: &str, domain: &str, key: Key) -> Self {
        Self {
            selector: selector.to_string(),
            domain: domain.to_lowercase(),
            key,
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Rsa(_) => "rsa-sha256",
            Key::Ed25519(_) => "ed25519-sha256",
        }
    }

    /// The message with a `DKIM-Signature` header in front. `message` is
    /// CRLF-terminated header lines, an empty line, the body. `timestamp`
    /// (`t=`) is the message's own Date, so a preview at the same instant
    /// is the same bytes.
    pub fn sign(&self, message: &[u8], timestamp: i64) -> Vec<u8> {
        let (head, body) = split(message);
        let body_hash = STANDARD.encode(Sha256::digest(relaxed_body(body)));
        let names: Vec<String> = SIGNED_HEADERS.iter().map(|h| h.to_lowercase()).collect();
        let unsigned = format!(
            "DKIM-Signature: v=1; a={}; c=relaxed/relaxed; d={}; s={};\r\n\tt={timestamp}; h={};\r\n\tbh={body_hash};\r\n\tb=",
            self.algorithm(),
            self.domain,
            self.selector,
            fold_list(&names),
        );
        let mut hashed = Sha256::new();
        let fields = fields(head);
        let mut used = vec![false; fields.len()];
        for name in &names {
            // The last unused instance, bottom up (RFC 6376 §5.4.2).
            if let Some(i) = (0..fields.len())
                .rev()
                .find(|&i| !used[i] && field_name(fields[i]).eq_ignore_ascii_case(name))
            {
                used[i] = true;
                hashed.update(relaxed_header(fields[i]));
                hashed.update(b"\r\n");
            }
        }
        hashed.update(relaxed_header(unsigned.as_bytes()));
        let digest = hashed.finalize();
        let signature = match &self.key {
            Key::Rsa(key) => key
                .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
                .expect("an RSA key of a sane size signs a SHA-256 digest"),
            Key::Ed25519(key) => key.sign(&digest).to_bytes().to_vec(),
        };
        let b = STANDARD.encode(signature);
        let mut out = Vec::with_capacity(message.len() + unsigned.len() + b.len() + 64);
        out.extend_from_slice(unsigned.as_bytes());
        // Lines of at most ~76 characters: folding whitespace inside b= is ignored.
        for (i, chunk) in b.as_bytes().chunks(72).enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n\t ");
            }
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(message);
        out
    }
}

/// `h=` folded so no header line runs long.
fn fold_list(names: &[String]) -> String {
    let mut out = String::new();
    let mut line = 0;
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(':');
            line += 1;
            if line + name.len() > 60 {
                out.push_str("\r\n\t ");
                line = 0;
            }
        }
        out.push_str(name);
        line += name.len();
    }
    out
}

/// (header block without its final CRLF, body)
fn split(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&message[..at], &message[at + 4..]),
        None => (message, &[]),
    }
}

/// Each header field with its continuation lines, without the final CRLF.
fn fields(head: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < head.len() {
        if head[i..].starts_with(b"\r\n") {
            let next = head.get(i + 2).copied();
            if !matches!(next, Some(b' ' | b'\t')) {
                out.push(&head[start..i]);
                start = i + 2;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    if start < head.len() {
        out.push(&head[start..]);
    }
    out
}

fn field_name(field: &[u8]) -> &str {
    let end = field.iter().position(|&c| c == b':').unwrap_or(field.len());
    std::str::from_utf8(&field[..end])
        .unwrap_or_default()
        .trim()
}

/// RFC 6376 §3.4.2: name lower-cased, value unfolded, whitespace runs to
/// one space, none around the colon or at the end.
fn relaxed_header(field: &[u8]) -> Vec<u8> {
    let colon = field.iter().position(|&c| c == b':').unwrap_or(field.len());
    let name = field_name(field).to_ascii_lowercase();
    let mut value = Vec::with_capacity(field.len());
    let mut space = false;
    for &c in field.get(colon + 1..).unwrap_or_default() {
        match c {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && !value.is_empty() {
                    value.push(b' ');
                }
                space = false;
                value.push(c);
            }
        }
    }
    let mut out = name.into_bytes();
    out.push(b':');
    out.extend_from_slice(&value);
    out
}

/// RFC 6376 §3.4.4: trailing whitespace of each line removed, runs of
/// whitespace to one space, empty lines at the end removed, one CRLF kept.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (line, next) = match rest.windows(2).position(|w| w == b"\r\n") {
            Some(at) => (&rest[..at], &rest[at + 2..]),
            None => (rest, &[][..]),
        };
        let mut out = Vec::with_capacity(line.len());
        let mut space = false;
        for &c in line {
            if c == b' ' || c == b'\t' {
                space = true;
            } else {
                if space {
                    out.push(b' ');
                }
                space = false;
                out.push(c);
            }
        }
        lines.push(out);
        rest = next;
    }
    while lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    let mut out = Vec::with_capacity(body.len());
    for line in lines {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_canonicalization_follows_rfc_6376_examples() {
        // RFC 6376 §3.4.5.
        let head = b"A: X\r\nB : Y\t\r\n\tZ  ";
        let f = fields(head);
        assert_eq!(f.len(), 2);
        assert_eq!(relaxed_header(f[0]), b"a:X");
        assert_eq!(relaxed_header(f[1]), b"b:Y Z");
        assert_eq!(relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(b""), b"");
        assert_eq!(relaxed_body(b"x"), b"x\r\n");
    }

    #[test]
    fn the_signature_goes_in_front_and_names_every_header() {
        let seed = STANDARD.encode([7u8; 32]);
        let signer = DkimSigner::ed25519("s1", "Acme.example", &seed).unwrap();
        let message = b"From: a@acme.example\r\nSubject: hi\r\n\r\nbody\r\n";
        let signed = String::from_utf8(signer.sign(message, 1_700_000_000)).unwrap();
        assert!(
            signed.starts_with(
                "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=acme.example; s=s1;"
            ),
            "{signed}"
        );
        assert!(signed.contains("h=from:from:to:subject"), "{signed}");
        assert!(signed.contains("t=1700000000"));
        assert!(signed.ends_with("\r\n\r\nbody\r\n"));
        // Deterministic: the same message and time sign the same.
        assert_eq!(signer.sign(message, 1_700_000_000), signed.as_bytes());
        assert_eq!(signer.dns_name(), "s1._domainkey.acme.example");
        assert!(signer.dns_record().starts_with("v=DKIM1; k=ed25519; p="));
        assert!(DkimSigner::ed25519("s", "d", "not base64!").is_err());
        assert!(DkimSigner::rsa("s", "d", "-----BEGIN RSA PRIVATE KEY-----\nxx\n").is_err());
    }
}
