//! `tend preview CAMPAIGN --contact EMAIL [--step N]`: the exact message,
//! built by the same code the sender uses.

use super::app::{Context, UserError};
use crate::catalog::did_you_mean;
use crate::domain::EmailAddress;
use crate::send::compose;
use crate::store::Store;
use clap::Args;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Campaign id (its file name without .toml)
    pub campaign: String,
    /// The contact's email address
    #[arg(long)]
    pub contact: String,
    /// Step number, from 1
    #[arg(long, default_value_t = 1)]
    pub step: usize,
}

pub async fn run(ctx: &Context, args: PreviewArgs) -> anyhow::Result<ExitCode> {
    let loaded = ctx.require_catalog().await?;
    let Some(campaign) = loaded.catalog.campaigns.get(&args.campaign) else {
        let near = did_you_mean(
            &args.campaign,
            loaded.catalog.campaigns.keys().map(String::as_str),
        )
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
        return Err(UserError(format!("no campaign `{}`{near}", args.campaign)).into());
    };
    if args.step == 0 || args.step > campaign.steps.len() {
        return Err(UserError(format!(
            "campaign `{}` has steps 1 to {}",
            campaign.id,
            campaign.steps.len()
        ))
        .into());
    }
    let email = EmailAddress::parse(&args.contact).map_err(|e| UserError(e.to_string()))?;
    let store = ctx.store().await?;
    let contact = store
        .contact_by_email(&email)
        .await?
        .ok_or_else(|| UserError(format!("no contact with email {email}")))?;
    let identity = crate::send::identity(&store, &ctx.settings, ctx.clock().now())
        .await
        .map_err(|e| UserError(e.to_string()))?;
    let step = args.step - 1;
    let send = store
        .find_send(&campaign.id, contact.id, step as u32)
        .await?
        .map(|s| (s.id, s.enrollment_id));
    let composed = compose(
        &loaded,
        &identity,
        campaign,
        step,
        &contact,
        send,
        ctx.clock().now(),
    )
    .map_err(|e| UserError(e.to_string()))?;
    std::io::stdout().write_all(&composed.message.formatted())?;
    Ok(ExitCode::SUCCESS)
}
