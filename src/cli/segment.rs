//! `tend segment count|list|explain CAMPAIGN`: who is in a campaign's
//! segment at `--now` (suppressed contacts never are), and for one contact,
//! which clause keeps them out.

use super::app::find_campaign as campaign;
use super::app::{Context, UserError, print_json};
use crate::domain::EmailAddress;
use crate::segment::{Cond, Vocabulary};
use crate::store::prelude::*;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::json;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum SegmentCommand {
    /// How many contacts match the campaign's segment now
    Count { campaign: String },
    /// The matching contacts, by email
    List {
        campaign: String,
        /// At most this many contacts
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Whether one contact matches, clause by clause
    Explain {
        campaign: String,
        #[arg(long)]
        contact: String,
    },
}

/// Every stage with its condition, in precedence order.
pub fn stage_conds(vocab: &Vocabulary, now: DateTime<Utc>) -> Vec<(String, Cond)> {
    vocab
        .stage_names()
        .into_iter()
        .filter_map(|name| vocab.stage(name, now).map(|c| (name.to_string(), c)))
        .collect()
}

pub async fn run(ctx: &Context, cmd: SegmentCommand) -> anyhow::Result<ExitCode> {
    let loaded = ctx.require_catalog().await?;
    let store = ctx.store().await?;
    let now = ctx.clock().now();
    let vocab = &loaded.catalog.vocabulary;
    match cmd {
        SegmentCommand::Count { campaign: id } => {
            let c = campaign(&loaded, &id)?;
            let selection = c.segment.select(vocab, now);
            let started = std::time::Instant::now();
            let (matching, entering) = store.count_matching(&selection, &c.id).await?;
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "segment counted"
            );
            if ctx.json {
                print_json(
                    &json!({ "campaign": id, "now": now, "matching": matching, "not_yet_entered": entering }),
                )?;
            } else {
                outln!(
                    "{matching} contact(s) match `{id}` at {} ({entering} not yet entered)",
                    now.to_rfc3339()
                )?;
            }
        }
        SegmentCommand::List {
            campaign: id,
            limit,
        } => {
            let c = campaign(&loaded, &id)?;
            let selection = c.segment.select(vocab, now);
            let rows = store
                .list_matching(&selection, &stage_conds(vocab, now), limit)
                .await?;
            if ctx.json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|(c, stage)| json!({ "email": c.email, "name": c.name, "stage": stage, "tags": c.tags, "attributes": c.attributes }))
                    .collect();
                print_json(&list)?;
            } else {
                for (c, stage) in &rows {
                    let name = c.name.as_deref().unwrap_or("");
                    outln!("{}\t{name}\t{}", c.email, stage.as_deref().unwrap_or("-"))?;
                }
            }
        }
        SegmentCommand::Explain {
            campaign: id,
            contact,
        } => {
            let c = campaign(&loaded, &id)?;
            let email: EmailAddress = contact
                .parse()
                .map_err(|e| UserError(format!("`{contact}`: {e}")))?;
            let Some(found) = store.contact_by_email(&email).await? else {
                return Err(UserError(format!("no contact {email}")).into());
            };
            let parts = c.segment.parts(vocab, now);
            let conds: Vec<Cond> = parts.iter().map(|p| p.cond.clone()).collect();
            let results = store.evaluate(found.id, &conds).await?;
            let (suppressed, entered) = store.contact_status(found.id, &c.id).await?;
            let stage = store
                .evaluate(
                    found.id,
                    &stage_conds(vocab, now)
                        .into_iter()
                        .map(|(_, c)| c)
                        .collect::<Vec<_>>(),
                )
                .await?
                .into_iter()
                .zip(vocab.stage_names())
                .find(|(yes, _)| *yes)
                .map(|(_, name)| name.to_string());
            let matches =
                !suppressed && parts.iter().zip(&results).all(|(p, ok)| p.depth > 0 || *ok);
            if ctx.json {
                let clauses: Vec<_> = parts
                    .iter()
                    .zip(&results)
                    .map(|(p, ok)| json!({ "clause": p.label, "depth": p.depth, "holds": ok }))
                    .collect();
                print_json(&json!({
                    "campaign": id, "contact": email.as_str(), "now": now, "stage": stage,
                    "matches": matches, "suppressed": suppressed, "entered": entered, "clauses": clauses,
                }))?;
            } else {
                let verdict = if matches {
                    "in the segment"
                } else {
                    "not in the segment"
                };
                outln!("{email} at {}: {verdict} of `{id}`", now.to_rfc3339())?;
                outln!("  stage now: {}", stage.as_deref().unwrap_or("none"))?;
                // Branches are shown only under a clause that failed.
                let mut failed_above = vec![true];
                for (p, ok) in parts.iter().zip(&results) {
                    failed_above.truncate(p.depth + 1);
                    if !failed_above.iter().all(|f| *f) {
                        continue;
                    }
                    failed_above.push(!ok);
                    let mark = if *ok { "yes" } else { "NO " };
                    let why = if !ok && p.depth == 0 {
                        "   <- excludes this contact"
                    } else {
                        ""
                    };
                    let indent = "    ".repeat(p.depth);
                    outln!("  {indent}{mark} {}{why}", p.label)?;
                }
                if suppressed {
                    outln!("  NO  suppressed   <- excludes this contact")?;
                }
                if entered {
                    outln!(
                        "  note: already entered `{id}` (a contact passes through a campaign once)"
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
