//! The daemon's HTTP listener: one-click unsubscribe (RFC 8058), event
//! intake (`POST /events`) and health.
//! Like mini-redis' `server::run`, [`serve`] takes an already-bound listener
//! and a shutdown future, so tests bind `127.0.0.1:0` and stop it at will.

mod events;
mod unsubscribe;

use crate::clock::Clock;
use crate::config::UnsubscribeScope;
use crate::domain::TokenKey;
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the handlers share.
#[derive(Debug)]
pub struct HttpState<S> {
    pub store: S,
    pub key: TokenKey,
    pub scope: UnsubscribeScope,
    pub clock: Arc<dyn Clock>,
    /// `POST /events` is off without a token.
    pub events_token: Option<String>,
}

pub fn router<S: Store>(state: HttpState<S>) -> Router {
    Router::new()
        .route(
            "/u/{token}",
            get(unsubscribe::page::<S>).post(unsubscribe::confirm::<S>),
        )
        .route("/healthz", get(health::<S>))
        .route("/events", post(events::post::<S>))
        .with_state(Arc::new(state))
}

/// Serves until `shutdown` completes; in-flight requests finish first.
pub async fn serve<S: Store>(
    listener: TcpListener,
    state: HttpState<S>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health<S: Store>(State(state): State<Arc<HttpState<S>>>) -> (StatusCode, &'static str) {
    match state.store.last_tick().await {
        Ok(_) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
        }
    }
}
