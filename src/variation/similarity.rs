//! Near-duplicate detection: Jaccard similarity of word 3-shingles.
//! Words are lower-cased runs of letters and digits, so punctuation,
//! case and line breaks do not hide a copy.

use std::collections::HashSet;

const SHINGLE: usize = 3;

/// The set of `SHINGLE`-word windows of a text (the words themselves when
/// the text is shorter than one window).
pub fn shingles(text: &str) -> HashSet<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.len() < SHINGLE {
        return words.into_iter().collect();
    }
    words.windows(SHINGLE).map(|w| w.join(" ")).collect()
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
    fn a_small_edit_stays_similar() {
        let a = "It has been a while since we last heard from you, and I wanted to check in with you today about your account.";
        let b = "It has been a while since we last heard from you, and I wanted to check in with you this week about your account.";
        let s = similarity(a, b);
        assert!(s > 0.6 && s < 1.0, "{s}");
    }
}
