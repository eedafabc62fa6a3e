//! # tend — a scheduled nurture-campaign engine
//!
//! tend keeps in touch with clients so they do not feel forgotten: it loads
//! campaign definitions, decides who is due a message, and sends each message
//! exactly once through SMTP, recording every send.
//!
//! # Layout
//!
//! Data flows one way: catalog → plan → outbox → send → ledger.
//!
//! - [`config`]: the settings tree (defaults, `config/tend.toml`, `TEND__` environment).
//! - [`domain`]: newtypes that can only hold valid values (email addresses, durations, rates, stages).
//! - [`clock`]: the injectable notion of "now" (`--now`).
//! - [`catalog`]: campaign TOML files and templates: load, validate with file:line:col diagnostics.
//! - [`segment`]: lifecycle stages and the filter language (parse → check → resolve to a store condition).
//! - [`schedule`]: calendar rules (entry schedules, windows, quiet hours, caps) as pure functions.
//! - [`pilot`]: reproducible samples with a holdout group, and promotion to a full rollout.
//! - [`plan`]: the tick: who enters a campaign and which steps are due, as outbox rows.
//! - [`render`]: Tera templates to a complete MIME message (preview equals send).
//! - [`send`]: SMTP/file transports, rate limit, the claim → send → record loop.
//! - [`store`]: the `Store` trait and its SQLite implementation; nothing else speaks SQL.
//! - [`import`]: CSV import of contacts and events, with per-line rejections.
//! - [`inbound`]: what comes back (bounces, complaints, auto-replies, replies, unsubscribes): VERP tokens, one classifier, provider webhooks.
//! - [`links`]: signed links in messages (unsubscribe, clicks), and their rotating key ring.
//! - [`privacy`]: a person's data: export, erasure (a keyed hash stays), retention.
//! - [`http`]: the daemon's HTTP listener: one-click unsubscribe, health.
//! - [`clicks`]: tracked-link clicks: a reader's, or a link scanner's.
//! - [`report`]: campaign and pilot statistics (Wilson, Newcombe), text/JSON/HTML.
//! - [`daemon`]: the long-running loop, signal handling and graceful shutdown.
//! - [`production`]: `tend check --production`: what must be right before real mail goes out.
//! - [`variation`]: variant choice, de-repetition, the similarity lint and the variation metric.
//! - [`cli`]: the command-line edge (clap), one file per subcommand.
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

pub mod audit;
pub mod catalog;
pub mod cli;
pub mod clicks;
pub mod clock;
pub mod config;
pub mod console;
pub mod daemon;
pub mod domain;
pub mod http;
pub mod import;
pub mod inbound;
pub mod links;
pub mod metrics;
pub mod pilot;
pub mod plan;
pub mod privacy;
pub mod production;
pub mod render;
pub mod report;
pub mod schedule;
pub mod segment;
pub mod send;
pub mod store;
pub mod variation;
