//! The embedded default store: one SQLite file in WAL mode. SQLite has no
//! `SKIP LOCKED`; a claim is a single `UPDATE … RETURNING` inside
//! `BEGIN IMMEDIATE`, so two senders can never take the same row.

use super::*;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::borrow::Cow;
use std::str::FromStr;

mod outbox;
mod variation;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One writer at a time inside this process: SQLite would otherwise make
    /// concurrent writers sleep in its busy handler (milliseconds each),
    /// which dominated sending throughput.
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn migrator() -> Migrator {
    let migration = |version, description: &'static str, sql: &'static str| {
        Migration::new(
            version,
            Cow::Borrowed(description),
            MigrationType::Simple,
            Cow::Borrowed(sql),
            false,
        )
    };
    Migrator {
        migrations: Cow::Owned(vec![
            migration(
                1,
                "init",
                include_str!("../../migrations/sqlite/0001_init.sql"),
            ),
            migration(
                2,
                "segments",
                include_str!("../../migrations/sqlite/0002_segments.sql"),
            ),
            migration(
                3,
                "variation",
                include_str!("../../migrations/sqlite/0003_variation.sql"),
            ),
            migration(
                4,
                "operations",
                include_str!("../../migrations/sqlite/0004_operations.sql"),
            ),
            migration(
                5,
                "trust",
                include_str!("../../migrations/sqlite/0005_trust.sql"),
            ),
            migration(
                6,
                "clicks",
                include_str!("../../migrations/sqlite/0006_clicks.sql"),
            ),
        ]),
        ..Migrator::DEFAULT
    }
}

/// Appends ` AND (…)`: the event `ev` is of one of the response `kinds`
/// (see `Store::pilot_figures`), values bound.
fn push_response_kinds(qb: &mut QueryBuilder<'_, Sqlite>, kinds: &[String]) {
    let from_a_shared_source = |qb: &mut QueryBuilder<'_, Sqlite>| {
        qb.push(" AND ev.source NOT IN (");
        let mut sources = qb.separated(", ");
        for t in TREATMENT_ONLY_KINDS {
            sources.push_bind(t.source);
        }
        qb.push(")");
    };
    qb.push(" AND (0");
    for kind in kinds {
        if kind == "activity" {
            qb.push(" OR (ev.kind NOT IN ('unsubscribe', 'bounce', 'complaint'");
            for t in TREATMENT_ONLY_KINDS {
                qb.push(", ");
                qb.push_bind(t.kind);
            }
            qb.push(")");
            from_a_shared_source(qb);
            qb.push(")");
        } else if TREATMENT_ONLY_KINDS.iter().any(|t| t.kind == kind) {
            // Named on purpose (`tend check` warns): counts from any source.
            qb.push(" OR ev.kind = ");
            qb.push_bind(kind.clone());
        } else {
            qb.push(" OR (ev.kind = ");
            qb.push_bind(kind.clone());
            from_a_shared_source(qb);
            qb.push(")");
        }
    }
    qb.push(")");
}

fn ts(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn from_ts(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// Appends the selection's condition over contacts aliased `c`, values bound.
fn push_selection(qb: &mut QueryBuilder<'_, Sqlite>, selection: &Selection) {
    qb.push("(");
    super::filter_sql::push_cond(qb, &selection.cond);
    if let Some(zones) = &selection.zones {
        qb.push(" AND (0");
        for zone in zones {
            match zone {
                Some(name) => {
                    qb.push(" OR c.timezone = ");
                    qb.push_bind(name.clone());
                }
                None => {
                    qb.push(" OR c.timezone IS NULL");
                }
            }
        }
        qb.push(")");
    }
    qb.push(")");
}

/// `AND NOT EXISTS (an enrollment that blocks entry)`: any earlier passage
/// (`reentry_after` None), or one still open or ended after the cutoff.
fn push_not_enrolled(
    qb: &mut QueryBuilder<'_, Sqlite>,
    campaign: &str,
    reentry_after: Option<DateTime<Utc>>,
) {
    qb.push(" AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.campaign = ");
    qb.push_bind(campaign.to_string());
    qb.push(" AND e.contact_id = c.id");
    if let Some(cutoff) = reentry_after {
        qb.push(" AND (e.exited_at IS NULL OR e.exited_at > ");
        qb.push_bind(ts(cutoff));
        qb.push(")");
    }
    qb.push(")");
}

pub(super) const NOT_SUPPRESSED: &str =
    "NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.value IN (c.email, c.domain))";

pub(super) fn contact_from_row(row: &SqliteRow) -> StoreResult<Contact> {
    let corrupt = |detail: String| StoreError::Corrupt {
        context: "reading a contact",
        detail,
    };
    let tags: String = row.try_get("tags").ctx("reading a contact")?;
    let attributes: String = row.try_get("attributes").ctx("reading a contact")?;
    Ok(Contact {
        id: row.try_get("id").ctx("reading a contact")?,
        email: row.try_get("email").ctx("reading a contact")?,
        name: row.try_get("name").ctx("reading a contact")?,
        created_at: from_ts(row.try_get("created_at").ctx("reading a contact")?),
        last_activity_at: row
            .try_get::<Option<i64>, _>("last_activity_at")
            .ctx("reading a contact")?
            .map(from_ts),
        timezone: row.try_get("timezone").ctx("reading a contact")?,
        tags: serde_json::from_str(&tags).map_err(|e| corrupt(format!("tags: {e}")))?,
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| corrupt(format!("attributes: {e}")))?,
    })
}

pub(super) const CONTACT_COLUMNS: &str =
    "c.id, c.email, c.name, c.created_at, c.last_activity_at, c.timezone, c.tags, c.attributes";

/// Open passages of a campaign that an exit rule ends: an `UPDATE` when
/// applying, a `count(*)` when only planning. The caller appends the rule.
fn exit_query<'a>(
    campaign: &str,
    reason: &'static str,
    now: DateTime<Utc>,
    apply: bool,
    due_only: bool,
) -> QueryBuilder<'a, Sqlite> {
    let mut qb = QueryBuilder::new("");
    if apply {
        qb.push(format_args!(
            "UPDATE enrollments SET exit_reason = '{reason}', exited_at = "
        ));
        qb.push_bind(ts(now));
        qb.push(" WHERE campaign = ");
    } else {
        qb.push("SELECT count(*) FROM enrollments WHERE campaign = ");
    }
    qb.push_bind(campaign.to_string());
    qb.push(" AND exited_at IS NULL");
    if due_only {
        // At claim time only the passages about to get a message are judged.
        qb.push(
            " AND id IN (SELECT enrollment_id FROM sends WHERE state IN ('queued', 'retry') AND next_at <= ",
        );
        qb.push_bind(ts(now));
        qb.push(")");
    }
    qb
}

/// Ends (or, with `apply` false, counts) open passages of `campaign` by its
/// exit rules; with `due_only`, only passages that have a due row.
pub(super) async fn apply_exits(
    tx: &mut sqlx::SqliteConnection,
    campaign: &str,
    rule: &ExitRule,
    now: DateTime<Utc>,
    apply: bool,
    due_only: bool,
) -> StoreResult<ExitCounts> {
    let mut counts = ExitCounts::default();
    if !rule.event_kinds.is_empty() {
        let mut qb = exit_query(campaign, "event", now, apply, due_only);
        // A link scanner's click is nobody's activity: it never ends a passage.
        qb.push(" AND EXISTS (SELECT 1 FROM events ev WHERE ev.contact_id = enrollments.contact_id AND ev.at > enrollments.entered_at AND ev.automated IS NULL AND (0");
        for kind in &rule.event_kinds {
            if kind == "activity" {
                qb.push(" OR ev.kind NOT IN ('unsubscribe', 'bounce', 'complaint')");
            } else {
                qb.push(" OR ev.kind = ");
                qb.push_bind(kind.clone());
            }
        }
        qb.push("))");
        counts.event = run_exit(qb, &mut *tx, apply).await?;
    }
    for (selection, inside, reason) in [
        (&rule.outside, false, "left_segment"),
        (&rule.matching, true, "exit_when"),
    ] {
        let Some(selection) = selection else { continue };
        let mut qb = exit_query(campaign, reason, now, apply, due_only);
        qb.push(if inside {
            " AND contact_id IN"
        } else {
            " AND contact_id NOT IN"
        });
        qb.push(" (SELECT c.id FROM contacts c WHERE ");
        push_selection(&mut qb, selection);
        qb.push(")");
        let n = run_exit(qb, &mut *tx, apply).await?;
        if inside {
            counts.exit_when = n;
        } else {
            counts.left_segment = n;
        }
    }
    Ok(counts)
}

async fn run_exit(
    mut qb: QueryBuilder<'_, Sqlite>,
    tx: &mut sqlx::SqliteConnection,
    apply: bool,
) -> StoreResult<u64> {
    if apply {
        Ok(qb
            .build()
            .execute(tx)
            .await
            .ctx("ending passages by exit rules")?
            .rows_affected())
    } else {
        let n: i64 = qb
            .build_query_scalar()
            .fetch_one(tx)
            .await
            .ctx("counting exits")?;
        Ok(n as u64)
    }
}

impl SqliteStore {
    /// Closes every connection; later calls fail (used to test health checks).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Opens (creating if needed) the database and applies migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let open_err = |source| StoreError::Open {
            url: url.to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        migrator().run(&pool).await?;
        Ok(Self {
            pool,
            write_lock: Default::default(),
        })
    }

    async fn contact_id(tx: &mut sqlx::SqliteConnection, email: &str) -> StoreResult<Option<i64>> {
        sqlx::query_scalar("SELECT id FROM contacts WHERE email = ?")
            .bind(email)
            .fetch_optional(tx)
            .await
            .ctx("looking up a contact")
    }

    async fn insert_suppression(
        tx: &mut sqlx::SqliteConnection,
        s: &NewSuppression,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let scope = match s.scope {
            SuppressionScope::Address => "address",
            SuppressionScope::Domain => "domain",
        };
        let done = sqlx::query(
            "INSERT INTO suppressions (value, scope, reason, source, detail, created_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (value) DO NOTHING",
        )
        .bind(&s.value)
        .bind(scope)
        .bind(s.reason.as_str())
        .bind(&s.source)
        .bind(&s.detail)
        .bind(ts(now))
        .execute(tx)
        .await
        .ctx("adding a suppression")?;
        Ok(done.rows_affected() > 0)
    }
}

impl Store for SqliteStore {
    async fn upsert_contacts(
        &self,
        rows: &[NewContact],
        now: DateTime<Utc>,
    ) -> StoreResult<UpsertCounts> {
        let mut counts = UpsertCounts::default();
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("importing contacts")?;
        for row in rows {
            let tags = row
                .tags
                .as_ref()
                .map(|t| serde_json::Value::from(t.clone()).to_string());
            let attributes = serde_json::Value::Object(row.attributes.clone()).to_string();
            let timezone = row.timezone.map(|tz| tz.name().to_string());
            match Self::contact_id(&mut tx, row.email.as_str()).await? {
                None => {
                    sqlx::query(
                        "INSERT INTO contacts (email, domain, name, created_at, last_activity_at, timezone, tags, attributes, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?, coalesce(?, '[]'), ?, ?)",
                    )
                    .bind(row.email.as_str())
                    .bind(row.email.domain())
                    .bind(&row.name)
                    .bind(ts(row.created_at.unwrap_or(now)))
                    .bind(row.last_activity_at.map(ts))
                    .bind(timezone)
                    .bind(tags)
                    .bind(attributes)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await
                    .ctx("inserting a contact")?;
                    counts.inserted += 1;
                }
                Some(id) => {
                    // Activity only moves forward: an older export must not undo newer events.
                    sqlx::query(
                        "UPDATE contacts SET
                            name = coalesce(?1, name),
                            created_at = coalesce(?2, created_at),
                            last_activity_at = CASE WHEN ?3 IS NULL THEN last_activity_at
                                ELSE max(coalesce(last_activity_at, ?3), ?3) END,
                            timezone = coalesce(?4, timezone),
                            tags = coalesce(?5, tags),
                            attributes = json_patch(attributes, ?6),
                            updated_at = ?7
                         WHERE id = ?8",
                    )
                    .bind(&row.name)
                    .bind(row.created_at.map(ts))
                    .bind(row.last_activity_at.map(ts))
                    .bind(timezone)
                    .bind(tags)
                    .bind(attributes)
                    .bind(ts(now))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .ctx("updating a contact")?;
                    counts.updated += 1;
                }
            }
        }
        super::sqlite_segment::record_attribute_types(&mut tx, rows).await?;
        tx.commit().await.ctx("committing contacts")?;
        Ok(counts)
    }

    async fn contact_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Contact>> {
        let row = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.email = ?"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a contact")?;
        row.as_ref().map(contact_from_row).transpose()
    }

    async fn record_events(
        &self,
        rows: &[NewEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<EventCounts> {
        let mut counts = EventCounts::default();
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("importing events")?;
        for event in rows {
            let Some(contact_id) = Self::contact_id(&mut tx, event.email.as_str()).await? else {
                counts.unknown_contacts.push(event.email.to_string());
                continue;
            };
            let inserted = sqlx::query(
                "INSERT INTO events (contact_id, kind, at, detail, source, created_at)
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(contact_id)
            .bind(event.kind.as_str())
            .bind(ts(event.at))
            .bind(&event.detail)
            .bind(&event.source)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .ctx("storing an event")?
            .rows_affected();
            if inserted == 0 {
                counts.duplicates += 1;
                continue;
            }
            counts.stored += 1;
            let suppress = |reason| {
                NewSuppression::address(&event.email, reason, &event.source, &event.detail)
            };
            let suppression = match &event.kind {
                EventKind::Activity(_) => {
                    sqlx::query(
                        "UPDATE contacts SET last_activity_at = max(coalesce(last_activity_at, ?1), ?1) WHERE id = ?2",
                    )
                    .bind(ts(event.at))
                    .bind(contact_id)
                    .execute(&mut *tx)
                    .await
                    .ctx("moving last activity forward")?;
                    None
                }
                EventKind::Unsubscribe => Some(suppress(SuppressionReason::Unsubscribe)),
                EventKind::Complaint => Some(suppress(SuppressionReason::Complaint)),
                // A soft bounce (full mailbox, greylisting) is no reason to stop for good.
                EventKind::Bounce if event.detail.to_lowercase().contains("soft") => None,
                EventKind::Bounce => Some(suppress(SuppressionReason::Bounce)),
            };
            if let Some(s) = suppression {
                if Self::insert_suppression(&mut tx, &s, event.at).await? {
                    counts.suppressions_added += 1;
                }
            }
        }
        tx.commit().await.ctx("committing events")?;
        Ok(counts)
    }

    async fn add_suppression(&self, s: &NewSuppression, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await.ctx("adding a suppression")?;
        Self::insert_suppression(&mut conn, s, now).await
    }

    async fn remove_suppression(&self, value: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM suppressions WHERE value = ?")
            .bind(value.trim().to_lowercase())
            .execute(&self.pool)
            .await
            .ctx("removing a suppression")?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_suppressions(&self) -> StoreResult<Vec<Suppression>> {
        let rows = sqlx::query(
            "SELECT value, scope, reason, source, detail, created_at FROM suppressions ORDER BY value",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("listing suppressions")?;
        rows.iter()
            .map(|row| {
                let scope: String = row.try_get("scope").ctx("reading a suppression")?;
                let reason: String = row.try_get("reason").ctx("reading a suppression")?;
                Ok(Suppression {
                    value: row.try_get("value").ctx("reading a suppression")?,
                    scope: if scope == "domain" {
                        SuppressionScope::Domain
                    } else {
                        SuppressionScope::Address
                    },
                    reason: reason.parse().map_err(|detail| StoreError::Corrupt {
                        context: "reading a suppression",
                        detail,
                    })?,
                    source: row.try_get("source").ctx("reading a suppression")?,
                    detail: row.try_get("detail").ctx("reading a suppression")?,
                    created_at: from_ts(row.try_get("created_at").ctx("reading a suppression")?),
                })
            })
            .collect()
    }

    async fn count_entrants(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
    ) -> StoreResult<u64> {
        let mut qb = QueryBuilder::new("SELECT count(*) FROM contacts c WHERE ");
        push_selection(&mut qb, selection);
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        push_not_enrolled(&mut qb, campaign, reentry_after);
        let count: i64 = qb
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .ctx("counting entrants")?;
        Ok(count as u64)
    }

    async fn enroll(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut qb =
            QueryBuilder::new("INSERT INTO enrollments (campaign, contact_id, entered_at) SELECT ");
        qb.push_bind(campaign.to_string());
        qb.push(", c.id, ");
        qb.push_bind(ts(now));
        qb.push(" FROM contacts c WHERE ");
        push_selection(&mut qb, selection);
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        push_not_enrolled(&mut qb, campaign, reentry_after);
        let done = qb
            .build()
            .execute(&self.pool)
            .await
            .ctx("enrolling contacts")?;
        Ok(done.rows_affected())
    }

    async fn count_matching(
        &self,
        selection: &Selection,
        campaign: &str,
    ) -> StoreResult<(u64, u64)> {
        super::sqlite_segment::count_matching(&self.pool, selection, campaign).await
    }

    async fn list_matching(
        &self,
        selection: &Selection,
        stages: &[(String, Cond)],
        limit: u64,
    ) -> StoreResult<Vec<(Contact, Option<String>)>> {
        super::sqlite_segment::list_matching(&self.pool, selection, stages, limit).await
    }

    async fn attribute_types(&self) -> StoreResult<Vec<(String, Option<AttrType>)>> {
        super::sqlite_segment::attribute_types(&self.pool).await
    }

    async fn evaluate(&self, contact_id: i64, conds: &[Cond]) -> StoreResult<Vec<bool>> {
        super::sqlite_segment::evaluate(&self.pool, contact_id, conds).await
    }

    async fn contact_status(&self, contact_id: i64, campaign: &str) -> StoreResult<(bool, bool)> {
        super::sqlite_segment::contact_status(&self.pool, contact_id, campaign).await
    }

    async fn progress(&self, campaign: &str) -> StoreResult<Vec<EnrollmentProgress>> {
        let rows = sqlx::query(
            "SELECT e.id, e.contact_id, e.entered_at, s.step, s.state, s.sent_at, s.hold_reason, s.next_at, c.timezone
             FROM enrollments e
             JOIN contacts c ON c.id = e.contact_id
             LEFT JOIN sends s ON s.id = (
                 SELECT s2.id FROM sends s2 WHERE s2.enrollment_id = e.id ORDER BY s2.step DESC LIMIT 1)
             WHERE e.campaign = ? AND e.exited_at IS NULL AND e.grp = 'treatment'
             ORDER BY e.id",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await
        .ctx("loading enrollments")?;
        rows.iter()
            .map(|row| {
                let ctx = "reading an enrollment";
                let step: Option<i64> = row.try_get("step").ctx(ctx)?;
                let last_send = match step {
                    None => None,
                    Some(step) => {
                        let state: String = row.try_get("state").ctx(ctx)?;
                        Some(LastSend {
                            step: step as u32,
                            state: state.parse().map_err(|detail| StoreError::Corrupt {
                                context: ctx,
                                detail,
                            })?,
                            sent_at: row
                                .try_get::<Option<i64>, _>("sent_at")
                                .ctx(ctx)?
                                .map(from_ts),
                            held: match row.try_get::<Option<String>, _>("hold_reason").ctx(ctx)? {
                                Some(reason) => Some((
                                    reason.parse().map_err(|detail| StoreError::Corrupt {
                                        context: ctx,
                                        detail,
                                    })?,
                                    from_ts(row.try_get("next_at").ctx(ctx)?),
                                )),
                                None => None,
                            },
                        })
                    }
                };
                Ok(EnrollmentProgress {
                    enrollment_id: row.try_get("id").ctx(ctx)?,
                    contact_id: row.try_get("contact_id").ctx(ctx)?,
                    entered_at: from_ts(row.try_get("entered_at").ctx(ctx)?),
                    timezone: row.try_get("timezone").ctx(ctx)?,
                    last_send,
                })
            })
            .collect()
    }

    async fn create_sends(&self, sends: &[NewSend], now: DateTime<Utc>) -> StoreResult<u64> {
        let mut created = 0;
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("queueing sends")?;
        for send in sends {
            created += sqlx::query(
                "INSERT INTO sends (enrollment_id, contact_id, campaign, step, template, state, due_at, next_at, created_at)
                 VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)
                 ON CONFLICT (enrollment_id, step) DO NOTHING",
            )
            .bind(send.enrollment_id)
            .bind(send.contact_id)
            .bind(&send.campaign)
            .bind(send.step as i64)
            .bind(&send.template)
            .bind(ts(send.due_at))
            .bind(ts(send.due_at))
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .ctx("queueing a send")?
            .rows_affected();
        }
        tx.commit().await.ctx("committing queued sends")?;
        Ok(created)
    }

    async fn finish_enrollments(
        &self,
        finished: &[(i64, ExitReason)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("finishing enrollments")?;
        for (id, reason) in finished {
            sqlx::query(
                "UPDATE enrollments SET exited_at = ?, exit_reason = ? WHERE id = ? AND exited_at IS NULL",
            )
            .bind(ts(now))
            .bind(reason.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("finishing an enrollment")?;
        }
        tx.commit().await.ctx("committing finished enrollments")
    }

    async fn claim(&self, request: &ClaimRequest) -> StoreResult<Claim> {
        self.claim_rows(request).await
    }

    async fn mark_sending(
        &self,
        send_id: i64,
        worker: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<MarkResult> {
        self.mark_row_sending(send_id, worker, message_id, now)
            .await
    }

    async fn record(
        &self,
        send_id: i64,
        outcome: &SendOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.record_outcome(send_id, outcome, now).await
    }

    async fn heartbeat(&self, worker: &WorkerInfo, now: DateTime<Utc>) -> StoreResult<()> {
        self.beat(worker, now).await
    }

    async fn workers(&self) -> StoreResult<Vec<WorkerInfo>> {
        self.worker_rows().await
    }

    async fn recover(&self, dead: &[String], now: DateTime<Utc>) -> StoreResult<Recovered> {
        self.recover_rows(dead, now).await
    }

    async fn soft_bounces(&self, contact_id: i64) -> StoreResult<Vec<DateTime<Utc>>> {
        self.soft_bounce_times(contact_id).await
    }

    async fn relay_health(&self, relay: &str) -> StoreResult<Option<RelayHealth>> {
        self.relay_health_row(relay).await
    }

    async fn save_relay_health(&self, health: &RelayHealth, now: DateTime<Utc>) -> StoreResult<()> {
        self.save_relay_health_row(health, now).await
    }

    async fn outbox_rows(&self, filter: &OutboxFilter) -> StoreResult<Vec<OutboxRow>> {
        self.list_outbox(filter).await
    }

    async fn settle(
        &self,
        filter: &OutboxFilter,
        how: Settle,
        note: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.settle_rows(filter, how, note, now).await
    }

    async fn held_counts(&self) -> StoreResult<Vec<HeldCount>> {
        self.held_rows().await
    }

    async fn ended_counts(&self, campaign: Option<&str>) -> StoreResult<Vec<EndedCount>> {
        self.ended_rows(campaign).await
    }

    async fn outbox_counts(&self) -> StoreResult<Vec<OutboxCount>> {
        let rows = sqlx::query(
            "SELECT campaign, state, count(*) AS n FROM sends GROUP BY campaign, state ORDER BY campaign, state",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("counting the outbox")?;
        rows.iter()
            .map(|row| {
                let ctx = "reading outbox counts";
                let state: String = row.try_get("state").ctx(ctx)?;
                Ok(OutboxCount {
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    state: state.parse().map_err(|detail| StoreError::Corrupt {
                        context: ctx,
                        detail,
                    })?,
                    count: row.try_get::<i64, _>("n").ctx(ctx)? as u64,
                })
            })
            .collect()
    }

    async fn find_send(
        &self,
        campaign: &str,
        contact_id: i64,
        step: u32,
    ) -> StoreResult<Option<SendRow>> {
        let row = sqlx::query(
            "SELECT s.id, s.enrollment_id, s.state, s.sent_at FROM sends s
             JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = ? AND e.contact_id = ? AND s.step = ?
             ORDER BY e.id DESC LIMIT 1",
        )
        .bind(campaign)
        .bind(contact_id)
        .bind(step as i64)
        .fetch_optional(&self.pool)
        .await
        .ctx("finding a send")?;
        let Some(row) = row else { return Ok(None) };
        let ctx = "reading a send";
        let state: String = row.try_get("state").ctx(ctx)?;
        Ok(Some(SendRow {
            id: row.try_get("id").ctx(ctx)?,
            enrollment_id: row.try_get("enrollment_id").ctx(ctx)?,
            state: state.parse().map_err(|detail| StoreError::Corrupt {
                context: ctx,
                detail,
            })?,
            sent_at: row
                .try_get::<Option<i64>, _>("sent_at")
                .ctx(ctx)?
                .map(from_ts),
        }))
    }

    async fn record_tick(&self, tick: &TickRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO ticks (started_at, finished_at, enrolled, queued, duration_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(ts(tick.started_at))
        .bind(ts(tick.finished_at))
        .bind(tick.enrolled as i64)
        .bind(tick.queued as i64)
        .bind(tick.duration_ms as i64)
        .execute(&self.pool)
        .await
        .ctx("recording a tick")?;
        Ok(())
    }

    async fn history(
        &self,
        contact_id: i64,
        before_send: Option<i64>,
    ) -> StoreResult<Vec<PastSend>> {
        self.history_rows(contact_id, before_send).await
    }

    async fn sent_messages(&self, campaign: &str) -> StoreResult<Vec<SentMessage>> {
        self.sent_message_rows(campaign).await
    }

    async fn sample_contacts(
        &self,
        campaign: &str,
        selection: &Selection,
        limit: u32,
    ) -> StoreResult<Vec<Contact>> {
        self.sample_contact_rows(campaign, selection, limit).await
    }

    async fn last_tick(&self) -> StoreResult<Option<TickRecord>> {
        let row = sqlx::query(
            "SELECT started_at, finished_at, enrolled, queued, duration_ms FROM ticks ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .ctx("reading the last tick")?;
        let Some(row) = row else { return Ok(None) };
        let ctx = "reading a tick";
        Ok(Some(TickRecord {
            started_at: from_ts(row.try_get("started_at").ctx(ctx)?),
            finished_at: from_ts(row.try_get("finished_at").ctx(ctx)?),
            enrolled: row.try_get::<i64, _>("enrolled").ctx(ctx)? as u64,
            queued: row.try_get::<i64, _>("queued").ctx(ctx)? as u64,
            duration_ms: row.try_get::<i64, _>("duration_ms").ctx(ctx)? as u64,
        }))
    }

    async fn secret(
        &self,
        name: &str,
        candidate: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<u8>> {
        // The first caller's candidate wins; every later caller reads it back.
        sqlx::query("INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .bind(ts(now))
            .execute(&self.pool)
            .await
            .ctx("storing a secret")?;
        sqlx::query_scalar("SELECT value FROM secrets WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .ctx("reading a secret")
    }

    async fn contact_by_id(&self, id: i64) -> StoreResult<Option<Contact>> {
        let row = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a contact")?;
        row.as_ref().map(contact_from_row).transpose()
    }

    async fn unsubscribe(
        &self,
        request: &Unsubscribe,
        now: DateTime<Utc>,
    ) -> StoreResult<UnsubscribeResult> {
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("unsubscribing")?;
        let email: Option<String> = sqlx::query_scalar("SELECT email FROM contacts WHERE id = ?")
            .bind(request.contact_id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("unsubscribing")?;
        let Some(email) = email else {
            return Ok(UnsubscribeResult::UnknownContact);
        };
        let changed = match &request.campaign {
            None => {
                let suppression = NewSuppression {
                    value: email,
                    scope: SuppressionScope::Address,
                    reason: SuppressionReason::Unsubscribe,
                    source: request.source.clone(),
                    detail: request.detail.clone(),
                };
                Self::insert_suppression(&mut tx, &suppression, now).await?
            }
            Some(campaign) => {
                sqlx::query(
                    "UPDATE enrollments SET exited_at = ?, exit_reason = 'unsubscribed'
                     WHERE campaign = ? AND contact_id = ? AND exited_at IS NULL",
                )
                .bind(ts(now))
                .bind(campaign)
                .bind(request.contact_id)
                .execute(&mut *tx)
                .await
                .ctx("ending an enrollment")?
                .rows_affected()
                    > 0
            }
        };
        if changed {
            sqlx::query(
                "INSERT INTO events (contact_id, kind, at, detail, source, created_at)
                 VALUES (?, 'unsubscribe', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(request.contact_id)
            .bind(ts(now))
            .bind(&request.detail)
            .bind(&request.source)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .ctx("recording an unsubscribe")?;
        }
        tx.commit().await.ctx("committing an unsubscribe")?;
        Ok(if changed {
            UnsubscribeResult::Done
        } else {
            UnsubscribeResult::Already
        })
    }

    async fn sent_since(&self, since: DateTime<Utc>) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sends WHERE sent_at >= ?")
            .bind(ts(since))
            .fetch_one(&self.pool)
            .await
            .ctx("counting recent sends")?;
        Ok(n as u64)
    }

    async fn first_sent_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let first: Option<i64> = sqlx::query_scalar("SELECT min(sent_at) FROM sends")
            .fetch_one(&self.pool)
            .await
            .ctx("finding the first send")?;
        Ok(first.map(from_ts))
    }

    async fn save_domain_health(
        &self,
        health: &DomainHealth,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO domain_health (domain, deferrals, paused_until, last_error, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (domain) DO UPDATE SET deferrals = ?2, paused_until = ?3, last_error = ?4, updated_at = ?5",
        )
        .bind(&health.domain)
        .bind(health.deferrals as i64)
        .bind(health.paused_until.map(ts))
        .bind(&health.last_error)
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .ctx("saving domain health")?;
        Ok(())
    }

    async fn domain_health(&self) -> StoreResult<Vec<DomainHealth>> {
        let rows = sqlx::query(
            "SELECT domain, deferrals, paused_until, last_error FROM domain_health
             WHERE deferrals > 0 OR paused_until IS NOT NULL ORDER BY domain",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("reading domain health")?;
        rows.iter()
            .map(|row| {
                let ctx = "reading domain health";
                Ok(DomainHealth {
                    domain: row.try_get("domain").ctx(ctx)?,
                    deferrals: row.try_get::<i64, _>("deferrals").ctx(ctx)? as u32,
                    paused_until: row
                        .try_get::<Option<i64>, _>("paused_until")
                        .ctx(ctx)?
                        .map(from_ts),
                    last_error: row.try_get("last_error").ctx(ctx)?,
                })
            })
            .collect()
    }

    async fn put_daemon_state(
        &self,
        key: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO daemon_state (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3",
        )
        .bind(key)
        .bind(value.to_string())
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .ctx("saving daemon state")?;
        Ok(())
    }

    async fn daemon_state(
        &self,
        key: &str,
    ) -> StoreResult<Option<(serde_json::Value, DateTime<Utc>)>> {
        let row = sqlx::query("SELECT value, updated_at FROM daemon_state WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading daemon state")?;
        let Some(row) = row else { return Ok(None) };
        let ctx = "reading daemon state";
        let text: String = row.try_get("value").ctx(ctx)?;
        let value = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            context: ctx,
            detail: e.to_string(),
        })?;
        Ok(Some((value, from_ts(row.try_get("updated_at").ctx(ctx)?))))
    }

    async fn contact_zones(&self) -> StoreResult<Vec<Option<String>>> {
        sqlx::query_scalar("SELECT DISTINCT timezone FROM contacts")
            .fetch_all(&self.pool)
            .await
            .ctx("listing contact time zones")
    }

    async fn exit_enrollments(
        &self,
        campaign: &str,
        rule: &ExitRule,
        now: DateTime<Utc>,
        apply: bool,
    ) -> StoreResult<ExitCounts> {
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("applying exit rules")?;
        let counts = apply_exits(&mut tx, campaign, rule, now, apply, false).await?;
        tx.commit().await.ctx("committing exits")?;
        Ok(counts)
    }

    async fn send_history(&self, since: DateTime<Utc>) -> StoreResult<Vec<HistoryItem>> {
        // In-flight rows count at their due time: they are about to go out.
        let rows = sqlx::query(
            "SELECT contact_id, campaign, coalesce(sent_at, next_at) AS at FROM sends
             WHERE state IN ('sent', 'queued', 'claimed', 'sending', 'retry', 'in_doubt')
               AND coalesce(sent_at, next_at) > ?",
        )
        .bind(ts(since))
        .fetch_all(&self.pool)
        .await
        .ctx("reading send history")?;
        rows.iter()
            .map(|row| {
                let ctx = "reading send history";
                Ok(HistoryItem {
                    contact_id: row.try_get("contact_id").ctx(ctx)?,
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    at: from_ts(row.try_get("at").ctx(ctx)?),
                })
            })
            .collect()
    }

    async fn entrant_ids(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<i64>> {
        let mut qb = QueryBuilder::new("SELECT c.id FROM contacts c WHERE ");
        push_selection(&mut qb, selection);
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        push_not_enrolled(&mut qb, campaign, reentry_after);
        qb.push(" ORDER BY c.id");
        qb.build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .ctx("listing entrants")
    }

    async fn enroll_contacts(
        &self,
        campaign: &str,
        contacts: &[(i64, Group)],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("enrolling a sample")?;
        let mut enrolled = 0;
        for (contact, group) in contacts {
            enrolled += sqlx::query(
                "INSERT INTO enrollments (campaign, contact_id, grp, entered_at)
                 SELECT ?1, ?2, ?3, ?4
                 WHERE NOT EXISTS (SELECT 1 FROM enrollments WHERE campaign = ?1 AND contact_id = ?2 AND exited_at IS NULL)",
            )
            .bind(campaign)
            .bind(contact)
            .bind(group.as_str())
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .ctx("enrolling a sampled contact")?
            .rows_affected();
        }
        tx.commit().await.ctx("committing a sample")?;
        Ok(enrolled)
    }

    async fn enrolled_count(&self, campaign: &str) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments WHERE campaign = ?")
            .bind(campaign)
            .fetch_one(&self.pool)
            .await
            .ctx("counting enrollments")?;
        Ok(n as u64)
    }

    async fn record_click(&self, click: &NewClick) -> StoreResult<()> {
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("recording a click")?;
        // A signed link of a contact deleted since stores nothing.
        let inserted = sqlx::query(
            "INSERT INTO events (contact_id, kind, at, detail, source, created_at, send_id, method, user_agent, automated)
             SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM contacts WHERE id = ? ON CONFLICT DO NOTHING",
        )
        .bind(CLICK.kind)
        .bind(ts(click.at))
        .bind(&click.detail)
        .bind(CLICK.source)
        .bind(ts(click.at))
        .bind(click.send_id)
        .bind(&click.method)
        .bind(&click.user_agent)
        .bind(click.automated.map(crate::clicks::Automated::as_str))
        .bind(click.contact_id)
        .execute(&mut *tx)
        .await
        .ctx("storing a click")?
        .rows_affected();
        // A link scanner is not the contact being active.
        if inserted > 0 && click.automated.is_none() {
            sqlx::query(
                "UPDATE contacts SET last_activity_at = max(coalesce(last_activity_at, ?1), ?1) WHERE id = ?2",
            )
            .bind(ts(click.at))
            .bind(click.contact_id)
            .execute(&mut *tx)
            .await
            .ctx("moving last activity forward")?;
        }
        tx.commit().await.ctx("committing a click")
    }

    async fn pilot_figures(
        &self,
        campaign: &str,
        kinds: &[String],
        within: crate::domain::Duration,
    ) -> StoreResult<PilotFigures> {
        let ctx = "reading pilot figures";
        // The response condition over events `ev` of enrollment `e`, values bound.
        let response = |qb: &mut QueryBuilder<'_, Sqlite>, after: &str| {
            qb.push(format_args!(
                " ev.contact_id = e.contact_id AND ev.at > {after} AND ev.at <= e.entered_at + "
            ));
            qb.push_bind(within.as_secs());
            push_response_kinds(qb, kinds);
        };
        let mut groups: std::collections::BTreeMap<Group, GroupFigures> = Default::default();
        let group_of = |name: &str| {
            if name == "holdout" {
                Group::Holdout
            } else {
                Group::Treatment
            }
        };
        let rows = sqlx::query(
            "SELECT e.grp, count(*) AS n,
                    (SELECT count(*) FROM sends s JOIN enrollments e2 ON e2.id = s.enrollment_id
                      WHERE e2.campaign = e.campaign AND e2.grp = e.grp AND s.state = 'sent') AS sent,
                    (SELECT count(*) FROM sends s JOIN enrollments e2 ON e2.id = s.enrollment_id
                      WHERE e2.campaign = e.campaign AND e2.grp = e.grp AND s.state = 'failed') AS failed,
                    (SELECT count(*) FROM enrollments e2 JOIN contacts c ON c.id = e2.contact_id
                      JOIN suppressions sp ON sp.value = c.email
                      WHERE e2.campaign = e.campaign AND e2.grp = e.grp AND sp.reason = 'bounce'
                        AND sp.created_at >= e2.entered_at) AS bounced,
                    (SELECT count(DISTINCT e2.id) FROM enrollments e2 JOIN events ev ON ev.contact_id = e2.contact_id
                      WHERE e2.campaign = e.campaign AND e2.grp = e.grp AND ev.kind = 'unsubscribe'
                        AND ev.at >= e2.entered_at) AS unsubscribed
             FROM enrollments e WHERE e.campaign = ? GROUP BY e.grp",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &rows {
            let grp: String = row.try_get("grp").ctx(ctx)?;
            let f = groups.entry(group_of(&grp)).or_default();
            f.enrolled = row.try_get::<i64, _>("n").ctx(ctx)? as u64;
            f.sent = row.try_get::<i64, _>("sent").ctx(ctx)? as u64;
            f.failed = row.try_get::<i64, _>("failed").ctx(ctx)? as u64;
            f.bounced = row.try_get::<i64, _>("bounced").ctx(ctx)? as u64;
            f.unsubscribed = row.try_get::<i64, _>("unsubscribed").ctx(ctx)? as u64;
        }
        // Clicks on the campaign's messages, by the group of the enrollment they were sent to.
        let clicks = sqlx::query(
            "SELECT e.grp, ev.automated, count(*) AS n, count(DISTINCT ev.contact_id) AS clickers
             FROM events ev JOIN sends s ON s.id = ev.send_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = ? AND ev.kind = ? AND ev.source = ?
             GROUP BY e.grp, ev.automated",
        )
        .bind(campaign)
        .bind(CLICK.kind)
        .bind(CLICK.source)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &clicks {
            let grp: String = row.try_get("grp").ctx(ctx)?;
            let c = &mut groups.entry(group_of(&grp)).or_default().clicks;
            let n = row.try_get::<i64, _>("n").ctx(ctx)? as u64;
            c.clicks += n;
            match row.try_get::<Option<String>, _>("automated").ctx(ctx)? {
                Some(reason) => {
                    c.automated += n;
                    *c.automated_by_reason.entry(reason).or_default() += n;
                }
                None => c.human_clickers = row.try_get::<i64, _>("clickers").ctx(ctx)? as u64,
            }
        }
        let clickers = sqlx::query(
            "SELECT e.grp, count(DISTINCT ev.contact_id) AS clickers
             FROM events ev JOIN sends s ON s.id = ev.send_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = ? AND ev.kind = ? AND ev.source = ?
             GROUP BY e.grp",
        )
        .bind(campaign)
        .bind(CLICK.kind)
        .bind(CLICK.source)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &clickers {
            let grp: String = row.try_get("grp").ctx(ctx)?;
            groups.entry(group_of(&grp)).or_default().clicks.clickers =
                row.try_get::<i64, _>("clickers").ctx(ctx)? as u64;
        }
        // First response per enrollment, in whole days after entry.
        let mut qb = QueryBuilder::new(
            "SELECT e.grp, (min(ev.at) - e.entered_at) / 86400 AS day FROM enrollments e JOIN events ev ON",
        );
        response(&mut qb, "e.entered_at");
        qb.push(" WHERE e.campaign = ");
        qb.push_bind(campaign.to_string());
        qb.push(" GROUP BY e.id");
        for row in qb.build().fetch_all(&self.pool).await.ctx(ctx)? {
            let grp: String = row.try_get("grp").ctx(ctx)?;
            let f = groups.entry(group_of(&grp)).or_default();
            f.responders += 1;
            f.response_days.push(row.try_get("day").ctx(ctx)?);
        }
        let mut qb = QueryBuilder::new(
            "SELECT s.step, count(*) AS sent, count(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM events ev WHERE",
        );
        response(&mut qb, "s.sent_at");
        qb.push(") THEN e.id END) AS responders FROM sends s JOIN enrollments e ON e.id = s.enrollment_id WHERE e.campaign = ");
        qb.push_bind(campaign.to_string());
        qb.push(" AND s.state = 'sent' GROUP BY s.step ORDER BY s.step");
        let steps = qb
            .build()
            .fetch_all(&self.pool)
            .await
            .ctx(ctx)?
            .iter()
            .map(|row| {
                Ok(StepFigures {
                    step: row.try_get::<i64, _>("step").ctx(ctx)? as u32,
                    sent: row.try_get::<i64, _>("sent").ctx(ctx)? as u64,
                    responders_after: row.try_get::<i64, _>("responders").ctx(ctx)? as u64,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((groups.into_iter().collect(), steps))
    }
}
