//! SMTP replies quoted in the prose of a plain-text bounce: where one starts
//! (`… said: 550 5.1.1 …`, `Remote Server returned '550 …'`, `#550 …##`,
//! `554: delivery error`, `(reason: 550 …)`), its continuation lines, and a
//! lone enhanced status code (`(#5.1.1)`) when no reply is quoted.

use crate::send::reply::EnhancedCode;

/// An SMTP reply line is at most 512 octets (RFC 5321); a few continuation
/// lines fit in this, and a hostile report cannot make the table read megabytes.
const MAX_REPLY: usize = 2000;

/// The first `max` bytes of `text`, cut at a character boundary.
fn clip(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// How far into a line a reply may start.
const MAX_LINE_SCAN: usize = 2000;

/// Markers after which a reply code may follow on the same line.
#[rustfmt::skip]
const REPLY_MARKERS: &[&str] = &[
    "said:", "said", "returned", "reason:", "was:", "error:", "response:", "code:", "<<<",
    // `<gone@example.com>: 550 5.1.1 …`: a reply right after the address.
    ">:",
];

/// The first SMTP reply in `text` with its continuation lines, and the line
/// before it (Exim puts "… after RCPT TO:<…>:" there).
pub(crate) fn find_reply(text: &str) -> Option<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        let Some(start) = reply_start(line) else {
            continue;
        };
        let mut reply = clip(line[start..].trim(), MAX_REPLY).to_string();
        let code = reply[..3].to_string();
        for next in &lines[index + 1..] {
            let trimmed = next.trim();
            let continues = next.starts_with([' ', '\t']) || trimmed.starts_with(&code);
            if trimmed.is_empty() || !continues || reply.len() >= MAX_REPLY {
                break;
            }
            reply.push(' ');
            reply.push_str(clip(trimmed, MAX_REPLY - reply.len()));
        }
        let before = if index > 0 { lines[index - 1] } else { "" };
        let context = format!("{} {}", clip(before, MAX_REPLY), clip(line, MAX_REPLY));
        return Some((tidy(&reply).to_string(), context));
    }
    None
}

/// Without the wrapping of its report: Exchange's `##` and quotes, the `)` of
/// Sendmail's `(reason: …)`.
fn tidy(reply: &str) -> &str {
    let mut reply = reply.trim_end_matches(['#', '\'', '"', ' ']);
    if reply.ends_with(')') && reply.matches(')').count() > reply.matches('(').count() {
        reply = reply[..reply.len() - 1].trim_end();
    }
    reply
}

/// Byte offset of a 4xx/5xx reply code in `line` that stands where a reply
/// starts: at the start of the line (after `#`, quotes, brackets) or after a
/// marker such as `said:` or `returned '`.
fn reply_start(line: &str) -> Option<usize> {
    // A reply starts near the beginning of its line; the cap keeps a hostile
    // megabyte-long line linear.
    let line = clip(line, MAX_LINE_SCAN);
    let bytes = line.as_bytes();
    // Everything before this offset is blank or quoting (`#`, `'`, `(`, `<<<`).
    let lead_end = line
        .find(|c: char| !(c.is_whitespace() || matches!(c, '#' | '\'' | '"' | '(' | '<' | '>')))
        .unwrap_or(line.len());
    (0..bytes.len().saturating_sub(2)).find(|&i| {
        let code = matches!(bytes[i], b'4' | b'5')
            && bytes[i + 1].is_ascii_digit()
            && bytes[i + 2].is_ascii_digit();
        if !code || !line.is_char_boundary(i) {
            return false;
        }
        let prev_ok = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || matches!(bytes[i - 1], b'.' | b'-' | b'/' | b':' | b'_'));
        let next_ok = matches!(bytes.get(i + 3), None | Some(b' ' | b'-' | b':'));
        if !prev_ok || !next_ok {
            return false;
        }
        let before = line[..i]
            .trim_end()
            .trim_end_matches(['\'', '"', '(', '#'])
            .trim_end();
        let after_marker = REPLY_MARKERS.iter().any(|m| {
            before.len() >= m.len()
                && before.is_char_boundary(before.len() - m.len())
                && before[before.len() - m.len()..].eq_ignore_ascii_case(m)
        });
        i <= lead_end || after_marker
    })
}

/// The first enhanced status code standing alone in `text` (`5.1.1`, `#5.1.1`).
pub(crate) fn find_status(text: &str) -> Option<EnhancedCode> {
    text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '(' | ')' | '#' | ',' | ';' | '\'' | '"' | '[' | ']' | '<' | '>'
            )
    })
    .map(|word| word.trim_end_matches([':', '.']))
    .find_map(EnhancedCode::parse)
}

/// Without a reply: the line that says why (qmail's "Sorry, no mailbox here
/// by that name. (#5.1.1)", Exim's "Unrouteable address").
pub(crate) fn reason_line(segment: &str) -> Option<String> {
    segment
        .lines()
        .skip(1)
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.contains('@'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_starts_after_a_marker_or_at_the_start_of_a_line() {
        for (line, found) in [
            (
                "host mx.example.net[192.0.2.1] said: 550 5.1.1 <a@example.com>: User unknown",
                Some("550 5.1.1"),
            ),
            (
                "    550-5.1.1 The email account does not exist",
                Some("550-5.1.1"),
            ),
            (
                "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'",
                Some("550 5.1.1"),
            ),
            (
                "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##",
                Some("550 5.1.1"),
            ),
            (
                "554: delivery error: dd This user doesn't have a yahoo.com account",
                Some("554: deli"),
            ),
            (
                "    (reason: 550 5.1.1 <a@example.com>... User unknown)",
                Some("550 5.1.1"),
            ),
            (
                "Remote host said: 452 4.2.2 Mailbox full",
                Some("452 4.2.2"),
            ),
            ("Giving up on 192.0.2.55.", None),
            ("Your message of 512 bytes could not be delivered", None),
            ("Arrival-Date: Mon, 2 Nov 2026 10:00:00 +0000", None),
            ("<gone@example.com>: 550 5.1.1 unknown", Some("550 5.1.1")),
        ] {
            let got = reply_start(line).map(|i| &line[i..(i + 9).min(line.len())]);
            assert_eq!(got, found, "{line}");
        }
    }

    #[test]
    fn continuation_lines_join_the_reply() {
        let text = "SMTP error from remote mail server after RCPT TO:<a@example.com>:\n    550-5.1.1 The email account that you tried to reach does not exist.\n    550 5.1.1 Please try double-checking.\n\nnext";
        let (reply, context) = find_reply(text).unwrap();
        assert!(
            reply.starts_with("550-5.1.1 The email") && reply.ends_with("double-checking."),
            "{reply}"
        );
        assert!(context.contains("after RCPT TO"));
    }

    #[test]
    fn a_status_stands_alone_never_inside_an_address_or_ip() {
        assert_eq!(find_status("host 10.5.1.1 said"), None);
        assert_eq!(
            find_status("no mailbox here by that name. (#5.1.1)").map(|c| c.to_string()),
            Some("5.1.1".into())
        );
    }
}
