//! What the web console keeps and reads: sessions (by a hash of their
//! token, never the token), failed sign-ins for rate limiting, contact
//! search and one contact's whole history.

use super::*;

/// A signed-in console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 of the cookie's token, hex: a copy of the database cannot sign in.
    pub token_hash: String,
    pub user: String,
    /// `viewer` or `operator`.
    pub role: String,
    /// The token every form of this session carries.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TimelineEnrollment {
    pub id: i64,
    pub campaign: String,
    pub group: String,
    pub entered_at: DateTime<Utc>,
    pub exited_at: Option<DateTime<Utc>>,
    pub exit_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TimelineSend {
    pub id: i64,
    pub campaign: String,
    /// From 0, as stored.
    pub step: u32,
    pub state: SendState,
    pub subject: Option<String>,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TimelineEvent {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub detail: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TimelineInbound {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub kind: String,
    pub summary: String,
    pub undone_at: Option<DateTime<Utc>>,
}

/// Everything tend did and learned for one contact, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ContactTimeline {
    pub enrollments: Vec<TimelineEnrollment>,
    pub sends: Vec<TimelineSend>,
    pub events: Vec<TimelineEvent>,
    pub inbound: Vec<TimelineInbound>,
}

pub trait ConsoleStore: Send + Sync {
    fn create_session(
        &self,
        session: &ConsoleSession,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The session with this token hash that has not expired at `now`.
    fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<ConsoleSession>>> + Send;

    /// Signs a session out (and forgets expired ones).
    fn delete_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    fn record_login_failure(
        &self,
        key: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Failed sign-ins under `key` since `since`.
    fn login_failures(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// A successful sign-in forgets the key's failures.
    fn clear_login_failures(&self, key: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// Contacts whose address or name contains `query` (case-insensitive), by email.
    fn search_contacts(
        &self,
        query: &str,
        limit: u64,
    ) -> impl Future<Output = StoreResult<Vec<Contact>>> + Send;

    fn contact_timeline(
        &self,
        contact_id: i64,
    ) -> impl Future<Output = StoreResult<ContactTimeline>> + Send;
}
