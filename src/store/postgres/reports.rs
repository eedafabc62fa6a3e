//! TEMPORARY stub

use super::*;

impl ReportStore for PostgresStore {
    async fn outbox_counts(&self) -> StoreResult<Vec<OutboxCount>> {
        unimplemented!("postgres outbox_counts")
    }

    async fn held_counts(&self) -> StoreResult<Vec<HeldCount>> {
        unimplemented!("postgres held_counts")
    }

    async fn ended_counts(&self, _campaign: Option<&str>) -> StoreResult<Vec<EndedCount>> {
        unimplemented!("postgres ended_counts")
    }

    async fn sent_messages(&self, _campaign: &str) -> StoreResult<Vec<SentMessage>> {
        unimplemented!("postgres sent_messages")
    }

    async fn pilot_figures(
        &self,
        _campaign: &str,
        _kinds: &[String],
        _within: crate::domain::Duration,
    ) -> StoreResult<PilotFigures> {
        unimplemented!("postgres pilot_figures")
    }
}
