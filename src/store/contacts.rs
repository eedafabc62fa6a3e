//! Contacts and what they did: import, events and clicks, suppressions,
//! unsubscribes, and what the segment language needs to know about them.

use super::*;

pub trait ContactStore: Send + Sync {
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

    fn contact_by_id(&self, id: i64) -> impl Future<Output = StoreResult<Option<Contact>>> + Send;

    /// Stores events (duplicates are ignored) and applies their effects:
    /// activity moves `last_activity_at` forward; unsubscribe, hard bounce
    /// and complaint add a suppression.
    fn record_events(
        &self,
        rows: &[NewEvent],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<EventCounts>> + Send;

    /// Stores a click on a tracked link (the same link clicked again by the
    /// same contact within the same second is the same click). Only a click
    /// that looks like a reader's moves `last_activity_at` forward.
    fn record_click(&self, click: &NewClick) -> impl Future<Output = StoreResult<()>> + Send;

    /// Returns false when the value was already suppressed.
    fn add_suppression(
        &self,
        suppression: &NewSuppression,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Returns false when nothing was suppressed under that value.
    fn remove_suppression(&self, value: &str) -> impl Future<Output = StoreResult<bool>> + Send;

    fn list_suppressions(&self) -> impl Future<Output = StoreResult<Vec<Suppression>>> + Send;

    /// Suppresses the contact (no campaign) or ends its passage through one
    /// campaign, and records an `unsubscribe` event. Idempotent.
    fn unsubscribe(
        &self,
        request: &Unsubscribe,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<UnsubscribeResult>> + Send;

    /// Attribute types observed at import; `None` for an attribute imported
    /// with values of different types.
    fn attribute_types(
        &self,
    ) -> impl Future<Output = StoreResult<Vec<(String, Option<AttrType>)>>> + Send;

    /// Distinct contact time zones (`None`: unknown).
    fn contact_zones(&self) -> impl Future<Output = StoreResult<Vec<Option<String>>>> + Send;
}
