//! `GET`/`HEAD /c/{token}`: a tracked link. Records a `click` (marked when it
//! looks like a link scanner rather than a reader, see [`crate::clicks`]),
//! then redirects to the URL bound into the token's signature (never
//! anywhere else). `HEAD` gets the same redirect without a body.
//! `GET /reports/{campaign}`: the HTML report, behind the events bearer token.

use super::HttpState;
use crate::store::NewClick;
use crate::store::prelude::*;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

pub async fn click<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    Path(token): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let Ok(click) = state.key.current().verify_click(&token) else {
        return (StatusCode::BAD_REQUEST, "this link is not valid\n").into_response();
    };
    let now = state.clock.now();
    // The reader still gets where they were going, whatever the store says.
    match state
        .store
        .find_send(&click.campaign, click.contact_id, click.step)
        .await
    {
        Ok(send) => {
            let user_agent = headers
                .get(header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            let sent_at = send.as_ref().and_then(|s| s.sent_at);
            let event = NewClick {
                contact_id: click.contact_id,
                send_id: send.map(|s| s.id),
                at: now,
                detail: format!("{} step {}: {}", click.campaign, click.step + 1, click.url),
                method: method.as_str().to_string(),
                automated: crate::clicks::classify(method.as_str(), &user_agent, now, sent_at),
                user_agent: crate::clicks::kept_agent(&user_agent),
            };
            if let Err(e) = state.store.record_click(&event).await {
                tracing::error!(error = %e, "could not record a click");
            }
        }
        Err(e) => tracing::error!(error = %e, "could not look up a clicked message"),
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
