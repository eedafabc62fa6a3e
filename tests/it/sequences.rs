//! Drip sequences against the calendar, with the real binary and the real
//! SMTP server: a simulated three weeks in several time zones, caps across
//! campaigns, exits between steps, re-entry after a cooldown, entry
//! schedules, and `check` on the new keys.

use crate::helpers::{NOW, TestApp, days_from_now, hours_from_now};
use crate::smtp::Received;
use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// Replaces the shipped campaigns with `campaigns` (id, file text).
fn with_campaigns(app: &TestApp, campaigns: &[(&str, &str)]) {
    for entry in std::fs::read_dir(app.path("campaigns")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for (id, text) in campaigns {
        app.write(&format!("campaigns/{id}.toml"), text);
    }
}

fn sent_at(message: &Received) -> DateTime<Utc> {
    DateTime::parse_from_rfc2822(&message.header("Date").unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn per_recipient(received: &[Received]) -> BTreeMap<String, Vec<DateTime<Utc>>> {
    let mut map: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
    for r in received {
        map.entry(r.rcpt_tos[0].clone())
            .or_default()
            .push(sent_at(r));
    }
    map
}

const NURTURE: &str = r#"
description = "Three messages, office hours in each contact's own zone"
segment = { stage = "new" }
timezone = "contact"
send_window = { days = "mon-fri", hours = "09:00-17:00" }
exit_on = ["activity"]

[[steps]]
after = "0d"
template = "welcome/hello"

[[steps]]
after = "2d"
at = "10:00"
template = "welcome/getting-started"

[[steps]]
after = "7d"
jitter = "2h"
template = "win-back/checking-in"
"#;

#[test]
fn a_simulated_month_sends_every_step_inside_each_contacts_window_under_the_cap_and_none_after_exit()
 {
    let app = TestApp::with_smtp(&[]);
    with_campaigns(&app, &[("nurture", NURTURE)]);
    let zones = [
        ("berlin@example.com", "Europe/Berlin"),
        ("newyork@example.com", "America/New_York"),
        ("tonga@example.com", "Pacific/Tongatapu"),
        ("honolulu@example.com", "Pacific/Honolulu"),
        ("leaver@example.com", "Europe/Paris"),
    ];
    let mut csv = String::from("email,name,created_at,timezone\n");
    for (email, zone) in zones {
        csv += &format!("{email},Pat,{},{zone}\n", days_from_now(-1));
    }
    app.import_contacts(&csv);
    let mut config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    config += "quiet_hours = \"21:00-08:00\"\nmax_per_contact = \"2/7d\"\n"; // appended to [sending]
    app.write("config/tend.toml", &config);

    // Every two hours for thirty days, starting Tuesday 2026-03-10 10:00Z (US
    // daylight saving began two days earlier, Europe's begins on the 29th).
    // On day 5 the leaver buys something: their sequence must stop.
    let exit_at = hours_from_now(5 * 24);
    for hour in (0..30 * 24).step_by(2) {
        if hour == 5 * 24 {
            app.write(
                "events.csv",
                &format!("email,kind,at,detail\nleaver@example.com,purchase,{exit_at},\n"),
            );
            app.tend(&["events", "import", "events.csv"]).ok();
        }
        app.run_once(&hours_from_now(hour));
    }
    let by_contact = per_recipient(&app.smtp().received());
    assert_eq!(by_contact.len(), 5, "{by_contact:?}");
    let exit_at: DateTime<Utc> = exit_at.parse().unwrap();
    for (email, zone) in zones {
        let tz: Tz = zone.parse().unwrap();
        let times = &by_contact[email];
        for t in times {
            let local = t.with_timezone(&tz);
            assert!(
                !matches!(local.weekday(), Weekday::Sat | Weekday::Sun)
                    && (9..17).contains(&local.hour()),
                "{email}: sent {local} outside mon-fri 09:00-17:00"
            );
            let in_week = times
                .iter()
                .filter(|u| **u > *t - chrono::Duration::days(7) && **u <= *t)
                .count();
            assert!(
                in_week <= 2,
                "{email}: {in_week} messages in the 7 days before {t}"
            );
        }
        if email == "leaver@example.com" {
            assert!(
                times.iter().all(|t| *t < exit_at),
                "{email}: nothing after the purchase: {times:?}"
            );
            assert!(times.len() < 3, "{email}: {times:?}");
            continue;
        }
        assert_eq!(
            times.len(),
            3,
            "{email} gets each step exactly once: {times:?}"
        );
        // Step 2 no earlier than two days after step 1, at or after 10:00 local.
        assert!(
            times[1] - times[0] >= chrono::Duration::days(2),
            "{email}: {times:?}"
        );
        assert!(
            times[1].with_timezone(&tz).hour() >= 10,
            "{email}: {times:?}"
        );
        assert!(
            times[2] - times[1] >= chrono::Duration::days(7),
            "{email}: {times:?}"
        );
    }
}

#[test]
fn an_exit_when_filter_ends_the_passage_when_it_starts_to_match() {
    let app = TestApp::with_smtp(&[]);
    let campaign = r#"
segment = { stage = "new" }
exit_when = "tags has 'stop'"
[[steps]]
after = "0d"
template = "welcome/hello"
[[steps]]
after = "3d"
template = "welcome/getting-started"
"#;
    with_campaigns(&app, &[("welcome", campaign)]);
    app.import_contacts("email,name,created_at,tags\nana@example.com,Ana,2026-03-09,trial\nbo@example.com,Bo,2026-03-09,trial\n");
    app.run_once(NOW);
    app.import_contacts("email,tags\nana@example.com,trial;stop\n");
    let plan = app.tend(&["plan", "--now", &days_from_now(1)]).ok().stdout;
    assert!(plan.contains("1 leaving by exit_when"), "{plan}");
    app.run_once(&days_from_now(4));
    let got = per_recipient(&app.smtp().received());
    assert_eq!(got["ana@example.com"].len(), 1);
    assert_eq!(got["bo@example.com"].len(), 2);

    app.write(
        "campaigns/welcome.toml",
        &campaign.replace("tags has 'stop'", "tags hass 'stop'"),
    );
    let check = app.tend(&["check"]);
    assert_eq!(check.code, 1);
    assert!(
        check.stdout.contains("campaigns/welcome.toml:3:"),
        "{}",
        check.stdout
    );
}

#[test]
fn a_frequency_cap_across_two_campaigns_defers_and_never_drops() {
    let app = TestApp::with_smtp(&[]);
    let second = r#"
segment = { stage = "new" }
[[steps]]
after = "0d"
template = "welcome/getting-started"
"#;
    with_campaigns(
        &app,
        &[
            (
                "welcome",
                "segment = { stage = \"new\" }\n[[steps]]\nafter = \"0d\"\ntemplate = \"welcome/hello\"\n",
            ),
            ("tips", second),
        ],
    );
    let mut config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    config += "max_per_contact = \"1/3d\"\n";
    app.write("config/tend.toml", &config);
    app.import_contacts("email,name,created_at\nana@example.com,Ana,2026-03-09\n");

    app.run_once(NOW);
    assert_eq!(app.smtp().received().len(), 1, "one message under the cap");
    let plan = app.tend(&["plan", "--now", &hours_from_now(1)]).ok().stdout;
    assert!(
        plan.contains("1 held by the frequency cap (next at 2026-03-13T10:00:00+00:00)"),
        "{plan}"
    );

    app.run_once(&days_from_now(2));
    assert_eq!(app.smtp().received().len(), 1, "still capped");
    app.run_once(&hours_from_now(72));
    let received = app.smtp().received();
    assert_eq!(received.len(), 2, "deferred, not dropped");
    assert!(sent_at(&received[1]) - sent_at(&received[0]) >= chrono::Duration::days(3));
}

#[test]
fn an_activity_between_steps_ends_the_passage() {
    let app = TestApp::with_smtp(&[]);
    let campaign = r#"
segment = { stage = "new" }
exit_on = ["activity", "unsubscribe"]
[[steps]]
after = "0d"
template = "welcome/hello"
[[steps]]
after = "3d"
template = "welcome/getting-started"
"#;
    with_campaigns(&app, &[("welcome", campaign)]);
    app.import_contacts(
        "email,name,created_at\nana@example.com,Ana,2026-03-09\nbo@example.com,Bo,2026-03-09\n",
    );
    app.run_once(NOW);
    app.write(
        "events.csv",
        &format!(
            "email,kind,at,detail\nana@example.com,purchase,{},order 7\n",
            days_from_now(1)
        ),
    );
    app.tend(&["events", "import", "events.csv"]).ok();
    let plan = app.tend(&["plan", "--now", &days_from_now(2)]).ok().stdout;
    assert!(plan.contains("1 leaving on an exit event"), "{plan}");
    app.run_once(&days_from_now(4));
    let got = per_recipient(&app.smtp().received());
    assert_eq!(
        got["ana@example.com"].len(),
        1,
        "no step after the purchase"
    );
    assert_eq!(got["bo@example.com"].len(), 2);
}

#[test]
fn a_contact_reenters_only_after_the_cooldown() {
    let app = TestApp::with_smtp(&[]);
    let campaign = "segment = { stage = \"new\" }\nreentry = \"after:10d\"\n[[steps]]\nafter = \"0d\"\ntemplate = \"welcome/hello\"\n";
    with_campaigns(&app, &[("welcome", campaign)]);
    app.import_contacts("email,name,created_at\nana@example.com,Ana,2026-03-09\n");
    app.run_once(NOW);
    app.run_once(&days_from_now(1)); // the passage completes
    app.run_once(&days_from_now(5));
    assert_eq!(app.smtp().received().len(), 1, "not during the cooldown");
    app.run_once(&days_from_now(12));
    assert_eq!(app.smtp().received().len(), 2, "again after it");
}

#[test]
fn an_entry_schedule_opens_at_its_local_time_only() {
    let app = TestApp::with_smtp(&[]);
    let campaign = "segment = { stage = \"new\" }\nschedule = \"0 10 * * TUE\"\ntimezone = \"Europe/Berlin\"\n[[steps]]\nafter = \"0d\"\ntemplate = \"welcome/hello\"\n";
    with_campaigns(&app, &[("welcome", campaign)]);
    app.import_contacts("email,name,created_at\nana@example.com,Ana,2026-03-12\n");
    // Thursday 2026-03-12: closed until Tuesday 10:00 Berlin (09:00Z).
    let thursday = days_from_now(2);
    let plan = app.tend(&["plan", "--now", &thursday]).ok().stdout;
    assert!(
        plan.contains("entry closed: schedule `0 10 * * TUE` next opens 2026-03-17T09:00:00+00:00"),
        "{plan}"
    );
    app.run_once(&thursday);
    app.run_once(&days_from_now(6)); // Monday
    assert!(app.smtp().received().is_empty());
    app.run_once("2026-03-17T09:30:00Z");
    assert_eq!(app.smtp().received().len(), 1);
}

#[test]
fn check_reports_bad_calendar_rules_with_positions() {
    let app = TestApp::without_smtp();
    app.write(
        "campaigns/broken.toml",
        r#"segment = { stage = "new" }
schedule = "0 25 * * TUE"
timezone = "Mars/Olympus"
send_window = { days = "mon-funday", hours = "9-17" }
reentry = "sometimes"
[[steps]]
after = "0d"
at = "25:00"
template = "welcome/hello"
"#,
    );
    let out = app.tend(&["check"]);
    assert_eq!(out.code, 1);
    for expected in [
        "campaigns/broken.toml:2:13: error: `schedule`",
        "campaigns/broken.toml:3:13: error: `timezone`: unknown time zone `Mars/Olympus`",
        "campaigns/broken.toml:4:25: error: `days`: unknown day `funday`",
        "campaigns/broken.toml:4:47: error: `hours`: invalid time `9`",
        "campaigns/broken.toml:5:12: error: `reentry`: invalid re-entry rule `sometimes`",
        "campaigns/broken.toml:8:7: error: `at`: invalid time `25:00`",
    ] {
        assert!(
            out.stdout.contains(expected),
            "missing `{expected}` in:\n{}",
            out.stdout
        );
    }
}
