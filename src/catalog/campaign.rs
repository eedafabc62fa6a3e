//! One campaign file, `campaigns/ID.toml`: who enters (segment), what they
//! get (steps). Every problem is collected with its position.

use super::diag::{Diagnostic, SourceFile};
use super::fields::{Fields, as_table};
use crate::domain::Duration;
use crate::segment::{Filter, Segment, Vocabulary, filter};
use lettre::message::Mailbox;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub path: std::path::PathBuf,
    pub description: String,
    pub segment: Segment,
    pub from: Option<Mailbox>,
    pub steps: Vec<Step>,
}

/// One message of the sequence, sent `after` a delay from entry (first
/// step) or from the previous step's send.
#[derive(Debug, Clone)]
pub struct Step {
    pub after: Duration,
    pub template: String,
    /// Overrides the template's subject (a Tera expression like it).
    pub subject: Option<String>,
    /// Where `template = …` and `subject = …` stand, for later diagnostics.
    pub template_at: usize,
    pub subject_at: Option<usize>,
}

const CAMPAIGN_KEYS: &[&str] = &["description", "segment", "from", "steps"];
const LATER_CAMPAIGN_KEYS: &[&str] = &[
    "schedule",
    "timezone",
    "send_window",
    "exit_on",
    "exit_when",
    "reentry",
    "pilot",
    "track_clicks",
    "max_per_contact",
];
const SEGMENT_KEYS: &[&str] = &["stage", "where"];
const STEP_KEYS: &[&str] = &["after", "template", "subject"];
const LATER_STEP_KEYS: &[&str] = &["at", "jitter"];

pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Parses a campaign file. The campaign is `None` when any error was found;
/// the template references of every readable step come back regardless, so
/// missing templates are reported in the same pass as other mistakes.
pub fn parse(
    file: &SourceFile,
    id: &str,
    vocab: &Vocabulary,
    out: &mut Vec<Diagnostic>,
) -> (Option<Campaign>, Vec<(String, usize)>) {
    let mut refs = Vec::new();
    let campaign = parse_inner(file, id, vocab, out, &mut refs);
    (campaign, refs)
}

fn parse_inner(
    file: &SourceFile,
    id: &str,
    vocab: &Vocabulary,
    out: &mut Vec<Diagnostic>,
    refs: &mut Vec<(String, usize)>,
) -> Option<Campaign> {
    let errors_before = out.iter().filter(|d| d.is_error()).count();
    if !valid_id(id) {
        out.push(
            Diagnostic::file(&file.path, super::Severity::Error, format!("campaign id `{id}` (the file name) is not valid"))
                .with_hint("rename the file using lower-case letters, digits, `-` and `_`, e.g. `win-back.toml`"),
        );
    }
    let root = match DeTable::parse(&file.text) {
        Ok(root) => root,
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            out.push(
                file.error(at, format!("invalid TOML: {}", e.message().trim()))
                    .with_hint("check quotes, brackets and `key = value` syntax on this line"),
            );
            return None;
        }
    };
    let fields = Fields {
        file,
        table: root.get_ref(),
        at: 0,
        what: "the campaign".into(),
    };
    fields.reject_unknown(CAMPAIGN_KEYS, LATER_CAMPAIGN_KEYS, out);
    let description = fields
        .string("description", out)
        .map(|(s, _)| s.to_string())
        .unwrap_or_default();
    let from = fields.string("from", out).and_then(|(text, span)| {
        text.parse::<Mailbox>()
            .map_err(|e| {
                out.push(
                    file.error(span.start, format!("invalid `from` mailbox `{text}`: {e}"))
                        .with_hint("write `from = \"Name <address@example.com>\"`"),
                );
            })
            .ok()
    });
    let segment = parse_segment(&fields, vocab, out);
    let steps = parse_steps(&fields, out, refs);
    let errors_after = out.iter().filter(|d| d.is_error()).count();
    if errors_after > errors_before {
        return None;
    }
    Some(Campaign {
        id: id.to_string(),
        path: file.path.clone(),
        description,
        segment: segment?,
        from,
        steps,
    })
}

fn parse_segment(
    fields: &Fields<'_, '_>,
    vocab: &Vocabulary,
    out: &mut Vec<Diagnostic>,
) -> Option<Segment> {
    let file = fields.file;
    let Some(value) = fields.get("segment") else {
        out.push(
            file.error(0, "the campaign has no `segment`: nobody would enter it")
                .with_hint(
                    "add `segment = { stage = \"new\" }` (stages: new, active, sleeping, lost) or `segment = { where = \"tags has 'vip'\" }`",
                ),
        );
        return None;
    };
    let table = as_table(file, "segment", value, out)?;
    let seg = Fields {
        file,
        table,
        at: value.span().start,
        what: "`segment`".into(),
    };
    seg.reject_unknown(SEGMENT_KEYS, &[], out);
    let filter = seg.string("where", out).and_then(|(text, span)| {
        let checked = filter::parse(text)
            .map_err(|e| vec![e])
            .and_then(|expr| vocab.check(&expr).map(|()| expr));
        match checked {
            Ok(expr) => Some(Filter {
                text: text.to_string(),
                expr,
            }),
            Err(errors) => {
                for e in errors {
                    out.push(super::vocabulary::filter_diagnostic(
                        file,
                        span.clone(),
                        text,
                        &e,
                    ));
                }
                None
            }
        }
    });
    let stage_value = seg.get("stage");
    if stage_value.is_none() && seg.get("where").is_none() {
        out.push(
            file.error(value.span().start, "`segment` has neither `stage` nor `where`")
                .with_hint("add `stage = \"sleeping\"`, `stage = [\"new\", \"active\"]` or `where = \"tags has 'vip'\"`"),
        );
        return None;
    }
    let mut spans: Vec<(&str, Range<usize>)> = Vec::new();
    match stage_value.map(|v| (v, v.get_ref())) {
        None => {}
        Some((v, DeValue::String(s))) => spans.push((s.as_ref(), v.span())),
        Some((v, DeValue::Array(items))) => {
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::String(s) => spans.push((s.as_ref(), item.span())),
                    other => out.push(file.error(
                        item.span().start,
                        format!("a stage must be a string, found {}", other.type_str()),
                    )),
                }
            }
            if items.is_empty() {
                out.push(
                    file.error(v.span().start, "`stage` lists no stage")
                        .with_hint("name at least one of: new, active, sleeping, lost"),
                );
            }
        }
        Some((v, other)) => out.push(seg.type_error(
            "stage",
            "a string or a list of strings",
            other.type_str(),
            v.span(),
        )),
    }
    let mut stages: Vec<String> = Vec::new();
    let names = vocab.stage_names();
    for (name, span) in spans {
        if names.contains(&name) {
            if !stages.iter().any(|s| s == name) {
                stages.push(name.to_string());
            }
            continue;
        }
        let hint = match super::diag::did_you_mean(name, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("stages are: {}", names.join(", ")),
        };
        // +1: point inside the quotes, at the word itself.
        out.push(
            file.error(
                span.start + 1,
                format!(
                    "unknown stage `{name}` (expected one of: {})",
                    names.join(", ")
                ),
            )
            .with_hint(hint),
        );
    }
    Some(Segment { stages, filter })
}

fn parse_steps(
    fields: &Fields<'_, '_>,
    out: &mut Vec<Diagnostic>,
    refs: &mut Vec<(String, usize)>,
) -> Vec<Step> {
    let file = fields.file;
    let Some(value) = fields.get("steps") else {
        out.push(file.error(0, "the campaign has no `[[steps]]`").with_hint(
            "add a step:\n    [[steps]]\n    after = \"0d\"\n    template = \"welcome/hello\"",
        ));
        return Vec::new();
    };
    let DeValue::Array(items) = value.get_ref() else {
        out.push(fields.type_error(
            "steps",
            "an array of tables (`[[steps]]`)",
            value.get_ref().type_str(),
            value.span(),
        ));
        return Vec::new();
    };
    if items.is_empty() {
        out.push(
            file.error(value.span().start, "`steps` is empty")
                .with_hint("add at least one `[[steps]]`"),
        );
    }
    let mut steps = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let what = format!("step {}", index + 1);
        let Some(table) = as_table(file, &what, item, out) else {
            continue;
        };
        let step = Fields {
            file,
            table,
            at: item.span().start,
            what,
        };
        step.reject_unknown(STEP_KEYS, LATER_STEP_KEYS, out);
        let after = step.required_string("after", "\"2d\"", out).and_then(|(text, span)| {
            Duration::parse(text)
                .map_err(|e| {
                    out.push(file.error(span.start + 1, e.to_string()).with_hint(
                        "`after` is the delay from entry (first step) or from the previous step, e.g. \"0d\", \"3d\", \"12h\"",
                    ))
                })
                .ok()
        });
        let template = step.required_string("template", "\"welcome/hello\"", out);
        let subject = step.string("subject", out);
        if let Some((name, span)) = &template {
            refs.push((name.trim_end_matches(".tera").to_string(), span.start + 1));
        }
        if let (Some(after), Some((template, span))) = (after, template) {
            steps.push(Step {
                after,
                template: template.trim_end_matches(".tera").to_string(),
                subject: subject.as_ref().map(|(s, _)| s.to_string()),
                template_at: span.start + 1,
                subject_at: subject.as_ref().map(|(_, span)| span.start + 1),
            });
        }
    }
    steps
}
