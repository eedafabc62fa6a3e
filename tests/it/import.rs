//! CSV import: good rows land, bad rows are named by line, exit 1 if any
//! row was rejected; re-import upserts; events move activity forward.

use crate::helpers::{NOW, TestApp, days_from_now};

fn plan_json(app: &TestApp) -> serde_json::Value {
    let out = app.tend(&["plan", "--json", "--now", NOW]).ok();
    serde_json::from_str(&out.stdout).unwrap()
}

fn entering(plan: &serde_json::Value, campaign: &str) -> u64 {
    plan["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["campaign"] == campaign)
        .map(|c| c["entering"].as_u64().unwrap())
        .unwrap()
}

#[test]
fn good_rows_import_and_bad_rows_are_reported_by_line() {
    let app = TestApp::without_smtp();
    app.write(
        "contacts.csv",
        "email,name,created_at,last_activity_at,timezone,tags,orders\n\
         ana@example.com,Ana,2026-03-01,,Europe/Berlin,customer,2\n\
         not-an-email,Bob,2026-03-01,,,,\n\
         cy@example.com,Cy,yesterday,,,,\n\
         dee@example.com,Dee,2026-03-01,,Mars/Olympus,,\n\
         Eve@Example.com,Eve,2026-03-02,,,vip,\n",
    );
    let out = app.tend(&["contacts", "import", "contacts.csv"]);
    assert_eq!(out.code, 1, "a rejected row makes the exit status 1");
    assert!(
        out.stdout
            .contains("imported 2 (new 2, updated 0), rejected 3"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("contacts.csv:3: rejected: invalid email address `not-an-email`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("contacts.csv:4: rejected: created_at: invalid date `yesterday`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("contacts.csv:5: rejected: unknown time zone `Mars/Olympus`"),
        "{}",
        out.stderr
    );

    // The good rows are really there: they can be previewed, with normalized email.
    app.tend(&[
        "preview",
        "welcome",
        "--contact",
        "EVE@example.com",
        "--now",
        NOW,
    ])
    .ok();
    let missing = app.tend(&[
        "preview",
        "welcome",
        "--contact",
        "cy@example.com",
        "--now",
        NOW,
    ]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("no contact with email cy@example.com")
    );
}

#[test]
fn reimport_updates_instead_of_duplicating() {
    let app = TestApp::without_smtp();
    let csv =
        "email,name,created_at\nana@example.com,Ana,2026-03-01\nbo@example.com,Bo,2026-03-01\n";
    app.import_contacts(csv);
    app.write(
        "again.csv",
        "email,name\nANA@example.com,Ana Maria\ncy@example.com,Cy\n",
    );
    let out = app
        .tend(&["contacts", "import", "again.csv", "--json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (v["new"].as_u64(), v["updated"].as_u64()),
        (Some(1), Some(1))
    );
    let preview = app
        .tend(&[
            "preview",
            "welcome",
            "--contact",
            "ana@example.com",
            "--now",
            NOW,
        ])
        .ok();
    assert!(
        preview
            .stdout
            .lines()
            .any(|l| l.starts_with("Subject: ") && l.contains("Ana")),
        "{}",
        preview.stdout
    );
    assert!(
        preview.stdout.contains("Ana Maria"),
        "name was updated:\n{}",
        preview.stdout
    );
}

#[test]
fn an_address_twice_in_one_file_is_one_contact_updated_in_file_order() {
    // More rows than one set the import looks up and inserts at a time,
    // with repeats next to each other and far apart (after their first
    // row's set was written).
    let app = TestApp::without_smtp();
    let mut csv = String::from("email,name\n");
    for i in 0..1200 {
        csv += &format!("c{i}@example.com,First{i}\n");
        if i == 4 {
            csv += "C4@example.com,Second4\n";
        }
    }
    csv += "c3@example.com,Last3\nc1199@example.com,Last1199\n";
    app.write("twice.csv", &csv);
    let out = app
        .tend(&["contacts", "import", "twice.csv", "--json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (v["new"].as_u64(), v["updated"].as_u64()),
        (Some(1200), Some(3)),
        "{}",
        out.stdout
    );
    for (email, name) in [
        ("c3@example.com", "Last3"),
        ("c4@example.com", "Second4"),
        ("c1199@example.com", "Last1199"),
        ("c700@example.com", "First700"),
    ] {
        let export = app.tend(&["contacts", "export", email]).ok();
        assert!(
            export.stdout.contains(&format!("\"{name}\"")),
            "{email} is named {name}:\n{}",
            export.stdout
        );
    }
}

#[test]
fn an_activity_event_wakes_a_sleeping_contact() {
    let app = TestApp::without_smtp();
    let csv = format!(
        "email,name,created_at,last_activity_at\nsleepy@example.com,Sam,{},{}\n",
        days_from_now(-400),
        days_from_now(-120)
    );
    app.import_contacts(&csv);
    assert_eq!(entering(&plan_json(&app), "win-back"), 1);

    app.write(
        "events.csv",
        &format!(
            "email,kind,at,detail\nsleepy@example.com,purchase,{},order 42\nghost@example.com,activity,{},\nsleepy@example.com,activity,not-a-date,\n",
            days_from_now(-2),
            days_from_now(-1)
        ),
    );
    let out = app.tend(&["events", "import", "events.csv"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("stored 1 event(s)"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("events.csv:3: rejected: no contact with email ghost@example.com"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("events.csv:4: rejected: invalid date"),
        "{}",
        out.stderr
    );
    assert_eq!(
        entering(&plan_json(&app), "win-back"),
        0,
        "a recent purchase makes the contact active"
    );

    // Importing the same events again stores nothing twice.
    let again = app.tend(&["events", "import", "events.csv"]);
    assert!(
        again.stdout.contains("stored 0 event(s), 1 already known"),
        "{}",
        again.stdout
    );
}

#[test]
fn unsubscribe_and_complaint_events_suppress_but_soft_bounces_do_not() {
    let app = TestApp::without_smtp();
    app.import_contacts("email,name\na@example.com,A\nb@example.com,B\nc@example.com,C\n");
    app.write(
        "events.csv",
        "email,kind,at,detail\na@example.com,unsubscribe,2026-03-01,\nb@example.com,complaint,2026-03-01,fbl\nc@example.com,bounce,2026-03-01,soft: mailbox full\n",
    );
    app.tend(&["events", "import", "events.csv"]).ok();
    let list = app.tend(&["suppress", "list"]).ok().stdout;
    assert!(
        list.contains("a@example.com") && list.contains("unsubscribe"),
        "{list}"
    );
    assert!(
        list.contains("b@example.com") && list.contains("complaint"),
        "{list}"
    );
    assert!(!list.contains("c@example.com"), "{list}");
    assert!(list.contains("2 suppression(s)"), "{list}");
}
