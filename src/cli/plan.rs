//! `tend plan [--now T]`: what a tick would do, written nowhere.

use super::app::{Context, print_json};
use crate::plan::{TickReport, dry_run};
use std::process::ExitCode;

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let loaded = ctx.require_catalog().await?;
    let store = ctx.store().await?;
    let report = dry_run(&store, &loaded.catalog, ctx.clock().now()).await?;
    if ctx.json {
        print_json(&report)?;
    } else {
        print!("{}", render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// The human form of a tick report, shared with `run --once`.
pub fn render(report: &TickReport) -> String {
    let mut out = format!("at {}\n", report.now.to_rfc3339());
    for c in &report.campaigns {
        out += &format!("campaign {}: {} entering", c.campaign, c.entering);
        if c.finishing > 0 {
            out += &format!(", {} finishing", c.finishing);
        }
        out += "\n";
        for s in &c.steps {
            out += &format!("  step {} ({}): {} due now", s.step, s.template, s.due_now);
            if s.waiting > 0 {
                let next = s.next_due.map(|t| t.to_rfc3339()).unwrap_or_default();
                out += &format!(", {} waiting for their delay (next at {next})", s.waiting);
            }
            if s.in_flight > 0 {
                out += &format!(", {} in the outbox", s.in_flight);
            }
            if s.in_doubt > 0 {
                out += &format!(", {} in doubt (not resent; see `tend status`)", s.in_doubt);
            }
            out += "\n";
        }
    }
    out += &format!("total due now: {}\n", report.queued);
    out
}
