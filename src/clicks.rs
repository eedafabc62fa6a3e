//! Clicks on tend's tracked links: telling a reader from a machine.
//!
//! Mail security gateways and mailbox providers open links by themselves
//! (safe-links rewriting, malware scanning, previews), usually within
//! seconds of delivery, often with `HEAD`, and often under a recognisable
//! User-Agent. Such clicks are kept, marked with the reason they look
//! automated, so a report can show them apart from readers' clicks. The
//! marks are heuristics: a report says "look automated", never "are".

use chrono::{DateTime, Utc};

/// A click this soon after its message was sent is a scanner at the
/// receiving end, not a person who opened the message and read it.
pub const SCANNER_WINDOW_SECS: i64 = 10;

/// User-Agent fragments (lowercase) of link scanners, preview fetchers and
/// HTTP libraries. Generic words (`bot`, `preview`) catch the long tail.
const SCANNER_AGENTS: &[&str] = &[
    "microsoft office",
    "bingpreview",
    "barracuda",
    "mimecast",
    "proofpoint",
    "python-requests",
    "curl",
    "go-http-client",
    "googlebot",
    "google-safety",
    "yahoomailproxy",
    "bot",
    "crawler",
    "spider",
    "preview",
];

/// Why a click looks automated. When several apply, the first in this
/// order is kept: the method is certain, the agent nearly so, timing a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automated {
    /// A `HEAD` request: a checker, not a browser following a link.
    Head,
    /// A User-Agent of a known scanner or prefetcher, or none at all.
    ScannerAgent,
    /// Within [`SCANNER_WINDOW_SECS`] of the message being sent (or before
    /// the send was even recorded).
    TooSoon,
}

impl Automated {
    pub fn as_str(self) -> &'static str {
        match self {
            Automated::Head => "head",
            Automated::ScannerAgent => "scanner-agent",
            Automated::TooSoon => "too-soon",
        }
    }

    /// Words for a report, keyed by what the store keeps.
    pub fn describe(stored: &str) -> String {
        match stored {
            "head" => "HEAD requests".into(),
            "scanner-agent" => "scanner user agents".into(),
            "too-soon" => format!("within {SCANNER_WINDOW_SECS} seconds of sending"),
            other => format!("`{other}`"),
        }
    }
}

pub fn scanner_agent(user_agent: &str) -> bool {
    let agent = user_agent.trim().to_lowercase();
    agent.is_empty() || SCANNER_AGENTS.iter().any(|s| agent.contains(s))
}

/// Whether a click looks automated, and why (`None`: it looks like a reader).
pub fn classify(
    method: &str,
    user_agent: &str,
    at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
) -> Option<Automated> {
    if method.eq_ignore_ascii_case("HEAD") {
        Some(Automated::Head)
    } else if scanner_agent(user_agent) {
        Some(Automated::ScannerAgent)
    } else if sent_at.is_some_and(|s| at < s + chrono::Duration::seconds(SCANNER_WINDOW_SECS)) {
        Some(Automated::TooSoon)
    } else {
        None
    }
}

/// A User-Agent as kept with a click: at most 200 characters.
pub fn kept_agent(user_agent: &str) -> String {
    user_agent.trim().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_773_136_800 + seconds, 0).unwrap()
    }

    #[test]
    fn a_browser_click_a_minute_after_sending_looks_like_a_reader() {
        assert_eq!(classify("GET", FIREFOX, at(60), Some(at(0))), None);
        assert_eq!(classify("GET", FIREFOX, at(10), Some(at(0))), None);
        assert_eq!(classify("GET", FIREFOX, at(5), None), None, "no send known");
    }

    #[test]
    fn head_agents_and_timing_each_mark_a_click() {
        assert_eq!(
            classify("HEAD", FIREFOX, at(3600), Some(at(0))),
            Some(Automated::Head)
        );
        assert_eq!(
            classify("GET", FIREFOX, at(9), Some(at(0))),
            Some(Automated::TooSoon)
        );
        assert_eq!(
            classify("GET", FIREFOX, at(-5), Some(at(0))),
            Some(Automated::TooSoon),
            "before the send was recorded"
        );
        assert_eq!(
            classify("HEAD", "curl/8.5.0", at(1), Some(at(0))),
            Some(Automated::Head),
            "the most certain reason is kept"
        );
    }

    #[test]
    fn known_scanners_and_empty_agents_are_recognised() {
        for agent in [
            "",
            "   ",
            "Mozilla/5.0 (compatible; BingPreview/1.0b)",
            "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
            "Barracuda Sentinel (EE)",
            "Mimecast URL Protect",
            "Proofpoint URL Defense",
            "python-requests/2.32.3",
            "curl/8.5.0",
            "Go-http-client/1.1",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Google-Safety",
            "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
            "SomeCrawler/3.0",
            "LinkPreviewFetcher",
        ] {
            assert!(scanner_agent(agent), "{agent:?}");
        }
        assert!(!scanner_agent(FIREFOX));
        assert!(!scanner_agent(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
        ));
    }

    #[test]
    fn a_kept_agent_is_cut_at_200_characters() {
        assert_eq!(kept_agent(&"é".repeat(300)).chars().count(), 200);
        assert_eq!(kept_agent(" curl/8 "), "curl/8");
    }
}
