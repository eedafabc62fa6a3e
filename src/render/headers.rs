//! Header lines written straight into the message, the bytes lettre's header
//! types write. Building a lettre `HeaderValue` copies the value, encodes it
//! into a new string and formats it once more through `Display`; with the
//! mailbox types it also formats the raw value nobody reads. That was a
//! quarter of a message's MIME assembly. The cases written here are the
//! ones where lettre's encoding is the value itself, folded at spaces (an
//! ASCII value, a plain or quoted display name, a date): anything else
//! (non-ASCII needing RFC 2047, escapes in a quoted name, a name too long
//! for one line) goes through lettre's types as before, so the bytes are
//! lettre's in every case. `headers::tests` and `message::tests` compare.

use chrono::{DateTime, Datelike, Timelike, Utc};
use lettre::message::header::{self, Header, HeaderName, HeaderValue, Headers};
use lettre::message::{Mailbox, Mailboxes};

/// `email_encoding`'s longest header line before it folds.
const MAX_LINE_LEN: usize = 76;

/// `Name: value` as `HeaderValue::new` encodes an unstructured value.
pub fn unstructured(out: &mut Vec<u8>, name: &'static str, value: &str) {
    if value.bytes().all(allowed) {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        fold(out, name.len() + 2, value.as_bytes());
        out.extend_from_slice(b"\r\n");
    } else {
        let mut headers = Headers::new();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            value.to_string(),
        ));
        write_headers(out, &headers);
    }
}

/// Bytes lettre's header encoder writes as they are (it RFC 2047-encodes
/// words holding any other).
fn allowed(byte: u8) -> bool {
    matches!(byte, 1..=9 | 11 | 12 | 14..=127)
}

/// `email_encoding`'s folding writer given only allowed bytes: words are
/// written as they come, and a line break goes before a word (keeping the
/// spaces before it, which then start the next line) when the spaces and
/// the word would take the line past its limit and something was already
/// written on it.
fn fold(out: &mut Vec<u8>, mut line_len: usize, value: &[u8]) {
    let mut spaces = 0;
    let mut wrote = false;
    let mut rest = value;
    while let Some((&first, tail)) = rest.split_first() {
        if first == b' ' {
            spaces += 1;
            rest = tail;
            continue;
        }
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        if wrote && spaces >= 1 && line_len + spaces + word.len() > MAX_LINE_LEN {
            out.extend_from_slice(b"\r\n");
            line_len = 0;
        }
        push_spaces(out, &mut spaces, &mut line_len);
        out.extend_from_slice(word);
        line_len += word.len();
        wrote = true;
        rest = after;
    }
    push_spaces(out, &mut spaces, &mut line_len);
}

fn push_spaces(out: &mut Vec<u8>, spaces: &mut usize, line_len: &mut usize) {
    out.resize(out.len() + *spaces, b' ');
    *line_len += *spaces;
    *spaces = 0;
}

/// The mailbox headers tend writes.
#[derive(Debug, Clone, Copy)]
pub enum Addressed {
    From,
    To,
    ReplyTo,
}

/// `From:`, `To:` or `Reply-To:` with one mailbox, as lettre's header of
/// that name encodes it.
pub fn mailbox(out: &mut Vec<u8>, which: Addressed, mailbox: &Mailbox) {
    let name = match which {
        Addressed::From => header::From::name(),
        Addressed::To => header::To::name(),
        Addressed::ReplyTo => header::ReplyTo::name(),
    };
    let name: &str = name.as_ref();
    let email: &str = mailbox.email.as_ref();
    let line = name.len() + 2;
    // How `quoted_string::encode` writes the display name: as it is when it
    // is one word of letters, digits, `-`, `_` and `.`; quoted when it also
    // has spaces (folded at them, which cannot happen if it fits the line).
    let display = match &mailbox.name {
        None => Some(None),
        Some(display)
            if !display.is_empty()
                && display
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) =>
        {
            Some(Some((display.as_str(), false)))
        }
        Some(display)
            if display.contains(' ')
                && line + 1 + display.len() <= MAX_LINE_LEN
                && display.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'_' | b'.')
                }) =>
        {
            Some(Some((display.as_str(), true)))
        }
        Some(_) => None,
    };
    // The address is written without folding whatever its length.
    match display {
        Some(display) if !email.contains(' ') => {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            match display {
                None => out.extend_from_slice(email.as_bytes()),
                Some((display, quoted)) => {
                    if quoted {
                        out.push(b'"');
                    }
                    out.extend_from_slice(display.as_bytes());
                    if quoted {
                        out.push(b'"');
                    }
                    out.extend_from_slice(b" <");
                    out.extend_from_slice(email.as_bytes());
                    out.push(b'>');
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        _ => {
            let mut headers = Headers::new();
            let mailboxes = Mailboxes::from(mailbox.clone());
            match which {
                Addressed::From => headers.set(header::From::from(mailboxes)),
                Addressed::To => headers.set(header::To::from(mailboxes)),
                Addressed::ReplyTo => headers.set(header::ReplyTo::from(mailboxes)),
            }
            write_headers(out, &headers);
        }
    }
}

/// `Date:` as lettre writes it: the HTTP date format with `+0000` for `GMT`.
pub fn date(out: &mut Vec<u8>, date: DateTime<Utc>) {
    // The range the HTTP date format covers; lettre's own type for the rest.
    if !(1970..=9999).contains(&date.year()) {
        let mut headers = Headers::new();
        headers.set(header::Date::new(date.into()));
        write_headers(out, &headers);
        return;
    }
    const DAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let two = |n: u32| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    let year = date.year() as u32;
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(DAYS[date.weekday().num_days_from_monday() as usize]);
    out.extend_from_slice(b", ");
    out.extend_from_slice(&two(date.day()));
    out.push(b' ');
    out.extend_from_slice(MONTHS[date.month0() as usize]);
    out.push(b' ');
    out.extend_from_slice(&two(year / 100));
    out.extend_from_slice(&two(year % 100));
    out.push(b' ');
    out.extend_from_slice(&two(date.hour()));
    out.push(b':');
    out.extend_from_slice(&two(date.minute()));
    out.push(b':');
    out.extend_from_slice(&two(date.second()));
    out.extend_from_slice(b" +0000\r\n");
}

pub fn write_headers(out: &mut Vec<u8>, headers: &Headers) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{headers}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lettre_line(name: &'static str, value: &str) -> String {
        let mut headers = Headers::new();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            value.to_string(),
        ));
        headers.to_string()
    }

    /// A small deterministic generator (xorshift): no extra dependency.
    fn generator(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn unstructured_values_are_what_lettre_encodes() {
        let long = "x".repeat(80);
        let pieces = [
            "a",
            "word",
            " ",
            "  ",
            "<https://acme.example/u/abcdefghijklmnopqrstuvwxyz0123456789>,",
            &long,
            "=?",
            "\"",
            "\t",
            "ü",
            "日本",
            "\u{1}",
            ":",
            "Welcome to Acme,",
        ];
        let mut next = generator(0x9e37_79b9_7f4a_7c15);
        for case in 0..5000 {
            let mut value = String::new();
            for _ in 0..(next() % 24) {
                value.push_str(pieces[(next() % pieces.len() as u64) as usize]);
            }
            for name in ["Subject", "List-Unsubscribe", "Feedback-ID"] {
                let mut ours = b"X".to_vec();
                unstructured(&mut ours, name, &value);
                assert_eq!(
                    String::from_utf8_lossy(&ours[1..]),
                    lettre_line(name, &value),
                    "case {case}: {value:?}"
                );
            }
        }
    }

    #[test]
    fn mailboxes_are_what_lettre_encodes() {
        let pieces = [
            "Ana",
            " ",
            "  ",
            "María",
            "O'Brien",
            ",",
            "Jr.",
            "-",
            "_",
            "\"",
            "\\",
            "x",
            "Averyveryverylongnamethatgoesonandon",
        ];
        let mut next = generator(0x2545_f491_4f6c_dd1d);
        for case in 0..5000 {
            let mut display = String::new();
            for _ in 0..(next() % 8) {
                display.push_str(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let name = (case % 5 != 0).then_some(display.clone());
            let address = format!("c{case}@example{}.com", case % 7).parse().unwrap();
            let mailbox = Mailbox::new(name, address);
            for which in [Addressed::From, Addressed::To, Addressed::ReplyTo] {
                let mut theirs = Headers::new();
                let mailboxes = Mailboxes::from(mailbox.clone());
                match which {
                    Addressed::From => theirs.set(header::From::from(mailboxes)),
                    Addressed::To => theirs.set(header::To::from(mailboxes)),
                    Addressed::ReplyTo => theirs.set(header::ReplyTo::from(mailboxes)),
                }
                let mut ours = Vec::new();
                super::mailbox(&mut ours, which, &mailbox);
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    theirs.to_string(),
                    "case {case}: {display:?}"
                );
            }
        }
    }

    #[test]
    fn dates_are_what_lettre_writes() {
        let mut next = generator(0x1234_5678_9abc_def1);
        let mut stamps: Vec<i64> = (0..3000)
            .map(|_| (next() % 253_402_300_799) as i64)
            .collect();
        stamps.extend([0, 1, 59, 86_399, 951_782_400, 253_402_300_799]);
        for stamp in stamps {
            let date = DateTime::from_timestamp(stamp, (stamp % 1000) as u32 * 1_000_000).unwrap();
            let mut theirs = Headers::new();
            theirs.set(header::Date::new(date.into()));
            let mut ours = Vec::new();
            super::date(&mut ours, date);
            assert_eq!(String::from_utf8_lossy(&ours), theirs.to_string(), "{date}");
        }
    }
}
