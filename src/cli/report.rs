//! `tend report CAMPAIGN [--format text|json|html] [--out FILE]`.

use super::app::{Context, UserError};
use crate::report;
use clap::{Args, ValueEnum};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Campaign id
    pub campaign: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write to this file instead of standard output
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

pub async fn run(ctx: &Context, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let loaded = ctx.require_catalog().await?;
    let campaign = super::app::find_campaign(&loaded, &args.campaign)?;
    let store = ctx.store().await?;
    let report = report::build(&store, campaign, ctx.clock().now()).await?;
    let format = if ctx.json { Format::Json } else { args.format };
    let body = match format {
        Format::Text => report::text(&report),
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Html => report::html(&report),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, body)
                .map_err(|e| UserError(format!("cannot write {}: {e}", path.display())))?;
            outln!("wrote {}", path.display())?;
        }
        None => out!("{body}")?,
    }
    Ok(ExitCode::SUCCESS)
}
