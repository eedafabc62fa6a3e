//! A person's data, from the outside: `tend contacts export` returns what
//! was imported, sent and recorded; `tend contacts erase` leaves the
//! address, the name and the messages nowhere in the database file (and the
//! address nowhere in the logs), while a re-import is never mailed and the
//! reports keep their counts; link keys rotate without breaking links in
//! mail already sent; the daemon applies `[retention]`.

use crate::helpers::{NOW, TestApp, days_from_now, http_request};
use serde_json::Value;
use std::time::{Duration, Instant};

pub(crate) const NAME: &str = "Zebulon Quixotic";
pub(crate) const ADDRESS: &str = "zebulon.quixotic@example.com";

fn json(out: &crate::helpers::Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

/// A contact who got a message, bought, replied and clicked; and a neighbour.
/// Returns what tend logged meanwhile.
pub(crate) fn lived_in(app: &TestApp) -> String {
    let mut logs = String::new();
    let created = days_from_now(-1);
    app.write(
        "contacts.csv",
        &format!(
            "email,name,created_at,timezone,tags,plan\n\
             {ADDRESS},{NAME},{created},Europe/Berlin,vip;early,gold\n\
             neighbour@example.com,Nora Neighbour,{created},,,\n"
        ),
    );
    logs += &app
        .tend(&["contacts", "import", "contacts.csv"])
        .ok()
        .stderr;
    logs += &app.run_once(NOW).stderr;
    app.write(
        "events.csv",
        &format!(
            "email,kind,at,detail\n{ADDRESS},purchase,{},order 4711 for {NAME}\n",
            days_from_now(0)
        ),
    );
    logs += &app.tend(&["events", "import", "events.csv"]).ok().stderr;
    let sent = app
        .smtp()
        .received()
        .into_iter()
        .find(|m| m.rcpt_tos[0] == ADDRESS)
        .expect("the welcome message reached them");
    let reply = format!(
        "From: {NAME} <{ADDRESS}>\nTo: ana@acme.example\nSubject: Re: {subject}\n\
         Message-ID: <reply-1@example.com>\nIn-Reply-To: {id}\n\
         Date: Tue, 10 Mar 2026 11:00:00 +0000\n\n\
         Thanks Ana! My phone number is +49 30 1234567, call me. {NAME}\n",
        subject = sent.header("Subject").unwrap(),
        id = sent.header("Message-ID").unwrap(),
    );
    app.write("reply.eml", &reply);
    logs += &app
        .tend(&["inbound", "reply.eml", "--now", NOW])
        .ok()
        .stderr;
    logs
}

#[test]
fn an_export_holds_what_was_imported_sent_and_recorded() {
    let app = TestApp::with_smtp(&[]);
    lived_in(&app);
    app.tend(&["suppress", "add", "example.com", "--reason", "manual"])
        .ok();
    app.tend(&["contacts", "export", ADDRESS, "--out", "export.json"])
        .ok();
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(app.path("export.json")).unwrap()).unwrap();
    let contact = &data["contact"];
    assert_eq!(contact["email"], ADDRESS);
    assert_eq!(contact["name"], NAME);
    assert_eq!(contact["timezone"], "Europe/Berlin");
    assert_eq!(contact["tags"], serde_json::json!(["early", "vip"]));
    assert_eq!(contact["attributes"]["plan"], "gold");
    let sent = app
        .smtp()
        .received()
        .into_iter()
        .find(|m| m.rcpt_tos[0] == ADDRESS)
        .unwrap();
    let sends = data["sends"].as_array().unwrap();
    assert_eq!(sends.len(), 1, "{sends:#?}");
    assert_eq!(sends[0]["state"], "sent");
    assert_eq!(
        sends[0]["message_id"].as_str(),
        sent.header("Message-ID").as_deref()
    );
    let body = sends[0]["body_text"].as_str().unwrap();
    assert!(
        !body.is_empty() && sent.data.contains(body.lines().next().unwrap()),
        "the text as sent: {body}"
    );
    assert!(sends[0]["subject"].as_str().is_some_and(|s| !s.is_empty()));
    let events = data["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "purchase" && e["detail"] == format!("order 4711 for {NAME}")),
        "{events:#?}"
    );
    assert!(events.iter().any(|e| e["kind"] == "reply"), "{events:#?}");
    let suppressions = data["suppressions"].as_array().unwrap();
    assert_eq!(suppressions.len(), 1, "the domain's: {suppressions:#?}");
    assert_eq!(suppressions[0]["value"], "example.com");
    let inbound = data["inbound"].as_array().unwrap();
    assert_eq!(inbound.len(), 1);
    assert_eq!(inbound[0]["kind"], "reply");
    assert!(
        inbound[0]["raw"]
            .as_str()
            .unwrap()
            .contains("+49 30 1234567")
    );
    assert_eq!(data["enrollments"].as_array().unwrap().len(), 1);
    // Nobody else's data is in it.
    assert!(
        !std::fs::read_to_string(app.path("export.json"))
            .unwrap()
            .contains("neighbour")
    );
    let unknown = app.tend(&["contacts", "export", "nobody@example.com"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
}

/// The bytes of the database file and its write-ahead log.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["tend.db", "tend.db-wal", "tend.db-journal"] {
        if let Ok(bytes) = std::fs::read(app.path(name)) {
            all.extend(bytes);
        }
    }
    all
}

fn find(haystack: &[u8], needle: &str) -> Option<usize> {
    let needle = needle.to_lowercase();
    haystack
        .to_ascii_lowercase()
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    find(haystack, needle).is_some()
}

#[test]
fn an_erased_person_is_nowhere_in_the_database_file_and_a_reimport_is_never_mailed() {
    let app = TestApp::with_smtp(&[]);
    let mut logs = lived_in(&app);
    let report_before = json(&app.tend(&["report", "welcome", "--format", "json"]).ok());
    let bytes = database_bytes(&app);
    for needle in [ADDRESS, "Quixotic", "+49 30 1234567", "order 4711"] {
        assert!(
            contains(&bytes, needle),
            "the test data is there first: {needle}"
        );
    }

    let dry = app.tend(&["contacts", "erase", ADDRESS]);
    assert_eq!(dry.code, 1, "without --yes nothing happens");
    assert!(dry.stdout.contains("would erase"), "{}", dry.stdout);
    let erase = app.tend(&["contacts", "erase", ADDRESS, "--yes"]).ok();
    assert!(
        erase.stdout.contains("erased contact #"),
        "{}",
        erase.stdout
    );
    logs += &erase.stdout;
    logs += &erase.stderr;

    // The file, byte by byte (and its write-ahead log).
    let bytes = database_bytes(&app);
    for needle in [
        ADDRESS,
        "zebulon",
        "Quixotic",
        "+49 30 1234567",
        "order 4711",
        "Europe/Berlin",
    ] {
        if let Some(at) = find(&bytes, needle) {
            let from = at.saturating_sub(300);
            let to = (at + 300).min(bytes.len());
            panic!(
                "`{needle}` is still in the database file at {at}: {:?}",
                String::from_utf8_lossy(&bytes[from..to])
            );
        }
    }
    assert!(contains(&bytes, "neighbour@example.com"), "others are kept");
    let gone = app.tend(&["contacts", "export", ADDRESS]);
    assert_eq!(gone.code, 1, "nothing is held about them: {}", gone.stdout);

    // Reports keep their counts.
    let report_after = json(&app.tend(&["report", "welcome", "--format", "json"]).ok());
    assert_eq!(report_before["steps"], report_after["steps"]);
    assert_eq!(report_before["groups"], report_after["groups"]);

    // Imported again (a stale CRM export): kept from mail.
    let import = app.tend(&["contacts", "import", "contacts.csv"]).ok();
    assert!(
        import.stderr.contains("erased on request"),
        "{}",
        import.stderr
    );
    let suppressed = json(&app.tend(&["suppress", "list", "--json"]).ok());
    assert!(
        suppressed
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["value"] == ADDRESS && s["source"] == "erasure"),
        "{suppressed:#}"
    );
    let before = app.smtp().received().len();
    logs += &app.run_once(&days_from_now(4)).stderr;
    // Nothing tend logged along the way names them (addresses are masked
    // in logs; names and bodies are never logged).
    assert!(logs.len() > 200, "tend logged something: {logs}");
    for needle in ["zebulon", "quixotic", "+49 30 1234567"] {
        assert!(
            !logs.to_lowercase().contains(needle),
            "`{needle}` in the logs:\n{logs}"
        );
    }
    let later: Vec<String> = app.smtp().received()[before..]
        .iter()
        .map(|m| m.rcpt_tos[0].clone())
        .collect();
    assert!(!later.contains(&ADDRESS.to_string()), "{later:?}");
    assert!(
        later.contains(&"neighbour@example.com".to_string()),
        "the neighbour's next step still goes: {later:?}"
    );
}

/// The token of the one-click unsubscribe link in a message.
fn unsubscribe_token(message: &crate::smtp::Received) -> String {
    let header = message.header("List-Unsubscribe").unwrap();
    let url = header
        .split(['<', '>'])
        .find(|p| p.contains("/u/"))
        .unwrap()
        .to_string();
    url.rsplit("/u/").next().unwrap().to_string()
}

#[test]
fn after_a_key_rotation_old_links_work_until_their_key_is_retired() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&format!(
        "email,name,created_at\nana@example.com,Ana,{}\n",
        days_from_now(-1)
    ));
    // The stored key, not the tests' fixed TEND__HTTP__SECRET.
    let stored = [("TEND__HTTP__SECRET", "")];
    app.tend_with(&["run", "--once", "--now", NOW], &stored)
        .ok();
    let old_token = unsubscribe_token(&app.smtp().received()[0]);
    let keys = |app: &TestApp| json(&app.tend_with(&["keys", "list", "--json"], &stored).ok());
    let before = keys(&app);
    assert_eq!(before.as_array().unwrap().len(), 1);
    let old_key = before[0]["fingerprint"].as_str().unwrap().to_string();

    app.tend_with(&["keys", "rotate"], &stored).ok();
    let after = keys(&app);
    assert_eq!(after.as_array().unwrap().len(), 2);
    assert_eq!(after[0]["role"], "signing");
    assert_ne!(after[0]["fingerprint"], old_key.as_str());
    assert_eq!(after[1]["fingerprint"], old_key.as_str());
    assert_eq!(after[1]["role"], "verifying");
    let retiring_the_signer = app.tend_with(
        &["keys", "retire", after[0]["fingerprint"].as_str().unwrap()],
        &stored,
    );
    assert_eq!(
        retiring_the_signer.code, 1,
        "{}",
        retiring_the_signer.stderr
    );

    let daemon = app.spawn_daemon(&[("TEND__HTTP__SECRET", ""), ("TEND__DAEMON__TICK", "1s")]);
    let addr = daemon.http_addr();
    let (status, _) = http_request(addr, "GET", &format!("/u/{old_token}"), "");
    assert_eq!(
        status, 200,
        "a link in mail sent before the rotation still works"
    );

    // Retired while the daemon runs: its next tick stops accepting the old key.
    app.tend_with(&["keys", "retire", &old_key], &stored).ok();
    daemon
        .logs
        .wait_for("link keys changed", Duration::from_secs(30));
    let (status, _) = http_request(addr, "GET", &format!("/u/{old_token}"), "");
    assert_eq!(status, 400, "signed with a removed key: refused");
    assert_eq!(daemon.terminate(), Some(0));
    assert_eq!(keys(&app).as_array().unwrap().len(), 1);
}

#[test]
fn with_configured_secrets_the_first_signs_and_the_others_still_verify() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(&format!(
        "email,name,created_at\nana@example.com,Ana,{}\n",
        days_from_now(-1)
    ));
    let old = "the-old-configured-secret-0123456789";
    let new = "the-new-configured-secret-0123456789";
    app.tend_with(
        &["run", "--once", "--now", NOW],
        &[("TEND__HTTP__SECRET", old)],
    )
    .ok();
    let old_token = unsubscribe_token(&app.smtp().received()[0]);
    app.write("secret", &format!("{new}\n{old}\n"));
    let rotated = [
        ("TEND__HTTP__SECRET", ""),
        ("TEND__HTTP__SECRET_FILE", "secret"),
    ];
    let listed = json(&app.tend_with(&["keys", "list", "--json"], &rotated).ok());
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["source"], "configuration");
    let refused = app.tend_with(&["keys", "rotate"], &rotated);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("secret_file"), "{}", refused.stderr);

    let daemon = app.spawn_daemon(&rotated);
    let addr = daemon.http_addr();
    let (status, _) = http_request(addr, "GET", &format!("/u/{old_token}"), "");
    assert_eq!(status, 200);
    drop(daemon);
    app.write("secret", &format!("{new}\n"));
    let daemon = app.spawn_daemon(&rotated);
    let (status, _) = http_request(daemon.http_addr(), "GET", &format!("/u/{old_token}"), "");
    assert_eq!(status, 400, "the old secret was removed from the file");
}

#[test]
fn the_daemon_applies_retention_and_status_says_so() {
    let app = TestApp::with_smtp(&[]);
    lived_in(&app);
    let status = app.tend(&["status"]).ok();
    assert!(
        status.stdout.contains("retention: message bodies kept"),
        "{}",
        status.stdout
    );
    // Forty days on, with bodies kept 30 days and events a week.
    let daemon = app.spawn_daemon_at(
        &days_from_now(40),
        &[
            ("TEND__RETENTION__MESSAGE_BODIES", "30d"),
            ("TEND__RETENTION__EVENTS", "7d"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let status = json(&app.tend(&["status", "--json"]).ok());
        if !status["retention"]["last_run"].is_null() {
            break status["retention"]["last_run"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no retention run:\n{}",
            daemon.logs.so_far()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(daemon.terminate(), Some(0));
    assert!(run["message_bodies"].as_u64().unwrap() >= 2, "{run}");
    assert!(run["events"].as_u64().unwrap() >= 2, "{run}");
    let data = json(&app.tend(&["contacts", "export", ADDRESS]).ok());
    assert!(
        data["sends"][0]["body_text"].is_null(),
        "{:#}",
        data["sends"]
    );
    assert!(
        data["sends"][0]["subject"].is_string(),
        "subjects stay (reports show them)"
    );
    assert!(
        data["events"].as_array().unwrap().is_empty(),
        "{:#}",
        data["events"]
    );
    assert!(
        data["inbound"][0]["raw"].is_null(),
        "raw inbound mail forgotten after inbound.keep_raw_for (30d)"
    );
}
