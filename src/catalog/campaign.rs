//! One campaign file, `campaigns/ID.toml`: who enters (segment, or an event
//! or anniversary: [`super::entry`]), what they get (steps). Every problem
//! is collected with its position.

use super::diag::{Diagnostic, Severity, SourceFile};
use super::fields::{Fields, as_table};
use crate::domain::{Duration, Rate};
use crate::schedule::{EntrySchedule, Hours, SendWindow, Weekdays, parse_time_of_day};
use crate::segment::{Filter, Segment, Vocabulary, filter};
use chrono::NaiveTime;
use chrono_tz::Tz;
use lettre::message::Mailbox;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub path: std::path::PathBuf,
    pub description: String,
    /// Who may enter (for an event or anniversary entry: everyone, narrowed
    /// by the segment and `entry.where` when given).
    pub segment: Segment,
    /// What makes a contact enter.
    pub entry: super::Entry,
    pub from: Option<Mailbox>,
    pub steps: Vec<Step>,
    /// When new contacts may enter; `None`: at every tick.
    pub schedule: Option<EntrySchedule>,
    /// The zone schedules and windows are read in.
    pub timezone: CampaignZone,
    pub send_window: Option<SendWindow>,
    /// Event kinds that end a passage (`activity` covers every activity kind).
    pub exit_on: Vec<String>,
    pub exit_when: Option<ExitWhen>,
    pub reentry: Reentry,
    /// A campaign's own frequency cap, on top of `sending.max_per_contact`.
    pub max_per_contact: Option<Rate>,
    /// A pilot: a reproducible random sample, split into treatment and holdout.
    pub pilot: Option<Pilot>,
    /// Rewrite links into signed redirects that record a `click` event.
    pub track_clicks: bool,
}

/// How many of the segment a pilot takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    /// This share of the segment (0 < share ≤ 1).
    Share(f64),
    /// At most this many contacts.
    Count(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pilot {
    pub sample: Sample,
    /// Share of the sample held out (enrolled, never emailed).
    pub holdout: f64,
    /// Makes the draw reproducible; change it to draw a new sample.
    pub seed: String,
    /// A response counts when it comes this soon after entry.
    pub respond_within: Duration,
    /// Event kinds that count as a response (`activity`: every activity kind).
    pub respond_on: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignZone {
    /// Each contact's own zone (`sending.default_timezone` when unknown).
    Contact,
    Fixed(Tz),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExitWhen {
    /// The contact no longer matches the campaign's segment.
    LeftSegment,
    /// The contact matches this filter (the segment language).
    Matches(Filter),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reentry {
    Never,
    /// May enter again this long after the previous passage ended.
    After(Duration),
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
    /// Local time of day the step goes out (`at = "10:00"`).
    pub at: Option<NaiveTime>,
    /// Spread sends over this long so a segment does not land in one second.
    pub jitter: Duration,
}

const CAMPAIGN_KEYS: &[&str] = &[
    "description",
    "segment",
    "entry",
    "from",
    "steps",
    "schedule",
    "timezone",
    "send_window",
    "exit_on",
    "exit_when",
    "reentry",
    "max_per_contact",
    "pilot",
    "track_clicks",
];
const LATER_CAMPAIGN_KEYS: &[&str] = &[];
const SEGMENT_KEYS: &[&str] = &["stage", "where"];
const STEP_KEYS: &[&str] = &["after", "template", "subject", "at", "jitter"];
const LATER_STEP_KEYS: &[&str] = &[];

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
    // The earliest syntax error is the root cause; later ones usually cascade from it.
    let (root, mut errors) = DeTable::parse_recoverable(&file.text);
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.span().map(|s| s.start).unwrap_or(0));
        let first = &errors[0];
        let at = first.span().map(|s| s.start).unwrap_or(0);
        let mut hint = "check quotes, brackets and `key = value` syntax on this line".to_string();
        if errors.len() > 1 {
            hint += &format!(
                " ({} later syntax errors may follow from this one)",
                errors.len() - 1
            );
        }
        out.push(
            file.error(at, format!("invalid TOML: {}", first.message().trim()))
                .with_hint(hint),
        );
        return None;
    }
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
    let (entry, entry_filter) = super::entry::parse(&fields, vocab, out);
    let segment = if entry == super::Entry::Segment || fields.get("segment").is_some() {
        parse_segment(&fields, vocab, out)
    } else {
        Some(Segment {
            stages: Vec::new(),
            filter: None,
        })
    };
    // `entry.where` narrows who may enter, on top of the segment.
    let segment = segment.map(|segment| match entry_filter {
        None => segment,
        Some(extra) => Segment {
            filter: Some(match segment.filter {
                None => extra,
                Some(own) => crate::segment::Filter::both(own, extra),
            }),
            ..segment
        },
    });
    let steps = parse_steps(&fields, out, refs);
    let timing = parse_timing(&fields, vocab, out);
    if entry != super::Entry::Segment {
        for (key, why) in [
            (
                "schedule",
                "an event or anniversary decides when a contact enters",
            ),
            (
                "pilot",
                "a pilot samples a segment; event-started campaigns are not sampled",
            ),
        ] {
            if let Some(value) = fields.get(key) {
                out.push(
                    file.error(
                        value.span().start,
                        format!("`{key}` cannot go with `entry`"),
                    )
                    .with_hint(format!("{why}: remove `{key}` or `entry`")),
                );
            }
        }
    }
    let errors_after = out.iter().filter(|d| d.is_error()).count();
    if errors_after > errors_before {
        return None;
    }
    Some(Campaign {
        id: id.to_string(),
        path: file.path.clone(),
        description,
        segment: segment?,
        entry,
        from,
        steps,
        schedule: timing.schedule,
        timezone: timing.timezone,
        send_window: timing.send_window,
        exit_on: timing.exit_on,
        exit_when: timing.exit_when,
        reentry: timing.reentry,
        max_per_contact: timing.max_per_contact,
        pilot: timing.pilot,
        track_clicks: timing.track_clicks,
    })
}

struct Timing {
    schedule: Option<EntrySchedule>,
    timezone: CampaignZone,
    send_window: Option<SendWindow>,
    exit_on: Vec<String>,
    exit_when: Option<ExitWhen>,
    reentry: Reentry,
    max_per_contact: Option<Rate>,
    pilot: Option<Pilot>,
    track_clicks: bool,
}

/// Reads a string value with a parser; an error points inside the string.
fn parsed<T>(
    fields: &Fields<'_, '_>,
    key: &str,
    out: &mut Vec<Diagnostic>,
    hint: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let (text, span) = fields.string(key, out)?;
    parse(text)
        .map_err(|e| {
            out.push(
                fields
                    .file
                    .error(span.start + 1, format!("`{key}`: {e}"))
                    .with_hint(hint),
            )
        })
        .ok()
}

/// A filter parsed and checked against the vocabulary; errors point inside
/// the TOML string at `span`.
pub(super) fn checked_filter(
    file: &SourceFile,
    vocab: &Vocabulary,
    text: &str,
    span: Range<usize>,
    out: &mut Vec<Diagnostic>,
) -> Option<Filter> {
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
}

fn parse_timing(fields: &Fields<'_, '_>, vocab: &Vocabulary, out: &mut Vec<Diagnostic>) -> Timing {
    let file = fields.file;
    let schedule = parsed(
        fields,
        "schedule",
        out,
        "a crontab pattern in local time, e.g. \"0 10 * * TUE\" (minute hour day month weekday)",
        EntrySchedule::parse,
    );
    let timezone = parsed(
        fields,
        "timezone",
        out,
        "write \"contact\" (each contact's own zone) or an IANA name such as \"Europe/Berlin\"",
        |text| {
            if text == "contact" {
                Ok(CampaignZone::Contact)
            } else {
                text.parse::<Tz>()
                    .map(CampaignZone::Fixed)
                    .map_err(|_| format!("unknown time zone `{text}`"))
            }
        },
    )
    .unwrap_or(CampaignZone::Contact);
    let send_window = fields.get("send_window").and_then(|value| {
        let table = as_table(file, "send_window", value, out)?;
        let window = Fields {
            file,
            table,
            at: value.span().start,
            what: "`send_window`".into(),
        };
        window.reject_unknown(&["days", "hours"], &[], out);
        let days = parsed(
            &window,
            "days",
            out,
            "e.g. \"mon-fri\", \"sat,sun\" or \"daily\"",
            Weekdays::parse,
        )
        .unwrap_or(Weekdays::ALL);
        let hours = parsed(
            &window,
            "hours",
            out,
            "a local time range such as \"09:00-17:00\" (\"22:00-02:00\" crosses midnight)",
            Hours::parse,
        );
        Some(SendWindow { days, hours })
    });
    let exit_on = match fields.get("exit_on") {
        None => Vec::new(),
        Some(value) => match value.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| match item.get_ref() {
                    DeValue::String(kind) => match kind.parse::<crate::domain::EventKind>() {
                        Ok(_) => Some(kind.to_lowercase()),
                        Err(e) => {
                            out.push(file.error(item.span().start + 1, e));
                            None
                        }
                    },
                    other => {
                        out.push(file.error(
                            item.span().start,
                            format!("an event kind must be a string, found {}", other.type_str()),
                        ));
                        None
                    }
                })
                .collect(),
            other => {
                out.push(fields.type_error(
                    "exit_on",
                    "a list such as [\"activity\", \"unsubscribe\"]",
                    other.type_str(),
                    value.span(),
                ));
                Vec::new()
            }
        },
    };
    // `left_segment`, or a filter in the segment language: one implementation.
    let exit_when = fields.string("exit_when", out).and_then(|(text, span)| {
        if text.trim() == "left_segment" {
            Some(ExitWhen::LeftSegment)
        } else {
            checked_filter(file, vocab, text, span, out).map(ExitWhen::Matches)
        }
    });
    let reentry = parsed(
        fields,
        "reentry",
        out,
        "write \"never\" or \"after:180d\"",
        |text| match text.split_once(':') {
            None if text == "never" => Ok(Reentry::Never),
            Some(("after", duration)) => Duration::parse(duration)
                .map(Reentry::After)
                .map_err(|e| e.to_string()),
            _ => Err(format!("invalid re-entry rule `{text}`")),
        },
    )
    .unwrap_or(Reentry::Never);
    let max_per_contact = parsed(
        fields,
        "max_per_contact",
        out,
        "a cap such as \"1/7d\"",
        |t| Rate::parse(t).map_err(|e| e.to_string()),
    );
    let pilot = fields
        .get("pilot")
        .and_then(|value| parse_pilot(fields, value, out));
    let track_clicks = match fields.get("track_clicks").map(|v| (v, v.get_ref())) {
        None => true,
        Some((_, DeValue::Boolean(b))) => *b,
        Some((v, other)) => {
            out.push(fields.type_error(
                "track_clicks",
                "true or false",
                other.type_str(),
                v.span(),
            ));
            true
        }
    };
    Timing {
        pilot,
        track_clicks,
        schedule,
        timezone,
        send_window,
        exit_on,
        exit_when,
        reentry,
        max_per_contact,
    }
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
    let filter = seg
        .string("where", out)
        .and_then(|(text, span)| checked_filter(file, vocab, text, span, out));
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
        let at = parsed(
            &step,
            "at",
            out,
            "the local time of day for this step, e.g. \"10:00\"",
            parse_time_of_day,
        );
        let jitter = parsed(
            &step,
            "jitter",
            out,
            "e.g. \"30m\": sends spread over that long",
            |t| Duration::parse(t).map_err(|e| e.to_string()),
        )
        .unwrap_or(Duration::ZERO);
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
                at,
                jitter,
            });
        }
    }
    steps
}

fn number(value: &DeValue<'_>) -> Option<f64> {
    match value {
        DeValue::Integer(i) => i.as_str().replace('_', "").parse().ok(),
        DeValue::Float(f) => f.as_str().replace('_', "").parse().ok(),
        _ => None,
    }
}

/// A pilot response must be something both groups can do: naming a kind
/// only the treatment can produce (a click) is allowed, but biased.
fn treatment_only_warning(file: &SourceFile, kind: &str, at: usize, out: &mut Vec<Diagnostic>) {
    if let Some(t) = crate::domain::TREATMENT_ONLY_KINDS
        .iter()
        .find(|t| t.kind == kind)
    {
        out.push(
            file.at(
                at,
                Severity::Warning,
                format!(
                    "`{kind}` in `respond_on`: {}, so the comparison with the holdout is biased",
                    t.why
                ),
            )
            .with_hint(
                "count what both groups can do: leave `respond_on` out (any activity from your own systems) \
                 or name kinds such as [\"purchase\", \"login\"]; the report shows clicks separately anyway",
            ),
        );
    }
}

fn parse_pilot(
    fields: &Fields<'_, '_>,
    value: &super::fields::Value<'_>,
    out: &mut Vec<Diagnostic>,
) -> Option<Pilot> {
    let file = fields.file;
    let table = as_table(file, "pilot", value, out)?;
    let pilot = Fields {
        file,
        table,
        at: value.span().start,
        what: "`pilot`".into(),
    };
    let errors_before = out.iter().filter(|d| d.is_error()).count();
    pilot.reject_unknown(
        &["sample", "holdout", "seed", "respond_within", "respond_on"],
        &[],
        out,
    );
    let sample = match pilot.get("sample") {
        None => {
            out.push(file.error(value.span().start, "`pilot` has no `sample`").with_hint(
                "add `sample = 0.2` (a share of the segment) or `sample = 500` (a number of contacts)",
            ));
            None
        }
        Some(v) => match (v.get_ref(), number(v.get_ref())) {
            (DeValue::Integer(_), Some(n)) if n >= 1.0 => Some(Sample::Count(n as u64)),
            (DeValue::Float(_), Some(share)) if share > 0.0 && share <= 1.0 => {
                Some(Sample::Share(share))
            }
            _ => {
                out.push(file.error(v.span().start, "`sample` must be a share between 0 and 1 (e.g. 0.2) or a whole number of contacts (e.g. 500)"));
                None
            }
        },
    };
    let holdout = match pilot.get("holdout") {
        None => 0.5,
        Some(v) => {
            match number(v.get_ref()) {
                Some(h) if (0.0..1.0).contains(&h) => h,
                _ => {
                    out.push(file.error(v.span().start, "`holdout` must be a share from 0 up to (not including) 1, e.g. 0.5").with_hint("the holdout gets nothing, so the pilot can be compared with doing nothing"));
                    0.5
                }
            }
        }
    };
    let seed = pilot
        .required_string("seed", "\"winback-2026q4\"", out)
        .map(|(s, _)| s.to_string());
    let respond_within = parsed(&pilot, "respond_within", out, "e.g. \"21d\"", |t| {
        Duration::parse(t).map_err(|e| e.to_string())
    })
    .unwrap_or(Duration::from_days(21));
    let respond_on = match pilot.get("respond_on") {
        None => vec!["activity".to_string()],
        Some(v) => match v.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| match item.get_ref() {
                    DeValue::String(kind) => kind
                        .parse::<crate::domain::EventKind>()
                        .map(|_| kind.to_lowercase())
                        .map_err(|e| out.push(file.error(item.span().start + 1, e)))
                        .inspect(|kind| {
                            treatment_only_warning(file, kind, item.span().start + 1, out)
                        })
                        .ok(),
                    _ => None,
                })
                .collect(),
            other => {
                out.push(pilot.type_error(
                    "respond_on",
                    "a list such as [\"purchase\", \"reply\"]",
                    other.type_str(),
                    v.span(),
                ));
                Vec::new()
            }
        },
    };
    if out.iter().filter(|d| d.is_error()).count() > errors_before {
        return None;
    }
    Some(Pilot {
        sample: sample?,
        holdout,
        seed: seed?,
        respond_within,
        respond_on,
    })
}
