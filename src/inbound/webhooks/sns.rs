//! Amazon SNS messages: the envelope SES notifications arrive in.
//!
//! An SNS message is signed by AWS with the key of the certificate at its
//! `SigningCertURL`. Fetching that certificate is the caller's job (and
//! caching it: AWS rotates it rarely); this module says which URL may be
//! fetched ([`certificate_url`]: `https`, host `sns.<region>.amazonaws.com`
//! or `.amazonaws.com.cn`, a `.pem` path) and verifies the message with the
//! PEM fetched from exactly that URL ([`receive`]). The trust in the
//! certificate is the trust in that HTTPS fetch from an AWS host; the
//! certificate's own chain is not built here.
//!
//! A valid signature only proves that *some* AWS account's topic sent it:
//! anyone can create a topic and subscribe our endpoint. So [`receive`]
//! also requires the topic to be one of the configured ones.

use super::{WebhookError, WebhookEvent, ses};
use crate::inbound::classify::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, alg_id,
};
use serde::Deserialize;
use webpki::EndEntityCert;

/// The fields of an SNS message that are signed or read.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "MessageId")]
    message_id: String,
    #[serde(rename = "TopicArn")]
    topic_arn: String,
    #[serde(rename = "Subject")]
    subject: Option<String>,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "Timestamp")]
    timestamp: String,
    #[serde(rename = "SignatureVersion")]
    signature_version: Option<String>,
    #[serde(rename = "Signature")]
    signature: Option<String>,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
}

/// A verified SNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnsMessage {
    /// Confirm by fetching `subscribe_url` (the topic is a configured one).
    SubscriptionConfirmation {
        topic_arn: String,
        subscribe_url: String,
    },
    UnsubscribeConfirmation {
        topic_arn: String,
    },
    /// The SES events inside a notification, one per recipient.
    Notification {
        topic_arn: String,
        events: Vec<WebhookEvent>,
    },
}

/// The certificate URL of an SNS request body, if it is one that may be fetched.
pub fn certificate_url(body: &[u8]) -> Result<String, WebhookError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|_| WebhookError::Unsigned)?;
    let url = envelope.signing_cert_url.ok_or(WebhookError::Unsigned)?;
    if is_sns_certificate_url(&url) {
        Ok(url)
    } else {
        Err(WebhookError::CertificateUrl)
    }
}

/// Verifies an SNS request body with the PEM fetched from `cert_url` (as
/// returned by [`certificate_url`] for this body), checks its topic, and
/// reads it.
pub fn receive(
    body: &[u8],
    cert_url: &str,
    cert_pem: &[u8],
    topics: &[String],
    ctx: &Context<'_>,
) -> Result<SnsMessage, WebhookError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|_| WebhookError::Unsigned)?;
    let signature = envelope
        .signature
        .as_deref()
        .ok_or(WebhookError::Unsigned)?;
    let url = envelope
        .signing_cert_url
        .as_deref()
        .ok_or(WebhookError::Unsigned)?;
    if !is_sns_certificate_url(url) {
        return Err(WebhookError::CertificateUrl);
    }
    if url != cert_url {
        return Err(WebhookError::Certificate(
            "the certificate was fetched from another URL than the message names".into(),
        ));
    }
    let algorithm: &dyn SignatureVerificationAlgorithm = match envelope.signature_version.as_deref()
    {
        Some("1") => &RSA_PKCS1_SHA1,
        Some("2") => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        _ => return Err(WebhookError::Unsigned),
    };
    let signature = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, signature)
        .map_err(|_| WebhookError::BadSignature)?;
    let cert = CertificateDer::from_pem_slice(cert_pem)
        .map_err(|e| WebhookError::Certificate(e.to_string()))?;
    let cert =
        EndEntityCert::try_from(&cert).map_err(|e| WebhookError::Certificate(e.to_string()))?;
    let signed = string_to_sign(&envelope)?;
    cert.verify_signature(algorithm, signed.as_bytes(), &signature)
        .map_err(|_| WebhookError::BadSignature)?;
    if !topics.iter().any(|t| t == &envelope.topic_arn) {
        return Err(WebhookError::UnknownTopic);
    }
    let topic_arn = envelope.topic_arn;
    Ok(match envelope.kind.as_str() {
        "SubscriptionConfirmation" => SnsMessage::SubscriptionConfirmation {
            topic_arn,
            subscribe_url: envelope
                .subscribe_url
                .ok_or_else(|| WebhookError::Payload("no SubscribeURL".into()))?,
        },
        "UnsubscribeConfirmation" => SnsMessage::UnsubscribeConfirmation { topic_arn },
        "Notification" => {
            let events = ses::events(&envelope.message, &envelope.message_id, ctx)?;
            SnsMessage::Notification { topic_arn, events }
        }
        other => {
            return Err(WebhookError::Payload(format!(
                "unknown SNS message type {other}"
            )));
        }
    })
}

/// The canonical string SNS signs: `Name\nvalue\n` for fixed fields, in order.
fn string_to_sign(e: &Envelope) -> Result<String, WebhookError> {
    let fields: Vec<(&str, Option<&str>)> = match e.kind.as_str() {
        "Notification" => vec![
            ("Message", Some(&e.message)),
            ("MessageId", Some(&e.message_id)),
            ("Subject", e.subject.as_deref()),
            ("Timestamp", Some(&e.timestamp)),
            ("TopicArn", Some(&e.topic_arn)),
            ("Type", Some(&e.kind)),
        ],
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => vec![
            ("Message", Some(&e.message)),
            ("MessageId", Some(&e.message_id)),
            ("SubscribeURL", e.subscribe_url.as_deref()),
            ("Timestamp", Some(&e.timestamp)),
            ("Token", e.token.as_deref()),
            ("TopicArn", Some(&e.topic_arn)),
            ("Type", Some(&e.kind)),
        ],
        _ => return Err(WebhookError::Unsigned),
    };
    Ok(fields
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| format!("{name}\n{v}\n")))
        .collect())
}

/// `https://sns.<region>.amazonaws.com[.cn]/<path>.pem`, nothing else: no
/// user info, port, query, fragment or look-alike host.
pub fn is_sns_certificate_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let region = host.strip_prefix("sns.").and_then(|h| {
        h.strip_suffix(".amazonaws.com")
            .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
    });
    let region_ok = region.is_some_and(|r| {
        let parts: Vec<&str> = r.split('-').collect();
        parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
            && !parts[parts.len() - 1].is_empty()
    });
    let path_ok = path.ends_with(".pem")
        && !path.contains("..")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    region_ok && path_ok
}

/// RSA PKCS#1 v1.5 with SHA-1, which SNS SignatureVersion 1 still uses; webpki
/// rightly offers no SHA-1, so it is named here, for this one purpose.
#[derive(Debug)]
struct RsaPkcs1Sha1;

static RSA_PKCS1_SHA1: RsaPkcs1Sha1 = RsaPkcs1Sha1;

/// `sha1WithRSAEncryption` (1.2.840.113549.1.1.5), NULL parameters.
const SHA1_WITH_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
];

impl SignatureVerificationAlgorithm for RsaPkcs1Sha1 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            public_key,
        )
        .verify(message, signature)
        .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(SHA1_WITH_RSA)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_over_https_may_be_fetched() {
        for url in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
            "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-a.pem",
            "https://sns.us-gov-west-1.amazonaws.com/x.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
        ] {
            assert!(is_sns_certificate_url(url), "{url}");
        }
        for url in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            "https://sns.us-east-1.amazonaws.com@evil.example/x.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://sns.amazonaws.com/x.pem",
            "https://SNS.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem?x=1",
            "https://sns.us-east-1.amazonaws.com/../x.pem",
            "https://sns.us-east-1.amazonaws.com/x.txt",
            "https://sns.us-east-x.amazonaws.com/x.pem",
            "https://sns.evil.amazonaws.com/x.pem",
        ] {
            assert!(!is_sns_certificate_url(url), "{url}");
        }
    }

    #[test]
    fn the_string_to_sign_skips_an_absent_subject() {
        let envelope: Envelope = serde_json::from_str(
            r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"{}","Timestamp":"ts"}"#,
        )
        .unwrap();
        assert_eq!(
            string_to_sign(&envelope).unwrap(),
            "Message\n{}\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n"
        );
    }
}
