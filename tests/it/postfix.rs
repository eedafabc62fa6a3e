//! A throwaway Postfix (Debian's `postfix`) for tests: its own configuration,
//! queue and data directories under a temporary directory, an SMTP listener
//! on a free port of 127.0.0.1, virtual mailboxes in the temporary directory
//! (no system users), and mail for one relay domain (the bounce domain)
//! handed to a test's server by LMTP or SMTP. The system's Postfix, running
//! or not, is never used or touched.
//!
//! ```ignore
//! let Some(postfix) = Postfix::start(PostfixOptions {
//!     relay_domain: "bounce.test".into(),
//!     relay_port: receiver_port,
//!     relay: Relay::Lmtp,
//!     mailboxes: vec!["ana".into()],
//!     full_mailboxes: vec!["full".into()],
//! }) else { return };
//! // send to ghost@local.test (no such mailbox) or full@local.test (full)
//! // through 127.0.0.1:postfix.smtp_port; the DSNs reach the relay port.
//! ```
//!
//! Real bounces: a recipient of [`DOMAIN`] without a mailbox is accepted at
//! `RCPT` and bounced by the `virtual` delivery agent (5.1.1); a full
//! mailbox is an mbox file right under `virtual_mailbox_limit`, so the next
//! delivery fails with `EFBIG` and Postfix bounces it (5.2.2). The queue is
//! retried every second, so a temporary refusal by the relay target is
//! retried within seconds.
//!
//! Postfix's master must run as root (CI, this machine): [`Postfix::start`]
//! returns `None` (the test skips with a message) when not root or when
//! Postfix is missing, and panics under `TEND_REQUIRE_TOOLS`. Stopped
//! (`postfix stop`) when dropped.

#![allow(dead_code)]

use crate::tools;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const POSTFIX: &str = "/usr/sbin/postfix";
/// The domain of the local (virtual) mailboxes.
pub const DOMAIN: &str = "local.test";
/// The name Postfix gives itself (`Reporting-MTA`, the bounce's `From`).
pub const HOSTNAME: &str = "mx.local.test";
/// The size of every mailbox file; a full mailbox is filled to just under it.
const MAILBOX_LIMIT: usize = 51_200;

/// How Postfix hands mail for the relay domain on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    Lmtp,
    Smtp,
}

#[derive(Debug, Clone)]
pub struct PostfixOptions {
    /// Mail for this domain goes to 127.0.0.1:`relay_port`.
    pub relay_domain: String,
    pub relay_port: u16,
    pub relay: Relay,
    /// Local parts of [`DOMAIN`] with a mailbox.
    pub mailboxes: Vec<String>,
    /// Local parts of [`DOMAIN`] whose mailbox is full.
    pub full_mailboxes: Vec<String>,
}

/// A running Postfix; stopped when dropped.
pub struct Postfix {
    /// Where clients submit mail (no authentication, 127.0.0.0/8 may relay).
    pub smtp_port: u16,
    dir: tempfile::TempDir,
}

impl Postfix {
    pub fn start(options: PostfixOptions) -> Option<Postfix> {
        if !tools::available(POSTFIX, "postfix", "the real-bounce tests") {
            return None;
        }
        if !tools::is_root() {
            tools::missing("Postfix's master runs as root: run the tests as root for real bounces");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        tools::open_dir(dir.path());
        let root = dir.path();
        for sub in ["conf", "queue", "data", "mail"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        let mut vmailbox = String::new();
        for local in &options.mailboxes {
            vmailbox += &format!("{local}@{DOMAIN} {local}/\n");
        }
        for local in &options.full_mailboxes {
            vmailbox += &format!("{local}@{DOMAIN} {local}.mbox\n");
            // Just under the limit: the next message cannot fit.
            let filler = format!("From filler@{DOMAIN}  Thu Jan  1 00:00:00 2026\n\n")
                + &"x".repeat(79)
                + "\n";
            let mut mbox = filler.repeat(MAILBOX_LIMIT / filler.len());
            mbox.truncate(MAILBOX_LIMIT - 40);
            std::fs::write(root.join("mail").join(format!("{local}.mbox")), mbox).unwrap();
        }
        tools::chown("65534:65534", &root.join("mail"));
        tools::chown("postfix", &root.join("data"));
        std::fs::write(root.join("conf/vmailbox"), vmailbox).unwrap();
        let next_hop = match options.relay {
            Relay::Lmtp => format!("lmtp:inet:127.0.0.1:{}", options.relay_port),
            Relay::Smtp => format!("smtp:[127.0.0.1]:{}", options.relay_port),
        };
        std::fs::write(
            root.join("conf/transport"),
            format!("{} {next_hop}\n", options.relay_domain),
        )
        .unwrap();
        let smtp_port = tools::free_port();
        std::fs::write(root.join("conf/main.cf"), main_cf(root)).unwrap();
        std::fs::write(root.join("conf/master.cf"), master_cf(smtp_port)).unwrap();
        let postfix = Postfix { smtp_port, dir };
        let out = postfix.command("start");
        assert!(
            out.status.success(),
            "postfix start failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            postfix.maillog()
        );
        tools::wait_for_port(smtp_port, Duration::from_secs(30), || Ok(()));
        Some(postfix)
    }

    fn command(&self, verb: &str) -> std::process::Output {
        Command::new(POSTFIX)
            .arg("-c")
            .arg(self.dir.path().join("conf"))
            .arg(verb)
            .output()
            .expect("run postfix")
    }

    /// Postfix's log (`maillog_file`), for assertions and failure messages.
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The virtual mailboxes' directory.
    pub fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    fn master_pid(&self) -> Option<String> {
        let pid = std::fs::read_to_string(self.dir.path().join("queue/pid/master.pid")).ok()?;
        Some(pid.trim().to_string())
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = self.master_pid();
        let _ = self.command("stop");
        // The master and its children must be gone before the directory is.
        if let Some(pid) = pid {
            let proc = PathBuf::from("/proc").join(&pid);
            let deadline = Instant::now() + Duration::from_secs(10);
            while proc.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(25));
            }
            if proc.exists() {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
    }
}

fn main_cf(root: &Path) -> String {
    let root = root.display();
    format!(
        "compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {HOSTNAME}
mydomain = {DOMAIN}
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
# Accept unknown local users at RCPT: the bounce is the point.
smtpd_reject_unlisted_recipient = no
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/conf/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = {MAILBOX_LIMIT}
message_size_limit = {MAILBOX_LIMIT}
transport_maps = texthash:{root}/conf/transport
# No DNS here: next hops are IP addresses.
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
# Retry deferred mail (a relay target's 451) within seconds.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
biff = no
"
    )
}

fn master_cf(smtp_port: u16) -> String {
    // No chroot: the test's directories are not inside one.
    format!(
        "127.0.0.1:{smtp_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
    )
}
