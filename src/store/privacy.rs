//! A person's data as a whole: everything held about one contact (export),
//! erasing it so that only a keyed hash of the address remains (enough to
//! never email them again), and the retention rules that forget message
//! bodies, events and raw inbound mail after a while.

use super::*;

pub trait PrivacyStore: Send + Sync {
    /// Everything held about one contact; `None` for an unknown id.
    fn personal_data(
        &self,
        contact_id: i64,
    ) -> impl Future<Output = StoreResult<Option<PersonalData>>> + Send;

    /// Erases a contact in one transaction: open passages end, queued mail is
    /// cancelled, message bodies, subjects, event details, SMTP replies and
    /// inbound messages that mention them are cleared, the address and name
    /// are replaced by a placeholder, and its suppressions are replaced by
    /// `hash` on the erasure list. Counts stay (a report's sent and
    /// responded figures do not change). The backend also makes sure the
    /// old values are not left in the database file where it can.
    fn erase_contact(
        &self,
        contact_id: i64,
        hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Erased>> + Send;

    /// The erasure list: (hash, the suppression reason to restore).
    fn erasures(
        &self,
    ) -> impl Future<Output = StoreResult<Vec<(String, SuppressionReason)>>> + Send;

    /// Applies the retention cutoffs (each `None`: keep forever) and records the run.
    fn apply_retention(
        &self,
        cutoffs: &RetentionCutoffs,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<RetentionRun>> + Send;

    fn last_retention(&self) -> impl Future<Output = StoreResult<Option<RetentionRun>>> + Send;
}
