//! Preview (what each step would send a contact, built by the sender's own
//! composer via `send::preview`), contact search, and a contact's timeline.

use super::auth::Viewer;
use super::view::{page, url_encode, when, when_opt};
use super::{ConsoleError, ConsoleState, PageResult};
use crate::domain::Contact;
use crate::send::Composed;
use crate::send::preview::Preview;
use crate::store::prelude::*;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct PreviewQuery {
    #[serde(default)]
    campaign: String,
    /// A contact id (from search or a sample).
    contact: Option<i64>,
    #[serde(default)]
    q: String,
}

/// The message as a person inspects it: the header block exactly as sent,
/// and the decoded text and HTML parts.
fn parts(composed: &Composed) -> serde_json::Value {
    let bytes = composed.message.formatted();
    let raw = String::from_utf8_lossy(&bytes);
    let headers = raw
        .split_once("\r\n\r\n")
        .map(|(h, _)| h.to_string())
        .unwrap_or_default();
    let parsed = mail_parser::MessageParser::default().parse(&bytes);
    let text = parsed
        .as_ref()
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()));
    // The parser would make an HTML body out of a text-only message: show
    // an HTML part only when one is sent.
    let html = parsed
        .as_ref()
        .filter(|m| {
            use mail_parser::MimeHeaders;
            m.parts.iter().any(|p| p.is_content_type("text", "html"))
        })
        .and_then(|m| m.body_html(0).map(|t| t.into_owned()));
    json!({
        "subject": composed.subject,
        "headers": headers,
        "text": text,
        "html": html,
        "choices": composed.content.choices.iter().map(|c| json!({
            "slot": c.slot, "n": c.n, "of": c.of, "text": c.text,
        })).collect::<Vec<_>>(),
    })
}

fn contact_json(c: &Contact) -> serde_json::Value {
    json!({ "id": c.id, "email": c.email, "name": c.name, "timezone": c.timezone })
}

pub async fn preview<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Query(query): Query<PreviewQuery>,
) -> PageResult {
    let loaded = state.loaded();
    let now = state.clock.now();
    let mut ctx = tera::Context::new();
    let ids: Vec<&String> = loaded.catalog.campaigns.keys().collect();
    let chosen = if query.campaign.is_empty() {
        ids.first().map(|s| s.to_string()).unwrap_or_default()
    } else {
        query.campaign.clone()
    };
    ctx.insert("campaigns", &ids);
    ctx.insert("campaign", &chosen);
    ctx.insert("q", &query.q);
    let Some(campaign) = loaded.catalog.campaigns.get(&chosen) else {
        if !query.campaign.is_empty() {
            return Err(ConsoleError::NotFound(format!("no campaign `{chosen}`")));
        }
        return page(&state, "preview.html", &viewer, "preview", "Preview", ctx);
    };
    let previewer = Preview {
        loaded: &loaded,
        identity: &state.identity,
        campaign,
        store: &state.store,
        now,
    };
    if !query.q.trim().is_empty() {
        let found = state.store.search_contacts(&query.q, 20).await?;
        ctx.insert("found", &found.iter().map(contact_json).collect::<Vec<_>>());
    }
    // The chosen contact, or a sample one of the campaign or its segment.
    let sample = previewer.sample_contacts(4).await?;
    let contact = match query.contact {
        Some(id) => Some(
            state
                .store
                .contact_by_id(id)
                .await?
                .ok_or_else(|| ConsoleError::NotFound(format!("no contact #{id}")))?,
        ),
        None => sample.first().cloned(),
    };
    ctx.insert("sampled", &query.contact.is_none());
    if let Some(contact) = &contact {
        ctx.insert("contact", &contact_json(contact));
        let mut simulated = Vec::new();
        let mut steps = Vec::new();
        for (i, step) in campaign.steps.iter().enumerate() {
            let entry = match previewer.one(contact, i, &mut simulated).await {
                Ok(composed) => {
                    json!({ "n": i + 1, "template": step.template, "m": parts(&composed) })
                }
                // One step that cannot be built (a template error for this
                // contact) is shown as such; the others still are.
                Err(crate::send::preview::PreviewError::Compose(e)) => {
                    json!({ "n": i + 1, "template": step.template, "error": e.to_string() })
                }
                Err(e) => return Err(e.into()),
            };
            steps.push(entry);
        }
        ctx.insert("steps", &steps);
        // Other contacts' versions of the first step: the variants side by side.
        let mut others = Vec::new();
        for other in sample.iter().filter(|o| o.id != contact.id).take(3) {
            if let Ok(composed) = previewer.one(other, 0, &mut Vec::new()).await {
                others.push(json!({
                    "contact": contact_json(other),
                    "subject": composed.subject,
                    "opener": composed.content.opener,
                    "choices": composed.content.choices.iter().map(|c| format!("{} {}/{}: {}", c.slot, c.n, c.of, c.text)).collect::<Vec<_>>(),
                }));
            }
        }
        ctx.insert("others", &others);
    }
    page(&state, "preview.html", &viewer, "preview", "Preview", ctx)
}

#[derive(Debug, Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn contacts<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Query(query): Query<SearchQuery>,
) -> PageResult {
    let mut ctx = tera::Context::new();
    ctx.insert("q", &query.q);
    if !query.q.trim().is_empty() {
        let found = state.store.search_contacts(&query.q, 50).await?;
        ctx.insert("found", &found.iter().map(contact_json).collect::<Vec<_>>());
    }
    page(
        &state,
        "contacts.html",
        &viewer,
        "contacts",
        "Contacts",
        ctx,
    )
}

pub async fn timeline<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> PageResult {
    let contact = state
        .store
        .contact_by_id(id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("no contact #{id}")))?;
    let t = state.store.contact_timeline(id).await?;
    let domain = contact
        .email
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_string();
    let suppressions: Vec<_> = state
        .store
        .list_suppressions()
        .await?
        .into_iter()
        .filter(|s| s.value == contact.email || s.value == domain)
        .collect();
    // One list, oldest first: what happened, when, and what it was.
    let mut items: Vec<(chrono::DateTime<chrono::Utc>, serde_json::Value)> = Vec::new();
    for e in &t.enrollments {
        items.push((e.entered_at, json!({ "kind": "entered", "text": format!("entered {} ({})", e.campaign, e.group), "campaign": e.campaign })));
        if let Some(at) = e.exited_at {
            items.push((at, json!({ "kind": "left", "text": format!("left {}: {}", e.campaign, e.exit_reason.clone().unwrap_or_default()), "campaign": e.campaign })));
        }
    }
    for s in &t.sends {
        let at = s.sent_at.unwrap_or(s.due_at);
        let what = match &s.subject {
            Some(subject) => format!("{} step {} “{subject}”", s.campaign, s.step + 1),
            None => format!("{} step {}", s.campaign, s.step + 1),
        };
        items.push((at, json!({ "kind": format!("send: {}", s.state.as_str()), "text": what, "detail": s.last_error, "campaign": s.campaign })));
    }
    for e in &t.events {
        items.push((e.at, json!({ "kind": format!("event: {}", e.kind), "text": e.detail, "detail": format!("from {}", e.source) })));
    }
    for i in &t.inbound {
        items.push((
            i.received_at,
            json!({
                "kind": format!("came back: {}", i.kind), "text": i.summary, "inbound": i.id,
                "undone": i.undone_at.map(when),
            }),
        ));
    }
    for s in &suppressions {
        items.push((s.created_at, json!({ "kind": "suppressed", "text": format!("{} ({}) {}", s.value, s.reason.as_str(), s.detail) })));
    }
    items.sort_by_key(|(at, _)| *at);
    let items: Vec<_> = items
        .into_iter()
        .map(|(at, mut v)| {
            v["at"] = json!(when(at));
            v
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("contact", &json!({
        "id": contact.id, "email": contact.email, "name": contact.name, "timezone": contact.timezone,
        "tags": contact.tags, "created_at": when(contact.created_at), "last_activity_at": when_opt(contact.last_activity_at),
        "email_q": url_encode(&contact.email),
    }));
    ctx.insert("items", &items);
    ctx.insert(
        "suppressed",
        &suppressions.iter().map(|s| &s.value).collect::<Vec<_>>(),
    );
    ctx.insert(
        "campaigns",
        &t.enrollments
            .iter()
            .map(|e| &e.campaign)
            .collect::<std::collections::BTreeSet<_>>(),
    );
    let title = format!("Contact: {}", contact.email);
    page(&state, "timeline.html", &viewer, "contacts", &title, ctx)
}
