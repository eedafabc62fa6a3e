//! Who is in a segment. A segment names lifecycle stages; this module turns
//! them into a [`Selection`] of plain time bounds that the store compiles to
//! SQL with bound parameters, and computes a single contact's stage in Rust
//! with the same rules (for previews and template context).
//!
//! Stages are checked in order, the first match wins:
//! - `new`: created within `lifecycle.new_within`;
//! - `active`: last seen (last activity, or creation) within `active_within`;
//! - `sleeping`: last seen at least `sleeping_after` ago, but less than `lost_after`;
//! - `lost`: last seen at least `lost_after` ago.
//!
//! A contact last seen between `active_within` and `sleeping_after` ago (only
//! possible when those differ) is in no stage: cooling off, not yet asleep.

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

/// A segment evaluated at one instant: a contact matches when it matches any
/// of the stage bounds, and is not suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub any_of: Vec<StageBounds>,
    /// Only contacts in these time zones (`None` in the list: zone unknown);
    /// `None`: any zone. Used when a schedule opens entry zone by zone.
    pub zones: Option<Vec<Option<String>>>,
}

/// A campaign's audience as written in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub stages: Vec<Stage>,
}

impl Segment {
    pub fn select(&self, lifecycle: &LifecycleSettings, now: DateTime<Utc>) -> Selection {
        Selection {
            any_of: self
                .stages
                .iter()
                .map(|stage| bounds(*stage, lifecycle, now))
                .collect(),
            zones: None,
        }
    }
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
