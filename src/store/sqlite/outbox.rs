//! The outbox on SQLite: claim (with suppression and exit rules judged again
//! in the same transaction), the `claimed → sending` mark right before data
//! goes on the wire, results, recovery from dead senders, the relay's
//! breaker, and what `tend outbox` lists and settles.

use super::group;
use super::*;

/// Still due, for rows found by id (the claim's batch): the `+` keeps
/// SQLite from answering it with the `(state, next_at)` index, which made
/// each claim of a long drain walk every due row to find its hundred.
const STILL_DUE: &str = "+state IN ('queued', 'retry') AND +next_at <= ";

/// Back to the queue without counting an attempt (the claim counted one).
const UNCLAIM: &str = "state = CASE WHEN attempts > 1 THEN 'retry' ELSE 'queued' END,
     attempts = max(attempts - 1, 0), claimed_by = NULL, lease_until = NULL";

pub(super) fn parse_state(text: &str, context: &'static str) -> StoreResult<SendState> {
    text.parse()
        .map_err(|detail| StoreError::Corrupt { context, detail })
}

fn push_filter(qb: &mut QueryBuilder<'_, Sqlite>, filter: &OutboxFilter) {
    if !filter.states.is_empty() {
        qb.push(" AND s.state IN (");
        let mut states = qb.separated(", ");
        for state in &filter.states {
            states.push_bind(state.as_str());
        }
        qb.push(")");
    }
    if let Some(campaign) = &filter.campaign {
        qb.push(" AND s.campaign = ");
        qb.push_bind(campaign.clone());
    }
    if !filter.ids.is_empty() {
        qb.push(" AND s.id IN (");
        let mut ids = qb.separated(", ");
        for id in &filter.ids {
            ids.push_bind(*id);
        }
        qb.push(")");
    }
    if let Some(from) = filter.from {
        qb.push(" AND coalesce(s.wire_at, s.next_at) >= ");
        qb.push_bind(ts(from));
    }
    if let Some(to) = filter.to {
        qb.push(" AND coalesce(s.wire_at, s.next_at) < ");
        qb.push_bind(ts(to));
    }
}

impl OutboxStore for SqliteStore {
    async fn create_sends(&self, sends: &[NewSend], now: DateTime<Utc>) -> StoreResult<u64> {
        if sends.is_empty() {
            return Ok(0);
        }
        let mut created = 0;
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("queueing sends")?;
        // Many rows per statement (SQLite allows 32,766 bound values; eight
        // per row): one statement per row dominated large ticks.
        for chunk in sends.chunks(1000) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO sends (enrollment_id, contact_id, campaign, step, template, state, due_at, next_at, created_at) ",
            );
            qb.push_values(chunk, |mut row, send| {
                row.push_bind(send.enrollment_id)
                    .push_bind(send.contact_id)
                    .push_bind(&send.campaign)
                    .push_bind(send.step as i64)
                    .push_bind(&send.template)
                    .push("'queued'")
                    .push_bind(ts(send.due_at))
                    .push_bind(ts(send.due_at))
                    .push_bind(ts(now));
            });
            qb.push(" ON CONFLICT (enrollment_id, step) DO NOTHING");
            created += qb
                .build()
                .execute(&mut *tx)
                .await
                .ctx("queueing sends")?
                .rows_affected();
        }
        tx.commit().await.ctx("committing queued sends")?;
        Ok(created)
    }

    async fn send_history(&self, since: DateTime<Utc>) -> StoreResult<Vec<HistoryItem>> {
        // In-flight rows count at their due time: they are about to go out.
        let rows = sqlx::query(
            "SELECT contact_id, campaign, coalesce(sent_at, next_at) AS at FROM sends
             WHERE state IN ('sent', 'queued', 'claimed', 'sending', 'retry', 'in_doubt')
               AND coalesce(sent_at, next_at) > ?",
        )
        .bind(ts(since))
        .fetch_all(&self.pool)
        .await
        .ctx("reading send history")?;
        rows.iter()
            .map(|row| {
                let ctx = "reading send history";
                Ok(HistoryItem {
                    contact_id: row.try_get("contact_id").ctx(ctx)?,
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    at: from_ts(row.try_get("at").ctx(ctx)?),
                })
            })
            .collect()
    }

    async fn claim(&self, request: &ClaimRequest) -> StoreResult<Claim> {
        let now = ts(request.now);
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("claiming sends")?;
        let mut limit = request.limit as i64;
        let mut capped = false;
        if let Some(cap) = request.daily_cap {
            // Sent today, or on their way by any sender.
            let used: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sends WHERE sent_at >= ? OR state IN ('claimed', 'sending')",
            )
            .bind(ts(cap.since))
            .fetch_one(&mut *tx)
            .await
            .ctx("counting today's sends")?;
            let left = (cap.cap as i64 - used).max(0);
            capped = left == 0;
            limit = limit.min(left);
        }
        // The rows next in line are the batch; everything judged at claim
        // time is judged for the batch only, so a claim costs the same
        // whether ten or a million rows are due. A batch that the judgement
        // empties entirely (all suppressed, ended or paused: no longer due)
        // makes way for the next one.
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS claim_batch (
                 id INTEGER PRIMARY KEY, enrollment_id INTEGER NOT NULL, contact_id INTEGER NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .ctx("claiming sends")?;
        let mut suppressed: Vec<i64> = Vec::new();
        let mut cancelled = 0;
        let claimed = loop {
            sqlx::query("DELETE FROM temp.claim_batch")
                .execute(&mut *tx)
                .await
                .ctx("claiming sends")?;
            // A contact is worked on by one sender at a time, so caps and
            // variant history see every message that already went to them.
            // Each state's rows come in (next_at, id) order from the
            // `(state, next_at)` index and are merged: no claim sorts every
            // due row (a million due rows made each claim of a drain do so).
            const ALONE: &str =
                "NOT EXISTS (SELECT 1 FROM sends o WHERE o.contact_id = sd.contact_id
                                 AND o.state IN ('claimed', 'sending'))";
            let candidates = sqlx::query(&format!(
                "INSERT INTO temp.claim_batch (id, enrollment_id, contact_id)
                 SELECT id, enrollment_id, contact_id FROM (
                     SELECT sd.id, sd.enrollment_id, sd.contact_id, sd.next_at FROM sends sd
                     WHERE sd.state = 'queued' AND sd.next_at <= ?1 AND {ALONE}
                     UNION ALL
                     SELECT sd.id, sd.enrollment_id, sd.contact_id, sd.next_at FROM sends sd
                     WHERE sd.state = 'retry' AND sd.next_at <= ?1 AND {ALONE}
                     ORDER BY 4, 1 LIMIT ?2)"
            ))
            .bind(now)
            .bind(limit)
            .execute(&mut *tx)
            .await
            .ctx("choosing the sends to claim")?
            .rows_affected();
            if candidates == 0 {
                break Vec::new();
            }
            // An unsubscribe between plan and send must win: check at claim time.
            let newly: Vec<i64> = sqlx::query_scalar(&format!(
                "UPDATE sends SET state = 'suppressed', finished_at = ?1, lease_until = NULL,
                        hold_reason = NULL, last_error = 'recipient is suppressed'
                 WHERE {STILL_DUE} ?1 AND id IN (
                     SELECT b.id FROM temp.claim_batch b JOIN contacts c ON c.id = b.contact_id
                     WHERE EXISTS (SELECT 1 FROM suppressions s WHERE s.value IN (c.email, c.domain)))
                 RETURNING enrollment_id"
            ))
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .ctx("suppressing due sends")?;
            for enrollment in &newly {
                sqlx::query(
                    "UPDATE enrollments SET exited_at = ?, exit_reason = 'suppressed' WHERE id = ? AND exited_at IS NULL",
                )
                .bind(now)
                .bind(enrollment)
                .execute(&mut *tx)
                .await
                .ctx("ending a suppressed enrollment")?;
            }
            suppressed.extend(newly);
            // Exit rules are judged again for the passages about to get a
            // message: a purchase or reply since the tick ends the passage
            // before it does.
            for (campaign, rule) in &request.exits {
                apply_exits(&mut tx, campaign, rule, request.now, true, true).await?;
            }
            cancelled += sqlx::query(&format!(
                "UPDATE sends SET state = 'cancelled', finished_at = ?1, lease_until = NULL, hold_reason = NULL,
                        last_error = 'passage ended before sending: ' ||
                            coalesce((SELECT exit_reason FROM enrollments e WHERE e.id = sends.enrollment_id), 'ended')
                 WHERE {STILL_DUE} ?1 AND id IN (
                     SELECT b.id FROM temp.claim_batch b JOIN enrollments e ON e.id = b.enrollment_id
                     WHERE e.exited_at IS NOT NULL)"
            ))
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx("cancelling sends of ended enrollments")?
            .rows_affected();
            // Rows for paused (deferring) domains wait until the pause ends,
            // and say so; the wait does not eat their retry budget.
            sqlx::query(&format!(
                "UPDATE sends SET
                     next_at = (SELECT h.paused_until FROM domain_health h JOIN contacts c ON c.domain = h.domain
                                WHERE c.id = sends.contact_id),
                     held_seconds = held_seconds + (SELECT h.paused_until FROM domain_health h JOIN contacts c ON c.domain = h.domain
                                WHERE c.id = sends.contact_id) - ?1,
                     hold_reason = 'domain_paused'
                 WHERE {STILL_DUE} ?1 AND id IN (
                     SELECT b.id FROM temp.claim_batch b JOIN contacts c ON c.id = b.contact_id
                     JOIN domain_health h ON h.domain = c.domain WHERE h.paused_until > ?1)"
            ))
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx("holding sends of paused domains")?;
            let claimed = sqlx::query(&format!(
                "UPDATE sends SET state = 'claimed', claimed_by = ?1, lease_until = ?2, attempts = attempts + 1
                 WHERE {STILL_DUE} ?3 AND id IN (SELECT id FROM temp.claim_batch)
                 RETURNING id, enrollment_id, contact_id, campaign, step, template, attempts, refusals, due_at, held_seconds"
            ))
            .bind(&request.worker)
            .bind(ts(request.lease_until))
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .ctx("claiming due sends")?;
            if !claimed.is_empty() {
                break claimed;
            }
        };
        let mut sends = Vec::with_capacity(claimed.len());
        if !claimed.is_empty() {
            let ctx = "reading a claimed send";
            let contact_ids: Vec<i64> = claimed
                .iter()
                .map(|row| row.try_get::<i64, _>("contact_id").ctx(ctx))
                .collect::<StoreResult<_>>()?;
            let mut qb = QueryBuilder::new(format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.id IN ("
            ));
            let mut ids = qb.separated(", ");
            for id in &contact_ids {
                ids.push_bind(*id);
            }
            qb.push(")");
            let contacts: std::collections::HashMap<i64, Contact> = qb
                .build()
                .fetch_all(&mut *tx)
                .await
                .ctx("loading claimed contacts")?
                .iter()
                .map(|row| contact_from_row(row).map(|c| (c.id, c)))
                .collect::<StoreResult<_>>()?;
            let mut recent: std::collections::HashMap<i64, Vec<HistoryItem>> = Default::default();
            if let Some(since) = request.history_since {
                // What already left (or may have): messages on the wire count.
                let mut qb = QueryBuilder::new(
                    // `+state`: found by contact, not by walking every sent row.
                    "SELECT contact_id, campaign, coalesce(sent_at, wire_at) AS at FROM sends
                     WHERE +state IN ('sent', 'sending', 'in_doubt') AND coalesce(sent_at, wire_at) > ",
                );
                qb.push_bind(ts(since));
                qb.push(" AND contact_id IN (");
                let mut ids = qb.separated(", ");
                for id in &contact_ids {
                    ids.push_bind(*id);
                }
                qb.push(")");
                for row in qb
                    .build()
                    .fetch_all(&mut *tx)
                    .await
                    .ctx("loading claimed contacts' history")?
                {
                    let contact_id: i64 = row.try_get("contact_id").ctx(ctx)?;
                    recent.entry(contact_id).or_default().push(HistoryItem {
                        contact_id,
                        campaign: row.try_get("campaign").ctx(ctx)?,
                        at: from_ts(row.try_get("at").ctx(ctx)?),
                    });
                }
            }
            let past = Self::past_sends_in(&mut tx, &contact_ids).await?;
            for (row, contact_id) in claimed.iter().zip(contact_ids) {
                let contact = contacts
                    .get(&contact_id)
                    .cloned()
                    .ok_or(StoreError::Corrupt {
                        context: ctx,
                        detail: format!("send refers to missing contact {contact_id}"),
                    })?;
                sends.push(ClaimedSend {
                    id: row.try_get("id").ctx(ctx)?,
                    enrollment_id: row.try_get("enrollment_id").ctx(ctx)?,
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    step: row.try_get::<i64, _>("step").ctx(ctx)? as u32,
                    template: row.try_get("template").ctx(ctx)?,
                    attempts: row.try_get::<i64, _>("attempts").ctx(ctx)? as u32,
                    refusals: row.try_get::<i64, _>("refusals").ctx(ctx)? as u32,
                    due_at: from_ts(row.try_get("due_at").ctx(ctx)?),
                    held_for: chrono::Duration::seconds(row.try_get("held_seconds").ctx(ctx)?),
                    recent: recent.get(&contact_id).cloned().unwrap_or_default(),
                    // A contact's sends of one claim share its past; the
                    // sender adds what it sends in between.
                    past: past.get(&contact_id).cloned().unwrap_or_default(),
                    contact,
                });
            }
        }
        tx.commit().await.ctx("committing a claim")?;
        Ok(Claim {
            sends,
            suppressed: suppressed.len() as u64,
            cancelled,
            capped,
        })
    }

    async fn mark_sending(
        &self,
        send_id: i64,
        worker: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<MarkResult> {
        match self
            .writer
            .write(group::Op::Mark {
                send_id,
                worker: worker.to_string(),
                message_id: message_id.to_string(),
                now: ts(now),
            })
            .await?
        {
            group::Done::Marked(result) => Ok(result),
            group::Done::Recorded => Err(StoreError::Corrupt {
                context: "marking a send as on the wire",
                detail: "the grouped write answered with a record".into(),
            }),
        }
    }

    async fn record(
        &self,
        send_id: i64,
        outcome: &SendOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer
            .write(group::Op::Record {
                send_id,
                outcome: outcome.clone(),
                now: ts(now),
            })
            .await
            .map(|_| ())
    }

    async fn heartbeat(&self, worker: &WorkerInfo, now: DateTime<Utc>) -> StoreResult<()> {
        let _write = self.write_lock.lock().await;
        sqlx::query(
            "INSERT INTO workers (id, host, boot_id, pid, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = ?6",
        )
        .bind(&worker.id)
        .bind(&worker.host)
        .bind(&worker.boot_id)
        .bind(worker.pid as i64)
        .bind(worker.started_at as i64)
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .ctx("recording a sender's heartbeat")?;
        Ok(())
    }

    async fn workers(&self) -> StoreResult<Vec<WorkerInfo>> {
        let ctx = "reading senders";
        let rows = sqlx::query(
            "SELECT id, host, boot_id, pid, started_at, heartbeat_at FROM workers ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        rows.iter()
            .map(|row| {
                Ok(WorkerInfo {
                    id: row.try_get("id").ctx(ctx)?,
                    host: row.try_get("host").ctx(ctx)?,
                    boot_id: row.try_get("boot_id").ctx(ctx)?,
                    pid: row.try_get::<i64, _>("pid").ctx(ctx)? as u32,
                    started_at: row.try_get::<i64, _>("started_at").ctx(ctx)? as u64,
                    heartbeat_at: from_ts(row.try_get("heartbeat_at").ctx(ctx)?),
                })
            })
            .collect()
    }

    async fn recover(&self, dead: &[String], now: DateTime<Utc>) -> StoreResult<Recovered> {
        let ctx = "taking back the rows of stopped senders";
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.ctx(ctx)?;
        // Whose rows: a dead sender's, or an unknown owner's once its lease ran out.
        let owner = |qb: &mut QueryBuilder<'_, Sqlite>| {
            qb.push(" AND (claimed_by IS NULL OR (claimed_by NOT IN (SELECT id FROM workers) AND lease_until <= ");
            qb.push_bind(ts(now));
            qb.push(")");
            if !dead.is_empty() {
                qb.push(" OR claimed_by IN (");
                let mut ids = qb.separated(", ");
                for id in dead {
                    ids.push_bind(id.clone());
                }
                qb.push(")");
            }
            qb.push(")");
        };
        let mut qb = QueryBuilder::new(format!(
            "UPDATE sends SET {UNCLAIM} WHERE state = 'claimed'"
        ));
        owner(&mut qb);
        let released = qb.build().execute(&mut *tx).await.ctx(ctx)?.rows_affected();
        let mut qb = QueryBuilder::new(
            "UPDATE sends SET state = 'in_doubt', lease_until = NULL,
                 last_error = 'its sender stopped after handing the message to the server and before recording the answer: it may have been accepted; not resent (see tend outbox)'
             WHERE state = 'sending'",
        );
        owner(&mut qb);
        let in_doubt = qb.build().execute(&mut *tx).await.ctx(ctx)?.rows_affected();
        if !dead.is_empty() {
            let mut qb = QueryBuilder::new("DELETE FROM workers WHERE id IN (");
            let mut ids = qb.separated(", ");
            for id in dead {
                ids.push_bind(id.clone());
            }
            qb.push(")");
            qb.build().execute(&mut *tx).await.ctx(ctx)?;
        }
        tx.commit().await.ctx(ctx)?;
        Ok(Recovered { released, in_doubt })
    }

    async fn soft_bounces(
        &self,
        contact_id: i64,
        bouncing: Option<i64>,
    ) -> StoreResult<Vec<DateTime<Utc>>> {
        // A message the relay accepted may still bounce later (by mail): only
        // one no bounce came back for shows the mailbox took mail again.
        let times: Vec<i64> = sqlx::query_scalar(
            "SELECT at FROM smtp_failures
             WHERE contact_id = ?1 AND verdict = 'soft_bounce'
               AND at > coalesce((SELECT max(s.sent_at) FROM sends s
                                  WHERE s.contact_id = ?1 AND s.state = 'sent'
                                    AND s.id IS NOT ?2
                                    AND NOT EXISTS (SELECT 1 FROM smtp_failures f WHERE f.send_id = s.id)), 0)
             ORDER BY at",
        )
        .bind(contact_id)
        .bind(bouncing)
        .fetch_all(&self.pool)
        .await
        .ctx("reading soft bounces")?;
        Ok(times.into_iter().map(from_ts).collect())
    }

    async fn find_send(
        &self,
        campaign: &str,
        contact_id: i64,
        step: u32,
    ) -> StoreResult<Option<SendRow>> {
        let row = sqlx::query(
            "SELECT s.id, s.enrollment_id, s.state, s.sent_at FROM sends s
             JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = ? AND e.contact_id = ? AND s.step = ?
             ORDER BY e.id DESC LIMIT 1",
        )
        .bind(campaign)
        .bind(contact_id)
        .bind(step as i64)
        .fetch_optional(&self.pool)
        .await
        .ctx("finding a send")?;
        let Some(row) = row else { return Ok(None) };
        let ctx = "reading a send";
        let state: String = row.try_get("state").ctx(ctx)?;
        Ok(Some(SendRow {
            id: row.try_get("id").ctx(ctx)?,
            enrollment_id: row.try_get("enrollment_id").ctx(ctx)?,
            state: state.parse().map_err(|detail| StoreError::Corrupt {
                context: ctx,
                detail,
            })?,
            sent_at: row
                .try_get::<Option<i64>, _>("sent_at")
                .ctx(ctx)?
                .map(from_ts),
        }))
    }

    async fn history(
        &self,
        contact_id: i64,
        before_send: Option<i64>,
    ) -> StoreResult<Vec<PastSend>> {
        self.history_rows(contact_id, before_send).await
    }

    async fn outbox_rows(&self, filter: &OutboxFilter) -> StoreResult<Vec<OutboxRow>> {
        let ctx = "listing the outbox";
        let mut qb = QueryBuilder::new(
            "SELECT s.id, s.campaign, s.step, c.email, s.state, s.attempts, s.refusals, s.due_at, s.next_at,
                    s.hold_reason, s.message_id, s.wire_at, s.sent_at, s.last_error, s.note, s.claimed_by
             FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE 1",
        );
        push_filter(&mut qb, filter);
        qb.push(" ORDER BY coalesce(s.wire_at, s.next_at), s.id");
        if let Some(limit) = filter.limit {
            qb.push(" LIMIT ");
            qb.push_bind(limit as i64);
        }
        let rows = qb.build().fetch_all(&self.pool).await.ctx(ctx)?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state").ctx(ctx)?;
                let hold: Option<String> = row.try_get("hold_reason").ctx(ctx)?;
                Ok(OutboxRow {
                    id: row.try_get("id").ctx(ctx)?,
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    step: row.try_get::<i64, _>("step").ctx(ctx)? as u32,
                    email: row.try_get("email").ctx(ctx)?,
                    state: parse_state(&state, ctx)?,
                    attempts: row.try_get::<i64, _>("attempts").ctx(ctx)? as u32,
                    refusals: row.try_get::<i64, _>("refusals").ctx(ctx)? as u32,
                    due_at: from_ts(row.try_get("due_at").ctx(ctx)?),
                    next_at: from_ts(row.try_get("next_at").ctx(ctx)?),
                    hold_reason: hold
                        .map(|h| {
                            h.parse().map_err(|detail| StoreError::Corrupt {
                                context: ctx,
                                detail,
                            })
                        })
                        .transpose()?,
                    message_id: row.try_get("message_id").ctx(ctx)?,
                    wire_at: row
                        .try_get::<Option<i64>, _>("wire_at")
                        .ctx(ctx)?
                        .map(from_ts),
                    sent_at: row
                        .try_get::<Option<i64>, _>("sent_at")
                        .ctx(ctx)?
                        .map(from_ts),
                    last_error: row.try_get("last_error").ctx(ctx)?,
                    note: row.try_get("note").ctx(ctx)?,
                    claimed_by: row.try_get("claimed_by").ctx(ctx)?,
                })
            })
            .collect()
    }

    async fn settle(
        &self,
        filter: &OutboxFilter,
        how: Settle,
        note: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let ctx = "settling in-doubt sends";
        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.ctx(ctx)?;
        let mut qb = QueryBuilder::new(match how {
            Settle::Sent => {
                "UPDATE sends SET state = 'sent', sent_at = coalesce(wire_at, next_at), finished_at = "
            }
            // Due again at once (its old due time), whatever the caller's clock.
            Settle::Requeue => {
                "UPDATE sends SET state = 'queued', claimed_by = NULL, next_at = min(next_at, "
            }
        });
        qb.push_bind(ts(now));
        if how == Settle::Requeue {
            qb.push(")");
        }
        if how == Settle::Sent {
            qb.push(
                ", smtp_response = 'settled as sent by an operator',
                   sent_seq = (SELECT coalesce(max(sent_seq), 0) + 1 FROM sends WHERE sent_seq IS NOT NULL)",
            );
        }
        qb.push(", note = ");
        qb.push_bind(format!(
            "{} {}: {note}",
            from_ts(ts(now)).to_rfc3339(),
            match how {
                Settle::Sent => "settled as sent",
                Settle::Requeue => "requeued",
            }
        ));
        qb.push(" WHERE id IN (SELECT s.id FROM sends s WHERE s.state = 'in_doubt'");
        push_filter(&mut qb, filter);
        qb.push(")");
        let n = qb.build().execute(&mut *tx).await.ctx(ctx)?.rows_affected();
        tx.commit().await.ctx(ctx)?;
        Ok(n)
    }

    async fn sent_since(&self, since: DateTime<Utc>) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sends WHERE sent_at >= ?")
            .bind(ts(since))
            .fetch_one(&self.pool)
            .await
            .ctx("counting recent sends")?;
        Ok(n as u64)
    }

    async fn first_sent_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let first: Option<i64> = sqlx::query_scalar("SELECT min(sent_at) FROM sends")
            .fetch_one(&self.pool)
            .await
            .ctx("finding the first send")?;
        Ok(first.map(from_ts))
    }
}
