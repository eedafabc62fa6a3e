//! `tend status`: at a glance — the outbox by state and campaign, in-doubt
//! sends, the last and next tick, deferring domains, and the daemon's last
//! reload.

use super::app::{Context, print_json};
use crate::store::{SendState, Store};
use std::collections::BTreeMap;
use std::process::ExitCode;

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let counts = store.outbox_counts().await?;
    let last_tick = store.last_tick().await?;
    let domains = store.domain_health().await?;
    let daemon = store.daemon_state("loop").await?;
    let reload = store.daemon_state("reload").await?;
    let mut totals: BTreeMap<SendState, u64> = BTreeMap::new();
    for c in &counts {
        *totals.entry(c.state).or_default() += c.count;
    }
    let in_doubt = totals.get(&SendState::InDoubt).copied().unwrap_or(0);
    if ctx.json {
        print_json(&serde_json::json!({
            "outbox": counts,
            "in_doubt": in_doubt,
            "last_tick": last_tick,
            "next_tick_at": daemon.as_ref().map(|(v, _)| v["next_tick_at"].clone()),
            "domains": domains,
            "reload": reload.as_ref().map(|(v, at)| serde_json::json!({ "at": at, "status": v })),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("outbox:")?;
    for state in SendState::ALL {
        outln!(
            "  {:<11} {}",
            state.as_str(),
            totals.get(&state).copied().unwrap_or(0)
        )?;
    }
    if !counts.is_empty() {
        outln!("by campaign:")?;
        for c in &counts {
            outln!("  {:<20} {:<11} {}", c.campaign, c.state.as_str(), c.count)?;
        }
    }
    if in_doubt > 0 {
        outln!(
            "{in_doubt} send(s) in doubt: the server may have accepted them; tend will not resend them"
        )?;
    }
    match &last_tick {
        Some(t) => outln!(
            "last tick: {} (took {} ms; enrolled {}, queued {})",
            t.started_at.to_rfc3339(),
            t.duration_ms,
            t.enrolled,
            t.queued
        )?,
        None => outln!("last tick: never")?,
    }
    if let Some((state, _)) = &daemon {
        if let Some(next) = state["next_tick_at"].as_str() {
            outln!("next tick: {next} (if the daemon is running)")?;
        }
    }
    if !domains.is_empty() {
        outln!("deferring domains:")?;
        let now = ctx.clock().now();
        for d in &domains {
            let paused = match d.paused_until {
                Some(until) if until > now => format!("paused until {}", until.to_rfc3339()),
                _ => "sending".to_string(),
            };
            outln!(
                "  {:<24} {} deferral(s), {paused}; last: {}",
                d.domain,
                d.deferrals,
                d.last_error
            )?;
        }
    }
    if let Some((status, at)) = &reload {
        if status["ok"].as_bool() == Some(true) {
            outln!(
                "last reload: ok at {} ({} campaigns)",
                at.to_rfc3339(),
                status["campaigns"]
            )?;
        } else {
            outln!(
                "last reload: FAILED at {}; running the last good catalog:",
                at.to_rfc3339()
            )?;
            for e in status["errors"].as_array().into_iter().flatten() {
                outln!("  {}", e.as_str().unwrap_or_default())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
