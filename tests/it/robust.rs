//! Quietly robust, through the real binary: `tend … | head` ends without a
//! word, an empty environment variable unsets an optional setting, and a
//! contact whose name cannot go into a header still gets the message.

use crate::helpers::{NOW, TestApp, days_from_now};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// Linux pipes hold 64 KiB by default: output beyond that blocks the writer
/// until the reader reads, so closing the reader early makes a write fail.
const PIPE_BUFFER: usize = 64 * 1024;

/// Runs `tend ARGS` with stdout on a pipe whose reader takes one line and
/// goes away (as `head -1` does); returns the exit code and stderr.
fn into_closed_pipe(app: &TestApp, args: &[&str]) -> (Option<i32>, String) {
    let mut child = app
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tend");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(
        !first.is_empty(),
        "`tend {}` printed nothing",
        args.join(" ")
    );
    drop(reader);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn long_listings_end_quietly_when_the_reader_closes_the_pipe() {
    let app = TestApp::without_smtp();
    let contacts = 5_000;
    let mut csv = String::from("email,name,created_at\n");
    let mut events = String::from("email,kind,at,detail\n");
    for i in 0..contacts {
        csv += &format!(
            "client{i:05}@example.com,Client {i},{}\n",
            days_from_now(-2)
        );
    }
    app.import_contacts(&csv);
    // Listed before they are suppressed (a suppressed contact is in no segment).
    let commands: [&[&str]; 3] = [
        &[
            "segment", "list", "welcome", "--limit", "10000", "--now", NOW,
        ],
        &["preview", "welcome", "--sample", "2000", "--now", NOW],
        &[
            "segment", "list", "welcome", "--limit", "10000", "--json", "--now", NOW,
        ],
    ];
    for args in commands {
        let whole = app.tend(args).ok();
        assert!(
            whole.stdout.len() > 2 * PIPE_BUFFER,
            "`tend {}` must print more than a pipe holds ({} bytes)",
            args.join(" "),
            whole.stdout.len()
        );
        let (code, stderr) = into_closed_pipe(&app, args);
        assert_eq!(code, Some(0), "`tend {}`: {stderr}", args.join(" "));
        assert_eq!(stderr, "", "`tend {}` says nothing", args.join(" "));
    }
    for i in 0..contacts {
        events += &format!("client{i:05}@example.com,unsubscribe,{NOW},\n");
    }
    app.write("events.csv", &events);
    app.tend(&["events", "import", "events.csv"]).ok();
    let args = ["suppress", "list"];
    assert!(app.tend(&args).ok().stdout.len() > 2 * PIPE_BUFFER);
    let (code, stderr) = into_closed_pipe(&app, &args);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn an_empty_environment_variable_turns_quiet_hours_off() {
    let app = TestApp::without_smtp();
    let mut config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    config += "quiet_hours = \"21:00-08:00\"\n"; // appended to [sending]
    app.write("config/tend.toml", &config);
    app.import_contacts(&format!(
        "email,name,created_at,timezone\nnight@example.com,Nina,{},UTC\n",
        days_from_now(-1)
    ));
    let night = "2026-03-10T23:00:00Z";

    let quiet = app.tend(&["plan", "--now", night]).ok();
    assert!(
        quiet.stdout.contains("0 due now, 1 in quiet hours"),
        "{}",
        quiet.stdout
    );
    let unset = app
        .tend_with(
            &["plan", "--now", night],
            &[("TEND__SENDING__QUIET_HOURS", "")],
        )
        .ok();
    assert!(
        unset.stdout.contains("step 1 (welcome/hello): 1 due now\n"),
        "{}",
        unset.stdout
    );

    // A setting that needs a value says so instead of quietly using a default.
    let refused = app.tend_with(&["plan", "--now", night], &[("TEND__SENDING__RATE", "")]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("key `sending.rate` cannot be unset: TEND__SENDING__RATE is empty"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_contact_whose_name_cannot_be_a_header_gets_the_message_to_the_bare_address() {
    let app = TestApp::with_smtp(&[]);
    let created = days_from_now(-1);
    let long = "Maximilian ".repeat(50);
    app.import_contacts(&format!(
        "email,name,created_at\n\
         long@example.com,{long},{created}\n\
         inject@example.com,\"Eve\r\nX-Injected: yes\r\nBcc: thief\",{created}\n\
         control@example.com,\u{1}\u{7}\u{1b},{created}\n\
         plain@example.com,Nora New,{created}\n"
    ));
    app.run_once(NOW);
    let received = app.smtp().received();
    let mut recipients: Vec<_> = received.iter().flat_map(|r| r.rcpt_tos.clone()).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        [
            "control@example.com",
            "inject@example.com",
            "long@example.com",
            "plain@example.com"
        ],
        "each contact gets the message, and nobody else"
    );
    let to = |addr: &str| {
        received
            .iter()
            .find(|r| r.rcpt_tos == [addr])
            .unwrap()
            .clone()
    };
    for addr in [
        "long@example.com",
        "inject@example.com",
        "control@example.com",
    ] {
        assert_eq!(to(addr).header("To").as_deref(), Some(addr));
    }
    assert_eq!(
        to("plain@example.com").header("To").as_deref(),
        Some("\"Nora New\" <plain@example.com>")
    );
    let inject = to("inject@example.com");
    assert_eq!(inject.header("X-Injected"), None, "{}", inject.data);
    assert_eq!(inject.header("Bcc"), None, "{}", inject.data);
    // Templates still greet by the first word of the name.
    for (addr, first) in [
        ("long@example.com", "Maximilian"),
        ("inject@example.com", "Eve"),
    ] {
        let subject = to(addr).header("Subject").unwrap();
        assert!(subject.contains(first), "{addr}: {subject}");
    }
    let status = app.tend(&["status", "--json"]).ok();
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let sent: u64 = status["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "sent")
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(sent, 4);
}
