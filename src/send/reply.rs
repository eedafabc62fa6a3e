//! TEMPORARY stub: replaced by the reply table from the trust-reply branch.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<EnhancedCode>,
    pub text: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("malformed SMTP reply: {0}")]
pub struct ReplyParseError(String);

impl Reply {
    pub fn parse(lines: &[&str]) -> Result<Reply, ReplyParseError> {
        let first = lines
            .first()
            .ok_or_else(|| ReplyParseError("empty".into()))?;
        let code: u16 = first
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| ReplyParseError(first.to_string()))?;
        let mut texts = Vec::new();
        for line in lines {
            texts.push(line.get(4..).unwrap_or("").trim().to_string());
        }
        let text = texts.join(" ");
        let enhanced = text.split_whitespace().next().and_then(|w| {
            let parts: Vec<_> = w.split('.').collect();
            if parts.len() != 3 {
                return None;
            }
            Some(EnhancedCode {
                class: parts[0].parse().ok()?,
                subject: parts[1].parse().ok()?,
                detail: parts[2].parse().ok()?,
            })
        });
        Ok(Reply {
            code,
            enhanced,
            text,
        })
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Connect,
    Greeting,
    Ehlo,
    StartTls,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    EndOfData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    HardBounce,
    SoftBounce,
    Deferred,
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Policy,
    Reputation,
    Content,
    Size,
    Relay,
    Authentication,
    System,
    Protocol,
    Sender,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub verdict: Verdict,
    pub reason: &'static str,
}

pub fn classify(phase: Phase, reply: &Reply) -> Classified {
    let verdict = match (reply.code / 100, reply.enhanced) {
        (5, Some(e)) if e.subject == 1 && phase == Phase::RcptTo => Verdict::HardBounce,
        (5, _) => Verdict::Refused(Refusal::Policy),
        _ => Verdict::Deferred,
    };
    Classified {
        verdict,
        reason: "stub",
    }
}
