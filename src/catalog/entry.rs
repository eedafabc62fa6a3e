//! How contacts enter a campaign: by being in its segment (the default), by
//! something they did (`entry = { on = "purchase" }`, optionally only for
//! some contacts and after a delay), or on the anniversary of becoming a
//! client (`entry = { anniversary = "created_at" }`, once a year).

use super::diag::Diagnostic;
use super::fields::{Fields, Value, as_table};
use crate::domain::{Duration, EventKind};
use crate::segment::{Filter, Vocabulary};
use toml::de::DeValue;

#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Everyone in the segment enters (when the schedule allows).
    Segment,
    /// A contact enters when an event of one of `kinds` happened: at the
    /// first tick after `at + delay`, if they are in the segment then.
    Event { kinds: Vec<String>, delay: Duration },
    /// A contact enters on each anniversary of their `created_at` (local
    /// midnight in the campaign's zone), from the first one on.
    Anniversary,
}

const ENTRY_KEYS: &[&str] = &["on", "where", "delay", "anniversary"];

/// Reads `entry`; its `where` (a filter in the segment language) comes back
/// separately, to be combined with the campaign's segment.
pub(super) fn parse(
    fields: &Fields<'_, '_>,
    vocab: &Vocabulary,
    out: &mut Vec<Diagnostic>,
) -> (Entry, Option<Filter>) {
    let file = fields.file;
    let Some(value) = fields.get("entry") else {
        return (Entry::Segment, None);
    };
    let Some(table) = as_table(file, "entry", value, out) else {
        return (Entry::Segment, None);
    };
    let entry = Fields {
        file,
        table,
        at: value.span().start,
        what: "`entry`".into(),
    };
    entry.reject_unknown(ENTRY_KEYS, &[], out);
    let filter = entry
        .string("where", out)
        .and_then(|(text, span)| super::campaign::checked_filter(file, vocab, text, span, out));
    let delay = entry
        .string("delay", out)
        .and_then(|(text, span)| {
            Duration::parse(text)
                .map_err(|e| {
                    out.push(
                        file.error(span.start + 1, format!("`delay`: {e}"))
                            .with_hint("how long after the event the contact enters, e.g. \"1d\" or \"30d\""),
                    )
                })
                .ok()
        })
        .unwrap_or(Duration::ZERO);
    let kinds = entry.get("on").map(|value| kinds(&entry, value, out));
    let anniversary = entry.string("anniversary", out);
    match (kinds, anniversary) {
        (Some(kinds), None) => (Entry::Event { kinds, delay }, filter),
        (None, Some((field, span))) => {
            if field != "created_at" {
                out.push(
                    file.error(
                        span.start + 1,
                        format!("`anniversary` of `{field}` is not supported"),
                    )
                    .with_hint(
                        "write `anniversary = \"created_at\"`: the day the contact became a client",
                    ),
                );
            }
            if entry.get("delay").is_some() {
                out.push(
                    file.error(value.span().start, "an anniversary entry takes no `delay`")
                        .with_hint("use the first step's `after` (and `at`) to choose the moment"),
                );
            }
            (Entry::Anniversary, filter)
        }
        (Some(_), Some((_, span))) => {
            out.push(
                file.error(span.start, "`entry` has both `on` and `anniversary`")
                    .with_hint(
                        "a campaign starts either on an event or on an anniversary: keep one",
                    ),
            );
            (Entry::Segment, filter)
        }
        (None, None) => {
            out.push(
                file.error(value.span().start, "`entry` says neither `on` nor `anniversary`")
                    .with_hint("write `entry = { on = \"purchase\" }` or `entry = { anniversary = \"created_at\" }`"),
            );
            (Entry::Segment, filter)
        }
    }
}

fn kinds(entry: &Fields<'_, '_>, value: &Value<'_>, out: &mut Vec<Diagnostic>) -> Vec<String> {
    let file = entry.file;
    let mut kinds = Vec::new();
    let mut push = |text: &str, at: usize, out: &mut Vec<Diagnostic>| {
        match text.parse::<EventKind>() {
        Ok(EventKind::Activity(kind)) => kinds.push(kind),
        Ok(other) => out.push(
            file.error(at + 1, format!("`{}` cannot start a campaign", other.as_str()))
                .with_hint("start on something a contact did: \"purchase\", \"signup\", \"renewal\", \"login\"…"),
        ),
        Err(e) => out.push(file.error(at + 1, e)),
    }
    };
    match value.get_ref() {
        DeValue::String(kind) => push(kind, value.span().start, out),
        DeValue::Array(items) if !items.is_empty() => {
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::String(kind) => push(kind, item.span().start, out),
                    other => out.push(file.error(
                        item.span().start,
                        format!("an event kind must be a string, found {}", other.type_str()),
                    )),
                }
            }
        }
        other => out.push(entry.type_error(
            "on",
            "an event kind such as \"purchase\" or a list of them",
            other.type_str(),
            value.span(),
        )),
    }
    kinds
}
