//! Contacts on PostgreSQL: import (upsert), events and clicks, suppressions,
//! unsubscribes, attribute types and time zones.
//!
//! Several daemons and commands may write at once. Racing inserts of the
//! same email or the same event are no-ops or updates under the unique keys,
//! never errors; a batch takes its row locks in email order, so two imports
//! (or an import and an events file) never wait on each other in a circle.

use super::*;

/// Indexes of `items` in the order their rows are locked: by email, and in
/// file order within one email (a later row of the same contact still wins).
fn lock_order<T>(items: &[T], email: impl Fn(&T) -> &str) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| email(&items[a]).cmp(email(&items[b])));
    order
}

const MOVE_ACTIVITY_FORWARD: &str =
    "UPDATE contacts SET last_activity_at = greatest(last_activity_at, $1) WHERE id = $2";

impl ContactStore for PostgresStore {
    async fn upsert_contacts(
        &self,
        rows: &[NewContact],
        now: DateTime<Utc>,
    ) -> StoreResult<UpsertCounts> {
        let now = whole_second(now);
        let mut counts = UpsertCounts::default();
        let mut tx = self.pool.begin().await.ctx("importing contacts")?;
        for i in lock_order(rows, |r| r.email.as_str()) {
            let row = &rows[i];
            let tags = row
                .tags
                .as_ref()
                .map(|t| serde_json::Value::from(t.clone()));
            // SQLite merges with json_patch, where a null removes the key.
            let removed: Vec<String> = row
                .attributes
                .iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k.clone())
                .collect();
            // Activity only moves forward: an older export must not undo newer
            // events. `xmax = 0` tells a fresh row from an updated one.
            let inserted: bool = sqlx::query_scalar(
                "INSERT INTO contacts AS c (email, domain, name, created_at, last_activity_at, timezone, tags, attributes, updated_at)
                 VALUES ($1, $2, $3, coalesce($4, $9), $5, $6, coalesce($7, '[]'::jsonb), $8, $9)
                 ON CONFLICT (email) DO UPDATE SET
                    name = coalesce($3, c.name),
                    created_at = coalesce($4, c.created_at),
                    last_activity_at = greatest(c.last_activity_at, $5),
                    timezone = coalesce($6, c.timezone),
                    tags = coalesce($7, c.tags),
                    attributes = (c.attributes || $8) - $10::text[],
                    updated_at = $9
                 RETURNING (xmax = 0)",
            )
            .bind(row.email.as_str())
            .bind(row.email.domain())
            .bind(&row.name)
            .bind(row.created_at.map(whole_second))
            .bind(row.last_activity_at.map(whole_second))
            .bind(row.timezone.map(|tz| tz.name().to_string()))
            .bind(tags)
            .bind(serde_json::Value::Object(row.attributes.clone()))
            .bind(now)
            .bind(removed)
            .fetch_one(&mut *tx)
            .await
            .ctx("importing a contact")?;
            if inserted {
                counts.inserted += 1;
            } else {
                counts.updated += 1;
            }
        }
        super::segments::record_attribute_types(&mut tx, rows).await?;
        tx.commit().await.ctx("committing contacts")?;
        Ok(counts)
    }

    async fn contact_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Contact>> {
        let row = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a contact")?;
        row.as_ref().map(contact_from_row).transpose()
    }

    async fn contact_by_id(&self, id: i64) -> StoreResult<Option<Contact>> {
        let row = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.id = $1"
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
        let now = whole_second(now);
        let mut counts = EventCounts::default();
        let mut unknown = Vec::new();
        let mut tx = self.pool.begin().await.ctx("importing events")?;
        for i in lock_order(rows, |e| e.email.as_str()) {
            let event = &rows[i];
            let Some(contact_id) = Self::contact_id(&mut tx, event.email.as_str()).await? else {
                unknown.push((i, event.email.to_string()));
                continue;
            };
            let at = whole_second(event.at);
            let inserted = sqlx::query(
                "INSERT INTO events (contact_id, kind, at, detail, source, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(contact_id)
            .bind(event.kind.as_str())
            .bind(at)
            .bind(&event.detail)
            .bind(&event.source)
            .bind(now)
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
                    sqlx::query(MOVE_ACTIVITY_FORWARD)
                        .bind(at)
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
                if Self::insert_suppression(&mut tx, &s, at).await? {
                    counts.suppressions_added += 1;
                }
            }
        }
        tx.commit().await.ctx("committing events")?;
        // Reported in the file's order, as read.
        unknown.sort_by_key(|(i, _)| *i);
        counts.unknown_contacts = unknown.into_iter().map(|(_, email)| email).collect();
        Ok(counts)
    }

    async fn record_click(&self, click: &NewClick) -> StoreResult<()> {
        let at = whole_second(click.at);
        let mut tx = self.pool.begin().await.ctx("recording a click")?;
        // A signed link of a contact deleted since stores nothing.
        let inserted = sqlx::query(
            "INSERT INTO events (contact_id, kind, at, detail, source, created_at, send_id, method, user_agent, automated)
             SELECT id, $1, $2, $3, $4, $2, $5, $6, $7, $8 FROM contacts WHERE id = $9 ON CONFLICT DO NOTHING",
        )
        .bind(CLICK.kind)
        .bind(at)
        .bind(&click.detail)
        .bind(CLICK.source)
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
            sqlx::query(MOVE_ACTIVITY_FORWARD)
                .bind(at)
                .bind(click.contact_id)
                .execute(&mut *tx)
                .await
                .ctx("moving last activity forward")?;
        }
        tx.commit().await.ctx("committing a click")
    }

    async fn add_suppression(&self, s: &NewSuppression, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await.ctx("adding a suppression")?;
        Self::insert_suppression(&mut conn, s, whole_second(now)).await
    }

    async fn remove_suppression(&self, value: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM suppressions WHERE value = $1")
            .bind(value.trim().to_lowercase())
            .execute(&self.pool)
            .await
            .ctx("removing a suppression")?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_suppressions(&self) -> StoreResult<Vec<Suppression>> {
        // Byte order, as SQLite sorts, whatever the database's collation.
        let rows = sqlx::query(
            "SELECT value, scope, reason, source, detail, created_at FROM suppressions
             ORDER BY value COLLATE \"C\"",
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
        let now = whole_second(now);
        let mut tx = self.pool.begin().await.ctx("unsubscribing")?;
        let email: Option<String> = sqlx::query_scalar("SELECT email FROM contacts WHERE id = $1")
            .bind(request.contact_id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("unsubscribing")?;
        let Some(email) = email else {
            return Ok(UnsubscribeResult::UnknownContact);
        };
        // Two replays of the same link at once: the unique suppression, or the
        // row lock on the open passage, lets exactly one of them change anything.
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
                    "UPDATE enrollments SET exited_at = $1, exit_reason = 'unsubscribed'
                     WHERE campaign = $2 AND contact_id = $3 AND exited_at IS NULL",
                )
                .bind(now)
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
                 VALUES ($1, 'unsubscribe', $2, $3, $4, $2) ON CONFLICT DO NOTHING",
            )
            .bind(request.contact_id)
            .bind(now)
            .bind(&request.detail)
            .bind(&request.source)
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
        // In the order each zone was first seen, as SQLite's DISTINCT scan gives them.
        sqlx::query_scalar("SELECT timezone FROM contacts GROUP BY timezone ORDER BY min(id)")
            .fetch_all(&self.pool)
            .await
            .ctx("listing contact time zones")
    }
}

/// A row of `SELECT value, scope, reason, source, detail, created_at FROM suppressions`.
pub(super) fn suppression_from_row(row: &PgRow) -> StoreResult<Suppression> {
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
        created_at: row.try_get("created_at").ctx(ctx)?,
    })
}
