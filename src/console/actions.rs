//! What an operator may do from the console: suppress and unsuppress,
//! promote a pilot, settle in-doubt rows, undo an inbound classification.
//! Each is a POST form with the session's CSRF token, checked before
//! anything else is read, and each is recorded in the audit log as
//! `console:NAME`. They call the store and library functions the CLI calls.

use super::auth::Viewer;
use super::{ConsoleError, ConsoleState, PageResult};
use crate::domain::{NewSuppression, SendState, SuppressionReason};
use crate::store::prelude::*;
use crate::store::{OutboxFilter, Settle};
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    /// The page to go back to (a console path only).
    #[serde(default)]
    back: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    campaign: String,
    #[serde(default)]
    id: String,
    /// `sent` or `requeue`.
    #[serde(default)]
    how: String,
}

/// Back to the page the form was on, with what happened.
fn done(form: &ActionForm, message: &str) -> PageResult {
    let back = if form.back.starts_with("/console/") && !form.back.starts_with("/console//") {
        form.back
            .split('#')
            .next()
            .unwrap_or("/console/")
            .to_string()
    } else {
        "/console/audit".to_string()
    };
    let sep = if back.contains('?') { '&' } else { '?' };
    let to = format!("{back}{sep}done={}", super::view::url_encode(message));
    Ok(Redirect::to(&to).into_response())
}

async fn audit<S: Store>(
    state: &ConsoleState<S>,
    viewer: &Viewer,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), ConsoleError> {
    state
        .store
        .record_audit(&viewer.actor(), action, subject, detail, state.clock.now())
        .await?;
    Ok(())
}

pub async fn suppress<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Form(form): Form<ActionForm>,
) -> PageResult {
    viewer.may_act(&form.csrf)?;
    let reason: SuppressionReason = if form.reason.is_empty() {
        SuppressionReason::Manual
    } else {
        form.reason.parse().map_err(ConsoleError::BadRequest)?
    };
    let suppression = NewSuppression::parse(&form.value, reason, &viewer.actor(), &form.note)
        .map_err(ConsoleError::BadRequest)?;
    let added = state
        .store
        .add_suppression(&suppression, state.clock.now())
        .await?;
    audit(
        &state,
        &viewer,
        "suppress",
        &suppression.value,
        &format!(
            "{}{}{}",
            reason.as_str(),
            if form.note.is_empty() { "" } else { ": " },
            form.note
        ),
    )
    .await?;
    done(
        &form,
        &if added {
            format!("suppressed {}", suppression.value)
        } else {
            format!("{} was already suppressed", suppression.value)
        },
    )
}

pub async fn unsuppress<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Form(form): Form<ActionForm>,
) -> PageResult {
    viewer.may_act(&form.csrf)?;
    let value = form.value.trim().to_lowercase();
    if !state.store.remove_suppression(&value).await? {
        return Err(ConsoleError::NotFound(format!(
            "`{value}` is not suppressed"
        )));
    }
    audit(&state, &viewer, "unsuppress", &value, &form.note).await?;
    done(&form, &format!("{value} is no longer suppressed"))
}

pub async fn promote<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Form(form): Form<ActionForm>,
) -> PageResult {
    viewer.may_act(&form.csrf)?;
    let loaded = state.loaded();
    let campaign = loaded
        .catalog
        .campaigns
        .get(&form.campaign)
        .ok_or_else(|| ConsoleError::NotFound(format!("no campaign `{}`", form.campaign)))?;
    if campaign.pilot.is_none() {
        return Err(ConsoleError::BadRequest(format!(
            "campaign `{}` is not a pilot",
            campaign.id
        )));
    }
    if let Some(at) = crate::pilot::promoted_at(&state.store, &campaign.id).await? {
        return done(
            &form,
            &format!(
                "{} was already promoted at {}",
                campaign.id,
                super::view::when(at)
            ),
        );
    }
    crate::pilot::promote(&state.store, &campaign.id, state.clock.now()).await?;
    audit(
        &state,
        &viewer,
        "promote",
        &campaign.id,
        "pilot promoted to a full rollout",
    )
    .await?;
    done(
        &form,
        &format!(
            "{} promoted: from the next tick the rest of its segment enters",
            campaign.id
        ),
    )
}

pub async fn settle<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Form(form): Form<ActionForm>,
) -> PageResult {
    viewer.may_act(&form.csrf)?;
    let id: i64 = form
        .id
        .trim()
        .parse()
        .map_err(|_| ConsoleError::BadRequest(format!("`{}` is not a row id", form.id)))?;
    let how = match form.how.as_str() {
        "sent" => Settle::Sent,
        "requeue" => Settle::Requeue,
        other => {
            return Err(ConsoleError::BadRequest(format!(
                "settle as `sent` or `requeue`, not `{other}`"
            )));
        }
    };
    let note = if form.note.trim().is_empty() {
        format!("settled by {} in the console", viewer.actor())
    } else {
        form.note.clone()
    };
    let filter = OutboxFilter {
        states: vec![SendState::InDoubt],
        ids: vec![id],
        ..Default::default()
    };
    let n = state
        .store
        .settle(&filter, how, &note, state.clock.now())
        .await?;
    if n == 0 {
        return Err(ConsoleError::NotFound(format!("row #{id} is not in doubt")));
    }
    audit(
        &state,
        &viewer,
        "settle",
        &format!("outbox #{id}"),
        &format!("as {}: {note}", form.how),
    )
    .await?;
    done(&form, &format!("row #{id} settled as {}", form.how))
}

pub async fn undo_inbound<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    Form(form): Form<ActionForm>,
) -> PageResult {
    viewer.may_act(&form.csrf)?;
    let id: i64 = form
        .id
        .trim()
        .parse()
        .map_err(|_| ConsoleError::BadRequest(format!("`{}` is not a message id", form.id)))?;
    let note = if form.note.trim().is_empty() {
        format!("undone by {} in the console", viewer.actor())
    } else {
        form.note.clone()
    };
    let outcome = state
        .store
        .undo_inbound(id, &note, state.clock.now())
        .await?;
    if !outcome.found {
        return Err(ConsoleError::NotFound(format!("no inbound message #{id}")));
    }
    if outcome.already {
        return done(&form, &format!("#{id} was undone before; nothing changed"));
    }
    let mut detail = note.clone();
    if let Some(v) = &outcome.lifted {
        detail += &format!("; lifted the suppression of {v}");
    }
    audit(
        &state,
        &viewer,
        "undo_inbound",
        &format!("inbound #{id}"),
        &detail,
    )
    .await?;
    done(&form, &format!("#{id} undone"))
}
