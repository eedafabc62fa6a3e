//! `tend events import FILE.csv`: email,kind,at,detail.

use super::app::{Context, UserError, print_json};
use crate::import::{Rejected, parse_events};
use crate::store::EventCounts;
use crate::store::prelude::*;
use anyhow::Context as _;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Import events from CSV: email,kind,at,detail (kind: activity|purchase|…|unsubscribe|bounce|complaint)
    Import {
        /// The CSV file
        file: PathBuf,
    },
}

pub async fn run(ctx: &Context, command: EventsCommand) -> anyhow::Result<ExitCode> {
    let EventsCommand::Import { file } = command;
    let input = std::fs::File::open(&file)
        .map_err(|e| UserError(format!("cannot open {}: {e}", file.display())))?;
    let source = format!(
        "import:{}",
        file.file_name().unwrap_or_default().to_string_lossy()
    );
    let parsed = parse_events(std::io::BufReader::new(input), &source)
        .map_err(|e| UserError(format!("{}: {e}", file.display())))?;
    let store = ctx.store().await?;
    let mut rejected = parsed.rejected;
    let mut total = EventCounts::default();
    for chunk in parsed.rows.chunks(1_000) {
        let events: Vec<_> = chunk.iter().map(|(_, e)| e.clone()).collect();
        let counts = store
            .record_events(&events, ctx.clock().now())
            .await
            .context("importing events")?;
        for (line, event) in chunk {
            if counts.unknown_contacts.contains(&event.email.to_string()) {
                rejected.push(Rejected {
                    line: *line,
                    reason: format!(
                        "no contact with email {} (import the contact first)",
                        event.email
                    ),
                });
            }
        }
        total.stored += counts.stored;
        total.duplicates += counts.duplicates;
        total.suppressions_added += counts.suppressions_added;
    }
    rejected.sort_by_key(|r| r.line);
    if ctx.json {
        print_json(&serde_json::json!({
            "stored": total.stored, "duplicates": total.duplicates,
            "suppressions_added": total.suppressions_added,
            "rejected": rejected.len(), "rejections": rejected,
        }))?;
    } else {
        for r in &rejected {
            eprintln!("{}:{}: rejected: {}", file.display(), r.line, r.reason);
        }
        outln!(
            "stored {} event(s), {} already known, {} suppression(s) added, rejected {}",
            total.stored,
            total.duplicates,
            total.suppressions_added,
            rejected.len()
        )?;
    }
    Ok(if rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
