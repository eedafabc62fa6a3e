//! Running as a service, with real processes: the systemd unit verifies,
//! the notify protocol is spoken, a broken campaign file never stops the
//! mail and a fixed one goes live without a restart, SIGTERM during a slow
//! drain exits cleanly with nothing lost, and /metrics agrees with the
//! SMTP server.

use crate::helpers::{TestApp, hours_from_now, http_request, repo};
use crate::smtp::SmtpServer;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

const CONTACTS: &str =
    "email,name,created_at\nnew1@example.com,Nora,2026-03-09\nnew2@example.com,Ned,2026-03-08\n";

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        if std::env::var("TEND_REQUIRE_TOOLS").is_ok() {
            panic!(
                "systemd-analyze is required here (TEND_REQUIRE_TOOLS): install the `systemd` package"
            );
        }
        eprintln!(
            "SKIPPED: systemd-analyze is missing (install the `systemd` package to verify the unit)"
        );
        return;
    };
    assert!(out.status.success());
    // verify checks that ExecStart exists: point it at the binary under test.
    let unit = std::fs::read_to_string(repo().join("contrib/tend.service")).unwrap();
    assert!(
        unit.contains("Type=notify")
            && unit.contains("WatchdogSec=")
            && unit.contains("Restart=on-failure")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tend.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/tend", env!("CARGO_BIN_EXE_tend")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("tend.service"),
        "no warnings about the unit: {stderr}"
    );
}

fn datagrams(socket: &UnixDatagram, until: &str, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        socket
            .set_read_timeout(Some(deadline - Instant::now()))
            .unwrap();
        match socket.recv(&mut buf) {
            Ok(n) => {
                let message = String::from_utf8_lossy(&buf[..n]).to_string();
                let done = message.starts_with(until);
                seen.push(message);
                if done {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no `{until}` notification; got {seen:?}");
}

#[test]
fn the_daemon_speaks_the_systemd_notify_protocol() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(CONTACTS);
    let socket_path = app.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let daemon = app.spawn_daemon(&[
        ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "400000"),
    ]);
    let first = datagrams(&socket, "READY=1", Duration::from_secs(30));
    assert_eq!(
        first,
        ["READY=1"],
        "READY=1 comes first, after migrations and the first load"
    );
    let running = datagrams(&socket, "STATUS=running", Duration::from_secs(30));
    assert!(running.last().unwrap().contains("2 sent"), "{running:?}");
    datagrams(&socket, "WATCHDOG=1", Duration::from_secs(30));
    let pid = daemon.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    datagrams(&socket, "STOPPING=1", Duration::from_secs(30));
    assert_eq!(daemon.terminate(), Some(0));
}

#[test]
fn the_watchdog_is_fed_while_a_slow_round_keeps_making_progress() {
    // Every message takes the server 0.6 s: one round over ten messages on
    // one connection lasts six seconds, far longer than the watchdog's
    // 0.5 s ping interval.
    let app = TestApp::with_smtp(&["--stall-data", "0.6"]);
    let mut csv = String::from("email,name,created_at\n");
    for i in 0..10 {
        csv += &format!("slow{i}@example.com,Sue,2026-03-09\n");
    }
    app.import_contacts(&csv);
    let socket_path = app.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let _daemon = app.spawn_daemon(&[
        ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "1000000"),
        ("TEND__SMTP__CONNECTIONS", "1"),
    ]);
    datagrams(&socket, "READY=1", Duration::from_secs(30));
    // The pings between the first and the last message of the round.
    let reader = std::thread::spawn(move || {
        datagrams(&socket, "STATUS=running: 10 sent", Duration::from_secs(60))
    });
    app.smtp().wait_for(1, Duration::from_secs(30));
    let seen = reader.join().unwrap();
    let pings = seen.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(
        pings >= 5,
        "the watchdog keeps being fed while sends progress: {pings} pings in {seen:?}"
    );
}

#[test]
fn a_broken_campaign_file_keeps_the_last_good_version_running_and_a_fix_goes_live() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts("email,name,created_at\nfirst@example.com,Fay,2026-03-09\n");
    let daemon = app.spawn_daemon(&[("TEND__DAEMON__TICK", "1s")]);
    app.smtp().wait_for(1, Duration::from_secs(30));

    let good = std::fs::read_to_string(app.path("campaigns/welcome.toml")).unwrap();
    app.write(
        "campaigns/welcome.toml",
        &good.replace("stage = \"new\"", "stage = \"new"),
    );
    let error = daemon
        .logs
        .wait_for("campaigns/welcome.toml:", Duration::from_secs(30));
    assert!(
        error.contains("campaigns/welcome.toml:2:27: error: invalid TOML"),
        "the error names file:line:col: {error}"
    );
    daemon.logs.wait_for(
        "reload failed; still running the last good",
        Duration::from_secs(30),
    );

    // Still sending with the old version.
    app.import_contacts("email,name,created_at\nsecond@example.com,Sam,2026-03-09\n");
    let received = app.smtp().wait_for(2, Duration::from_secs(30));
    let subject = received[1].header("Subject").unwrap();
    assert!(subject.contains("Sam"), "{subject}");
    let status = app.tend(&["status"]).ok().stdout;
    assert!(status.contains("last reload: FAILED"), "{status}");

    // A fix (with a new subject) goes live without a restart.
    let template = std::fs::read_to_string(app.path("templates/welcome/hello.tera")).unwrap();
    // One fixed subject in place of the template's variants.
    let start = template.find("subject = ").unwrap();
    let end = start + template[start..].find("}'''\n").unwrap() + 5;
    app.write(
        "templates/welcome/hello.tera",
        &format!(
            "{}subject = \"A warm welcome, {{{{ contact.first_name }}}}\"\n{}",
            &template[..start],
            &template[end..]
        ),
    );
    app.write("campaigns/welcome.toml", &good);
    daemon
        .logs
        .wait_for("reloaded campaigns and templates", Duration::from_secs(30));
    app.import_contacts("email,name,created_at\nthird@example.com,Tia,2026-03-09\n");
    let received = app.smtp().wait_for(3, Duration::from_secs(30));
    assert_eq!(
        received[2].header("Subject").as_deref(),
        Some("A warm welcome, Tia")
    );
    assert_eq!(daemon.terminate(), Some(0));
}

#[test]
fn sigterm_during_a_slow_drain_exits_cleanly_and_loses_nothing() {
    let mut app = TestApp::with_smtp(&["--stall-data", "1"]);
    let mut csv = String::from("email,name,created_at\n");
    for i in 0..6 {
        csv += &format!("c{i}@example.com,C{i},2026-03-09\n");
    }
    app.import_contacts(&csv);
    let daemon = app.spawn_daemon(&[
        ("TEND__SMTP__CONNECTIONS", "1"),
        ("TEND__DAEMON__SHUTDOWN_GRACE", "20s"),
    ]);
    app.smtp().wait_for(1, Duration::from_secs(30));
    let stopped_at = Instant::now();
    assert_eq!(daemon.terminate(), Some(0));
    assert!(
        stopped_at.elapsed() < Duration::from_secs(20),
        "exits within the grace period"
    );

    let delivered = app.smtp().received().len();
    assert!(
        (1..6).contains(&delivered),
        "stopped mid-drain: {delivered} delivered"
    );
    let status: serde_json::Value =
        serde_json::from_str(&app.tend(&["status", "--json"]).ok().stdout).unwrap();
    let count = |state: &str| -> u64 {
        status["outbox"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["state"] == state)
            .map(|c| c["count"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        count("sent") as usize,
        delivered,
        "every accepted message is recorded as sent"
    );
    assert_eq!(count("sending") + count("in_doubt"), 0, "nothing half-sent");
    assert_eq!(
        count("queued") as usize,
        6 - delivered,
        "the rest waits in the queue"
    );

    // After a restart the rest goes out, each message exactly once.
    let first = app.smtp().received();
    app.smtp = Some(SmtpServer::start());
    app.run_once(&hours_from_now(1));
    let mut all: Vec<String> = first
        .iter()
        .chain(app.smtp().received().iter())
        .map(|r| r.rcpt_tos[0].clone())
        .collect();
    all.sort();
    let expected: Vec<String> = (0..6).map(|i| format!("c{i}@example.com")).collect();
    assert_eq!(all, expected);
}

#[test]
fn metrics_agree_with_the_smtp_server() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(CONTACTS);
    let daemon = app.spawn_daemon(&[("TEND__HTTP__EVENTS_TOKEN", "ops-token-123")]);
    let addr = daemon.http_addr();
    app.smtp().wait_for(2, Duration::from_secs(30));
    // The server has the messages before tend records them: wait for the round's end.
    daemon
        .logs
        .wait_for("round done: sent 2", Duration::from_secs(30));
    let (status, body) = http_request(addr, "GET", "/metrics", "");
    assert_eq!(status, 200);
    let value = |name: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no `{name}` in:\n{body}"))
    };
    let received = app.smtp().received().len() as f64;
    assert_eq!(
        value("tend_sends_total{campaign=\"welcome\",result=\"sent\"}"),
        received
    );
    assert_eq!(value("tend_outbox{state=\"sent\"}"), received);
    assert_eq!(value("tend_in_doubt"), 0.0);
    assert!(body.contains("tend_smtp_seconds_bucket"), "{body}");
    assert!(
        body.contains("tend_reloads_total") || body.contains("# HELP tend_reloads_total"),
        "{body}"
    );
    // The HTML report is served behind the same bearer token as /events.
    let (status, _) = http_request(addr, "GET", "/reports/welcome", "");
    assert_eq!(status, 401);
    let (status, page) = crate::helpers::http_request_with(
        addr,
        "GET",
        "/reports/welcome",
        &[("Authorization", "Bearer ops-token-123")],
        "",
    );
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"rate-chart\"") && page.contains("<svg"),
        "{page}"
    );
    let (status, health) = http_request(addr, "GET", "/healthz", "");
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"database\":\"ok\""), "{health}");
    assert_eq!(daemon.terminate(), Some(0));
}

#[test]
fn sends_of_a_removed_campaign_are_cancelled_not_sent() {
    let mut app = TestApp::with_smtp(&["--rule", "new1@example.com=450"]);
    app.import_contacts(CONTACTS);
    app.run_once(crate::helpers::NOW);
    assert_eq!(
        app.smtp().received().len(),
        1,
        "new2 got the welcome, new1 was deferred"
    );

    std::fs::remove_file(app.path("campaigns/welcome.toml")).unwrap();
    std::fs::remove_dir_all(app.path("templates/welcome")).unwrap();
    app.smtp = Some(SmtpServer::start());
    let out = app.run_once(&hours_from_now(2));
    assert!(out.stdout.contains("cancelled 1"), "{}", out.stdout);
    assert!(
        app.smtp().received().is_empty(),
        "nothing is sent for a campaign that no longer exists"
    );
}
