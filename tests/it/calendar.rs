//! Rules judged at the moment a message leaves, over a simulated five and a
//! half weeks of hourly ticks (real binary, real SMTP server): contacts in
//! sixteen zones (both daylight-saving transitions, 30- and 45-minute
//! offsets, UTC+13/+14 and the other side of the date line), a campaign in
//! each contact's office hours and one pinned to New York, retries and a
//! paused domain catching up. No message ever leaves outside its window or
//! inside the recipient's quiet hours, a step set `at = "09:00"` leaves in
//! the 09:00 hour local even across a clock change, and every step arrives
//! exactly once.

use crate::helpers::TestApp;
use crate::smtp::Received;
use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

const ZONES: [&str; 16] = [
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Pacific/Honolulu",
    "Pacific/Pago_Pago",
    "Pacific/Marquesas",
    "Pacific/Kiritimati",
    "Pacific/Apia",
    "Pacific/Tongatapu",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Asia/Kathmandu",
    "Asia/Kolkata",
];

/// Contacts whose first messages are deferred (a retry, then their domain
/// paused for six hours): they catch up whenever the pause ends.
const FAULTY: [(&str, &str); 4] = [
    ("pause1@pause.test", "Pacific/Apia"),
    ("pause2@pause.test", "America/New_York"),
    ("retry1@r1.test", "Asia/Kathmandu"),
    ("retry2@r2.test", "Pacific/Chatham"),
];

const OFFICE: &str = r#"
description = "Office hours in each contact's own zone"
segment = { stage = "new" }
timezone = "contact"
send_window = { days = "mon-fri", hours = "09:00-17:00" }
[[steps]]
after = "0d"
template = "cal/note"
[[steps]]
after = "1d"
at = "09:00"
template = "cal/note"
[[steps]]
after = "2d"
template = "cal/note"
[[steps]]
after = "1d"
at = "09:00"
template = "cal/note"
[[steps]]
after = "3d"
template = "cal/note"
"#;

const PINNED: &str = r#"
description = "A window read in New York for everyone; quiet hours stay each recipient's own"
segment = { stage = "new" }
timezone = "America/New_York"
send_window = { days = "daily", hours = "08:00-20:00" }
[[steps]]
after = "0d"
template = "cal/note"
[[steps]]
after = "2d"
template = "cal/note"
[[steps]]
after = "2d"
template = "cal/note"
"#;

const NOTE: &str = "+++\nsubject = \"{{ campaign.id }} step {{ step.number }}\"\n+++\nHello {{ contact.first_name }}, a note.\n";

fn start() -> DateTime<Utc> {
    "2026-10-01T00:00:00Z".parse().unwrap()
}

fn header(message: &Received, name: &str) -> String {
    message.header(name).unwrap_or_else(|| panic!("no {name}"))
}

struct Sent {
    to: String,
    campaign: String,
    step: u32,
    at: DateTime<Utc>,
}

fn sent(message: &Received) -> Sent {
    let subject = header(message, "Subject");
    let (campaign, step) = subject.split_once(" step ").unwrap();
    Sent {
        to: message.rcpt_tos[0].clone(),
        campaign: campaign.to_string(),
        step: step.trim().parse().unwrap(),
        at: DateTime::parse_from_rfc2822(&header(message, "Date"))
            .unwrap()
            .with_timezone(&Utc),
    }
}

fn local_minutes(at: DateTime<Utc>, tz: Tz) -> u32 {
    let local = at.with_timezone(&tz);
    local.hour() * 60 + local.minute()
}

#[test]
fn a_month_of_hourly_ticks_never_sends_outside_a_window_or_into_a_recipients_night() {
    let app = TestApp::with_smtp(&[]);
    for entry in std::fs::read_dir(app.path("campaigns")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    app.write("campaigns/office.toml", OFFICE);
    app.write("campaigns/pinned.toml", PINNED);
    app.write("templates/cal/note.tera", NOTE);
    let mut config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    // Appended to [sending]: quiet nights, and a deferring domain stays
    // paused for six hours (its catch-up may fall into anybody's night).
    config += "quiet_hours = \"21:00-08:00\"\nbackoff_after = 2\nbackoff_pause = \"6h\"\nbackoff_max = \"6h\"\n";
    app.write("config/tend.toml", &config);
    app.smtp().set_rules(json!({"rcpt": [
        {"match": "*@pause.test", "reply": "450 4.7.1 Service busy, please try later", "times": 3},
        {"match": "retry*", "reply": "451 4.3.0 Temporary local problem", "times": 2}
    ]}));

    let mut zone_of: HashMap<String, Tz> = HashMap::new();
    let mut faulty_contacts = Vec::new();
    let days = 41;
    for hour in 0..days * 24 {
        let now = start() + Duration::hours(hour);
        // A new batch of contacts every week, so sends cross both the
        // southern spring-forward (Oct 4) and the northern fall-back (Oct 25, Nov 1).
        if hour % (7 * 24) == 0 && hour <= 28 * 24 {
            let batch = hour / (7 * 24);
            let mut csv = String::from("email,name,created_at,timezone\n");
            for (i, zone) in ZONES.iter().enumerate() {
                let email = format!("z{i}b{batch}@example.com");
                csv += &format!("{email},Pat,{},{zone}\n", now.to_rfc3339());
                zone_of.insert(email, zone.parse().unwrap());
            }
            if batch % 2 == 0 {
                for (email, zone) in FAULTY {
                    let email = email.replace('@', &format!("b{batch}@"));
                    csv += &format!("{email},Sam,{},{zone}\n", now.to_rfc3339());
                    zone_of.insert(email.clone(), zone.parse().unwrap());
                    faulty_contacts.push(email);
                }
            }
            app.import_contacts(&csv);
        }
        app.run_once(&now.to_rfc3339());
    }

    let received: Vec<Sent> = app.smtp().received().iter().map(sent).collect();
    let new_york: Tz = "America/New_York".parse().unwrap();
    let mut steps: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    for s in &received {
        let zone = zone_of[&s.to];
        let quiet = local_minutes(s.at, zone);
        assert!(
            (8 * 60..21 * 60).contains(&quiet),
            "{} ({zone}) got {} step {} at {} local: inside their quiet hours",
            s.to,
            s.campaign,
            s.step,
            s.at.with_timezone(&zone)
        );
        match s.campaign.as_str() {
            "office" => {
                let local = s.at.with_timezone(&zone);
                assert!(
                    !matches!(local.weekday(), Weekday::Sat | Weekday::Sun)
                        && (9..17).contains(&local.hour()),
                    "{} ({zone}) got office step {} at {local}: outside mon-fri 09:00-17:00",
                    s.to,
                    s.step
                );
                if matches!(s.step, 2 | 4) && !faulty_contacts.contains(&s.to) {
                    assert_eq!(
                        local.hour(),
                        9,
                        "{} ({zone}): step {} is set at 09:00 and left at {local}",
                        s.to,
                        s.step
                    );
                }
            }
            "pinned" => {
                let ny = local_minutes(s.at, new_york);
                assert!(
                    (8 * 60..20 * 60).contains(&ny),
                    "{} got pinned step {} at {} New York time: outside 08:00-20:00",
                    s.to,
                    s.step,
                    s.at.with_timezone(&new_york)
                );
            }
            other => panic!("unexpected campaign {other}"),
        }
        steps
            .entry((s.to.clone(), s.campaign.clone()))
            .or_default()
            .push(s.step);
    }
    // Every step arrived, exactly once, in order, for every contact.
    let missing: Vec<String> = zone_of
        .keys()
        .flat_map(|to| ["office", "pinned"].map(|c| (to.clone(), c.to_string())))
        .filter(|key| !steps.contains_key(key))
        .map(|(to, c)| format!("{to} in {c}"))
        .collect();
    assert!(
        missing.is_empty(),
        "every contact got both campaigns; missing: {missing:?}\n{}",
        app.tend(&["outbox", "--state", "failed", "--json"]).stdout
    );
    for ((to, campaign), got) in &steps {
        let expected: Vec<u32> = match campaign.as_str() {
            "office" => (1..=5).collect(),
            _ => (1..=3).collect(),
        };
        assert_eq!(got, &expected, "{to} in {campaign}");
    }
    let refusals = app.smtp().refusals().len();
    assert!(
        refusals >= 8,
        "the faults really happened: {refusals} refusals"
    );
    let status = app
        .tend(&[
            "status",
            "--json",
            "--now",
            &(start() + Duration::days(days)).to_rfc3339(),
        ])
        .ok()
        .stdout;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert!(status["held"].as_array().unwrap().is_empty(), "{status}");
}
