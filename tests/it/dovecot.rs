//! A throwaway Dovecot IMAP server (Debian's `dovecot-imapd`) for tests:
//! its own configuration, runtime and Maildir under a temporary directory, a
//! free port of 127.0.0.1, one user from a passwd-file. Nothing of the
//! system's Dovecot is used or touched (a running system Dovecot does not
//! matter).
//!
//! ```ignore
//! let Some(dovecot) = Dovecot::start(DovecotOptions::default()) else { return };
//! let mut imap = dovecot.session().await;          // an async-imap session, logged in
//! imap.append("INBOX", Some("(\\Flagged)"), None, raw).await?;
//! let options = dovecot.imap_options();            // for tend's poller
//! ```
//!
//! [`Dovecot::start`] returns `None` (the test skips with a message) when
//! Dovecot is not installed, and panics under `TEND_REQUIRE_TOOLS`. The
//! server stops (SIGTERM) when the value is dropped. Run as root (CI), mail
//! belongs to `nobody`; otherwise to the user running the tests.

#![allow(dead_code)]

use crate::tools;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tend::config::{Secret, TlsMode};
use tend::inbound::imap::ImapOptions;
use tokio::net::TcpStream;

const DOVECOT: &str = "/usr/sbin/dovecot";
pub const USER: &str = "bounces";
pub const PASSWORD: &str = "dovecot-test-password";

#[derive(Debug, Clone, Default)]
pub struct DovecotOptions {
    /// Replaces the capabilities announced after login (`imap_capability`),
    /// to play a server without `MOVE` or `UIDPLUS`.
    pub capabilities: Option<String>,
    /// Serve TLS (implicit on [`Dovecot::tls_port`], STARTTLS on
    /// [`Dovecot::port`]) with a certificate from a CA made for the test.
    pub tls: bool,
}

/// A running Dovecot; stopped when dropped.
pub struct Dovecot {
    /// Plain IMAP (and STARTTLS when TLS is on).
    pub port: u16,
    /// Implicit TLS, when TLS is on.
    pub tls_port: Option<u16>,
    /// The CA that signed the server's certificate, when TLS is on.
    pub ca_file: Option<PathBuf>,
    child: Child,
    dir: tempfile::TempDir,
}

impl Dovecot {
    pub fn start(options: DovecotOptions) -> Option<Dovecot> {
        if !tools::available(DOVECOT, "dovecot-imapd", "the IMAP poller tests") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        tools::open_dir(dir.path());
        let root = dir.path();
        for sub in ["run", "state", "home"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        // Mail processes never run as root: as root, mail belongs to nobody.
        let (uid, gid, services) = if tools::is_root() {
            ("65534".to_string(), "65534".to_string(), String::new())
        } else {
            let me = |flag: &str| {
                let out = Command::new("id").arg(flag).output().unwrap();
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            };
            let name = me("-un");
            let services = format!(
                "default_internal_user = {name}\ndefault_login_user = {name}\n\
                 first_valid_uid = 1\nfirst_valid_gid = 1\n"
            );
            (me("-u"), me("-g"), services)
        };
        tools::chown(&format!("{uid}:{gid}"), &root.join("home"));
        let port = tools::free_port();
        let (tls_port, ca_file, ssl) = if options.tls {
            crate::transport::test_ca(root);
            let tls_port = tools::free_port();
            let ssl = format!(
                "ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n",
                cert = root.join("server.pem").display(),
                key = root.join("server.key").display()
            );
            (Some(tls_port), Some(root.join("ca.pem")), ssl)
        } else {
            (None, None, "ssl = no\n".to_string())
        };
        let capability = options
            .capabilities
            .map(|c| format!("imap_capability = {c}\n"))
            .unwrap_or_default();
        let config = format!(
            "base_dir = {root}/run\n\
             state_dir = {root}/state\n\
             log_path = {root}/dovecot.log\n\
             instance_name = tend-test-{port}\n\
             protocols = imap\n\
             listen = 127.0.0.1\n\
             {ssl}\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\n\
             {services}\
             {capability}\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {root}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={root}/home/%u\n}}\n\
             mail_location = maildir:~/Maildir\n\
             service imap-login {{\n\
               inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
               inet_listener imaps {{\n    address = 127.0.0.1\n    port = {tls}\n  }}\n\
             }}\n",
            root = root.display(),
            tls = tls_port.unwrap_or(0),
        );
        std::fs::write(root.join("dovecot.conf"), config).unwrap();
        std::fs::write(root.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.join("stderr.log")).unwrap())
            .spawn()
            .expect("start dovecot");
        let mut dovecot = Dovecot {
            port,
            tls_port,
            ca_file,
            child,
            dir,
        };
        let log = dovecot.dir.path().to_path_buf();
        let child = &mut dovecot.child;
        tools::wait_for_port(port, Duration::from_secs(20), || match child.try_wait() {
            Ok(Some(status)) => Err(format!("{status}: {}", read(&log.join("stderr.log")))),
            _ => Ok(()),
        });
        Some(dovecot)
    }

    /// The options for tend's poller: plain IMAP, short timeouts.
    pub fn imap_options(&self) -> ImapOptions {
        let mut options = ImapOptions::new("127.0.0.1", USER, Secret::new(PASSWORD));
        options.port = self.port;
        options.tls = TlsMode::None;
        options.timeout = Duration::from_secs(20);
        options
    }

    /// A logged-in session of the test's own, to fill and inspect the mailbox.
    pub async fn session(&self) -> async_imap::Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().expect("a greeting");
        client
            .login(USER, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .expect("log in to the test Dovecot")
    }

    /// The user's Maildir.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("home").join(USER).join("Maildir")
    }

    /// Dovecot's log, for failure messages.
    pub fn log(&self) -> String {
        read(&self.dir.path().join("dovecot.log"))
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
