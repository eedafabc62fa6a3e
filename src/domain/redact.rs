//! Addresses inside free text (SMTP replies, error chains) masked for logs
//! and for anything `tend status` shows: servers quote the recipient back
//! (`550 5.1.1 <jane.doe@example.com>: User unknown`), and that text must
//! not carry the address further than the database.

use super::mask;

/// `text` with every email address in it masked like [`mask`] does
/// (`ja***@example.com`): in angle brackets, in quotes, after `to `, with
/// `+tags`, with UTF-8 local parts and domains, quoted local parts, and
/// domain literals. Masking twice changes nothing.
pub fn redact_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices('@') {
        if at < copied {
            continue;
        }
        let start = local_start(&text[copied..at]) + copied;
        let end = at + 1 + domain_len(&text[at + 1..]);
        if start == at || end == at + 1 {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(&mask(&text[start..end]));
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the local part ending at the end of `before` starts (byte offset),
/// or `before.len()` when there is none.
fn local_start(before: &str) -> usize {
    // A quoted local part: `"jane doe"@example.com`.
    if let Some(inner) = before.strip_suffix('"') {
        if let Some(open) = inner.rfind('"') {
            if open + 1 < inner.len() {
                return open;
            }
        }
    }
    let mut start = before.len();
    for (i, c) in before.char_indices().rev() {
        if !is_local_char(c) {
            break;
        }
        start = i;
    }
    // Quotes and dots around an address belong to the sentence, not to it.
    let local = &before[start..];
    start + (local.len() - local.trim_start_matches(['\'', '`', '.']).len())
}

/// How many bytes of `after` (the text after `@`) are the domain.
fn domain_len(after: &str) -> usize {
    // A domain literal: `jane@[192.0.2.1]`.
    if after.starts_with('[') {
        return after.find(']').map_or(0, |close| close + 1);
    }
    let end = after
        .char_indices()
        .find(|&(_, c)| !is_domain_char(c))
        .map_or(after.len(), |(i, _)| i);
    after[..end].trim_end_matches(['.', '-']).len()
}

/// RFC 5322 atext and dots, and any letter, digit or combining mark
/// (RFC 6531 lets local parts be UTF-8).
fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~.".contains(c)
        || (!c.is_ascii() && is_word_char(c))
}

/// Labels of letters, digits and hyphens, ASCII or not (IDN in UTF-8 form).
fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.' || (!c.is_ascii() && is_word_char(c))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}' | '\u{200C}' | '\u{200D}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_smtp_replies_keep_everything_but_the_address() {
        for (reply, redacted) in [
            (
                "550 5.1.1 <jane.doe+x@example.com>: Recipient address rejected: User unknown in local recipient table",
                "550 5.1.1 <ja***@example.com>: Recipient address rejected: User unknown in local recipient table",
            ),
            (
                "permanent error (550): 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser d2e1a72fcca58-7ad for jane.doe@gmail.com",
                "permanent error (550): 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser d2e1a72fcca58-7ad for ja***@gmail.com",
            ),
            (
                "550 5.5.0 Requested action not taken: mailbox unavailable (jdoe@outlook.com)",
                "550 5.5.0 Requested action not taken: mailbox unavailable (jd***@outlook.com)",
            ),
            (
                "452 4.2.2 The email account that you tried to reach is over quota. 'bob.smith@yahoo.com'",
                "452 4.2.2 The email account that you tried to reach is over quota. 'bo***@yahoo.com'",
            ),
            (
                "450 4.2.0 <x_y@mail.example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/mail.example.org.html",
                "450 4.2.0 <x_***@mail.example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/mail.example.org.html",
            ),
            (
                "554 5.7.1 Delivery to \"ana@acme.example\" refused; relay to anna.k@other.example denied.",
                "554 5.7.1 Delivery to \"an***@acme.example\" refused; relay to an***@other.example denied.",
            ),
            (
                "RCPT TO:<josé.núñez@correo.ejemplo.es> 550 no such user",
                "RCPT TO:<jo***@correo.ejemplo.es> 550 no such user",
            ),
            (
                "550 user unknown: 用户@例子.广告",
                "550 user unknown: 用户***@例子.广告",
            ),
            (
                "551 User not local; please try \"jane doe\"@example.com or jd@[192.0.2.1]",
                "551 User not local; please try \"j***@example.com or jd***@[192.0.2.1]",
            ),
        ] {
            assert_eq!(redact_addresses(reply), redacted);
        }
    }

    #[test]
    fn text_without_addresses_is_unchanged_and_masking_twice_changes_nothing() {
        for text in [
            "421 4.7.0 Try again later, closing connection.",
            "meet @ 10:00, ping @ana or email@ later",
            "",
        ] {
            assert_eq!(redact_addresses(text), text);
        }
        let once = redact_addresses("to jane.doe+x@example.com, cc \"bo@b.example\"");
        assert_eq!(once, "to ja***@example.com, cc \"bo***@b.example\"");
        assert_eq!(redact_addresses(&once), once);
    }

    #[test]
    fn the_result_never_contains_a_local_part_beyond_two_characters() {
        let locals = [
            "jane.doe",
            "jane+tag",
            "o'brien",
            "a.b-c_d",
            "ünïcødé",
            "q=x/y",
        ];
        for local in locals {
            let text = format!("error for <{local}@example.com>: 550 and '{local}@example.com'.");
            let redacted = redact_addresses(&text);
            assert!(!redacted.contains(local), "{local}: {redacted}");
            let kept: String = local.chars().take(2).collect();
            assert!(
                redacted.contains(&format!("{kept}***@example.com")),
                "{redacted}"
            );
        }
    }
}
