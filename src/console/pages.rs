//! The read-only pages: overview, campaigns, reports (and CSV),
//! suppressions, what came back, the audit log. Each reads through the
//! functions the CLI uses (`report::status::snapshot`, `report::build`,
//! `variation::lint::lint_loaded`, the store's lists).

use super::auth::Viewer;
use super::view::{page, when, when_opt};
use super::{ConsoleError, ConsoleState, PageResult};
use crate::catalog::{Campaign, CampaignZone, Diagnostic, Entry};
use crate::domain::SendState;
use crate::store::prelude::*;
use crate::store::{AuditFilter, InboundFilter, OutboxFilter};
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a `path:line:col: …` problem points, and the campaign page it belongs to.
fn located(error: &str) -> serde_json::Value {
    let campaign = error
        .split(':')
        .next()
        .filter(|path| path.ends_with(".toml"))
        .and_then(|path| std::path::Path::new(path).file_stem())
        .map(|s| s.to_string_lossy().into_owned());
    json!({ "text": error, "campaign": campaign })
}

pub async fn overview<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
) -> PageResult {
    let now = state.clock.now();
    let snap = crate::report::status::snapshot(
        &state.store,
        &crate::send::relay_name(&state.settings.smtp),
    )
    .await?;
    let in_doubt = state
        .store
        .outbox_rows(&OutboxFilter {
            states: vec![SendState::InDoubt],
            limit: Some(100),
            ..Default::default()
        })
        .await?;
    let tick_every = state.settings.daemon.tick.to_std().as_secs().max(1) as i64;
    let age = snap
        .last_tick
        .as_ref()
        .map(|t| (now - t.finished_at).num_seconds().max(0));
    let relay_open = snap.relay.as_ref().is_some_and(|r| r.open);
    let health = match age {
        None => ("no tick yet", "warn"),
        Some(a) if a > 3 * tick_every + 30 => ("stale: the planner has stopped ticking", "bad"),
        Some(_) if relay_open => ("degraded: the relay is refusing mail", "warn"),
        Some(_) => ("ok", "ok"),
    };
    let mut ctx = tera::Context::new();
    ctx.insert("health", &json!({ "text": health.0, "class": health.1 }));
    ctx.insert(
        "last_tick",
        &snap.last_tick.as_ref().map(|t| {
            json!({ "at": when(t.started_at), "ms": t.duration_ms, "enrolled": t.enrolled, "queued": t.queued })
        }),
    );
    ctx.insert(
        "next_ticks",
        &snap
            .daemons
            .iter()
            .map(|d| json!({ "at": when(d.next_tick_at), "daemon": d.daemon, "pid": d.pid }))
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "totals",
        &snap
            .totals
            .iter()
            .map(|(s, n)| json!({ "state": s.as_str(), "count": n }))
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "by_campaign",
        &snap
            .counts
            .iter()
            .map(|c| json!({ "campaign": c.campaign, "state": c.state.as_str(), "count": c.count }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("in_doubt_count", &snap.in_doubt);
    ctx.insert(
        "in_doubt",
        &in_doubt
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "campaign": r.campaign, "step": r.step + 1, "email": r.email,
                    "message_id": r.message_id, "wire_at": when_opt(r.wire_at),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "held",
        &snap
            .held
            .iter()
            .map(|h| json!({ "campaign": h.campaign, "count": h.count, "reason": h.reason.describe(), "next_at": when(h.next_at) }))
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "domains",
        &snap
            .domains
            .iter()
            .map(|d| {
                let paused = d.paused_until.filter(|u| *u > now);
                json!({ "domain": d.domain, "deferrals": d.deferrals, "paused_until": paused.map(when), "last_error": d.last_error })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "relay",
        &snap.relay.as_ref().map(|r| {
            json!({ "relay": r.relay, "open": r.open, "failures": r.failures, "paused_until": when_opt(r.paused_until), "last_error": r.last_error })
        }),
    );
    ctx.insert(
        "came_back",
        &snap
            .came_back
            .iter()
            .map(|(k, n)| json!({ "kind": k, "count": n }))
            .collect::<Vec<_>>(),
    );
    let loaded = state.loaded();
    ctx.insert("campaign_count", &loaded.catalog.campaigns.len());
    ctx.insert(
        "reload",
        &snap.reload.as_ref().map(|r| {
            json!({
                "ok": r.ok, "at": when(r.at), "reason": r.reason, "campaigns": r.campaigns,
                "errors": r.errors.iter().map(|e| located(e)).collect::<Vec<_>>(),
            })
        }),
    );
    page(
        &state,
        "overview.html",
        &viewer,
        "overview",
        "Overview",
        ctx,
    )
}

fn entry_words(campaign: &Campaign) -> String {
    let mut words = match &campaign.entry {
        Entry::Segment => "everyone in the segment".to_string(),
        Entry::Event { kinds, delay } => {
            let mut w = format!("on an event: {}", kinds.join(", "));
            if delay.to_std().as_secs() > 0 {
                w += &format!(", {delay} later");
            }
            w
        }
        Entry::Anniversary => "on each anniversary of joining".to_string(),
    };
    if let Some(s) = &campaign.schedule {
        words += &format!("; entry opens by schedule `{}`", s.pattern);
    }
    words
}

fn window_words(campaign: &Campaign) -> String {
    use chrono::Weekday::*;
    let Some(w) = &campaign.send_window else {
        return "any time".into();
    };
    let days: Vec<&str> = [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
        .into_iter()
        .filter(|d| w.days.contains(*d))
        .map(|d| match d {
            Mon => "Mon",
            Tue => "Tue",
            Wed => "Wed",
            Thu => "Thu",
            Fri => "Fri",
            Sat => "Sat",
            Sun => "Sun",
        })
        .collect();
    let hours = w
        .hours
        .map(|h| format!(" {}–{}", h.start.format("%H:%M"), h.end.format("%H:%M")))
        .unwrap_or_default();
    format!("{}{hours}", days.join(" "))
}

fn zone_words(campaign: &Campaign) -> String {
    match campaign.timezone {
        CampaignZone::Contact => "each contact's own zone".into(),
        CampaignZone::Fixed(tz) => tz.name().to_string(),
    }
}

/// Diagnostics of the files on disk now (what `tend check` says, lint included).
async fn check_now<S: Store>(state: &ConsoleState<S>) -> Vec<Diagnostic> {
    let inferred = state.store.attribute_types().await.unwrap_or_default();
    let (loaded, mut diagnostics) =
        crate::daemon::reload::load(&state.settings, &state.config_path, &inferred);
    if let Some(l) = &loaded {
        diagnostics.extend(crate::variation::lint::lint_loaded(
            l,
            &state.settings,
            false,
            crate::variation::lint::DEFAULT_MAX_SIMILARITY,
            state.clock.now(),
        ));
    }
    diagnostics
}

fn diag_json(d: &Diagnostic) -> serde_json::Value {
    json!({
        "error": d.is_error(),
        "at": format!("{}:{}:{}", d.path.display(), d.line, d.col),
        "message": d.message,
        "hint": d.hint,
    })
}

/// The problems that concern a campaign: its own file and its steps' templates.
fn campaign_diags(campaign: &Campaign, all: &[Diagnostic]) -> Vec<serde_json::Value> {
    all.iter()
        .filter(|d| {
            d.path == campaign.path
                || campaign.steps.iter().any(|s| {
                    let p = d.path.to_string_lossy();
                    p.contains(&format!("/{}.", s.template))
                        || p.contains(&format!("/{}/", s.template))
                })
        })
        .map(diag_json)
        .collect()
}

async fn campaign_json<S: Store>(
    state: &ConsoleState<S>,
    loaded: &crate::send::Loaded,
    campaign: &Campaign,
    diagnostics: &[Diagnostic],
) -> Result<serde_json::Value, ConsoleError> {
    let now = state.clock.now();
    let selection = campaign.segment.select(&loaded.catalog.vocabulary, now);
    let (matching, never) = state.store.count_matching(&selection, &campaign.id).await?;
    let steps: Vec<_> = campaign
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "n": i + 1, "template": s.template, "after": s.after.to_string(),
                "at": s.at.map(|t| t.format("%H:%M").to_string()),
                "subject": s.subject, "jitter": s.jitter.to_string(),
            })
        })
        .collect();
    let exits = {
        let mut e: Vec<String> = campaign.exit_on.iter().map(|k| format!("on {k}")).collect();
        if campaign.exit_when.is_some() {
            e.push("when the exit_when filter matches".into());
        }
        e.push("when they leave the segment".into());
        e
    };
    Ok(json!({
        "id": campaign.id,
        "description": campaign.description,
        "path": campaign.path.display().to_string(),
        "entry": entry_words(campaign),
        "stages": campaign.segment.stages,
        "segment_now": matching,
        "never_entered": never,
        "steps": steps,
        "exits": exits,
        "window": window_words(campaign),
        "zone": zone_words(campaign),
        "pilot": campaign.pilot.is_some(),
        "track_clicks": campaign.track_clicks,
        "diagnostics": campaign_diags(campaign, diagnostics),
    }))
}

pub async fn campaigns<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
) -> PageResult {
    let loaded = state.loaded();
    let diagnostics = check_now(&state).await;
    let mut list = Vec::new();
    for campaign in loaded.catalog.campaigns.values() {
        list.push(campaign_json(&state, &loaded, campaign, &diagnostics).await?);
    }
    let mut ctx = tera::Context::new();
    ctx.insert("campaigns", &list);
    let known: Vec<&std::path::PathBuf> =
        loaded.catalog.campaigns.values().map(|c| &c.path).collect();
    // Problems in files no running campaign owns (a new campaign that does not load yet).
    ctx.insert(
        "other_diagnostics",
        &diagnostics
            .iter()
            .filter(|d| d.is_error() && !known.contains(&&d.path))
            .map(diag_json)
            .collect::<Vec<_>>(),
    );
    page(
        &state,
        "campaigns.html",
        &viewer,
        "campaigns",
        "Campaigns",
        ctx,
    )
}

pub async fn campaign<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    let loaded = state.loaded();
    let diagnostics = check_now(&state).await;
    let mut ctx = tera::Context::new();
    let title = format!("Campaign {id}");
    match loaded.catalog.campaigns.get(&id) {
        Some(campaign) => {
            ctx.insert(
                "c",
                &campaign_json(&state, &loaded, campaign, &diagnostics).await?,
            );
            ctx.insert(
                "source",
                &std::fs::read_to_string(&campaign.path).unwrap_or_default(),
            );
        }
        None => {
            // A campaign that does not load: show its problems, that is why.
            let file = state.settings.paths.campaigns.join(format!("{id}.toml"));
            let own: Vec<_> = diagnostics
                .iter()
                .filter(|d| {
                    d.path
                        .file_stem()
                        .is_some_and(|s| s.to_string_lossy() == id)
                })
                .map(diag_json)
                .collect();
            if own.is_empty() && !file.is_file() {
                return Err(ConsoleError::NotFound(format!("no campaign `{id}`")));
            }
            ctx.insert("c", &json!({ "id": id, "diagnostics": own, "not_loaded": true, "steps": [], "exits": [], "stages": [] }));
            ctx.insert(
                "source",
                &std::fs::read_to_string(&file).unwrap_or_default(),
            );
        }
    }
    page(&state, "campaign.html", &viewer, "campaigns", &title, ctx)
}

pub async fn reports<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
) -> PageResult {
    let loaded = state.loaded();
    let list: Vec<_> = loaded
        .catalog
        .campaigns
        .values()
        .map(|c| json!({ "id": c.id, "description": c.description, "pilot": c.pilot.is_some() }))
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("campaigns", &list);
    page(&state, "reports.html", &viewer, "reports", "Reports", ctx)
}

async fn build_report<S: Store>(
    state: &ConsoleState<S>,
    id: &str,
) -> Result<crate::report::Report, ConsoleError> {
    let loaded = state.loaded();
    let campaign = loaded
        .catalog
        .campaigns
        .get(id)
        .ok_or_else(|| ConsoleError::NotFound(format!("no campaign `{id}`")))?;
    Ok(crate::report::build(&state.store, campaign, state.clock.now()).await?)
}

pub async fn report<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    let r = build_report(&state, &id).await?;
    let loaded = state.loaded();
    let templates: Vec<String> = loaded.catalog.campaigns[&id]
        .steps
        .iter()
        .map(|s| s.template.clone())
        .collect();
    let mut ctx = tera::Context::new();
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    ctx.insert(
        "groups",
        &r.groups
            .iter()
            .map(|g| {
                let f = &g.figures;
                json!({
                    "group": g.group.as_str(), "enrolled": f.enrolled, "sent": f.sent, "failed": f.failed,
                    "bounced": f.bounced, "unsubscribed": f.unsubscribed, "responders": f.responders,
                    "clicks": f.clicks.clicks, "clickers": f.clicks.clickers,
                    "rate": pct(g.response.rate), "low": pct(g.response.low), "high": pct(g.response.high),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "steps",
        &r.steps
            .iter()
            .map(|s| {
                json!({
                    "n": s.step + 1, "template": templates.get(s.step as usize), "sent": s.sent,
                    "failed": s.failed, "bounced": s.bounced, "complaints": s.complaints,
                    "clicks": s.clicks, "human_clickers": s.human_clickers,
                    "responders_after": s.responders_after,
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("r", &r);
    ctx.insert(
        "difference",
        &r.difference.as_ref().map(
            |d| json!({ "estimate": pct(d.estimate), "low": pct(d.low), "high": pct(d.high) }),
        ),
    );
    let charts = r.pilot.is_some() && !r.groups.is_empty();
    ctx.insert("rate_chart", &charts.then(|| crate::report::rate_chart(&r)));
    ctx.insert(
        "timeline_chart",
        &(charts && !r.timeline.is_empty()).then(|| crate::report::timeline_chart(&r.timeline)),
    );
    let promoted = r.pilot.as_ref().and_then(|p| p.promoted_at).map(when);
    ctx.insert("promoted_at", &promoted);
    ctx.insert("id", &id);
    page(
        &state,
        "report.html",
        &viewer,
        "reports",
        &format!("Report: {id}"),
        ctx,
    )
}

/// The report's figures as CSV: one row per group, then one per step.
pub async fn report_csv<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    _viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    let r = build_report(&state, &id).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| ConsoleError::BadRequest(e.to_string());
    out.write_record([
        "campaign",
        "row",
        "name",
        "enrolled",
        "sent",
        "bounced",
        "complaints",
        "clicks",
        "responses",
    ])
    .map_err(io)?;
    for g in &r.groups {
        let f = &g.figures;
        let complaints = if r.groups.len() == 1 || g.group == crate::domain::Group::Treatment {
            r.complaints.complaints.to_string()
        } else {
            "0".into()
        };
        out.write_record([
            r.campaign.clone(),
            "group".into(),
            g.group.as_str().into(),
            f.enrolled.to_string(),
            f.sent.to_string(),
            f.bounced.to_string(),
            complaints,
            f.clicks.clicks.to_string(),
            f.responders.to_string(),
        ])
        .map_err(io)?;
    }
    for s in &r.steps {
        out.write_record([
            r.campaign.clone(),
            "step".into(),
            (s.step + 1).to_string(),
            String::new(),
            s.sent.to_string(),
            s.bounced.to_string(),
            s.complaints.to_string(),
            s.clicks.to_string(),
            s.responders_after.to_string(),
        ])
        .map_err(io)?;
    }
    let body = out
        .into_inner()
        .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-report.csv\"",
                    id.replace(['"', '\\'], "")
                ),
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn suppressions<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
) -> PageResult {
    let list = state.store.list_suppressions().await?;
    let mut ctx = tera::Context::new();
    ctx.insert(
        "suppressions",
        &list
            .iter()
            .map(|s| json!({ "value": s.value, "scope": format!("{:?}", s.scope).to_lowercase(), "reason": s.reason.as_str(), "source": s.source, "detail": s.detail, "at": when(s.created_at) }))
            .collect::<Vec<_>>(),
    );
    page(
        &state,
        "suppressions.html",
        &viewer,
        "suppressions",
        "Suppressions",
        ctx,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct InboundQuery {
    kind: Option<String>,
}

pub async fn inbound<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Query(query): Query<InboundQuery>,
) -> PageResult {
    let kind = query.kind.filter(|k| !k.is_empty());
    let rows = state
        .store
        .inbound_rows(&InboundFilter {
            kind: kind.clone(),
            campaign: None,
            limit: Some(200),
        })
        .await?;
    let mut ctx = tera::Context::new();
    ctx.insert("kind", &kind);
    ctx.insert(
        "rows",
        &rows
            .iter()
            .map(|r| json!({
                "id": r.id, "at": when(r.received_at), "kind": r.kind, "source": r.source, "summary": r.summary,
                "email": r.email, "campaign": r.campaign, "suppressed": r.suppressed,
                "undone": r.undone_at.map(when), "undo_note": r.undo_note,
            }))
            .collect::<Vec<_>>(),
    );
    page(
        &state,
        "inbound.html",
        &viewer,
        "inbound",
        "What came back",
        ctx,
    )
}

pub async fn audit<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let pick = |k: &str| query.get(k).filter(|v| !v.is_empty()).cloned();
    let filter = AuditFilter {
        actor: pick("actor"),
        action: pick("action"),
        subject: pick("subject"),
        limit: Some(500),
    };
    let entries = state.store.list_audit(&filter).await?;
    let mut ctx = tera::Context::new();
    ctx.insert(
        "entries",
        &entries
            .iter()
            .map(|e| json!({ "at": when(e.at), "actor": e.actor, "action": e.action, "subject": e.subject, "detail": e.detail }))
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "filter",
        &json!({ "actor": filter.actor, "action": filter.action, "subject": filter.subject }),
    );
    page(&state, "audit.html", &viewer, "audit", "Audit log", ctx)
}
