//! `GET /u/{token}` shows a confirmation page (link scanners follow GETs, so
//! a GET alone never unsubscribes); `POST /u/{token}` unsubscribes — the
//! one-click `List-Unsubscribe-Post` from mailbox providers, or the page's
//! button. Replays are harmless; forged tokens change nothing.

use super::HttpState;
use crate::config::UnsubscribeScope;
use crate::domain::UnsubToken;
use crate::store::prelude::*;
use crate::store::{Unsubscribe, UnsubscribeResult};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

fn page_html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}\
         button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    )
}

fn invalid() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(page_html(
            "This link is not valid",
            "<p>The unsubscribe link is incomplete or was changed. Please use the link from the email itself.</p>",
        )),
    )
        .into_response()
}

fn verify<S: Store>(state: &HttpState<S>, token: &str) -> Option<UnsubToken> {
    match state.key.current().verify(token) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(error = %e, "refused an unsubscribe token");
            None
        }
    }
}

pub async fn page<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    Path(token): Path<String>,
) -> Response {
    if verify(&state, &token).is_none() {
        return invalid();
    }
    let form = format!(
        "<p>Click the button to stop receiving these emails.</p>\
         <form method=\"post\" action=\"/u/{token}\"><button type=\"submit\">Unsubscribe</button></form>"
    );
    Html(page_html("Unsubscribe", &form)).into_response()
}

pub async fn confirm<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    Path(token): Path<String>,
) -> Response {
    let Some(token) = verify(&state, &token) else {
        return invalid();
    };
    let request = Unsubscribe {
        contact_id: token.contact_id,
        campaign: match state.scope {
            UnsubscribeScope::All => None,
            UnsubscribeScope::Campaign => Some(token.campaign.clone()),
        },
        source: "one-click".into(),
        detail: format!("campaign {}", token.campaign),
    };
    match state.store.unsubscribe(&request, state.clock.now()).await {
        Ok(UnsubscribeResult::UnknownContact) => (
            StatusCode::NOT_FOUND,
            Html(page_html(
                "Unknown link",
                "<p>We could not find who this link belongs to.</p>",
            )),
        )
            .into_response(),
        Ok(result) => {
            tracing::info!(contact = token.contact_id, campaign = %token.campaign, replay = result == UnsubscribeResult::Already, "unsubscribed");
            Html(page_html(
                "You are unsubscribed",
                "<p>You will not receive these emails any more. Sorry to see you go.</p>",
            ))
            .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(page_html(
                    "Please try again",
                    "<p>Something went wrong on our side. Please try again in a minute.</p>",
                )),
            )
                .into_response()
        }
    }
}
