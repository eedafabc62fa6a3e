//! The recipient's name in `To:`. Names come from imports and can be
//! anything: thousands of characters, a line break smuggling in a header,
//! quotes and angle brackets, an encoded word, or bidi overrides and
//! zero-width characters that make the header read unlike what it is. Such a
//! name is left out and the message goes to the bare address: a message
//! without a name beats no message. Templates still see the name as
//! imported (`contact.name`, `contact.first_name`).

/// RFC 5322 caps a header line at 998 characters; names get a tighter, humane bound.
pub const MAX_NAME: usize = 200;

/// Why a name cannot go into `To:`. Never contains the name itself, so it
/// can be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnusableName {
    #[error("the name is {0} characters long (the limit is {MAX_NAME})")]
    TooLong(usize),
    #[error("the name contains a control character (line breaks included)")]
    Control,
    #[error("the name contains a quote, backslash, angle bracket or encoded word")]
    HeaderSyntax,
    #[error("the name contains invisible formatting (bidi controls or zero-width characters)")]
    Invisible,
}

/// The name to put in `To:`: `Ok(None)` when there is none (missing, blank,
/// or an address copied into the name field, as CRMs do), whitespace runs
/// collapsed to one space.
pub fn display_name(name: Option<&str>) -> Result<Option<String>, UnusableName> {
    let Some(raw) = name else { return Ok(None) };
    // A tab is only untidy whitespace; every other control character is not text.
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Err(UnusableName::Control);
    }
    if raw.chars().any(is_invisible) {
        return Err(UnusableName::Invisible);
    }
    if raw.contains(['"', '\\', '<', '>']) || raw.contains("=?") {
        return Err(UnusableName::HeaderSyntax);
    }
    let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() || collapsed.contains('@') {
        return Ok(None);
    }
    let len = collapsed.chars().count();
    if len > MAX_NAME {
        return Err(UnusableName::TooLong(len));
    }
    Ok(Some(collapsed))
}

/// Format characters that change how a line reads without being seen:
/// bidi embeddings, overrides, isolates and marks, zero-width spaces and
/// joiners of words, fillers, tags. ZWNJ and ZWJ (U+200C, U+200D) are
/// allowed: Persian and Indic names and emoji sequences are spelled with them.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180E}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{3164}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E007F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_kept_with_whitespace_tidied() {
        for (raw, kept) in [
            ("Ana María López", "Ana María López"),
            ("  Nora\t New ", "Nora New"),
            ("O'Brien, Pat (Sales)", "O'Brien, Pat (Sales)"),
            ("李小龍", "李小龍"),
            ("محمد\u{200C}رضا", "محمد\u{200C}رضا"),
            (
                "Zoë \u{1F469}\u{200D}\u{1F4BB}",
                "Zoë \u{1F469}\u{200D}\u{1F4BB}",
            ),
        ] {
            assert_eq!(
                display_name(Some(raw)),
                Ok(Some(kept.to_string())),
                "{raw:?}"
            );
        }
        let longest = "a".repeat(MAX_NAME);
        assert_eq!(display_name(Some(&longest)), Ok(Some(longest.clone())));
    }

    #[test]
    fn missing_blank_and_address_like_names_mean_no_name() {
        for raw in [None, Some(""), Some("  \t "), Some("ana@example.com")] {
            assert_eq!(display_name(raw), Ok(None), "{raw:?}");
        }
    }

    #[test]
    fn unusable_names_say_why_without_repeating_the_name() {
        let long = "Maximilian ".repeat(50);
        for (raw, why) in [
            (long.as_str(), UnusableName::TooLong(549)),
            ("Eve\r\nBcc: thief@evil.example", UnusableName::Control),
            ("Eve\nX-Injected: yes", UnusableName::Control),
            ("\u{1}\u{7}", UnusableName::Control),
            ("Ana\u{0}", UnusableName::Control),
            ("Support\" <help@bank.example>", UnusableName::HeaderSyntax),
            ("Ana <ana@acme.example>", UnusableName::HeaderSyntax),
            ("back\\slash", UnusableName::HeaderSyntax),
            ("=?utf-8?q?Support=40bank?=", UnusableName::HeaderSyntax),
            ("Ana\u{202E}moc.knab", UnusableName::Invisible),
            ("An\u{200B}a", UnusableName::Invisible),
            ("\u{2067}Ana\u{2069}", UnusableName::Invisible),
            ("\u{FEFF}Ana", UnusableName::Invisible),
        ] {
            assert_eq!(display_name(Some(raw)), Err(why), "{raw:?}");
            assert!(!why.to_string().contains(raw.trim()), "{why}");
        }
    }
}
