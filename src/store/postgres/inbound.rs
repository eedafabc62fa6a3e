//! Inbound messages on PostgreSQL: kept with their effect, listed, undone;
//! and the IMAP poll's decisions. Two daemons keeping the same message at
//! once: the unique digest makes the second a duplicate.

use super::*;

const ROW_COLUMNS: &str =
    "m.id, m.received_at, m.source, m.kind, m.effect, m.summary, c.email, m.campaign,
     m.send_id, m.suppressed, m.undone_at, m.undo_note";

fn inbound_row(row: &PgRow) -> StoreResult<InboundRow> {
    let ctx = "reading an inbound message";
    Ok(InboundRow {
        id: row.try_get("id").ctx(ctx)?,
        received_at: row.try_get("received_at").ctx(ctx)?,
        source: row.try_get("source").ctx(ctx)?,
        kind: row.try_get("kind").ctx(ctx)?,
        effect: row.try_get("effect").ctx(ctx)?,
        summary: row.try_get("summary").ctx(ctx)?,
        email: row.try_get("email").ctx(ctx)?,
        campaign: row.try_get("campaign").ctx(ctx)?,
        send_id: row.try_get("send_id").ctx(ctx)?,
        suppressed: row.try_get("suppressed").ctx(ctx)?,
        undone_at: row.try_get("undone_at").ctx(ctx)?,
        undo_note: row.try_get("undo_note").ctx(ctx)?,
    })
}

/// The message a suppression passes to on undo: its id, the reason its
/// effect gives, and the suppression's new detail.
fn heir_of(row: &PgRow) -> StoreResult<(i64, SuppressionReason, String)> {
    let ctx = "reading an inbound message";
    let id: i64 = row.try_get("id").ctx(ctx)?;
    let effect: String = row.try_get("effect").ctx(ctx)?;
    let summary: String = row.try_get("summary").ctx(ctx)?;
    let reason = match effect.as_str() {
        "complaint" => SuppressionReason::Complaint,
        "unsubscribe" => SuppressionReason::Unsubscribe,
        _ => SuppressionReason::Bounce,
    };
    Ok((id, reason, format!("inbound #{id}: {summary}")))
}

impl InboundStore for PostgresStore {
    async fn record_inbound(
        &self,
        m: &NewInbound,
        now: DateTime<Utc>,
    ) -> StoreResult<InboundRecorded> {
        let ctx = "keeping an inbound message";
        let now = whole_second(now);
        let mut tx = self.pool.begin().await.ctx(ctx)?;
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO inbound_messages (received_at, source, digest, kind, effect, classification, summary,
                 send_id, contact_id, campaign, raw)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (digest) DO NOTHING RETURNING id",
        )
        .bind(now)
        .bind(&m.source)
        .bind(&m.digest)
        .bind(&m.kind)
        .bind(m.effect.as_str())
        .bind(&m.classification)
        .bind(&m.summary)
        .bind(m.send_id)
        .bind(m.contact_id)
        .bind(&m.campaign)
        .bind(&m.raw)
        .fetch_optional(&mut *tx)
        .await
        .ctx(ctx)?;
        let Some(id) = inserted else {
            tx.rollback().await.ctx(ctx)?;
            let id: i64 = sqlx::query_scalar("SELECT id FROM inbound_messages WHERE digest = $1")
                .bind(&m.digest)
                .fetch_one(&self.pool)
                .await
                .ctx(ctx)?;
            return Ok(InboundRecorded {
                id,
                duplicate: true,
                suppressed: false,
            });
        };
        let email: Option<String> = match m.contact_id {
            Some(contact) => sqlx::query_scalar("SELECT email FROM contacts WHERE id = $1")
                .bind(contact)
                .fetch_optional(&mut *tx)
                .await
                .ctx(ctx)?,
            None => None,
        };
        let (Some(contact_id), Some(email)) = (m.contact_id, email) else {
            tx.commit().await.ctx(ctx)?;
            return Ok(InboundRecorded {
                id,
                duplicate: false,
                suppressed: false,
            });
        };
        let source = format!("inbound #{id}");
        let detail = format!("inbound #{id}: {}", m.detail);
        let (reason, event_kind) = match m.effect {
            InboundEffect::HardBounce => (Some(SuppressionReason::Bounce), Some("bounce")),
            InboundEffect::Complaint => (Some(SuppressionReason::Complaint), Some("complaint")),
            InboundEffect::Unsubscribe => {
                (Some(SuppressionReason::Unsubscribe), Some("unsubscribe"))
            }
            InboundEffect::Reply => (None, Some("reply")),
            InboundEffect::SoftBounce | InboundEffect::None => (None, None),
        };
        let mut suppressed = false;
        if let Some(reason) = reason {
            let suppression = NewSuppression {
                value: email.clone(),
                scope: SuppressionScope::Address,
                reason,
                source: source.clone(),
                detail: detail.clone(),
            };
            suppressed = Self::insert_suppression(&mut tx, &suppression, now).await?;
        }
        let event_id: Option<i64> = match event_kind {
            Some(kind) => sqlx::query_scalar(
                "INSERT INTO events (contact_id, kind, at, detail, source, created_at, send_id)
                 VALUES ($1, $2, $3, $4, 'inbound', $3, $5) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(contact_id)
            .bind(kind)
            .bind(now)
            .bind(&detail)
            .bind(m.send_id)
            .fetch_optional(&mut *tx)
            .await
            .ctx(ctx)?,
            None => None,
        };
        if event_kind == Some("reply") {
            // A reply is activity: last seen moves forward, as for any activity.
            sqlx::query(
                "UPDATE contacts SET last_activity_at = greatest(coalesce(last_activity_at, $1), $1) WHERE id = $2",
            )
            .bind(now)
            .bind(contact_id)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
        }
        let failure_id: Option<i64> = if m.effect == InboundEffect::SoftBounce {
            Some(
                sqlx::query_scalar(
                    "INSERT INTO smtp_failures (send_id, contact_id, at, phase, verdict, reason, reply)
                     VALUES ($1, $2, $3, 'dsn', 'soft_bounce', $4, $5) RETURNING id",
                )
                .bind(m.send_id.unwrap_or(0))
                .bind(contact_id)
                .bind(now)
                .bind(&m.kind)
                .bind(&detail)
                .fetch_one(&mut *tx)
                .await
                .ctx(ctx)?,
            )
        } else {
            None
        };
        sqlx::query("UPDATE inbound_messages SET suppressed = $1, event_id = $2, failure_id = $3 WHERE id = $4")
            .bind(suppressed.then_some(&email))
            .bind(event_id)
            .bind(failure_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
        tx.commit().await.ctx(ctx)?;
        Ok(InboundRecorded {
            id,
            duplicate: false,
            suppressed,
        })
    }

    async fn send_owner(&self, send_id: i64) -> StoreResult<Option<(i64, String)>> {
        let row = sqlx::query("SELECT contact_id, campaign FROM sends WHERE id = $1")
            .bind(send_id)
            .fetch_optional(&self.pool)
            .await
            .ctx("finding a send's contact")?;
        row.map(|row| {
            Ok((
                row.try_get("contact_id").ctx("reading a send")?,
                row.try_get("campaign").ctx("reading a send")?,
            ))
        })
        .transpose()
    }

    async fn inbound_rows(&self, filter: &InboundFilter) -> StoreResult<Vec<InboundRow>> {
        let mut qb = QueryBuilder::new(format!(
            "SELECT {ROW_COLUMNS} FROM inbound_messages m LEFT JOIN contacts c ON c.id = m.contact_id WHERE TRUE"
        ));
        if let Some(kind) = &filter.kind {
            qb.push(" AND m.kind = ");
            qb.push_bind(kind.clone());
        }
        if let Some(campaign) = &filter.campaign {
            qb.push(" AND m.campaign = ");
            qb.push_bind(campaign.clone());
        }
        qb.push(" ORDER BY m.id DESC LIMIT ");
        qb.push_bind(filter.limit.unwrap_or(100) as i64);
        let rows = qb
            .build()
            .fetch_all(&self.pool)
            .await
            .ctx("listing inbound messages")?;
        rows.iter().map(inbound_row).collect()
    }

    async fn inbound_detail(&self, id: i64) -> StoreResult<Option<InboundDetail>> {
        let ctx = "reading an inbound message";
        let row = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS}, m.classification, m.raw FROM inbound_messages m
             LEFT JOIN contacts c ON c.id = m.contact_id WHERE m.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .ctx(ctx)?;
        let Some(row) = row else { return Ok(None) };
        let classification: serde_json::Value = row.try_get("classification").ctx(ctx)?;
        let raw: Option<Vec<u8>> = row.try_get("raw").ctx(ctx)?;
        Ok(Some(InboundDetail {
            row: inbound_row(&row)?,
            classification,
            raw_kept: raw.is_some(),
            raw,
        }))
    }

    async fn undo_inbound(
        &self,
        id: i64,
        note: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<UndoOutcome> {
        let ctx = "undoing an inbound message";
        let mut tx = self.pool.begin().await.ctx(ctx)?;
        let row = sqlx::query(
            "SELECT contact_id, suppressed, event_id, failure_id, undone_at FROM inbound_messages WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .ctx(ctx)?;
        let mut outcome = UndoOutcome {
            found: row.is_some(),
            already: false,
            lifted: None,
            kept_by: None,
            events_removed: 0,
            soft_bounces_removed: 0,
        };
        let Some(row) = row else { return Ok(outcome) };
        if row
            .try_get::<Option<DateTime<Utc>>, _>("undone_at")
            .ctx(ctx)?
            .is_some()
        {
            outcome.already = true;
            return Ok(outcome);
        }
        if let Some(value) = row.try_get::<Option<String>, _>("suppressed").ctx(ctx)? {
            let contact: Option<i64> = row.try_get("contact_id").ctx(ctx)?;
            let heir = sqlx::query(
                "SELECT id, effect, summary FROM inbound_messages
                 WHERE contact_id = $1 AND id <> $2 AND undone_at IS NULL
                   AND effect IN ('hard_bounce', 'complaint', 'unsubscribe')
                 ORDER BY id LIMIT 1",
            )
            .bind(contact)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .ctx(ctx)?;
            // Only the suppression this message added, if nothing replaced it since.
            let own = format!("inbound #{id}");
            match heir {
                Some(heir) => {
                    let (heir_id, reason, detail) = heir_of(&heir)?;
                    let moved = sqlx::query(
                        "UPDATE suppressions SET reason = $1, source = $2, detail = $3 WHERE value = $4 AND source = $5",
                    )
                    .bind(reason.as_str())
                    .bind(format!("inbound #{heir_id}"))
                    .bind(detail)
                    .bind(&value)
                    .bind(&own)
                    .execute(&mut *tx)
                    .await
                    .ctx(ctx)?
                    .rows_affected();
                    if moved > 0 {
                        sqlx::query("UPDATE inbound_messages SET suppressed = $1 WHERE id = $2")
                            .bind(&value)
                            .bind(heir_id)
                            .execute(&mut *tx)
                            .await
                            .ctx(ctx)?;
                        outcome.kept_by = Some(heir_id);
                    }
                }
                None => {
                    let lifted =
                        sqlx::query("DELETE FROM suppressions WHERE value = $1 AND source = $2")
                            .bind(&value)
                            .bind(&own)
                            .execute(&mut *tx)
                            .await
                            .ctx(ctx)?
                            .rows_affected();
                    if lifted > 0 {
                        outcome.lifted = Some(value);
                    }
                }
            }
        }
        if let Some(event) = row.try_get::<Option<i64>, _>("event_id").ctx(ctx)? {
            outcome.events_removed = sqlx::query("DELETE FROM events WHERE id = $1")
                .bind(event)
                .execute(&mut *tx)
                .await
                .ctx(ctx)?
                .rows_affected();
        }
        if let Some(failure) = row.try_get::<Option<i64>, _>("failure_id").ctx(ctx)? {
            outcome.soft_bounces_removed = sqlx::query("DELETE FROM smtp_failures WHERE id = $1")
                .bind(failure)
                .execute(&mut *tx)
                .await
                .ctx(ctx)?
                .rows_affected();
        }
        sqlx::query("UPDATE inbound_messages SET undone_at = $1, undo_note = $2 WHERE id = $3")
            .bind(whole_second(now))
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
        tx.commit().await.ctx(ctx)?;
        Ok(outcome)
    }

    async fn inbound_counts(
        &self,
        campaign: Option<&str>,
    ) -> StoreResult<Vec<(String, String, u64)>> {
        let ctx = "counting inbound messages";
        let mut qb = QueryBuilder::new(
            "SELECT coalesce(campaign, '') AS campaign, kind, count(*) AS n FROM inbound_messages WHERE undone_at IS NULL",
        );
        if let Some(campaign) = campaign {
            qb.push(" AND campaign = ");
            qb.push_bind(campaign.to_string());
        }
        qb.push(" GROUP BY 1, 2 ORDER BY 1, 2");
        let rows = qb.build().fetch_all(&self.pool).await.ctx(ctx)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("campaign").ctx(ctx)?,
                    row.try_get("kind").ctx(ctx)?,
                    row.try_get::<i64, _>("n").ctx(ctx)? as u64,
                ))
            })
            .collect()
    }

    async fn purge_inbound_raw(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        Ok(sqlx::query(
            "UPDATE inbound_messages SET raw = NULL WHERE raw IS NOT NULL AND received_at < $1",
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .ctx("forgetting old inbound messages")?
        .rows_affected())
    }

    async fn imap_decided(
        &self,
        mailbox: &ImapMailbox,
        uids: &[u32],
    ) -> StoreResult<Vec<(u32, bool)>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = "reading the mailbox's decisions";
        let mut qb = QueryBuilder::new("SELECT uid, own FROM imap_seen WHERE account = ");
        qb.push_bind(mailbox.account.clone());
        qb.push(" AND folder = ");
        qb.push_bind(mailbox.folder.clone());
        qb.push(" AND uid_validity = ");
        qb.push_bind(i64::from(mailbox.uid_validity));
        qb.push(" AND uid IN (");
        let mut list = qb.separated(", ");
        for uid in uids {
            list.push_bind(i64::from(*uid));
        }
        qb.push(")");
        let rows = qb.build().fetch_all(&self.pool).await.ctx(ctx)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<i64, _>("uid").ctx(ctx)? as u32,
                    row.try_get::<bool, _>("own").ctx(ctx)?,
                ))
            })
            .collect()
    }

    async fn imap_record(
        &self,
        mailbox: &ImapMailbox,
        uid: u32,
        own: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO imap_seen (account, folder, uid_validity, uid, own, seen_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (account, folder, uid_validity, uid) DO UPDATE SET own = $5, seen_at = $6",
        )
        .bind(&mailbox.account)
        .bind(&mailbox.folder)
        .bind(i64::from(mailbox.uid_validity))
        .bind(i64::from(uid))
        .bind(own)
        .bind(whole_second(now))
        .execute(&self.pool)
        .await
        .ctx("recording the mailbox's decision")?;
        Ok(())
    }
}
