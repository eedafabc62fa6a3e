//! Variation end to end: seeded variants that never repeat a contact's
//! previous phrasing, preview equal to send, stability across runs, the
//! helpers, the check lints, and the variation metric over a real run.

use crate::helpers::{NOW, TestApp, days_from_now};
use crate::smtp::Received;
use std::collections::BTreeMap;

const FIRST: [&str; 8] = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Farah", "George", ""];

/// `count` sleeping contacts (last seen 120 days ago); every eighth has no name.
fn sleeping(count: usize) -> String {
    let mut csv = String::from("email,name,created_at,last_activity_at,timezone,plan\n");
    let zones = ["Europe/Madrid", "Asia/Tokyo", "America/Los_Angeles", ""];
    for i in 0..count {
        let first = FIRST[i % FIRST.len()];
        let name = if first.is_empty() {
            String::new()
        } else {
            format!("{first} Number{i}")
        };
        let plan = if i % 3 == 0 { "pro" } else { "" };
        csv.push_str(&format!(
            "c{i}@example.com,{name},{},{},{},{plan}\n",
            days_from_now(-400),
            days_from_now(-120),
            zones[i % zones.len()],
        ));
    }
    csv
}

fn by_recipient(received: &[Received]) -> BTreeMap<String, Vec<Received>> {
    let mut map: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    for r in received {
        map.entry(r.rcpt_tos[0].clone())
            .or_default()
            .push(r.clone());
    }
    map
}

fn without_date(message: &str) -> String {
    message
        .replace("\r\n", "\n")
        .lines()
        .filter(|l| !l.starts_with("Date: "))
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

#[test]
fn win_back_to_five_hundred_contacts_never_repeats_a_varied_slot_in_a_row() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&sleeping(500));
    app.run_once(NOW);
    app.run_once(&days_from_now(6));
    let received = app.smtp().received();
    assert_eq!(received.len(), 1000, "two win-back steps to each contact");
    for (to, messages) in by_recipient(&received) {
        assert_eq!(messages.len(), 2, "{to}");
        assert_ne!(
            messages[0].header("Subject"),
            messages[1].header("Subject"),
            "{to} got the same subject twice in a row"
        );
    }
    let out = app
        .tend(&["variation", "win-back", "--json", "--now", NOW])
        .ok();
    let metric: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    println!("{}", app.tend(&["variation", "win-back"]).ok().stdout);
    assert_eq!(metric["sends"], 1000);
    assert_eq!(metric["contacts"], 500);
    assert_eq!(metric["consecutive_repeats"], 0, "{metric}");
    assert_eq!(metric["identical_subjects_in_a_row"], 0, "{metric}");
    assert!(
        metric["distinct_openers"].as_u64().unwrap() >= 3,
        "{metric}"
    );
    assert!(
        metric["distinct_subjects"].as_u64().unwrap() > 6,
        "{metric}"
    );
    let similarity = metric["mean_pairwise_similarity"].as_f64().unwrap();
    assert!(similarity < 0.3, "{metric}");
    // Every option of every slot is used, roughly evenly.
    for slot in metric["slots"].as_array().unwrap() {
        for n in slot["counts"].as_array().unwrap() {
            assert!(n.as_u64().unwrap() > 50, "{slot}");
        }
    }
}

#[test]
fn preview_equals_every_sent_step_byte_for_byte_apart_from_date() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&sleeping(12));
    app.run_once(NOW);
    let later = days_from_now(6);
    app.run_once(&later);
    for (to, messages) in by_recipient(&app.smtp().received()) {
        for (step, message) in messages.iter().enumerate() {
            let step = (step + 1).to_string();
            // The instant of the send: since() and greeting() read the clock.
            let at = if step == "1" { NOW } else { later.as_str() };
            let preview = app
                .tend(&[
                    "preview",
                    "win-back",
                    "--contact",
                    &to,
                    "--step",
                    &step,
                    "--now",
                    at,
                ])
                .ok();
            assert_eq!(
                without_date(&preview.stdout),
                without_date(&message.data),
                "{to} step {step}"
            );
        }
    }
}

#[test]
fn all_steps_preview_shows_the_sequence_a_contact_will_get_and_rotates() {
    let app = TestApp::without_smtp();
    app.import_contacts(&sleeping(3));
    let out = app
        .tend(&[
            "preview",
            "win-back",
            "--contact",
            "c1@example.com",
            "--all-steps",
            "--now",
            NOW,
        ])
        .ok()
        .stdout;
    assert!(
        out.contains("==> step 1 of 2: win-back/checking-in <=="),
        "{out}"
    );
    assert!(
        out.contains("==> step 2 of 2: win-back/something-new <=="),
        "{out}"
    );
    let openers: Vec<&str> = out.lines().filter(|l| l.ends_with(" Ben,")).collect();
    assert_eq!(openers.len(), 2, "{out}");
    assert_ne!(
        openers[0], openers[1],
        "the opener rotates across the sequence"
    );
}

#[test]
fn choices_are_stable_across_runs_and_databases() {
    let render = || {
        let app = TestApp::with_smtp(&[]);
        app.import_contacts(&sleeping(30));
        app.run_once(NOW);
        app.run_once(&days_from_now(6));
        let mut all: Vec<(String, String)> = app
            .smtp()
            .received()
            .iter()
            .map(|r| (r.rcpt_tos[0].clone(), without_date(&r.data)))
            .map(|(to, data)| {
                // Message-IDs carry send ids, which depend on claim order.
                let body: Vec<&str> = data
                    .lines()
                    .filter(|l| !l.starts_with("Message-ID"))
                    .collect();
                (to, body.join("\n"))
            })
            .collect();
        all.sort();
        all
    };
    assert_eq!(render(), render());
}

#[test]
fn sample_preview_shows_several_contacts_versions_side_by_side() {
    let app = TestApp::without_smtp();
    app.import_contacts(&sleeping(6));
    let out = app
        .tend(&[
            "preview", "win-back", "--step", "1", "--sample", "6", "--now", NOW,
        ])
        .ok()
        .stdout;
    assert!(out.contains("6 contact(s)"), "{out}");
    for i in 0..6 {
        assert!(out.contains(&format!("c{i}@example.com")), "{out}");
    }
    assert!(out.contains("opener=") && out.contains("subject="), "{out}");
    let json = app
        .tend(&[
            "preview", "win-back", "--sample", "6", "--json", "--now", NOW,
        ])
        .ok()
        .stdout;
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    let subjects: std::collections::HashSet<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects.len() > 1,
        "contacts get different subjects: {json}"
    );
}

const HELPERS: &str = r#"+++
subject = "{{ greeting() }}{% if contact.first_name %}, {{ contact.first_name }}{% endif %}"
+++
{{ greeting() | salute }}, it has been {{ since(date=contact.last_activity_at, otherwise="a while") }}.
Plan: {{ attr(name="plan", default="your") }}. {{ contact.attributes.orders | default(value=0) | plural(one="order", many="orders") }}.
Joined {{ contact.created_at | local_date(format="%-d %B %Y %H:%M") }}; tags: {{ contact.tags | list(conj="or") }}.
"#;

fn helpers_app() -> TestApp {
    let app = TestApp::without_smtp();
    app.write("templates/helpers/all.tera", HELPERS);
    app.write(
        "campaigns/helpers.toml",
        "segment = { stage = \"new\" }\n[[steps]]\nafter = \"0d\"\ntemplate = \"helpers/all\"\n",
    );
    app.import_contacts(
        "email,name,created_at,last_activity_at,timezone,tags,plan,orders\n\
         tokyo@example.com,Kenji Sato,2025-12-31T23:30:00Z,2025-11-05,Asia/Tokyo,customer;vip,pro,1\n\
         la@example.com,Lucy Ray,2025-12-31T23:30:00Z,2025-02-01,America/Los_Angeles,customer,basic,3\n\
         bare@example.com,,2026-03-01,,,,,\n",
    );
    app
}

fn preview_body(app: &TestApp, email: &str) -> String {
    let out = app
        .tend(&["preview", "helpers", "--contact", email, "--now", NOW])
        .ok()
        .stdout;
    out.replace("=\r\n", "").replace("=\n", "")
}

#[test]
fn helpers_speak_in_the_contacts_time_zone_and_handle_missing_data() {
    let app = helpers_app();
    // NOW is 10:00 UTC: 19:00 in Tokyo, 03:00 in Los Angeles, 10:00 UTC.
    let tokyo = preview_body(&app, "tokyo@example.com");
    assert!(tokyo.contains("Subject: Good evening, Kenji"), "{tokyo}");
    assert!(
        tokyo.contains("Good evening Kenji, it has been four months."),
        "{tokyo}"
    );
    assert!(tokyo.contains("Plan: pro. 1 order."), "{tokyo}");
    assert!(tokyo.contains("Joined 1 January 2026 08:30"), "{tokyo}");
    assert!(tokyo.contains("tags: customer or vip"), "{tokyo}");

    let la = preview_body(&app, "la@example.com");
    assert!(la.contains("Subject: Good evening, Lucy"), "{la}");
    assert!(la.contains("it has been over a year."), "{la}");
    assert!(la.contains("Plan: basic. 3 orders."), "{la}");
    assert!(la.contains("Joined 31 December 2025 15:30"), "{la}");

    let bare = preview_body(&app, "bare@example.com");
    assert!(bare.contains("Subject: Good morning\r\n"), "{bare}");
    assert!(bare.contains("Good morning, it has been"), "{bare}");
    assert!(bare.contains("it has been a while."), "{bare}");
    assert!(bare.contains("Plan: your. 0 orders."), "{bare}");
    assert!(
        bare.contains("Joined 1 March 2026 00:00; tags: ."),
        "{bare}"
    );
}

#[test]
fn check_warns_when_a_step_breaks_for_a_contact_with_missing_data() {
    let app = TestApp::without_smtp();
    app.write(
        "templates/win-back/something-new.tera",
        "+++\nsubject = \"News\"\n+++\nAs a {{ contact.attributes.plan }} client, you get it all.\n",
    );
    let out = app.tend(&["check"]).ok().stdout;
    assert!(
        out.contains("something-new.tera:1:1: warning: does not render for"),
        "{out}"
    );
    assert!(out.contains("plan"), "{out}");
    let strict = app.tend(&["check", "--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.stdout);
    assert!(
        strict.stdout.contains("error: does not render"),
        "{}",
        strict.stdout
    );
}

#[test]
fn check_flags_a_copy_pasted_step_naming_both_files() {
    let app = TestApp::without_smtp();
    let original =
        std::fs::read_to_string(app.path("templates/win-back/checking-in.tera")).unwrap();
    app.write(
        "templates/win-back/checking-in-again.tera",
        &original.replace(
            "and I wanted to check in",
            "and I wanted to check in once more",
        ),
    );
    let campaign = std::fs::read_to_string(app.path("campaigns/win-back.toml")).unwrap();
    app.write(
        "campaigns/win-back.toml",
        &format!(
            "{campaign}\n[[steps]]\nafter = \"14d\"\ntemplate = \"win-back/checking-in-again\"\n"
        ),
    );
    let out = app.tend(&["check"]).ok().stdout;
    let warning = out
        .lines()
        .find(|l| l.contains("similar"))
        .unwrap_or_else(|| panic!("no similarity warning:\n{out}"));
    assert!(warning.contains("warning:"), "{warning}");
    assert!(
        warning.contains("templates/win-back/checking-in-again.tera"),
        "{warning}"
    );
    assert!(
        warning.contains("templates/win-back/checking-in.tera"),
        "{warning}"
    );
    assert!(warning.contains("% similar"), "{warning}");
    println!("{out}");
    let strict = app.tend(&["check", "--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.stdout);
}

#[test]
fn check_does_not_flag_genuinely_different_steps() {
    let app = TestApp::without_smtp();
    let out = app.tend(&["check", "--strict"]).ok().stdout;
    assert!(out.contains("0 warning(s)"), "{out}");
    // Even a strict threshold leaves the shipped steps alone.
    let out = app
        .tend(&["check", "--strict", "--max-similarity", "0.3"])
        .ok()
        .stdout;
    assert!(!out.contains("similar"), "{out}");
}

#[test]
fn two_campaigns_reaching_a_contact_in_one_run_do_not_repeat_the_opener() {
    let app = TestApp::with_smtp(&[]);
    app.write(
        "templates/extra/note.tera",
        "+++\nsubject = 'A note for {{ contact.first_name }}'\n+++\n\
         {{ pick(slot=\"opener\", options=[\"Hi\", \"Hello\"]) }} {{ contact.first_name }},\n\n\
         We are hosting an open day next month and would love to see you there.\n\nAna\n",
    );
    app.write(
        "campaigns/extra.toml",
        "segment = { stage = \"sleeping\" }\n[[steps]]\nafter = \"0d\"\ntemplate = \"extra/note\"\n",
    );
    app.import_contacts(&sleeping(40));
    app.run_once(NOW);
    let opener = |r: &Received| {
        let body = r.body().replace("=\r\n", "");
        body.lines()
            .find(|l| l.ends_with(',') && !l.trim().is_empty())
            .unwrap_or_default()
            .to_string()
    };
    for (to, messages) in by_recipient(&app.smtp().received()) {
        assert_eq!(messages.len(), 2, "{to}: win-back and extra");
        assert_ne!(opener(&messages[0]), opener(&messages[1]), "{to}");
        for m in &messages {
            let campaign = if m.data.contains("open day") {
                "extra"
            } else {
                "win-back"
            };
            let preview = app
                .tend(&["preview", campaign, "--contact", &to, "--now", NOW])
                .ok();
            assert_eq!(without_date(&preview.stdout), without_date(&m.data), "{to}");
        }
    }
}

#[test]
fn check_compares_campaigns_only_when_their_segments_overlap() {
    let app = TestApp::without_smtp();
    let copy = |campaign: &str, stage: &str| {
        app.write(
            &format!("campaigns/{campaign}.toml"),
            &format!(
                "segment = {{ stage = \"{stage}\" }}\n[[steps]]\nafter = \"0d\"\ntemplate = \"copies/{campaign}\"\n"
            ),
        );
        let original =
            std::fs::read_to_string(app.path("templates/win-back/checking-in.tera")).unwrap();
        app.write(&format!("templates/copies/{campaign}.tera"), &original);
    };
    copy("lost-souls", "lost");
    let out = app.tend(&["check"]).ok().stdout;
    assert!(!out.contains("similar"), "different stages: {out}");
    copy("sleepers", "sleeping");
    let out = app.tend(&["check"]).ok().stdout;
    let warning = out
        .lines()
        .find(|l| l.contains("similar") && l.contains("sleepers"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(warning.contains("their segments overlap"), "{warning}");
    assert!(
        warning.contains("templates/copies/sleepers.tera"),
        "{warning}"
    );
    assert!(
        warning.contains("templates/win-back/checking-in.tera"),
        "{warning}"
    );
}
