//! `tend suppress add|remove|list`: addresses or whole domains never emailed.

use super::app::{Context, UserError, print_json};
use crate::domain::{NewSuppression, SuppressionReason};
use crate::store::prelude::*;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum SuppressCommand {
    /// Suppress an address (ana@example.com) or a whole domain (example.com)
    Add {
        value: String,
        /// unsubscribe, bounce, complaint or manual
        #[arg(long, default_value = "manual")]
        reason: String,
        /// A note kept with the suppression
        #[arg(long, default_value = "")]
        detail: String,
    },
    /// Lift a suppression
    Remove { value: String },
    /// List suppressions
    List,
}

pub async fn run(ctx: &Context, command: SuppressCommand) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    match command {
        SuppressCommand::Add {
            value,
            reason,
            detail,
        } => {
            let reason: SuppressionReason = reason.parse().map_err(UserError)?;
            let suppression = parse_value(&value, reason, &detail)?;
            let added = store
                .add_suppression(&suppression, ctx.clock().now())
                .await?;
            if added {
                let note = if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                };
                ctx.audit(
                    &store,
                    "suppress",
                    &suppression.value,
                    &format!("{}{note}", reason.as_str()),
                )
                .await?;
            }
            outln!(
                "{} {}",
                if added {
                    "suppressed"
                } else {
                    "already suppressed:"
                },
                suppression.value
            )?;
        }
        SuppressCommand::Remove { value } => {
            if store.remove_suppression(&value).await? {
                ctx.audit(&store, "unsuppress", &value.trim().to_lowercase(), "")
                    .await?;
                outln!("no longer suppressed: {}", value.trim().to_lowercase())?;
            } else {
                return Err(UserError(format!("`{value}` is not suppressed")).into());
            }
        }
        SuppressCommand::List => {
            let list = store.list_suppressions().await?;
            if ctx.json {
                print_json(&list)?;
            } else {
                for s in &list {
                    outln!(
                        "{}\t{:?}\t{}\t{}\t{}",
                        s.value,
                        s.scope,
                        s.reason.as_str(),
                        s.created_at.to_rfc3339(),
                        s.detail
                    )?;
                }
                outln!("{} suppression(s)", list.len())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_value(
    value: &str,
    reason: SuppressionReason,
    detail: &str,
) -> anyhow::Result<NewSuppression> {
    Ok(NewSuppression::parse(value, reason, "cli", detail).map_err(UserError)?)
}
