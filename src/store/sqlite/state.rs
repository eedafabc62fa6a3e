//! Operational state on SQLite: relay and domain health, ticks, secrets.

use super::*;

impl StateStore for SqliteStore {
    async fn relay_health(&self, relay: &str) -> StoreResult<Option<RelayHealth>> {
        let ctx = "reading the relay's health";
        let row = sqlx::query(
            "SELECT relay, state, failures, trips, paused_until, last_error FROM relay_health WHERE relay = ?",
        )
        .bind(relay)
        .fetch_optional(&self.pool)
        .await
        .ctx(ctx)?;
        row.map(|row| {
            Ok(RelayHealth {
                relay: row.try_get("relay").ctx(ctx)?,
                open: row.try_get::<String, _>("state").ctx(ctx)? == "open",
                failures: row.try_get::<i64, _>("failures").ctx(ctx)? as u32,
                trips: row.try_get::<i64, _>("trips").ctx(ctx)? as u32,
                paused_until: row
                    .try_get::<Option<i64>, _>("paused_until")
                    .ctx(ctx)?
                    .map(from_ts),
                last_error: row.try_get("last_error").ctx(ctx)?,
            })
        })
        .transpose()
    }

    async fn save_relay_health(&self, health: &RelayHealth, now: DateTime<Utc>) -> StoreResult<()> {
        let _write = self.write_lock.lock().await;
        sqlx::query(
            "INSERT INTO relay_health (relay, state, failures, trips, paused_until, last_error, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (relay) DO UPDATE SET state = ?2, failures = ?3, trips = ?4, paused_until = ?5,
                 last_error = ?6, updated_at = ?7",
        )
        .bind(&health.relay)
        .bind(if health.open { "open" } else { "closed" })
        .bind(health.failures as i64)
        .bind(health.trips as i64)
        .bind(health.paused_until.map(ts))
        .bind(&health.last_error)
        .bind(ts(now))
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
}
