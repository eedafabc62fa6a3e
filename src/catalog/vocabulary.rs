//! What filters may name, read from the config file with positions:
//! `[attributes]` (attribute types) and `[lifecycle.stages]` (custom
//! stages, in the order written = their precedence). Also maps a byte
//! offset inside a TOML string value back to the file, so filter errors
//! point at the offending token.

use super::diag::{Diagnostic, SourceFile};
use crate::config::LifecycleSettings;
use crate::segment::filter::{self, FilterError};
use crate::segment::{AttrType, StageDef, Vocabulary};
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};

/// Builds the vocabulary from the config file at `path` (absent: only the
/// built-in stages) and the attribute types inferred at import (`None`:
/// mixed). A type declared in the file wins over an inferred one.
pub fn load(
    path: &Path,
    lifecycle: LifecycleSettings,
    inferred: &[(String, Option<AttrType>)],
    out: &mut Vec<Diagnostic>,
) -> Vocabulary {
    let mut vocab = read(path, lifecycle, out);
    for (name, ty) in inferred {
        if vocab.attributes.contains_key(name) {
            continue;
        }
        match ty {
            Some(ty) => {
                vocab.attributes.insert(name.clone(), *ty);
            }
            None => vocab.mixed.push(name.clone()),
        }
    }
    vocab
}

fn read(path: &Path, lifecycle: LifecycleSettings, out: &mut Vec<Diagnostic>) -> Vocabulary {
    let mut vocab = Vocabulary {
        lifecycle,
        ..Default::default()
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return vocab;
    };
    let file = SourceFile::new(path, text);
    // Syntax errors are reported by the settings loader already.
    let Ok(root) = DeTable::parse(&file.text) else {
        return vocab;
    };
    let table = root.get_ref();
    if let Some(attrs) = get(table, "attributes") {
        if let DeValue::Table(attrs) = attrs.get_ref() {
            for (key, value) in attrs.iter() {
                let name = key.get_ref().as_ref();
                let ty = match value.get_ref() {
                    DeValue::String(s) => AttrType::parse(s.as_ref()),
                    _ => None,
                };
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
                    out.push(
                        file.error(
                            key.span().start,
                            format!("attribute name `{name}` cannot be used in filters"),
                        )
                        .with_hint(
                            "attribute names are letters, digits and `_` (the CSV column name)",
                        ),
                    );
                    continue;
                }
                match ty {
                    Some(ty) => {
                        vocab.attributes.insert(name.to_string(), ty);
                    }
                    None => out.push(
                        file.error(
                            value.span().start,
                            format!("attribute `{name}` has no valid type"),
                        )
                        .with_hint("write one of: \"number\", \"text\", \"boolean\", \"date\""),
                    ),
                }
            }
        }
    }
    let stages = get(table, "lifecycle").and_then(|l| match l.get_ref() {
        DeValue::Table(l) => get(l, "stages"),
        _ => None,
    });
    let mut spans = Vec::new();
    for (what, value) in [
        ("attributes", get(table, "attributes")),
        ("lifecycle.stages", stages.clone()),
    ] {
        if let Some(v) = value.filter(|v| !matches!(v.get_ref(), DeValue::Table(_))) {
            out.push(
                file.error(v.span().start, format!("`{what}` must be a table"))
                    .with_hint(format!("write it as a section: [{what}]")),
            );
        }
    }
    if let Some(stages) = stages {
        if let DeValue::Table(stages) = stages.get_ref() {
            // The map is sorted by name; precedence is the order written.
            let mut entries: Vec<_> = stages.iter().collect();
            entries.sort_by_key(|(key, _)| key.span().start);
            for (key, value) in entries {
                let name = key.get_ref().as_ref().to_string();
                let DeValue::String(text) = value.get_ref() else {
                    out.push(
                        file.error(
                            value.span().start,
                            format!("stage `{name}` must be a filter string"),
                        )
                        .with_hint(
                            "write e.g. vip_sleeping = \"stage = 'sleeping' and tags has 'vip'\"",
                        ),
                    );
                    continue;
                };
                if !super::campaign::valid_id(&name) {
                    out.push(
                        file.error(
                            key.span().start,
                            format!("stage name `{name}` is not valid"),
                        )
                        .with_hint("use lower-case letters, digits, `-` and `_`"),
                    );
                    continue;
                }
                match filter::parse(text) {
                    Ok(expr) => {
                        spans.push(value.span());
                        vocab.stages.push(StageDef {
                            name,
                            text: text.to_string(),
                            expr,
                        });
                    }
                    Err(e) => out.push(filter_diagnostic(&file, value.span(), text, &e)),
                }
            }
        }
    }
    for (index, span) in spans.into_iter().enumerate() {
        if let Err(errors) = vocab.check_stage(index) {
            let text = vocab.stages[index].text.clone();
            out.extend(
                errors
                    .iter()
                    .map(|e| filter_diagnostic(&file, span.clone(), &text, e)),
            );
        }
    }
    vocab
}

fn get<'i>(t: &DeTable<'i>, key: &str) -> Option<toml::Spanned<DeValue<'i>>> {
    t.iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v.clone())
}

/// A filter error as a diagnostic at its place in the file.
pub fn filter_diagnostic(
    file: &SourceFile,
    span: Range<usize>,
    value: &str,
    e: &FilterError,
) -> Diagnostic {
    let d = file.error(
        offset_in_string(&file.text, span, value, e.at),
        e.message.clone(),
    );
    match &e.hint {
        Some(h) => d.with_hint(h.clone()),
        None => d,
    }
}

/// The file offset of byte `at` of a string value whose literal (quotes
/// included) is `file_text[span]`. Exact for literal strings and for basic
/// strings with escapes; falls back to the opening quote otherwise.
pub fn offset_in_string(file_text: &str, span: Range<usize>, value: &str, at: usize) -> usize {
    let Some(raw) = file_text.get(span.clone()) else {
        return span.start;
    };
    let quotes = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        3
    } else {
        1
    };
    if raw.len() < 2 * quotes {
        return span.start;
    }
    let mut start = span.start + quotes;
    let mut inner = &raw[quotes..raw.len() - quotes];
    if quotes == 3 && inner.starts_with('\n') {
        start += 1;
        inner = &inner[1..];
    }
    if inner == value || raw.starts_with('\'') {
        return start + at.min(inner.len());
    }
    // A basic string: walk it, decoding escapes, until `at` decoded bytes.
    let bytes = inner.as_bytes();
    let (mut raw_i, mut decoded) = (0, 0);
    while raw_i < bytes.len() && decoded < at {
        if bytes[raw_i] == b'\\' {
            let (raw_len, out_len) = match bytes.get(raw_i + 1) {
                Some(b'u') => (6, char_len(inner.get(raw_i + 2..raw_i + 6))),
                Some(b'U') => (10, char_len(inner.get(raw_i + 2..raw_i + 10))),
                _ => (2, 1),
            };
            raw_i += raw_len;
            decoded += out_len;
        } else {
            let ch_len = inner[raw_i..].chars().next().map_or(1, char::len_utf8);
            raw_i += ch_len;
            decoded += ch_len;
        }
    }
    start + raw_i.min(inner.len())
}

fn char_len(hex: Option<&str>) -> usize {
    hex.and_then(|h| u32::from_str_radix(h, 16).ok())
        .and_then(char::from_u32)
        .map_or(1, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_through_quotes_and_escapes() {
        let text = r#"w = "a = \"x\" and b""#;
        let span = 4..text.len();
        // value: a = "x" and b ; `and` is at byte 8 of the value
        assert_eq!(
            &text[offset_in_string(text, span.clone(), "a = \"x\" and b", 8)..][..3],
            "and"
        );
        let text = "w = '''\ntags has 'a' and\n  x = 1'''";
        let value = "tags has 'a' and\n  x = 1";
        let at = offset_in_string(text, 4..text.len(), value, value.find('x').unwrap());
        assert_eq!(&text[at..at + 1], "x");
        let text = "w = 'tags has 1'";
        assert_eq!(
            &text[offset_in_string(text, 4..text.len(), "tags has 1", 9)..],
            "1'"
        );
    }
}
