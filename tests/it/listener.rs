//! The daemon's public listener under abuse, against the real `tend run`
//! over real TCP: floods of link requests get 429 (a forged
//! `X-Forwarded-For` does not help) while the daemon keeps sending; a client
//! that sends its request head or body too slowly is cut off while others
//! are served; oversized bodies and heads are refused; one address cannot
//! hold every connection; answers carry security headers and no internal
//! error text.

use crate::helpers::{Daemon, TestApp, http_raw, http_request_with};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const BLAST: &str = r#"
description = "One message to every new contact"
segment = { stage = "new" }
[[steps]]
after = "0d"
template = "welcome/hello"
"#;

fn app_with_contacts(count: usize) -> TestApp {
    let app = TestApp::with_smtp(&[]);
    for entry in std::fs::read_dir(app.path("campaigns")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    app.write("campaigns/blast.toml", BLAST);
    let mut csv = String::from("email,name,created_at\n");
    for i in 0..count {
        csv += &format!("c{i}@d{}.test,Client {i},2026-03-09\n", i % 7);
    }
    app.import_contacts(&csv);
    app
}

fn status_of(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap_or("");
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads until the server closes; `None` if it kept the connection open
/// past `patience`.
fn read_until_closed(stream: &mut TcpStream, patience: Duration) -> Option<String> {
    stream.set_read_timeout(Some(patience)).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&all).into_owned()),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&all).into_owned());
            }
            Err(_) => return None,
        }
    }
}

fn daemon(app: &TestApp, env: &[(&str, &str)]) -> (Daemon, SocketAddr) {
    let daemon = app.spawn_daemon(env);
    let addr = daemon.http_addr();
    (daemon, addr)
}

#[test]
fn a_flood_of_link_requests_gets_429_while_the_daemon_keeps_sending() {
    const CONTACTS: usize = 400;
    let app = app_with_contacts(CONTACTS);
    let (_daemon, addr) = daemon(
        &app,
        &[
            ("TEND__HTTP__LIMITS__LINKS", "30/min"),
            // Slow enough that the flood happens while mail is going out.
            ("TEND__SENDING__RATE", "100"),
        ],
    );
    let flood_started = Instant::now();
    let flooders: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut codes = Vec::new();
                for i in 0..40 {
                    // Each request claims to come from somewhere else; the
                    // daemon is not behind a proxy it trusts, so it counts
                    // the connection's own address.
                    let forged = format!("198.51.100.{}", t * 40 + i);
                    let (status, _) = http_request_with(
                        addr,
                        "GET",
                        "/c/not-a-real-token",
                        &[("X-Forwarded-For", forged.as_str())],
                        "",
                    );
                    codes.push(status);
                }
                codes
            })
        })
        .collect();
    let codes: Vec<u16> = flooders
        .into_iter()
        .flat_map(|f| f.join().unwrap())
        .collect();
    // The budget is 30 at once, then one more every 2 s.
    let refilled = flood_started.elapsed().as_secs() as usize / 2 + 1;
    let refused = codes.iter().filter(|c| **c == 429).count();
    let answered = codes.iter().filter(|c| **c == 400).count();
    assert_eq!(
        refused + answered,
        codes.len(),
        "only 400 and 429: {codes:?}"
    );
    assert!(
        (30..=30 + refilled).contains(&answered),
        "the budget of 30 (plus {refilled} refilled meanwhile) was answered: {answered}"
    );
    assert!(refused >= 200, "{refused}");
    let limited = http_raw(addr, "GET", "/u/not-a-real-token", None);
    assert_eq!(status_of(&limited), 429, "{limited}");
    let wait: u64 = header(&limited, "retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=2).contains(&wait),
        "one request refills every 2 s: {wait}"
    );
    // Other budgets are untouched: health and metrics still answer.
    let health = http_raw(addr, "GET", "/healthz", None);
    assert_eq!(status_of(&health), 200, "{health}");
    let metrics = http_raw(addr, "GET", "/metrics", None);
    let line = metrics
        .lines()
        .find(|l| l.starts_with("tend_http_rate_limited_total{kind=\"links\"}"))
        .unwrap_or_else(|| panic!("{metrics}"));
    let counted: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(counted >= refused as f64, "{line} vs {refused}");
    // And every message still went out, once.
    let received = app.smtp().wait_for(CONTACTS, Duration::from_secs(120));
    let mut recipients: Vec<_> = received.iter().map(|m| m.rcpt_tos[0].clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), CONTACTS);
    assert_eq!(received.len(), CONTACTS, "no duplicates");
}

#[test]
fn a_slow_client_is_cut_off_and_others_are_still_served() {
    let app = app_with_contacts(1);
    let (_daemon, addr) = daemon(
        &app,
        &[
            ("TEND__HTTP__LIMITS__HEADER_TIMEOUT", "1s"),
            ("TEND__HTTP__LIMITS__REQUEST_TIMEOUT", "2s"),
            ("TEND__HTTP__EVENTS_TOKEN", "t0ken"),
        ],
    );
    // Slowloris: a request head that never ends.
    let mut dribbling = TcpStream::connect(addr).unwrap();
    dribbling
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: 1\r\n")
        .unwrap();
    // A connection that never says anything.
    let mut silent = TcpStream::connect(addr).unwrap();
    // A body that never arrives in full.
    let mut slow_body = TcpStream::connect(addr).unwrap();
    slow_body
        .write_all(
            b"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"email\"",
        )
        .unwrap();
    let started = Instant::now();
    // Meanwhile a well-behaved client is served at once.
    let (status, _) = http_request_with(addr, "GET", "/healthz", &[], "");
    assert_eq!(status, 200);

    let cut = read_until_closed(&mut dribbling, Duration::from_secs(15))
        .expect("the dribbling client was cut off");
    assert!(
        cut.is_empty() || status_of(&cut) == 408,
        "nothing but a timeout answer: {cut:?}"
    );
    read_until_closed(&mut silent, Duration::from_secs(15)).expect("the silent client was cut off");
    let answer = read_until_closed(&mut slow_body, Duration::from_secs(15))
        .expect("the slow body was cut off");
    assert_eq!(status_of(&answer), 408, "{answer}");
    // Cut off by the limits (1 s and 2 s), not by the test's patience.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn oversized_requests_are_refused_and_the_listener_goes_on() {
    let app = app_with_contacts(1);
    let (_daemon, addr) = daemon(
        &app,
        &[
            ("TEND__HTTP__LIMITS__MAX_BODY_BYTES", "65536"),
            ("TEND__HTTP__EVENTS_TOKEN", "t0ken"),
        ],
    );
    let big = format!(
        "[{}]",
        vec![r#"{"email":"c0@d0.test","kind":"purchase"}"#; 3000].join(",")
    );
    assert!(big.len() > 65536);
    let (status, body) = http_request_with(
        addr,
        "POST",
        "/events",
        &[
            ("Authorization", "Bearer t0ken"),
            ("Content-Type", "application/json"),
        ],
        &big,
    );
    assert_eq!(status, 413, "{body}");
    // A head far beyond 16 KiB (the default).
    let cookie = "a".repeat(64 * 1024);
    let mut stream = TcpStream::connect(addr).unwrap();
    let _ = stream.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n").as_bytes(),
    );
    let answer = read_until_closed(&mut stream, Duration::from_secs(15)).unwrap();
    assert_eq!(status_of(&answer), 431, "{answer:.200}");
    // Nothing was recorded, and the listener is fine.
    let small = r#"[{"email":"c0@d0.test","kind":"purchase"}]"#;
    let (status, body) = http_request_with(
        addr,
        "POST",
        "/events",
        &[
            ("Authorization", "Bearer t0ken"),
            ("Content-Type", "application/json"),
        ],
        small,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"stored\":1,\"duplicates\":0"), "{body}");
}

#[test]
fn one_address_cannot_hold_every_connection() {
    let app = app_with_contacts(1);
    let (_daemon, addr) = daemon(
        &app,
        &[("TEND__HTTP__LIMITS__MAX_CONNECTIONS_PER_CLIENT", "3")],
    );
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // The three are really open: each answers a request and stays open.
    for mut stream in &held {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
    }
    let mut fourth = TcpStream::connect(addr).unwrap();
    let _ = fourth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = read_until_closed(&mut fourth, Duration::from_secs(10))
        .expect("the fourth connection was closed");
    assert!(answer.is_empty(), "closed without an answer: {answer}");
    drop(held);
    // Once they are gone, the address is served again (the daemon frees
    // their places as it notices the closes).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = TcpStream::connect(addr).unwrap();
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = read_until_closed(&mut stream, Duration::from_secs(10)).unwrap_or_default();
        if status_of(&answer) == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never served again");
    }
}

#[test]
fn pages_carry_security_headers_and_answers_no_internals() {
    let app = app_with_contacts(1);
    let (_daemon, addr) = daemon(&app, &[]);
    let page = http_raw(addr, "GET", "/u/not-a-real-token", None);
    assert_eq!(status_of(&page), 400);
    assert!(
        header(&page, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let csp = header(&page, "content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(&page, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&page, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&page, "referrer-policy"), Some("no-referrer"));
    let health = http_raw(addr, "GET", "/healthz", None);
    assert_eq!(header(&health, "x-content-type-options"), Some("nosniff"));
    // Broken input is answered plainly, without a parser's insides.
    let (status, body) = http_request_with(
        addr,
        "POST",
        "/inbound/mailgun",
        &[("Content-Type", "application/json")],
        "{not json",
    );
    assert!(matches!(status, 400 | 401 | 404), "{status} {body}");
    for leak in ["panicked", "src/", "sqlx", "at line", "backtrace"] {
        assert!(!body.contains(leak), "{body}");
    }
}
