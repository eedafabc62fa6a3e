//! SQLite queries for variation: a contact's history, the sends the
//! variation metric reads, and sample contacts for previews.

use super::*;

fn choices(row: &SqliteRow, ctx: &'static str) -> StoreResult<Vec<Choice>> {
    let json: Option<String> = row.try_get("variants").ctx(ctx)?;
    match json {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
            context: ctx,
            detail: format!("variants: {e}"),
        }),
    }
}

/// One past send from a row of `id, contact_id, campaign, step, subject, variants, sent_at`.
fn past_send(row: &SqliteRow, ctx: &'static str) -> StoreResult<PastSend> {
    Ok(PastSend {
        send_id: row.try_get("id").ctx(ctx)?,
        campaign: row.try_get("campaign").ctx(ctx)?,
        step: row.try_get::<i64, _>("step").ctx(ctx)? as u32,
        subject: row
            .try_get::<Option<String>, _>("subject")
            .ctx(ctx)?
            .unwrap_or_default(),
        choices: choices(row, ctx)?,
        sent_at: from_ts(row.try_get("sent_at").ctx(ctx)?),
    })
}

impl SqliteStore {
    /// The sent messages of every contact in `contact_ids`, each contact's in
    /// recording order: one query for a claimed batch instead of one per
    /// message (the claim keeps the contacts to this sender until they end).
    pub(super) async fn past_sends_in(
        tx: &mut sqlx::SqliteConnection,
        contact_ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, Vec<PastSend>>> {
        let ctx = "reading claimed contacts' past sends";
        let mut qb = QueryBuilder::<Sqlite>::new(
            // `+state`: found by contact, never by walking every sent row
            // (SQLite's planner, without statistics, preferred the state
            // index, and each claim of a long drain read all sent rows).
            "SELECT id, contact_id, campaign, step, subject, variants, sent_at FROM sends
             WHERE +state = 'sent' AND contact_id IN (",
        );
        let mut ids = qb.separated(", ");
        for id in contact_ids {
            ids.push_bind(*id);
        }
        qb.push(") ORDER BY contact_id, coalesce(sent_seq, 0), sent_at, id");
        let mut past: std::collections::HashMap<i64, Vec<PastSend>> = Default::default();
        for row in qb.build().fetch_all(&mut *tx).await.ctx(ctx)? {
            let contact_id: i64 = row.try_get("contact_id").ctx(ctx)?;
            past.entry(contact_id)
                .or_default()
                .push(past_send(&row, ctx)?);
        }
        Ok(past)
    }

    pub(super) async fn history_rows(
        &self,
        contact_id: i64,
        before_send: Option<i64>,
    ) -> StoreResult<Vec<PastSend>> {
        let rows = sqlx::query(
            "SELECT id, campaign, step, subject, variants, sent_at FROM sends
             WHERE contact_id = ?1 AND state = 'sent' AND id IS NOT ?2
               AND coalesce(sent_seq, 0) < coalesce((SELECT sent_seq FROM sends WHERE id = ?2 AND state = 'sent'), 9223372036854775807)
             ORDER BY coalesce(sent_seq, 0), sent_at, id",
        )
        .bind(contact_id)
        .bind(before_send)
        .fetch_all(&self.pool)
        .await
        .ctx("reading a contact's history")?;
        let ctx = "reading a past send";
        rows.iter()
            .map(|row| {
                Ok(PastSend {
                    send_id: row.try_get("id").ctx(ctx)?,
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    step: row.try_get::<i64, _>("step").ctx(ctx)? as u32,
                    subject: row
                        .try_get::<Option<String>, _>("subject")
                        .ctx(ctx)?
                        .unwrap_or_default(),
                    choices: choices(row, ctx)?,
                    sent_at: from_ts(row.try_get("sent_at").ctx(ctx)?),
                })
            })
            .collect()
    }

    pub(super) async fn sent_message_rows(&self, campaign: &str) -> StoreResult<Vec<SentMessage>> {
        let rows = sqlx::query(
            "SELECT contact_id, campaign, step, subject, opener, body_text, variants, sent_at
             FROM sends
             WHERE state = 'sent'
               AND contact_id IN (SELECT contact_id FROM sends WHERE campaign = ? AND state = 'sent')
             ORDER BY contact_id, coalesce(sent_seq, 0), sent_at, id",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await
        .ctx("reading sent messages")?;
        let ctx = "reading a sent message";
        let text = |row: &SqliteRow, column: &str| -> StoreResult<String> {
            Ok(row
                .try_get::<Option<String>, _>(column)
                .ctx(ctx)?
                .unwrap_or_default())
        };
        rows.iter()
            .map(|row| {
                Ok(SentMessage {
                    contact_id: row.try_get("contact_id").ctx(ctx)?,
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    step: row.try_get::<i64, _>("step").ctx(ctx)? as u32,
                    subject: text(row, "subject")?,
                    opener: text(row, "opener")?,
                    text: text(row, "body_text")?,
                    choices: choices(row, ctx)?,
                    sent_at: from_ts(row.try_get("sent_at").ctx(ctx)?),
                })
            })
            .collect()
    }

    pub(super) async fn sample_contact_rows(
        &self,
        campaign: &str,
        selection: &Selection,
        limit: u32,
    ) -> StoreResult<Vec<Contact>> {
        let mut qb = QueryBuilder::new(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE {NOT_SUPPRESSED} AND (c.id IN (SELECT contact_id FROM enrollments WHERE campaign = "
        ));
        qb.push_bind(campaign.to_string());
        qb.push(") OR ");
        push_selection(&mut qb, selection);
        qb.push(") ORDER BY c.id LIMIT ");
        qb.push_bind(i64::from(limit));
        let rows = qb
            .build()
            .fetch_all(&self.pool)
            .await
            .ctx("sampling contacts")?;
        rows.iter().map(contact_from_row).collect()
    }
}
