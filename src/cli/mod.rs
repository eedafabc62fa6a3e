//! The command-line edge: clap definitions and one file per subcommand.
//! `anyhow` lives here and in `main.rs` only. Exit codes: 0 ok, 1 user
//! error (bad input, failed check), 2 runtime failure.

#[macro_use]
mod out;

mod app;
mod audit;
mod check;
mod console;
mod contacts;
mod events;
mod inbound;
mod keys;
mod outbox;
mod pilot;
mod plan;
mod preview;
mod progress;
mod report;
mod run;
mod segment;
mod status;
mod suppress;
mod variation;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

pub use app::UserError;
pub use out::stdout_closed;

#[derive(Debug, Parser)]
#[command(
    name = "tend",
    version,
    about = "A scheduled nurture-campaign engine: keeps in touch so clients never feel forgotten"
)]
pub struct Cli {
    /// Config file [default: config/tend.toml]
    #[arg(long, global = true, env = "TEND_CONFIG")]
    pub config: Option<PathBuf>,
    /// Pretend it is this instant (RFC 3339, e.g. 2026-11-23T10:00:00Z)
    #[arg(long, global = true, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Machine-readable output
    #[arg(long, global = true)]
    pub json: bool,
    /// Log format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured on a terminal
    Auto,
    /// One JSON object per line
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or upgrade the database schema
    Migrate,
    /// Validate config, campaigns and templates; errors as file:line:col
    Check(check::CheckArgs),
    /// Manage contacts
    #[command(subcommand)]
    Contacts(contacts::ContactsCommand),
    /// Record what contacts did (activity, unsubscribe, bounce, complaint)
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Addresses and domains tend must never email
    #[command(subcommand)]
    Suppress(suppress::SuppressCommand),
    /// Print exactly the message a contact would receive, headers included
    Preview(preview::PreviewArgs),
    /// Dry run: per campaign and step, who would enter and what is due now
    Plan,
    /// Run the daemon (or one tick and a drain with --once)
    Run(run::RunArgs),
    /// Outbox by state, held and in-doubt sends, the relay, the last tick
    Status,
    /// What came back (bounces, complaints, replies…): take FILE… or `-`; list, show, undo
    Inbound(inbound::InboundArgs),
    /// Who changed what: suppressions, erasures, settled rows, undos, promotions, reloads, keys
    Audit(audit::AuditArgs),
    /// The keys that sign links and return paths: list, rotate, retire
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The outbox row by row (Message-IDs, reasons); `resolve` settles in-doubt rows
    Outbox(outbox::OutboxArgs),
    /// The web console: `hash-password` makes a password hash for `[[console.users]]`
    #[command(subcommand)]
    Console(console::ConsoleCommand),
    /// What a campaign did; for a pilot, treatment vs holdout with a 95% interval
    Report(report::ReportArgs),
    /// Pilot campaigns
    #[command(subcommand)]
    Pilot(pilot::PilotCommand),
    /// Who is in a campaign's segment now: count, list, explain
    #[command(subcommand)]
    Segment(segment::SegmentCommand),
    /// How varied a campaign's actual sends were: subjects, openers, repeats, similarity
    Variation(variation::VariationArgs),
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    crate::import::parse_time(text)
}

/// Runs the parsed command; errors carry their exit code.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = app::Context::new(&cli)?;
    match cli.command {
        Command::Migrate => app::migrate(&ctx).await,
        Command::Check(args) => check::run(&ctx, args).await,
        Command::Contacts(cmd) => contacts::run(&ctx, cmd).await,
        Command::Events(cmd) => events::run(&ctx, cmd).await,
        Command::Suppress(cmd) => suppress::run(&ctx, cmd).await,
        Command::Preview(args) => preview::run(&ctx, args).await,
        Command::Plan => plan::run(&ctx).await,
        Command::Run(args) => run::run(&ctx, args).await,
        Command::Status => status::run(&ctx).await,
        Command::Outbox(args) => outbox::run(&ctx, args).await,
        Command::Inbound(args) => inbound::run(&ctx, args).await,
        Command::Keys(cmd) => keys::run(&ctx, cmd).await,
        Command::Audit(args) => audit::run(&ctx, args).await,
        Command::Report(args) => report::run(&ctx, args).await,
        Command::Console(cmd) => console::run(cmd),
        Command::Pilot(cmd) => pilot::run(&ctx, cmd).await,
        Command::Segment(cmd) => segment::run(&ctx, cmd).await,
        Command::Variation(args) => variation::run(&ctx, args).await,
    }
}
