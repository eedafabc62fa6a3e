//! The audit log: who did what to what, and when. Written by the web
//! console's actions (actor `console:NAME`) and meant for any admin action
//! (e.g. `cli:root`): the API is plain strings, not console types.

use super::*;

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    /// Who: `console:alice`, `cli:root`, …
    pub actor: String,
    /// What: `suppress`, `unsuppress`, `promote`, `settle`, `undo_inbound`, …
    pub action: String,
    /// To what: an address, a campaign, `outbox #12`, `inbound #3`.
    pub subject: String,
    /// Anything else worth keeping (a note, a count).
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// Which entries to list; every field narrows (all `None`: the newest).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Entries whose subject contains this text.
    pub subject: Option<String>,
    pub limit: Option<u64>,
}

pub trait AuditStore: Send + Sync {
    /// Records one action; returns its id.
    fn record_audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<i64>> + Send;

    /// Entries the filter selects, newest first.
    fn list_audit(
        &self,
        filter: &AuditFilter,
    ) -> impl Future<Output = StoreResult<Vec<AuditEntry>>> + Send;
}
