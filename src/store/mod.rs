//! The ledger. One [`Store`] trait, chosen once from the database URL; every
//! other module speaks to it in domain types and never sees SQL or sqlx.
//!
//! The invariant this room guards: every email is sent at most once and no
//! due email is lost. A send row exists under a unique (enrollment, step) key
//! before any SMTP traffic; senders claim rows with a lease; suppression is
//! checked in the same transaction as the claim.

mod filter_sql;
mod sqlite;
mod sqlite_segment;
mod types;

pub use sqlite::SqliteStore;
pub use types::*;

use crate::domain::EmailAddress;
use crate::segment::{AttrType, Cond, Selection};
use chrono::{DateTime, Utc};
use std::future::Future;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database `{url}`: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error while {context}: {source}")]
    Query {
        context: &'static str,
        source: sqlx::Error,
    },
    #[error("corrupt row while {context}: {detail}")]
    Corrupt {
        context: &'static str,
        detail: String,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Attaches what we were doing to a sqlx error.
pub(crate) trait QueryContext<T> {
    fn ctx(self, context: &'static str) -> StoreResult<T>;
}

impl<T> QueryContext<T> for Result<T, sqlx::Error> {
    fn ctx(self, context: &'static str) -> StoreResult<T> {
        self.map_err(|source| StoreError::Query { context, source })
    }
}

/// Everything tend persists. Static dispatch: callers are generic over `S: Store`.
pub trait Store: Clone + Send + Sync + 'static {
    /// Inserts or updates contacts by (case-insensitive) email. Blank fields
    /// never erase what is stored; attributes are merged.
    fn upsert_contacts(
        &self,
        rows: &[NewContact],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<UpsertCounts>> + Send;

    fn contact_by_email(
        &self,
        email: &EmailAddress,
    ) -> impl Future<Output = StoreResult<Option<Contact>>> + Send;

    /// Stores events (duplicates are ignored) and applies their effects:
    /// activity moves `last_activity_at` forward; unsubscribe, hard bounce
    /// and complaint add a suppression.
    fn record_events(
        &self,
        rows: &[NewEvent],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<EventCounts>> + Send;

    /// Returns false when the value was already suppressed.
    fn add_suppression(
        &self,
        suppression: &NewSuppression,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Returns false when nothing was suppressed under that value.
    fn remove_suppression(&self, value: &str) -> impl Future<Output = StoreResult<bool>> + Send;

    fn list_suppressions(&self) -> impl Future<Output = StoreResult<Vec<Suppression>>> + Send;

    /// How many contacts of the selection may enter the campaign now.
    /// `reentry_after`: `None` means a contact enters at most once; a cutoff
    /// lets in contacts whose last passage ended before it.
    fn count_entrants(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Enrolls every selected, unsuppressed contact that may enter (see `count_entrants`).
    fn enroll(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// How many unsuppressed contacts match the selection now, and how many
    /// of them never entered `campaign`, in one query.
    fn count_matching(
        &self,
        selection: &Selection,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<(u64, u64)>> + Send;

    /// Up to `limit` unsuppressed matching contacts by email, each with the
    /// name of the first of `stages` it is in (precedence order).
    fn list_matching(
        &self,
        selection: &Selection,
        stages: &[(String, Cond)],
        limit: u64,
    ) -> impl Future<Output = StoreResult<Vec<(Contact, Option<String>)>>> + Send;

    /// Attribute types observed at import; `None` for an attribute imported
    /// with values of different types.
    fn attribute_types(
        &self,
    ) -> impl Future<Output = StoreResult<Vec<(String, Option<AttrType>)>>> + Send;

    /// Evaluates each condition for one contact, in one query.
    fn evaluate(
        &self,
        contact_id: i64,
        conds: &[Cond],
    ) -> impl Future<Output = StoreResult<Vec<bool>>> + Send;

    /// Whether the contact is suppressed and whether it ever entered the campaign.
    fn contact_status(
        &self,
        contact_id: i64,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<(bool, bool)>> + Send;

    /// Open enrollments of a campaign with their latest send.
    fn progress(
        &self,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<Vec<EnrollmentProgress>>> + Send;

    /// Creates outbox rows; a row whose (enrollment, step) exists is skipped.
    fn create_sends(
        &self,
        sends: &[NewSend],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    fn finish_enrollments(
        &self,
        finished: &[(i64, ExitReason)],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

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

    /// Times of the address's soft bounces since it last accepted a message.
    fn soft_bounces(
        &self,
        contact_id: i64,
    ) -> impl Future<Output = StoreResult<Vec<DateTime<Utc>>>> + Send;

    fn relay_health(
        &self,
        relay: &str,
    ) -> impl Future<Output = StoreResult<Option<RelayHealth>>> + Send;

    fn save_relay_health(
        &self,
        health: &RelayHealth,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

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

    /// Due rows held back at sending time, per campaign and reason.
    fn held_counts(&self) -> impl Future<Output = StoreResult<Vec<HeldCount>>> + Send;

    /// Ended rows per campaign, state and recorded reason.
    fn ended_counts(
        &self,
        campaign: Option<&str>,
    ) -> impl Future<Output = StoreResult<Vec<EndedCount>>> + Send;

    fn outbox_counts(&self) -> impl Future<Output = StoreResult<Vec<OutboxCount>>> + Send;

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

    /// Every sent message of the contacts who received `campaign`, in any
    /// campaign, ordered by contact and time (for the variation metric).
    fn sent_messages(
        &self,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<Vec<SentMessage>>> + Send;

    /// Up to `limit` unsuppressed contacts enrolled in the campaign or in its
    /// selection now, by id (for `tend preview --sample`).
    fn sample_contacts(
        &self,
        campaign: &str,
        selection: &Selection,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<Contact>>> + Send;

    fn record_tick(&self, tick: &TickRecord) -> impl Future<Output = StoreResult<()>> + Send;

    fn last_tick(&self) -> impl Future<Output = StoreResult<Option<TickRecord>>> + Send;

    /// A named secret: stored `candidate` on first use, the stored value after.
    fn secret(
        &self,
        name: &str,
        candidate: &[u8],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Vec<u8>>> + Send;

    fn contact_by_id(&self, id: i64) -> impl Future<Output = StoreResult<Option<Contact>>> + Send;

    /// Suppresses the contact (no campaign) or ends its passage through one
    /// campaign, and records an `unsubscribe` event. Idempotent.
    fn unsubscribe(
        &self,
        request: &Unsubscribe,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<UnsubscribeResult>> + Send;

    /// Messages sent at or after `since` (for warm-up caps).
    fn sent_since(&self, since: DateTime<Utc>) -> impl Future<Output = StoreResult<u64>> + Send;

    /// When tend first sent anything from this database (warm-up day 1).
    fn first_sent_at(&self) -> impl Future<Output = StoreResult<Option<DateTime<Utc>>>> + Send;

    fn save_domain_health(
        &self,
        health: &DomainHealth,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Domains currently deferring or paused.
    fn domain_health(&self) -> impl Future<Output = StoreResult<Vec<DomainHealth>>> + Send;

    /// What a running daemon reports about itself (reload status, next tick).
    fn put_daemon_state(
        &self,
        key: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    fn daemon_state(
        &self,
        key: &str,
    ) -> impl Future<Output = StoreResult<Option<(serde_json::Value, DateTime<Utc>)>>> + Send;

    /// Distinct contact time zones (`None`: unknown).
    fn contact_zones(&self) -> impl Future<Output = StoreResult<Vec<Option<String>>>> + Send;

    /// Ends open passages by the campaign's exit rules; with `apply` false
    /// only counts them.
    fn exit_enrollments(
        &self,
        campaign: &str,
        rule: &ExitRule,
        now: DateTime<Utc>,
        apply: bool,
    ) -> impl Future<Output = StoreResult<ExitCounts>> + Send;

    /// Messages sent, or on their way, after `since` (for frequency caps).
    fn send_history(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Vec<HistoryItem>>> + Send;

    /// Contact ids of the selection that may enter the campaign now (see `count_entrants`).
    fn entrant_ids(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
    ) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;

    /// Enrolls these contacts in their groups (skipping any already open).
    fn enroll_contacts(
        &self,
        campaign: &str,
        contacts: &[(i64, Group)],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Enrollments the campaign ever had (a pilot's sample so far).
    fn enrolled_count(&self, campaign: &str) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Stores a click on a tracked link (the same link clicked again by the
    /// same contact within the same second is the same click). Only a click
    /// that looks like a reader's moves `last_activity_at` forward.
    fn record_click(&self, click: &NewClick) -> impl Future<Output = StoreResult<()>> + Send;

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
