//! `POST /events` with `Authorization: Bearer TOKEN`: one JSON event or an
//! array of them, `{"email", "kind", "at"?, "detail"?}`. Each bad item is
//! rejected with its index and reason; the good ones are stored (the same
//! rules as `tend events import`: unsubscribe, complaint and hard bounce
//! suppress; other kinds are activity).

use super::HttpState;
use crate::domain::EmailAddress;
use crate::domain::{EventKind, NewEvent};
use crate::store::prelude::*;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Batch {
    // `Many` first: an untagged `Value` would swallow arrays too.
    Many(Vec<serde_json::Value>),
    One(serde_json::Value),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    email: String,
    kind: String,
    at: Option<String>,
    #[serde(default)]
    detail: String,
}

#[derive(Debug, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Accepted {
    pub stored: u64,
    pub duplicates: u64,
    pub suppressions_added: u64,
    pub rejected: Vec<Rejection>,
}

/// Compares digests so the comparison time does not depend on the token.
pub(super) fn authorized(headers: &HeaderMap, expected: &str) -> bool {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}

pub async fn post<S: Store>(
    State(state): State<Arc<HttpState<S>>>,
    headers: HeaderMap,
    Json(batch): Json<Batch>,
) -> Result<Json<Accepted>, (StatusCode, String)> {
    let Some(expected) = &state.events_token else {
        return Err((
            StatusCode::NOT_FOUND,
            "the events endpoint is off: set TEND__HTTP__EVENTS_TOKEN\n".into(),
        ));
    };
    if !authorized(&headers, expected) {
        return Err((
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token\n".into(),
        ));
    }
    let items = match batch {
        Batch::One(item) => vec![item],
        Batch::Many(items) => items,
    };
    let now = state.clock.now();
    let mut events = Vec::new();
    let mut indexes = Vec::new();
    let mut rejected = Vec::new();
    for (index, raw) in items.into_iter().enumerate() {
        match parse(raw, now) {
            Ok(event) => {
                events.push(event);
                indexes.push(index);
            }
            Err(reason) => rejected.push(Rejection { index, reason }),
        }
    }
    let counts = state.store.record_events(&events, now).await.map_err(|e| {
        tracing::error!(error = %e, "storing posted events failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "could not store the events; retry later\n".to_string(),
        )
    })?;
    for (event, index) in events.iter().zip(indexes) {
        if counts.unknown_contacts.contains(&event.email.to_string()) {
            rejected.push(Rejection {
                index,
                reason: format!("no contact with email {}", event.email),
            });
        }
    }
    rejected.sort_by_key(|r| r.index);
    Ok(Json(Accepted {
        stored: counts.stored,
        duplicates: counts.duplicates,
        suppressions_added: counts.suppressions_added,
        rejected,
    }))
}

fn parse(raw: serde_json::Value, now: chrono::DateTime<chrono::Utc>) -> Result<NewEvent, String> {
    let item: Item = serde_json::from_value(raw).map_err(|e| format!("invalid event: {e}"))?;
    Ok(NewEvent {
        email: EmailAddress::parse(&item.email).map_err(|e| e.to_string())?,
        kind: item.kind.parse::<EventKind>()?,
        at: match item.at {
            Some(at) => crate::import::parse_time(&at)?,
            None => now,
        },
        detail: item.detail,
        source: "http".into(),
    })
}
