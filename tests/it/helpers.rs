//! A `spawn_app`-style harness: each test gets its own directory with a
//! config, the shipped campaigns and templates, a fresh SQLite file (or a
//! throwaway PostgreSQL database), and (optionally) its own SMTP server on a
//! free port.

use crate::smtp::SmtpServer;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// The instant tests pretend it is.
pub const NOW: &str = "2026-03-10T10:00:00Z";

pub struct TestApp {
    pub dir: TempDir,
    pub smtp: Option<SmtpServer>,
    /// `TEND__DATABASE__URL` for every command and daemon (default: the
    /// config's SQLite file).
    pub database: Option<String>,
    /// A throwaway PostgreSQL database this app owns (dropped with it).
    #[allow(dead_code)] // held for its Drop
    pub pg: Option<crate::pg::PgDb>,
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const CONFIG: &str = r#"
[database]
url = "sqlite://tend.db"

[smtp]
transport = "smtp"
host = "127.0.0.1"
port = 1                # the real port comes from TEND__SMTP__PORT (proving env overrides work)
tls = "none"
connections = 4
timeout = "10s"

[sending]
from = "Ana at Acme <ana@acme.example>"
rate = "1000/s"
retry_base = "1m"
max_attempts = 5
retry_for = "1d"
"#;

impl TestApp {
    /// The shipped campaigns and templates, delivering to a fresh SMTP server.
    pub fn with_smtp(server_args: &[&str]) -> Self {
        let app = Self::without_smtp();
        Self {
            smtp: Some(SmtpServer::start_with(server_args)),
            ..app
        }
    }

    /// The shipped campaigns and templates, no mail server.
    pub fn without_smtp() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("campaigns"), &dir.path().join("campaigns"));
        copy_dir(&repo().join("templates"), &dir.path().join("templates"));
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/tend.toml"), CONFIG).unwrap();
        Self {
            dir,
            smtp: None,
            database: None,
            pg: None,
        }
    }

    /// As [`TestApp::without_smtp`], on a PostgreSQL database of its own;
    /// `None` (with a message) where no server answers.
    pub fn on_postgres() -> Option<Self> {
        let pg = crate::pg::PgDb::create()?;
        Some(Self {
            database: Some(pg.url.clone()),
            pg: Some(pg),
            ..Self::without_smtp()
        })
    }

    /// The database every command of this app uses, when not its SQLite file.
    fn database_env(&self, command: &mut Command) {
        if let Some(url) = &self.database {
            command.env("TEND__DATABASE__URL", url);
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Runs the real `tend` binary in the app directory.
    pub fn tend(&self, args: &[&str]) -> Output {
        self.tend_with(args, &[])
    }

    /// The `tend` command `tend_with` runs, for tests that need to drive
    /// the process themselves (its pipes, its lifetime).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tend"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("TEND_CONFIG");
        if let Some(smtp) = &self.smtp {
            command.env("TEND__SMTP__PORT", smtp.port.to_string());
        }
        // A fixed link-signing key makes messages identical across databases;
        // daemons started by `spawn_daemon` exercise the generated key instead.
        command.env("TEND__HTTP__SECRET", "a-fixed-secret-for-tend-tests");
        self.database_env(&mut command);
        command
    }

    /// This app on another database (e.g. a throwaway PostgreSQL one).
    pub fn on_database(self, url: &str) -> Self {
        Self {
            database: Some(url.to_string()),
            ..self
        }
    }

    /// Runs `tend` with extra environment variables.
    pub fn tend_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        let out = command.output().expect("run tend");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `tend run --once --now AT`, asserting success.
    pub fn run_once(&self, at: &str) -> Output {
        self.tend(&["run", "--once", "--now", at]).ok()
    }

    pub fn smtp(&self) -> &SmtpServer {
        self.smtp.as_ref().expect("this app has an SMTP server")
    }

    /// Writes and imports a contacts CSV, asserting every row was accepted.
    pub fn import_contacts(&self, csv: &str) {
        self.write("contacts.csv", csv);
        self.tend(&["contacts", "import", "contacts.csv"]).ok();
    }
}

/// `NOW` shifted by whole days (negative: the past), as RFC 3339.
pub fn days_from_now(days: i64) -> String {
    let now: chrono::DateTime<chrono::Utc> = NOW.parse().unwrap();
    (now + chrono::Duration::days(days)).to_rfc3339()
}

/// `NOW` shifted by hours, as RFC 3339.
pub fn hours_from_now(hours: i64) -> String {
    let now: chrono::DateTime<chrono::Utc> = NOW.parse().unwrap();
    (now + chrono::Duration::hours(hours)).to_rfc3339()
}

/// A minimal HTTP/1.1 client: one form-encoded request, `Connection: close`,
/// returns (status, body). Real requests over TCP, no client library needed.
pub fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    http_request_with(
        addr,
        method,
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body,
    )
}

pub fn http_request_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to tend's HTTP listener");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// One bodiless request with optional `User-Agent`, `Connection: close`;
/// returns the whole raw response (status line, headers, body).
pub fn http_raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    user_agent: Option<&str>,
) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to tend's HTTP listener");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(agent) = user_agent {
        request += &format!("User-Agent: {agent}\r\n");
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Lines of a child's output, read on a thread so a test can wait for one.
pub struct LogLines {
    lines: std::sync::mpsc::Receiver<String>,
    seen: std::cell::RefCell<Vec<String>>,
}

impl LogLines {
    pub fn follow(output: impl std::io::Read + Send + 'static) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(output)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            lines: rx,
            seen: Default::default(),
        }
    }

    /// Everything logged so far (for failure messages), without waiting.
    pub fn so_far(&self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.borrow_mut().push(line);
        }
        self.seen.borrow().join("\n")
    }

    /// Blocks until a line containing `needle` arrives (or panics after `timeout`).
    pub fn wait_for(&self, needle: &str, timeout: std::time::Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.borrow_mut().push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with `{needle}`; saw:\n{}",
                    self.seen.borrow().join("\n")
                ),
            }
        }
    }
}

/// A running `tend run` daemon with its stderr followed line by line.
pub struct Daemon {
    pub child: std::process::Child,
    pub logs: LogLines,
}

impl TestApp {
    /// Starts `tend run --now NOW` (clock moving on from NOW) in the app directory.
    pub fn spawn_daemon(&self, env: &[(&str, &str)]) -> Daemon {
        self.spawn_daemon_at(NOW, env)
    }

    /// Starts `tend run --now AT` (clock moving on from AT) in the app directory.
    pub fn spawn_daemon_at(&self, at: &str, env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tend"));
        command
            .args(["run", "--now", at])
            .current_dir(self.dir.path())
            .env_remove("TEND_CONFIG")
            .env("TEND__HTTP__LISTEN", "127.0.0.1:0")
            .env("TEND__DAEMON__POLL", "1s")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(smtp) = &self.smtp {
            command.env("TEND__SMTP__PORT", smtp.port.to_string());
        }
        self.database_env(&mut command);
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("start tend run");
        let logs = LogLines::follow(child.stderr.take().unwrap());
        Daemon { child, logs }
    }
}

impl Daemon {
    /// The HTTP listener's address, from the daemon's own log line.
    pub fn http_addr(&self) -> std::net::SocketAddr {
        let line = self.logs.wait_for(
            "http: listening on http://",
            std::time::Duration::from_secs(30),
        );
        line.rsplit("http://")
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// SIGKILL: the process dies on the spot, mid-write or mid-SMTP.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap().code()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
