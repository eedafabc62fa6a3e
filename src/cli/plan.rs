//! `tend plan [--now T]`: what a tick would do, written nowhere.

use super::app::{Context, print_json};
use crate::plan::{TickReport, dry_run};
use std::process::ExitCode;

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let loaded = ctx.require_catalog().await?;
    let store = ctx.store().await?;
    let report = dry_run(&store, &loaded.catalog, &ctx.settings, ctx.clock().now()).await?;
    if ctx.json {
        print_json(&report)?;
    } else {
        out!("{}", render(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The human form of a tick report, shared with `run --once`: every waiting
/// send is explained with its reason and when the first of them comes due.
pub fn render(report: &TickReport) -> String {
    let mut out = format!("at {}\n", report.now.to_rfc3339());
    if report.skipped {
        out += "another daemon on this database is planning right now: nothing was planned here (what was due was sent)\n";
        return out;
    }
    for c in &report.campaigns {
        out += &format!("campaign {}: {} entering", c.campaign, c.entering);
        if c.holdout_entering > 0 {
            out += &format!(" ({} into the holdout, never emailed)", c.holdout_entering);
        }
        if !c.entry.open {
            let next = c
                .entry
                .next_opening
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into());
            let pattern = c.entry.schedule.clone().unwrap_or_default();
            out += &format!(" (entry closed: schedule `{pattern}` next opens {next})");
        }
        if c.exiting.event > 0 {
            out += &format!(", {} leaving on an exit event", c.exiting.event);
        }
        if c.exiting.left_segment > 0 {
            out += &format!(", {} leaving the segment", c.exiting.left_segment);
        }
        if c.exiting.exit_when > 0 {
            out += &format!(", {} leaving by exit_when", c.exiting.exit_when);
        }
        if c.finishing > 0 {
            out += &format!(", {} finishing", c.finishing);
        }
        out += "\n";
        for s in &c.steps {
            out += &format!("  step {} ({}): {} due now", s.step, s.template, s.due_now);
            for (reason, waiting) in &s.waiting {
                let next = waiting.next_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                out += &format!(", {} {} (next at {next})", waiting.count, reason.describe());
            }
            if s.in_flight > 0 {
                out += &format!(", {} in the outbox", s.in_flight);
                for (reason, held) in &s.held {
                    let next = held.next_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                    out += &format!(
                        " ({} held back when about to leave: {}, next at {next})",
                        held.count,
                        reason.describe()
                    );
                }
            }
            if s.in_doubt > 0 {
                out += &format!(
                    ", {} in doubt (not resent; see `tend outbox --state in_doubt`)",
                    s.in_doubt
                );
            }
            out += "\n";
        }
    }
    out += &format!("total due now: {}\n", report.queued);
    out
}
