//! `tend outbox [resolve]`: the outbox row by row, with the Message-ID to
//! look up in the relay's log, and the operator's way to settle rows that
//! are in doubt (their sender stopped after handing the message over and
//! before recording the answer).

use super::app::{Context, UserError, print_json};
use crate::domain::SendState;
use crate::store::prelude::*;
use crate::store::{OutboxFilter, OutboxRow, Settle};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub command: Option<OutboxCommand>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only rows in this state (repeatable): queued, claimed, sending, sent,
    /// retry, failed, suppressed, cancelled, in_doubt
    #[arg(long = "state", value_parser = parse_state)]
    pub states: Vec<SendState>,
    /// Only this campaign's rows
    #[arg(long)]
    pub campaign: Option<String>,
    /// At most this many rows (oldest first)
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Settle in-doubt rows: --sent when the relay's log shows them accepted,
    /// --requeue when it does not (they are sent again)
    Resolve(ResolveArgs),
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The relay accepted them: record them as sent
    #[arg(long, conflicts_with = "requeue", required_unless_present = "requeue")]
    pub sent: bool,
    /// They never arrived: put them back in the queue
    #[arg(long)]
    pub requeue: bool,
    /// Row ids (repeatable, or comma-separated)
    #[arg(long = "id", value_delimiter = ',')]
    pub ids: Vec<i64>,
    /// Rows handed to the relay at or after this instant (RFC 3339)
    #[arg(long, value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// Rows handed to the relay before this instant (RFC 3339)
    #[arg(long, value_parser = parse_time)]
    pub to: Option<DateTime<Utc>>,
    /// Every in-doubt row (of --campaign, if given)
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub campaign: Option<String>,
    /// Why: kept in each row (e.g. "checked relay log 2026-12-02")
    #[arg(long, default_value = "settled by an operator")]
    pub note: String,
}

fn parse_state(text: &str) -> Result<SendState, String> {
    text.parse()
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    crate::import::parse_time(text)
}

pub async fn run(ctx: &Context, args: OutboxArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(OutboxCommand::Resolve(resolve)) => settle(ctx, resolve).await,
        None => list(ctx, args.list).await,
    }
}

fn when(row: &OutboxRow) -> String {
    match (row.state, row.wire_at, row.sent_at) {
        (SendState::Sent, _, Some(sent)) => format!("sent {}", sent.to_rfc3339()),
        (_, Some(wire), _) => format!("handed over {}", wire.to_rfc3339()),
        _ => format!("next {}", row.next_at.to_rfc3339()),
    }
}

async fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let rows = store
        .outbox_rows(&OutboxFilter {
            states: args.states,
            campaign: args.campaign,
            limit: Some(args.limit),
            ..Default::default()
        })
        .await?;
    if ctx.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!("no rows")?;
        return Ok(ExitCode::SUCCESS);
    }
    for row in &rows {
        outln!(
            "#{:<7} {:<10} {} step {} to {}  {}  attempts {}{}",
            row.id,
            row.state.as_str(),
            row.campaign,
            row.step + 1,
            row.email,
            when(row),
            row.attempts,
            if row.refusals > 0 {
                format!(" (+{} refused by the relay)", row.refusals)
            } else {
                String::new()
            }
        )?;
        if let Some(id) = &row.message_id {
            outln!("          Message-ID {id}")?;
        }
        if let Some(reason) = row.hold_reason {
            outln!("          held: {}", reason.describe())?;
        }
        if let Some(error) = &row.last_error {
            outln!("          {error}")?;
        }
        if let Some(note) = &row.note {
            outln!("          note: {note}")?;
        }
    }
    if rows.iter().any(|r| r.state == SendState::InDoubt) {
        outln!(
            "\nin doubt: look the Message-IDs up in the relay's log, then\n  tend outbox resolve --sent --id N…     (it was accepted)\n  tend outbox resolve --requeue --id N…  (it never arrived: send it again)"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn settle(ctx: &Context, args: ResolveArgs) -> anyhow::Result<ExitCode> {
    if args.ids.is_empty() && args.from.is_none() && args.to.is_none() && !args.all {
        return Err(UserError(
            "say which in-doubt rows to settle: --id N (repeatable), --from/--to a time range, or --all".into(),
        )
        .into());
    }
    let store = ctx.store().await?;
    let how = if args.sent {
        Settle::Sent
    } else {
        Settle::Requeue
    };
    let filter = OutboxFilter {
        states: vec![SendState::InDoubt],
        campaign: args.campaign,
        ids: args.ids,
        from: args.from,
        to: args.to,
        limit: None,
    };
    let which = describe(&filter, args.all);
    let n = store
        .settle(&filter, how, &args.note, ctx.clock().now())
        .await?;
    if n > 0 {
        let as_what = match how {
            Settle::Sent => "sent",
            Settle::Requeue => "requeue",
        };
        ctx.audit(
            &store,
            "settle",
            &which,
            &format!("{n} row(s) as {as_what}: {}", args.note),
        )
        .await?;
    }
    if ctx.json {
        print_json(&serde_json::json!({ "settled": n, "as": how }))?;
    } else if n == 0 {
        outln!("no in-doubt row matched; nothing changed (see `tend outbox --state in_doubt`)")?;
    } else {
        outln!(
            "{n} in-doubt send(s) {}",
            match how {
                Settle::Sent => "recorded as sent",
                Settle::Requeue => "put back in the queue: they go out at the next round",
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The rows a settle named, for the audit log (`outbox #3,#7`, a time range, all).
fn describe(filter: &OutboxFilter, all: bool) -> String {
    let mut parts = Vec::new();
    if !filter.ids.is_empty() {
        let ids: Vec<String> = filter.ids.iter().map(|id| format!("#{id}")).collect();
        parts.push(format!("outbox {}", ids.join(",")));
    }
    if filter.from.is_some() || filter.to.is_some() {
        let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "…".into())
        };
        parts.push(format!(
            "in doubt from {} to {}",
            at(filter.from),
            at(filter.to)
        ));
    }
    if parts.is_empty() || all {
        parts.push("all in-doubt rows".into());
    }
    if let Some(campaign) = &filter.campaign {
        parts.push(format!("of {campaign}"));
    }
    parts.join(" ")
}
