//! Who claims outbox rows, and whether they are still alive. A sender's id
//! names its host, the host's boot, its pid and the process's start time, so
//! on the same host a dead sender is recognised at once (its process is
//! gone or the pid now belongs to another process) and its rows are taken
//! back immediately after a crash. A sender on another host is presumed
//! dead when it has not beaten for longer than the lease.

use crate::store::WorkerInfo;
use chrono::{DateTime, Utc};

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The machine's host name (for EHLO and sender ids).
pub fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .or_else(|| read_trimmed("/etc/hostname"))
        .unwrap_or_else(|| "localhost".into())
}

fn boot_id() -> String {
    read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default()
}

/// Start time of a running process in clock ticks since boot (field 22 of
/// `/proc/PID/stat`); `None` when there is no such process, it has exited
/// and awaits reaping (a zombie), or there is no /proc.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: count from the last ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// This process as a sender.
pub fn current(now: DateTime<Utc>) -> WorkerInfo {
    let pid = std::process::id();
    let host = hostname();
    let boot_id = boot_id();
    let started_at = start_time(pid).unwrap_or(0);
    WorkerInfo {
        id: format!(
            "{host}/{}/{pid}/{started_at}",
            boot_id.get(..8).unwrap_or(&boot_id)
        ),
        host,
        boot_id,
        pid,
        started_at,
        heartbeat_at: now,
    }
}

/// Whether `other` is certainly gone (or silent for longer than `lease`).
pub fn is_dead(
    other: &WorkerInfo,
    me: &WorkerInfo,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> bool {
    if other.id == me.id {
        return false;
    }
    let same_machine = other.host == me.host && !me.boot_id.is_empty();
    if same_machine {
        if other.boot_id != me.boot_id {
            // The machine rebooted since: every process of that boot is gone.
            return true;
        }
        if me.started_at != 0 {
            return start_time(other.pid) != Some(other.started_at);
        }
    }
    other.heartbeat_at + lease < now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-10T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn this_process_is_alive_and_a_vanished_pid_is_dead() {
        let me = current(now());
        let lease = chrono::Duration::minutes(10);
        assert!(!is_dead(&me, &me, now(), lease));
        if me.started_at == 0 {
            return; // no /proc here: only leases apply
        }
        let mut twin = me.clone();
        twin.id = "other".into();
        assert!(
            !is_dead(&twin, &me, now(), lease),
            "same pid and start time"
        );
        let mut reused = twin.clone();
        reused.started_at += 1;
        assert!(
            is_dead(&reused, &me, now(), lease),
            "pid reused by another process"
        );
        let mut rebooted = twin.clone();
        rebooted.boot_id = "another-boot".into();
        assert!(is_dead(&rebooted, &me, now(), lease));
    }

    #[test]
    fn a_sender_on_another_host_is_dead_only_after_its_lease() {
        let me = current(now());
        let mut remote = me.clone();
        remote.id = "remote".into();
        remote.host = "elsewhere".into();
        let lease = chrono::Duration::minutes(10);
        remote.heartbeat_at = now() - chrono::Duration::minutes(5);
        assert!(!is_dead(&remote, &me, now(), lease));
        remote.heartbeat_at = now() - chrono::Duration::minutes(11);
        assert!(is_dead(&remote, &me, now(), lease));
    }
}
