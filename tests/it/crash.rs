//! `kill -9` of the real daemon at random moments while it drains thousands
//! of sends to a real SMTP server, restarted each time: no message arrives
//! twice, no row is stranded, a crash leaves at most one row in doubt per
//! connection (only rows whose data was on the wire), and `tend outbox
//! resolve` settles them so that every contact gets their message once.

use crate::helpers::{NOW, TestApp};
use crate::pg::PgDb;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const CONTACTS: usize = 3000;
const KILLS: usize = 12;
const CONNECTIONS: u64 = 8;

const BLAST: &str = r#"
description = "One message to every new contact"
segment = { stage = "new" }
[[steps]]
after = "0d"
template = "welcome/hello"
"#;

/// A small deterministic generator: the kill points are random but the
/// same on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn outbox(app: &TestApp) -> HashMap<String, u64> {
    let out = app.tend(&["status", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut totals = HashMap::new();
    for c in v["outbox"].as_array().unwrap() {
        *totals
            .entry(c["state"].as_str().unwrap().to_string())
            .or_insert(0) += c["count"].as_u64().unwrap();
    }
    totals
}

fn message_id(data: &str) -> String {
    data.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("every message has a Message-ID")
        .trim()
        .to_string()
}

#[test]
fn kill_9_during_a_drain_on_sqlite_loses_nothing_duplicates_nothing_and_strands_nothing() {
    crash_story(TestApp::with_smtp(&[]), "sqlite");
}

#[test]
fn kill_9_during_a_drain_on_postgres_loses_nothing_duplicates_nothing_and_strands_nothing() {
    let Some(db) = PgDb::create() else { return };
    crash_story(TestApp::with_smtp(&[]).on_database(&db.url), "postgres");
}

fn crash_story(app: TestApp, backend: &str) {
    for entry in std::fs::read_dir(app.path("campaigns")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    app.write("campaigns/blast.toml", BLAST);
    let mut csv = String::from("email,name,created_at\n");
    for i in 0..CONTACTS {
        csv += &format!("c{i}@d{}.test,Client {i},2026-03-09\n", i % 13);
    }
    app.import_contacts(&csv);
    let env = [("TEND__SMTP__CONNECTIONS", "8")];

    let mut rng = Lcg(20261202);
    let mut in_doubt_per_crash = Vec::new();
    for _ in 0..KILLS {
        let daemon = app.spawn_daemon(&env);
        let before = app.smtp().wait_count(0, Duration::from_secs(1));
        let target = before + 40 + rng.below(160) as usize;
        assert!(
            target < CONTACTS,
            "the drain must still be running at each kill"
        );
        app.smtp().wait_count(target, Duration::from_secs(120));
        daemon.kill9();
        // What the dead sender left: rows on the wire (in doubt from now on)
        // and rows it had claimed but not sent (they go back to the queue).
        let states = outbox(&app);
        let on_wire = states.get("sending").copied().unwrap_or(0);
        assert!(
            on_wire <= CONNECTIONS,
            "at most one row on the wire per connection: {states:?}"
        );
        in_doubt_per_crash.push(on_wire);
    }

    // A last, clean run drains the rest (and takes back the dead sender's rows).
    app.tend_with(&["run", "--once", "--now", NOW], &env).ok();
    let states = outbox(&app);
    let in_doubt = states.get("in_doubt").copied().unwrap_or(0);
    for stranded in ["queued", "claimed", "sending", "retry"] {
        assert_eq!(
            states.get(stranded),
            None,
            "no {stranded} row left: {states:?}"
        );
    }
    // Only rows seen on the wire at a kill can be in doubt. It may be fewer:
    // on PostgreSQL a result whose COMMIT had left the dying process is
    // still applied by the server after the kill (and after the look above).
    assert!(
        in_doubt <= in_doubt_per_crash.iter().sum::<u64>(),
        "{states:?} vs {in_doubt_per_crash:?}"
    );
    assert_eq!(
        states.get("sent").copied().unwrap_or(0) + in_doubt,
        CONTACTS as u64,
        "{states:?}"
    );

    let received = app.smtp().received();
    let ids: Vec<String> = received.iter().map(|r| message_id(&r.data)).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    let duplicates = ids.len() - unique.len();
    assert_eq!(duplicates, 0, "no message arrived twice");

    // Settle the doubt the way an operator would: look each Message-ID up in
    // the relay's log (here: what the server recorded).
    let rows = app
        .tend(&["outbox", "--state", "in_doubt", "--json"])
        .ok()
        .stdout;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows).unwrap();
    assert_eq!(rows.len() as u64, in_doubt);
    let (arrived, lost): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|r| unique.contains(&r["message_id"].as_str().unwrap().to_string()));
    let ids_of = |rows: &[&serde_json::Value]| {
        rows.iter()
            .map(|r| r["id"].to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if !arrived.is_empty() {
        let out = app
            .tend(&[
                "outbox",
                "resolve",
                "--sent",
                "--id",
                &ids_of(&arrived),
                "--note",
                "in the relay log",
            ])
            .ok();
        assert!(
            out.stdout.contains(&format!(
                "{} in-doubt send(s) recorded as sent",
                arrived.len()
            )),
            "{}",
            out.stdout
        );
    }
    if !lost.is_empty() {
        app.tend(&[
            "outbox",
            "resolve",
            "--requeue",
            "--id",
            &ids_of(&lost),
            "--note",
            "not in the relay log",
        ])
        .ok();
    }
    app.tend_with(&["run", "--once", "--now", NOW], &env).ok();

    let received = app.smtp().received();
    let recipients: HashSet<&str> = received.iter().map(|r| r.rcpt_tos[0].as_str()).collect();
    assert_eq!(
        recipients.len(),
        CONTACTS,
        "every contact got their message"
    );
    assert_eq!(received.len(), CONTACTS, "exactly once");
    let states = outbox(&app);
    assert_eq!(
        states.get("sent").copied(),
        Some(CONTACTS as u64),
        "{states:?}"
    );
    println!(
        "crash test ({backend}): {} kills over {CONTACTS} sends, {CONNECTIONS} connections; in doubt per crash {:?} (max {}), {} in doubt in all ({} had arrived, {} had not), 0 duplicates, 0 stranded, {} delivered exactly once after resolve",
        in_doubt_per_crash.len(),
        in_doubt_per_crash,
        in_doubt_per_crash.iter().max().unwrap(),
        in_doubt,
        arrived.len(),
        lost.len(),
        received.len()
    );
}
