//! Slips that give a machine away, looked for in rendered text: doubled
//! punctuation ("Smith,, we"), "a" before a vowel sound ("a enterprise"),
//! a filled-in slot that does not fit ("In the about seven months", "the a
//! while since"), an empty name slot ("Hi ,"), a "there," greeting, a title
//! where a name should be ("Dr.,"), leftover template syntax and a
//! lower-cased brand. `tend check` runs it over every step rendered for
//! awkward sample contacts; the shipped templates are tested against it.

use super::english::article;
use crate::catalog::Locale;

/// One slip, with a little of the text around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slip {
    pub what: &'static str,
    pub excerpt: String,
}

const GREETING_WORDS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "morning",
    "afternoon",
    "evening",
    "welcome",
    "thanks",
    "hallo",
    "hola",
];

const TITLES: &[&str] = &[
    "dr", "mr", "mrs", "ms", "prof", "mx", "herr", "frau", "sr", "sra",
];

fn excerpt(text: &str, at: usize, len: usize) -> String {
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(20)
        .map(|(i, _)| i)
        .unwrap_or(0);
    let end = text[at + len..]
        .char_indices()
        .nth(20)
        .map(|(i, _)| at + len + i)
        .unwrap_or(text.len());
    text[start..end].replace('\n', "⏎")
}

/// Words with their byte offsets; a word keeps inner apostrophes, hyphens
/// and dots ("J.R.", "one-off"), not surrounding punctuation.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for (start, raw) in text
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
    {
        let lead = raw.len() - raw.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        if !word.is_empty() {
            out.push((start + lead, word));
        }
    }
    out
}

/// Elements that break a line when displayed; inline ones (`a`, `span`,
/// `strong`) join their text to the words around them.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "td",
    "th",
    "table",
    "blockquote",
    "hr",
    "body",
    "html",
    "section",
    "article",
    "header",
    "footer",
];

/// Removes tags and decodes the few entities templates produce, so HTML
/// can be proofread like text.
pub fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let rest = &lower[i..];
        if rest.starts_with('<') {
            // Invisible content: the head (title included), styles, the hidden preheader.
            let hidden = [
                ("<head", "</head>"),
                ("<style", "</style>"),
                ("<title", "</title>"),
                ("<div style=\"display:none", "</div>"),
            ]
            .into_iter()
            .find(|(open, _)| rest.starts_with(open));
            if let Some((_, close)) = hidden {
                i += rest.find(close).map_or(rest.len(), |at| at + close.len());
                continue;
            }
            let end = rest.find('>').map_or(rest.len(), |at| at + 1);
            let name: String = rest[1..end]
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if BLOCK.contains(&name.as_str()) {
                out.push('\n');
            }
            i += end;
            continue;
        }
        let c = html[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out.replace("&nbsp;", " ")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every slip in `text`. English rules (articles) apply only to English;
/// `brands` are names that must keep their capital ("Acme").
pub fn proofread(text: &str, locale: Locale, brands: &[String]) -> Vec<Slip> {
    let mut out = Vec::new();
    let mut slip = |what: &'static str, at: usize, len: usize| {
        out.push(Slip {
            what,
            excerpt: excerpt(text, at, len),
        })
    };
    for syntax in ["{{", "}}", "{%", "%}", "{#", "#}"] {
        if let Some(at) = text.find(syntax) {
            slip("leftover template syntax", at, syntax.len());
        }
    }
    for double in [",,", ",.", ".,", ";,", ",;", ":,", ",:", " ,", " .", " ;"] {
        for (at, _) in text.match_indices(double) {
            // "..." is an ellipsis; " ." may start one (" ...").
            if double == " ." && text[at + 1..].starts_with("...") {
                continue;
            }
            if double == ".," && at > 0 && text[..at].ends_with("..") {
                continue;
            }
            slip("doubled or stray punctuation", at, double.len());
        }
    }
    for (at, _) in text.match_indices("..") {
        let before_dot = at > 0 && text[..at].ends_with('.');
        let run_of_three = text[at..].starts_with("...") || before_dot;
        if !run_of_three {
            slip("doubled punctuation", at, 2);
        }
    }
    // A line (or the text) that starts with punctuation: an empty slot before it.
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with([',', ';', ':']) {
            let at = trimmed.as_ptr() as usize - text.as_ptr() as usize;
            slip("empty slot at the start of a line", at, 1);
        }
    }
    let ws = words(text);
    let lower: Vec<String> = ws.iter().map(|(_, w)| w.to_lowercase()).collect();
    let next_char = |i: usize| {
        let (at, w) = ws[i];
        text[at + w.len()..].chars().next()
    };
    for i in 0..ws.len() {
        let (at, word) = ws[i];
        let next = lower.get(i + 1).map(String::as_str);
        let after = next_char(i);
        if locale == Locale::En && after.is_none_or(char::is_whitespace) {
            if let Some(&(_, following)) = ws.get(i + 1) {
                let wanted = article(following);
                if word == "a" || word == "A" {
                    if wanted == "an" {
                        slip("\"a\" before a vowel sound", at, 1);
                    }
                } else if (word == "an" || word == "An") && wanted == "a" {
                    slip("\"an\" before a consonant sound", at, 2);
                }
            }
        }
        if lower[i] == "the"
            && matches!(next, Some("about" | "over" | "a" | "an" | "less" | "some"))
            && after.is_none_or(char::is_whitespace)
        {
            slip("a phrase that does not fit after \"the\"", at, 3);
        }
        if lower[i] == "about" && matches!(next, Some("about" | "over" | "less")) {
            slip("\"about\" doubled", at, 5);
        }
        if lower[i] == "a"
            && next == Some("while")
            && lower.get(i + 2).map(String::as_str) == Some("since")
        {
            slip("\"a while since\": a filled-in slot", at, 13);
        }
        if lower[i] == "there" {
            let before = text[..at].trim_end();
            let greeted = i > 0 && GREETING_WORDS.contains(&lower[i - 1].as_str());
            let line_start = before.is_empty() || before.ends_with('\n');
            // "Welcome to Acme, there" ends a clause; "…, there is" does not.
            let ends_clause = after.is_none_or(|c| !c.is_alphanumeric() && c != ' ');
            if (before.ends_with(',') && ends_clause)
                || (after == Some(',') && (greeted || line_start))
                || (greeted && ends_clause)
            {
                slip("\"there\" in place of a name", at, 5);
            }
        }
        if TITLES.contains(&lower[i].as_str()) {
            let rest = &text[at + word.len()..];
            if rest.starts_with(".,") || rest.starts_with(',') || rest.trim_start().is_empty() {
                slip("a title in place of a name", at, word.len());
            }
        }
        for brand in brands {
            let is_url_part = text[..at].ends_with(['.', '@', '/'])
                || text[at + word.len()..].starts_with(['.', '@']) && {
                    let rest = &text[at + word.len() + 1..];
                    rest.starts_with(|c: char| c.is_alphanumeric())
                };
            if word != brand && word.eq_ignore_ascii_case(brand) && !is_url_part {
                slip("a brand name with the wrong case", at, word.len());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slips(text: &str) -> Vec<&'static str> {
        proofread(text, Locale::En, &["Acme".to_string()])
            .into_iter()
            .map(|s| s.what)
            .collect()
    }

    #[test]
    fn the_slips_from_the_issue_are_caught() {
        for text in [
            "In the about seven months since your last visit",
            "In the a while since your last visit",
            "As a enterprise client, you have it all.",
            "Smith,, we have missed you",
            "Dr., it has been a while",
            "Welcome to Acme, there",
            "Hi there,\n\nHow are you?",
            "there, it has been a while",
            "acme has news for you",
            "Hi ,\n\nHello",
            "Hello {{ contact.first_name }}",
            ", we have missed you",
            "It has been about about four months.",
            "Hi J.,",
            "an user guide",
        ] {
            assert!(!slips(text).is_empty(), "{text:?} passes");
        }
    }

    #[test]
    fn good_copy_passes() {
        for text in [
            "Hi Ana,\n\nIt has been seven months since we last heard from you.",
            "As an enterprise client, you have it all. A one-off offer for a user of Acme.",
            "An hour with us... and an MBA later.",
            "Visit https://acme.example/news or write to ana@acme.example.",
            "Out there, things change.",
            "If you need anything, there is a number to call.",
            "Is there anything we could do?",
            "Hello,\n\nThanks for being with us.",
            "Option A.",
        ] {
            assert!(slips(text).is_empty(), "{text:?}: {:?}", slips(text));
        }
        // Spanish "a" is a preposition, not an article.
        assert!(proofread("Escribe a Ana.", Locale::Es, &[]).is_empty());
    }

    #[test]
    fn visible_text_drops_tags_head_and_the_hidden_preheader() {
        let html = "<!DOCTYPE html><html><head><title>T {{</title></head><body>\
                    <div style=\"display:none;max-height:0\">pre</div><p>Hi&nbsp;Ana,</p></body></html>";
        let text = visible_text(html);
        assert!(text.contains("Hi Ana,"), "{text}");
        assert_eq!(
            visible_text("<p>No? <a href=\"x\">Leave</a>.</p>").trim(),
            "No? Leave."
        );
        assert!(!text.contains("pre") && !text.contains("T {{"), "{text}");
    }
}
