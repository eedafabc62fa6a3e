//! Who changed what, outside the console: the actor names the audit log
//! uses for the command line (`cli:USER`) and the daemon (`daemon:HOST`).
//! The console writes `console:NAME` itself; all share `AuditStore`.
//!
//! Actions: `suppress`, `unsuppress`, `erase`, `settle`, `undo_inbound`,
//! `promote`, `reload`, `rotate_key`, `retire_key`. An erasure's entry names
//! the contact by id only: the audit log must not keep what was erased.

/// The person behind a command: whoever ran `sudo` (not `root`), else the
/// login user, else the numeric uid.
pub fn cli_actor() -> String {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|u| !u.trim().is_empty()));
    format!("cli:{}", user.unwrap_or_else(uid))
}

/// The daemon on this host (reloads it decides on its own).
pub fn daemon_actor() -> String {
    format!("daemon:{}", crate::send::worker::hostname())
}

fn uid() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix("Uid:")?;
                rest.split_whitespace().next().map(|id| format!("uid {id}"))
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn actors_say_where_a_change_came_from() {
        assert!(super::cli_actor().starts_with("cli:"));
        assert!(super::cli_actor().len() > 4);
        assert!(super::daemon_actor().starts_with("daemon:"));
    }
}
