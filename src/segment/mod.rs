//! Who is in a segment. A segment names stages (built-in or custom) and an
//! optional filter (`where`); this module turns them, at an instant, into a
//! [`Selection`]: a [`Cond`] tree of typed values that the store compiles to
//! SQL with bound parameters. It also computes a single contact's built-in
//! stage in Rust with the same rules (for previews and template context).
//!
//! The pipeline is one implementation for every filter tend evaluates
//! (`segment.where`, `[lifecycle.stages]`, and later `exit_when`):
//! [`filter::parse`] (text → AST with byte positions) →
//! [`Vocabulary::check`] / [`Vocabulary::resolve`] (names, types, stages,
//! relative times → [`Cond`]) → the store (`Cond` → SQL, one query).
//!
//! Stages are checked in order, the first match wins:
//! - `new`: created within `lifecycle.new_within`;
//! - `active`: last seen (last activity, or creation) within `active_within`;
//! - `sleeping`: last seen at least `sleeping_after` ago, but less than `lost_after`;
//! - `lost`: last seen at least `lost_after` ago.
//!
//! A contact last seen between `active_within` and `sleeping_after` ago (only
//! possible when those differ) is in no stage: cooling off, not yet asleep.

pub mod cond;
pub mod filter;
mod resolve;
mod vocab;

pub use cond::{AttrType, Cond};
pub use vocab::{StageDef, Vocabulary, compile};

use crate::config::LifecycleSettings;
use crate::domain::Stage;
use chrono::{DateTime, Utc};

/// Half-open time bounds on `created_at` and on last-seen
/// (`coalesce(last_activity_at, created_at)`); all present bounds must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageBounds {
    pub created_after: Option<DateTime<Utc>>,
    pub created_not_after: Option<DateTime<Utc>>,
    pub seen_after: Option<DateTime<Utc>>,
    pub seen_not_after: Option<DateTime<Utc>>,
}

/// A segment evaluated at one instant: the condition a contact must meet
/// (suppressed contacts are excluded by the store on top of it).
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub cond: Cond,
    /// Only contacts in these time zones (`None` in the list: zone unknown);
    /// `None`: any zone. Used when a schedule opens entry zone by zone.
    pub zones: Option<Vec<Option<String>>>,
}

/// A checked `where` expression and its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub text: String,
    pub expr: filter::Expr,
}

impl Filter {
    /// Both filters at once, as the one expression `(a) and (b)`, so its
    /// positions still point into one text (for `segment explain`).
    pub fn both(a: Filter, b: Filter) -> Filter {
        let text = format!("({}) and ({})", a.text, b.text);
        match filter::parse(&text) {
            Ok(expr) => Filter { text, expr },
            // Two valid filters joined stay valid unless the joined text
            // outgrows the length limit: keep both trees under one `and`.
            Err(_) => Filter {
                expr: filter::Expr {
                    span: a.expr.span.clone(),
                    kind: filter::ExprKind::And(vec![a.expr, b.expr]),
                },
                text: a.text,
            },
        }
    }
}

/// A campaign's audience as written in its file: stage names (built-in or
/// custom; none means every stage) and an optional filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub stages: Vec<String>,
    pub filter: Option<Filter>,
}

impl Segment {
    pub fn select(&self, vocab: &Vocabulary, now: DateTime<Utc>) -> Selection {
        let mut parts: Vec<Cond> = self
            .clauses(vocab, now, false)
            .into_iter()
            .map(|p| p.cond)
            .collect();
        Selection {
            cond: match parts.len() {
                1 => parts.remove(0),
                _ => Cond::All(parts),
            },
            zones: None,
        }
    }

    /// The segment as a list of labelled conditions for `segment explain`:
    /// at depth 0 the clauses that must all hold (the stage clause, then
    /// every top-level `and` clause of the filter), each followed by the
    /// branches of an `or`/`and` inside it at greater depths.
    pub fn parts(&self, vocab: &Vocabulary, now: DateTime<Utc>) -> Vec<Part> {
        self.clauses(vocab, now, true)
    }

    fn clauses(&self, vocab: &Vocabulary, now: DateTime<Utc>, branches: bool) -> Vec<Part> {
        let mut parts = Vec::new();
        if !self.stages.is_empty() {
            let any = self
                .stages
                .iter()
                .map(|s| vocab.stage(s, now).unwrap_or(Cond::Const(false)))
                .collect();
            parts.push(Part {
                label: format!("stage in [{}]", self.stages.join(", ")),
                cond: Cond::Any(any),
                depth: 0,
            });
        }
        if let Some(f) = &self.filter {
            let clauses = match &f.expr.kind {
                filter::ExprKind::And(items) => items.iter().collect(),
                _ => vec![&f.expr],
            };
            for clause in clauses {
                let max_depth = if branches { 3 } else { 0 };
                push_parts(&mut parts, vocab, now, &f.text, clause, 0, max_depth);
            }
        }
        parts
    }
}

/// A clause, then (to explain it) the branches of an `or`/`and` inside it.
fn push_parts(
    parts: &mut Vec<Part>,
    vocab: &Vocabulary,
    now: DateTime<Utc>,
    text: &str,
    clause: &filter::Expr,
    depth: usize,
    max_depth: usize,
) {
    // Checked at load; a failure here would be a bug, and matches nobody.
    let cond = vocab.resolve(clause, now).unwrap_or(Cond::Const(false));
    let label = text.get(clause.span.clone()).unwrap_or("?").trim();
    parts.push(Part {
        label: label.to_string(),
        cond,
        depth,
    });
    let inner = match &clause.kind {
        filter::ExprKind::Not(inner) => &inner.kind,
        other => other,
    };
    if let filter::ExprKind::Or(items) | filter::ExprKind::And(items) = inner {
        if depth < max_depth {
            for item in items {
                push_parts(parts, vocab, now, text, item, depth + 1, max_depth);
            }
        }
    }
}

/// One clause of a segment, for explanations. Depth 0 clauses must all
/// hold; deeper ones are the branches of the clause above them.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub label: String,
    pub cond: Cond,
    pub depth: usize,
}

pub fn bounds(stage: Stage, l: &LifecycleSettings, now: DateTime<Utc>) -> StageBounds {
    let new_edge = now - l.new_within.to_chrono();
    let old_enough = Some(new_edge);
    match stage {
        Stage::New => StageBounds {
            created_after: Some(new_edge),
            ..Default::default()
        },
        Stage::Active => StageBounds {
            created_not_after: old_enough,
            seen_after: Some(now - l.active_within.to_chrono()),
            ..Default::default()
        },
        Stage::Sleeping => StageBounds {
            created_after: None,
            created_not_after: old_enough,
            seen_after: Some(now - l.lost_after.to_chrono()),
            seen_not_after: Some(now - l.sleeping_after.to_chrono()),
        },
        Stage::Lost => StageBounds {
            created_not_after: old_enough,
            seen_not_after: Some(now - l.lost_after.to_chrono()),
            ..Default::default()
        },
    }
}

impl StageBounds {
    pub fn contains(&self, created_at: DateTime<Utc>, last_seen: DateTime<Utc>) -> bool {
        self.created_after.is_none_or(|t| created_at > t)
            && self.created_not_after.is_none_or(|t| created_at <= t)
            && self.seen_after.is_none_or(|t| last_seen > t)
            && self.seen_not_after.is_none_or(|t| last_seen <= t)
    }
}

/// The stage of one contact at `now`, by the same bounds the store uses.
pub fn stage_of(
    created_at: DateTime<Utc>,
    last_activity_at: Option<DateTime<Utc>>,
    lifecycle: &LifecycleSettings,
    now: DateTime<Utc>,
) -> Option<Stage> {
    let last_seen = last_activity_at.unwrap_or(created_at);
    Stage::ALL
        .into_iter()
        .find(|stage| bounds(*stage, lifecycle, now).contains(created_at, last_seen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Duration;

    fn at(days_ago: i64, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::days(days_ago)
    }

    #[test]
    fn stages_follow_the_lifecycle_thresholds() {
        let l = LifecycleSettings::default(); // 30d / 90d / 90d / 365d
        let now = "2026-11-23T12:00:00Z".parse().unwrap();
        let cases = [
            (10, None, Some(Stage::New)),
            (400, Some(10), Some(Stage::Active)),
            (400, Some(89), Some(Stage::Active)),
            (400, Some(90), Some(Stage::Sleeping)),
            (400, Some(364), Some(Stage::Sleeping)),
            (400, Some(365), Some(Stage::Lost)),
            (200, None, Some(Stage::Sleeping)),
            (10, Some(1000), Some(Stage::New)),
        ];
        for (created, seen, expected) in cases {
            let got = stage_of(at(created, now), seen.map(|d| at(d, now)), &l, now);
            assert_eq!(got, expected, "created {created}d ago, seen {seen:?}d ago");
        }
    }

    #[test]
    fn a_gap_between_active_and_sleeping_is_no_stage() {
        let l = LifecycleSettings {
            active_within: Duration::from_days(60),
            ..Default::default()
        };
        let now = "2026-11-23T12:00:00Z".parse().unwrap();
        assert_eq!(stage_of(at(400, now), Some(at(75, now)), &l, now), None);
    }
}
