//! Small pieces of English that templates get wrong by hand: "a" or "an"
//! (by sound, not by letter: "an hour", "a user", "an MBA", "a one-off"),
//! and capitalising a sentence without lower-casing the rest ("Acme" stays
//! "Acme", "iPhone" stays "iPhone").

/// Letters whose English name starts with a vowel sound: "an F", "an MBA".
const VOWEL_NAMED_LETTERS: &str = "AEFHILMNORSX";

/// Starts of words written with a vowel but said with a consonant sound
/// ("a user", "a unique", "a European", "a one-off").
const CONSONANT_SOUND: &[&str] = &[
    "uni", "use", "usi", "usa", "usu", "ute", "uti", "uto", "ura", "ure", "uri", "uro", "ubiq",
    "uku", "eu", "ewe", "one", "once", "oui",
];

/// …except these, said with a vowel ("an unimportant", "an unidentified").
const VOWEL_DESPITE: &[&str] = &["unin", "unim", "unid", "oner"];

/// Starts of words whose "h" is silent ("an hour", "an honest").
const SILENT_H: &[&str] = &["hour", "honest", "honor", "honour", "heir"];

fn is_vowel(c: char) -> bool {
    matches!(
        c.to_lowercase().next().unwrap_or(c),
        'a' | 'e'
            | 'i'
            | 'o'
            | 'u'
            | 'á'
            | 'é'
            | 'í'
            | 'ó'
            | 'ú'
            | 'à'
            | 'è'
            | 'â'
            | 'ê'
            | 'î'
            | 'ô'
            | 'û'
            | 'ä'
            | 'ö'
            | 'ü'
    )
}

/// Whether a number is said starting with a vowel: 8, 11, 18, 80, 800, 11,000.
fn number_takes_an(digits: &str) -> bool {
    let digits: String = digits
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '_')
        .filter(char::is_ascii_digit)
        .collect();
    if digits.starts_with('8') {
        return true;
    }
    // "eleven", "eighteen", "eleven thousand", "eighteen million".
    (digits.starts_with("11") || digits.starts_with("18")) && matches!(digits.len(), 2 | 5 | 8)
}

/// "a" or "an" for the phrase that follows.
pub fn article(phrase: &str) -> &'static str {
    let word = phrase
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .split(|c: char| c.is_whitespace() || c == '-' || c == '/')
        .next()
        .unwrap_or_default();
    let Some(first) = word.chars().next() else {
        return "a";
    };
    if first.is_ascii_digit() {
        return if number_takes_an(word) { "an" } else { "a" };
    }
    let letters: String = word.chars().filter(|c| c.is_alphabetic()).collect();
    // An acronym said letter by letter: "an MBA", "a URL", "an SUV"; a lone capital too.
    let acronym = letters.chars().all(|c| c.is_uppercase())
        && (letters.chars().count() >= 2 || word.chars().count() == 1);
    if acronym {
        return if VOWEL_NAMED_LETTERS.contains(first) {
            "an"
        } else {
            "a"
        };
    }
    let lower = word.to_lowercase();
    if SILENT_H.iter().any(|p| lower.starts_with(p)) {
        return "an";
    }
    if VOWEL_DESPITE.iter().any(|p| lower.starts_with(p)) {
        return "an";
    }
    if CONSONANT_SOUND.iter().any(|p| lower.starts_with(p)) {
        return "a";
    }
    if lower == "u" {
        return "a";
    }
    if is_vowel(first) { "an" } else { "a" }
}

/// The phrase with its article: "an enterprise plan".
pub fn with_article(phrase: &str) -> String {
    let phrase = phrase.trim();
    if phrase.is_empty() {
        return String::new();
    }
    format!("{} {phrase}", article(phrase))
}

/// Upper-cases the first letter and leaves everything else as written:
/// "acme is…" → "Acme is…", "it's Acme" → "It's Acme", "¿qué tal?" → "¿Qué tal?".
pub fn capitalize_first(text: &str) -> String {
    match text.char_indices().find(|(_, c)| c.is_alphanumeric()) {
        Some((at, c)) => {
            let mut out = String::with_capacity(text.len() + 2);
            out.push_str(&text[..at]);
            out.extend(c.to_uppercase());
            out.push_str(&text[at + c.len_utf8()..]);
            out
        }
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_goes_by_sound() {
        for (phrase, want) in [
            ("hour", "an"),
            ("honest answer", "an"),
            ("user", "a"),
            ("unique offer", "a"),
            ("university", "a"),
            ("unimportant detail", "an"),
            ("umbrella", "an"),
            ("MBA", "an"),
            ("URL", "a"),
            ("SUV", "an"),
            ("FAQ", "an"),
            ("CEO", "a"),
            ("VIP", "a"),
            ("enterprise", "an"),
            ("Enterprise", "an"),
            ("pro", "a"),
            ("basic", "a"),
            ("one-off", "a"),
            ("European", "a"),
            ("apple", "an"),
            ("iPhone", "an"),
            ("year", "a"),
            ("8-week course", "an"),
            ("11-day trip", "an"),
            ("18", "an"),
            ("110", "a"),
            ("1", "a"),
            ("800", "an"),
            ("F", "an"),
            ("U", "a"),
            ("\"excellent\" review", "an"),
            ("", "a"),
        ] {
            assert_eq!(article(phrase), want, "{phrase:?}");
        }
        assert_eq!(with_article("enterprise"), "an enterprise");
        assert_eq!(with_article("  "), "");
    }

    #[test]
    fn capitalising_touches_only_the_first_letter() {
        assert_eq!(capitalize_first("acme is here"), "Acme is here");
        assert_eq!(
            capitalize_first("it's Acme, not ACME"),
            "It's Acme, not ACME"
        );
        assert_eq!(capitalize_first("iPhone"), "IPhone");
        assert_eq!(capitalize_first("¿qué tal?"), "¿Qué tal?");
        assert_eq!(capitalize_first("élan"), "Élan");
        assert_eq!(capitalize_first(""), "");
        assert_eq!(capitalize_first("..."), "...");
    }
}
