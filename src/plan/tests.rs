//! The pure planning decision, table by table.

use super::*;
use crate::catalog::{Reentry, Step};
use crate::domain::{Duration, Stage};
use crate::schedule::{SendWindow, Weekdays};
use crate::segment::Segment;
use crate::store::LastSend;

fn campaign(afters: &[i64]) -> Campaign {
    Campaign {
        id: "c".into(),
        path: "c.toml".into(),
        description: String::new(),
        segment: Segment {
            stages: vec![Stage::New.to_string()],
            filter: None,
        },
        entry: crate::catalog::Entry::Segment,
        from: None,
        steps: afters
            .iter()
            .map(|d| Step {
                after: Duration::from_days(*d),
                template: "t".into(),
                subject: None,
                template_at: 0,
                subject_at: None,
                at: None,
                jitter: Duration::ZERO,
            })
            .collect(),
        schedule: None,
        timezone: CampaignZone::Contact,
        send_window: None,
        exit_on: Vec::new(),
        exit_when: None,
        reentry: Reentry::Never,
        max_per_contact: None,
        pilot: None,
        track_clicks: true,
    }
}

fn rules() -> Rules {
    Rules {
        quiet_hours: None,
        default_zone: chrono_tz::UTC,
        max_per_contact: None,
    }
}

/// 2026-01-05 is a Monday.
fn t(day: i64) -> DateTime<Utc> {
    "2026-01-05T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::days(day)
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn progress(last: Option<(u32, SendState, Option<i64>)>) -> EnrollmentProgress {
    EnrollmentProgress {
        enrollment_id: 1,
        contact_id: 1,
        entered_at: t(0),
        timezone: None,
        last_send: last.map(|(step, state, sent)| LastSend {
            held: None,
            step,
            state,
            sent_at: sent.map(t),
        }),
    }
}

fn delay(step: usize, until: DateTime<Utc>) -> Decision {
    Decision::Wait {
        step,
        until,
        reason: WaitReason::Delay,
    }
}

#[test]
fn first_step_is_due_after_its_delay_from_entry() {
    let c = campaign(&[2, 5]);
    assert_eq!(
        decide(&c, &progress(None), t(1), &rules(), &[]),
        delay(0, t(2))
    );
    assert_eq!(
        decide(&c, &progress(None), t(2), &rules(), &[]),
        Decision::Queue {
            step: 0,
            due_at: t(2)
        }
    );
}

#[test]
fn later_steps_count_from_the_previous_send() {
    let c = campaign(&[0, 5]);
    // Step 1 went out a day late (day 1): step 2 is due on day 6, not day 5.
    let p = progress(Some((0, SendState::Sent, Some(1))));
    assert_eq!(decide(&c, &p, t(5), &rules(), &[]), delay(1, t(6)));
    assert_eq!(
        decide(&c, &p, t(6), &rules(), &[]),
        Decision::Queue {
            step: 1,
            due_at: t(6)
        }
    );
}

#[test]
fn nothing_new_while_the_previous_step_is_in_the_outbox() {
    let c = campaign(&[0, 0]);
    for state in [SendState::Queued, SendState::Sending, SendState::Retry] {
        let p = progress(Some((0, state, None)));
        assert_eq!(
            decide(&c, &p, t(9), &rules(), &[]),
            Decision::InFlight { step: 0 }
        );
    }
    let p = progress(Some((0, SendState::InDoubt, None)));
    assert_eq!(
        decide(&c, &p, t(9), &rules(), &[]),
        Decision::InDoubt { step: 0 }
    );
}

#[test]
fn the_passage_ends_after_the_last_step_or_a_failure() {
    let c = campaign(&[0]);
    let done = progress(Some((0, SendState::Sent, Some(0))));
    assert_eq!(
        decide(&c, &done, t(1), &rules(), &[]),
        Decision::Finish(ExitReason::Completed)
    );
    let failed = progress(Some((0, SendState::Failed, None)));
    assert_eq!(
        decide(&c, &failed, t(1), &rules(), &[]),
        Decision::Finish(ExitReason::SendFailed)
    );
    let suppressed = progress(Some((0, SendState::Suppressed, None)));
    assert_eq!(
        decide(&c, &suppressed, t(1), &rules(), &[]),
        Decision::Finish(ExitReason::Suppressed)
    );
}

#[test]
fn a_step_outside_its_window_waits_for_the_next_opening_in_the_contacts_zone() {
    let mut c = campaign(&[0]);
    c.send_window = Some(SendWindow {
        days: Weekdays::parse("mon-fri").unwrap(),
        hours: Some(crate::schedule::Hours::parse("09:00-17:00").unwrap()),
    });
    let mut p = progress(None);
    p.timezone = Some("America/New_York".into());
    // Entered Monday 00:00Z = Sunday 19:00 in New York: opens Monday 09:00 EST = 14:00Z.
    assert_eq!(
        decide(&c, &p, t(0), &rules(), &[]),
        Decision::Wait {
            step: 0,
            until: at("2026-01-05T14:00:00Z"),
            reason: WaitReason::Window
        }
    );
    // Not skipped, not early: at the opening it is due.
    assert_eq!(
        decide(&c, &p, at("2026-01-05T14:00:00Z"), &rules(), &[]),
        Decision::Queue {
            step: 0,
            due_at: at("2026-01-05T14:00:00Z")
        }
    );
}

#[test]
fn quiet_hours_hold_a_step_until_morning() {
    let c = campaign(&[0]);
    let quiet = Rules {
        quiet_hours: Some(crate::schedule::Hours::parse("21:00-08:00").unwrap()),
        ..rules()
    };
    assert_eq!(
        decide(&c, &progress(None), t(0), &quiet, &[]),
        Decision::Wait {
            step: 0,
            until: at("2026-01-05T08:00:00Z"),
            reason: WaitReason::QuietHours
        }
    );
}

#[test]
fn a_capped_step_is_deferred_to_the_first_instant_the_cap_allows() {
    let c = campaign(&[0]);
    let capped = Rules {
        max_per_contact: Some(Rate::parse("1/7d").unwrap()),
        ..rules()
    };
    let other = HistoryItem {
        contact_id: 1,
        campaign: "other".into(),
        at: at("2026-01-03T12:00:00Z"),
    };
    assert_eq!(
        decide(&c, &progress(None), t(0), &capped, &[&other]),
        Decision::Wait {
            step: 0,
            until: at("2026-01-10T12:00:00Z"),
            reason: WaitReason::Cap
        }
    );
    // The campaign's own cap ignores other campaigns' messages.
    let mut own_cap = campaign(&[0]);
    own_cap.max_per_contact = Some(Rate::parse("1/7d").unwrap());
    assert_eq!(
        decide(&own_cap, &progress(None), t(0), &rules(), &[&other]),
        Decision::Queue {
            step: 0,
            due_at: t(0)
        }
    );
}

#[test]
fn a_cap_is_judged_when_the_message_would_really_go_out() {
    // Due a week ago, but a message went out an hour ago: wait, do not send now.
    let c = campaign(&[0]);
    let capped = Rules {
        max_per_contact: Some(Rate::parse("1/1d").unwrap()),
        ..rules()
    };
    let recent = HistoryItem {
        contact_id: 1,
        campaign: "other".into(),
        at: t(7) - chrono::Duration::hours(1),
    };
    assert!(matches!(
        decide(&c, &progress(None), t(7), &capped, &[&recent]),
        Decision::Wait {
            reason: WaitReason::Cap,
            ..
        }
    ));
}

#[test]
fn a_step_time_of_day_is_local() {
    let mut c = campaign(&[1]);
    c.steps[0].at = Some(crate::schedule::parse_time_of_day("10:00").unwrap());
    c.timezone = CampaignZone::Fixed("Europe/Berlin".parse().unwrap());
    assert_eq!(
        decide(&c, &progress(None), t(1), &rules(), &[]),
        delay(0, at("2026-01-06T09:00:00Z"))
    );
}

/// What the tick and the dry run take once for every entrant must be what
/// `decide` says for each of them, whatever their zone; where it could
/// differ (jitter, quiet hours, caps, a local calendar read per contact),
/// there is no shortcut.
#[test]
fn an_entry_decision_taken_once_is_everyones_or_not_taken() {
    // Two days before Europe's clocks change: a 3-day delay is 71 h in Berlin.
    let now = at("2026-03-27T10:00:30.500Z");
    let zones = [
        None,
        Some("Europe/Berlin"),
        Some("America/New_York"),
        Some("Asia/Tokyo"),
    ];
    let everyone = |c: &Campaign, rules: &Rules| -> Vec<Decision> {
        zones
            .iter()
            .enumerate()
            .map(|(i, zone)| {
                let entrant = EnrollmentProgress {
                    enrollment_id: i as i64 + 1,
                    contact_id: i as i64 + 1,
                    entered_at: entry_instant(now),
                    timezone: zone.map(String::from),
                    last_send: None,
                };
                decide(c, &entrant, now, rules, &[])
            })
            .collect()
    };
    let immediate = campaign(&[0, 3]);
    let once = uniform_entry(&immediate, &rules(), now).expect("a plain first step");
    assert_eq!(
        once,
        Decision::Queue {
            step: 0,
            due_at: at("2026-03-27T10:00:30Z")
        }
    );
    assert!(everyone(&immediate, &rules()).iter().all(|d| *d == once));

    let mut fixed = campaign(&[3]);
    fixed.timezone = CampaignZone::Fixed("Europe/Berlin".parse().unwrap());
    fixed.steps[0].at = Some(crate::schedule::parse_time_of_day("10:00").unwrap());
    let once = uniform_entry(&fixed, &rules(), now).expect("one zone for everyone");
    assert_eq!(once, delay(0, at("2026-03-31T08:00:00Z")));
    assert!(everyone(&fixed, &rules()).iter().all(|d| *d == once));

    // Each of these can differ between entrants: decided one by one.
    let three_days_local = campaign(&[3]);
    let each = everyone(&three_days_local, &rules());
    assert!(
        each.iter().any(|d| *d != each[0]),
        "the delay depends on the zone here"
    );
    assert_eq!(uniform_entry(&three_days_local, &rules(), now), None);
    let mut jittered = campaign(&[0]);
    jittered.steps[0].jitter = Duration::from_days(1);
    assert_eq!(uniform_entry(&jittered, &rules(), now), None);
    let mut windowed = campaign(&[0]);
    windowed.send_window = Some(SendWindow {
        days: Weekdays::parse("mon-fri").unwrap(),
        hours: Some(crate::schedule::Hours::parse("09:00-17:00").unwrap()),
    });
    assert_eq!(uniform_entry(&windowed, &rules(), now), None);
    let quiet = Rules {
        quiet_hours: Some(crate::schedule::Hours::parse("21:00-08:00").unwrap()),
        ..rules()
    };
    assert_eq!(uniform_entry(&immediate, &quiet, now), None);
    let capped = Rules {
        max_per_contact: Some(Rate::parse("1/7d").unwrap()),
        ..rules()
    };
    assert_eq!(uniform_entry(&immediate, &capped, now), None);
    let mut own_cap = campaign(&[0]);
    own_cap.max_per_contact = Some(Rate::parse("1/7d").unwrap());
    assert_eq!(uniform_entry(&own_cap, &rules(), now), None);
    assert_eq!(uniform_entry(&campaign(&[]), &rules(), now), None);
}
