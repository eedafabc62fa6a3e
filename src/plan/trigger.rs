//! Entering on what happened rather than on who one is: an event (a
//! purchase, a signup, a renewal — after an optional delay) or the yearly
//! anniversary of becoming a client. Each tick takes the entries that came
//! due since the previous one (a checkpoint per campaign; the first tick
//! looks back one day, like entry schedules), so nothing is entered twice
//! and nothing is missed while the daemon was down.

use super::{Rules, reentry_cutoff, zone_for};
use crate::catalog::{Campaign, Catalog, Entry};
use crate::schedule::resolve_local;
use crate::store::prelude::*;
use crate::store::{EventTrigger, StoreError};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::collections::BTreeSet;

/// Enrolls (or, with `apply` false, counts) the contacts whose event or
/// anniversary came due in (previous tick, `now`].
pub(super) async fn enter<S: Store>(
    store: &S,
    catalog: &Catalog,
    campaign: &Campaign,
    rules: &Rules,
    now: DateTime<Utc>,
    apply: bool,
) -> Result<u64, StoreError> {
    let last = store.schedule_checkpoint(&campaign.id).await?;
    let after = last
        .filter(|l| *l < now)
        .unwrap_or(now - chrono::Duration::days(1));
    let selection = campaign.segment.select(&catalog.vocabulary, now);
    let reentry = reentry_cutoff(campaign, now);
    let entered = match &campaign.entry {
        Entry::Segment => 0,
        Entry::Event { kinds, delay } => {
            let trigger = EventTrigger {
                kinds: kinds.clone(),
                delay: delay.to_chrono(),
                after,
                until: now,
            };
            store
                .enroll_on_events(&campaign.id, &selection, &trigger, reentry, now, apply)
                .await?
        }
        Entry::Anniversary => {
            let candidates = store
                .anniversary_candidates(&selection, &days_between(after, now))
                .await?;
            let due: Vec<i64> = candidates
                .into_iter()
                .filter(|(_, created, zone)| {
                    anniversary_due(
                        *created,
                        zone_for(campaign, zone.as_deref(), rules),
                        after,
                        now,
                    )
                })
                .map(|(id, _, _)| id)
                .collect();
            store
                .enroll_ids(&campaign.id, &due, reentry, now, apply)
                .await?
        }
    };
    if apply {
        store.set_schedule_checkpoint(&campaign.id, now).await?;
    }
    Ok(entered)
}

/// `MM-DD` of every UTC day from two days before `after` to two days after
/// `now`: a local anniversary may fall on a neighbouring UTC date.
fn days_between(after: DateTime<Utc>, now: DateTime<Utc>) -> Vec<String> {
    let mut days = BTreeSet::new();
    let mut day = (after - chrono::Duration::days(2)).date_naive();
    let last = (now + chrono::Duration::days(2)).date_naive();
    while day <= last && days.len() < 366 {
        days.insert(day.format("%m-%d").to_string());
        day = day.succ_opt().unwrap_or(last);
        if day == last {
            days.insert(day.format("%m-%d").to_string());
            break;
        }
    }
    days.into_iter().collect()
}

/// Whether an anniversary of `created` (local midnight in `zone`, one year
/// on or later; 29 February is celebrated on the 28th in other years) falls
/// in (`after`, `now`].
pub(super) fn anniversary_due(
    created: DateTime<Utc>,
    zone: chrono_tz::Tz,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let born = created.with_timezone(&zone).date_naive();
    let first = after.with_timezone(&zone).year() - 1;
    let last = now.with_timezone(&zone).year() + 1;
    (first.max(born.year() + 1)..=last).any(|year| {
        let date = NaiveDate::from_ymd_opt(year, born.month(), born.day())
            .or_else(|| NaiveDate::from_ymd_opt(year, born.month(), born.day() - 1));
        date.and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|midnight| resolve_local(zone, midnight))
            .is_some_and(|at| at > after && at <= now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn an_anniversary_is_local_midnight_a_year_on_and_not_the_day_of_joining() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let joined = utc("2025-03-10T09:00:00Z");
        // Local midnight of 2026-03-10 in Berlin is 23:00 UTC the day before.
        assert!(anniversary_due(
            joined,
            berlin,
            utc("2026-03-09T22:00:00Z"),
            utc("2026-03-09T23:30:00Z")
        ));
        assert!(!anniversary_due(
            joined,
            berlin,
            utc("2026-03-09T23:30:00Z"),
            utc("2026-03-10T23:00:00Z")
        ));
        // The day of joining is no anniversary.
        assert!(!anniversary_due(
            joined,
            berlin,
            utc("2025-03-09T00:00:00Z"),
            utc("2025-03-11T00:00:00Z")
        ));
        // Every year after.
        assert!(anniversary_due(
            joined,
            berlin,
            utc("2030-03-09T00:00:00Z"),
            utc("2030-03-10T12:00:00Z")
        ));
    }

    #[test]
    fn a_leap_day_is_celebrated_on_the_28th_in_other_years() {
        let utc_zone = chrono_tz::UTC;
        let joined = utc("2024-02-29T12:00:00Z");
        assert!(anniversary_due(
            joined,
            utc_zone,
            utc("2025-02-27T12:00:00Z"),
            utc("2025-02-28T12:00:00Z")
        ));
        assert!(anniversary_due(
            joined,
            utc_zone,
            utc("2028-02-28T12:00:00Z"),
            utc("2028-02-29T12:00:00Z")
        ));
    }

    #[test]
    fn the_days_looked_at_cover_the_window_and_its_neighbours() {
        let days = days_between(utc("2026-03-09T10:00:00Z"), utc("2026-03-10T10:00:00Z"));
        assert_eq!(days, ["03-07", "03-08", "03-09", "03-10", "03-11", "03-12"]);
        assert_eq!(
            days_between(utc("2020-01-01T00:00:00Z"), utc("2026-01-01T00:00:00Z")).len(),
            366
        );
    }
}
