//! The web console for marketing staff: server-rendered pages (Tera, no
//! external assets, no JavaScript) under `/console/` on the daemon's HTTP
//! listener or a listener of its own (`console.listen`). Every page reads
//! through the same library functions as the CLI (status snapshot, report,
//! preview, forecast, check); actions are POST forms with a CSRF token,
//! allowed to operators only, and recorded in the audit log.

mod actions;
mod auth;
mod calendar;
mod pages;
mod preview;
mod settings;
mod view;

pub use auth::hash_password;
pub use settings::{ConsoleSettings, ConsoleUser, Role};

use crate::clock::Clock;
use crate::config::Settings;
use crate::send::{Identity, Loaded};
use crate::store::StoreError;
use crate::store::prelude::*;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// What the console's handlers share.
pub struct ConsoleState<S> {
    pub store: S,
    pub settings: Settings,
    pub config_path: PathBuf,
    /// The running catalog (swapped by reloads).
    pub catalog: watch::Receiver<Arc<Loaded>>,
    pub clock: Arc<dyn Clock>,
    /// Who messages come from: previews are built with the sender's identity.
    pub identity: Identity,
    templates: tera::Tera,
}

impl<S> std::fmt::Debug for ConsoleState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleState").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("template: {0}")]
    Template(#[from] tera::Error),
    #[error(transparent)]
    Preview(#[from] crate::send::preview::PreviewError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(&'static str),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match &self {
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %crate::domain::redact_addresses(&self.to_string()), "console");
        }
        let text = view::escape(&self.to_string());
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · tend console</title></head><body style=\"font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24\"><h1>{}</h1><p>{text}</p><p><a href=\"/console/\">Back to the overview</a></p></body></html>",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
        );
        (status, Html(body)).into_response()
    }
}

pub type PageResult = Result<Response, ConsoleError>;

impl<S: Store> ConsoleState<S> {
    pub async fn new(
        store: S,
        settings: Settings,
        config_path: PathBuf,
        catalog: watch::Receiver<Arc<Loaded>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::send::SendError> {
        let identity = crate::send::identity(&store, &settings, clock.now()).await?;
        Ok(Self {
            store,
            settings,
            config_path,
            catalog,
            clock,
            identity,
            templates: view::templates(),
        })
    }

    /// Cookies are `Secure` when the console is reached over https.
    fn secure_cookies(&self) -> bool {
        self.settings.http.public_url.starts_with("https://")
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.catalog.borrow().clone()
    }
}

/// The console's routes, all under `/console`.
pub fn router<S: Store>(state: Arc<ConsoleState<S>>) -> Router {
    Router::new()
        .route(
            "/console/login",
            get(auth::login_page::<S>).post(auth::login::<S>),
        )
        .route("/console/logout", post(auth::logout::<S>))
        .route(
            "/console",
            get(|| async { axum::response::Redirect::to("/console/") }),
        )
        .route("/console/", get(pages::overview::<S>))
        .route("/console/campaigns", get(pages::campaigns::<S>))
        .route("/console/campaigns/{id}", get(pages::campaign::<S>))
        .route("/console/preview", get(preview::preview::<S>))
        .route("/console/calendar", get(calendar::calendar::<S>))
        .route("/console/contacts", get(preview::contacts::<S>))
        .route("/console/contacts/{id}", get(preview::timeline::<S>))
        .route("/console/reports", get(pages::reports::<S>))
        .route("/console/reports/{id}", get(pages::report::<S>))
        .route("/console/reports/{id}/csv", get(pages::report_csv::<S>))
        .route("/console/suppressions", get(pages::suppressions::<S>))
        .route("/console/inbound", get(pages::inbound::<S>))
        .route("/console/audit", get(pages::audit::<S>))
        .route("/console/actions/suppress", post(actions::suppress::<S>))
        .route(
            "/console/actions/unsuppress",
            post(actions::unsuppress::<S>),
        )
        .route("/console/actions/promote", post(actions::promote::<S>))
        .route("/console/actions/settle", post(actions::settle::<S>))
        .route(
            "/console/actions/undo-inbound",
            post(actions::undo_inbound::<S>),
        )
        .with_state(state)
}
