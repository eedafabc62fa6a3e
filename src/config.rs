//! The settings tree: built-in defaults, then `config/tend.toml`, then
//! `TEND__SECTION__KEY` environment variables. Durations and rates are parsed
//! into types here, so a bad value fails at load naming its key; secrets are
//! accepted only from the environment or a file and never printed.

use crate::domain::{Duration, Rate};
use config::{Config, Environment, File, FileFormat};
use lettre::message::Mailbox;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: the config file does not exist (create it, or pass --config PATH)")]
    Missing { path: String },
    #[error("cannot read SMTP password file {path}: {source}")]
    PasswordFile {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub paths: PathSettings,
    #[serde(default)]
    pub smtp: SmtpSettings,
    #[serde(default)]
    pub sending: SendingSettings,
    #[serde(default)]
    pub lifecycle: LifecycleSettings,
    #[serde(default)]
    pub daemon: DaemonSettings,
    /// `[attributes]`: attribute types for filters, read with positions
    /// from the config file by `catalog::vocabulary`.
    #[serde(default)]
    pub attributes: serde::de::IgnoredAny,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://tend.db` (relative to the working directory) or `sqlite:///abs/path.db`.
    pub url: String,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://tend.db".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathSettings {
    pub campaigns: PathBuf,
    pub templates: PathBuf,
}

impl Default for PathSettings {
    fn default() -> Self {
        Self {
            campaigns: "campaigns".into(),
            templates: "templates".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// Deliver through an SMTP server.
    Smtp,
    /// Write `.eml` files to `smtp.file_dir`: for trying tend out without a mail server.
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub transport: TransportKind,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    /// Only from `TEND__SMTP__PASSWORD`; the loader refuses it in the file.
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    /// Concurrent SMTP sessions.
    pub connections: u32,
    /// Upper bound for one whole SMTP transaction (connect to final reply).
    pub timeout: Duration,
    /// Where `transport = "file"` writes `.eml` files.
    pub file_dir: PathBuf,
    /// The name announced in EHLO; defaults to the machine's hostname.
    pub hello_name: Option<String>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            transport: TransportKind::Smtp,
            host: "127.0.0.1".into(),
            port: 587,
            tls: TlsMode::Starttls,
            username: None,
            password: None,
            password_file: None,
            connections: 4,
            timeout: Duration::from_secs(30),
            file_dir: "outbox".into(),
            hello_name: None,
        }
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("transport", &self.transport)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("password_file", &self.password_file)
            .field("connections", &self.connections)
            .field("timeout", &self.timeout)
            .field("file_dir", &self.file_dir)
            .finish()
    }
}

/// A secret value whose `Debug` never shows it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendingSettings {
    /// `Name <address>`; campaigns may override it.
    pub from: Option<String>,
    pub reply_to: Option<String>,
    /// Messages per unit of time, all campaigns together.
    pub rate: Rate,
    /// Rows claimed from the outbox per round.
    pub batch: u32,
    /// Attempts before a temporarily failing send is recorded as failed.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt, with jitter.
    pub retry_base: Duration,
    /// After this long since a send was first due, stop retrying: failed.
    pub retry_for: Duration,
    /// How long a claimed row belongs to its sender before it counts as in doubt.
    pub lease: Duration,
    /// Address for the `List-Unsubscribe` mailto link; defaults to the from address.
    pub unsubscribe_mailto: Option<String>,
}

impl Default for SendingSettings {
    fn default() -> Self {
        Self {
            from: None,
            reply_to: None,
            rate: Rate {
                count: 10,
                period: Duration::from_secs(1),
            },
            batch: 100,
            max_attempts: 8,
            retry_base: Duration::from_secs(60),
            retry_for: Duration::from_days(2),
            lease: Duration::from_secs(600),
            unsubscribe_mailto: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleSettings {
    pub new_within: Duration,
    pub active_within: Duration,
    pub sleeping_after: Duration,
    pub lost_after: Duration,
    /// `[lifecycle.stages]`: custom stages, read with their positions from
    /// the config file by `catalog::vocabulary` (not from the environment).
    pub stages: serde::de::IgnoredAny,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        Self {
            new_within: Duration::from_days(30),
            active_within: Duration::from_days(90),
            sleeping_after: Duration::from_days(90),
            lost_after: Duration::from_days(365),
            stages: serde::de::IgnoredAny,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonSettings {
    /// How often the planner ticks.
    pub tick: Duration,
    /// How often idle senders look at the outbox.
    pub poll: Duration,
    /// On SIGTERM, how long in-flight SMTP transactions may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(60),
            poll: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl Settings {
    /// Loads defaults, then the file at `path` (required when `explicit`),
    /// then the environment. Every value is checked before returning.
    pub fn load(path: &Path, explicit: bool) -> Result<Settings, SettingsError> {
        let shown = path.display().to_string();
        let invalid = |message: String| SettingsError::Invalid {
            path: shown.clone(),
            message,
        };
        if explicit && !path.exists() {
            return Err(SettingsError::Missing { path: shown });
        }
        let file = File::from(path).format(FileFormat::Toml).required(false);
        // Secrets never live in a file that is committed and copied around.
        let file_only = Config::builder()
            .add_source(file.clone())
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        if file_only.get_string("smtp.password").is_ok() {
            return Err(invalid(
                "`smtp.password` must not be written in the config file; set TEND__SMTP__PASSWORD or `smtp.password_file`".into(),
            ));
        }
        let merged = Config::builder()
            .add_source(file)
            .add_source(
                Environment::with_prefix("TEND")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let mut settings: Settings = merged
            .try_deserialize()
            .map_err(|e| invalid(e.to_string()))?;
        if settings.smtp.password.is_none() {
            if let Some(file) = &settings.smtp.password_file {
                let secret = std::fs::read_to_string(file).map_err(|source| {
                    SettingsError::PasswordFile {
                        path: file.display().to_string(),
                        source,
                    }
                })?;
                settings.smtp.password = Some(Secret::new(secret.trim_end_matches(['\r', '\n'])));
            }
        }
        settings.validate().map_err(invalid)?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(from) = &self.sending.from {
            from.parse::<Mailbox>().map_err(|e| {
                format!("key `sending.from`: invalid mailbox `{from}`: {e} (write `Name <address@example.com>`)")
            })?;
        }
        if let Some(reply_to) = &self.sending.reply_to {
            reply_to.parse::<Mailbox>().map_err(|e| {
                format!("key `sending.reply_to`: invalid mailbox `{reply_to}`: {e}")
            })?;
        }
        let l = &self.lifecycle;
        if l.active_within > l.sleeping_after {
            return Err(format!(
                "key `lifecycle.active_within` ({}) is longer than `lifecycle.sleeping_after` ({}): a contact cannot be active and sleeping at once",
                l.active_within, l.sleeping_after
            ));
        }
        if l.sleeping_after >= l.lost_after {
            return Err(format!(
                "key `lifecycle.lost_after` ({}) must be longer than `lifecycle.sleeping_after` ({})",
                l.lost_after, l.sleeping_after
            ));
        }
        if self.smtp.connections == 0 {
            return Err("key `smtp.connections` must be at least 1".into());
        }
        if self.sending.batch == 0 || self.sending.max_attempts == 0 {
            return Err(
                "keys `sending.batch` and `sending.max_attempts` must be at least 1".into(),
            );
        }
        if !self.database.url.starts_with("sqlite:") {
            return Err(format!(
                "key `database.url`: `{}` is not supported yet; use `sqlite://PATH`",
                self.database.url
            ));
        }
        Ok(())
    }

    /// The from mailbox; required once anything is rendered or sent.
    pub fn from_mailbox(&self) -> Option<Mailbox> {
        self.sending.from.as_ref().and_then(|f| f.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_str(text: &str) -> Result<Settings, SettingsError> {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        Settings::load(file.path(), true)
    }

    #[test]
    fn parses_durations_and_rates_into_types() {
        let s = load_str(
            "[sending]\nfrom = \"Ana <ana@acme.example>\"\nrate = \"600/min\"\n[lifecycle]\nnew_within = \"14d\"\n",
        )
        .unwrap();
        assert_eq!(s.sending.rate.count, 600);
        assert_eq!(s.lifecycle.new_within, Duration::from_days(14));
    }

    #[test]
    fn a_bad_value_names_its_key_and_value() {
        let err = load_str("[lifecycle]\nlost_after = \"forever\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("lost_after"), "{text}");
        assert!(text.contains("forever"), "{text}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = load_str("[smtp]\nhots = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("hots"), "{err}");
    }

    #[test]
    fn a_password_in_the_file_is_refused() {
        let err = load_str("[smtp]\npassword = \"hunter2\"\n").unwrap_err();
        assert!(err.to_string().contains("TEND__SMTP__PASSWORD"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let smtp = SmtpSettings {
            password: Some(Secret::new("hunter2")),
            ..Default::default()
        };
        assert!(!format!("{smtp:?}").contains("hunter2"));
    }
}
