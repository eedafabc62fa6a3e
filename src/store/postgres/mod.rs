//! The shared store: one PostgreSQL database that several `tend run`
//! daemons, on different hosts, send from together. Every coordination goes
//! through the database: claims take rows with `FOR UPDATE SKIP LOCKED`,
//! one daemon plans at a time (an advisory lock), racing inserts are no-ops
//! under unique keys, numbers come from sequences, and the rate limits, the
//! domains' pauses and the relay's breaker are rows every daemon reads.
//!
//! Sessions run in UTC. Instants are `timestamptz`; tags and attributes
//! `jsonb`. The pool reconnects by itself when the server comes back.

use super::*;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
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
mod rate_blocks;
mod reports;
mod segments;
mod state;
mod variation;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Sessions with `synchronous_commit = off`, for shared rate slots only:
    /// a slot lost in a server crash costs nothing, and not waiting for the
    /// WAL flush keeps the one hot row every send updates from serialising
    /// senders behind a disk sync each.
    rates: PgPool,
    /// Slots reserved on the server in blocks and handed out here.
    slots: std::sync::Arc<rate_blocks::Blocks>,
    /// Marks and `sent` results of all senders written in batches.
    batches: std::sync::Arc<group::Batches>,
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
                include_str!("../../../migrations/postgres/0001_init.sql"),
            ),
            migration(
                2,
                "inbound",
                include_str!("../../../migrations/postgres/0002_inbound.sql"),
            ),
            migration(
                3,
                "privacy",
                include_str!("../../../migrations/postgres/0003_privacy.sql"),
            ),
            migration(
                5,
                "console",
                include_str!("../../../migrations/postgres/0005_console.sql"),
            ),
            migration(
                6,
                "due order",
                include_str!("../../../migrations/postgres/0006_due_order.sql"),
            ),
            migration(
                7,
                "fewer send indexes",
                include_str!("../../../migrations/postgres/0007_fewer_send_indexes.sql"),
            ),
            migration(
                8,
                "hot marks",
                include_str!("../../../migrations/postgres/0008_hot_marks.sql"),
            ),
            migration(
                9,
                "leaner writes",
                include_str!("../../../migrations/postgres/0009_leaner_writes.sql"),
            ),
            migration(
                10,
                "planner inserts",
                include_str!("../../../migrations/postgres/0010_planner_inserts.sql"),
            ),
        ]),
        ..Migrator::DEFAULT
    }
}

/// Key of the advisory lock held by the daemon that plans.
pub(super) const PLANNER_LOCK: i64 = 0x7465_6e64_706c_616e; // "tendplan"
/// Key of the lock under which a claim counts the warm-up day's sends.
pub(super) const DAILY_CAP_LOCK: i64 = 0x7465_6e64_6361_7073; // "tendcaps"

/// The instant in whole seconds, as SQLite keeps it: "the same second" (an
/// event's unique key, a repeated click) and day arithmetic then mean the
/// same on both backends.
pub(super) fn whole_second(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    at.with_nanosecond(0).unwrap_or(at)
}

/// Appends the selection's condition over contacts aliased `c`, values bound.
pub(super) fn push_selection(qb: &mut QueryBuilder<'_, Postgres>, selection: &Selection) {
    qb.push("(");
    super::filter_sql::push_cond_pg(qb, &selection.cond);
    if let Some(zones) = &selection.zones {
        qb.push(" AND (FALSE");
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
pub(super) fn push_not_enrolled(
    qb: &mut QueryBuilder<'_, Postgres>,
    campaign: &str,
    reentry_after: Option<DateTime<Utc>>,
) {
    qb.push(" AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.campaign = ");
    qb.push_bind(campaign.to_string());
    qb.push(" AND e.contact_id = c.id");
    if let Some(cutoff) = reentry_after {
        qb.push(" AND (e.exited_at IS NULL OR e.exited_at > ");
        qb.push_bind(cutoff);
        qb.push(")");
    }
    qb.push(")");
}

pub(super) const NOT_SUPPRESSED: &str =
    "NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.value IN (c.email, c.domain))";

pub(super) const CONTACT_COLUMNS: &str =
    "c.id, c.email, c.name, c.created_at, c.last_activity_at, c.timezone, c.tags, c.attributes";

pub(super) fn contact_from_row(row: &PgRow) -> StoreResult<Contact> {
    let ctx = "reading a contact";
    let corrupt = |detail: String| StoreError::Corrupt {
        context: ctx,
        detail,
    };
    let tags: serde_json::Value = row.try_get("tags").ctx(ctx)?;
    let attributes: serde_json::Value = row.try_get("attributes").ctx(ctx)?;
    Ok(Contact {
        id: row.try_get("id").ctx(ctx)?,
        email: row.try_get("email").ctx(ctx)?,
        name: row.try_get("name").ctx(ctx)?,
        created_at: row.try_get("created_at").ctx(ctx)?,
        last_activity_at: row.try_get("last_activity_at").ctx(ctx)?,
        timezone: row.try_get("timezone").ctx(ctx)?,
        tags: serde_json::from_value(tags).map_err(|e| corrupt(format!("tags: {e}")))?,
        attributes: match attributes {
            serde_json::Value::Object(map) => map,
            other => return Err(corrupt(format!("attributes: not an object: {other}"))),
        },
    })
}

pub(super) fn parse_state(text: &str, context: &'static str) -> StoreResult<SendState> {
    text.parse()
        .map_err(|detail| StoreError::Corrupt { context, detail })
}

/// Open passages of a campaign that an exit rule ends: an `UPDATE` when
/// applying, a `count(*)` when only planning. The caller appends the rule.
/// With `batch` (at claim time) only the passages of the rows being claimed
/// are judged, and rows another daemon is working on are skipped, never
/// waited for.
fn exit_query<'a>(
    campaign: &str,
    reason: &'static str,
    now: DateTime<Utc>,
    apply: bool,
    batch: Option<&[i64]>,
) -> QueryBuilder<'a, Postgres> {
    let mut qb = QueryBuilder::new("");
    if apply {
        qb.push(format_args!(
            "UPDATE enrollments SET exit_reason = '{reason}', exited_at = "
        ));
        qb.push_bind(now);
        qb.push(" WHERE id IN (SELECT id FROM enrollments WHERE campaign = ");
    } else {
        qb.push("SELECT count(*) FROM enrollments WHERE campaign = ");
    }
    qb.push_bind(campaign.to_string());
    qb.push(" AND exited_at IS NULL");
    if let Some(batch) = batch {
        qb.push(" AND id = ANY(");
        qb.push_bind(batch.to_vec());
        qb.push(")");
    }
    qb
}

/// Closes what [`exit_query`] opened, after the caller's rule.
fn close_exit_query(qb: &mut QueryBuilder<'_, Postgres>, apply: bool) {
    if apply {
        qb.push(" FOR UPDATE SKIP LOCKED)");
    }
}

async fn run_exit(
    mut qb: QueryBuilder<'_, Postgres>,
    tx: &mut sqlx::PgConnection,
    apply: bool,
) -> StoreResult<u64> {
    close_exit_query(&mut qb, apply);
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

/// Ends (or, with `apply` false, counts) open passages of `campaign` by its
/// exit rules; with `batch`, only those enrollments (the claim's).
pub(super) async fn apply_exits(
    tx: &mut sqlx::PgConnection,
    campaign: &str,
    rule: &ExitRule,
    now: DateTime<Utc>,
    apply: bool,
    batch: Option<&[i64]>,
) -> StoreResult<ExitCounts> {
    let mut counts = ExitCounts::default();
    if !rule.event_kinds.is_empty() {
        let mut qb = exit_query(campaign, "event", now, apply, batch);
        // A link scanner's click is nobody's activity: it never ends a passage.
        qb.push(" AND EXISTS (SELECT 1 FROM events ev WHERE ev.contact_id = enrollments.contact_id AND ev.at > enrollments.entered_at AND ev.automated IS NULL AND (FALSE");
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
        let mut qb = exit_query(campaign, reason, now, apply, batch);
        // A claim's batch is a few passages: look their contacts up, rather
        // than evaluate the segment over every contact per claim.
        let (test, open, close) = if batch.is_some() {
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

impl PostgresStore {
    /// Closes every connection; later calls fail (used to test health checks).
    pub async fn close(&self) {
        self.pool.close().await;
        self.rates.close().await;
        self.batches.close().await;
    }

    /// Connects and applies migrations (several daemons starting at once
    /// take turns: the migrator holds an advisory lock).
    pub async fn open(url: &str) -> StoreResult<Self> {
        let open_err = |source| StoreError::Open {
            url: redact_url(url),
            source,
        };
        let options = PgConnectOptions::from_str(url)
            .map_err(open_err)?
            .application_name("tend")
            .options([("timezone", "UTC")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(0)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        migrator().run(&pool).await?;
        // A rate block is reserved while the connections that need a slot
        // wait, so no liveness round trip before it: a session the server
        // dropped fails one reservation (that row goes back to the queue)
        // and is closed when it is handed back.
        let rates = PgPoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .test_before_acquire(false)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_lazy_with(options.clone().options([("synchronous_commit", "off")]));
        // The batched marks and results run on a session of their own (see
        // `group::run`) that plans each statement once: planning the
        // `UNNEST` update anew for every batch cost as much server time as
        // running it.
        let batch_pool = PgPoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_lazy_with(options.options([("plan_cache_mode", "force_generic_plan")]));
        Ok(Self {
            batches: std::sync::Arc::new(group::Batches::start(&batch_pool)),
            pool,
            rates,
            slots: Default::default(),
        })
    }

    pub(super) async fn contact_id(
        tx: &mut sqlx::PgConnection,
        email: &str,
    ) -> StoreResult<Option<i64>> {
        sqlx::query_scalar("SELECT id FROM contacts WHERE email = $1")
            .bind(email)
            .fetch_optional(tx)
            .await
            .ctx("looking up a contact")
    }

    pub(super) async fn insert_suppression(
        tx: &mut sqlx::PgConnection,
        s: &NewSuppression,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let scope = match s.scope {
            SuppressionScope::Address => "address",
            SuppressionScope::Domain => "domain",
        };
        let done = sqlx::query(
            "INSERT INTO suppressions (value, scope, reason, source, detail, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (value) DO NOTHING",
        )
        .bind(&s.value)
        .bind(scope)
        .bind(s.reason.as_str())
        .bind(&s.source)
        .bind(&s.detail)
        .bind(now)
        .execute(tx)
        .await
        .ctx("adding a suppression")?;
        Ok(done.rows_affected() > 0)
    }
}

/// The URL without its password, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact_url("postgres://tend:s3cret@db:5432/tend"),
            "postgres://tend:***@db:5432/tend"
        );
        assert_eq!(
            redact_url("postgres://tend@db/tend"),
            "postgres://tend@db/tend"
        );
    }
}
