//! What comes back, kept: every inbound message (or webhook event) with
//! what tend made of it and what it did — a suppression, an event, a soft
//! bounce counted — so that it can be listed, shown and undone; and what an
//! IMAP poll already decided.

use super::*;

pub trait InboundStore: Send + Sync {
    /// Keeps an inbound message and applies its effect in one transaction.
    /// A message whose digest is already kept changes nothing (`duplicate`).
    fn record_inbound(
        &self,
        message: &NewInbound,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<InboundRecorded>> + Send;

    /// The contact and campaign of a send row.
    fn send_owner(
        &self,
        send_id: i64,
    ) -> impl Future<Output = StoreResult<Option<(i64, String)>>> + Send;

    /// Kept messages, newest first.
    fn inbound_rows(
        &self,
        filter: &InboundFilter,
    ) -> impl Future<Output = StoreResult<Vec<InboundRow>>> + Send;

    fn inbound_detail(
        &self,
        id: i64,
    ) -> impl Future<Output = StoreResult<Option<InboundDetail>>> + Send;

    /// Reverses a message's effect: lifts the suppression it added, removes
    /// the event and the soft bounce it recorded; keeps the message, marked
    /// undone with the note. A suppression another kept message of the same
    /// contact also asks for (a bounce, complaint or unsubscribe, not
    /// undone) is not lifted but handed to that message (`kept_by`): one
    /// wrong classification undone must not unblock a complaint that stands.
    fn undo_inbound(
        &self,
        id: i64,
        note: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<UndoOutcome>> + Send;

    /// Per campaign and kind, how many messages came back (undone ones left out).
    fn inbound_counts(
        &self,
        campaign: Option<&str>,
    ) -> impl Future<Output = StoreResult<Vec<(String, String, u64)>>> + Send;

    /// Forgets the raw text of messages received before `before`.
    fn purge_inbound_raw(
        &self,
        before: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// What an IMAP poll decided about these UIDs already (true: ours).
    fn imap_decided(
        &self,
        mailbox: &ImapMailbox,
        uids: &[u32],
    ) -> impl Future<Output = StoreResult<Vec<(u32, bool)>>> + Send;

    fn imap_record(
        &self,
        mailbox: &ImapMailbox,
        uid: u32,
        own: bool,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
