//! Template files, `templates/NAME.tera`: TOML front matter between `+++`
//! lines (subject, optional preheader and `lang`), then the plain-text body,
//! then optionally a line `--- html ---` and the HTML body.
//!
//! `templates/NAME.de.tera` (a supported locale code before `.tera`) is the
//! German version of `NAME`: a contact whose `locale` attribute asks for
//! German gets it, everyone else the default `NAME.tera`.
//!
//! ```text
//! +++
//! subject = "Welcome aboard, {{ contact.first_name }}"
//! +++
//! Hi {{ contact.first_name }}, …
//! --- html ---
//! <p>Hi {{ contact.first_name }}, …</p>
//! ```

use super::diag::{Diagnostic, SourceFile};
use super::fields::Fields;
use super::locale::Locale;
use toml::de::DeTable;

pub const HTML_SEPARATOR: &str = "--- html ---";

#[derive(Debug, Clone)]
pub struct TemplateSource {
    /// Path under `templates/` without `.tera`, with `/`: `win-back/checking-in`.
    pub name: String,
    pub file: SourceFile,
    pub subject: String,
    /// Byte offset of the subject's first character inside the file.
    pub subject_at: usize,
    pub preheader: Option<String>,
    pub preheader_at: usize,
    pub text: String,
    /// 1-based line where the text body starts.
    pub text_line: usize,
    pub html: Option<String>,
    pub html_line: usize,
    /// The template this one translates (`welcome/hello` for
    /// `welcome/hello.de`); its own name when it is a default template.
    pub base: String,
    /// Whether the file name carries a locale (`NAME.de.tera`).
    pub localized: bool,
    /// The language it is written in: the file name's locale, else the
    /// front matter's `lang`, else English. Helpers and the footer follow it.
    pub locale: Locale,
}

const FRONT_MATTER_KEYS: &[&str] = &["subject", "preheader", "lang"];

/// Splits and checks one template file. Returns `None` on any error.
pub fn parse(name: &str, file: SourceFile, out: &mut Vec<Diagnostic>) -> Option<TemplateSource> {
    let text = file.text.as_str();
    let fence = "+++";
    let first_line_end = text.find('\n').unwrap_or(text.len());
    if text[..first_line_end].trim_end() != fence {
        out.push(
            file.error(
                0,
                "a template must start with TOML front matter between `+++` lines",
            )
            .with_hint("start the file with:\n    +++\n    subject = \"…\"\n    +++"),
        );
        return None;
    }
    let front_start = (first_line_end + 1).min(text.len());
    let Some(close_rel) = find_line(&text[front_start..], fence) else {
        out.push(
            file.error(0, "the front matter is not closed")
                .with_hint("add a line `+++` after the subject"),
        );
        return None;
    };
    let front_end = front_start + close_rel;
    let body_start = text[front_end..]
        .find('\n')
        .map(|i| front_end + i + 1)
        .unwrap_or(text.len());
    // Parse the front matter in place so spans are offsets into the file.
    let padded: String = text[..front_start]
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect::<String>()
        + &text[front_start..front_end];
    let table = match DeTable::parse(&padded) {
        Ok(table) => table,
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(front_start);
            out.push(file.error(at, format!("invalid front matter: {}", e.message().trim())));
            return None;
        }
    };
    let fields = Fields {
        file: &file,
        table: table.get_ref(),
        at: front_start,
        what: "the front matter".into(),
    };
    let errors_before = out.iter().filter(|d| d.is_error()).count();
    if let Some((key, _)) = fields.table.iter().find(|(k, _)| k.get_ref() == "variants") {
        out.push(
            file.error(key.span().start, "variants are not listed in the front matter")
                .with_hint(
                    "write them where they are used: subject = '{{ pick(slot=\"subject\", options=[\"…\", \"…\"]) }}'",
                ),
        );
    }
    let known: Vec<&str> = FRONT_MATTER_KEYS
        .iter()
        .copied()
        .chain(["variants"])
        .collect();
    fields.reject_unknown(&known, &[], out);
    let subject = fields.required_string("subject", "\"Welcome, {{ contact.first_name }}\"", out);
    let preheader = fields.string("preheader", out);
    let (base, suffix) = Locale::split_name(name);
    let lang = fields.string("lang", out).and_then(|(code, span)| {
        let supported = || {
            Locale::ALL
                .iter()
                .map(|l| format!("\"{l}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match Locale::parse(code) {
            None => {
                out.push(
                    file.error(span.start, format!("tend does not write in `{code}`"))
                        .with_hint(format!(
                            "helpers and the unsubscribe footer exist in {}",
                            supported()
                        )),
                );
                None
            }
            Some(l) if suffix.is_some_and(|s| s != l) => {
                out.push(
                    file.error(
                        span.start,
                        format!("`lang = \"{code}\"` contradicts the file name's locale"),
                    )
                    .with_hint("the `.LL.tera` suffix already says the language: remove `lang`"),
                );
                None
            }
            Some(l) => Some(l),
        }
    });
    if let Some((s, span)) = &subject {
        if s.trim().is_empty() {
            out.push(
                file.error(span.start, "the subject is empty")
                    .with_hint("write a subject line"),
            );
        }
    }
    let subject = subject.map(|(s, span)| (s.to_string(), span.start + 1));
    let preheader = preheader.map(|(s, span)| (s.to_string(), span.start + 1));
    if out.iter().filter(|d| d.is_error()).count() > errors_before {
        return None;
    }
    let (subject, subject_at) = subject?;
    let body = &text[body_start..];
    let (text_part, html) = match find_line(body, HTML_SEPARATOR) {
        Some(at) => {
            let html_start = body[at..]
                .find('\n')
                .map(|i| at + i + 1)
                .unwrap_or(body.len());
            (
                &body[..at],
                Some((body_start + html_start, &body[html_start..])),
            )
        }
        None => (body, None),
    };
    if text_part.trim().is_empty() {
        out.push(
            file.error(body_start, "the text body is empty").with_hint(
                "every message needs a plain-text part; write it after the closing `+++`",
            ),
        );
        return None;
    }
    let text_line = file.position(body_start).0;
    let (html_line, html) = match html {
        Some((offset, html)) => (file.position(offset).0, Some(html.to_string())),
        None => (0, None),
    };
    Some(TemplateSource {
        name: name.to_string(),
        subject,
        subject_at,
        preheader_at: preheader.as_ref().map(|(_, at)| *at).unwrap_or(0),
        preheader: preheader.map(|(p, _)| p),
        text: text_part.to_string(),
        text_line,
        html,
        html_line,
        base: base.to_string(),
        localized: suffix.is_some(),
        locale: suffix.or(lang).unwrap_or_default(),
        file,
    })
}

/// Byte offset of the first line equal to `marker` (ignoring trailing space).
fn find_line(text: &str, marker: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == marker {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse_str(text: &str) -> (Option<TemplateSource>, Vec<Diagnostic>) {
        let mut out = Vec::new();
        let file = SourceFile::new(Path::new("t.tera"), text.to_string());
        (parse("t", file, &mut out), out)
    }

    #[test]
    fn splits_front_matter_text_and_html() {
        let (t, diags) = parse_str(
            "+++\nsubject = \"Hi {{ contact.first_name }}\"\n+++\nHello\n--- html ---\n<p>Hello</p>\n",
        );
        let t = t.unwrap_or_else(|| panic!("{diags:?}"));
        assert_eq!(t.subject, "Hi {{ contact.first_name }}");
        assert_eq!(t.text, "Hello\n");
        assert_eq!(t.text_line, 4);
        assert_eq!(t.html.as_deref(), Some("<p>Hello</p>\n"));
        assert_eq!(t.html_line, 6);
        assert_eq!(t.file.position(t.subject_at), (2, 12));
    }

    #[test]
    fn front_matter_errors_point_into_the_file() {
        let (t, diags) = parse_str("+++\nsubjet = \"x\"\n+++\nbody\n");
        assert!(t.is_none());
        let first = &diags[0];
        assert_eq!((first.line, first.col), (2, 1));
        assert!(first.hint.as_deref().unwrap().contains("subject"));
    }

    #[test]
    fn a_variants_key_points_to_pick() {
        let (t, diags) = parse_str("+++\nsubject = \"x\"\nvariants = []\n+++\nbody\n");
        assert!(t.is_none());
        assert_eq!((diags[0].line, diags[0].col), (3, 1));
        assert!(
            diags[0].hint.as_deref().unwrap().contains("pick("),
            "{diags:?}"
        );
    }

    #[test]
    fn a_locale_suffix_or_lang_says_the_language() {
        let mut out = Vec::new();
        let file = |text: &str| SourceFile::new(Path::new("t.de.tera"), text.to_string());
        let t = parse(
            "w/hello.de",
            file("+++\nsubject = \"Hallo\"\n+++\nHallo\n"),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            (t.base.as_str(), t.localized, t.locale),
            ("w/hello", true, Locale::De)
        );
        let t = parse(
            "w/hello",
            file("+++\nsubject = \"Hola\"\nlang = \"es\"\n+++\nHola\n"),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            (t.base.as_str(), t.localized, t.locale),
            ("w/hello", false, Locale::Es)
        );
        assert!(out.is_empty(), "{out:?}");
        let bad = parse(
            "w/hello.de",
            file("+++\nsubject = \"x\"\nlang = \"es\"\n+++\nx\n"),
            &mut out,
        );
        assert!(
            bad.is_none() && out[0].message.contains("contradicts"),
            "{out:?}"
        );
        let (t, diags) = parse_str("+++\nsubject = \"x\"\nlang = \"fr\"\n+++\nx\n");
        assert!(
            t.is_none() && diags[0].message.contains("`fr`"),
            "{diags:?}"
        );
        assert_eq!((diags[0].line, diags[0].col), (3, 8));
    }

    #[test]
    fn a_missing_fence_is_an_error() {
        let (t, diags) = parse_str("subject = \"x\"\nbody\n");
        assert!(t.is_none());
        assert!(diags[0].message.contains("front matter"));
    }
}
