//! Contacts on SQLite: import (upsert), events and clicks, suppressions,
//! unsubscribes, attribute types and time zones.

use super::*;

impl ContactStore for SqliteStore {
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
        super::segments::record_attribute_types(&mut tx, rows).await?;
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
        rows.iter().map(suppression_from_row).collect()
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

    async fn attribute_types(&self) -> StoreResult<Vec<(String, Option<AttrType>)>> {
        super::segments::attribute_types(&self.pool).await
    }

    async fn contact_zones(&self) -> StoreResult<Vec<Option<String>>> {
        sqlx::query_scalar("SELECT DISTINCT timezone FROM contacts")
            .fetch_all(&self.pool)
            .await
            .ctx("listing contact time zones")
    }
}

/// A row of `SELECT value, scope, reason, source, detail, created_at FROM suppressions`.
pub(super) fn suppression_from_row(row: &SqliteRow) -> StoreResult<Suppression> {
    let ctx = "reading a suppression";
    let scope: String = row.try_get("scope").ctx(ctx)?;
    let reason: String = row.try_get("reason").ctx(ctx)?;
    Ok(Suppression {
        value: row.try_get("value").ctx(ctx)?,
        scope: if scope == "domain" {
            SuppressionScope::Domain
        } else {
            SuppressionScope::Address
        },
        reason: reason.parse().map_err(|detail| StoreError::Corrupt {
            context: ctx,
            detail,
        })?,
        source: row.try_get("source").ctx(ctx)?,
        detail: row.try_get("detail").ctx(ctx)?,
        created_at: from_ts(row.try_get("created_at").ctx(ctx)?),
    })
}
