//! The calendar: the next 14 days of due sends per campaign and step, by
//! day and hour in a chosen zone, from the planner's own forecast
//! (`plan::forecast`), with quiet hours and the campaign's send window
//! shaded by the rule the sender applies (`schedule::closed`).

use super::auth::Viewer;
use super::view::page;
use super::{ConsoleState, PageResult};
use crate::catalog::CampaignZone;
use crate::schedule::{Hold, Zones};
use crate::store::prelude::*;
use axum::extract::{Query, State};
use chrono::{Duration, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const DAYS: i64 = 14;

#[derive(Debug, Deserialize, Default)]
pub struct CalendarQuery {
    #[serde(default)]
    zone: String,
    #[serde(default)]
    campaign: String,
}

pub async fn calendar<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Query(query): Query<CalendarQuery>,
) -> PageResult {
    let loaded = state.loaded();
    let now = state.clock.now();
    let default_zone = match state.settings.console.timezone.parse::<Tz>() {
        Ok(tz) => tz,
        Err(_) => state.settings.default_timezone(),
    };
    let zone: Tz = query.zone.parse().unwrap_or(default_zone);
    let chosen = loaded
        .catalog
        .campaigns
        .get(&query.campaign)
        .filter(|_| !query.campaign.is_empty());
    let until = now + Duration::days(DAYS + 1);
    let mut due =
        crate::plan::forecast::forecast(&state.store, &loaded.catalog, &state.settings, now, until)
            .await?;
    if let Some(c) = chosen {
        due.retain(|d| d.campaign == c.id);
    }
    let today = now.with_timezone(&zone).date_naive();
    let days: Vec<NaiveDate> = (0..DAYS).map(|i| today + Duration::days(i)).collect();
    // Sends per (day, hour), and per day per campaign and step.
    let mut cells: BTreeMap<(NaiveDate, u32), u64> = BTreeMap::new();
    let mut per_step: BTreeMap<(String, usize, String), BTreeMap<NaiveDate, u64>> = BTreeMap::new();
    for d in &due {
        let local = d.at.with_timezone(&zone);
        *cells.entry((local.date_naive(), local.hour())).or_default() += 1;
        *per_step
            .entry((d.campaign.clone(), d.step + 1, d.template.clone()))
            .or_default()
            .entry(local.date_naive())
            .or_default() += 1;
    }
    let peak = cells.values().copied().max().unwrap_or(0).max(1);
    let quiet = state.settings.quiet_hours();
    let window_zone = match chosen.map(|c| c.timezone) {
        Some(CampaignZone::Fixed(tz)) => tz,
        _ => zone,
    };
    let rows: Vec<_> = days
        .iter()
        .map(|day| {
            let hours: Vec<_> = (0..24)
                .map(|h| {
                    let n = cells.get(&(*day, h)).copied().unwrap_or(0);
                    // The hour's start in the zone (a gap at a clock change: its earliest instant).
                    let start = day.and_hms_opt(h, 0, 0).map(|t| crate::schedule::resolve_local(zone, t));
                    // Each rule on its own, so quiet hours show inside a closed window too.
                    let zones = Zones { window: window_zone, quiet: zone };
                    let quiet_now = start.and_then(|at| {
                        crate::schedule::closed(at, zones, None, quiet.as_ref())
                    });
                    let window_now = start.and_then(|at| {
                        crate::schedule::closed(at, zones, chosen.and_then(|c| c.send_window.as_ref()), None)
                    });
                    let shade = match (quiet_now, window_now) {
                        (Some(Hold::QuietHours), _) => "quiet",
                        (_, Some(Hold::Window)) => "closed",
                        _ => "open",
                    };
                    // Five steps of intensity, so a wave stands out without a legend of numbers.
                    let level = if n == 0 { 0 } else { 1 + (n * 4 / peak).min(4) };
                    json!({ "hour": h, "count": n, "shade": shade, "level": level })
                })
                .collect();
            let total: u64 = hours.iter().map(|c| c["count"].as_u64().unwrap_or(0)).sum();
            json!({ "date": day.format("%a %d %b").to_string(), "iso": day.to_string(), "hours": hours, "total": total })
        })
        .collect();
    let steps: Vec<_> = per_step
        .iter()
        .map(|((campaign, step, template), by_day)| {
            json!({
                "campaign": campaign, "step": step, "template": template,
                "days": days.iter().map(|d| by_day.get(d).copied().unwrap_or(0)).collect::<Vec<_>>(),
                "total": by_day.values().sum::<u64>(),
            })
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("zone", zone.name());
    ctx.insert("zones", &zone_choices(zone));
    ctx.insert(
        "campaigns",
        &loaded.catalog.campaigns.keys().collect::<Vec<_>>(),
    );
    ctx.insert("campaign", &chosen.map(|c| c.id.clone()));
    ctx.insert("rows", &rows);
    ctx.insert("steps", &steps);
    ctx.insert(
        "day_labels",
        &days
            .iter()
            .map(|d| d.format("%d %b").to_string())
            .collect::<Vec<_>>(),
    );
    ctx.insert("total", &due.len());
    ctx.insert("hours", &(0..24).collect::<Vec<u32>>());
    ctx.insert("quiet", &state.settings.sending.quiet_hours);
    ctx.insert("window_zone", window_zone.name());
    ctx.insert(
        "window",
        &chosen.map(|c| c.send_window.is_some()).unwrap_or(false),
    );
    ctx.insert(
        "from",
        &zone
            .from_utc_datetime(&now.naive_utc())
            .format("%Y-%m-%d %H:%M %Z")
            .to_string(),
    );
    page(
        &state,
        "calendar.html",
        &viewer,
        "calendar",
        "Calendar: the next 14 days",
        ctx,
    )
}

/// The zones offered in the picker: common ones and the chosen one.
fn zone_choices(chosen: Tz) -> Vec<&'static str> {
    let mut zones = vec![
        "UTC",
        "Europe/London",
        "Europe/Berlin",
        "Europe/Madrid",
        "America/New_York",
        "America/Chicago",
        "America/Los_Angeles",
        "America/Sao_Paulo",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Australia/Sydney",
    ];
    if !zones.contains(&chosen.name()) {
        zones.insert(0, chosen.name());
    }
    zones
}
