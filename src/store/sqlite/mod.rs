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

mod audience;
mod audit;
mod console;
mod contacts;
mod group;
mod inbound;
mod outbox;
mod privacy;
mod reports;
mod segments;
mod state;
mod variation;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One writer at a time inside this process: SQLite would otherwise make
    /// concurrent writers sleep in its busy handler (milliseconds each),
    /// which dominated sending throughput.
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Marks and records, committed in groups on a thread of their own ([`group`]).
    writer: std::sync::Arc<group::Writer>,
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
                include_str!("../../../migrations/sqlite/0001_init.sql"),
            ),
            migration(
                2,
                "segments",
                include_str!("../../../migrations/sqlite/0002_segments.sql"),
            ),
            migration(
                3,
                "variation",
                include_str!("../../../migrations/sqlite/0003_variation.sql"),
            ),
            migration(
                4,
                "operations",
                include_str!("../../../migrations/sqlite/0004_operations.sql"),
            ),
            migration(
                5,
                "trust",
                include_str!("../../../migrations/sqlite/0005_trust.sql"),
            ),
            migration(
                6,
                "clicks",
                include_str!("../../../migrations/sqlite/0006_clicks.sql"),
            ),
            migration(
                7,
                "state",
                include_str!("../../../migrations/sqlite/0007_state.sql"),
            ),
            migration(
                8,
                "inbound",
                include_str!("../../../migrations/sqlite/0008_inbound.sql"),
            ),
            migration(
                9,
                "privacy",
                include_str!("../../../migrations/sqlite/0009_privacy.sql"),
            ),
            migration(
                10,
                "planner pages",
                include_str!("../../../migrations/sqlite/0010_planner_pages.sql"),
            ),
            migration(
                11,
                "console",
                include_str!("../../../migrations/sqlite/0011_console.sql"),
            ),
            migration(
                12,
                "planner inserts",
                include_str!("../../../migrations/sqlite/0012_planner_inserts.sql"),
            ),
        ]),
        ..Migrator::DEFAULT
    }
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

/// Two lookups rather than `s.value IN (c.email, c.domain)`: a list of
/// column values makes SQLite build a temporary B-tree of the two values
/// for every contact it checks (`OpenEphemeral` per row), which cost 40 %
/// of counting a 377,000-member segment over 1M contacts.
pub(super) const NOT_SUPPRESSED: &str = "NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.value = c.email) \
     AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.value = c.domain)";

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
    claim_batch: bool,
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
    if claim_batch {
        // At claim time only the passages about to get a message are judged.
        qb.push(" AND id IN (SELECT enrollment_id FROM temp.claim_batch)");
    }
    qb
}

/// Ends (or, with `apply` false, counts) open passages of `campaign` by its
/// exit rules; with `claim_batch`, only the passages of the batch being
/// claimed (`temp.claim_batch`, see the outbox's claim).
pub(super) async fn apply_exits(
    tx: &mut sqlx::SqliteConnection,
    campaign: &str,
    rule: &ExitRule,
    now: DateTime<Utc>,
    apply: bool,
    claim_batch: bool,
) -> StoreResult<ExitCounts> {
    let mut counts = ExitCounts::default();
    if !rule.event_kinds.is_empty() {
        let mut qb = exit_query(campaign, "event", now, apply, claim_batch);
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
        let mut qb = exit_query(campaign, reason, now, apply, claim_batch);
        // A claim's batch is a few passages: look their contacts up, rather
        // than evaluate the segment over every contact per claim.
        let (test, open, close) = if claim_batch {
            (
                "EXISTS",
                " (SELECT 1 FROM contacts c WHERE c.id = enrollments.contact_id AND (",
                "))",
            )
        } else {
            ("contact_id IN", " (SELECT c.id FROM contacts c WHERE ", ")")
        };
        qb.push(if inside { " AND " } else { " AND NOT " });
        qb.push(test);
        qb.push(open);
        push_selection(&mut qb, selection);
        qb.push(close);
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
    /// A connection for one of the planner's `INSERT … SELECT` statements,
    /// with foreign keys not checked: every row such a statement writes
    /// takes its references from the rows it selects (a send's enrollment
    /// and contact from the enrollment, an enrollment's contact from the
    /// contact), in the same statement, so they hold by construction, and
    /// checking them costs one B-tree lookup per reference per row. The
    /// connection is closed when dropped (finished, failed or cancelled):
    /// it never goes back to the pool with the check off.
    async fn bulk_insert_connection(
        &self,
        context: &'static str,
    ) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
        let mut conn = self.pool.acquire().await.ctx(context)?;
        conn.close_on_drop();
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *conn)
            .await
            .ctx(context)?;
        Ok(conn)
    }

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
            .foreign_keys(true)
            // Replaced and deleted rows are zeroed inside their page when
            // that costs no extra I/O, so personal data does not linger in
            // free space after an update (`tend contacts erase` goes further).
            .pragma("secure_delete", "FAST")
            // The claim's batch table lives in memory, never in a temp file.
            .pragma("temp_store", "MEMORY")
            // 8 MiB of page cache per connection instead of SQLite's 2 MB.
            // The planner's bulk statements (one `INSERT … SELECT` enrolls or
            // queues hundreds of thousands of rows) fill the cache with
            // dirty pages; with 2 MB the few clean slots left were recycled
            // on every row, and the pages each row reads (the suppression
            // index, the last contacts page) were read again from the file:
            // 1.3–2.7 million `pread`s in a tick over 1M contacts, against
            // 85,000–130,000 with 4 to 32 MiB.
            .pragma("cache_size", "-8192");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        migrator().run(&pool).await?;
        let write_lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        let writer = group::Writer::start(options.get_filename(), write_lock.clone())?;
        Ok(Self {
            pool,
            write_lock,
            writer: std::sync::Arc::new(writer),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The planner's bulk connection checks no foreign keys; it must never
    /// be handed out again: every connection the pool gives afterwards
    /// (all four at once) checks them.
    #[tokio::test]
    async fn no_connection_comes_back_from_a_bulk_insert_without_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tend.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        for _ in 0..3 {
            let mut bulk = store.bulk_insert_connection("testing").await.unwrap();
            let off: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut *bulk)
                .await
                .unwrap();
            assert_eq!(off, 0);
        }
        let mut held = Vec::new();
        for _ in 0..4 {
            let mut conn = store.pool.acquire().await.unwrap();
            let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(on, 1);
            held.push(conn);
        }
    }
}
