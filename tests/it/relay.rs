//! A relay that refuses us must not burn the list: policy, reputation,
//! relay, size and content refusals (and a 421) never suppress a recipient;
//! the relay's circuit breaker opens, says so (status, /healthz, metrics),
//! probes with one message once the pause is over, and every message goes
//! out once the relay accepts again. Real binary, real SMTP server.

use crate::helpers::{NOW, TestApp, http_request};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::collections::HashSet;

const CONTACTS: usize = 200;

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

fn at(minutes: i64) -> String {
    (now() + Duration::minutes(minutes)).to_rfc3339()
}

fn app_with_contacts() -> TestApp {
    let app = TestApp::with_smtp(&[]);
    let mut csv = String::from("email,name,created_at\n");
    for i in 0..CONTACTS {
        csv += &format!("client{i}@mail{}.test,Client {i},2026-03-09\n", i % 7);
    }
    app.import_contacts(&csv);
    app
}

fn status(app: &TestApp, at: &str) -> serde_json::Value {
    let out = app.tend(&["status", "--json", "--now", at]).ok();
    serde_json::from_str(&out.stdout).unwrap()
}

fn suppressed(app: &TestApp) -> usize {
    let out = app.tend(&["suppress", "list", "--json"]).ok();
    serde_json::from_str::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap()
        .len()
}

/// The whole story for one kind of refusal; returns (tried, suppressed,
/// delivered after recovery).
fn refused_then_recovered(rules: serde_json::Value) -> (usize, usize, usize) {
    let app = app_with_contacts();
    app.smtp().set_rules(rules.clone());
    let first = app.run_once(NOW);
    let tried = app.smtp().refusals().len();
    let connections = 4; // tests/it/helpers.rs CONFIG
    assert!(
        tried <= 5 + connections,
        "the breaker stops after 5 refusals (plus what was already on the wire): {tried} tried for {rules}\n{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("sending paused until"),
        "{}",
        first.stdout
    );
    assert!(app.smtp().received().is_empty());
    assert_eq!(suppressed(&app), 0, "nobody is suppressed for {rules}");
    let s = status(&app, &at(0));
    assert_eq!(s["relay"]["open"], json!(true), "{s}");
    let text = app.tend(&["status", "--now", &at(0)]).ok().stdout;
    assert!(text.contains("REFUSING US"), "{text}");

    // Still refusing at the first probe: one message tries, the pause doubles.
    let probe = app.run_once(&at(2));
    assert_eq!(
        app.smtp().refusals().len(),
        tried + 1,
        "exactly one probe: {}",
        probe.stdout
    );
    let reopened = status(&app, &at(2));
    assert_eq!(reopened["relay"]["open"], json!(true));
    assert_eq!(reopened["relay"]["trips"], json!(2), "{reopened}");

    // The relay accepts again: the next probe closes the breaker and all
    // mail flows, each message once.
    app.smtp().set_rules(json!({}));
    app.run_once(&at(30));
    let received = app.smtp().received();
    let recipients: HashSet<&str> = received.iter().map(|r| r.rcpt_tos[0].as_str()).collect();
    assert_eq!(recipients.len(), CONTACTS, "everyone got their message");
    assert_eq!(received.len(), CONTACTS, "nobody got it twice");
    assert_eq!(suppressed(&app), 0);
    assert_eq!(status(&app, &at(30))["relay"]["open"], json!(false));
    (tried + 1, suppressed(&app), received.len())
}

#[test]
fn a_relay_blocking_our_ip_at_rcpt_burns_nobody_and_mail_flows_once_it_accepts() {
    let (tried, suppressed, delivered) = refused_then_recovered(json!({"rcpt": [{
        "match": "*",
        "reply": "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"
    }]}));
    // Figures quoted in the closing note of issue 13.
    println!(
        "relay refusal (554 5.7.1 client host blocked): {CONTACTS} contacts, {tried} tried while refusing, {suppressed} suppressed, {delivered} delivered after recovery"
    );
}

#[test]
fn relay_denied_size_content_and_421_refusals_never_suppress() {
    for rules in [
        json!({"rcpt": [{"match": "*", "reply": "550 5.7.1 <x@y.test>: Relay access denied"}]}),
        json!({"mail": "553 5.7.1 Sender address rejected: not owned by user"}),
        json!({"data_end": [{"match": "*", "reply": "552 5.3.4 Message size exceeds fixed limit"}]}),
        json!({"data_end": [{"match": "*", "reply": "554 5.7.1 Message rejected: content looks like spam"}]}),
        json!({"data_end": [{"match": "*", "reply": "554 Transaction failed"}]}),
        json!({"rcpt": [{"match": "*", "reply": "421 4.7.0 Try again later, closing connection"}]}),
        json!({"greeting": "554 5.7.1 Your IP is listed at bl.spamcop.net"}),
    ] {
        refused_then_recovered(rules);
    }
}

#[test]
fn a_mailbox_that_does_not_exist_is_still_a_bounce_while_the_relay_is_healthy() {
    let app = app_with_contacts();
    app.smtp().set_rules(json!({"rcpt": [{
        "match": "client7@*",
        "reply": "550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 Please try double-checking the recipient's email address"
    }]}));
    let out = app.run_once(NOW);
    assert!(!out.stdout.contains("paused"), "{}", out.stdout);
    assert_eq!(app.smtp().received().len(), CONTACTS - 1);
    assert_eq!(suppressed(&app), 1);
    assert_ne!(status(&app, NOW)["relay"]["open"], json!(true));
}

#[test]
fn the_daemon_reports_an_open_breaker_on_healthz_and_metrics() {
    let app = app_with_contacts();
    app.smtp()
        .set_rules(json!({"rcpt": [{"match": "*", "reply": "554 5.7.1 client host blocked"}]}));
    app.run_once(NOW);
    // A daemon started inside the pause sees it from the database.
    let daemon = app.spawn_daemon(&[]);
    let addr = daemon.http_addr();
    let (code, body) = http_request(addr, "GET", "/healthz", "");
    assert_eq!(code, 200, "the daemon itself is fine: {body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["relay"]["breaker"], "open", "{health}");
    let (_, metrics) = http_request(addr, "GET", "/metrics", "");
    assert!(
        metrics.contains("tend_relay_breaker_open 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("breaker"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
