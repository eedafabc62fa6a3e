//! `GET /c/{token}`: a tracked link. Records a `click` event, then redirects
//! to the URL bound into the token's signature (never anywhere else).
//! `GET /reports/{campaign}`: the HTML report, behind the events bearer token.

use super::HttpState;
use crate::domain::EmailAddress;
use crate::store::{EventKind, NewEvent, Store};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

pub async fn click<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    Path(token): Path<String>,
) -> Response {
    let Ok(click) = state.key.verify_click(&token) else {
        return (StatusCode::BAD_REQUEST, "this link is not valid\n").into_response();
    };
    let now = state.clock.now();
    match state.store.contact_by_id(click.contact_id).await {
        Ok(Some(contact)) => {
            if let Ok(email) = EmailAddress::parse(&contact.email) {
                let event = NewEvent {
                    email,
                    kind: EventKind::Activity("click".into()),
                    at: now,
                    detail: format!("{} step {}: {}", click.campaign, click.step + 1, click.url),
                    source: "click".into(),
                };
                if let Err(e) = state.store.record_events(&[event], now).await {
                    // The reader still gets where they were going.
                    tracing::error!(error = %e, "could not record a click");
                }
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "could not look up a clicking contact"),
    }
    (StatusCode::FOUND, [(header::LOCATION, click.url)]).into_response()
}

pub async fn report<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    Path(campaign): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(expected) = &state.events_token else {
        return (
            StatusCode::NOT_FOUND,
            "reports are off: set TEND__HTTP__EVENTS_TOKEN\n",
        )
            .into_response();
    };
    if !super::events::authorized(&headers, expected) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n").into_response();
    }
    let Some(catalog) = &state.catalog else {
        return (StatusCode::NOT_FOUND, "no catalog loaded\n").into_response();
    };
    let loaded = Arc::clone(&catalog.borrow());
    let Some(c) = loaded.catalog.campaigns.get(&campaign) else {
        return (StatusCode::NOT_FOUND, "no such campaign\n").into_response();
    };
    match crate::report::build(&state.store, c, state.clock.now()).await {
        Ok(report) => Html(crate::report::html(&report)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "report failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "could not build the report\n",
            )
                .into_response()
        }
    }
}
