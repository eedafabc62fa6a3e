//! The ledger. The [`Store`] traits, split by concern ([`ContactStore`],
//! [`AudienceStore`], [`OutboxStore`], [`StateStore`], [`ReportStore`],
//! [`InboundStore`], [`AuditStore`], [`ConsoleStore`]),
//! and one backend per folder (`sqlite/`, `postgres/`), each with its own
//! SQL and migrations; the backend is chosen once from the database URL
//! ([`open`]). Every other module speaks to the traits in domain types and
//! never sees SQL or sqlx.
//!
//! The invariant this room guards: every email is sent at most once and no
//! due email is lost. A send row exists under a unique (enrollment, step) key
//! before any SMTP traffic; senders claim rows; suppression and exit rules
//! are judged in the same transaction as the claim; a row is marked
//! `sending` before its message can be taken (its end-of-data marker).

mod audience;
mod audit;
mod backend;
mod console;
mod contacts;
mod filter_sql;
mod inbound;
mod outbox;
mod postgres;
mod privacy;
mod reports;
mod sqlite;
mod state;
mod types;

pub use audience::{AudienceStore, EntrantSends};
pub use audit::{AuditEntry, AuditFilter, AuditStore};
pub use backend::{Backend, Kind, open};
pub use console::{
    ConsoleSession, ConsoleStore, ContactTimeline, TimelineEnrollment, TimelineEvent,
    TimelineInbound, TimelineSend,
};
pub use contacts::ContactStore;
pub use inbound::InboundStore;
pub use outbox::OutboxStore;
pub use postgres::{PostgresStore, redact_url};
pub use privacy::PrivacyStore;
pub use reports::ReportStore;
pub use sqlite::SqliteStore;
pub use state::StateStore;
pub use types::*;

#[allow(unused_imports)]
use crate::domain::{
    Attributes, CLICK, Choice, Contact, EmailAddress, EventKind, ExitReason, Group, HoldReason,
    NewContact, NewEvent, NewSuppression, PastSend, SendState, SentContent, SentMessage,
    Suppression, SuppressionReason, SuppressionScope, TREATMENT_ONLY_KINDS,
};
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
    /// From the SQLite connection that writes what senders wait on.
    #[error("database error while {context}: {source}")]
    Direct {
        context: &'static str,
        source: rusqlite::Error,
    },
    #[error(
        "database URL `{url}` is not supported: use sqlite://PATH (embedded) or postgres://USER@HOST/DB (shared by several daemons)"
    )]
    Unsupported { url: String },
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

/// The traits, for code that calls a concrete store's methods.
pub mod prelude {
    pub use super::{
        AudienceStore, AuditStore, ConsoleStore, ContactStore, InboundStore, OutboxStore,
        PrivacyStore, ReportStore, StateStore, Store,
    };
}

/// Everything tend persists. Static dispatch: callers are generic over `S: Store`.
pub trait Store:
    ContactStore
    + AudienceStore
    + OutboxStore
    + StateStore
    + ReportStore
    + InboundStore
    + PrivacyStore
    + AuditStore
    + ConsoleStore
    + Clone
    + 'static
{
}

impl<T> Store for T where
    T: ContactStore
        + AudienceStore
        + OutboxStore
        + StateStore
        + ReportStore
        + InboundStore
        + PrivacyStore
        + AuditStore
        + ConsoleStore
        + Clone
        + 'static
{
}
