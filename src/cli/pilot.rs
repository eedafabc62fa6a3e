//! `tend pilot promote CAMPAIGN`: a finished pilot becomes a full rollout.

use super::app::{Context, UserError};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum PilotCommand {
    /// Stop sampling: the rest of the segment enters as treatment; the pilot's groups and report history stay
    Promote { campaign: String },
}

pub async fn run(ctx: &Context, command: PilotCommand) -> anyhow::Result<ExitCode> {
    let PilotCommand::Promote { campaign } = command;
    let loaded = ctx.require_catalog().await?;
    let c = super::app::find_campaign(&loaded, &campaign)?;
    if c.pilot.is_none() {
        return Err(UserError(format!(
            "campaign `{campaign}` is not a pilot (it has no `pilot = {{ … }}`)"
        ))
        .into());
    }
    let store = ctx.store().await?;
    if let Some(at) = crate::pilot::promoted_at(&store, &campaign).await? {
        outln!("`{campaign}` was already promoted at {}", at.to_rfc3339())?;
        return Ok(ExitCode::SUCCESS);
    }
    crate::pilot::promote(&store, &campaign, ctx.clock().now()).await?;
    ctx.audit(
        &store,
        "promote",
        &campaign,
        "pilot promoted to a full rollout",
    )
    .await?;
    outln!(
        "`{campaign}` promoted: from the next tick the rest of its segment enters as treatment; the holdout stays unemailed"
    )?;
    Ok(ExitCode::SUCCESS)
}
