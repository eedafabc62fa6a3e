//! The settings tree: built-in defaults, then `config/tend.toml`, then
//! `TEND__SECTION__KEY` environment variables. Durations and rates are parsed
//! into types here, so a bad value fails at load naming its key; secrets are
//! accepted only from the environment or a file and never printed. An empty
//! variable (`TEND__SENDING__QUIET_HOURS=`) unsets an optional setting, file
//! value included; for a setting that needs a value it is an error.

use crate::domain::{Duration, Rate};
use config::{Config, ConfigError, Environment, File, FileFormat, Map, Value, ValueKind};
use lettre::message::Mailbox;
use serde::Deserialize;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: the config file does not exist (create it, or pass --config PATH)")]
    Missing { path: String },
    #[error("cannot read secret file {path}: {source}")]
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
    #[serde(default)]
    pub http: HttpSettings,
    /// DKIM signing; off when the section is absent.
    pub dkim: Option<DkimSettings>,
    /// What comes back: the receiver, the mailbox, webhooks.
    #[serde(default)]
    pub inbound: InboundSettings,
    /// How long personal data is kept.
    #[serde(default)]
    pub retention: RetentionSettings,
    /// The web console for marketing staff; off unless `console.enabled`.
    #[serde(default)]
    pub console: crate::console::ConsoleSettings,
    /// `[attributes]`: attribute types for filters, read with positions
    /// from the config file by `catalog::vocabulary`.
    #[serde(default)]
    pub attributes: serde::de::IgnoredAny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnsubscribeScope {
    /// One click stops all mail from tend to that address.
    All,
    /// One click ends only the campaign the message came from.
    Campaign,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Where the daemon listens (unsubscribe links, health); empty to disable
    /// (so an empty `TEND__HTTP__LISTEN=` disables it too).
    #[serde(deserialize_with = "unset_as_empty")]
    pub listen: String,
    /// The public base URL of that listener, used in links inside emails.
    pub public_url: String,
    /// Signs unsubscribe links. Only from `TEND__HTTP__SECRET` or `secret_file`;
    /// when neither is set tend generates one and keeps it in the database.
    pub secret: Option<Secret>,
    /// One line per secret, newest first: the first signs, the others still
    /// verify links in mail already sent (rotation without broken links).
    pub secret_file: Option<PathBuf>,
    /// Older secrets that still verify, space- or comma-separated; only from
    /// `TEND__HTTP__PREVIOUS_SECRETS`.
    #[serde(rename = "previous_secrets")]
    pub previous_secrets_text: Option<Secret>,
    /// The older secrets, from the two places above.
    #[serde(skip)]
    pub previous_secrets: Vec<Secret>,
    pub unsubscribe_scope: UnsubscribeScope,
    /// Bearer token for `POST /events`. Only from `TEND__HTTP__EVENTS_TOKEN`
    /// or `events_token_file`; without one the endpoint is off.
    pub events_token: Option<Secret>,
    pub events_token_file: Option<PathBuf>,
    /// `[http.limits]`: what the public listener tolerates from one client.
    pub limits: HttpLimits,
}

/// `[http.limits]`: the listener faces the internet, so every request and
/// connection is bounded in size, time and rate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// Largest request body taken (`413` beyond).
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers; `431` beyond).
    pub max_header_bytes: usize,
    /// A client must send a whole request head within this, and a kept-alive
    /// connection that sends nothing for this long is closed.
    pub header_timeout: Duration,
    /// A whole request, body included, must arrive and be answered within
    /// this (`408` beyond).
    pub request_timeout: Duration,
    /// A connection is closed (after its current request) at this age.
    pub connection_lifetime: Duration,
    /// Open connections in all (further ones are closed at once).
    pub max_connections: usize,
    /// Open connections from one client address.
    pub max_connections_per_client: usize,
    /// `/u/…` and `/c/…` requests per client address (`429` beyond).
    pub links: Rate,
    /// `POST /events` and `/inbound/…` webhook requests per client address.
    pub events: Rate,
    /// Console sign-in attempts per client address.
    pub sign_in: Rate,
    /// Any other request per client address.
    pub other: Rate,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` is
    /// believed; from anyone else the header is ignored.
    pub trusted_proxies: Vec<String>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        let per_minute = |count| Rate {
            count,
            period: Duration::from_secs(60),
        };
        Self {
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            connection_lifetime: Duration::from_secs(300),
            max_connections: 1024,
            max_connections_per_client: 64,
            links: per_minute(120),
            events: per_minute(1200),
            sign_in: per_minute(10),
            other: per_minute(600),
            trusted_proxies: Vec::new(),
        }
    }
}

/// A text setting for which "unset" and "empty" mean the same.
fn unset_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8025".into(),
            public_url: "http://127.0.0.1:8025".into(),
            secret: None,
            secret_file: None,
            previous_secrets_text: None,
            previous_secrets: Vec::new(),
            unsubscribe_scope: UnsubscribeScope::All,
            events_token: None,
            events_token_file: None,
            limits: HttpLimits::default(),
        }
    }
}

/// `[inbound]`: how bounces, complaints, replies and unsubscribe mails reach
/// tend. Off until one way in is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundSettings {
    /// An SMTP/LMTP listener the site's MTA hands mail for the bounce domain
    /// to, e.g. `127.0.0.1:2526`; empty: off.
    pub listen: String,
    /// `smtp`, `lmtp`, or `auto` (the client's greeting decides).
    pub protocol: String,
    /// The domain of return-path (`bounces+TOKEN@…`), reply and unsubscribe
    /// addresses; defaults to `sending.return_path`'s domain, else the From domain.
    pub bounce_domain: Option<String>,
    /// Put a reply token in `Reply-To` (`reply+TOKEN@bounce domain`) so a
    /// reply names its send for sure; the reply is kept and, with
    /// `forward_replies_to`, passed on to a person.
    pub reply_tokens: bool,
    pub forward_replies_to: Option<String>,
    /// Keep each inbound message's raw text this long (then only what tend
    /// made of it remains).
    pub keep_raw_for: Duration,
    /// Largest message taken (bigger ones are refused by the receiver).
    pub max_message_bytes: usize,
    pub imap: Option<ImapSettings>,
    #[serde(default)]
    pub webhooks: WebhookSettings,
}

impl Default for InboundSettings {
    fn default() -> Self {
        Self {
            listen: String::new(),
            protocol: "auto".into(),
            bounce_domain: None,
            reply_tokens: false,
            forward_replies_to: None,
            keep_raw_for: Duration::from_days(30),
            max_message_bytes: 10 * 1024 * 1024,
            imap: None,
            webhooks: WebhookSettings::default(),
        }
    }
}

impl InboundSettings {
    /// Whether any way in is set up (then return paths carry tokens).
    pub fn enabled(&self) -> bool {
        !self.listen.trim().is_empty() || self.imap.is_some() || self.webhooks.any()
    }
}

/// `[inbound.imap]`: a mailbox tend polls.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    pub host: String,
    #[serde(default = "default_imap_port")]
    pub port: u16,
    #[serde(default = "default_imap_tls")]
    pub tls: TlsMode,
    pub user: String,
    /// Only from `TEND__INBOUND__IMAP__PASSWORD` or `password_file`.
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_imap_folder")]
    pub folder: String,
    #[serde(default = "default_processed_folder")]
    pub processed_folder: String,
    #[serde(default = "default_imap_interval")]
    pub interval: Duration,
    pub ca_file: Option<PathBuf>,
}

fn default_imap_port() -> u16 {
    993
}
fn default_imap_tls() -> TlsMode {
    TlsMode::Tls
}
fn default_imap_folder() -> String {
    "INBOX".into()
}
fn default_processed_folder() -> String {
    "tend/processed".into()
}
fn default_imap_interval() -> Duration {
    Duration::from_secs(60)
}

impl fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("folder", &self.folder)
            .field("processed_folder", &self.processed_folder)
            .field("interval", &self.interval)
            .finish()
    }
}

/// `[inbound.webhooks]`: providers that push events (each off unless set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Amazon SES via SNS: the topic ARNs accepted (any AWS account can sign
    /// messages for its own topic, so the topic is what makes one ours).
    pub ses_topics: Vec<String>,
    /// A PEM certificate to check SNS signatures with instead of fetching
    /// `SigningCertURL` (for hosts without outbound HTTPS).
    pub ses_certificate_file: Option<PathBuf>,
    /// SendGrid's signed event webhook: its verification key (base64).
    pub sendgrid_public_key: Option<String>,
    /// Postmark: the basic-auth user; the password only from
    /// `TEND__INBOUND__WEBHOOKS__POSTMARK_PASSWORD`.
    pub postmark_user: Option<String>,
    pub postmark_password: Option<Secret>,
    /// Mailgun's webhook signing key, only from
    /// `TEND__INBOUND__WEBHOOKS__MAILGUN_SIGNING_KEY`.
    pub mailgun_signing_key: Option<Secret>,
}

impl WebhookSettings {
    pub fn any(&self) -> bool {
        !self.ses_topics.is_empty()
            || self.sendgrid_public_key.is_some()
            || self.postmark_user.is_some()
            || self.postmark_password.is_some()
            || self.mailgun_signing_key.is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimAlgorithm {
    Rsa,
    Ed25519,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    pub selector: String,
    pub domain: String,
    /// PEM private key: PKCS#1/PKCS#8 RSA, or Ed25519 as base64 of the raw key.
    pub key_file: PathBuf,
    #[serde(default = "default_dkim_algorithm")]
    pub algorithm: DkimAlgorithm,
}

fn default_dkim_algorithm() -> DkimAlgorithm {
    DkimAlgorithm::Rsa
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://tend.db` (relative to the working directory), `sqlite:///abs/path.db`,
    /// or `postgres://USER@HOST/DATABASE` for several daemons sharing one store
    /// (password from PGPASSWORD, ~/.pgpass or a URL in `TEND__DATABASE__URL`).
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
    /// An extra CA certificate (PEM) to trust, e.g. a private relay's.
    pub ca_file: Option<PathBuf>,
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
            ca_file: None,
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
            .field("ca_file", &self.ca_file)
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
    /// The sender id ending every `Feedback-ID` (`CAMPAIGN:STEP:SENDER`);
    /// defaults to each message's From domain.
    pub feedback_id: Option<String>,
    /// The envelope sender (bounce address, `MAIL FROM`), e.g.
    /// `bounces@acme.example`; `tend check --production` wants one.
    pub return_path: Option<String>,
    /// The sender's postal address, printed under the unsubscribe line of
    /// every message (CAN-SPAM and most national laws want one).
    pub postal_address: Option<String>,
    /// Per-recipient-domain rates, e.g. `{ default = "600/min", "gmail.com" = "300/min" }`.
    pub per_domain: std::collections::BTreeMap<String, Rate>,
    /// After this many consecutive deferrals (4xx) a domain is paused…
    pub backoff_after: u32,
    /// …first for this long, doubling on each further deferral…
    pub backoff_pause: Duration,
    /// …up to this long. One accepted message resets the count.
    pub backoff_max: Duration,
    /// Daily caps while warming up a new IP or domain: `[500, 1000, 2000]`
    /// means 500 on the first day tend sends, 1000 on the second…; no cap after.
    pub warmup: Vec<u32>,
    /// No sends in this local-time range, e.g. `21:00-08:00` (recipient's zone).
    pub quiet_hours: Option<String>,
    /// At most this many messages per contact across all campaigns, e.g. `2/7d`.
    pub max_per_contact: Option<Rate>,
    /// The zone for contacts whose time zone is unknown.
    pub default_timezone: String,
    /// The relay's circuit breaker opens after this many relay-level
    /// failures in a row (policy, reputation, authentication, connection)…
    pub breaker_after: u32,
    /// …or when `breaker_share` of the last `breaker_window` attempts failed so…
    pub breaker_window: u32,
    pub breaker_share: f64,
    /// …and pauses all sending for `breaker_pause`, doubling after each failed
    /// probe up to `breaker_max`.
    pub breaker_pause: Duration,
    pub breaker_max: Duration,
    /// An address that soft-bounced (mailbox full…) at least this many times…
    pub soft_bounce_limit: u32,
    /// …over at least this long, with no acceptance in between, is suppressed.
    pub soft_bounce_span: Duration,
    /// A row refused for reasons that are ours (policy, reputation, content)
    /// waits and is tried again; after this long since it was due it fails.
    pub park_for: Duration,
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
            feedback_id: None,
            return_path: None,
            postal_address: None,
            per_domain: Default::default(),
            backoff_after: 3,
            backoff_pause: Duration::from_secs(300),
            backoff_max: Duration::from_secs(3600),
            warmup: Vec::new(),
            quiet_hours: None,
            max_per_contact: None,
            default_timezone: "UTC".into(),
            breaker_after: 5,
            breaker_window: 20,
            breaker_share: 0.5,
            breaker_pause: Duration::from_secs(60),
            breaker_max: Duration::from_secs(1800),
            soft_bounce_limit: 3,
            soft_bounce_span: Duration::from_days(3),
            park_for: Duration::from_days(7),
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

/// `[retention]`: how long tend keeps personal data it no longer needs,
/// enforced by the daemon once a day (each unset: kept). Counts in reports
/// stay; what is forgotten is the text.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// The text of messages sent (bodies and chosen variants; subjects stay).
    pub message_bodies: Option<Duration>,
    /// Events (purchases, clicks, replies…); older pilots' reports lose them.
    pub events: Option<Duration>,
    /// Raw inbound mail; defaults to `inbound.keep_raw_for`.
    pub inbound_raw: Option<Duration>,
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
        Self::load_with_env(path, explicit, std::env::vars_os())
    }

    /// [`Settings::load`] with the environment given as (name, value) pairs.
    pub fn load_with_env<K, V>(
        path: &Path,
        explicit: bool,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Settings, SettingsError>
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
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
        if file_only.get_string("http.events_token").is_ok() {
            return Err(invalid(
                "`http.events_token` must not be written in the config file; set TEND__HTTP__EVENTS_TOKEN or `http.events_token_file`".into(),
            ));
        }
        if file_only.get_string("http.previous_secrets").is_ok() {
            return Err(invalid(
                "`http.previous_secrets` must not be written in the config file; set TEND__HTTP__PREVIOUS_SECRETS or list them after the first line of `http.secret_file`".into(),
            ));
        }
        if file_only.get_string("http.secret").is_ok() {
            return Err(invalid(
                "`http.secret` must not be written in the config file; set TEND__HTTP__SECRET or `http.secret_file`".into(),
            ));
        }
        if let Ok(url) = file_only.get_string("database.url") {
            if crate::store::redact_url(&url) != url {
                return Err(invalid(
                    "`database.url` must not carry a password in the config file; set PGPASSWORD (or ~/.pgpass), or the whole URL in TEND__DATABASE__URL".into(),
                ));
            }
        }
        for key in [
            "inbound.imap.password",
            "inbound.webhooks.postmark_password",
            "inbound.webhooks.mailgun_signing_key",
        ] {
            if file_only.get_string(key).is_ok() {
                let env = format!("TEND__{}", key.replace('.', "__").to_uppercase());
                return Err(invalid(format!(
                    "`{key}` must not be written in the config file; set {env} (or a `…_file` key where there is one)"
                )));
            }
        }
        if file_only.get_string("smtp.password").is_ok() {
            return Err(invalid(
                "`smtp.password` must not be written in the config file; set TEND__SMTP__PASSWORD or `smtp.password_file`".into(),
            ));
        }
        let env = EnvOverrides::collect(env).map_err(invalid)?;
        let mut builder = Config::builder().add_source(file).add_source(
            Environment::with_prefix(ENV_PREFIX)
                .prefix_separator(ENV_SEPARATOR)
                .separator(ENV_SEPARATOR)
                .try_parsing(true)
                .source(Some(env.set)),
        );
        // Nil, not absent: an Option becomes None even when the file or a
        // default says otherwise, and anything else refuses it (below).
        for (key, variable) in &env.unset {
            builder = builder
                .set_override(key, Value::new(Some(variable), ValueKind::Nil))
                .map_err(|e| invalid(format!("{variable}: {e}")))?;
        }
        let merged = builder.build().map_err(|e| invalid(e.to_string()))?;
        let mut settings: Settings = merged.try_deserialize().map_err(|e| {
            match error_key(&e).and_then(|key| env.unset.iter().find(|(k, _)| k == key)) {
                Some((key, variable)) => invalid(format!(
                    "key `{key}` cannot be unset: {variable} is empty, but `{key}` needs a value (give one, or remove the variable to use the file's value or the default)"
                )),
                None => invalid(e.to_string()),
            }
        })?;
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
        if settings.http.secret.is_none() {
            if let Some(file) = &settings.http.secret_file {
                let secret = std::fs::read_to_string(file).map_err(|source| {
                    SettingsError::PasswordFile {
                        path: file.display().to_string(),
                        source,
                    }
                })?;
                let mut lines = secret.lines().map(str::trim).filter(|l| !l.is_empty());
                settings.http.secret = lines.next().map(Secret::new);
                settings.http.previous_secrets = lines.map(Secret::new).collect();
            }
        }
        if let Some(text) = settings.http.previous_secrets_text.take() {
            settings.http.previous_secrets.extend(
                text.expose()
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|p| !p.is_empty())
                    .map(Secret::new),
            );
        }
        if let Some(imap) = settings.inbound.imap.as_mut() {
            if imap.password.is_none() {
                if let Some(file) = &imap.password_file {
                    let secret = std::fs::read_to_string(file).map_err(|source| {
                        SettingsError::PasswordFile {
                            path: file.display().to_string(),
                            source,
                        }
                    })?;
                    imap.password = Some(Secret::new(secret.trim_end_matches(['\r', '\n'])));
                }
            }
        }
        if settings.retention.inbound_raw.is_none() {
            settings.retention.inbound_raw = Some(settings.inbound.keep_raw_for);
        }
        if settings.http.events_token.is_none() {
            if let Some(file) = &settings.http.events_token_file {
                let token = std::fs::read_to_string(file).map_err(|source| {
                    SettingsError::PasswordFile {
                        path: file.display().to_string(),
                        source,
                    }
                })?;
                settings.http.events_token = Some(Secret::new(token.trim()));
            }
        }
        settings.validate().map_err(invalid)?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        self.console.validate()?;
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
        if let Some(id) = &self.sending.feedback_id {
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                return Err(format!(
                    "key `sending.feedback_id`: `{id}` must be letters, digits, `.`, `-` or `_` (it is the last field of `Feedback-ID`, e.g. acme.example)"
                ));
            }
        }
        if let Some(path) = &self.sending.return_path {
            crate::domain::EmailAddress::parse(path).map_err(|e| {
                format!("key `sending.return_path`: `{path}` is not an address: {e}")
            })?;
        }
        if let Some(quiet) = &self.sending.quiet_hours {
            crate::schedule::Hours::parse(quiet)
                .map_err(|e| format!("key `sending.quiet_hours`: {e}"))?;
        }
        self.sending.default_timezone.parse::<chrono_tz::Tz>().map_err(|_| {
            format!(
                "key `sending.default_timezone`: unknown time zone `{}` (use an IANA name such as Europe/Berlin)",
                self.sending.default_timezone
            )
        })?;
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
        let limits = &self.http.limits;
        crate::http::guard::Proxies::parse(&limits.trusted_proxies)
            .map_err(|e| format!("key `http.limits.trusted_proxies`: {e}"))?;
        for (key, rate) in [
            ("links", limits.links),
            ("events", limits.events),
            ("sign_in", limits.sign_in),
            ("other", limits.other),
        ] {
            if rate.count == 0 || rate.period.as_secs() <= 0 {
                return Err(format!(
                    "key `http.limits.{key}` must allow at least one request per period, e.g. \"60/min\""
                ));
            }
        }
        if limits.max_connections == 0 || limits.max_connections_per_client == 0 {
            return Err("keys `http.limits.max_connections` and `max_connections_per_client` must be at least 1".into());
        }
        if limits.max_header_bytes < 8192 {
            return Err(format!(
                "key `http.limits.max_header_bytes` ({}) must be at least 8192",
                limits.max_header_bytes
            ));
        }
        if limits.header_timeout.as_secs() <= 0 || limits.request_timeout.as_secs() <= 0 {
            return Err(
                "keys `http.limits.header_timeout` and `request_timeout` must be at least 1s"
                    .into(),
            );
        }
        if !(self.sending.breaker_share > 0.0 && self.sending.breaker_share <= 1.0) {
            return Err(format!(
                "key `sending.breaker_share` ({}) must be a share between 0 and 1, e.g. 0.5",
                self.sending.breaker_share
            ));
        }
        if self.sending.batch == 0 || self.sending.max_attempts == 0 {
            return Err(
                "keys `sending.batch` and `sending.max_attempts` must be at least 1".into(),
            );
        }
        if let Some(secret) = &self.http.secret {
            if secret.expose().len() < 16 {
                return Err("key `http.secret` must be at least 16 characters".into());
            }
        }
        if self
            .http
            .previous_secrets
            .iter()
            .any(|s| s.expose().len() < 16)
        {
            return Err("every previous link secret must be at least 16 characters".into());
        }
        if !self.http.previous_secrets.is_empty() && self.http.secret.is_none() {
            return Err("previous link secrets need the current one: set TEND__HTTP__SECRET or `http.secret_file` (or use `tend keys rotate` with the stored key)".into());
        }
        let inbound = &self.inbound;
        if !["auto", "smtp", "lmtp"].contains(&inbound.protocol.as_str()) {
            return Err(format!(
                "key `inbound.protocol`: `{}` is not one of auto, smtp, lmtp",
                inbound.protocol
            ));
        }
        if !inbound.listen.trim().is_empty()
            && inbound
                .listen
                .trim()
                .parse::<std::net::SocketAddr>()
                .is_err()
        {
            return Err(format!(
                "key `inbound.listen`: `{}` is not an address to listen on (write e.g. 127.0.0.1:2526)",
                inbound.listen
            ));
        }
        if let Some(forward) = &inbound.forward_replies_to {
            crate::domain::EmailAddress::parse(forward).map_err(|e| {
                format!("key `inbound.forward_replies_to`: `{forward}` is not an address: {e}")
            })?;
        }
        let public = &self.http.public_url;
        if !(public.starts_with("https://") || public.starts_with("http://")) {
            return Err(format!(
                "key `http.public_url`: `{public}` must start with https:// (or http:// for local testing)"
            ));
        }
        if crate::store::Kind::of(&self.database.url).is_none() {
            return Err(format!(
                "key `database.url`: `{}` is not supported: use `sqlite://PATH` (embedded) or `postgres://USER@HOST/DATABASE` (shared by several daemons)",
                crate::store::redact_url(&self.database.url)
            ));
        }
        Ok(())
    }

    /// Quiet hours, checked at load.
    pub fn quiet_hours(&self) -> Option<crate::schedule::Hours> {
        self.sending
            .quiet_hours
            .as_deref()
            .and_then(|q| crate::schedule::Hours::parse(q).ok())
    }

    /// The default contact time zone, checked at load.
    pub fn default_timezone(&self) -> chrono_tz::Tz {
        self.sending
            .default_timezone
            .parse()
            .unwrap_or(chrono_tz::UTC)
    }

    /// The from mailbox; required once anything is rendered or sent.
    pub fn from_mailbox(&self) -> Option<Mailbox> {
        self.sending.from.as_ref().and_then(|f| f.parse().ok())
    }

    /// The domain of tokened return-path, reply and unsubscribe addresses:
    /// `inbound.bounce_domain`, else `sending.return_path`'s domain, else the
    /// From domain.
    pub fn bounce_domain(&self) -> Option<String> {
        self.inbound
            .bounce_domain
            .clone()
            .or_else(|| {
                self.sending
                    .return_path
                    .as_deref()
                    .and_then(|r| r.rsplit_once('@'))
                    .map(|(_, d)| d.trim_end_matches('>').to_string())
            })
            .or_else(|| self.from_mailbox().map(|m| m.email.domain().to_string()))
    }
}

const ENV_PREFIX: &str = "TEND";
const ENV_SEPARATOR: &str = "__";

/// The `TEND__…` variables, split the way [`Settings::load`] applies them.
#[derive(Debug, Default)]
struct EnvOverrides {
    /// Variables with a value, by name: parsed by the `config` crate.
    set: Map<String, String>,
    /// (key such as `sending.quiet_hours`, variable name) for each empty one.
    unset: Vec<(String, String)>,
}

impl EnvOverrides {
    /// Names are matched and split like the `config` crate does: prefix
    /// case-insensitive, keys lower-cased, `__` between levels.
    fn collect<K, V>(env: impl IntoIterator<Item = (K, V)>) -> Result<Self, String>
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}").to_lowercase();
        let mut out = Self::default();
        for (name, value) in env {
            let Ok(name) = name.into().into_string() else {
                continue;
            };
            let lower = name.to_lowercase();
            let Some(path) = lower.strip_prefix(&prefix) else {
                continue;
            };
            let value = value
                .into()
                .into_string()
                .map_err(|_| format!("{name} is not valid UTF-8"))?;
            if value.is_empty() {
                out.unset.push((path.replace(ENV_SEPARATOR, "."), name));
            } else {
                out.set.insert(name, value);
            }
        }
        Ok(out)
    }
}

/// The settings key a deserialization error is about, when it names one.
fn error_key(error: &ConfigError) -> Option<&str> {
    match error {
        ConfigError::Type { key, .. } | ConfigError::At { key, .. } => key.as_deref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_str(text: &str) -> Result<Settings, SettingsError> {
        load_env(text, &[])
    }

    /// Loads `text` as the config file with exactly `env` as the environment.
    fn load_env(text: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        Settings::load_with_env(file.path(), true, env.iter().copied())
    }

    /// A file that sets every optional setting.
    const EVERY_OPTION: &str = r#"
[smtp]
username = "mailer"
password_file = "/nonexistent/password"
hello_name = "mx.acme.example"
ca_file = "/etc/tend/ca.pem"
[sending]
from = "Ana <ana@acme.example>"
reply_to = "Help <help@acme.example>"
unsubscribe_mailto = "unsubscribe@acme.example"
feedback_id = "acme"
return_path = "bounces@acme.example"
postal_address = "Acme Ltd, 1 Main Street, Springfield"
quiet_hours = "21:00-08:00"
max_per_contact = "2/7d"
[http]
secret_file = "/nonexistent/secret"
events_token_file = "/nonexistent/token"
[dkim]
selector = "s1"
domain = "acme.example"
key_file = "/etc/tend/dkim.key"
"#;

    #[test]
    fn an_empty_variable_unsets_an_optional_setting_from_the_file() {
        let s = load_env(
            EVERY_OPTION,
            &[
                ("TEND__SMTP__USERNAME", ""),
                ("TEND__SMTP__PASSWORD_FILE", ""),
                ("TEND__SMTP__HELLO_NAME", ""),
                ("TEND__SMTP__CA_FILE", ""),
                ("TEND__SENDING__FROM", ""),
                ("TEND__SENDING__REPLY_TO", ""),
                ("TEND__SENDING__UNSUBSCRIBE_MAILTO", ""),
                ("TEND__SENDING__FEEDBACK_ID", ""),
                ("TEND__SENDING__RETURN_PATH", ""),
                ("TEND__SENDING__POSTAL_ADDRESS", ""),
                ("TEND__SENDING__QUIET_HOURS", ""),
                ("TEND__SENDING__MAX_PER_CONTACT", ""),
                ("TEND__HTTP__SECRET_FILE", ""),
                ("TEND__HTTP__EVENTS_TOKEN_FILE", ""),
                ("TEND__DKIM", ""),
            ],
        )
        .unwrap();
        assert_eq!(s.smtp.username, None);
        assert_eq!(s.smtp.password_file, None);
        assert!(s.smtp.password.is_none());
        assert_eq!(s.smtp.hello_name, None);
        assert_eq!(s.smtp.ca_file, None);
        assert_eq!(s.sending.from, None);
        assert_eq!(s.sending.reply_to, None);
        assert_eq!(s.sending.unsubscribe_mailto, None);
        assert_eq!(s.sending.feedback_id, None);
        assert_eq!(s.sending.return_path, None);
        assert_eq!(s.sending.postal_address, None);
        assert_eq!(s.sending.quiet_hours, None);
        assert!(s.quiet_hours().is_none());
        assert!(s.sending.max_per_contact.is_none());
        assert_eq!(s.http.secret_file, None);
        assert_eq!(s.http.events_token_file, None);
        assert!(s.dkim.is_none(), "`TEND__DKIM=` turns signing off");
    }

    #[test]
    fn without_the_empty_variables_the_file_values_stand() {
        // The same file fails only on its unreadable secret file: every value was read.
        let err = load_env(EVERY_OPTION, &[("TEND__SENDING__QUIET_HOURS", "")]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/password"), "{err}");
        let s = load_env(
            "[sending]\nquiet_hours = \"21:00-08:00\"\n",
            &[("TEND__SENDING__MAX_PER_CONTACT", "")],
        )
        .unwrap();
        assert_eq!(s.sending.quiet_hours.as_deref(), Some("21:00-08:00"));
    }

    #[test]
    fn a_variable_with_a_value_still_overrides_and_names_are_case_insensitive() {
        let s = load_env(
            "[smtp]\nport = 587\n[sending]\nquiet_hours = \"21:00-08:00\"\n",
            &[
                ("TEND__SMTP__PORT", "2525"),
                ("tend__sending__quiet_hours", ""),
                ("TENDER__SMTP__HOST", ""),
                ("OTHER", ""),
            ],
        )
        .unwrap();
        assert_eq!(s.smtp.port, 2525);
        assert_eq!(s.sending.quiet_hours, None);
        assert_eq!(s.smtp.host, "127.0.0.1");
    }

    #[test]
    fn an_empty_secret_variable_falls_back_to_its_file() {
        let mut secret = tempfile::NamedTempFile::new().unwrap();
        secret.write_all(b"from-the-file\n").unwrap();
        let text = format!("[smtp]\npassword_file = {:?}\n", secret.path());
        let s = load_env(&text, &[("TEND__SMTP__PASSWORD", "")]).unwrap();
        assert_eq!(s.smtp.password.unwrap().expose(), "from-the-file");
    }

    #[test]
    fn an_empty_listen_address_disables_the_listener() {
        let s = load_env(
            "[http]\nlisten = \"0.0.0.0:8025\"\n",
            &[("TEND__HTTP__LISTEN", "")],
        )
        .unwrap();
        assert_eq!(s.http.listen, "");
    }

    #[test]
    fn an_empty_variable_for_a_required_setting_is_an_error_naming_key_and_variable() {
        for (variable, key) in [
            ("TEND__SENDING__RATE", "sending.rate"),
            ("TEND__SENDING__BATCH", "sending.batch"),
            (
                "TEND__SENDING__DEFAULT_TIMEZONE",
                "sending.default_timezone",
            ),
            ("TEND__SMTP__PORT", "smtp.port"),
            ("TEND__SMTP__TLS", "smtp.tls"),
            ("TEND__SMTP__TIMEOUT", "smtp.timeout"),
            ("TEND__DATABASE__URL", "database.url"),
            ("TEND__LIFECYCLE__LOST_AFTER", "lifecycle.lost_after"),
            ("TEND__DKIM__SELECTOR", "dkim.selector"),
        ] {
            let err = load_env(EVERY_OPTION, &[(variable, "")]).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(&format!("key `{key}` cannot be unset")) && text.contains(variable),
                "{variable}: {text}"
            );
        }
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
    fn a_database_password_in_the_file_is_refused_but_postgres_urls_are_welcome() {
        let err = load_str("[database]\nurl = \"postgres://tend:hunter2@db/tend\"\n").unwrap_err();
        assert!(err.to_string().contains("PGPASSWORD"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
        let ok = load_str("[database]\nurl = \"postgres://tend@db.internal/tend\"\n").unwrap();
        assert_eq!(ok.database.url, "postgres://tend@db.internal/tend");
        let bad = load_str("[database]\nurl = \"mysql://x/y\"\n").unwrap_err();
        assert!(bad.to_string().contains("postgres://"), "{bad}");
    }

    #[test]
    fn a_password_in_the_file_is_refused() {
        let err = load_str("[smtp]\npassword = \"hunter2\"\n").unwrap_err();
        assert!(err.to_string().contains("TEND__SMTP__PASSWORD"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn console_users_need_argon2_hashes_and_proxies_ip_addresses() {
        let hash = crate::console::hash_password("pw").unwrap();
        let ok = load_str(&format!(
            "[console]\nenabled = true\nsso_proxies = [\"127.0.0.1\"]\n[[console.users]]\nname = \"alice\"\npassword_hash = \"{hash}\"\nrole = \"operator\"\n"
        ))
        .unwrap();
        assert_eq!(ok.console.users[0].role, crate::console::Role::Operator);
        assert_eq!(ok.console.sso_role, crate::console::Role::Viewer);
        let plain = load_str("[[console.users]]\nname = \"bob\"\npassword_hash = \"hunter2\"\n")
            .unwrap_err()
            .to_string();
        assert!(plain.contains("console.users[0].password_hash"), "{plain}");
        let proxy = load_str("[console]\nsso_proxies = [\"proxy.internal\"]\n")
            .unwrap_err()
            .to_string();
        assert!(proxy.contains("console.sso_proxies"), "{proxy}");
        let role = load_str(&format!(
            "[[console.users]]\nname = \"c\"\npassword_hash = \"{hash}\"\nrole = \"admin\"\n"
        ));
        assert!(role.is_err(), "only viewer or operator");
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
