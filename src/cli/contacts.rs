//! `tend contacts import FILE.csv`: upsert; bad rows reported by line number.
//! `tend contacts export EMAIL` and `tend contacts erase EMAIL`: a person's
//! right to see and to erase what tend holds about them.

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
    /// Everything tend holds about one person, as JSON
    Export {
        email: String,
        /// Write to this file instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase one person: only a keyed hash of the address stays, so they are never emailed again
    Erase {
        email: String,
        /// Really erase (without it, says what would be removed)
        #[arg(long)]
        yes: bool,
    },
}

/// Rows per transaction: large imports commit in steps.
const CHUNK: usize = 10_000;

pub async fn run(ctx: &Context, command: ContactsCommand) -> anyhow::Result<ExitCode> {
    let file = match command {
        ContactsCommand::Import { file } => file,
        ContactsCommand::Export { email, out } => return export(ctx, &email, out).await,
        ContactsCommand::Erase { email, yes } => return erase(ctx, &email, yes).await,
    };
    let input = std::fs::File::open(&file)
        .map_err(|e| UserError(format!("cannot open {}: {e}", file.display())))?;
    let mut rows = ContactRows::new(std::io::BufReader::new(input))
        .map_err(|e| UserError(format!("{}: {e}", file.display())))?;
    let store = ctx.store().await?;
    let now = ctx.clock().now();
    let mut counts = UpsertCounts::default();
    let mut rejected = Vec::new();
    let mut progress = super::progress::Progress::new("importing contacts", None);
    let erased = crate::privacy::ErasureList::load(&store, now).await?;
    let mut suppressed_again = 0;
    // Read and stored a chunk at a time: memory stays flat however long the file.
    loop {
        let chunk = rows.next_chunk(CHUNK);
        rejected.extend(chunk.rejected);
        if chunk.rows.is_empty() {
            break;
        }
        let contacts: Vec<_> = chunk.rows.into_iter().map(|(_, c)| c).collect();
        progress.advance(contacts.len() as u64);
        // Suppressed before they exist again, so no tick in between mails them.
        suppressed_again += erased
            .suppress_returning(&store, contacts.iter().map(|c| c.email.as_str()), now)
            .await?;
        let done = store
            .upsert_contacts(&contacts, now)
            .await
            .context("importing contacts")?;
        counts.inserted += done.inserted;
        counts.updated += done.updated;
    }
    progress.finish();
    if suppressed_again > 0 {
        eprintln!(
            "{suppressed_again} imported address(es) had been erased on request: they are suppressed again and will not be emailed (`tend suppress remove` only with their renewed consent)"
        );
    }
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

fn address(email: &str) -> anyhow::Result<crate::domain::EmailAddress> {
    crate::domain::EmailAddress::parse(email)
        .map_err(|e| UserError(format!("`{email}` is not an email address: {e}")).into())
}

async fn export(ctx: &Context, email: &str, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let Some(data) = crate::privacy::export(&store, &address(email)?).await? else {
        return Err(UserError("tend holds nothing about that address".into()).into());
    };
    let json = serde_json::to_string_pretty(&data)?;
    match out {
        Some(path) => {
            std::fs::write(&path, json + "\n")
                .map_err(|e| UserError(format!("cannot write {}: {e}", path.display())))?;
            outln!(
                "wrote {}: the contact, {} passage(s), {} message(s), {} event(s), {} suppression(s), {} inbound message(s)",
                path.display(),
                data.enrollments.len(),
                data.sends.len(),
                data.events.len(),
                data.suppressions.len(),
                data.inbound.len()
            )?;
        }
        None => outln!("{json}")?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn erase(ctx: &Context, email: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let address = address(email)?;
    if !yes {
        let Some(data) = crate::privacy::export(&store, &address).await? else {
            return Err(UserError("tend holds nothing about that address".into()).into());
        };
        outln!(
            "would erase contact #{}: {} passage(s), {} message(s), {} event(s), {} suppression(s), {} inbound message(s); run again with --yes",
            data.contact.id,
            data.enrollments.len(),
            data.sends.len(),
            data.events.len(),
            data.suppressions.len(),
            data.inbound.len()
        )?;
        return Ok(ExitCode::from(1));
    }
    let Some((id, erased)) = crate::privacy::erase(&store, &address, ctx.clock().now()).await?
    else {
        return Err(UserError("tend holds nothing about that address".into()).into());
    };
    // By id only: the audit log must not keep what was erased.
    ctx.audit(
        &store,
        "erase",
        &format!("contact #{id}"),
        &format!(
            "{} message(s), {} event(s), {} inbound message(s) cleared; {} passage(s) ended",
            erased.messages_cleared,
            erased.events_cleared,
            erased.inbound_cleared,
            erased.enrollments_ended
        ),
    )
    .await?;
    if ctx.json {
        print_json(&serde_json::json!({ "contact": id, "erased": erased }))?;
    } else {
        outln!(
            "erased contact #{id}: address and name replaced; {} passage(s) ended, {} queued message(s) cancelled, {} message(s) cleared, {} event detail(s) cleared, {} SMTP repl(ies) cleared, {} inbound message(s) cleared; the address stays only as a keyed hash (with {} suppression(s) it had), so a re-import is never emailed",
            erased.enrollments_ended,
            erased.sends_cancelled,
            erased.messages_cleared,
            erased.events_cleared,
            erased.smtp_replies_cleared,
            erased.inbound_cleared,
            erased.suppressions_replaced
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
