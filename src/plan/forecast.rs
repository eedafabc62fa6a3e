//! The next days' sends, forecast from the open passages with the
//! planner's own [`decide`]: each passage's next step is judged as the
//! planner would now, then assumed sent when due, and the next one judged
//! after it. Contacts who have not entered yet are not forecast (who
//! enters depends on segment changes tend cannot foresee).

use super::{Decision, Rules, decide, history};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::domain::SendState;
use crate::store::prelude::*;
use crate::store::{HistoryItem, LastSend, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One send expected at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    pub campaign: String,
    /// From 0.
    pub step: usize,
    pub template: String,
    pub contact_id: i64,
    pub at: DateTime<Utc>,
    /// Already in the outbox (due now or held back), not only planned.
    pub queued: bool,
}

/// Every send of an open passage expected before `until`, by time.
pub async fn forecast<S: Store>(
    store: &S,
    catalog: &Catalog,
    settings: &Settings,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Due>, StoreError> {
    let rules = Rules::from_settings(settings);
    let mut out = Vec::new();
    for campaign in catalog.campaigns.values() {
        let mut history = history(store, campaign, &rules, now).await?;
        for mut progress in store.progress(&campaign.id).await? {
            let mine = history.entry(progress.contact_id).or_default();
            for _ in 0..campaign.steps.len() {
                let refs: Vec<&HistoryItem> = mine.iter().collect();
                let (step, at, queued) = match decide(campaign, &progress, now, &rules, &refs) {
                    Decision::Queue { step, due_at } => (step, due_at.max(now), false),
                    Decision::Wait { step, until, .. } => (step, until, false),
                    Decision::Held { step, until, .. } => (step, until.max(now), true),
                    Decision::InFlight { step } => (step, now, true),
                    Decision::InDoubt { .. } | Decision::Finish(_) => break,
                };
                if at >= until {
                    break;
                }
                out.push(Due {
                    campaign: campaign.id.clone(),
                    step,
                    template: campaign.steps[step].template.clone(),
                    contact_id: progress.contact_id,
                    at,
                    queued,
                });
                progress.last_send = Some(LastSend {
                    step: step as u32,
                    state: SendState::Sent,
                    sent_at: Some(at),
                    held: None,
                });
                mine.push(HistoryItem {
                    contact_id: progress.contact_id,
                    campaign: campaign.id.clone(),
                    at,
                });
            }
        }
    }
    out.sort_by(|a, b| (a.at, &a.campaign, a.step).cmp(&(b.at, &b.campaign, b.step)));
    Ok(out)
}
