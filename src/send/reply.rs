//! SMTP replies read by what they are about, not by their first digit.
//!
//! A `5xx` is not a verdict on the recipient: a relay that has put our IP on
//! a blocklist answers every `RCPT` with `554 5.7.1`, and reading that as a
//! hard bounce would suppress a whole list for our own fault. So a reply is
//! parsed into its code, its RFC 3463 enhanced status code and its text, and
//! [`classify`] decides, from small tables below, whether it is about the
//! recipient ([`Verdict::HardBounce`], [`Verdict::SoftBounce`]), a passing
//! condition ([`Verdict::Deferred`]) or about us / the message
//! ([`Verdict::Refused`], which never touches the recipient).
//!
//! The rules, first match wins (the tables `OVERRIDES`, `BY_STATUS`,
//! `BY_TEXT` and `BY_CODE` are the source of truth):
//!
//! | step | when | verdict |
//! |---|---|---|
//! | overrides | text names *our sender* ("sender address rejected", "sender verify failed", qmail's badmailfrom) | `Refused(Sender)` |
//! | | `5.4.1` "Recipient address rejected" (Microsoft's *user unknown*) | `HardBounce` |
//! | | `5.5.0` "mailbox unavailable" (Outlook.com's *user unknown*, but a 5.5 code) | `SoftBounce` |
//! | | `X.4.x` with "relay" | `Refused(Relay)` |
//! | enhanced code | `X.1.0` `X.1.1` `X.1.2` `X.1.3` `X.1.6` `X.1.10` `X.2.1` (the recipient's address or mailbox) | `HardBounce` |
//! | | `X.1.7` `X.1.8` `X.7.27` (the sender's address) | `Refused(Sender)` |
//! | | `X.2.2` mailbox full, `4.2.1` "receiving mail at a rate", `X.2.0` / `X.2.x` | `SoftBounce` (`4.2.0`: `Deferred`, it is greylisting) |
//! | | `X.2.3` `X.3.4` message too big | `Refused(Size)` |
//! | | `X.3.x` / `X.4.x` / `X.5.x` / `X.6.x` | `Refused(System / System / Protocol / Content)` |
//! | | `X.7.8`, `X.7.23`–`X.7.26` (credentials, SPF, reverse DNS, DMARC) | `Refused(Authentication)` |
//! | | other `X.7.x` | `Refused(kind from the text)`, else `Refused(Policy)` |
//! | text (no usable enhanced code) | authentication words (auth, SPF, DKIM, DMARC, STARTTLS) | `Refused(Authentication)` |
//! | | blocklist / reputation words (Spamhaus, "client host", "IP", "unusual rate", "banned") | `Refused(Reputation)` |
//! | | relay words | `Refused(Relay)` |
//! | | quota / mailbox full, "receiving mail at a rate" | `SoftBounce` |
//! | | size words | `Refused(Size)` |
//! | | spam / content words | `Refused(Content)` |
//! | | the user does not exist ("user unknown", "no such user", "unrouteable address" …) | `HardBounce` |
//! | | policy words ("denied", "blocked", "policy", "rejected" …) | `Refused(Policy)` |
//! | code and phase | `421`, any other `4xx` | `Deferred` |
//! | | `530` `534` `535` `538` | `Refused(Authentication)` |
//! | | `500`–`504`, `555` | `Refused(Protocol)` |
//! | | `5xx` at MAIL FROM / greeting, EHLO, STARTTLS / AUTH | `Refused(Sender / System / Authentication)` |
//! | | `550` `551` `553` `556` at RCPT TO | `HardBounce` (RFC 5321's meaning there) |
//! | | `552` at RCPT TO / at DATA or its end | `SoftBounce` / `Refused(Size)` |
//! | | any other `5xx`, bare `554` included | `Refused(Policy)` |
//!
//! Then two guards that hold whatever the tables say:
//! - a `4xx` is temporary: never `HardBounce` (it becomes `SoftBounce`) and
//!   never `Refused` (it becomes `Deferred`: rate limiting of us, greylisting);
//! - only a reply at RCPT TO, DATA or the end of DATA can be about the
//!   recipient: earlier a bounce verdict becomes `Refused(Sender)` at MAIL FROM,
//!   `Refused(Authentication)` at AUTH, `Refused(System)` before that (or
//!   `Deferred` for a `4xx`).
//!
//! Decisions beyond RFC 3463: `X.1.0` (Exchange's "#5.1.0 Address rejected")
//! is the recipient's address at RCPT; `X.0.x` says nothing, so such a reply is
//! read by its text and code; Outlook.com's `550 5.5.0 … mailbox unavailable`
//! is a soft bounce, so it never suppresses at once but repeated over a span
//! does (as `Refused(Protocol)` it would park the row forever and trip the
//! relay's breaker for dead addresses).

use Refusal::{Authentication, Content, Policy, Protocol, Relay, Reputation, Sender, Size, System};
use Verdict::{Deferred, HardBounce, Refused, SoftBounce};
use serde::Serialize;
use std::fmt;

/// One SMTP reply: the 3-digit code, the RFC 3463 enhanced status code if the
/// text starts with one (on the first line), and the text of all lines joined
/// with a single space (codes stripped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<EnhancedCode>,
    pub text: String,
}

/// An RFC 3463 enhanced status code, e.g. `5.7.1`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyParseError {
    #[error("empty SMTP reply")]
    Empty,
    // The line itself is not quoted: it may carry an email address.
    #[error("line {line} of an SMTP reply does not start with a reply code")]
    NoCode { line: usize },
    #[error("SMTP reply code {code} is not a valid reply code")]
    BadCode { code: u16 },
    #[error("SMTP reply mixes the codes {first} and {other}")]
    MixedCodes { first: u16, other: u16 },
}

/// Where in the SMTP conversation the reply came.
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
    /// Permanent and about the recipient: suppress the address (hard bounce).
    HardBounce,
    /// Temporary and about the recipient (mailbox full, over quota, this user
    /// receives too fast): retry the row; repeated soft bounces over a span
    /// become a suppression (the sender decides that).
    SoftBounce,
    /// Temporary, not about the recipient (greylisting, 4xx system/network,
    /// 421, rate limiting of us): retry; counts against the recipient domain's
    /// deferral backoff.
    Deferred,
    /// About us or the message, never the recipient, whatever the first digit
    /// says: park the row (retry later without burning its attempts), count
    /// against the relay's circuit breaker.
    Refused(Refusal),
}

/// What a [`Verdict::Refused`] reply was about.
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

/// A verdict and a short human label for it ("mailbox does not exist").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub verdict: Verdict,
    pub reason: &'static str,
}

impl EnhancedCode {
    /// `class.subject.detail`, class 2, 4 or 5, subject and detail 1 to 3 digits.
    pub fn parse(text: &str) -> Option<EnhancedCode> {
        let mut parts = text.split('.');
        let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
        let number = |s: &str| {
            let digits = (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
            digits.then(|| s.parse::<u16>().ok()).flatten()
        };
        let class = match class {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(EnhancedCode {
            class,
            subject: number(subject)?,
            detail: number(detail)?,
        })
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl Reply {
    /// Parses the raw lines of a reply as read from the wire, e.g.
    /// `["550-5.1.1 The email account", "550 5.1.1 does not exist"]`.
    ///
    /// Takes `550 5.1.1 text`, `550-…` continuation lines, `550 text`, old
    /// qmail/Exchange `550 #5.1.0 text` and `553 text (#5.7.1)`, and a bare
    /// `421`. An enhanced code whose class differs from the reply's first digit
    /// is dropped (RFC 3463 requires them to agree).
    pub fn parse(lines: &[&str]) -> Result<Reply, ReplyParseError> {
        let mut code = None;
        let mut pieces = Vec::with_capacity(lines.len());
        for (index, line) in lines.iter().enumerate() {
            let line = line.trim_end_matches(['\r', '\n']);
            let (this, rest) =
                split_code(line).ok_or(ReplyParseError::NoCode { line: index + 1 })?;
            match code {
                Some(first) if first != this => {
                    return Err(ReplyParseError::MixedCodes { first, other: this });
                }
                _ => code = Some(this),
            }
            pieces.push(rest);
        }
        let code = code.ok_or(ReplyParseError::Empty)?;
        if !(2..=5).contains(&(code / 100)) || code / 10 % 10 > 5 {
            return Err(ReplyParseError::BadCode { code });
        }

        let mut enhanced = None;
        let mut texts = Vec::with_capacity(pieces.len());
        for (index, piece) in pieces.iter().enumerate() {
            let (found, rest) = leading_enhanced(piece.trim());
            if index == 0 {
                enhanced = found;
            }
            let rest = rest.trim();
            if !rest.is_empty() {
                texts.push(rest);
            }
        }
        let mut text = texts.join(" ");
        if enhanced.is_none() {
            if let Some((found, start)) = trailing_qmail(&text) {
                enhanced = Some(found);
                text.truncate(start);
                text.truncate(text.trim_end().len());
            }
        }
        let enhanced = enhanced.filter(|e| u16::from(e.class) == code / 100);
        Ok(Reply {
            code,
            enhanced,
            text,
        })
    }

    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// The first digit of the code.
    pub fn class(&self) -> u8 {
        (self.code / 100) as u8
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(enhanced) = self.enhanced {
            write!(f, " {enhanced}")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

/// `"550-text"` → `(550, "text")`; a bare `"421"` → `(421, "")`.
fn split_code(line: &str) -> Option<(u16, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = line[..3].parse().ok()?;
    match bytes.get(3) {
        None => Some((code, "")),
        Some(b' ' | b'-') => Some((code, &line[4..])),
        Some(_) => None,
    }
}

/// An enhanced code at the start of `text` (optionally `#`-prefixed) and the rest.
fn leading_enhanced(text: &str) -> (Option<EnhancedCode>, &str) {
    let unhashed = text.strip_prefix('#').unwrap_or(text);
    let end = unhashed.find(char::is_whitespace).unwrap_or(unhashed.len());
    match EnhancedCode::parse(&unhashed[..end]) {
        Some(code) => (Some(code), &unhashed[end..]),
        None => (None, text),
    }
}

/// qmail's `… (#5.7.1)` at the end: the code and where the `(` starts.
fn trailing_qmail(text: &str) -> Option<(EnhancedCode, usize)> {
    let inner = text.strip_suffix(')')?;
    let start = inner.rfind("(#")?;
    Some((EnhancedCode::parse(&inner[start + 2..])?, start))
}

// ---- classification --------------------------------------------------------

/// What a status row decides.
#[derive(Clone, Copy)]
enum Then {
    Is(Verdict),
    /// The first `Refused` row of `BY_TEXT` that matches the text, else this kind.
    RefusalByText(Refusal),
}

/// `status`: an enhanced code pattern (`"5.4.1"`, `"*.1.1"`, `"*.7.*"`), or
/// `""` for any reply, with or without one. `needles`: any of these words
/// must occur in the text (none given: always).
struct StatusRow {
    status: &'static str,
    needles: &'static [&'static str],
    then: Then,
    reason: &'static str,
}

struct TextRow {
    needles: &'static [&'static str],
    verdict: Verdict,
    reason: &'static str,
}

/// `codes`: patterns such as `"421"` or `"5xx"`; `phases`: empty for any.
struct CodeRow {
    codes: &'static [&'static str],
    phases: &'static [Phase],
    verdict: Verdict,
    reason: &'static str,
}

const fn by_status(
    status: &'static str,
    needles: &'static [&'static str],
    verdict: Verdict,
    reason: &'static str,
) -> StatusRow {
    StatusRow {
        status,
        needles,
        then: Then::Is(verdict),
        reason,
    }
}

const fn by_text(
    needles: &'static [&'static str],
    verdict: Verdict,
    reason: &'static str,
) -> TextRow {
    TextRow {
        needles,
        verdict,
        reason,
    }
}

const fn by_code(
    codes: &'static [&'static str],
    phases: &'static [Phase],
    verdict: Verdict,
    reason: &'static str,
) -> CodeRow {
    CodeRow {
        codes,
        phases,
        verdict,
        reason,
    }
}

// Needles are matched against the text as lowercase words separated by single
// spaces, padded with a space at both ends (see `words`): " ip " is the word.
#[rustfmt::skip]
const SENDER_WORDS: &[&str] = &[
    "sender address", "sender verify", "sender domain", "sender rejected", "envelope sender",
    "verification failed for", "badmailfrom",
];
#[rustfmt::skip]
const NO_SUCH_USER: &[&str] = &[
    "user unknown", "unknown user", "no such user", "unknown recipient", "does not exist",
    "doesnt exist", "user doesnt have", "mailbox not found", "no such mailbox", "invalid mailbox",
    "invalid recipient", "recipient rejected", "recipient not found", "recipientnotfound",
    "unrouteable address", "unroutable address", "illegal alias", "account disabled",
    "account is disabled", "account has been disabled", "mailbox disabled", "mailbox is disabled",
    "no mailbox here",
];

/// Read first, whatever the codes say.
#[rustfmt::skip]
const OVERRIDES: &[StatusRow] = &[
    by_status("", SENDER_WORDS, Refused(Sender), "our sender address was refused"),
    by_status("5.4.1", &["recipient address rejected"], HardBounce, "mailbox does not exist"),
    by_status("5.5.0", &["mailbox unavailable"], SoftBounce, "mailbox unavailable"),
    by_status("*.4.*", &["relay"], Refused(Relay), "relaying denied"),
];

/// By the enhanced code; `X.0.x` and unknown subjects fall through to the text.
#[rustfmt::skip]
const BY_STATUS: &[StatusRow] = &[
    by_status("*.1.0", &[], HardBounce, "recipient address rejected"),
    by_status("*.1.1", &[], HardBounce, "mailbox does not exist"),
    by_status("*.1.2", &[], HardBounce, "recipient domain does not exist"),
    by_status("*.1.3", &[], HardBounce, "bad recipient address syntax"),
    by_status("*.1.6", &[], HardBounce, "mailbox has moved"),
    by_status("*.1.10", &[], HardBounce, "recipient domain accepts no mail"),
    by_status("*.1.7", &[], Refused(Sender), "bad sender address"),
    by_status("*.1.8", &[], Refused(Sender), "sender domain does not resolve"),
    by_status("*.1.*", &[], Refused(Policy), "address refused"),
    by_status("4.2.1", &["at a rate", "too fast", "too quickly"], SoftBounce, "recipient receives mail too fast"),
    by_status("*.2.1", &[], HardBounce, "mailbox disabled"),
    by_status("*.2.2", &[], SoftBounce, "mailbox full"),
    by_status("*.2.3", &[], Refused(Size), "message too big for the mailbox"),
    by_status("4.2.0", &[], Deferred, "mailbox busy or greylisting"),
    by_status("*.2.*", &[], SoftBounce, "mailbox unavailable"),
    by_status("*.3.4", &[], Refused(Size), "message too big"),
    by_status("*.3.*", &[], Refused(System), "receiving system problem"),
    by_status("*.4.*", &[], Refused(System), "network or routing problem"),
    by_status("*.5.*", &[], Refused(Protocol), "SMTP protocol error"),
    by_status("*.6.*", &[], Refused(Content), "message content or encoding refused"),
    by_status("*.7.8", &[], Refused(Authentication), "authentication failed"),
    by_status("*.7.23", &[], Refused(Authentication), "SPF check failed"),
    by_status("*.7.24", &[], Refused(Authentication), "SPF check failed"),
    by_status("*.7.25", &[], Refused(Authentication), "sending IP has no reverse DNS"),
    by_status("*.7.26", &[], Refused(Authentication), "message not authenticated (SPF/DKIM/DMARC)"),
    by_status("*.7.27", &[], Refused(Sender), "sender domain accepts no mail"),
    StatusRow { status: "*.7.*", needles: &[], then: Then::RefusalByText(Policy), reason: "refused by the receiver's policy" },
];

/// By the words of a reply without a usable enhanced code (and, for its
/// `Refused` rows only, to pick the kind of an `X.7.x` refusal).
#[rustfmt::skip]
const BY_TEXT: &[TextRow] = &[
    by_text(&["authenticat", "dmarc", "spf", "dkim", "starttls", "encryption required", "ptr record",
              "reverse dns"],
            Refused(Authentication), "sender authentication failed"),
    by_text(&["blocklist", "block list", "blacklist", "black list", "blocked using", "dnsbl", " rbl ",
              "spamhaus", "spamcop", "barracuda", "sorbs", "proofpoint", "permanently deferred"],
            Refused(Reputation), "sending IP on a blocklist"),
    by_text(&["client host", " ip ", "reputation", "unusual rate", "banned"],
            Refused(Reputation), "sending IP or domain has a poor reputation"),
    by_text(&["relay", "rcpthosts"], Refused(Relay), "relaying denied"),
    by_text(&["quota", "mailbox full", "mailbox is full", "inbox is full", "mailbox size",
              "out of storage", "storage space"],
            SoftBounce, "mailbox full"),
    by_text(&["receiving mail at a rate", "receiving mail too"], SoftBounce, "recipient receives mail too fast"),
    by_text(&["message size", "too large", "too big", "size limit", "exceeds the maximum"],
            Refused(Size), "message too big"),
    by_text(&["spam", "unsolicited", "content", "message rejected", "virus", "malware", "phish",
              "suspicious"],
            Refused(Content), "message content looks like spam"),
    by_text(NO_SUCH_USER, HardBounce, "mailbox does not exist"),
    by_text(&["policy", "prohibit", "administrative", "denied", "blocked", "not allowed", "refused",
              "not accepted", "forbidden", "rejected"],
            Refused(Policy), "refused by the receiver's policy"),
];

/// By the code and the phase, when neither the enhanced code nor the text said.
#[rustfmt::skip]
const BY_CODE: &[CodeRow] = &[
    by_code(&["421"], &[], Deferred, "server not available, closing the connection"),
    by_code(&["530", "534", "535", "538"], &[], Refused(Authentication), "authentication required or failed"),
    by_code(&["500", "501", "502", "503", "504", "555"], &[], Refused(Protocol), "command not accepted"),
    by_code(&["4xx"], &[], Deferred, "temporary failure"),
    by_code(&["5xx"], &[Phase::MailFrom], Refused(Sender), "our sender address was refused"),
    by_code(&["5xx"], &[Phase::Connect, Phase::Greeting, Phase::Ehlo, Phase::StartTls], Refused(System),
            "server refused the session"),
    by_code(&["5xx"], &[Phase::Auth], Refused(Authentication), "authentication refused"),
    by_code(&["550", "551", "553", "556"], &[Phase::RcptTo], HardBounce, "mailbox unavailable"),
    by_code(&["552"], &[Phase::RcptTo], SoftBounce, "mailbox over its storage allocation"),
    by_code(&["552"], &[Phase::Data, Phase::EndOfData], Refused(Size), "message exceeds the storage allocation"),
    by_code(&["5xx"], &[], Refused(Policy), "refused without a reason"),
];

/// Decides what a non-positive reply means for the recipient, us and the row.
///
/// Meant for refusals; a positive reply given anyway is `Refused(Protocol)`
/// (the server said yes where the conversation expected something else).
pub fn classify(phase: Phase, reply: &Reply) -> Classified {
    if reply.is_positive() {
        return classified(
            Refused(Protocol),
            "positive reply where a refusal was expected",
        );
    }
    guard(phase, reply.class(), decide(phase, reply))
}

fn decide(phase: Phase, reply: &Reply) -> Classified {
    let text = words(&reply.text);
    let status_rows = |rows: &'static [StatusRow]| {
        rows.iter()
            .find(|row| status_matches(row.status, reply.enhanced) && mentions(&text, row.needles))
    };
    let text_row = |refusals_only: bool| {
        BY_TEXT.iter().find(|row| {
            (!refusals_only || matches!(row.verdict, Refused(_))) && mentions(&text, row.needles)
        })
    };
    let from_status = |row: &StatusRow| match row.then {
        Then::Is(verdict) => classified(verdict, row.reason),
        Then::RefusalByText(default) => text_row(true)
            .map_or(classified(Refused(default), row.reason), |t| {
                classified(t.verdict, t.reason)
            }),
    };

    if let Some(row) = status_rows(OVERRIDES) {
        return from_status(row);
    }
    if let Some(row) = reply.enhanced.and_then(|_| status_rows(BY_STATUS)) {
        return from_status(row);
    }
    if let Some(row) = text_row(false) {
        return classified(row.verdict, row.reason);
    }
    BY_CODE
        .iter()
        .find(|row| {
            row.codes.iter().any(|c| code_matches(c, reply.code))
                && (row.phases.is_empty() || row.phases.contains(&phase))
        })
        // Only a hand-built `Reply` can carry a code outside 2xx-5xx.
        .map_or(
            classified(Refused(Protocol), "not an SMTP reply code"),
            |row| classified(row.verdict, row.reason),
        )
}

const fn classified(verdict: Verdict, reason: &'static str) -> Classified {
    Classified { verdict, reason }
}

/// The rules no table may break: a 4xx is temporary, and only a reply at or
/// after RCPT TO can be about the recipient.
fn guard(phase: Phase, class: u8, decided: Classified) -> Classified {
    let about_recipient = matches!(decided.verdict, HardBounce | SoftBounce);
    let recipient_phase = matches!(phase, Phase::RcptTo | Phase::Data | Phase::EndOfData);
    if about_recipient && !recipient_phase {
        let (verdict, reason) = match (class, phase) {
            (4, _) => (Deferred, "temporary failure"),
            (_, Phase::MailFrom) => (Refused(Sender), "our sender address was refused"),
            (_, Phase::Auth) => (Refused(Authentication), "authentication refused"),
            _ => (Refused(System), "server refused the session"),
        };
        return classified(verdict, reason);
    }
    let verdict = match (class, decided.verdict) {
        (4, HardBounce) => SoftBounce,
        (4, Refused(_)) => Deferred,
        (_, verdict) => verdict,
    };
    Classified { verdict, ..decided }
}

/// Lowercase words separated by single spaces, a space at both ends;
/// apostrophes dropped ("doesn't" → "doesnt").
fn words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars().filter(|c| !matches!(c, '\'' | '’')) {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

fn mentions(words: &str, needles: &[&str]) -> bool {
    needles.is_empty() || needles.iter().any(|n| words.contains(n))
}

fn status_matches(pattern: &str, code: Option<EnhancedCode>) -> bool {
    if pattern.is_empty() {
        return true;
    }
    let Some(code) = code else { return false };
    let values = [u16::from(code.class), code.subject, code.detail];
    let parts: Vec<&str> = pattern.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .zip(values)
            .all(|(part, value)| *part == "*" || part.parse() == Ok(value))
}

fn code_matches(pattern: &str, code: u16) -> bool {
    pattern.len() == 3
        && pattern
            .bytes()
            .zip(code.to_string().bytes())
            .all(|(p, c)| p == b'x' || p == c)
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
