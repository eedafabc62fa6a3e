//! Operational state on PostgreSQL, shared by every daemon: the relay's and
//! the domains' health, ticks, secrets, schedule checkpoints, daemons'
//! reports, reloads, pilot promotions, the planner's advisory lock, and the
//! shared rate limits (a generic cell rate algorithm on the server's clock,
//! so daemons on machines whose clocks disagree still share one rate).

use super::*;

impl StateStore for PostgresStore {
    async fn relay_health(&self, relay: &str) -> StoreResult<Option<RelayHealth>> {
        let ctx = "reading the relay's health";
        let row = sqlx::query(
            "SELECT relay, state, failures, trips, paused_until, last_error FROM relay_health WHERE relay = $1",
        )
        .bind(relay)
        .fetch_optional(&self.pool)
        .await
        .ctx(ctx)?;
        row.map(|row| {
            Ok(RelayHealth {
                relay: row.try_get("relay").ctx(ctx)?,
                open: row.try_get::<String, _>("state").ctx(ctx)? == "open",
                failures: row.try_get::<i32, _>("failures").ctx(ctx)? as u32,
                trips: row.try_get::<i32, _>("trips").ctx(ctx)? as u32,
                paused_until: row.try_get("paused_until").ctx(ctx)?,
                last_error: row.try_get("last_error").ctx(ctx)?,
            })
        })
        .transpose()
    }

    async fn save_relay_health(&self, health: &RelayHealth, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO relay_health (relay, state, failures, trips, paused_until, last_error, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (relay) DO UPDATE SET state = $2, failures = $3, trips = $4, paused_until = $5,
                 last_error = $6, updated_at = $7",
        )
        .bind(&health.relay)
        .bind(if health.open { "open" } else { "closed" })
        .bind(health.failures as i32)
        .bind(health.trips as i32)
        .bind(health.paused_until)
        .bind(&health.last_error)
        .bind(now)
        .execute(&self.pool)
        .await
        .ctx("saving the relay's health")?;
        Ok(())
    }

    async fn save_domain_health(
        &self,
        health: &DomainHealth,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO domain_health (domain, deferrals, paused_until, last_error, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (domain) DO UPDATE SET deferrals = $2, paused_until = $3, last_error = $4, updated_at = $5",
        )
        .bind(&health.domain)
        .bind(health.deferrals as i32)
        .bind(health.paused_until)
        .bind(&health.last_error)
        .bind(now)
        .execute(&self.pool)
        .await
        .ctx("saving domain health")?;
        Ok(())
    }

    async fn domain_health(&self) -> StoreResult<Vec<DomainHealth>> {
        let ctx = "reading domain health";
        let rows = sqlx::query(
            "SELECT domain, deferrals, paused_until, last_error FROM domain_health
             WHERE deferrals > 0 OR paused_until IS NOT NULL ORDER BY domain",
        )
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        rows.iter()
            .map(|row| {
                Ok(DomainHealth {
                    domain: row.try_get("domain").ctx(ctx)?,
                    deferrals: row.try_get::<i32, _>("deferrals").ctx(ctx)? as u32,
                    paused_until: row.try_get("paused_until").ctx(ctx)?,
                    last_error: row.try_get("last_error").ctx(ctx)?,
                })
            })
            .collect()
    }

    async fn record_tick(&self, tick: &TickRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO ticks (started_at, finished_at, enrolled, queued, duration_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tick.started_at)
        .bind(tick.finished_at)
        .bind(tick.enrolled as i64)
        .bind(tick.queued as i64)
        .bind(tick.duration_ms as i64)
        .execute(&self.pool)
        .await
        .ctx("recording a tick")?;
        Ok(())
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
            started_at: row.try_get("started_at").ctx(ctx)?,
            finished_at: row.try_get("finished_at").ctx(ctx)?,
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
        sqlx::query(
            "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(now)
        .execute(&self.pool)
        .await
        .ctx("storing a secret")?;
        sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .ctx("reading a secret")
    }

    async fn secrets_named(&self, name: &str) -> StoreResult<Vec<StoredSecret>> {
        let ctx = "reading secrets";
        let rows = sqlx::query(
            "SELECT name, value, created_at FROM secrets WHERE name = $1 OR left(name, length($1) + 1) = $1 || '@'
             ORDER BY created_at DESC, name = $1 DESC, name DESC",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        rows.iter()
            .map(|row| {
                Ok(StoredSecret {
                    name: row.try_get("name").ctx(ctx)?,
                    value: row.try_get("value").ctx(ctx)?,
                    created_at: row.try_get("created_at").ctx(ctx)?,
                })
            })
            .collect()
    }

    async fn rotate_secret(
        &self,
        name: &str,
        value: &[u8],
        retired_as: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let ctx = "rotating a secret";
        let mut tx = self.pool.begin().await.ctx(ctx)?;
        sqlx::query("UPDATE secrets SET name = $1 WHERE name = $2")
            .bind(retired_as)
            .bind(name)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
        sqlx::query("INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(value)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
        tx.commit().await.ctx(ctx)
    }

    async fn delete_secret(&self, name: &str) -> StoreResult<bool> {
        Ok(sqlx::query("DELETE FROM secrets WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .ctx("forgetting a secret")?
            .rows_affected()
            > 0)
    }

    async fn schedule_checkpoint(&self, campaign: &str) -> StoreResult<Option<DateTime<Utc>>> {
        sqlx::query_scalar("SELECT checked_until FROM schedule_checkpoints WHERE campaign = $1")
            .bind(campaign)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading a schedule checkpoint")
    }

    async fn set_schedule_checkpoint(
        &self,
        campaign: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO schedule_checkpoints (campaign, checked_until) VALUES ($1, $2)
             ON CONFLICT (campaign) DO UPDATE SET checked_until = $2",
        )
        .bind(campaign)
        .bind(until)
        .execute(&self.pool)
        .await
        .ctx("saving a schedule checkpoint")?;
        Ok(())
    }

    async fn report_daemon(&self, report: &DaemonReport) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO daemons (id, pid, next_tick_at, tick_every_seconds, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET pid = $2, next_tick_at = $3, tick_every_seconds = $4, updated_at = $5",
        )
        .bind(&report.daemon)
        .bind(report.pid as i64)
        .bind(report.next_tick_at)
        .bind(report.tick_every_seconds as i64)
        .bind(report.updated_at)
        .execute(&self.pool)
        .await
        .ctx("saving a daemon's report")?;
        Ok(())
    }

    async fn daemons(&self) -> StoreResult<Vec<DaemonReport>> {
        let ctx = "reading daemons' reports";
        let rows = sqlx::query(
            "SELECT id, pid, next_tick_at, tick_every_seconds, updated_at FROM daemons ORDER BY updated_at DESC",
        )
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        rows.iter()
            .map(|row| {
                Ok(DaemonReport {
                    daemon: row.try_get("id").ctx(ctx)?,
                    pid: row.try_get::<i64, _>("pid").ctx(ctx)? as u32,
                    next_tick_at: row.try_get("next_tick_at").ctx(ctx)?,
                    tick_every_seconds: row.try_get::<i64, _>("tick_every_seconds").ctx(ctx)?
                        as u64,
                    updated_at: row.try_get("updated_at").ctx(ctx)?,
                })
            })
            .collect()
    }

    async fn record_reload(&self, status: &ReloadStatus) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO reloads (daemon, ok, reason, campaigns, errors, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&status.daemon)
        .bind(status.ok)
        .bind(&status.reason)
        .bind(status.campaigns as i64)
        .bind(serde_json::json!(status.errors))
        .bind(status.at)
        .execute(&self.pool)
        .await
        .ctx("recording a reload")?;
        Ok(())
    }

    async fn last_reload(&self) -> StoreResult<Option<ReloadStatus>> {
        let ctx = "reading the last reload";
        let row = sqlx::query(
            "SELECT daemon, ok, reason, campaigns, errors, at FROM reloads ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .ctx(ctx)?;
        let Some(row) = row else { return Ok(None) };
        let errors: serde_json::Value = row.try_get("errors").ctx(ctx)?;
        Ok(Some(ReloadStatus {
            daemon: row.try_get("daemon").ctx(ctx)?,
            ok: row.try_get("ok").ctx(ctx)?,
            reason: row.try_get("reason").ctx(ctx)?,
            campaigns: row.try_get::<i64, _>("campaigns").ctx(ctx)? as u64,
            errors: serde_json::from_value(errors).map_err(|e| StoreError::Corrupt {
                context: ctx,
                detail: e.to_string(),
            })?,
            at: row.try_get("at").ctx(ctx)?,
        }))
    }

    async fn promote_pilot(&self, campaign: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO pilot_promotions (campaign, promoted_at) VALUES ($1, $2) ON CONFLICT (campaign) DO NOTHING",
        )
        .bind(campaign)
        .bind(at)
        .execute(&self.pool)
        .await
        .ctx("promoting a pilot")?;
        Ok(done.rows_affected() > 0)
    }

    async fn pilot_promoted_at(&self, campaign: &str) -> StoreResult<Option<DateTime<Utc>>> {
        sqlx::query_scalar("SELECT promoted_at FROM pilot_promotions WHERE campaign = $1")
            .bind(campaign)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading a pilot's promotion")
    }

    async fn reserve_rate(
        &self,
        key: &str,
        interval: std::time::Duration,
    ) -> StoreResult<Option<std::time::Duration>> {
        let mut blocks = self.slots.lock().await;
        let now = std::time::Instant::now();
        if let Some(wait) = rate_blocks::take(&mut blocks, key, interval, now) {
            return Ok(Some(wait));
        }
        // The next free slot moves a block of intervals on; the caller waits
        // until the block's first slot. The server's clock decides for everyone.
        let size = rate_blocks::size(interval);
        let wait: f64 = sqlx::query_scalar(
            "INSERT INTO rate_limits (key, tat) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
             ON CONFLICT (key) DO UPDATE
                 SET tat = greatest(rate_limits.tat, clock_timestamp()) + make_interval(secs => $2)
             RETURNING extract(epoch FROM (tat - make_interval(secs => $2) - clock_timestamp()))::float8",
        )
        .bind(key)
        .bind(interval.as_secs_f64() * size as f64)
        .fetch_one(&self.rates)
        .await
        .ctx("reserving a shared rate slot")?;
        let wait = std::time::Duration::from_secs_f64(wait.max(0.0));
        rate_blocks::keep(&mut blocks, key, wait, interval, size, now);
        Ok(Some(wait))
    }

    async fn planner_lock(&self) -> StoreResult<Option<PlannerLock>> {
        let mut session = self.pool.acquire().await.ctx("taking the planner's lock")?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(PLANNER_LOCK)
            .fetch_one(&mut *session)
            .await
            .ctx("taking the planner's lock")?;
        Ok(got.then_some(PlannerLock {
            session: Some(session),
        }))
    }
}
