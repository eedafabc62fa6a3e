//! `tend inbound`: what came back. `tend inbound FILE…` (or `-` for
//! standard input) takes messages from a pipe or a Maildir script;
//! `list`, `show` and `undo` look at what was kept and reverse a wrong
//! classification.

use super::app::{Context, UserError, print_json};
use crate::inbound::ingest;
use crate::store::InboundFilter;
use crate::store::prelude::*;
use clap::{Args, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct InboundArgs {
    #[command(subcommand)]
    pub command: Option<InboundCommand>,
    /// Raw messages (RFC 5322 files, e.g. from a Maildir); `-` reads one from standard input
    pub files: Vec<PathBuf>,
    /// Only say what each message is; keep nothing, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum InboundCommand {
    /// What came back, newest first
    List {
        /// Only this kind: hard_bounce, soft_bounce, complaint, auto_reply, reply, unsubscribe, unclassified…
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// One message: what tend made of it and what it did
    Show {
        id: i64,
        /// Print the message as received instead
        #[arg(long)]
        raw: bool,
    },
    /// Reverse what a message did (lift the suppression it caused, remove its event)
    Undo {
        id: i64,
        /// Why, kept with the message
        #[arg(long, default_value = "undone by an operator")]
        note: String,
    },
}

pub async fn run(ctx: &Context, args: InboundArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    match args.command {
        Some(InboundCommand::List {
            kind,
            campaign,
            limit,
        }) => {
            let rows = store
                .inbound_rows(&InboundFilter {
                    kind,
                    campaign,
                    limit: Some(limit),
                })
                .await?;
            if ctx.json {
                print_json(&rows)?;
            } else if rows.is_empty() {
                outln!("nothing has come back yet")?;
            } else {
                for r in &rows {
                    outln!(
                        "#{:<6} {}  {:<13} {:<12} {}{}",
                        r.id,
                        r.received_at.format("%Y-%m-%d %H:%M"),
                        r.kind,
                        r.source,
                        r.summary,
                        match (&r.undone_at, &r.suppressed) {
                            (Some(at), _) => format!("  [undone {}]", at.format("%Y-%m-%d")),
                            (None, Some(_)) => "  [suppressed the address]".to_string(),
                            _ => String::new(),
                        }
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(InboundCommand::Show { id, raw }) => {
            let Some(detail) = store.inbound_detail(id).await? else {
                return Err(UserError(format!(
                    "no inbound message #{id} (see `tend inbound list`)"
                ))
                .into());
            };
            if raw {
                let Some(bytes) = &detail.raw else {
                    return Err(UserError(format!(
                        "message #{id}'s raw text is no longer kept (inbound.keep_raw_for)"
                    ))
                    .into());
                };
                use std::io::Write;
                super::out::Stdout.write_all(bytes)?;
                return Ok(ExitCode::SUCCESS);
            }
            if ctx.json {
                print_json(&detail)?;
            } else {
                let r = &detail.row;
                outln!(
                    "#{} received {} by {}",
                    r.id,
                    r.received_at.to_rfc3339(),
                    r.source
                )?;
                outln!("  {}", r.summary)?;
                outln!("  kind {}, effect {}", r.kind, r.effect)?;
                if let Some(send) = r.send_id {
                    outln!("  send #{send}")?;
                }
                if let Some(value) = &r.suppressed {
                    outln!("  suppressed {value}")?;
                }
                if let Some(at) = r.undone_at {
                    outln!(
                        "  undone {}: {}",
                        at.to_rfc3339(),
                        r.undo_note.as_deref().unwrap_or("")
                    )?;
                }
                outln!(
                    "{}",
                    crate::domain::redact_addresses(&serde_json::to_string_pretty(
                        &detail.classification
                    )?)
                )?;
                if !detail.raw_kept {
                    outln!("  (raw text no longer kept)")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(InboundCommand::Undo { id, note }) => {
            let outcome = store.undo_inbound(id, &note, ctx.clock().now()).await?;
            if !outcome.found {
                return Err(UserError(format!(
                    "no inbound message #{id} (see `tend inbound list`)"
                ))
                .into());
            }
            if !outcome.already {
                let mut effect = Vec::new();
                if let Some(value) = &outcome.lifted {
                    effect.push(format!("lifted the suppression of {value}"));
                }
                if let Some(other) = outcome.kept_by {
                    effect.push(format!("suppression kept for #{other}"));
                }
                if outcome.events_removed > 0 {
                    effect.push("event removed".into());
                }
                if outcome.soft_bounces_removed > 0 {
                    effect.push("soft bounce no longer counts".into());
                }
                effect.push(note.clone());
                ctx.audit(
                    &store,
                    "undo_inbound",
                    &format!("inbound #{id}"),
                    &effect.join("; "),
                )
                .await?;
            }
            if ctx.json {
                print_json(&outcome)?;
            } else if outcome.already {
                outln!("#{id} was undone before; nothing changed")?;
            } else {
                outln!(
                    "#{id} undone{}{}{}{}",
                    outcome
                        .lifted
                        .as_deref()
                        .map(|v| format!(": {v} is no longer suppressed"))
                        .unwrap_or_default(),
                    outcome
                        .kept_by
                        .map(|other| format!(
                            ": the address stays suppressed, as #{other} asks too"
                        ))
                        .unwrap_or_default(),
                    if outcome.events_removed > 0 {
                        "; its event is removed (a passage it ended stays ended)"
                    } else {
                        ""
                    },
                    if outcome.soft_bounces_removed > 0 {
                        "; its soft bounce no longer counts"
                    } else {
                        ""
                    }
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        None => files(ctx, store, args.files, args.dry_run).await,
    }
}

async fn files(
    ctx: &Context,
    store: crate::store::Backend,
    files: Vec<PathBuf>,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    if files.is_empty() {
        return Err(UserError(
            "name the messages to take: `tend inbound FILE…` (or `-` for standard input), or use list/show/undo".into(),
        )
        .into());
    }
    let ingest = ingest::from_settings(store, &ctx.settings, ctx.clock(), None).await?;
    let mut failed = false;
    let mut results = Vec::new();
    for path in files {
        let shown = path.display().to_string();
        let raw = if shown == "-" {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map(|_| buf)
        } else {
            std::fs::read(&path)
        };
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => {
                eprintln!("{shown}: cannot read: {e}");
                failed = true;
                continue;
            }
        };
        if dry_run {
            let c = ingest.classify(&raw, &[]);
            let why = match &c.kind {
                crate::inbound::Kind::Unclassified(reason) => {
                    Some(crate::domain::redact_addresses(&reason.to_string()))
                }
                _ => None,
            };
            results.push(serde_json::json!({ "file": shown, "kind": c.label(), "why": why }));
            if !ctx.json {
                outln!(
                    "{shown}: {}{} (dry run: nothing kept)",
                    c.label(),
                    why.map(|w| format!(": {w}")).unwrap_or_default()
                )?;
            }
            continue;
        }
        let done = ingest.message("file", &[], raw).await?;
        results.push(serde_json::json!({
            "file": shown,
            "id": done.recorded.id,
            "duplicate": done.recorded.duplicate,
            "kind": done.kind,
            "effect": done.effect,
            "contact": done.contact,
            "campaign": done.campaign,
            "detail": done.detail,
        }));
        if !ctx.json {
            // An unclassified message says what kept it from being read.
            let why = done
                .detail
                .strip_prefix("unclassified: ")
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            outln!(
                "{shown}: #{} {}{why}{}{}{}",
                done.recorded.id,
                done.kind,
                done.contact
                    .as_deref()
                    .map(|c| format!(" from {c}"))
                    .unwrap_or_default(),
                if done.recorded.suppressed {
                    ", address suppressed"
                } else {
                    ""
                },
                if done.recorded.duplicate {
                    " (already taken before: nothing changed)"
                } else {
                    ""
                }
            )?;
        }
    }
    if ctx.json {
        print_json(&results)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
