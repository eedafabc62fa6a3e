//! Calendar rules as pure functions of (rule, zone, instant): entry
//! schedules, send windows, quiet hours, step times, jitter and frequency
//! caps. Nothing here reads a clock or a database.
//!
//! Daylight saving: schedules and windows are written in local wall-clock
//! time. A local time that does not exist (spring forward) happens at the
//! first instant after the gap; a local time that happens twice (fall back)
//! happens at its first occurrence only. So "30 2 * * *" fires exactly once
//! on both transition days, in every zone, including 30-minute shifts.

use crate::domain::{Duration, Rate};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use croner::Cron;
use sha2::{Digest, Sha256};
use std::str::FromStr;

/// The instant of a local wall-clock time in `tz`, by the DST rule above.
pub fn resolve_local(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    if let Some(first) = tz.from_local_datetime(&naive).earliest() {
        return first.with_timezone(&Utc);
    }
    // In a gap: the first minute that exists, i.e. the end of the gap
    // (gaps are at most a few hours).
    for minutes in 1..=(24 * 60) {
        let later = naive + chrono::Duration::minutes(minutes);
        if let Some(first) = tz.from_local_datetime(&later).earliest() {
            return first.with_timezone(&Utc);
        }
    }
    naive.and_utc()
}

fn local(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

/// When new contacts may enter a campaign: a crontab pattern read in local time.
#[derive(Debug, Clone)]
pub struct EntrySchedule {
    cron: Cron,
    pub pattern: String,
}

impl EntrySchedule {
    /// 5 fields (`0 10 * * TUE`), or 6/7 with seconds and year. Weekday numbers
    /// are POSIX (0 or 7 = Sunday, 1 = Monday).
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let cron = Cron::from_str(pattern).map_err(|e| e.to_string())?;
        Ok(Self {
            cron,
            pattern: pattern.to_string(),
        })
    }

    /// Local occurrences, mapped to instants, in (after, until].
    pub fn fires_between(&self, tz: Tz, after: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        self.next_after(tz, after).is_some_and(|next| next <= until)
    }

    /// The first instant after `after` at which the schedule fires in `tz`.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Walk local wall-clock occurrences (a "floating" clock without DST),
        // starting a little before `after` to cover fall-back overlaps.
        let mut cursor = (local(tz, after) - chrono::Duration::hours(3)).and_utc();
        for _ in 0..10_000 {
            let floating = self.cron.find_next_occurrence(&cursor, false).ok()?;
            let instant = resolve_local(tz, floating.naive_utc());
            // The second reading of a repeated local time maps to the first
            // one, which is earlier than `after` and so skipped here.
            if instant > after {
                return Some(instant);
            }
            cursor = floating;
        }
        None
    }
}

/// A set of weekdays: `mon-fri`, `sat,sun`, `daily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(u8);

impl Weekdays {
    pub const ALL: Weekdays = Weekdays(0x7f);

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().to_lowercase();
        if text == "daily" || text == "*" || text == "all" {
            return Ok(Self::ALL);
        }
        let day = |name: &str| -> Result<u32, String> {
            name.trim()
                .parse::<Weekday>()
                .map(|d| d.num_days_from_monday())
                .map_err(|_| {
                    format!(
                        "unknown day `{}` (use mon, tue, wed, thu, fri, sat, sun)",
                        name.trim()
                    )
                })
        };
        let mut mask = 0u8;
        for part in text.split(',') {
            match part.split_once('-') {
                Some((from, to)) => {
                    let (mut d, end) = (day(from)?, day(to)?);
                    loop {
                        mask |= 1 << d;
                        if d == end {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => mask |= 1 << day(part)?,
            }
        }
        Ok(Self(mask))
    }
}

/// A daily range of local time, `09:00-17:00`; `22:00-02:00` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

pub fn parse_time_of_day(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
        format!(
            "invalid time `{}` (use 24-hour HH:MM, e.g. 09:30)",
            text.trim()
        )
    })
}

impl Hours {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (start, end) = text
            .split_once('-')
            .ok_or_else(|| format!("invalid hours `{text}` (write a range like 09:00-17:00)"))?;
        let hours = Self {
            start: parse_time_of_day(start)?,
            end: parse_time_of_day(end)?,
        };
        if hours.start == hours.end {
            return Err(format!("the range `{text}` is empty"));
        }
        Ok(hours)
    }

    fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.crosses_midnight() {
            t >= self.start || t < self.end
        } else {
            t >= self.start && t < self.end
        }
    }
}

/// When a step may go out, in the recipient's local time. A window that
/// crosses midnight belongs to the day it opens: `fri 22:00-02:00` includes
/// Saturday 01:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWindow {
    pub days: Weekdays,
    pub hours: Option<Hours>,
}

impl SendWindow {
    fn allows(&self, at: NaiveDateTime) -> bool {
        let (date, time) = (at.date(), at.time());
        match self.hours {
            None => self.days.contains(date.weekday()),
            Some(h) if !h.contains(time) => false,
            Some(h) if h.crosses_midnight() && time < h.end => self
                .days
                .contains(date.pred_opt().unwrap_or(date).weekday()),
            Some(_) => self.days.contains(date.weekday()),
        }
    }
}

/// Why a due step is not sent at its first due instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    Window,
    QuietHours,
}

/// Where each calendar rule is read: the send window in the campaign's zone
/// (a pinned zone, or the contact's), quiet hours always in the recipient's
/// own zone, because they protect the recipient's night.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zones {
    pub window: Tz,
    pub quiet: Tz,
}

impl Zones {
    /// Both rules read in one zone.
    pub fn same(tz: Tz) -> Self {
        Self {
            window: tz,
            quiet: tz,
        }
    }
}

/// What keeps a message from leaving at `at` (the send window, read in its
/// zone, or quiet hours, in theirs), if anything: the rule
/// [`next_opening`] applies, and the console's calendar shades.
pub fn closed(
    at: DateTime<Utc>,
    zones: Zones,
    window: Option<&SendWindow>,
    quiet: Option<&Hours>,
) -> Option<Hold> {
    if window.is_some_and(|w| !w.allows(local(zones.window, at))) {
        Some(Hold::Window)
    } else if quiet.is_some_and(|q| q.contains(local(zones.quiet, at).time())) {
        Some(Hold::QuietHours)
    } else {
        None
    }
}

/// The first instant at or after `due` that is inside the window and outside
/// quiet hours, each read in its zone, and what held it back (if anything).
pub fn next_opening(
    due: DateTime<Utc>,
    zones: Zones,
    window: Option<&SendWindow>,
    quiet: Option<&Hours>,
) -> (DateTime<Utc>, Option<Hold>) {
    let mut at = due;
    let mut held = None;
    // Fifteen days of boundaries is more than any weekly window needs.
    for _ in 0..400 {
        let window_local = local(zones.window, at);
        let quiet_local = local(zones.quiet, at);
        let blocked = closed(at, zones, window, quiet);
        let Some(reason) = blocked else {
            return (at, held);
        };
        held.get_or_insert(reason);
        // Jump to the next local boundary (in either zone) where the answer may change.
        let mut candidates: Vec<DateTime<Utc>> = Vec::new();
        for (tz, now_local, starts) in [
            (
                zones.window,
                window_local,
                window.and_then(|w| w.hours).map(|h| h.start),
            ),
            (zones.quiet, quiet_local, quiet.map(|q| q.end)),
        ] {
            let day = now_local.date();
            for d in [day, day.succ_opt().unwrap_or(day)] {
                let mut locals = vec![d.and_hms_opt(0, 0, 0).unwrap_or_default()];
                if let Some(start) = starts {
                    locals.push(d.and_time(start));
                }
                candidates.extend(
                    locals
                        .into_iter()
                        .filter(|c| *c > now_local)
                        .map(|c| resolve_local(tz, c)),
                );
            }
        }
        let next = candidates.into_iter().filter(|n| *n > at).min();
        at = next.unwrap_or(at + chrono::Duration::minutes(1));
    }
    (at, held)
}

/// `base` plus `after`, with whole days counted on the local calendar of
/// `tz`: a step three days after a 09:00 send is due at 09:00 local three
/// days later even when the clocks changed in between (the rest of the
/// duration, hours and minutes, is elapsed time).
pub fn after_local(base: DateTime<Utc>, tz: Tz, after: Duration) -> DateTime<Utc> {
    let seconds = after.as_secs();
    let days = seconds / 86_400;
    let rest = chrono::Duration::seconds(seconds % 86_400);
    if days == 0 {
        return base + rest;
    }
    let local_base = local(tz, base);
    let shifted = local_base
        .date()
        .checked_add_days(chrono::Days::new(days as u64))
        .map(|d| d.and_time(local_base.time()));
    match shifted {
        Some(naive) => resolve_local(tz, naive) + rest,
        None => base + after.to_chrono(),
    }
}

/// The step's due instant moved to local time-of-day `at` (the same local
/// day if not yet past, else the next day).
pub fn at_time_of_day(due: DateTime<Utc>, tz: Tz, at: NaiveTime) -> DateTime<Utc> {
    let date: NaiveDate = local(tz, due).date();
    let today = resolve_local(tz, date.and_time(at));
    if today >= due {
        today
    } else {
        resolve_local(tz, date.succ_opt().unwrap_or(date).and_time(at))
    }
}

/// A stable spread in [0, jitter) for one (enrollment, step).
pub fn jitter(enrollment_id: i64, step: usize, jitter: Duration) -> chrono::Duration {
    if jitter.as_secs() <= 0 {
        return chrono::Duration::zero();
    }
    let digest = Sha256::digest(format!("{enrollment_id}:{step}").as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
    chrono::Duration::seconds((n % jitter.as_secs() as u64) as i64)
}

/// Under a cap of `count` per `period`, the earliest instant at or after
/// `due` at which one more message is allowed, given the contact's other
/// messages (`history`, any order). `None` when `due` itself is allowed.
pub fn cap_release(
    history: &[DateTime<Utc>],
    cap: Rate,
    due: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let period = cap.period.to_chrono();
    let mut recent: Vec<DateTime<Utc>> = history
        .iter()
        .copied()
        .filter(|t| *t > due - period && *t <= due + period)
        .collect();
    recent.sort();
    let in_window = recent
        .iter()
        .filter(|t| **t > due - period && **t <= due)
        .count();
    if in_window < cap.count as usize {
        return None;
    }
    let window: Vec<_> = recent.iter().filter(|t| **t <= due).collect();
    let oldest_to_drop = window[window.len() - cap.count as usize];
    Some(*oldest_to_drop + period)
}

#[cfg(test)]
mod tests;
