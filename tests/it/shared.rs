//! Several `tend run` daemons on one PostgreSQL database, and a database
//! that goes away: real binaries, a real PostgreSQL server, a real SMTP
//! server counting what arrives.
//!
//! - Two and four daemons drain one outbox: no message twice, the work
//!   shared between them, and the configured global rate held in total.
//! - The PostgreSQL server restarts in the middle of a drain: the daemon
//!   rides it out and nothing is lost or sent twice.

use crate::helpers::TestApp;
use crate::pg::{PgCluster, PgDb};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const BLAST: &str = r#"
description = "One message to every new contact"
segment = { stage = "new" }
[[steps]]
after = "0d"
template = "welcome/hello"
"#;

fn blast_app(url: &str, contacts: usize) -> TestApp {
    let app = TestApp::with_smtp(&[]).on_database(url);
    for entry in std::fs::read_dir(app.path("campaigns")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    app.write("campaigns/blast.toml", BLAST);
    let mut csv = String::from("email,name,created_at\n");
    for i in 0..contacts {
        csv += &format!("c{i}@d{}.test,Client {i},2026-03-09\n", i % 11);
    }
    app.import_contacts(&csv);
    app
}

fn message_id(data: &str) -> String {
    data.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("every message has a Message-ID")
        .trim()
        .to_string()
}

/// The most messages the server accepted within any `window` seconds.
fn busiest(times: &[f64], window: f64) -> usize {
    let mut times = times.to_vec();
    times.sort_by(f64::total_cmp);
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

fn daemons_share_one_outbox(daemons: usize) {
    let Some(db) = PgDb::create() else { return };
    const CONTACTS: usize = 600;
    const RATE: usize = 100;
    let app = blast_app(&db.url, CONTACTS);
    let rate = format!("{RATE}/s");
    let env = [
        ("TEND__SENDING__RATE", rate.as_str()),
        ("TEND__SMTP__CONNECTIONS", "4"),
        ("TEND__DAEMON__TICK", "1s"),
    ];
    let running: Vec<_> = (0..daemons).map(|_| app.spawn_daemon(&env)).collect();
    app.smtp().wait_count(CONTACTS, Duration::from_secs(120));
    for daemon in running {
        assert_eq!(daemon.terminate(), Some(0));
    }

    let received = app.smtp().received();
    let ids: HashSet<String> = received.iter().map(|r| message_id(&r.data)).collect();
    assert_eq!(received.len(), CONTACTS, "every message, once");
    assert_eq!(ids.len(), CONTACTS, "no Message-ID twice");
    // Who sent what: the outbox keeps the sender of every row.
    let rows = app
        .tend(&["outbox", "--state", "sent", "--limit", "100000", "--json"])
        .ok()
        .stdout;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows).unwrap();
    let mut per_daemon: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        *per_daemon
            .entry(row["claimed_by"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    assert_eq!(
        per_daemon.len(),
        daemons,
        "every daemon sent: {per_daemon:?}"
    );
    // The rate holds for all of them together.
    let times: Vec<f64> = received.iter().map(|r| r.at).collect();
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    let last = times.iter().copied().fold(0.0, f64::max);
    let span = last - first;
    // Each daemon alone would send at the configured rate: uncoordinated,
    // they would send `daemons` times as fast. Over three seconds, at most
    // the configured rate plus a tenth for scheduling noise on a busy machine
    // (a message's slot is reserved exactly; its SMTP transaction then takes
    // a few milliseconds more or less).
    let busiest_3s = busiest(&times, 3.0);
    let busiest_second = busiest(&times, 1.0);
    assert!(
        span >= (CONTACTS - 1) as f64 / RATE as f64 * 0.95,
        "{CONTACTS} messages at {RATE}/s take at least ~{}s; took {span:.2}s",
        (CONTACTS - 1) / RATE
    );
    assert!(
        busiest_3s <= 3 * RATE + 3 * RATE / 10,
        "at most {} in any three seconds: {busiest_3s}",
        3 * RATE
    );
    println!(
        "{daemons} daemons on one PostgreSQL: {CONTACTS} sends, 0 duplicates, shared {:?}, {:.1} msg/s overall (configured {RATE}/s), busiest second {busiest_second}, busiest 3 s {busiest_3s}",
        {
            let mut shares: Vec<usize> = per_daemon.values().copied().collect();
            shares.sort_unstable();
            shares
        },
        (CONTACTS - 1) as f64 / span
    );
}

#[test]
fn two_daemons_on_one_postgres_share_the_work_and_the_rate() {
    daemons_share_one_outbox(2);
}

#[test]
fn four_daemons_on_one_postgres_share_the_work_and_the_rate() {
    daemons_share_one_outbox(4);
}

#[test]
fn a_postgres_restart_mid_drain_loses_nothing_and_sends_nothing_twice() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    const CONTACTS: usize = 1500;
    let app = blast_app(&cluster.url, CONTACTS);
    let env = [
        ("TEND__SMTP__CONNECTIONS", "4"),
        ("TEND__DAEMON__TICK", "1s"),
    ];
    let daemon = app.spawn_daemon(&env);
    let mut restarts = 0;
    for at in [200, 600, 1000] {
        app.smtp().wait_count(at, Duration::from_secs(120));
        cluster.restart();
        restarts += 1;
    }
    app.smtp().wait_count(CONTACTS, Duration::from_secs(180));
    assert_eq!(daemon.terminate(), Some(0));

    let received = app.smtp().received();
    let ids: HashSet<String> = received.iter().map(|r| message_id(&r.data)).collect();
    assert_eq!(ids.len(), received.len(), "no message twice");
    assert_eq!(received.len(), CONTACTS, "every message arrived");
    let status = app.tend(&["status", "--json"]).ok().stdout;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let mut states: HashMap<String, u64> = HashMap::new();
    for c in status["outbox"].as_array().unwrap() {
        *states
            .entry(c["state"].as_str().unwrap().to_string())
            .or_default() += c["count"].as_u64().unwrap();
    }
    assert_eq!(
        states.get("sent").copied(),
        Some(CONTACTS as u64),
        "{states:?}"
    );
    println!(
        "PostgreSQL restarted {restarts} times during a drain of {CONTACTS}: {} delivered, 0 duplicates, states {states:?}",
        received.len()
    );
}
