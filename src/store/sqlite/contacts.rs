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
        // Statements go to SQLite through the pool's worker thread, a
        // hand-off and back for each: two per row made a million-row import
        // take minutes. The chunk's addresses are looked up a set at a time
        // and its new contacts inserted a set at a time; rows already there
        // (and a second row for an address earlier in the same chunk) are
        // updated one by one, in the file's order.
        let mut known: std::collections::HashMap<&str, Option<i64>> = Default::default();
        for part in rows.chunks(SET) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("SELECT email, id FROM contacts WHERE email IN (");
            let mut emails = qb.separated(", ");
            for row in part {
                emails.push_bind(row.email.as_str());
            }
            qb.push(")");
            let found: Vec<(String, i64)> = qb
                .build_query_as()
                .fetch_all(&mut *tx)
                .await
                .ctx("looking up contacts")?;
            let found: std::collections::HashMap<String, i64> = found.into_iter().collect();
            for row in part {
                let email = row.email.as_str();
                if !known.contains_key(email) {
                    known.insert(email, found.get(email).copied());
                }
            }
        }
        let mut pending: Vec<&NewContact> = Vec::new();
        // Addresses waiting in `pending`, and those inserted since their lookup.
        let mut pending_emails: std::collections::HashSet<&str> = Default::default();
        let mut inserted: std::collections::HashSet<&str> = Default::default();
        for row in rows {
            let email = row.email.as_str();
            if pending_emails.contains(email) || pending.len() == SET {
                insert_contacts(&mut tx, &pending, now).await?;
                counts.inserted += pending.len() as u64;
                pending.clear();
                inserted.extend(pending_emails.drain());
            }
            if inserted.remove(email) {
                // Updated after the row that created it.
                let id = Self::contact_id(&mut tx, email).await?;
                known.insert(email, id);
            }
            match known.get(email).copied().flatten() {
                None => {
                    pending.push(row);
                    pending_emails.insert(email);
                }
                Some(id) => {
                    update_contact(&mut tx, id, row, now).await?;
                    counts.updated += 1;
                }
            }
        }
        insert_contacts(&mut tx, &pending, now).await?;
        counts.inserted += pending.len() as u64;
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

/// Rows per set lookup or insert (9 values a row, well under SQLite's limit
/// of 32,766 bound values).
const SET: usize = 500;

fn tags_json(row: &NewContact) -> Option<String> {
    row.tags
        .as_ref()
        .map(|t| serde_json::Value::from(t.clone()).to_string())
}

fn attributes_json(row: &NewContact) -> String {
    serde_json::Value::Object(row.attributes.clone()).to_string()
}

/// New contacts, in one statement.
async fn insert_contacts(
    tx: &mut sqlx::SqliteConnection,
    rows: &[&NewContact],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(
        "INSERT INTO contacts (email, domain, name, created_at, last_activity_at, timezone, tags, attributes, updated_at) ",
    );
    qb.push_values(rows, |mut b, row| {
        b.push_bind(row.email.as_str())
            .push_bind(row.email.domain())
            .push_bind(&row.name)
            .push_bind(ts(row.created_at.unwrap_or(now)))
            .push_bind(row.last_activity_at.map(ts))
            .push_bind(row.timezone.map(|tz| tz.name().to_string()))
            .push("coalesce(")
            .push_bind_unseparated(tags_json(row))
            .push_unseparated(", '[]')")
            .push_bind(attributes_json(row))
            .push_bind(ts(now));
    });
    qb.build()
        .execute(&mut *tx)
        .await
        .ctx("inserting contacts")?;
    Ok(())
}

/// A contact already there. Activity only moves forward: an older export
/// must not undo newer events.
async fn update_contact(
    tx: &mut sqlx::SqliteConnection,
    id: i64,
    row: &NewContact,
    now: DateTime<Utc>,
) -> StoreResult<()> {
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
    .bind(row.timezone.map(|tz| tz.name().to_string()))
    .bind(tags_json(row))
    .bind(attributes_json(row))
    .bind(ts(now))
    .bind(id)
    .execute(&mut *tx)
    .await
    .ctx("updating a contact")?;
    Ok(())
}
