//! The audit log from the outside: every administrative change made with
//! the command line (suppress, unsuppress, undo, key rotation and
//! retirement, erasure) and a reload the daemon decided on is listed by
//! `tend audit`, newest first, with who, when and what — and an erasure's
//! entry does not bring back what was erased.

use crate::helpers::TestApp;
use crate::privacy::{ADDRESS, NAME, lived_in};
use serde_json::Value;
use std::time::Duration;

fn as_ops(app: &TestApp, args: &[&str]) -> crate::helpers::Output {
    // Without the tests' fixed secret, so the keys live in the database
    // and can be rotated there.
    app.tend_with(
        args,
        &[
            ("USER", "ops-alice"),
            ("SUDO_USER", ""),
            ("TEND__HTTP__SECRET", ""),
        ],
    )
    .ok()
}

fn audit(app: &TestApp, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "--json"];
    all.extend_from_slice(args);
    let out = app.tend(&all).ok();
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_administrative_change_is_listed_with_who_when_and_what() {
    let app = TestApp::with_smtp(&[]);
    lived_in(&app);
    assert!(audit(&app, &[]).is_empty(), "nothing changed by hand yet");

    as_ops(
        &app,
        &[
            "suppress",
            "add",
            "example.org",
            "--reason",
            "manual",
            "--detail",
            "asked by phone",
        ],
    );
    as_ops(&app, &["suppress", "remove", "example.org"]);
    as_ops(
        &app,
        &["inbound", "undo", "1", "--note", "not a real reply"],
    );
    as_ops(&app, &["keys", "rotate"]);
    let keys: Value =
        serde_json::from_str(&as_ops(&app, &["keys", "list", "--json"]).stdout).unwrap();
    let old = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "verifying")
        .unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    as_ops(&app, &["keys", "retire", &old]);
    as_ops(&app, &["contacts", "erase", ADDRESS, "--yes"]);
    // A change that changes nothing is not one.
    let again = app.tend_with(
        &["suppress", "remove", "example.org"],
        &[("USER", "ops-alice")],
    );
    assert_eq!(again.code, 1);

    let entries = audit(&app, &[]);
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "erase",
            "retire_key",
            "rotate_key",
            "undo_inbound",
            "unsuppress",
            "suppress"
        ],
        "newest first: {entries:#?}"
    );
    assert!(
        entries.iter().all(|e| e["actor"] == "cli:ops-alice"),
        "{entries:#?}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["at"].as_str().is_some_and(|t| !t.is_empty()))
    );
    let suppress = &entries[5];
    assert_eq!(suppress["subject"], "example.org");
    assert_eq!(suppress["detail"], "manual: asked by phone");
    assert_eq!(entries[3]["subject"], "inbound #1");
    assert!(
        entries[3]["detail"]
            .as_str()
            .unwrap()
            .contains("not a real reply"),
        "{:#?}",
        entries[3]
    );
    assert_eq!(entries[1]["subject"], format!("link key {old}"));
    let erase = &entries[0];
    assert!(
        erase["subject"].as_str().unwrap().starts_with("contact #"),
        "{erase:#?}"
    );
    // The log keeps that someone was erased, never who.
    let text = serde_json::to_string(&entries).unwrap().to_lowercase();
    assert!(
        !text.contains(ADDRESS) && !text.contains(&NAME.to_lowercase()),
        "{text}"
    );

    // Filters narrow it down.
    let suppressions = audit(&app, &["--action", "suppress"]);
    assert_eq!(suppressions.len(), 1);
    assert_eq!(audit(&app, &["--subject", "inbound"]).len(), 1);
    assert_eq!(audit(&app, &["--actor", "cli:somebody-else"]).len(), 0);
    let text = app.tend(&["audit"]).ok().stdout;
    assert!(
        text.contains("cli:ops-alice") && text.contains("unsuppress"),
        "{text}"
    );
}

#[test]
fn a_reload_the_daemon_made_is_in_the_audit_log_accepted_or_not() {
    let app = TestApp::with_smtp(&[]);
    let daemon = app.spawn_daemon(&[]);
    daemon
        .logs
        .wait_for("tend is running", Duration::from_secs(30));
    app.write("campaigns/broken.toml", "segment = { stage = \"nope\" \n");
    std::process::Command::new("kill")
        .args(["-HUP", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    daemon
        .logs
        .wait_for("reload failed", Duration::from_secs(30));
    std::fs::remove_file(app.path("campaigns/broken.toml")).unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    daemon
        .logs
        .wait_for("reloaded campaigns and templates", Duration::from_secs(30));
    // The log line comes first; the entry is written right after it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let reloads = loop {
        let reloads = audit(&app, &["--action", "reload"]);
        if reloads.len() >= 2 || std::time::Instant::now() > deadline {
            break reloads;
        }
    };
    assert!(reloads.len() >= 2, "{reloads:#?}");
    assert!(
        reloads[0]["detail"]
            .as_str()
            .unwrap()
            .contains("campaign(s) running"),
        "{reloads:#?}"
    );
    assert!(
        reloads
            .iter()
            .any(|r| r["detail"].as_str().unwrap().contains("rejected with")),
        "{reloads:#?}"
    );
    assert!(
        reloads
            .iter()
            .all(|r| r["actor"].as_str().unwrap().starts_with("daemon:")),
        "{reloads:#?}"
    );
}
