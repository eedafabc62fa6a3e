//! The backend, chosen once from the database URL (`sqlite://…` or
//! `postgres://…`): everything after [`open`] sees only the store traits.
//! Each call is handed to the chosen backend as it is.

use super::*;

/// The store a command or daemon runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    pub fn of(url: &str) -> Option<Kind> {
        if url.starts_with("sqlite:") {
            Some(Kind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Kind::Postgres)
        } else {
            None
        }
    }
}

/// Opens (creating or upgrading) the database the URL names.
pub async fn open(url: &str) -> StoreResult<Backend> {
    match Kind::of(url) {
        Some(Kind::Sqlite) => Ok(Backend::Sqlite(SqliteStore::open(url).await?)),
        Some(Kind::Postgres) => Ok(Backend::Postgres(PostgresStore::open(url).await?)),
        None => Err(StoreError::Unsupported {
            url: postgres::redact_url(url),
        }),
    }
}

impl Backend {
    /// Closes every connection; later calls fail (used to test health checks).
    pub async fn close(&self) {
        match self {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Backend::Sqlite(_) => Kind::Sqlite,
            Backend::Postgres(_) => Kind::Postgres,
        }
    }
}

/// Writes each listed method as a call to the same method of the backend.
macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {$(
        async fn $name(&self, $($arg: $ty),*) -> $out {
            match self {
                Backend::Sqlite(store) => store.$name($($arg),*).await,
                Backend::Postgres(store) => store.$name($($arg),*).await,
            }
        }
    )*};
}

impl InboundStore for Backend {
    delegate! {
        record_inbound(message: &NewInbound, now: DateTime<Utc>) -> StoreResult<InboundRecorded>;
        send_owner(send_id: i64) -> StoreResult<Option<(i64, String)>>;
        inbound_rows(filter: &InboundFilter) -> StoreResult<Vec<InboundRow>>;
        inbound_detail(id: i64) -> StoreResult<Option<InboundDetail>>;
        undo_inbound(id: i64, note: &str, now: DateTime<Utc>) -> StoreResult<UndoOutcome>;
        inbound_counts(campaign: Option<&str>) -> StoreResult<Vec<(String, String, u64)>>;
        purge_inbound_raw(before: DateTime<Utc>) -> StoreResult<u64>;
        imap_decided(mailbox: &ImapMailbox, uids: &[u32]) -> StoreResult<Vec<(u32, bool)>>;
        imap_record(mailbox: &ImapMailbox, uid: u32, own: bool, now: DateTime<Utc>) -> StoreResult<()>;
    }
}

impl PrivacyStore for Backend {
    delegate! {
        personal_data(contact_id: i64) -> StoreResult<Option<PersonalData>>;
        erase_contact(contact_id: i64, hash: &str, now: DateTime<Utc>) -> StoreResult<Erased>;
        erasures() -> StoreResult<Vec<(String, SuppressionReason)>>;
        apply_retention(cutoffs: &RetentionCutoffs, now: DateTime<Utc>) -> StoreResult<RetentionRun>;
        last_retention() -> StoreResult<Option<RetentionRun>>;
    }
}

impl ContactStore for Backend {
    delegate! {
        upsert_contacts(rows: &[NewContact], now: DateTime<Utc>) -> StoreResult<UpsertCounts>;
        contact_by_email(email: &EmailAddress) -> StoreResult<Option<Contact>>;
        contact_by_id(id: i64) -> StoreResult<Option<Contact>>;
        record_events(rows: &[NewEvent], now: DateTime<Utc>) -> StoreResult<EventCounts>;
        record_click(click: &NewClick) -> StoreResult<()>;
        add_suppression(suppression: &NewSuppression, now: DateTime<Utc>) -> StoreResult<bool>;
        remove_suppression(value: &str) -> StoreResult<bool>;
        list_suppressions() -> StoreResult<Vec<Suppression>>;
        unsubscribe(request: &Unsubscribe, now: DateTime<Utc>) -> StoreResult<UnsubscribeResult>;
        attribute_types() -> StoreResult<Vec<(String, Option<AttrType>)>>;
        contact_zones() -> StoreResult<Vec<Option<String>>>;
    }
}

impl AudienceStore for Backend {
    delegate! {
        count_entrants(campaign: &str, selection: &Selection, reentry_after: Option<DateTime<Utc>>) -> StoreResult<u64>;
        enroll(campaign: &str, selection: &Selection, reentry_after: Option<DateTime<Utc>>, now: DateTime<Utc>) -> StoreResult<u64>;
        entrant_ids(campaign: &str, selection: &Selection, reentry_after: Option<DateTime<Utc>>) -> StoreResult<Vec<i64>>;
        enroll_contacts(campaign: &str, contacts: &[(i64, Group)], now: DateTime<Utc>) -> StoreResult<u64>;
        enrolled_count(campaign: &str) -> StoreResult<u64>;
        count_matching(selection: &Selection, campaign: &str) -> StoreResult<(u64, u64)>;
        list_matching(selection: &Selection, stages: &[(String, Cond)], limit: u64) -> StoreResult<Vec<(Contact, Option<String>)>>;
        evaluate(contact_id: i64, conds: &[Cond]) -> StoreResult<Vec<bool>>;
        contact_status(contact_id: i64, campaign: &str) -> StoreResult<(bool, bool)>;
        sample_contacts(campaign: &str, selection: &Selection, limit: u32) -> StoreResult<Vec<Contact>>;
        exit_enrollments(campaign: &str, rule: &ExitRule, now: DateTime<Utc>, apply: bool) -> StoreResult<ExitCounts>;
        progress(campaign: &str) -> StoreResult<Vec<EnrollmentProgress>>;
        progress_page(campaign: &str, after: i64, through: i64, limit: u32) -> StoreResult<Vec<EnrollmentProgress>>;
        last_enrollment_id() -> StoreResult<i64>;
        queue_entrants(sends: &EntrantSends, now: DateTime<Utc>) -> StoreResult<u64>;
        finish_enrollments(finished: &[(i64, ExitReason)], now: DateTime<Utc>) -> StoreResult<()>;
        enroll_on_events(campaign: &str, selection: &Selection, trigger: &EventTrigger, reentry_after: Option<DateTime<Utc>>, now: DateTime<Utc>, apply: bool) -> StoreResult<u64>;
        anniversary_candidates(selection: &Selection, days: &[String]) -> StoreResult<Vec<Anniversary>>;
        enroll_ids(campaign: &str, ids: &[i64], reentry_after: Option<DateTime<Utc>>, now: DateTime<Utc>, apply: bool) -> StoreResult<u64>;
    }
}

impl OutboxStore for Backend {
    delegate! {
        create_sends(sends: &[NewSend], now: DateTime<Utc>) -> StoreResult<u64>;
        send_history(since: DateTime<Utc>) -> StoreResult<Vec<HistoryItem>>;
        claim(request: &ClaimRequest) -> StoreResult<Claim>;
        mark_sending(send_id: i64, worker: &str, message_id: &str, now: DateTime<Utc>) -> StoreResult<MarkResult>;
        record(send_id: i64, outcome: &SendOutcome, now: DateTime<Utc>) -> StoreResult<()>;
        heartbeat(worker: &WorkerInfo, now: DateTime<Utc>) -> StoreResult<()>;
        workers() -> StoreResult<Vec<WorkerInfo>>;
        recover(dead: &[String], now: DateTime<Utc>) -> StoreResult<Recovered>;
        soft_bounces(contact_id: i64, bouncing: Option<i64>) -> StoreResult<Vec<DateTime<Utc>>>;
        find_send(campaign: &str, contact_id: i64, step: u32) -> StoreResult<Option<SendRow>>;
        history(contact_id: i64, before_send: Option<i64>) -> StoreResult<Vec<PastSend>>;
        outbox_rows(filter: &OutboxFilter) -> StoreResult<Vec<OutboxRow>>;
        settle(filter: &OutboxFilter, how: Settle, note: &str, now: DateTime<Utc>) -> StoreResult<u64>;
        sent_since(since: DateTime<Utc>) -> StoreResult<u64>;
        first_sent_at() -> StoreResult<Option<DateTime<Utc>>>;
    }
}

impl StateStore for Backend {
    delegate! {
        relay_health(relay: &str) -> StoreResult<Option<RelayHealth>>;
        save_relay_health(health: &RelayHealth, now: DateTime<Utc>) -> StoreResult<()>;
        save_domain_health(health: &DomainHealth, now: DateTime<Utc>) -> StoreResult<()>;
        domain_health() -> StoreResult<Vec<DomainHealth>>;
        record_tick(tick: &TickRecord) -> StoreResult<()>;
        last_tick() -> StoreResult<Option<TickRecord>>;
        secret(name: &str, candidate: &[u8], now: DateTime<Utc>) -> StoreResult<Vec<u8>>;
        secrets_named(name: &str) -> StoreResult<Vec<StoredSecret>>;
        rotate_secret(name: &str, value: &[u8], retired_as: &str, now: DateTime<Utc>) -> StoreResult<()>;
        delete_secret(name: &str) -> StoreResult<bool>;
        schedule_checkpoint(campaign: &str) -> StoreResult<Option<DateTime<Utc>>>;
        set_schedule_checkpoint(campaign: &str, until: DateTime<Utc>) -> StoreResult<()>;
        report_daemon(report: &DaemonReport) -> StoreResult<()>;
        daemons() -> StoreResult<Vec<DaemonReport>>;
        record_reload(status: &ReloadStatus) -> StoreResult<()>;
        last_reload() -> StoreResult<Option<ReloadStatus>>;
        promote_pilot(campaign: &str, at: DateTime<Utc>) -> StoreResult<bool>;
        pilot_promoted_at(campaign: &str) -> StoreResult<Option<DateTime<Utc>>>;
        reserve_rate(key: &str, interval: std::time::Duration) -> StoreResult<Option<std::time::Duration>>;
        planner_lock() -> StoreResult<Option<PlannerLock>>;
    }
}

impl ReportStore for Backend {
    delegate! {
        outbox_counts() -> StoreResult<Vec<OutboxCount>>;
        held_counts() -> StoreResult<Vec<HeldCount>>;
        ended_counts(campaign: Option<&str>) -> StoreResult<Vec<EndedCount>>;
        sent_messages(campaign: &str) -> StoreResult<Vec<SentMessage>>;
        pilot_figures(campaign: &str, kinds: &[String], within: crate::domain::Duration) -> StoreResult<PilotFigures>;
    }
}

impl AuditStore for Backend {
    delegate! {
        record_audit(actor: &str, action: &str, subject: &str, detail: &str, at: DateTime<Utc>) -> StoreResult<i64>;
        list_audit(filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
    }
}

impl ConsoleStore for Backend {
    delegate! {
        create_session(session: &ConsoleSession) -> StoreResult<()>;
        session(token_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<ConsoleSession>>;
        delete_session(token_hash: &str, now: DateTime<Utc>) -> StoreResult<()>;
        record_login_failure(key: &str, at: DateTime<Utc>) -> StoreResult<()>;
        login_failures(key: &str, since: DateTime<Utc>) -> StoreResult<u64>;
        clear_login_failures(key: &str) -> StoreResult<()>;
        search_contacts(query: &str, limit: u64) -> StoreResult<Vec<Contact>>;
        contact_timeline(contact_id: i64) -> StoreResult<ContactTimeline>;
    }
}
