//! The outbox and the ledger: queueing due steps, claiming rows for a
//! sender, the `sending` mark before a message can be taken, results, recovery
//! from senders that died, and what an operator lists and settles.

use super::*;

pub trait OutboxStore: Send + Sync {
    /// Creates outbox rows; a row whose (enrollment, step) exists is skipped.
    fn create_sends(
        &self,
        sends: &[NewSend],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Messages sent, or on their way, after `since` (for frequency caps).
    fn send_history(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Vec<HistoryItem>>> + Send;

    /// Claims due rows for `request.worker` (state `claimed`). In the same
    /// transaction, and only for due rows: rows of suppressed contacts
    /// become `suppressed`, the campaigns' exit rules are judged again and
    /// rows of ended passages become `cancelled` with the reason; neither is
    /// returned. Rows of paused domains are left in the queue.
    fn claim(&self, request: &ClaimRequest) -> impl Future<Output = StoreResult<Claim>> + Send;

    /// Right before a claimed row's message data goes to the server: marks
    /// it `sending` (with its Message-ID) if it is still claimed by `worker`,
    /// its contact is not suppressed and its passage is open. Returns false
    /// (and ends the row as `suppressed` or `cancelled`) otherwise.
    fn mark_sending(
        &self,
        send_id: i64,
        worker: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<MarkResult>> + Send;

    /// Records the result of one claimed send.
    fn record(
        &self,
        send_id: i64,
        outcome: &SendOutcome,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Announces (or refreshes) a sender process.
    fn heartbeat(
        &self,
        worker: &WorkerInfo,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Every registered sender process.
    fn workers(&self) -> impl Future<Output = StoreResult<Vec<WorkerInfo>>> + Send;

    /// Takes back the rows of senders that are gone (`dead`, and any row
    /// whose owner is unknown and whose lease ran out): `claimed` rows go
    /// back to the queue; `sending` rows (their data may have reached the
    /// server) become `in_doubt` and are never resent automatically.
    fn recover(
        &self,
        dead: &[String],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Recovered>> + Send;

    /// Times of the address's soft bounces since it last accepted a message:
    /// a message sent that no bounce came back for. `bouncing` is the send a
    /// bounce is being read for now (its own acceptance by the relay does
    /// not count as a delivery).
    fn soft_bounces(
        &self,
        contact_id: i64,
        bouncing: Option<i64>,
    ) -> impl Future<Output = StoreResult<Vec<DateTime<Utc>>>> + Send;

    /// The send row of (campaign, contact, step) in the contact's open or latest enrollment.
    fn find_send(
        &self,
        campaign: &str,
        contact_id: i64,
        step: u32,
    ) -> impl Future<Output = StoreResult<Option<SendRow>>> + Send;

    /// Messages the contact was sent (state `sent`), in the order they were
    /// recorded. With `before_send`, that send is left out and, if it was
    /// sent, so is everything recorded after it: the history its sender saw.
    fn history(
        &self,
        contact_id: i64,
        before_send: Option<i64>,
    ) -> impl Future<Output = StoreResult<Vec<PastSend>>> + Send;

    /// Rows of the outbox, oldest first.
    fn outbox_rows(
        &self,
        filter: &OutboxFilter,
    ) -> impl Future<Output = StoreResult<Vec<OutboxRow>>> + Send;

    /// Settles the `in_doubt` rows the filter selects; returns how many.
    fn settle(
        &self,
        filter: &OutboxFilter,
        how: Settle,
        note: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Messages sent at or after `since` (for warm-up caps).
    fn sent_since(&self, since: DateTime<Utc>) -> impl Future<Output = StoreResult<u64>> + Send;

    /// When tend first sent anything from this database (warm-up day 1).
    fn first_sent_at(&self) -> impl Future<Output = StoreResult<Option<DateTime<Utc>>>> + Send;
}
