//! Previews: the exact message a step would send a contact, built by the
//! same [`compose`] the sender uses with the same send history. Shared by
//! `tend preview` and the web console, so a preview is what is sent.

use super::{ComposeError, Composed, Identity, Loaded, compose};
use crate::catalog::Campaign;
use crate::domain::{Contact, PastSend, SendState};
use crate::store::StoreError;
use crate::store::prelude::*;
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// One campaign previewed at one instant.
#[derive(Debug)]
pub struct Preview<'a, S> {
    pub loaded: &'a Loaded,
    pub identity: &'a Identity,
    pub campaign: &'a Campaign,
    pub store: &'a S,
    pub now: DateTime<Utc>,
}

impl<S: Store> Preview<'_, S> {
    /// One step (from 0) for one contact. A step already queued or sent
    /// uses its send row and the history its sender saw; a later step of a
    /// whole-sequence preview also sees the earlier previewed steps
    /// (`simulated`, extended here).
    pub async fn one(
        &self,
        contact: &Contact,
        step: usize,
        simulated: &mut Vec<PastSend>,
    ) -> Result<Composed, PreviewError> {
        let row = self
            .store
            .find_send(&self.campaign.id, contact.id, step as u32)
            .await?;
        let sent = row.as_ref().is_some_and(|r| r.state == SendState::Sent);
        let mut history = self
            .store
            .history(contact.id, row.as_ref().map(|r| r.id))
            .await?;
        if !sent {
            history.extend(simulated.iter().cloned());
        }
        let composed = compose(
            self.loaded,
            self.identity,
            self.campaign,
            step,
            contact,
            row.map(|r| (r.id, r.enrollment_id)),
            self.now,
            &history,
        )?;
        if !sent {
            simulated.push(PastSend {
                send_id: 0,
                campaign: self.campaign.id.clone(),
                step: step as u32,
                subject: composed.subject.clone(),
                choices: composed.content.choices.clone(),
                sent_at: self.now,
            });
        }
        Ok(composed)
    }

    /// Up to `n` contacts of the campaign or its segment, for a sample.
    pub async fn sample_contacts(&self, n: u32) -> Result<Vec<Contact>, PreviewError> {
        let selection = self
            .campaign
            .segment
            .select(&self.loaded.catalog.vocabulary, self.now);
        Ok(self
            .store
            .sample_contacts(&self.campaign.id, &selection, n)
            .await?)
    }
}
