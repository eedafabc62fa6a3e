//! Figures for `status` and `report`: the outbox by state, what is held or
//! was not sent and why, sent messages for the variation metric, pilot
//! figures.

use super::*;

pub trait ReportStore: Send + Sync {
    fn outbox_counts(&self) -> impl Future<Output = StoreResult<Vec<OutboxCount>>> + Send;

    /// Due rows held back at sending time, per campaign and reason.
    fn held_counts(&self) -> impl Future<Output = StoreResult<Vec<HeldCount>>> + Send;

    /// Ended rows per campaign, state and recorded reason.
    fn ended_counts(
        &self,
        campaign: Option<&str>,
    ) -> impl Future<Output = StoreResult<Vec<EndedCount>>> + Send;

    /// Every sent message of the contacts who received `campaign`, in any
    /// campaign, ordered by contact and time (for the variation metric).
    fn sent_messages(
        &self,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<Vec<SentMessage>>> + Send;

    /// Pilot figures per group: responses are `kinds` events within `within`
    /// of entry (`activity`: any activity but [`TREATMENT_ONLY_KINDS`]; events
    /// from a treatment-only source count only when `kinds` names their kind),
    /// and the clicks on the campaign's links.
    fn pilot_figures(
        &self,
        campaign: &str,
        kinds: &[String],
        within: crate::domain::Duration,
    ) -> impl Future<Output = StoreResult<PilotFigures>> + Send;
}
