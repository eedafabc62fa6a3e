//! The systemd notify protocol (`Type=notify`), spoken directly over the
//! `NOTIFY_SOCKET` datagram socket: READY=1 once migrations ran and the
//! first catalog loaded, WATCHDOG=1 from the main loop while it is healthy,
//! STATUS= lines, STOPPING=1. Without `NOTIFY_SOCKET` every call is a no-op,
//! so tend runs the same without systemd.

use crate::domain::redact_addresses;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
    /// Half of `WATCHDOG_USEC`: ping at least this often.
    watchdog_every: Option<Duration>,
    last_ping: Mutex<Option<Instant>>,
}

#[derive(Debug)]
enum Target {
    Path(std::path::PathBuf),
    Abstract(Vec<u8>),
}

impl Notifier {
    pub fn from_env() -> Self {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|raw| {
            let raw = raw.to_string_lossy().into_owned();
            match raw.strip_prefix('@') {
                Some(name) => Some(Target::Abstract(name.as_bytes().to_vec())),
                None if raw.starts_with('/') => Some(Target::Path(raw.into())),
                None => None,
            }
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog_every = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|_| for_us)
            .map(|usec| Duration::from_micros(usec / 2));
        Self {
            target,
            watchdog_every,
            last_ping: Mutex::new(None),
        }
    }

    fn send(&self, message: &str) {
        let Some(target) = &self.target else { return };
        let result = UnixDatagram::unbound().and_then(|socket| match target {
            Target::Path(path) => socket.send_to(message.as_bytes(), path).map(|_| ()),
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                socket.send_to_addr(message.as_bytes(), &addr).map(|_| ())
            }
        });
        if let Err(e) = result {
            tracing::warn!(error = %redact_addresses(&e.to_string()), "cannot notify systemd");
        }
    }

    pub fn ready(&self) {
        self.send("READY=1");
    }

    pub fn status(&self, text: &str) {
        // One line: systemd shows the STATUS value verbatim.
        self.send(&format!("STATUS={}", text.replace('\n', " ")));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// Pings the watchdog if half its interval has passed since the last ping.
    pub fn watchdog(&self) {
        let Some(every) = self.watchdog_every else {
            return;
        };
        let mut last = self.last_ping.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|at| at.elapsed() >= every) {
            self.send("WATCHDOG=1");
            *last = Some(Instant::now());
        }
    }

    /// How often the main loop must come round for the watchdog to stay fed.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog_every
    }
}
