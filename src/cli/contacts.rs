//! `tend contacts import FILE.csv`: upsert; bad rows reported by line number.

use super::app::{Context, UserError, print_json};
use crate::import::{ContactRows, Rejected};
use crate::store::UpsertCounts;
use crate::store::prelude::*;
use anyhow::Context as _;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ContactsCommand {
    /// Import contacts from CSV: email,name,created_at,last_activity_at,timezone,tags + attribute columns
    Import {
        /// The CSV file
        file: PathBuf,
    },
}

/// Rows per transaction: large imports commit in steps.
const CHUNK: usize = 10_000;

pub async fn run(ctx: &Context, command: ContactsCommand) -> anyhow::Result<ExitCode> {
    let ContactsCommand::Import { file } = command;
    let input = std::fs::File::open(&file)
        .map_err(|e| UserError(format!("cannot open {}: {e}", file.display())))?;
    let mut rows = ContactRows::new(std::io::BufReader::new(input))
        .map_err(|e| UserError(format!("{}: {e}", file.display())))?;
    let store = ctx.store().await?;
    let now = ctx.clock().now();
    let mut counts = UpsertCounts::default();
    let mut rejected = Vec::new();
    let mut progress = super::progress::Progress::new("importing contacts", None);
    // Read and stored a chunk at a time: memory stays flat however long the file.
    loop {
        let chunk = rows.next_chunk(CHUNK);
        rejected.extend(chunk.rejected);
        if chunk.rows.is_empty() {
            break;
        }
        let contacts: Vec<_> = chunk.rows.into_iter().map(|(_, c)| c).collect();
        progress.advance(contacts.len() as u64);
        let done = store
            .upsert_contacts(&contacts, now)
            .await
            .context("importing contacts")?;
        counts.inserted += done.inserted;
        counts.updated += done.updated;
    }
    progress.finish();
    report(ctx, &file, counts.inserted, counts.updated, &rejected)
}

pub fn report(
    ctx: &Context,
    file: &std::path::Path,
    inserted: u64,
    updated: u64,
    rejected: &[Rejected],
) -> anyhow::Result<ExitCode> {
    if ctx.json {
        print_json(&serde_json::json!({
            "imported": inserted + updated, "new": inserted, "updated": updated,
            "rejected": rejected.len(), "rejections": rejected,
        }))?;
    } else {
        for r in rejected {
            eprintln!("{}:{}: rejected: {}", file.display(), r.line, r.reason);
        }
        outln!(
            "imported {} (new {inserted}, updated {updated}), rejected {}",
            inserted + updated,
            rejected.len()
        )?;
    }
    Ok(if rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
