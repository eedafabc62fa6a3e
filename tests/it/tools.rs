//! System tools some tests need (Dovecot, Postfix): present, or the test
//! skips with a message saying what to install; under `TEND_REQUIRE_TOOLS`
//! (CI) a missing tool fails the test instead.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether `binary` (an absolute path) is installed; if not, skips (prints
/// why) or, under `TEND_REQUIRE_TOOLS`, panics.
pub fn available(binary: &str, package: &str, what: &str) -> bool {
    if Path::new(binary).exists() {
        return true;
    }
    missing(&format!(
        "{binary} is missing: apt-get install {package} (needed for {what})"
    ))
}

/// Skips, or fails under `TEND_REQUIRE_TOOLS`.
pub fn missing(why: &str) -> bool {
    if std::env::var_os("TEND_REQUIRE_TOOLS").is_some() {
        panic!("required here (TEND_REQUIRE_TOOLS): {why}");
    }
    eprintln!("SKIPPED: {why}");
    false
}

/// Whether the tests run as root (Postfix's master must).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A port of 127.0.0.1 free right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`, or `alive` says the
/// server died (its error comes with the panic).
pub fn wait_for_port(port: u16, timeout: Duration, mut alive: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Err(why) = alive() {
            panic!("the server exited before listening on {port}: {why}");
        }
        assert!(
            Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens a directory to other users (a service's unprivileged processes
/// must traverse the test's temporary directory).
pub fn open_dir(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `chown -R owner path`.
pub fn chown(owner: &str, path: &Path) {
    let status = Command::new("chown")
        .arg("-R")
        .arg(owner)
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "chown {owner} {}", path.display());
}
