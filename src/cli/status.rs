//! `tend status`: at a glance — the outbox by state and campaign, in-doubt
//! sends, the last and next tick, deferring domains, what came back, the
//! retention rules and their last run, and the daemon's last reload.

use super::app::{Context, print_json};
use crate::domain::SendState;
use crate::store::prelude::*;
use std::process::ExitCode;

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let crate::report::status::Snapshot {
        counts,
        totals,
        in_doubt,
        last_tick,
        domains,
        daemons,
        reload,
        held,
        relay,
        senders,
        came_back,
    } = crate::report::status::snapshot(&store, &crate::send::relay_name(&ctx.settings.smtp))
        .await?;
    let last_retention = store.last_retention().await?;
    let rules = &ctx.settings.retention;
    let kept = |d: &Option<crate::domain::Duration>| {
        d.map(|d| d.to_string()).unwrap_or_else(|| "kept".into())
    };
    let now = ctx.clock().now();
    if ctx.json {
        print_json(&serde_json::json!({
            "outbox": counts,
            "in_doubt": in_doubt,
            "last_tick": last_tick,
            "next_tick_at": daemons.first().map(|d| d.next_tick_at),
            "daemons": daemons,
            "domains": domains,
            "held": held,
            "relay": relay,
            "senders": senders.iter().map(|w| serde_json::json!({
                "id": w.id, "heartbeat_at": w.heartbeat_at,
            })).collect::<Vec<_>>(),
            "reload": reload,
            "inbound": came_back,
            "retention": {
                "message_bodies": rules.message_bodies.map(|d| d.to_string()),
                "events": rules.events.map(|d| d.to_string()),
                "inbound_raw": rules.inbound_raw.map(|d| d.to_string()),
                "last_run": last_retention,
            },
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
            "{in_doubt} send(s) in doubt: the server may have accepted them; tend will not resend them.\n  See them with `tend outbox --state in_doubt` and settle them with `tend outbox resolve`."
        )?;
    }
    if !held.is_empty() {
        outln!("held back when about to leave (they go at the next allowed instant):")?;
        for h in &held {
            outln!(
                "  {:<20} {:<4} {} (next at {})",
                h.campaign,
                h.count,
                h.reason.describe(),
                h.next_at.to_rfc3339()
            )?;
        }
    }
    if let Some(relay) = relay.as_ref().filter(|r| r.open) {
        let until = relay
            .paused_until
            .map(|u| u.to_rfc3339())
            .unwrap_or_else(|| "the next probe".into());
        outln!(
            "relay {}: REFUSING US — circuit breaker open, sending paused until {until} ({} failure(s); recipients are not suppressed for this)\n  last: {}",
            relay.relay,
            relay.failures,
            relay.last_error
        )?;
    }
    if !came_back.is_empty() {
        let kinds: Vec<String> = came_back.iter().map(|(k, n)| format!("{n} {k}")).collect();
        outln!("came back: {} (see `tend inbound list`)", kinds.join(", "))?;
    } else if ctx.settings.inbound.enabled() {
        outln!("came back: nothing yet (inbound is on)")?;
    }
    outln!(
        "retention: message bodies {}, events {}, inbound raw mail {}; {}",
        kept(&rules.message_bodies),
        kept(&rules.events),
        kept(&rules.inbound_raw),
        match &last_retention {
            Some(r) => format!(
                "last applied {} (forgot {} bodies, {} events, {} raw messages)",
                r.ran_at.to_rfc3339(),
                r.message_bodies,
                r.events,
                r.inbound_raw
            ),
            None => "not applied yet (the daemon applies it daily)".into(),
        }
    )?;
    for sender in &senders {
        outln!(
            "sender {} (last seen {})",
            sender.id,
            sender.heartbeat_at.to_rfc3339()
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
    for d in &daemons {
        outln!(
            "next tick: {} (daemon {}, pid {}, if it is running)",
            d.next_tick_at.to_rfc3339(),
            d.daemon,
            d.pid
        )?;
    }
    if !domains.is_empty() {
        outln!("deferring domains:")?;
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
    if let Some(reload) = &reload {
        if reload.ok {
            outln!(
                "last reload: ok at {} ({} campaigns)",
                reload.at.to_rfc3339(),
                reload.campaigns
            )?;
        } else {
            outln!(
                "last reload: FAILED at {}; running the last good catalog:",
                reload.at.to_rfc3339()
            )?;
            for e in &reload.errors {
                outln!("  {e}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
