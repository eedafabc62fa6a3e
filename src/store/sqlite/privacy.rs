//! A person's data on SQLite: export, erasure, retention. An erasure runs
//! with `secure_delete` on, rewrites the file (`VACUUM`) and checkpoints the
//! write-ahead log afterwards, so no old copy of the values is left in free
//! space, on the free list or in the log.

use super::contacts::suppression_from_row;
use super::*;
use sqlx::Connection;

/// The placeholder domain of erased contacts (suppressed as a whole).
const ERASED_DOMAIN: &str = "erased.invalid";

impl PrivacyStore for SqliteStore {
    async fn personal_data(&self, contact_id: i64) -> StoreResult<Option<PersonalData>> {
        let ctx = "reading a person's data";
        let Some(contact) = self.contact_by_id(contact_id).await? else {
            return Ok(None);
        };
        let enrollments = sqlx::query(
            "SELECT id, campaign, grp, entered_at, exited_at, exit_reason FROM enrollments
             WHERE contact_id = ? ORDER BY entered_at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(|row| {
            Ok(EnrollmentRecord {
                id: row.try_get("id").ctx(ctx)?,
                campaign: row.try_get("campaign").ctx(ctx)?,
                group: row.try_get("grp").ctx(ctx)?,
                entered_at: from_ts(row.try_get("entered_at").ctx(ctx)?),
                exited_at: row
                    .try_get::<Option<i64>, _>("exited_at")
                    .ctx(ctx)?
                    .map(from_ts),
                exit_reason: row.try_get("exit_reason").ctx(ctx)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let sends = sqlx::query(
            "SELECT id, campaign, step, template, state, due_at, sent_at, message_id, subject,
                    body_text, variants, last_error, note
             FROM sends WHERE contact_id = ? ORDER BY due_at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(|row| {
            let variants: Option<String> = row.try_get("variants").ctx(ctx)?;
            Ok(SendRecord {
                id: row.try_get("id").ctx(ctx)?,
                campaign: row.try_get("campaign").ctx(ctx)?,
                step: row.try_get::<i64, _>("step").ctx(ctx)? as u32,
                template: row.try_get("template").ctx(ctx)?,
                state: row.try_get("state").ctx(ctx)?,
                due_at: from_ts(row.try_get("due_at").ctx(ctx)?),
                sent_at: row
                    .try_get::<Option<i64>, _>("sent_at")
                    .ctx(ctx)?
                    .map(from_ts),
                message_id: row.try_get("message_id").ctx(ctx)?,
                subject: row.try_get("subject").ctx(ctx)?,
                body_text: row.try_get("body_text").ctx(ctx)?,
                variants: variants.and_then(|v| serde_json::from_str(&v).ok()),
                last_error: row.try_get("last_error").ctx(ctx)?,
                note: row.try_get("note").ctx(ctx)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let events = sqlx::query(
            "SELECT kind, at, detail, source, user_agent FROM events WHERE contact_id = ? ORDER BY at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(|row| {
            Ok(EventRecord {
                kind: row.try_get("kind").ctx(ctx)?,
                at: from_ts(row.try_get("at").ctx(ctx)?),
                detail: row.try_get("detail").ctx(ctx)?,
                source: row.try_get("source").ctx(ctx)?,
                user_agent: row.try_get("user_agent").ctx(ctx)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let domain = contact
            .email
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        let suppressions = sqlx::query(
            "SELECT value, scope, reason, source, detail, created_at FROM suppressions
             WHERE value = ? OR (scope = 'domain' AND value = ?) ORDER BY value",
        )
        .bind(&contact.email)
        .bind(&domain)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(suppression_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let smtp_failures = sqlx::query(
            "SELECT send_id, at, verdict, reason, reply FROM smtp_failures WHERE contact_id = ? ORDER BY at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(|row| {
            Ok(FailureNote {
                send_id: row.try_get("send_id").ctx(ctx)?,
                at: from_ts(row.try_get("at").ctx(ctx)?),
                verdict: row.try_get("verdict").ctx(ctx)?,
                reason: row.try_get("reason").ctx(ctx)?,
                reply: row.try_get("reply").ctx(ctx)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let inbound = sqlx::query(
            "SELECT id, received_at, source, kind, effect, summary, classification, campaign, raw
             FROM inbound_messages WHERE contact_id = ?1
                OR (raw IS NOT NULL AND instr(lower(CAST(raw AS TEXT)), ?2) > 0)
             ORDER BY received_at, id",
        )
        .bind(contact_id)
        .bind(&contact.email)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?
        .iter()
        .map(|row| {
            let raw: Option<Vec<u8>> = row.try_get("raw").ctx(ctx)?;
            Ok(InboundRecord {
                id: row.try_get("id").ctx(ctx)?,
                received_at: from_ts(row.try_get("received_at").ctx(ctx)?),
                source: row.try_get("source").ctx(ctx)?,
                kind: row.try_get("kind").ctx(ctx)?,
                effect: row.try_get("effect").ctx(ctx)?,
                summary: row.try_get("summary").ctx(ctx)?,
                detail: row.try_get("classification").ctx(ctx)?,
                campaign: row.try_get("campaign").ctx(ctx)?,
                raw: raw.map(|r| String::from_utf8_lossy(&r).into_owned()),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(PersonalData {
            contact,
            enrollments,
            sends,
            events,
            suppressions,
            smtp_failures,
            inbound,
        }))
    }

    async fn erase_contact(
        &self,
        contact_id: i64,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Erased> {
        let ctx = "erasing a contact";
        let _write = self.write_lock.lock().await;
        let mut conn = self.pool.acquire().await.ctx(ctx)?;
        // Deleted and replaced values are overwritten with zeros in the file.
        sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut *conn)
            .await
            .ctx(ctx)?;
        let erased = erase(&mut conn, contact_id, hash, now).await;
        let off = sqlx::query("PRAGMA secure_delete = OFF")
            .execute(&mut *conn)
            .await
            .ctx(ctx);
        let erased = erased?;
        off?;
        // Copies of the rows from before (updates made while secure_delete
        // was off, pages on the free list) may remain: rewriting the file
        // leaves none. Its cost grows with the database; erasures are rare.
        if let Err(e) = sqlx::query("VACUUM").execute(&mut *conn).await {
            tracing::warn!(error = %e, "erasure done, but the database file could not be rewritten now (another process is writing?): run `tend contacts erase` again later to finish the job");
        }
        // The old page images stay in the write-ahead log until a checkpoint
        // copies the new ones over them; a reader elsewhere may delay it.
        let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *conn)
            .await
            .ctx(ctx)?;
        if busy != 0 {
            tracing::warn!(
                "erasure done, but another process is reading the database: the old values leave the write-ahead log at its next checkpoint"
            );
        }
        Ok(erased)
    }

    async fn erasures(&self) -> StoreResult<Vec<(String, SuppressionReason)>> {
        let ctx = "reading the erasure list";
        sqlx::query("SELECT hash, reason FROM erasures")
            .fetch_all(&self.pool)
            .await
            .ctx(ctx)?
            .iter()
            .map(|row| {
                let reason: String = row.try_get("reason").ctx(ctx)?;
                Ok((
                    row.try_get("hash").ctx(ctx)?,
                    reason.parse().map_err(|detail| StoreError::Corrupt {
                        context: ctx,
                        detail,
                    })?,
                ))
            })
            .collect()
    }

    async fn apply_retention(
        &self,
        cutoffs: &RetentionCutoffs,
        now: DateTime<Utc>,
    ) -> StoreResult<RetentionRun> {
        let ctx = "applying retention";
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.ctx(ctx)?;
        let mut run = RetentionRun {
            ran_at: now,
            message_bodies: 0,
            events: 0,
            inbound_raw: 0,
        };
        if let Some(before) = cutoffs.message_bodies {
            run.message_bodies = sqlx::query(
                "UPDATE sends SET body_text = NULL, opener = NULL, variants = NULL
                 WHERE sent_at < ? AND (body_text IS NOT NULL OR variants IS NOT NULL OR opener IS NOT NULL)",
            )
            .bind(ts(before))
            .execute(&mut *tx)
            .await
            .ctx(ctx)?
            .rows_affected();
        }
        if let Some(before) = cutoffs.events {
            run.events = sqlx::query("DELETE FROM events WHERE at < ?")
                .bind(ts(before))
                .execute(&mut *tx)
                .await
                .ctx(ctx)?
                .rows_affected();
        }
        if let Some(before) = cutoffs.inbound_raw {
            run.inbound_raw = sqlx::query(
                "UPDATE inbound_messages SET raw = NULL WHERE raw IS NOT NULL AND received_at < ?",
            )
            .bind(ts(before))
            .execute(&mut *tx)
            .await
            .ctx(ctx)?
            .rows_affected();
        }
        sqlx::query(
            "INSERT INTO retention_runs (id, ran_at, bodies, events, inbound_raw) VALUES (1, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET ran_at = excluded.ran_at, bodies = excluded.bodies,
                 events = excluded.events, inbound_raw = excluded.inbound_raw",
        )
        .bind(ts(now))
        .bind(run.message_bodies as i64)
        .bind(run.events as i64)
        .bind(run.inbound_raw as i64)
        .execute(&mut *tx)
        .await
        .ctx(ctx)?;
        tx.commit().await.ctx(ctx)?;
        Ok(run)
    }

    async fn last_retention(&self) -> StoreResult<Option<RetentionRun>> {
        let ctx = "reading the last retention run";
        let row = sqlx::query(
            "SELECT ran_at, bodies, events, inbound_raw FROM retention_runs WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await
        .ctx(ctx)?;
        row.map(|row| {
            Ok(RetentionRun {
                ran_at: from_ts(row.try_get("ran_at").ctx(ctx)?),
                message_bodies: row.try_get::<i64, _>("bodies").ctx(ctx)? as u64,
                events: row.try_get::<i64, _>("events").ctx(ctx)? as u64,
                inbound_raw: row.try_get::<i64, _>("inbound_raw").ctx(ctx)? as u64,
            })
        })
        .transpose()
    }
}

async fn erase(
    conn: &mut sqlx::SqliteConnection,
    contact_id: i64,
    hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Erased> {
    let ctx = "erasing a contact";
    let mut tx = conn.begin().await.ctx(ctx)?;
    let mut erased = Erased::default();
    let Some(email): Option<String> = sqlx::query_scalar("SELECT email FROM contacts WHERE id = ?")
        .bind(contact_id)
        .fetch_optional(&mut *tx)
        .await
        .ctx(ctx)?
    else {
        return Ok(erased);
    };
    // Whatever kept them from mail keeps them from it, as a hash.
    let reason: Option<String> =
        sqlx::query_scalar("SELECT reason FROM suppressions WHERE value = ?")
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await
            .ctx(ctx)?;
    sqlx::query(
        "INSERT INTO erasures (hash, reason, erased_at) VALUES (?, ?, ?)
         ON CONFLICT (hash) DO UPDATE SET erased_at = excluded.erased_at",
    )
    .bind(hash)
    .bind(reason.as_deref().unwrap_or("manual"))
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .ctx(ctx)?;
    erased.suppressions_replaced = sqlx::query("DELETE FROM suppressions WHERE value = ?")
        .bind(&email)
        .execute(&mut *tx)
        .await
        .ctx(ctx)?
        .rows_affected();
    erased.enrollments_ended = sqlx::query(
        "UPDATE enrollments SET exited_at = ?, exit_reason = 'suppressed' WHERE contact_id = ? AND exited_at IS NULL",
    )
    .bind(ts(now))
    .bind(contact_id)
    .execute(&mut *tx)
    .await
    .ctx(ctx)?
    .rows_affected();
    erased.sends_cancelled = sqlx::query(
        "UPDATE sends SET state = 'cancelled', finished_at = ?, claimed_by = NULL, lease_until = NULL,
                hold_reason = NULL, last_error = 'erased on request'
         WHERE contact_id = ? AND state IN ('queued', 'retry', 'claimed')",
    )
    .bind(ts(now))
    .bind(contact_id)
    .execute(&mut *tx)
    .await
    .ctx(ctx)?
    .rows_affected();
    erased.messages_cleared = sqlx::query(
        "UPDATE sends SET subject = NULL, body_text = NULL, opener = NULL, variants = NULL,
                smtp_response = NULL, note = NULL,
                last_error = CASE WHEN last_error IS NULL THEN NULL ELSE 'erased on request' END
         WHERE contact_id = ?
           AND (subject IS NOT NULL OR body_text IS NOT NULL OR opener IS NOT NULL
                OR variants IS NOT NULL OR smtp_response IS NOT NULL OR note IS NOT NULL)",
    )
    .bind(contact_id)
    .execute(&mut *tx)
    .await
    .ctx(ctx)?
    .rows_affected();
    // Counts stay (a response is still a response); what was said goes.
    erased.events_cleared = sqlx::query(
        "UPDATE events SET detail = 'erased:' || id, user_agent = NULL
         WHERE contact_id = ? AND (detail <> 'erased:' || id OR user_agent IS NOT NULL)",
    )
    .bind(contact_id)
    .execute(&mut *tx)
    .await
    .ctx(ctx)?
    .rows_affected();
    erased.smtp_replies_cleared =
        sqlx::query("UPDATE smtp_failures SET reply = '' WHERE contact_id = ? AND reply <> ''")
            .bind(contact_id)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?
            .rows_affected();
    erased.inbound_cleared = sqlx::query(
        "UPDATE inbound_messages SET raw = NULL, classification = 'null', summary = kind || ' (erased on request)'
         WHERE (contact_id = ?1 OR (raw IS NOT NULL AND instr(lower(CAST(raw AS TEXT)), ?2) > 0)
                OR instr(lower(classification), ?2) > 0)
           AND (raw IS NOT NULL OR classification <> 'null')",
    )
    .bind(contact_id)
    .bind(&email)
    .execute(&mut *tx)
    .await
    .ctx(ctx)?
    .rows_affected();
    sqlx::query(
        "UPDATE contacts SET email = 'erased-' || id || '@' || ?1, domain = ?1, name = NULL,
                timezone = NULL, tags = '[]', attributes = '{}', updated_at = ?2
         WHERE id = ?3",
    )
    .bind(ERASED_DOMAIN)
    .bind(ts(now))
    .bind(contact_id)
    .execute(&mut *tx)
    .await
    .ctx(ctx)?;
    // The placeholder never enters a segment or gets mail.
    sqlx::query(
        "INSERT INTO suppressions (value, scope, reason, source, detail, created_at)
         VALUES (?, 'domain', 'manual', 'erasure', 'placeholders of erased contacts', ?)
         ON CONFLICT (value) DO NOTHING",
    )
    .bind(ERASED_DOMAIN)
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .ctx(ctx)?;
    tx.commit().await.ctx(ctx)?;
    Ok(erased)
}
