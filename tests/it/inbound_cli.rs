//! `tend inbound FILE…|-` and `list`/`show`/`undo`, the real binary on a
//! real SQLite file, fed the inbound corpus (`tests/fixtures/inbound/`).
//!
//! The commands run with the corpus's signing key as `http.secret`, so the
//! return-path tokens in the fixtures verify; the sends they name are not
//! in this database, so each message is tied to its contact by address.

use crate::helpers::{NOW, Output, TestApp, repo};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// The key the corpus's tokens are signed with (`tests/fixtures/inbound/README.md`).
const FIXTURE_SECRET: &str = "inbound-fixtures-secret-0123456789";

/// Contacts the corpus names: who bounced, complained, replied, wrote.
const CONTACTS: &str = "email,name,created_at
gone@example.com,Gone,2026-03-09
full@example.net,Full,2026-03-09
annoyed@example.net,Annoyed,2026-03-09
pat@example.com,Pat,2026-03-09
carla@example.org,Carla,2026-03-09
bruno@example.net,Bruno,2026-03-09
slow@example.org,Slow,2026-03-09
valid.person@example.com,Valid,2026-03-09
friend@example.net,Friend,2026-03-09
ana.lopez@example.com,Ana,2026-03-09
";

fn fixture(name: &str) -> String {
    repo()
        .join("tests/fixtures/inbound")
        .join(name)
        .display()
        .to_string()
}

/// Env for every command: the corpus's key, a dedicated unsubscribe mailbox.
const ENV: &[(&str, &str)] = &[
    ("TEND__HTTP__SECRET", FIXTURE_SECRET),
    (
        "TEND__SENDING__UNSUBSCRIBE_MAILTO",
        "unsubscribe@acme.example",
    ),
];

fn app() -> TestApp {
    let app = TestApp::without_smtp();
    app.import_contacts(CONTACTS);
    app
}

fn tend(app: &TestApp, args: &[&str]) -> Output {
    let mut all = vec!["--now", NOW];
    all.extend_from_slice(args);
    app.tend_with(&all, ENV)
}

fn json(app: &TestApp, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = tend(app, &all).ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: not JSON:\n{}", out.stdout))
}

/// The suppressed values with their reasons, sorted.
fn suppressed(app: &TestApp) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = json(app, &["suppress", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["value"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    all.sort();
    all
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn inbound_ids(app: &TestApp) -> Vec<i64> {
    json(app, &["inbound", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

/// (file name, kind, effect) of `tend --json inbound FILE…`'s answer.
fn taken(answer: &Value) -> Vec<(String, String, String)> {
    answer
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let file = PathBuf::from(r["file"].as_str().unwrap());
            (
                file.file_name().unwrap().to_string_lossy().into_owned(),
                r["kind"].as_str().unwrap().to_string(),
                r["effect"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn each_message_has_its_effect_once_and_the_rest_change_nothing() {
    let app = app();
    let files = [
        "postfix-dsn-hard-5.1.1.eml",
        "postfix-dsn-soft-4.2.2.eml",
        "arf-aol.eml",
        "auto-en-exchange.eml",
        "unsubscribe-subject.eml",
        "reply-token.eml",
        "dsn-delayed.eml",
        "dsn-policy-5.7.1.eml",
        "unrelated-personal.eml",
        "unrelated-newsletter.eml",
        "human-to-bounce-address.eml",
    ];
    let paths: Vec<String> = files.iter().map(|f| fixture(f)).collect();
    let mut args = vec!["inbound"];
    args.extend(paths.iter().map(String::as_str));
    let first = json(&app, &args);
    let row = |file: &str, kind: &str, effect: &str| {
        (file.to_string(), kind.to_string(), effect.to_string())
    };
    assert_eq!(
        taken(&first),
        [
            row("postfix-dsn-hard-5.1.1.eml", "hard_bounce", "hard_bounce"),
            row("postfix-dsn-soft-4.2.2.eml", "soft_bounce", "soft_bounce"),
            row("arf-aol.eml", "complaint", "complaint"),
            row("auto-en-exchange.eml", "auto_reply", "none"),
            row("unsubscribe-subject.eml", "unsubscribe", "unsubscribe"),
            row("reply-token.eml", "reply", "reply"),
            row("dsn-delayed.eml", "delayed", "none"),
            row("dsn-policy-5.7.1.eml", "delivery_status", "none"),
            row("unrelated-personal.eml", "unclassified", "none"),
            row("unrelated-newsletter.eml", "unclassified", "none"),
            row("human-to-bounce-address.eml", "unclassified", "none"),
        ]
    );
    // Tied by address (the sends the tokens name are not in this
    // database), masked in what is printed.
    assert_eq!(first[0]["contact"], "go***@example.com");
    assert_eq!(first[0]["campaign"], Value::Null);
    assert!(
        first
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["duplicate"] == false)
    );
    let expected = pairs(&[
        ("annoyed@example.net", "complaint"),
        ("carla@example.org", "unsubscribe"),
        ("gone@example.com", "bounce"),
    ]);
    assert_eq!(
        suppressed(&app),
        expected,
        "an auto-reply, a soft bounce, a delay, a policy refusal, a reply and unrelated mail suppress nobody"
    );
    let kept = inbound_ids(&app);
    assert_eq!(kept.len(), files.len());
    let rows = json(&app, &["inbound", "list"]);
    let reply = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "reply")
        .unwrap();
    assert_eq!(reply["email"], "bruno@example.net");
    assert_eq!(
        reply["send_id"],
        Value::Null,
        "the token's send is not in this database"
    );

    // Everything again (a Maildir script run twice): nothing twice.
    let again = json(&app, &args);
    assert!(
        again
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["duplicate"] == true)
    );
    assert_eq!(suppressed(&app), expected);
    assert_eq!(inbound_ids(&app), kept);
    let text = tend(&app, &["inbound", &paths[0]]).ok();
    assert!(
        text.stdout
            .contains("hard_bounce from go***@example.com (already taken before: nothing changed)"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_dry_run_says_what_each_message_is_and_keeps_nothing() {
    let app = app();
    let (dsn, arf, broken) = (
        fixture("postfix-dsn-hard-5.1.1.eml"),
        fixture("arf-aol.eml"),
        fixture("malformed-mime.eml"),
    );
    let out = tend(&app, &["inbound", "--dry-run", &dsn, &arf, &broken]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{dsn}: hard_bounce (dry run: nothing kept)"),
            format!("{arf}: complaint (dry run: nothing kept)"),
            format!(
                "{broken}: unclassified: broken MIME: multipart/mixed without a usable boundary (dry run: nothing kept)"
            ),
        ]
    );
    let answer = json(&app, &["inbound", "--dry-run", &dsn]);
    assert_eq!(answer[0]["kind"], "hard_bounce");
    assert_eq!(answer[0].get("id"), None, "nothing was kept to have an id");
    assert!(suppressed(&app).is_empty());
    assert!(inbound_ids(&app).is_empty());
    assert_eq!(
        tend(&app, &["inbound", "list"]).ok().stdout.trim(),
        "nothing has come back yet"
    );
}

#[test]
fn a_message_on_standard_input_is_taken_like_a_file() {
    let app = app();
    let raw = std::fs::read(fixture("postfix-dsn-hard-5.1.1.eml")).unwrap();
    let mut command = app.command(&["--now", NOW, "inbound", "-"]);
    command
        .envs(ENV.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        "-: #1 hard_bounce from go***@example.com, address suppressed"
    );
    assert_eq!(suppressed(&app), pairs(&[("gone@example.com", "bounce")]));
    // Kept exactly as it came in (CRLF line ends and all).
    assert_eq!(
        tend(&app, &["inbound", "show", "1", "--raw"])
            .ok()
            .stdout
            .as_bytes(),
        raw
    );
}

/// A bounce that names gone@example.com in plain text, then a 12 MB
/// attachment: were it read, it would suppress.
fn twelve_megabytes() -> Vec<u8> {
    let mut raw = b"From: MAILER-DAEMON@mx.example.com\r\nTo: ana@acme.example\r\n\
        Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"big\"\r\n\r\n--big\r\n\
        Content-Type: text/plain\r\n\r\n<gone@example.com>: host mx.example.com said: \
        550 5.1.1 user unknown\r\n--big\r\nContent-Type: application/octet-stream\r\n\
        Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
    while raw.len() < 12 * 1024 * 1024 {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--big--\r\n");
    raw
}

#[test]
fn broken_huge_and_deeply_nested_messages_say_why_and_change_nothing() {
    let app = app();
    let big = app.path("big.eml");
    std::fs::write(&big, twelve_megabytes()).unwrap();
    let big = big.display().to_string();
    let (broken, nested) = (
        fixture("malformed-mime.eml"),
        fixture("nested-200-multiparts.eml"),
    );
    let out = tend(&app, &["inbound", &broken, &big, &nested]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "one line per message:\n{}", out.stdout);
    assert_eq!(
        lines[0],
        format!(
            "{broken}: #1 unclassified: broken MIME: multipart/mixed without a usable boundary"
        )
    );
    assert!(
        lines[1].starts_with(&format!("{big}: #2 unclassified: too large to read (")),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with("bytes; at most 10485760 are read)"),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        format!("{nested}: #3 unclassified: MIME parts nested deeper than 32 levels")
    );
    assert!(suppressed(&app).is_empty());
    let shown = json(&app, &["inbound", "show", "2"]);
    assert_eq!(shown["effect"], "none");
    assert_eq!(shown["classification"]["kind"]["reason"], "too_large");
    assert_eq!(shown["email"], Value::Null);
}

#[test]
fn a_missing_file_is_named_and_the_others_are_still_taken() {
    let app = app();
    let dsn = fixture("postfix-dsn-hard-5.1.1.eml");
    let out = tend(&app, &["inbound", "no-such-message.eml", &dsn]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("no-such-message.eml: cannot read: No such file or directory"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains(&format!("{dsn}: #1 hard_bounce")));
    assert_eq!(suppressed(&app), pairs(&[("gone@example.com", "bounce")]));
    let none = tend(&app, &["inbound"]);
    assert_ne!(none.code, 0);
    assert!(
        none.stderr.contains("name the messages to take"),
        "{}",
        none.stderr
    );
}

#[test]
fn list_show_and_undo_say_what_came_back_and_reverse_it() {
    let app = app();
    let (dsn, auto, reply) = (
        fixture("postfix-dsn-hard-5.1.1.eml"),
        fixture("auto-en-exchange.eml"),
        fixture("reply-token.eml"),
    );
    tend(&app, &["inbound", &dsn, &auto, &reply]).ok();

    let list = tend(&app, &["inbound", "list"]).ok().stdout;
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[0].starts_with("#3 ") && lines[0].contains("reply"),
        "{list}"
    );
    assert!(
        lines[2].starts_with("#1 ")
            && lines[2].contains("2026-03-10 10:00  hard_bounce   file")
            && lines[2].contains("hard_bounce from go***@example.com  [suppressed the address]"),
        "{list}"
    );
    assert!(
        !list.contains("gone@example.com"),
        "listings mask addresses"
    );

    let only = json(&app, &["inbound", "list", "--kind", "auto_reply"]);
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["id"], 2);
    assert_eq!(only[0]["effect"], "none");
    assert_eq!(only[0]["source"], "file");
    let newest = json(&app, &["inbound", "list", "--limit", "1"]);
    assert_eq!(newest.as_array().unwrap().len(), 1);
    assert_eq!(newest[0]["id"], 3);

    let show = tend(&app, &["inbound", "show", "1"]).ok().stdout;
    assert!(
        show.starts_with("#1 received 2026-03-10T10:00:00+00:00 by file\n"),
        "{show}"
    );
    assert!(
        show.contains("  kind hard_bounce, effect hard_bounce\n"),
        "{show}"
    );
    assert!(show.contains("  suppressed gone@example.com\n"), "{show}");
    assert!(show.contains("\"status\": \"5.1.1\""), "{show}");
    assert!(
        !show.contains("<gone@example.com>"),
        "the classification is shown masked:\n{show}"
    );
    let detail = json(&app, &["inbound", "show", "1"]);
    assert_eq!(detail["kind"], "hard_bounce");
    assert_eq!(detail["email"], "gone@example.com");
    assert_eq!(detail["suppressed"], "gone@example.com");
    assert_eq!(detail["raw_kept"], true);
    assert_eq!(detail["classification"]["kind"]["kind"], "delivery_status");
    assert_eq!(detail["undone_at"], Value::Null);
    let raw = tend(&app, &["inbound", "show", "1", "--raw"]).ok().stdout;
    assert_eq!(raw.as_bytes(), std::fs::read(&dsn).unwrap());
    let missing = tend(&app, &["inbound", "show", "99"]);
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("no inbound message #99"),
        "{}",
        missing.stderr
    );

    let undo = tend(
        &app,
        &[
            "inbound",
            "undo",
            "1",
            "--note",
            "the mailbox was full, not gone",
        ],
    )
    .ok()
    .stdout;
    assert_eq!(
        undo.trim(),
        "#1 undone: gone@example.com is no longer suppressed; its event is removed (a passage it ended stays ended)"
    );
    assert!(suppressed(&app).is_empty());
    let detail = json(&app, &["inbound", "show", "1"]);
    assert_eq!(detail["undone_at"], "2026-03-10T10:00:00Z");
    assert_eq!(detail["undo_note"], "the mailbox was full, not gone");
    let list = tend(&app, &["inbound", "list"]).ok().stdout;
    assert!(
        list.lines()
            .last()
            .unwrap()
            .ends_with("  [undone 2026-03-10]"),
        "{list}"
    );
    assert_eq!(
        tend(&app, &["inbound", "undo", "1"]).ok().stdout.trim(),
        "#1 was undone before; nothing changed"
    );
    let undone_reply = json(&app, &["inbound", "undo", "3", "--note", "out of office"]);
    assert_eq!(
        undone_reply,
        serde_json::json!({
            "found": true, "already": false, "lifted": null, "kept_by": null,
            "events_removed": 1, "soft_bounces_removed": 0
        })
    );
    let missing = tend(&app, &["inbound", "undo", "99"]);
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("no inbound message #99"),
        "{}",
        missing.stderr
    );
}

#[test]
fn an_undone_bounce_is_mailed_again_and_a_standing_complaint_is_not() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(
        "email,name,created_at\ngone@example.com,Gone,2026-03-09\nannoyed@example.net,Annoyed,2026-03-09\n",
    );
    tend(
        &app,
        &[
            "inbound",
            &fixture("postfix-dsn-hard-5.1.1.eml"),
            &fixture("arf-aol.eml"),
        ],
    )
    .ok();
    assert_eq!(
        suppressed(&app),
        pairs(&[
            ("annoyed@example.net", "complaint"),
            ("gone@example.com", "bounce")
        ])
    );
    tend(&app, &["inbound", "undo", "1", "--note", "a full mailbox"]).ok();
    app.tend_with(&["run", "--once", "--now", NOW], ENV).ok();
    let received = app.smtp().wait_for(1, Duration::from_secs(30));
    let to: Vec<&str> = received
        .iter()
        .flat_map(|r| r.rcpt_tos.iter().map(String::as_str))
        .collect();
    assert_eq!(to, ["gone@example.com"], "welcome goes to gone@ only");
    assert_eq!(
        suppressed(&app),
        pairs(&[("annoyed@example.net", "complaint")])
    );
}

#[test]
fn mail_to_the_from_address_unsubscribes_nobody_unless_it_asks() {
    // No `sending.unsubscribe_mailto`: List-Unsubscribe names the From
    // address, where replies, personal mail and newsletters also arrive.
    let app = app();
    let env = [("TEND__HTTP__SECRET", FIXTURE_SECRET)];
    let asks = app.path("asks.eml");
    std::fs::write(
        &asks,
        "From: Carla <carla@example.org>\r\nTo: Ana at Acme <ana@acme.example>\r\n\
         Subject: unsubscribe\r\nDate: Mon, 2 Nov 2026 12:30:00 +0000\r\n\
         Message-ID: <unsub.9@mail.example.org>\r\n\r\n\r\n",
    )
    .unwrap();
    let files = [
        fixture("unrelated-personal.eml"),
        fixture("unrelated-newsletter.eml"),
        fixture("reply-in-reply-to.eml"),
        asks.display().to_string(),
    ];
    let mut args = vec!["--json", "--now", NOW, "inbound"];
    args.extend(files.iter().map(String::as_str));
    let out = app.tend_with(&args, &env).ok();
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    let kinds: Vec<&str> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "unclassified",
            "unclassified",
            "unclassified",
            "unsubscribe"
        ],
        "a friend's note, a newsletter with an Unsubscribe link and a reply are no requests"
    );
    assert_eq!(
        suppressed(&app),
        pairs(&[("carla@example.org", "unsubscribe")])
    );
}

#[test]
fn the_daemon_forgets_raw_text_past_keep_raw_for_and_keeps_what_it_made_of_it() {
    let app = app();
    let forty_days_ago = crate::helpers::days_from_now(-40);
    app.tend_with(
        &[
            "--now",
            &forty_days_ago,
            "inbound",
            &fixture("auto-en-exchange.eml"),
        ],
        ENV,
    )
    .ok();
    tend(&app, &["inbound", &fixture("arf-aol.eml")]).ok();
    // Any way in turns inbound on; the forgetting runs at start, then daily.
    let daemon = app.spawn_daemon(&[
        ("TEND__INBOUND__KEEP_RAW_FOR", "30d"),
        (
            "TEND__INBOUND__WEBHOOKS__MAILGUN_SIGNING_KEY",
            "key-for-a-test",
        ),
    ]);
    let line = daemon
        .logs
        .wait_for("retention: forgot what is past", Duration::from_secs(30));
    assert!(line.contains("inbound_raw=1"), "{line}");
    let old = tend(&app, &["inbound", "show", "1", "--raw"]);
    assert_ne!(old.code, 0);
    assert!(
        old.stderr
            .contains("message #1's raw text is no longer kept (inbound.keep_raw_for)"),
        "{}",
        old.stderr
    );
    let detail = json(&app, &["inbound", "show", "1"]);
    assert_eq!(detail["raw_kept"], false);
    assert_eq!(detail["kind"], "auto_reply");
    assert_eq!(detail["classification"]["kind"]["kind"], "auto_reply");
    let recent = tend(&app, &["inbound", "show", "2", "--raw"]).ok();
    assert_eq!(
        recent.stdout.as_bytes(),
        std::fs::read(fixture("arf-aol.eml")).unwrap()
    );
}
