//! Table-driven calendar tests with fixed instants.

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn tz(name: &str) -> Tz {
    name.parse().unwrap()
}

/// Every firing of `pattern` in `zone` within (from, to], as UTC instants.
fn firings(pattern: &str, zone: &str, from: &str, to: &str) -> Vec<DateTime<Utc>> {
    let schedule = EntrySchedule::parse(pattern).unwrap();
    let (mut at, to) = (utc(from), utc(to));
    let mut out = Vec::new();
    while let Some(next) = schedule.next_after(tz(zone), at) {
        if next > to {
            break;
        }
        out.push(next);
        at = next;
    }
    out
}

#[test]
fn a_schedule_fires_exactly_once_on_both_dst_transition_days() {
    let cases = [
        // zone, pattern, window (UTC), expected firings (UTC)
        // New York springs forward 2026-03-08 02:00 -> 03:00: 02:30 does not exist.
        (
            "America/New_York",
            "30 2 * * *",
            "2026-03-07T12:00:00Z",
            "2026-03-09T12:00:00Z",
            vec!["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"],
        ),
        // New York falls back 2026-11-01 02:00 -> 01:00: 01:30 happens twice.
        (
            "America/New_York",
            "30 1 * * *",
            "2026-10-31T12:00:00Z",
            "2026-11-02T12:00:00Z",
            vec!["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
        ),
        // Berlin: spring 2026-03-29 02:00 -> 03:00, autumn 2026-10-25 03:00 -> 02:00.
        (
            "Europe/Berlin",
            "30 2 * * *",
            "2026-03-28T12:00:00Z",
            "2026-03-30T12:00:00Z",
            vec!["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"],
        ),
        (
            "Europe/Berlin",
            "30 2 * * *",
            "2026-10-24T12:00:00Z",
            "2026-10-26T12:00:00Z",
            vec!["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
        ),
        // Lord Howe shifts by 30 minutes: 2026-04-05 02:00 -> 01:30, 2026-10-04 02:00 -> 02:30.
        (
            "Australia/Lord_Howe",
            "45 1 * * *",
            "2026-04-04T00:00:00Z",
            "2026-04-06T00:00:00Z",
            vec!["2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"],
        ),
        // 02:15 on 2026-10-04 does not exist: it fires when the gap ends (02:30 +11:00).
        (
            "Australia/Lord_Howe",
            "15 2 * * *",
            "2026-10-03T00:00:00Z",
            "2026-10-05T00:00:00Z",
            vec!["2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"],
        ),
    ];
    for (zone, pattern, from, to, expected) in cases {
        let expected: Vec<DateTime<Utc>> = expected.into_iter().map(utc).collect();
        assert_eq!(
            firings(pattern, zone, from, to),
            expected,
            "{zone} `{pattern}`"
        );
    }
}

#[test]
fn weekday_numbers_are_posix() {
    // 1-5 is Monday to Friday (the `cron` crate would read it as Sunday to Thursday).
    let fired = firings(
        "0 10 * * 1-5",
        "UTC",
        "2026-11-21T00:00:00Z",
        "2026-11-29T00:00:00Z",
    );
    let days: Vec<Weekday> = fired.iter().map(|t| t.weekday()).collect();
    assert_eq!(
        days,
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri
        ]
    );
    assert!(EntrySchedule::parse("0 10 * * TUESDAYS").is_err());
    assert!(EntrySchedule::parse("61 10 * * *").is_err());
}

/// zone, window, quiet hours, due, expected opening, what held it.
type OpeningCase<'a> = (
    &'a str,
    Option<&'a SendWindow>,
    Option<&'a Hours>,
    &'a str,
    &'a str,
    Option<Hold>,
);

#[test]
fn windows_and_quiet_hours_find_the_next_opening() {
    let office = SendWindow {
        days: Weekdays::parse("mon-fri").unwrap(),
        hours: Some(Hours::parse("09:00-17:00").unwrap()),
    };
    let night = SendWindow {
        days: Weekdays::parse("fri").unwrap(),
        hours: Some(Hours::parse("22:00-02:00").unwrap()),
    };
    let quiet = Hours::parse("21:00-08:00").unwrap();
    let cases: Vec<OpeningCase<'_>> = vec![
        // Inside the window: unchanged.
        (
            "Europe/Berlin",
            Some(&office),
            None,
            "2026-11-24T10:00:00Z",
            "2026-11-24T10:00:00Z",
            None,
        ),
        // Friday 18:00 Berlin -> Monday 09:00 Berlin.
        (
            "Europe/Berlin",
            Some(&office),
            None,
            "2026-11-27T17:00:00Z",
            "2026-11-30T08:00:00Z",
            Some(Hold::Window),
        ),
        // A window crossing midnight: Saturday 01:00 belongs to Friday's window...
        (
            "UTC",
            Some(&night),
            None,
            "2026-11-28T01:00:00Z",
            "2026-11-28T01:00:00Z",
            None,
        ),
        // ...Saturday 03:00 waits for next Friday 22:00.
        (
            "UTC",
            Some(&night),
            None,
            "2026-11-28T03:00:00Z",
            "2026-12-04T22:00:00Z",
            Some(Hold::Window),
        ),
        // Quiet hours crossing midnight: 23:30 local -> 08:00 next morning.
        (
            "America/New_York",
            None,
            Some(&quiet),
            "2026-11-25T04:30:00Z",
            "2026-11-25T13:00:00Z",
            Some(Hold::QuietHours),
        ),
        // Window opens at 09:00 but quiet hours end at 08:00: both must hold.
        (
            "UTC",
            Some(&office),
            Some(&quiet),
            "2026-11-24T06:00:00Z",
            "2026-11-24T09:00:00Z",
            Some(Hold::Window),
        ),
    ];
    for (zone, window, quiet, due, expected, hold) in cases {
        let got = next_opening(utc(due), Zones::same(tz(zone)), window, quiet);
        assert_eq!(got, (utc(expected), hold), "{zone} due {due}");
    }
}

#[test]
fn contacts_at_utc_plus_13_and_minus_10_each_get_their_own_morning() {
    let office = SendWindow {
        days: Weekdays::ALL,
        hours: Some(Hours::parse("09:00-17:00").unwrap()),
    };
    let due = utc("2026-11-24T00:00:00Z");
    // Tonga (UTC+13): 13:00 local, inside. Honolulu (UTC-10): 14:00 the day before, inside.
    assert_eq!(
        next_opening(
            due,
            Zones::same(tz("Pacific/Tongatapu")),
            Some(&office),
            None
        )
        .0,
        due
    );
    assert_eq!(
        next_opening(
            due,
            Zones::same(tz("Pacific/Honolulu")),
            Some(&office),
            None
        )
        .0,
        due
    );
    let late = utc("2026-11-24T05:00:00Z");
    // Tonga 18:00 -> next day 09:00 local (20:00Z); Honolulu 19:00 -> 09:00 local (19:00Z).
    assert_eq!(
        next_opening(
            late,
            Zones::same(tz("Pacific/Tongatapu")),
            Some(&office),
            None
        )
        .0,
        utc("2026-11-24T20:00:00Z")
    );
    assert_eq!(
        next_opening(
            late,
            Zones::same(tz("Pacific/Honolulu")),
            Some(&office),
            None
        )
        .0,
        utc("2026-11-24T19:00:00Z")
    );
}

#[test]
fn a_step_time_of_day_is_local_and_never_earlier_than_due() {
    let ten = parse_time_of_day("10:00").unwrap();
    let berlin = tz("Europe/Berlin");
    assert_eq!(
        at_time_of_day(utc("2026-11-24T07:00:00Z"), berlin, ten),
        utc("2026-11-24T09:00:00Z")
    );
    assert_eq!(
        at_time_of_day(utc("2026-11-24T12:00:00Z"), berlin, ten),
        utc("2026-11-25T09:00:00Z")
    );
}

#[test]
fn jitter_is_stable_and_bounded() {
    let hour = Duration::from_secs(3600);
    let spreads: std::collections::HashSet<i64> = (0..50)
        .map(|id| jitter(id, 0, hour).num_seconds())
        .collect();
    assert!(spreads.iter().all(|s| (0..3600).contains(s)));
    assert!(spreads.len() > 40, "spreads a segment out");
    assert_eq!(jitter(7, 1, hour), jitter(7, 1, hour));
}

#[test]
fn a_cap_defers_to_the_first_instant_it_allows() {
    let cap = Rate::parse("2/7d").unwrap();
    let due = utc("2026-11-24T10:00:00Z");
    assert_eq!(cap_release(&[utc("2026-11-20T10:00:00Z")], cap, due), None);
    let two = [utc("2026-11-20T10:00:00Z"), utc("2026-11-22T09:00:00Z")];
    // Two in the last seven days: wait until the older one is seven days old.
    assert_eq!(
        cap_release(&two, cap, due),
        Some(utc("2026-11-27T10:00:00Z"))
    );
    let old = [utc("2026-11-01T10:00:00Z"), utc("2026-11-02T10:00:00Z")];
    assert_eq!(cap_release(&old, cap, due), None);
}

#[test]
fn weekday_sets_parse_ranges_lists_and_wraparound() {
    let weekend = Weekdays::parse("sat-sun").unwrap();
    assert!(weekend.contains(Weekday::Sun) && !weekend.contains(Weekday::Mon));
    let wrap = Weekdays::parse("fri-mon").unwrap();
    assert!(
        wrap.contains(Weekday::Sat) && wrap.contains(Weekday::Mon) && !wrap.contains(Weekday::Wed)
    );
    assert!(Weekdays::parse("mon,funday").is_err());
    assert!(Hours::parse("9-17").is_err());
}

#[test]
fn whole_days_are_counted_on_the_local_calendar_across_clock_changes() {
    let ny = tz("America/New_York");
    // Saturday 09:00 EDT; the clocks go back that night: a day later is
    // Sunday 09:00 EST, 25 hours on.
    assert_eq!(
        after_local(utc("2026-10-31T13:00:00Z"), ny, Duration::from_days(1)),
        utc("2026-11-01T14:00:00Z")
    );
    // Hours and minutes stay elapsed time.
    assert_eq!(
        after_local(
            utc("2026-10-31T13:00:00Z"),
            ny,
            Duration::parse("1d2h").unwrap()
        ),
        utc("2026-11-01T16:00:00Z")
    );
    assert_eq!(
        after_local(
            utc("2026-10-31T13:00:00Z"),
            ny,
            Duration::parse("6h").unwrap()
        ),
        utc("2026-10-31T19:00:00Z")
    );
    // Lord Howe moves its clocks by 30 minutes (spring forward on 2026-10-04
    // at 02:00 local): 09:00 the day before is 09:00 the day after.
    let lord_howe = tz("Australia/Lord_Howe");
    let before = resolve_local(
        lord_howe,
        NaiveDate::from_ymd_opt(2026, 10, 3)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap(),
    );
    let after = after_local(before, lord_howe, Duration::from_days(2));
    assert_eq!(
        after.with_timezone(&lord_howe).naive_local(),
        NaiveDate::from_ymd_opt(2026, 10, 5)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
    );
    assert_eq!(after - before, chrono::Duration::minutes(2 * 24 * 60 - 30));
}

#[test]
fn quiet_hours_are_read_in_the_recipients_zone_even_when_the_window_is_pinned() {
    let window = SendWindow {
        days: Weekdays::ALL,
        hours: Some(Hours::parse("08:00-20:00").unwrap()),
    };
    let quiet = Hours::parse("21:00-08:00").unwrap();
    let zones = Zones {
        window: tz("America/New_York"),
        quiet: tz("Asia/Kathmandu"),
    };
    // 08:00 in New York is 18:45 in Kathmandu: both allow it.
    let open = utc("2026-11-24T13:00:00Z");
    assert_eq!(
        next_opening(open, zones, Some(&window), Some(&quiet)),
        (open, None)
    );
    // 11:00 in New York is 21:45 in Kathmandu: the recipient's night. Their
    // morning (08:00, 02:15Z) is New York's night, so the next instant both
    // allow is New York's next 08:00.
    let (at, hold) = next_opening(
        utc("2026-11-24T16:00:00Z"),
        zones,
        Some(&window),
        Some(&quiet),
    );
    assert_eq!(at, utc("2026-11-25T13:00:00Z"));
    assert_eq!(hold, Some(Hold::QuietHours));
}
