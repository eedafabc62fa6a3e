//! Near-duplicate detection: Jaccard similarity of word 3-shingles.
//! Words are lower-cased runs of letters and digits, so punctuation,
//! case and line breaks do not hide a copy.
//!
//! [`masked_shingles`] first replaces what is personal (the contact's name,
//! address, attributes; every link, whose signed token differs per contact)
//! with one placeholder word each, so two messages that differ only there
//! count as the same text: names are not variety.

use std::collections::HashSet;

const SHINGLE: usize = 3;

/// What a masked contact field becomes.
pub const FIELD: &str = "contactfield";
/// What a masked link or address becomes.
pub const LINK: &str = "linkfield";

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn windows(words: Vec<String>) -> HashSet<String> {
    if words.len() < SHINGLE {
        return words.into_iter().collect();
    }
    words.windows(SHINGLE).map(|w| w.join(" ")).collect()
}

/// The set of `SHINGLE`-word windows of a text (the words themselves when
/// the text is shorter than one window).
pub fn shingles(text: &str) -> HashSet<String> {
    windows(words(text))
}

/// [`shingles`] after masking: links and addresses become [`LINK`], and
/// every occurrence of one of `fields` (whole words, any case; longest
/// first) becomes [`FIELD`].
pub fn masked_shingles(text: &str, fields: &[String]) -> HashSet<String> {
    let unlinked: String = text
        .split_inclusive(char::is_whitespace)
        .map(|token| {
            let t = token.trim();
            if t.contains("://") || t.starts_with("mailto:") || t.contains('@') {
                format!(" {LINK} ")
            } else {
                token.to_string()
            }
        })
        .collect();
    let mut phrases: Vec<Vec<String>> = fields
        .iter()
        .map(|f| words(f))
        .filter(|w| !w.is_empty())
        .collect();
    phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
    phrases.dedup();
    let all = words(&unlinked);
    let mut out = Vec::with_capacity(all.len());
    let mut i = 0;
    while i < all.len() {
        match phrases
            .iter()
            .find(|p| all.len() - i >= p.len() && all[i..i + p.len()] == p[..])
        {
            Some(p) => {
                out.push(FIELD.to_string());
                i += p.len();
            }
            None => {
                out.push(all[i].clone());
                i += 1;
            }
        }
    }
    windows(out)
}

/// |A ∩ B| / |A ∪ B| in 0..=1; two empty texts are identical (1).
pub fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// Similarity of two texts, 0 (nothing shared) to 1 (same words in the same order).
pub fn similarity(a: &str, b: &str) -> f64 {
    jaccard(&shingles(a), &shingles(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_identical_whatever_the_case_and_punctuation() {
        let a = "Hi Ana, it has been a while. Is there anything we could do?";
        let b = "hi ana it has been a WHILE\nis there anything we could do";
        assert!((similarity(a, b) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn different_messages_share_little() {
        let a = "Hi Ana, it has been a while since we last heard from you.";
        let b = "Hello Ana, we added three features clients kept asking for.";
        assert!(similarity(a, b) < 0.1, "{}", similarity(a, b));
    }

    #[test]
    fn masked_names_and_links_are_not_variety() {
        let a = "Hi Ana, it has been seven months. Unsubscribe: https://x.example/u/AAA";
        let b = "Hi Jane, it has been seven months. Unsubscribe: https://x.example/u/BBB";
        assert!(similarity(a, b) < 0.7);
        let fields = |n: &str| vec![n.to_string(), "seven months".to_string()];
        let (x, y) = (
            masked_shingles(a, &fields("Ana")),
            masked_shingles(b, &fields("Jane")),
        );
        assert!((jaccard(&x, &y) - 1.0).abs() < 1e-9, "{x:?} {y:?}");
        assert!(
            x.contains("hi contactfield it") && x.contains("contactfield unsubscribe linkfield"),
            "{x:?}"
        );
        // Whole words only: "Ana" is not masked inside "Banana".
        assert!(masked_shingles("a Banana split", &fields("Ana")).contains("a banana split"));
    }

    #[test]
    fn a_small_edit_stays_similar() {
        let a = "It has been a while since we last heard from you, and I wanted to check in with you today about your account.";
        let b = "It has been a while since we last heard from you, and I wanted to check in with you this week about your account.";
        let s = similarity(a, b);
        assert!(s > 0.6 && s < 1.0, "{s}");
    }
}
