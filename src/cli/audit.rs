//! `tend audit`: the audit log, newest first — every administrative change
//! made from the command line, the console or by the daemon itself.

use super::app::{Context, print_json};
use crate::store::{AuditFilter, AuditStore};
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only changes by this actor (`cli:root`, `console:alice`, `daemon:HOST`)
    #[arg(long)]
    actor: Option<String>,
    /// Only this action (suppress, unsuppress, erase, settle, undo_inbound, promote, reload, rotate_key, retire_key)
    #[arg(long)]
    action: Option<String>,
    /// Only changes whose subject contains this text
    #[arg(long)]
    subject: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: u64,
}

pub async fn run(ctx: &Context, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let entries = store
        .list_audit(&AuditFilter {
            actor: args.actor,
            action: args.action,
            subject: args.subject,
            limit: Some(args.limit),
        })
        .await?;
    if ctx.json {
        print_json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    for e in &entries {
        outln!(
            "{}  {:<20} {:<12} {}{}",
            e.at.to_rfc3339(),
            e.actor,
            e.action,
            e.subject,
            if e.detail.is_empty() {
                String::new()
            } else {
                format!(" — {}", e.detail)
            }
        )?;
    }
    if entries.is_empty() {
        outln!("no administrative change recorded yet")?;
    }
    Ok(ExitCode::SUCCESS)
}
