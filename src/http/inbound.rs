//! `POST /inbound/{ses,sendgrid,postmark,mailgun}`: provider webhooks. A
//! request that does not prove where it came from gets `401` and changes
//! nothing; a provider that is not configured, `404`; a proven request
//! whose events cannot be stored right now, `503` (providers retry).

use super::HttpState;
use crate::inbound::intake::{IntakeError, RequestProof};
use crate::inbound::webhooks::Provider;
use crate::inbound::webhooks::sendgrid::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::store::prelude::*;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::json;
use std::sync::Arc;

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn receive<S: Store>(
    state: &HttpState<S>,
    provider: Provider,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, Json<serde_json::Value>) {
    let Some(intake) = &state.webhooks else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "webhooks are not configured ([inbound.webhooks])" })),
        );
    };
    let proof = RequestProof {
        authorization: header_text(headers, header::AUTHORIZATION.as_str()),
        signature: header_text(headers, SIGNATURE_HEADER),
        timestamp: header_text(headers, TIMESTAMP_HEADER),
    };
    let provider_name = format!("{provider:?}").to_lowercase();
    match intake.receive(provider, &proof, body).await {
        Ok(taken) => (
            StatusCode::OK,
            Json(json!({ "events": taken.events, "new": taken.new })),
        ),
        Err(IntakeError::Off(name)) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("the {name} webhook is not configured") })),
        ),
        Err(IntakeError::Webhook(e)) if e.is_unauthorized() => {
            tracing::warn!(provider = provider_name, reason = %e, "refused a webhook request");
            // Why the proof failed (a stale timestamp, a wrong key) is about
            // the request, never about tend's insides, and helps whoever
            // sets the webhook up.
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": e.to_string() })),
            )
        }
        Err(IntakeError::Webhook(e)) => {
            tracing::warn!(provider = provider_name, reason = %e, "a signed webhook request could not be read");
            (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": e.to_string() })),
            )
        }
        Err(e @ IntakeError::Certificate(_)) => {
            tracing::error!(provider = provider_name, error = %e, "cannot check a webhook request; the provider will retry");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "cannot check the signature right now" })),
            )
        }
        Err(IntakeError::Store(e)) => {
            tracing::error!(provider = provider_name, error = %crate::domain::redact_addresses(&e.to_string()), "cannot keep a webhook event; the provider will retry");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "cannot store the events right now" })),
            )
        }
    }
}

pub async fn ses<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    receive(&state, Provider::Ses, &headers, &body).await
}

pub async fn sendgrid<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    receive(&state, Provider::SendGrid, &headers, &body).await
}

pub async fn postmark<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    receive(&state, Provider::Postmark, &headers, &body).await
}

pub async fn mailgun<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    receive(&state, Provider::Mailgun, &headers, &body).await
}
