//! Fault injection at scale and the protective limits: mixed 4xx/5xx/drops
//! over 1,000 recipients end with every row accounted for; a deferring
//! domain is paused and resumes on the clock; warm-up caps sends per day.

use crate::helpers::{NOW, TestApp, days_from_now, hours_from_now};
use crate::smtp::SmtpServer;
use std::collections::BTreeMap;

fn states(app: &TestApp) -> BTreeMap<String, u64> {
    let out = app.tend(&["status", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut totals = BTreeMap::new();
    for c in v["outbox"].as_array().unwrap() {
        *totals
            .entry(c["state"].as_str().unwrap().to_string())
            .or_insert(0) += c["count"].as_u64().unwrap();
    }
    totals
}

fn new_contacts(domains: &[(&str, usize)]) -> String {
    let mut csv = String::from("email,name,created_at\n");
    for (domain, count) in domains {
        for i in 0..*count {
            csv += &format!("c{i}@{domain},Contact {i},2026-03-09\n");
        }
    }
    csv
}

#[test]
fn mixed_faults_over_a_thousand_recipients_lose_nothing() {
    let mut app = TestApp::with_smtp(&[
        "--rule",
        "*@defer.test=450",
        "--rule",
        "*@bounce.test=550",
        "--drop",
        "*@drop.test",
    ]);
    app.import_contacts(&new_contacts(&[
        ("ok.test", 700),
        ("defer.test", 100),
        ("bounce.test", 100),
        ("drop.test", 100),
    ]));
    // Isolate outcome handling from domain backoff (tested below) and from
    // the relay's circuit breaker (a relay that drops a hundred connections
    // in a row would rightly trip it: tests/it/relay.rs).
    let env = [
        ("TEND__SENDING__BACKOFF_AFTER", "100000"),
        ("TEND__SENDING__BREAKER_AFTER", "100000"),
        ("TEND__SENDING__BREAKER_WINDOW", "100000"),
    ];
    app.tend_with(&["run", "--once", "--now", NOW], &env).ok();

    let received = app.smtp().received();
    assert_eq!(
        received.len(),
        700,
        "exactly the healthy recipients got mail"
    );
    assert!(received.iter().all(|r| r.rcpt_tos[0].ends_with("@ok.test")));
    let after_first = states(&app);
    assert_eq!(
        after_first,
        BTreeMap::from([
            ("failed".into(), 100),
            ("retry".into(), 200),
            ("sent".into(), 700)
        ]),
        "every claimed row ends recorded: bounces failed, deferrals and drops to retry"
    );
    let suppressed = app.tend(&["suppress", "list"]).ok().stdout;
    assert!(
        suppressed.contains("100 suppression(s)"),
        "hard bounces are suppressed"
    );

    // The faults clear: every deferred or dropped message arrives exactly once.
    app.smtp = Some(SmtpServer::start());
    app.tend_with(&["run", "--once", "--now", &hours_from_now(1)], &env)
        .ok();
    let second = app.smtp().received();
    assert_eq!(second.len(), 200);
    assert!(
        second
            .iter()
            .all(|r| !r.rcpt_tos[0].ends_with("@bounce.test"))
    );
    assert_eq!(
        states(&app),
        BTreeMap::from([("failed".into(), 100), ("sent".into(), 900)])
    );
}

#[test]
fn a_deferring_domain_is_paused_and_resumes_on_the_clock() {
    let mut app = TestApp::with_smtp(&["--rule", "*@slow.test=450"]);
    app.import_contacts(&new_contacts(&[("slow.test", 10), ("ok.test", 2)]));
    app.run_once(NOW);
    assert_eq!(app.smtp().received().len(), 2);
    let status = app.tend(&["status", "--now", NOW]).ok().stdout;
    assert!(
        status.contains("slow.test") && status.contains("paused until"),
        "{status}"
    );

    // Retries are due after about a minute, but the domain is paused for longer.
    app.smtp = Some(SmtpServer::start());
    app.run_once(&hours_from_now(0).replace("10:00:00", "10:05:00"));
    assert!(
        app.smtp().received().is_empty(),
        "nothing goes to a paused domain"
    );
    // A claim that came after the first deferral holds its rows as queued
    // until the pause ends (their retry budget untouched); the rest wait as
    // retries. Which claim came first is up to the connections.
    let waiting = states(&app);
    assert_eq!(
        waiting.get("retry").unwrap_or(&0) + waiting.get("queued").unwrap_or(&0),
        10,
        "every slow.test message waits: {waiting:?}"
    );
    assert_eq!(waiting.get("sent"), Some(&2), "{waiting:?}");

    app.run_once(&hours_from_now(2));
    assert_eq!(
        app.smtp().received().len(),
        10,
        "after the pause every message goes out once"
    );
    let status = app
        .tend(&["status", "--now", &hours_from_now(2)])
        .ok()
        .stdout;
    assert!(
        !status.contains("slow.test"),
        "one accepted message lifts the backoff:\n{status}"
    );
}

#[test]
fn warm_up_caps_sends_per_day_and_defers_the_rest() {
    let app = TestApp::with_smtp(&[]);
    let mut config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    config += "warmup = [2, 3]\n"; // appended to the [sending] section
    app.write("config/tend.toml", &config);
    app.import_contacts(&new_contacts(&[("ok.test", 6)]));
    app.run_once(NOW);
    assert_eq!(app.smtp().received().len(), 2, "day 1: 2");
    app.run_once(&hours_from_now(5));
    assert_eq!(app.smtp().received().len(), 2, "still day 1");
    app.run_once(&days_from_now(1));
    assert_eq!(app.smtp().received().len(), 5, "day 2: 3 more");
    app.run_once(&days_from_now(2));
    assert_eq!(app.smtp().received().len(), 6, "after the ramp: no cap");
    assert_eq!(states(&app).get("sent"), Some(&6));
}
