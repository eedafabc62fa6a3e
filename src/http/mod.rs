//! The daemon's HTTP listener: one-click unsubscribe (RFC 8058), event
//! intake (`POST /events`), provider webhooks (`POST /inbound/…`), health
//! and Prometheus metrics.
//! Like mini-redis' `server::run`, [`serve`] takes an already-bound listener
//! and a shutdown future, so tests bind `127.0.0.1:0` and stop it at will.

mod events;
pub mod guard;
mod inbound;
mod server;
mod track;
mod unsubscribe;

use crate::clock::Clock;
use crate::config::UnsubscribeScope;
use crate::store::prelude::*;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the handlers share.
#[derive(Debug)]
pub struct HttpState<S> {
    pub store: S,
    /// The link keys (refreshed in place after a rotation).
    pub key: crate::links::Keys,
    pub scope: UnsubscribeScope,
    pub clock: Arc<dyn Clock>,
    /// `POST /events` is off without a token.
    pub events_token: Option<String>,
    /// The planner's interval: `/healthz` fails when the last tick is far older.
    pub tick_every: std::time::Duration,
    /// The running catalog, for `/reports/{campaign}`.
    pub catalog: Option<tokio::sync::watch::Receiver<Arc<crate::send::Loaded>>>,
    /// The relay whose circuit breaker `/healthz` reports (`None`: not checked).
    pub relay: Option<String>,
    /// Provider webhooks (`/inbound/…`), if any is configured.
    pub webhooks: Option<Arc<crate::inbound::intake::WebhookIntake<S>>>,
    /// What one client may ask of the listener (`[http.limits]`).
    pub limits: crate::config::HttpLimits,
    /// `http.public_url`: over https, browsers are told to stay on it.
    pub public_url: String,
}

/// The listener's routes (without the guard: see [`serve`]).
pub fn router<S: Store>(state: HttpState<S>) -> Router {
    Router::new()
        .route(
            "/u/{token}",
            get(unsubscribe::page::<S>).post(unsubscribe::confirm::<S>),
        )
        .route("/healthz", get(health::<S>))
        .route("/events", post(events::post::<S>))
        .route("/metrics", get(metrics::<S>))
        // Link scanners often check with HEAD: same redirect, no body, marked as automated.
        .route("/c/{token}", get(track::click::<S>).head(track::click::<S>))
        .route("/reports/{campaign}", get(track::report::<S>))
        .route("/inbound/ses", post(inbound::ses::<S>))
        .route("/inbound/sendgrid", post(inbound::sendgrid::<S>))
        .route("/inbound/postmark", post(inbound::postmark::<S>))
        .route("/inbound/mailgun", post(inbound::mailgun::<S>))
        .with_state(Arc::new(state))
}

/// Serves until `shutdown` completes; in-flight requests finish first.
/// `extra` routes (the web console) share the listener.
pub async fn serve<S: Store>(
    listener: TcpListener,
    state: HttpState<S>,
    extra: Option<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = Arc::new(guard::Guard::new(&state.limits, &state.public_url));
    let limits = state.limits.clone();
    let mut app = router(state);
    if let Some(extra) = extra {
        app = app.merge(extra);
    }
    server::serve(listener, guarded(app, guard), &limits, shutdown).await
}

/// Serves a router of its own (the console on `console.listen`) behind the
/// same limits as the main listener.
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    limits: &crate::config::HttpLimits,
    public_url: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = Arc::new(guard::Guard::new(limits, public_url));
    server::serve(listener, guarded(app, guard), limits, shutdown).await
}

/// Every route behind the body limit and the guard (rate limits, deadline,
/// plain 500s, security headers).
fn guarded(app: Router, guard: Arc<guard::Guard>) -> Router {
    let body_limit = guard.limits().max_body_bytes;
    app.layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(guard, guard::guard))
}

/// `200` with the database reachable and the planner ticking (`"status":
/// "degraded"` while the relay's circuit breaker is open: the daemon is fine,
/// mail is not flowing, a restart would not help); `503` otherwise.
async fn health<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
) -> (StatusCode, Json<serde_json::Value>) {
    let relay = match &state.relay {
        Some(relay) => state.store.relay_health(relay).await,
        None => Ok(None),
    };
    match state
        .store
        .last_tick()
        .await
        .and_then(|tick| Ok((tick, relay?)))
    {
        Ok((tick, relay)) => {
            let paused = relay.as_ref().filter(|r| r.open);
            let age = tick.map(|t| (chrono::Utc::now() - t.finished_at).num_seconds().max(0));
            // A loop that stopped ticking for three intervals is not healthy.
            let stale = age.is_some_and(|a| a as u64 > 3 * state.tick_every.as_secs().max(1) + 30);
            let status = if stale {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            let body = serde_json::json!({
                "status": if stale { "stale" } else if paused.is_some() { "degraded" } else { "ok" },
                "database": "ok",
                "last_tick_age_seconds": age,
                "relay": match paused {
                    Some(r) => serde_json::json!({
                        "relay": r.relay,
                        "breaker": "open",
                        "paused_until": r.paused_until,
                        "failures": r.failures,
                        "last_error": r.last_error,
                    }),
                    None => serde_json::json!({ "breaker": "closed" }),
                },
            });
            (status, Json(body))
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            // What went wrong is in the log, not in an answer to anyone who asks.
            let body = serde_json::json!({ "status": "unhealthy", "database": "unreachable" });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}

/// Prometheus text format; outbox gauges are read fresh from the store.
async fn metrics<S: Store>(State(state): State<Arc<HttpState<S>>>) -> (StatusCode, String) {
    crate::metrics::init();
    match state.store.outbox_counts().await {
        Ok(counts) => {
            crate::metrics::OUTBOX.reset();
            let mut in_doubt = 0;
            for state in crate::domain::SendState::ALL {
                crate::metrics::OUTBOX
                    .with_label_values(&[state.as_str()])
                    .set(0.0);
            }
            for c in counts {
                crate::metrics::OUTBOX
                    .with_label_values(&[c.state.as_str()])
                    .add(c.count as f64);
                if c.state == crate::domain::SendState::InDoubt {
                    in_doubt += c.count;
                }
            }
            crate::metrics::IN_DOUBT.set(in_doubt as f64);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the outbox"),
    }
    match state.store.inbound_counts(None).await {
        Ok(counts) => {
            crate::metrics::INBOUND_KEPT.reset();
            for (campaign, kind, n) in counts {
                crate::metrics::INBOUND_KEPT
                    .with_label_values(&[campaign.as_str(), kind.as_str()])
                    .set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count inbound messages"),
    }
    if let Ok(Some(tick)) = state.store.last_tick().await {
        let age = (chrono::Utc::now() - tick.finished_at).num_milliseconds() as f64 / 1000.0;
        crate::metrics::LAST_TICK_AGE.set(age.max(0.0));
    }
    (StatusCode::OK, crate::metrics::render())
}
