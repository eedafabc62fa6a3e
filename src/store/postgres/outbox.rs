//! TEMPORARY stub

use super::*;

impl OutboxStore for PostgresStore {
    async fn create_sends(&self, _sends: &[NewSend], _now: DateTime<Utc>) -> StoreResult<u64> {
        unimplemented!("postgres create_sends")
    }

    async fn send_history(&self, _since: DateTime<Utc>) -> StoreResult<Vec<HistoryItem>> {
        unimplemented!("postgres send_history")
    }

    async fn claim(&self, _request: &ClaimRequest) -> StoreResult<Claim> {
        unimplemented!("postgres claim")
    }

    async fn mark_sending(
        &self,
        _send_id: i64,
        _worker: &str,
        _message_id: &str,
        _now: DateTime<Utc>,
    ) -> StoreResult<MarkResult> {
        unimplemented!("postgres mark_sending")
    }

    async fn record(
        &self,
        _send_id: i64,
        _outcome: &SendOutcome,
        _now: DateTime<Utc>,
    ) -> StoreResult<()> {
        unimplemented!("postgres record")
    }

    async fn heartbeat(&self, _worker: &WorkerInfo, _now: DateTime<Utc>) -> StoreResult<()> {
        unimplemented!("postgres heartbeat")
    }

    async fn workers(&self) -> StoreResult<Vec<WorkerInfo>> {
        unimplemented!("postgres workers")
    }

    async fn recover(&self, _dead: &[String], _now: DateTime<Utc>) -> StoreResult<Recovered> {
        unimplemented!("postgres recover")
    }

    async fn soft_bounces(&self, _contact_id: i64) -> StoreResult<Vec<DateTime<Utc>>> {
        unimplemented!("postgres soft_bounces")
    }

    async fn find_send(
        &self,
        _campaign: &str,
        _contact_id: i64,
        _step: u32,
    ) -> StoreResult<Option<SendRow>> {
        unimplemented!("postgres find_send")
    }

    async fn history(
        &self,
        _contact_id: i64,
        _before_send: Option<i64>,
    ) -> StoreResult<Vec<PastSend>> {
        unimplemented!("postgres history")
    }

    async fn outbox_rows(&self, _filter: &OutboxFilter) -> StoreResult<Vec<OutboxRow>> {
        unimplemented!("postgres outbox_rows")
    }

    async fn settle(
        &self,
        _filter: &OutboxFilter,
        _how: Settle,
        _note: &str,
        _now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        unimplemented!("postgres settle")
    }

    async fn sent_since(&self, _since: DateTime<Utc>) -> StoreResult<u64> {
        unimplemented!("postgres sent_since")
    }

    async fn first_sent_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        unimplemented!("postgres first_sent_at")
    }
}
