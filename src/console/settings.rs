//! `[console]`: who may sign in to the web console and how.

use crate::domain::Duration;
use serde::Deserialize;

/// What a console user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every page; acts on nothing.
    Viewer,
    /// Also suppresses, promotes, settles and undoes.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// One `[[console.users]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleUser {
    pub name: String,
    /// An argon2 PHC string from `tend console hash-password`.
    pub password_hash: String,
    #[serde(default = "viewer")]
    pub role: Role,
}

fn viewer() -> Role {
    Role::Viewer
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// Serve the console (under `/console/`).
    pub enabled: bool,
    /// A listener of its own, e.g. `127.0.0.1:8026`; empty: the `http.listen` one.
    pub listen: String,
    pub users: Vec<ConsoleUser>,
    /// A header carrying the signed-in user's name, set by a single-sign-on
    /// proxy (e.g. `X-Forwarded-User`); believed only from `sso_proxies`.
    pub sso_header: Option<String>,
    /// Addresses of the proxies trusted to set `sso_header`.
    pub sso_proxies: Vec<String>,
    /// The role of users who come through the proxy and are not in `users`.
    pub sso_role: Role,
    /// How long a session lasts.
    pub session_for: Duration,
    /// Failed sign-ins allowed per address and per user within `login_window`.
    pub login_attempts: u64,
    pub login_window: Duration,
    /// The calendar's default zone (IANA); empty: `sending.default_timezone`.
    pub timezone: String,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: String::new(),
            users: Vec::new(),
            sso_header: None,
            sso_proxies: Vec::new(),
            sso_role: Role::Viewer,
            session_for: Duration::from_secs(12 * 3600),
            login_attempts: 5,
            login_window: Duration::from_secs(15 * 60),
            timezone: String::new(),
        }
    }
}

impl ConsoleSettings {
    /// What is wrong with the section, for `Settings::validate`.
    pub fn validate(&self) -> Result<(), String> {
        for (i, user) in self.users.iter().enumerate() {
            if user.name.trim().is_empty() {
                return Err(format!("key `console.users[{i}].name`: empty"));
            }
            if argon2::PasswordHash::new(&user.password_hash).is_err() {
                return Err(format!(
                    "key `console.users[{i}].password_hash`: not an argon2 hash (make one with `tend console hash-password`)"
                ));
            }
        }
        for proxy in &self.sso_proxies {
            proxy.parse::<std::net::IpAddr>().map_err(|_| {
                format!("key `console.sso_proxies`: `{proxy}` is not an IP address")
            })?;
        }
        if !self.timezone.is_empty() && self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(format!(
                "key `console.timezone`: `{}` is not an IANA zone",
                self.timezone
            ));
        }
        Ok(())
    }
}
