//! Journeys that start on what a contact did, or on their anniversary:
//! the shipped examples (examples/campaigns/) against the real binary and
//! a real SMTP server, with time injected.

use crate::helpers::{NOW, TestApp, days_from_now, hours_from_now, repo};
use std::collections::BTreeMap;

/// An app with only the given example campaigns in `campaigns/`.
fn with_examples(names: &[&str]) -> TestApp {
    let app = TestApp::with_smtp(&[]);
    for entry in std::fs::read_dir(app.path("campaigns")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for name in ["thank-you", "check-in", "anniversary"] {
        let text =
            std::fs::read_to_string(repo().join(format!("examples/templates/moments/{name}.tera")))
                .unwrap();
        app.write(&format!("templates/moments/{name}.tera"), &text);
    }
    for name in names {
        let text = std::fs::read_to_string(repo().join(format!("examples/campaigns/{name}.toml")))
            .unwrap();
        app.write(&format!("campaigns/{name}.toml"), &text);
    }
    app
}

fn events(app: &TestApp, rows: &[(&str, &str, String)]) {
    let mut csv = String::from("email,kind,at,detail\n");
    for (email, kind, at) in rows {
        csv += &format!("{email},{kind},{at},\n");
    }
    app.write("events.csv", &csv);
    app.tend(&["events", "import", "events.csv"]).ok();
}

fn per_recipient(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in app.smtp().received() {
        map.entry(r.rcpt_tos[0].clone())
            .or_default()
            .push(r.header("Date").unwrap());
    }
    map
}

#[test]
fn a_purchase_starts_a_thank_you_the_next_day_once_a_month_at_most() {
    let app = with_examples(&["thank-you"]);
    app.import_contacts(
        "email,name,created_at,timezone\nbuyer@example.com,Bea,2025-01-01,Europe/Berlin\nbrowser@example.com,Bo,2025-01-01,Europe/Berlin\n",
    );
    events(
        &app,
        &[("buyer@example.com", "purchase", hours_from_now(-2))],
    );
    let plan = app.tend(&["plan", "--now", NOW]).ok().stdout;
    assert!(
        plan.contains("campaign thank-you: 0 entering"),
        "not before the delay:\n{plan}"
    );
    app.run_once(NOW);
    assert!(app.smtp().received().is_empty(), "the delay is one day");
    let plan = app.tend(&["plan", "--now", &days_from_now(1)]).ok().stdout;
    assert!(plan.contains("campaign thank-you: 1 entering"), "{plan}");
    app.run_once(&days_from_now(1));
    let got = per_recipient(&app);
    assert_eq!(got.len(), 1, "only the buyer: {got:?}");
    assert_eq!(got["buyer@example.com"].len(), 1);

    // Another purchase within the month: no second thank-you (re-entry after 30 days).
    events(
        &app,
        &[("buyer@example.com", "purchase", days_from_now(10))],
    );
    app.run_once(&days_from_now(10));
    app.run_once(&days_from_now(11));
    assert_eq!(per_recipient(&app)["buyer@example.com"].len(), 1);
    // A purchase six weeks later: thanked again.
    events(
        &app,
        &[("buyer@example.com", "purchase", days_from_now(45))],
    );
    app.run_once(&days_from_now(45));
    app.run_once(&days_from_now(46));
    assert_eq!(per_recipient(&app)["buyer@example.com"].len(), 2);
    assert!(!per_recipient(&app).contains_key("browser@example.com"));
}

#[test]
fn a_check_in_comes_six_weeks_after_the_last_purchase_only() {
    let app = with_examples(&["between-purchases"]);
    app.import_contacts(
        "email,name,created_at\nonce@example.com,Ona,2025-01-01\ntwice@example.com,Tom,2025-01-01\n",
    );
    events(
        &app,
        &[
            ("once@example.com", "purchase", days_from_now(0)),
            ("twice@example.com", "purchase", days_from_now(0)),
            ("twice@example.com", "purchase", days_from_now(20)),
        ],
    );
    // Daily ticks for nine weeks, at 11:00 UTC (inside the 10-16 window).
    for day in 0..63 {
        app.run_once(&(days_from_now(day).replace("T10:00:00", "T11:00:00")));
    }
    let got = per_recipient(&app);
    assert_eq!(got["once@example.com"].len(), 1, "{got:?}");
    assert_eq!(
        got["twice@example.com"].len(),
        1,
        "the first purchase's check-in is skipped (they bought again), the second's comes: {got:?}"
    );
    let once: chrono::DateTime<chrono::Utc> =
        chrono::DateTime::parse_from_rfc2822(&got["once@example.com"][0])
            .unwrap()
            .into();
    let twice: chrono::DateTime<chrono::Utc> =
        chrono::DateTime::parse_from_rfc2822(&got["twice@example.com"][0])
            .unwrap()
            .into();
    assert!((twice - once).num_days() >= 19, "{once} vs {twice}");
}

#[test]
fn an_anniversary_thanks_a_client_once_a_year_on_the_day_in_their_zone() {
    let app = with_examples(&["anniversary"]);
    app.import_contacts(
        "email,name,created_at,timezone,tags\n\
         year@example.com,Yara,2025-03-11T09:00:00Z,Pacific/Auckland,customer\n\
         later@example.com,Leo,2025-06-01,Europe/Berlin,customer\n\
         lead@example.com,Lia,2025-03-11,Europe/Berlin,lead\n",
    );
    // Hourly around the anniversary (2026-03-11 in Auckland starts 2026-03-10T11:00Z).
    for hour in 0..30 {
        app.run_once(&hours_from_now(hour));
    }
    let got = per_recipient(&app);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["year@example.com"],
        "{got:?}"
    );
    let sent: chrono::DateTime<chrono::Utc> =
        chrono::DateTime::parse_from_rfc2822(&got["year@example.com"][0])
            .unwrap()
            .into();
    let local = sent.with_timezone(&"Pacific/Auckland".parse::<chrono_tz::Tz>().unwrap());
    assert_eq!(
        local.format("%m-%d %H").to_string(),
        "03-11 10",
        "at ten, on the day: {local}"
    );
    // A year later, again; not in between.
    for day in [100, 200, 300] {
        app.run_once(&days_from_now(day));
    }
    assert_eq!(per_recipient(&app)["year@example.com"].len(), 1);
    for hour in (364 * 24)..(366 * 24) {
        if hour % 3 == 0 {
            app.run_once(&hours_from_now(hour));
        }
    }
    assert_eq!(per_recipient(&app)["year@example.com"].len(), 2);
}

#[test]
fn check_accepts_the_examples_and_explains_a_wrong_entry() {
    let app = with_examples(&["thank-you", "between-purchases", "anniversary"]);
    let ok = app.tend(&["check"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    app.write(
        "campaigns/thank-you.toml",
        "entry = { on = \"unsubscribe\" }\nschedule = \"0 10 * * *\"\n[[steps]]\nafter = \"0d\"\ntemplate = \"moments/thank-you\"\n",
    );
    let bad = app.tend(&["check"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stdout.contains(
            "campaigns/thank-you.toml:1:17: error: `unsubscribe` cannot start a campaign"
        ),
        "{}",
        bad.stdout
    );
    assert!(
        bad.stdout.contains("campaigns/thank-you.toml:2:")
            && bad.stdout.contains("`schedule` cannot go with `entry`"),
        "{}",
        bad.stdout
    );
}
