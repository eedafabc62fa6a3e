//! A real SMTP server for integration tests, and the means to read what it got.
//!
//! [`SmtpServer::start`] runs `tests/support/smtp_server.py` (aiosmtpd) on a
//! free port of 127.0.0.1; [`SmtpServer::received`] parses what it accepted.
//! The server fsyncs each accepted message to its JSON-lines file *before* it
//! answers 250, so whatever a client saw accepted is already in `received()`.
//! For mail sent in the background (by the daemon), [`SmtpServer::wait_for`]
//! blocks until the server reports enough messages, without polling.
//!
//! Faults are injected with the script's own flags, passed to
//! [`SmtpServer::start_with`]: `--rule ADDR=REPLY` (answer RCPT with REPLY, a
//! bare code or a whole reply, `\n` between the lines of a multi-line one;
//! 421 also hangs up), `--drop ADDR` (reset the connection instead of
//! answering the end of DATA), `--stall-data SECONDS` (delay that answer).
//! While the server runs, [`SmtpServer::set_rules`] changes how it answers
//! the greeting, MAIL FROM, RCPT TO and the end of DATA (the script's
//! `--rules-file`, which wins over `--rule`), and [`SmtpServer::refusals`]
//! lists every refusal it made, so a test can count the attempts that reached
//! it.
//!
//! Needs Python 3 with aiosmtpd (`pip install -r tests/requirements.txt`);
//! set `TEND_TEST_PYTHON` to use another interpreter than `python3`.

// Each test only uses part of the harness.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `smtp_server.py`; killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    out: PathBuf,
    rules: PathBuf,
    refusals: PathBuf,
    shared: Arc<Shared>,
    stdout_reader: Option<JoinHandle<()>>,
    // Holds the jsonl and stderr log files; removed after the child is killed.
    _dir: tempfile::TempDir,
}

/// One accepted message, as the server recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub mail_from: String,
    /// Accepted recipients only: ones refused by a `--rule` are absent.
    pub rcpt_tos: Vec<String>,
    /// The message exactly as received (CRLF line ends, dot-stuffing undone).
    pub data: String,
    /// When the server accepted it, in seconds since the epoch.
    pub at: f64,
}

/// What the server has announced on stdout, fed by a reader thread.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    port: Option<u16>,
    received: usize,
    exited: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test must not turn Drop into a second panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until `done` holds or the server exits, at most `timeout`.
    fn wait(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> MutexGuard<'_, State> {
        let guard = self.lock();
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |s| !done(s) && !s.exited)
            .unwrap_or_else(PoisonError::into_inner);
        guard
    }
}

impl SmtpServer {
    /// Starts a server that accepts every recipient.
    pub fn start() -> SmtpServer {
        Self::start_with(&[])
    }

    /// Starts a server with extra `smtp_server.py` flags,
    /// e.g. `&["--rule", "a@x.org=550"]`.
    pub fn start_with(args: &[&str]) -> SmtpServer {
        let dir = tempfile::tempdir().expect("create a tempdir for the SMTP server");
        let out = dir.path().join("received.jsonl");
        // Absent until `set_rules`: the server then has no file rules.
        let rules = dir.path().join("rules.json");
        let refusals = dir.path().join("refusals.jsonl");
        let log = dir.path().join("stderr.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let python = std::env::var("TEND_TEST_PYTHON").unwrap_or_else(|_| "python3".into());

        let mut child = Command::new(&python)
            .arg(&script)
            .arg("--out")
            .arg(&out)
            .arg("--announce")
            .arg("--rules-file")
            .arg(&rules)
            .arg("--refusals")
            .arg(&refusals)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // A file, not a pipe: nobody drains stderr while tests run.
            .stderr(File::create(&log).expect("create the SMTP server's stderr log"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{python}` for the test SMTP server: {e} (set TEND_TEST_PYTHON?)"
                )
            });

        let shared = Arc::new(Shared::default());
        let stdout = child.stdout.take().expect("child stdout is piped");
        let stdout_reader = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || read_announcements(stdout, &shared))
        };

        let state = shared.wait(STARTUP_TIMEOUT, |s| s.port.is_some());
        let (port, exited) = (state.port, state.exited);
        drop(state);
        let Some(port) = port else {
            let _ = child.kill();
            let status = child.wait();
            let stderr = fs::read_to_string(&log).unwrap_or_default();
            if stderr.contains("aiosmtpd missing") {
                panic!("aiosmtpd missing: run `pip install -r tests/requirements.txt`");
            }
            let why = if exited {
                "exited before printing READY".to_string()
            } else {
                format!("was not READY within {STARTUP_TIMEOUT:?}")
            };
            panic!("test SMTP server {why} (exit: {status:?}); its stderr:\n{stderr}");
        };

        SmtpServer {
            port,
            child,
            out,
            rules,
            refusals,
            shared,
            stdout_reader: Some(stdout_reader),
            _dir: dir,
        }
    }

    /// Every message accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        json_lines(&self.out)
            .iter()
            .map(|line| Received::from_json(line))
            .collect()
    }

    /// Replaces the server's rules file; the server reads it at its next
    /// command. The format is the script's `--rules-file`, e.g.
    /// `json!({"rcpt": [{"match": "*@x.test", "reply": "554 5.7.1 blocked", "times": 2}]})`;
    /// `json!({})` takes every file rule away again. A malformed file makes the
    /// server answer `451 4.3.5 bad rules file: …`.
    pub fn set_rules(&self, rules: serde_json::Value) {
        // Write and rename: the server never reads half a file.
        let tmp = self.rules.with_extension("json.tmp");
        fs::write(&tmp, rules.to_string()).expect("write the SMTP server's rules file");
        fs::rename(&tmp, &self.rules).expect("replace the SMTP server's rules file");
    }

    /// Every refusal made by a rule so far, in order, as
    /// `{"phase": "greeting"|"mail"|"rcpt"|"data_end", "rcpt": ADDR or null, "reply": "554 …"}`
    /// (multi-line replies joined by `\n`). Written before the reply was sent.
    pub fn refusals(&self) -> Vec<serde_json::Value> {
        json_lines(&self.refusals)
            .iter()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("bad refusal line from the SMTP server ({e}): {line}")
                })
            })
            .collect()
    }

    /// Blocks until at least `count` messages were accepted; returns how many
    /// were (cheap: nothing is parsed). Panics after `timeout` or if the server died.
    pub fn wait_count(&self, count: usize, timeout: Duration) -> usize {
        let state = self.shared.wait(timeout, |s| s.received >= count);
        let (got, exited) = (state.received, state.exited);
        drop(state);
        assert!(
            got >= count,
            "expected {count} message(s) within {timeout:?} but got {got} (server exited: {exited})"
        );
        got
    }

    /// Blocks until at least `count` messages were accepted, then returns all
    /// of them; panics after `timeout` or if the server died.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let state = self.shared.wait(timeout, |s| s.received >= count);
        let (got, exited) = (state.received, state.exited);
        drop(state);
        if got < count {
            let why = if exited {
                "the server exited"
            } else {
                "timed out"
            };
            panic!(
                "expected {count} message(s) within {timeout:?} but {why} after {got}: {:#?}",
                self.received()
            );
        }
        self.received()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // SIGKILL loses nothing: every accepted message is already fsynced.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stdout_reader.take() {
            let _ = reader.join();
        }
    }
}

/// The complete lines of a JSON-lines file the server appends to.
fn json_lines(path: &Path) -> Vec<String> {
    let text = match fs::read_to_string(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => String::new(), // nothing yet
        text => text.expect("read a JSON-lines file of the SMTP server"),
    };
    // Lines are written whole, but never trust a line without its newline.
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .map(str::to_string)
        .collect()
}

/// Turns the server's `READY <port>` / `RECEIVED <count>` lines into `State`.
/// Reading until EOF also keeps the pipe drained so the server never blocks.
fn read_announcements(stdout: ChildStdout, shared: &Shared) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let mut state = shared.lock();
        if let Some(port) = line.strip_prefix("READY ") {
            state.port = port.trim().parse().ok();
        } else if let Some(Ok(count)) = line.strip_prefix("RECEIVED ").map(|n| n.trim().parse()) {
            state.received = count;
        }
        shared.changed.notify_all();
    }
    shared.lock().exited = true;
    shared.changed.notify_all();
}

impl Received {
    fn from_json(line: &str) -> Received {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("bad line from the SMTP server ({e}): {line}"));
        let text = |v: &serde_json::Value| v.as_str().expect("a JSON string").to_string();
        Received {
            mail_from: text(&value["mail_from"]),
            rcpt_tos: value["rcpt_tos"]
                .as_array()
                .expect("rcpt_tos array")
                .iter()
                .map(text)
                .collect(),
            data: text(&value["data"]),
            at: value["at"].as_f64().unwrap_or_default(),
        }
    }

    /// The first header called `name` (case-insensitive), unfolded and trimmed.
    /// Encoded words (`=?utf-8?...?=`) are returned as is, not decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut lines = self.split().0.lines().peekable();
        while let Some(line) = lines.next() {
            let Some((field, value)) = line.split_once(':') else {
                continue;
            };
            if line.starts_with([' ', '\t']) || !field.trim_end().eq_ignore_ascii_case(name) {
                continue;
            }
            // RFC 5322 unfolding: drop the line break, keep the whitespace.
            let mut value = value.to_string();
            while let Some(more) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
                value.push_str(more);
            }
            return Some(value.trim().to_string());
        }
        None
    }

    /// Everything after the blank line ending the headers, as sent (no MIME or
    /// transfer-encoding decoding).
    pub fn body(&self) -> String {
        self.split().1.to_string()
    }

    /// (headers, body), split at the first empty line.
    fn split(&self) -> (&str, &str) {
        let mut end = 0;
        for line in self.data.split_inclusive('\n') {
            if line == "\r\n" || line == "\n" {
                return (&self.data[..end], &self.data[end + line.len()..]);
            }
            end += line.len();
        }
        (&self.data, "")
    }
}

// ---- self-tests -------------------------------------------------------------

const WAIT: Duration = Duration::from_secs(20);
const CLOSED: &str = "<connection closed>";

/// Just enough SMTP to drive the server by hand: one command, one reply.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connected, greeted (220) and past EHLO.
    fn connect(port: u16) -> Client {
        let (mut client, greeting) = Client::open(port);
        assert!(
            greeting.last().is_some_and(|l| l.starts_with("220 ")),
            "greeting: {greeting:?}"
        );
        client.cmd("EHLO client.test");
        client
    }

    /// Connected, with the lines of whatever greeting the server sent.
    fn open(port: u16) -> (Client, Vec<String>) {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the SMTP server");
        // Bounds a harness bug to a failed test instead of a hung one.
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut client = Client { stream, reader };
        let greeting = client.reply_lines();
        (client, greeting)
    }

    /// Every line of the next (possibly multi-line) reply as sent, without
    /// its CRLF; empty if the connection closed first.
    fn reply_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return Vec::new(),
                Ok(_) => {
                    let more = line.as_bytes().get(3) == Some(&b'-');
                    lines.push(line.trim_end_matches(['\r', '\n']).to_string());
                    if !more {
                        return lines;
                    }
                }
            }
        }
    }

    /// The last line of the (possibly multi-line) reply, or `CLOSED`.
    fn reply(&mut self) -> String {
        match self.reply_lines().pop() {
            Some(last) => last.trim_end().into(),
            None => CLOSED.into(),
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        match self.stream.write_all(format!("{line}\r\n").as_bytes()) {
            Ok(()) => self.reply(),
            Err(_) => CLOSED.into(),
        }
    }

    /// Like `cmd`, but every line of the reply; empty if the connection closed.
    fn cmd_lines(&mut self, line: &str) -> Vec<String> {
        match self.stream.write_all(format!("{line}\r\n").as_bytes()) {
            Ok(()) => self.reply_lines(),
            Err(_) => Vec::new(),
        }
    }

    /// Sends `message` (LF or CRLF lines) after DATA; returns the final reply.
    fn data(&mut self, message: &str) -> String {
        let go = self.cmd("DATA");
        assert!(go.starts_with("354 "), "DATA got {go}");
        let mut wire = String::new();
        for line in message.lines() {
            // Dot-stuffing, so a leading "." is not taken as the end.
            if line.starts_with('.') {
                wire.push('.');
            }
            wire.push_str(line);
            wire.push_str("\r\n");
        }
        wire.push_str(".\r\n");
        match self.stream.write_all(wire.as_bytes()) {
            Ok(()) => self.reply(),
            Err(_) => CLOSED.into(),
        }
    }

    fn send(&mut self, from: &str, to: &[&str], message: &str) -> String {
        assert!(self.cmd(&format!("MAIL FROM:<{from}>")).starts_with("250 "));
        for rcpt in to {
            assert!(self.cmd(&format!("RCPT TO:<{rcpt}>")).starts_with("250 "));
        }
        self.data(message)
    }
}

const MESSAGE: &str = concat!(
    "From: Tend <drip@tend.test>\n",
    "To: ada@example.com\n",
    "subject: Welcome aboard,\n",
    " Ada\n", // folded
    "X-Tend-Step: 1\n",
    "\n",
    "Hello Ada,\n",
    ".signature line\n", // needs dot-stuffing on the wire
);

#[test]
fn records_an_accepted_message_with_envelope_and_headers() {
    let server = SmtpServer::start();
    let mut client = Client::connect(server.port);

    let reply = client.send(
        "drip@tend.test",
        &["ada@example.com", "bob@example.com"],
        MESSAGE,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    assert!(client.cmd("QUIT").starts_with("221 "));

    // Recorded before the 250, so no waiting is needed here.
    let got = server.received();
    assert_eq!(got.len(), 1);
    let msg = &got[0];
    assert_eq!(msg.mail_from, "drip@tend.test");
    assert_eq!(msg.rcpt_tos, ["ada@example.com", "bob@example.com"]);
    assert_eq!(
        msg.header("Subject").as_deref(),
        Some("Welcome aboard, Ada")
    );
    assert_eq!(msg.header("x-tend-step").as_deref(), Some("1"));
    assert_eq!(msg.header("Cc"), None);
    assert_eq!(msg.body(), "Hello Ada,\r\n.signature line\r\n");
}

#[test]
fn rule_recipient_gets_its_code_and_is_not_recorded() {
    let server = SmtpServer::start_with(&[
        "--rule",
        "Bounce@Example.com=550",
        "--rule",
        "later@example.com=450",
    ]);
    let mut client = Client::connect(server.port);

    client.cmd("MAIL FROM:<drip@tend.test>");
    assert!(
        client
            .cmd("RCPT TO:<bounce@example.com>")
            .starts_with("550 5.1.1")
    );
    assert!(
        client
            .cmd("RCPT TO:<later@example.com>")
            .starts_with("450 4.2.0")
    );
    assert!(client.cmd("RCPT TO:<ada@example.com>").starts_with("250 "));
    assert!(client.data(MESSAGE).starts_with("250 "));

    // With no accepted recipient there is no message at all.
    client.cmd("MAIL FROM:<drip@tend.test>");
    assert!(
        client
            .cmd("RCPT TO:<bounce@example.com>")
            .starts_with("550 ")
    );
    assert!(client.cmd("DATA").starts_with("503 "));

    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_tos, ["ada@example.com"]);
}

#[test]
fn rule_421_hangs_up_after_replying() {
    let server = SmtpServer::start_with(&["--rule", "busy@example.com=421"]);
    let mut client = Client::connect(server.port);

    client.cmd("MAIL FROM:<drip@tend.test>");
    assert!(
        client
            .cmd("RCPT TO:<busy@example.com>")
            .starts_with("421 4.3.0")
    );
    assert_eq!(client.reply(), CLOSED);
    assert!(server.received().is_empty());
}

#[test]
fn drop_recipient_kills_the_connection_during_data() {
    let server = SmtpServer::start_with(&["--drop", "gone@example.com"]);
    let mut client = Client::connect(server.port);

    client.cmd("MAIL FROM:<drip@tend.test>");
    assert!(client.cmd("RCPT TO:<gone@example.com>").starts_with("250 "));
    assert_eq!(client.data(MESSAGE), CLOSED);
    assert!(server.received().is_empty());

    // Only that connection died; the server still takes mail.
    let mut client = Client::connect(server.port);
    assert!(
        client
            .send("drip@tend.test", &["ada@example.com"], MESSAGE)
            .starts_with("250 ")
    );
    assert_eq!(server.received().len(), 1);
}

#[test]
fn wait_for_sees_mail_sent_in_the_background_on_one_connection() {
    let server = SmtpServer::start();
    let port = server.port;
    let sender = thread::spawn(move || {
        let mut client = Client::connect(port);
        for step in 1..=3 {
            let message = MESSAGE.replace("X-Tend-Step: 1", &format!("X-Tend-Step: {step}"));
            assert!(
                client
                    .send("drip@tend.test", &["ada@example.com"], &message)
                    .starts_with("250 ")
            );
            assert!(client.cmd("RSET").starts_with("250 "));
        }
    });

    let got = server.wait_for(3, WAIT);
    sender.join().unwrap();
    let steps: Vec<_> = got
        .iter()
        .map(|m| m.header("X-Tend-Step").unwrap())
        .collect();
    assert_eq!(steps, ["1", "2", "3"]);
}

#[test]
fn received_header_and_body_handle_lf_only_and_missing_body() {
    let msg = |data: &str| Received {
        mail_from: String::new(),
        rcpt_tos: vec![],
        data: data.into(),
        at: 0.0,
    };

    let lf = msg("Subject: a\n\tb\nSubject: second\n\nbody\n");
    assert_eq!(lf.header("SUBJECT").as_deref(), Some("a\tb"));
    assert_eq!(lf.body(), "body\n");

    let headers_only = msg("To: x@example.com\r\n");
    assert_eq!(headers_only.header("to").as_deref(), Some("x@example.com"));
    assert_eq!(headers_only.body(), "");
}

// ---- replies like real relays: whole replies, a rules file, the refusals log

/// `(phase, rcpt)` of each refusal the server logged.
fn refused(server: &SmtpServer) -> Vec<(String, Option<String>)> {
    server
        .refusals()
        .iter()
        .map(|r| {
            (
                r["phase"].as_str().expect("phase").to_string(),
                r["rcpt"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn rule_answers_with_a_whole_reply_and_multi_line_replies_exactly() {
    let server = SmtpServer::start_with(&[
        "--rule",
        "*@x.test=554 5.7.1 Service unavailable; client host [127.0.0.1] blocked using zen.spamhaus.org",
        "--rule",
        r"gone@example.com=550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 Please try double-checking",
        "--rule",
        "full@example.com=452 4.2.2 Over quota\nno code on this line",
    ]);
    let mut client = Client::connect(server.port);
    client.cmd("MAIL FROM:<drip@tend.test>");

    let blocked = client.cmd_lines("RCPT TO:<ada@x.test>");
    assert_eq!(
        blocked,
        ["554 5.7.1 Service unavailable; client host [127.0.0.1] blocked using zen.spamhaus.org"]
    );
    assert_eq!(
        client.cmd_lines("RCPT TO:<gone@example.com>"),
        [
            "550-5.1.1 The email account that you tried to reach does not exist.",
            "550 5.1.1 Please try double-checking",
        ]
    );
    assert_eq!(
        client.cmd_lines("RCPT TO:<full@example.com>"),
        ["452-4.2.2 Over quota", "452 no code on this line"]
    );
    assert!(client.cmd("RCPT TO:<ada@example.com>").starts_with("250 "));

    // What the wire carried reads as tend reads it: about us, not the recipient.
    use tend::send::reply::{Phase, Refusal, Reply, Verdict, classify};
    let lines: Vec<&str> = blocked.iter().map(String::as_str).collect();
    let verdict = classify(Phase::RcptTo, &Reply::parse(&lines).unwrap()).verdict;
    assert_eq!(verdict, Verdict::Refused(Refusal::Reputation));

    let log = server.refusals();
    assert_eq!(log.len(), 3);
    assert_eq!(
        log[1],
        serde_json::json!({
            "phase": "rcpt",
            "rcpt": "gone@example.com",
            "reply": "550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 Please try double-checking",
        })
    );
}

#[test]
fn rules_file_switches_from_refusing_to_accepting_while_the_server_runs() {
    let server = SmtpServer::start();
    let mut client = Client::connect(server.port);
    assert!(client.cmd("MAIL FROM:<drip@tend.test>").starts_with("250 "));

    server.set_rules(serde_json::json!({
        "rcpt": [{"match": "*@example.com", "reply": "554 5.7.1 client host [127.0.0.1] blocked"}],
    }));
    // Read at the next command, on a connection opened before the change.
    assert_eq!(
        client.cmd("RCPT TO:<ada@example.com>"),
        "554 5.7.1 client host [127.0.0.1] blocked"
    );
    assert!(client.cmd("RCPT TO:<Bob@EXAMPLE.com>").starts_with("554 "));
    assert!(client.cmd("RCPT TO:<cy@other.test>").starts_with("250 "));

    server.set_rules(serde_json::json!({}));
    assert!(client.cmd("RCPT TO:<ada@example.com>").starts_with("250 "));
    assert!(client.data(MESSAGE).starts_with("250 "));

    assert_eq!(
        server.received()[0].rcpt_tos,
        ["cy@other.test", "ada@example.com"]
    );
    assert_eq!(
        refused(&server),
        [
            ("rcpt".to_string(), Some("ada@example.com".to_string())),
            ("rcpt".to_string(), Some("Bob@EXAMPLE.com".to_string())),
        ]
    );
}

#[test]
fn times_refuses_the_first_attempts_of_each_address_then_accepts() {
    let server = SmtpServer::start();
    server.set_rules(serde_json::json!({
        "rcpt": [{"match": "*@example.com", "reply": "451 4.7.1 try again later", "times": 2}],
    }));
    let attempt = |rcpt: &str| {
        // A new connection each time: the count is per address, not per session.
        let mut client = Client::connect(server.port);
        client.cmd("MAIL FROM:<drip@tend.test>");
        client.cmd(&format!("RCPT TO:<{rcpt}>"))
    };

    assert!(attempt("ada@example.com").starts_with("451 4.7.1"));
    assert!(attempt("ada@example.com").starts_with("451 4.7.1"));
    assert!(attempt("bob@example.com").starts_with("451 4.7.1")); // its own count
    assert!(attempt("ada@example.com").starts_with("250 "));
    assert!(attempt("ada@example.com").starts_with("250 "));
    assert!(attempt("bob@example.com").starts_with("451 4.7.1"));
    assert!(attempt("bob@example.com").starts_with("250 "));
    assert_eq!(server.refusals().len(), 4);

    // A new version of the file counts afresh.
    server.set_rules(serde_json::json!({
        "rcpt": [{"match": "ada@*", "reply": "450 4.2.0 greylisted", "times": 1}],
    }));
    assert!(attempt("ada@example.com").starts_with("450 4.2.0"));
    assert!(attempt("ada@example.com").starts_with("250 "));
    assert_eq!(server.refusals().len(), 5);
}

#[test]
fn greeting_and_mail_rules_refuse_and_a_refused_greeting_hangs_up() {
    let server = SmtpServer::start();
    server.set_rules(serde_json::json!({
        "greeting": "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.1",
    }));
    let (mut client, greeting) = Client::open(server.port);
    assert_eq!(
        greeting,
        ["554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.1"]
    );
    assert_eq!(client.reply(), CLOSED);

    server.set_rules(serde_json::json!({"greeting": null, "mail": 550}));
    let mut client = Client::connect(server.port);
    assert_eq!(
        client.cmd("MAIL FROM:<drip@tend.test>"),
        "550 5.1.1 mailbox unavailable"
    );
    // The refused MAIL FROM opened no transaction.
    assert!(client.cmd("RCPT TO:<ada@example.com>").starts_with("503 "));

    server.set_rules(serde_json::json!({}));
    assert!(
        client
            .send("drip@tend.test", &["ada@example.com"], MESSAGE)
            .starts_with("250 ")
    );
    assert_eq!(server.received().len(), 1);
    assert_eq!(
        refused(&server),
        [("greeting".to_string(), None), ("mail".to_string(), None)]
    );
}

#[test]
fn data_end_rule_refuses_the_message_and_records_nothing() {
    let server = SmtpServer::start();
    server.set_rules(serde_json::json!({
        "data_end": [{
            "match": "ada@example.com",
            "reply": "554 5.7.1 [CS01] Message rejected due to local policy",
        }],
    }));
    let mut client = Client::connect(server.port);

    let reply = client.send("drip@tend.test", &["ada@example.com"], MESSAGE);
    assert_eq!(
        reply,
        "554 5.7.1 [CS01] Message rejected due to local policy"
    );
    assert!(server.received().is_empty());

    // The session goes on; another recipient's message is taken.
    assert!(
        client
            .send("drip@tend.test", &["bob@example.com"], MESSAGE)
            .starts_with("250 ")
    );
    assert_eq!(server.received()[0].rcpt_tos, ["bob@example.com"]);
    assert_eq!(
        refused(&server),
        [("data_end".to_string(), Some("ada@example.com".to_string()))]
    );
}

#[test]
fn a_421_from_the_rules_file_hangs_up_after_the_whole_reply() {
    let server = SmtpServer::start();
    server.set_rules(serde_json::json!({
        "rcpt": [{"match": "*", "reply": "421-4.7.0 Try again later\n421 4.7.0 closing connection"}],
    }));
    let mut client = Client::connect(server.port);
    client.cmd("MAIL FROM:<drip@tend.test>");

    assert_eq!(
        client.cmd_lines("RCPT TO:<ada@example.com>"),
        ["421-4.7.0 Try again later", "421 4.7.0 closing connection"]
    );
    assert_eq!(client.reply(), CLOSED);
}

#[test]
fn rules_file_wins_over_rule_flags_and_a_malformed_one_is_loud() {
    let server = SmtpServer::start_with(&["--rule", "*@example.com=550"]);
    server.set_rules(serde_json::json!({
        "rcpt": [{"match": "ada@example.com", "reply": "451 4.3.0 from the file"}],
    }));
    let mut client = Client::connect(server.port);
    client.cmd("MAIL FROM:<drip@tend.test>");
    assert_eq!(
        client.cmd("RCPT TO:<ada@example.com>"),
        "451 4.3.0 from the file"
    );
    assert_eq!(
        client.cmd("RCPT TO:<bob@example.com>"),
        "550 5.1.1 mailbox unavailable"
    );

    // A mistake in a test's rules must not pass for a server that accepts.
    server.set_rules(serde_json::json!({"rcpt": [{"match": "*", "reply": "250 OK"}]}));
    assert!(
        client
            .cmd("RCPT TO:<cy@other.test>")
            .starts_with("451 4.3.5 bad rules file")
    );
    server.set_rules(serde_json::json!({"rpct": []}));
    assert!(
        client
            .cmd("RCPT TO:<cy@other.test>")
            .starts_with("451 4.3.5 bad rules file")
    );
}
