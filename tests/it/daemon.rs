//! The long-running daemon as a real process: it sends what is due and
//! stops cleanly on SIGTERM.

use crate::helpers::{NOW, TestApp};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn the_daemon_sends_what_is_due_and_exits_cleanly_on_sigterm() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(
        "email,name,created_at\nnew1@example.com,Nora,2026-03-09\nnew2@example.com,Ned,2026-03-08\n",
    );
    let child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["run", "--now", NOW])
        .current_dir(app.dir.path())
        .env("TEND__SMTP__PORT", app.smtp().port.to_string())
        .env("TEND__DAEMON__POLL", "1s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let received = app.smtp().wait_for(2, Duration::from_secs(60));
    assert_eq!(received.len(), 2);

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopping"), "{stderr}");
    assert!(
        !stderr.contains("new1@example.com"),
        "full addresses are not logged at info level:\n{stderr}"
    );

    let status = app.tend(&["status", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let sent: u64 = v["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "sent")
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(sent, 2);
    assert_eq!(app.smtp().received().len(), 2, "nothing was sent twice");
}
