//! End to end against a real SMTP server: each due message exactly once,
//! suppression wins at claim time, retries and bounces end in the right state.

use crate::helpers::{NOW, TestApp, days_from_now, hours_from_now};
use crate::smtp::{Received, SmtpServer};
use std::collections::{BTreeMap, HashSet};

fn fixture() -> String {
    format!(
        "email,name,created_at,last_activity_at,timezone,tags\n\
         new1@example.com,Nora New,{},,Europe/Berlin,trial\n\
         new2@example.com,Ned Newman,{},,America/New_York,\n\
         sleep1@example.com,Sara Sleeper,{},{},Asia/Tokyo,customer\n\
         sleep2@example.com,,{},{},,customer\n\
         active@example.com,Al Active,{},{},,customer\n\
         lost@example.com,Lu Lost,{},{},,customer\n",
        days_from_now(-5),
        days_from_now(-1),
        days_from_now(-400),
        days_from_now(-120),
        days_from_now(-300),
        days_from_now(-100),
        days_from_now(-400),
        days_from_now(-10),
        days_from_now(-800),
        days_from_now(-500),
    )
}

fn per_recipient(received: &[Received]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in received {
        for to in &r.rcpt_tos {
            *counts.entry(to.clone()).or_insert(0) += 1;
        }
    }
    counts
}

fn status_json(app: &TestApp) -> serde_json::Value {
    serde_json::from_str(&app.tend(&["status", "--json"]).ok().stdout).unwrap()
}

fn count_in_state(status: &serde_json::Value, state: &str) -> u64 {
    status["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == state)
        .map(|c| c["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn run_once_delivers_each_due_message_exactly_once_across_a_sequence() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&fixture());

    app.run_once(NOW);
    let first = app.smtp().received();
    assert_eq!(
        per_recipient(&first),
        BTreeMap::from([
            ("new1@example.com".to_string(), 1),
            ("new2@example.com".to_string(), 1),
            ("sleep1@example.com".to_string(), 1),
            ("sleep2@example.com".to_string(), 1),
        ]),
        "new contacts get the welcome, sleeping ones the win-back; active and lost get nothing"
    );

    let second = app.run_once(NOW);
    assert!(second.stdout.contains("sent 0,"), "{}", second.stdout);
    assert_eq!(
        app.smtp().received().len(),
        4,
        "a second run at the same instant sends nothing"
    );

    app.run_once(&days_from_now(2));
    assert_eq!(
        app.smtp().received().len(),
        4,
        "welcome step 2 waits three days"
    );
    app.run_once(&days_from_now(3));
    app.run_once(&days_from_now(3));
    assert_eq!(app.smtp().received().len(), 6, "welcome step 2, once each");
    app.run_once(&days_from_now(6));
    app.run_once(&days_from_now(30));
    let all = app.smtp().received();
    assert_eq!(all.len(), 8);
    assert!(
        per_recipient(&all).values().all(|&n| n == 2),
        "{:?}",
        per_recipient(&all)
    );

    let ids: HashSet<String> = all
        .iter()
        .map(|r| r.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 8, "every send has its own Message-ID");
    let status = status_json(&app);
    assert_eq!(count_in_state(&status, "sent"), 8);
}

#[test]
fn messages_carry_the_required_headers_and_personal_content() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&fixture());
    app.run_once(NOW);
    let received = app.smtp().received();
    let to = |addr: &str| {
        received
            .iter()
            .find(|r| r.rcpt_tos == [addr])
            .unwrap()
            .clone()
    };

    let nora = to("new1@example.com");
    assert_eq!(nora.mail_from, "ana@acme.example");
    let subject = nora.header("Subject").unwrap();
    assert!(
        [
            "Welcome to Acme, Nora",
            "Nora, glad you're here",
            "A quick hello from Acme, Nora",
            "Nora, thanks for choosing Acme",
            "Nice to meet you, Nora",
        ]
        .contains(&subject.as_str()),
        "one of the welcome's subjects, with the name: {subject}"
    );
    assert_eq!(
        nora.header("From").as_deref(),
        Some("\"Ana at Acme\" <ana@acme.example>")
    );
    assert_eq!(
        nora.header("To").as_deref(),
        Some("\"Nora New\" <new1@example.com>")
    );
    assert_eq!(
        nora.header("Date").as_deref(),
        Some("Tue, 10 Mar 2026 10:00:00 +0000")
    );
    let id = nora.header("Message-ID").unwrap();
    assert!(
        id.starts_with("<tend.") && id.ends_with("@acme.example>"),
        "{id}"
    );
    let unsubscribe = nora.header("List-Unsubscribe").unwrap();
    assert!(
        unsubscribe.starts_with("<http://127.0.0.1:8025/u/"),
        "{unsubscribe}"
    );
    assert!(
        unsubscribe.ends_with(", <mailto:ana@acme.example?subject=unsubscribe>"),
        "{unsubscribe}"
    );
    assert_eq!(
        nora.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(
        nora.body()
            .contains("To stop receiving these emails: http://127.0.0.1:8025/u/")
    );
    assert!(
        ["Hi Nora,", "Hello Nora,", "Hey Nora,", "Good morning Nora,"]
            .iter()
            .any(|opener| nora.body().contains(opener)),
        "the opener is one of the template's variants: {}",
        nora.body()
    );
    assert!(
        nora.data.contains("multipart/alternative"),
        "the welcome has an HTML part"
    );

    // No name: the subject and the greeting read naturally, never "there, it has been…".
    let nameless = to("sleep2@example.com");
    let subject = nameless.header("Subject").unwrap();
    assert!(
        [
            "It has been a while",
            "We have missed you",
            "How are things going?",
            "A quick check-in from Acme",
            "May I ask you something?",
        ]
        .contains(&subject.as_str()),
        "{subject}"
    );
    let body = nameless.body();
    let greeting = body.lines().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        ["Hi,", "Hello,", "Hey,", "Good morning,"].contains(&greeting),
        "{body}"
    );
    assert!(!body.contains("there,"), "{body}");
}

#[test]
fn preview_shows_exactly_what_was_sent() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&fixture());
    app.run_once(NOW);
    let sent = app
        .smtp()
        .received()
        .into_iter()
        .find(|r| r.rcpt_tos == ["new1@example.com"])
        .unwrap();
    let preview = app
        .tend(&[
            "preview",
            "welcome",
            "--contact",
            "new1@example.com",
            "--now",
            NOW,
        ])
        .ok();
    let normalize = |text: &str| text.replace("\r\n", "\n").trim_end().to_string();
    assert_eq!(normalize(&preview.stdout), normalize(&sent.data));
}

#[test]
fn a_suppressed_address_or_domain_receives_nothing() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&fixture());
    app.tend(&[
        "suppress",
        "add",
        "New1@Example.com",
        "--reason",
        "unsubscribe",
    ])
    .ok();
    app.write("more.csv", "email,name\nx@blocked.example,X\n");
    app.tend(&["contacts", "import", "more.csv", "--now", NOW])
        .ok();
    app.tend(&["suppress", "add", "blocked.example"]).ok();
    app.run_once(NOW);
    let got = per_recipient(&app.smtp().received());
    assert!(!got.contains_key("new1@example.com"), "{got:?}");
    assert!(!got.contains_key("x@blocked.example"), "{got:?}");
    assert_eq!(got.len(), 3, "{got:?}");

    // Lifting the suppression lets the contact enter on the next tick.
    app.tend(&["suppress", "remove", "new1@example.com"]).ok();
    app.run_once(&hours_from_now(1));
    assert_eq!(
        per_recipient(&app.smtp().received()).get("new1@example.com"),
        Some(&1)
    );
}

#[test]
fn an_unsubscribe_after_queueing_wins_at_claim_time() {
    // The server defers new1, so its send sits in `retry` with a queued row.
    let mut app = TestApp::with_smtp(&["--rule", "new1@example.com=450"]);
    app.import_contacts(&fixture());
    let out = app.run_once(NOW);
    assert!(out.stdout.contains("retry 1"), "{}", out.stdout);

    app.write(
        "events.csv",
        &format!(
            "email,kind,at,detail\nnew1@example.com,unsubscribe,{},\n",
            hours_from_now(1)
        ),
    );
    app.tend(&["events", "import", "events.csv"]).ok();

    app.smtp = Some(SmtpServer::start()); // a healthy server: only suppression can stop the send now
    let out = app.run_once(&days_from_now(1));
    assert!(out.stdout.contains("suppressed 1"), "{}", out.stdout);
    assert!(
        app.smtp()
            .received()
            .iter()
            .all(|r| r.rcpt_tos != ["new1@example.com"])
    );
    assert_eq!(count_in_state(&status_json(&app), "suppressed"), 1);
}

#[test]
fn a_temporary_failure_is_retried_later_and_delivered_once() {
    let mut app = TestApp::with_smtp(&["--rule", "sleep1@example.com=450"]);
    app.import_contacts(&fixture());
    app.run_once(NOW);
    assert_eq!(app.smtp().received().len(), 3);
    assert_eq!(count_in_state(&status_json(&app), "retry"), 1);

    app.smtp = Some(SmtpServer::start());
    app.run_once(NOW);
    assert_eq!(
        app.smtp().received().len(),
        0,
        "the retry waits for its backoff"
    );
    app.run_once(&hours_from_now(1));
    app.run_once(&hours_from_now(2));
    let got = app.smtp().received();
    assert_eq!(
        per_recipient(&got),
        BTreeMap::from([("sleep1@example.com".to_string(), 1)])
    );
    assert_eq!(count_in_state(&status_json(&app), "retry"), 0);
}

#[test]
fn an_unreachable_server_loses_nothing() {
    let mut app = TestApp::with_smtp(&[]);
    app.import_contacts(&fixture());
    app.smtp = None; // server gone: connections are refused
    let out = app.run_once(NOW);
    assert!(
        out.stdout.contains("retry 4"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    app.smtp = Some(SmtpServer::start());
    app.run_once(&hours_from_now(3));
    assert_eq!(
        app.smtp().received().len(),
        4,
        "every deferred message arrives once the server is back"
    );
}

#[test]
fn a_permanent_rejection_fails_the_send_and_suppresses_the_address() {
    let app = TestApp::with_smtp(&["--rule", "sleep2@example.com=550"]);
    app.import_contacts(&fixture());
    let out = app.run_once(NOW);
    assert!(out.stdout.contains("bounced 1"), "{}", out.stdout);
    let list = app.tend(&["suppress", "list"]).ok().stdout;
    assert!(
        list.contains("sleep2@example.com") && list.contains("bounce"),
        "{list}"
    );
    app.run_once(&days_from_now(10));
    assert!(
        app.smtp()
            .received()
            .iter()
            .all(|r| r.rcpt_tos != ["sleep2@example.com"])
    );
    assert_eq!(count_in_state(&status_json(&app), "failed"), 1);
}

#[test]
fn user_data_cannot_inject_headers_or_recipients() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(
        "email,name,created_at\n\
         eve@example.com,\"Eve\r\nBcc: victim@example.org\r\nX-Evil: 1\",2026-03-09\n",
    );
    app.run_once(NOW);
    let received = app.smtp().received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].rcpt_tos,
        ["eve@example.com"],
        "no extra envelope recipient"
    );
    assert_eq!(received[0].header("Bcc"), None);
    assert_eq!(received[0].header("X-Evil"), None);
    let subject = received[0].header("Subject").unwrap();
    assert!(
        !subject.contains('\n') && !subject.contains('\r'),
        "{subject}"
    );
}

#[test]
fn an_oversized_subject_fails_the_send_with_a_clear_reason() {
    let app = TestApp::with_smtp(&[]);
    // A long name alone never costs the message (see `robust`): the subject
    // line is what has a hard limit.
    let welcome = std::fs::read_to_string(app.path("campaigns/welcome.toml")).unwrap();
    let subject = "Welcome ".repeat(125);
    app.write(
        "campaigns/welcome.toml",
        &welcome.replacen(
            "template = \"welcome/hello\"",
            &format!(
                "template = \"welcome/hello\"\nsubject = \"{subject}{{{{ contact.first_name }}}}\""
            ),
            1,
        ),
    );
    app.import_contacts("email,name,created_at\nlong@example.com,Al,2026-03-09\n");
    let out = app.run_once(NOW);
    assert!(out.stdout.contains("failed 1"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("subject is 1002 characters long; the limit is 998"),
        "{}",
        out.stderr
    );
    assert!(app.smtp().received().is_empty());
}

#[test]
fn a_reset_database_never_reissues_a_message_id() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&fixture());
    app.run_once(NOW);
    let first = app.smtp().received().len();
    assert!(first > 0);
    // Start over from scratch: same rows, same send ids, a new installation.
    std::fs::remove_file(app.path("tend.db")).unwrap();
    for wal in ["tend.db-wal", "tend.db-shm"] {
        let _ = std::fs::remove_file(app.path(wal));
    }
    app.import_contacts(&fixture());
    app.run_once(NOW);
    let received = app.smtp().received();
    let ids: Vec<String> = received
        .iter()
        .map(|r| r.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 2 * first, "both runs sent the same messages");
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no Message-ID twice: {ids:?}");
    let send_parts: HashSet<String> = ids
        .iter()
        .map(|id| id.split('.').take(3).collect::<Vec<_>>().join("."))
        .collect();
    assert_eq!(send_parts.len(), first, "the send ids did repeat: {ids:?}");
}
