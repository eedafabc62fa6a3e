//! The console's sessions, sign-in failures, contact search and timeline on PostgreSQL.

use super::*;

fn state_of(text: String, ctx: &'static str) -> StoreResult<SendState> {
    text.parse().map_err(|e: String| StoreError::Corrupt {
        context: ctx,
        detail: e,
    })
}

impl ConsoleStore for PostgresStore {
    async fn create_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, user_name, role, csrf, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.token_hash)
        .bind(&session.user)
        .bind(&session.role)
        .bind(&session.csrf)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await
        .ctx("creating a console session")?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ConsoleSession>> {
        let ctx = "reading a console session";
        let row = sqlx::query(
            "SELECT token_hash, user_name, role, csrf, created_at, expires_at FROM console_sessions
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .ctx(ctx)?;
        row.map(|row| {
            Ok(ConsoleSession {
                token_hash: row.try_get("token_hash").ctx(ctx)?,
                user: row.try_get("user_name").ctx(ctx)?,
                role: row.try_get("role").ctx(ctx)?,
                csrf: row.try_get("csrf").ctx(ctx)?,
                created_at: row.try_get("created_at").ctx(ctx)?,
                expires_at: row.try_get("expires_at").ctx(ctx)?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1 OR expires_at <= $2")
            .bind(token_hash)
            .bind(now)
            .execute(&self.pool)
            .await
            .ctx("signing a console session out")?;
        Ok(())
    }

    async fn record_login_failure(&self, key: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("INSERT INTO console_login_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(at)
            .execute(&self.pool)
            .await
            .ctx("recording a failed sign-in")?;
        Ok(())
    }

    async fn login_failures(&self, key: &str, since: DateTime<Utc>) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM console_login_failures WHERE key = $1 AND at >= $2",
        )
        .bind(key)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .ctx("counting failed sign-ins")?;
        Ok(n as u64)
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM console_login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .ctx("forgetting failed sign-ins")?;
        Ok(())
    }

    async fn search_contacts(&self, query: &str, limit: u64) -> StoreResult<Vec<Contact>> {
        let needle = query.trim().to_lowercase();
        let rows = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c
             WHERE strpos(c.email, $1) > 0 OR strpos(lower(coalesce(c.name, '')), $1) > 0
             ORDER BY c.email LIMIT $2"
        ))
        .bind(&needle)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .ctx("searching contacts")?;
        rows.iter().map(contact_from_row).collect()
    }

    async fn contact_timeline(&self, contact_id: i64) -> StoreResult<ContactTimeline> {
        let ctx = "reading a contact's timeline";
        let enrollments = sqlx::query(
            "SELECT id, campaign, grp, entered_at, exited_at, exit_reason FROM enrollments
             WHERE contact_id = $1 ORDER BY entered_at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(|row| {
            Ok(TimelineEnrollment {
                id: row.try_get("id").ctx(ctx)?,
                campaign: row.try_get("campaign").ctx(ctx)?,
                group: row.try_get("grp").ctx(ctx)?,
                entered_at: row.try_get("entered_at").ctx(ctx)?,
                exited_at: row
                    .try_get::<Option<DateTime<Utc>>, _>("exited_at")
                    .ctx(ctx)?,
                exit_reason: row.try_get("exit_reason").ctx(ctx)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let sends = sqlx::query(
            "SELECT id, campaign, step, state, subject, due_at, sent_at, last_error FROM sends
             WHERE contact_id = $1 ORDER BY due_at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(|row| {
            Ok(TimelineSend {
                id: row.try_get("id").ctx(ctx)?,
                campaign: row.try_get("campaign").ctx(ctx)?,
                step: row.try_get::<i32, _>("step").ctx(ctx)? as u32,
                state: state_of(row.try_get("state").ctx(ctx)?, ctx)?,
                subject: row.try_get("subject").ctx(ctx)?,
                due_at: row.try_get("due_at").ctx(ctx)?,
                sent_at: row
                    .try_get::<Option<DateTime<Utc>>, _>("sent_at")
                    .ctx(ctx)?,
                last_error: row.try_get("last_error").ctx(ctx)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let events = sqlx::query(
            "SELECT kind, at, detail, source FROM events WHERE contact_id = $1 ORDER BY at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(|row| {
            Ok(TimelineEvent {
                kind: row.try_get("kind").ctx(ctx)?,
                at: row.try_get("at").ctx(ctx)?,
                detail: row.try_get("detail").ctx(ctx)?,
                source: row.try_get("source").ctx(ctx)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let inbound = sqlx::query(
            "SELECT id, received_at, kind, summary, undone_at FROM inbound_messages
             WHERE contact_id = $1 ORDER BY received_at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(|row| {
            Ok(TimelineInbound {
                id: row.try_get("id").ctx(ctx)?,
                received_at: row.try_get("received_at").ctx(ctx)?,
                kind: row.try_get("kind").ctx(ctx)?,
                summary: row.try_get("summary").ctx(ctx)?,
                undone_at: row
                    .try_get::<Option<DateTime<Utc>>, _>("undone_at")
                    .ctx(ctx)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(ContactTimeline {
            enrollments,
            sends,
            events,
            inbound,
        })
    }
}
