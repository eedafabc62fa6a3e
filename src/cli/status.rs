//! `tend status`: the outbox by state and campaign, and the last tick.

use super::app::{Context, print_json};
use crate::store::{SendState, Store};
use std::collections::BTreeMap;
use std::process::ExitCode;

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let counts = store.outbox_counts().await?;
    let last_tick = store.last_tick().await?;
    let domains = store.domain_health().await?;
    if ctx.json {
        print_json(
            &serde_json::json!({ "outbox": counts, "last_tick": last_tick, "domains": domains }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut totals: BTreeMap<SendState, u64> = BTreeMap::new();
    for c in &counts {
        *totals.entry(c.state).or_default() += c.count;
    }
    println!("outbox:");
    for state in SendState::ALL {
        println!(
            "  {:<11} {}",
            state.as_str(),
            totals.get(&state).copied().unwrap_or(0)
        );
    }
    if !counts.is_empty() {
        println!("by campaign:");
        for c in &counts {
            println!("  {:<20} {:<11} {}", c.campaign, c.state.as_str(), c.count);
        }
    }
    if let Some(in_doubt) = totals.get(&SendState::InDoubt) {
        println!(
            "{in_doubt} send(s) in doubt: the server may have accepted them; tend will not resend them"
        );
    }
    if !domains.is_empty() {
        println!("deferring domains:");
        let now = ctx.clock().now();
        for d in &domains {
            let paused = match d.paused_until {
                Some(until) if until > now => format!("paused until {}", until.to_rfc3339()),
                _ => "sending".to_string(),
            };
            println!(
                "  {:<24} {} deferral(s), {paused}; last: {}",
                d.domain, d.deferrals, d.last_error
            );
        }
    }
    match last_tick {
        Some(t) => println!(
            "last tick: {} (enrolled {}, queued {})",
            t.started_at.to_rfc3339(),
            t.enrolled,
            t.queued
        ),
        None => println!("last tick: never"),
    }
    Ok(ExitCode::SUCCESS)
}
