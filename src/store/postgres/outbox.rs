//! The outbox on PostgreSQL, where several daemons work on it at once:
//! every claim takes rows with `FOR UPDATE SKIP LOCKED` (a row another
//! daemon is taking is skipped, never waited for), suppression and exit
//! rules are judged again in the claim, the `claimed → sending` mark is a
//! row-locked check right before data goes on the wire, and `sent_seq` comes
//! from a sequence.

use super::*;

/// Rows that may be claimed now. Queued and retry rows have no lease and
/// no end: saying so lets the claim read the `sends_due` index, whose
/// predicate names no column the `sending` mark changes (see migration
/// 0008).
const DUE: &str =
    "lease_until IS NULL AND finished_at IS NULL AND state IN ('queued', 'retry') AND next_at <= ";

/// Takes the rows a step of the claim settled out of the batch.
fn settled(ids: &mut Vec<i64>, done: impl IntoIterator<Item = i64>) {
    let done: std::collections::HashSet<i64> = done.into_iter().collect();
    if !done.is_empty() {
        ids.retain(|id| !done.contains(id));
    }
}

/// Back to the queue without counting an attempt (the claim counted one).
const UNCLAIM: &str = "state = CASE WHEN attempts > 1 THEN 'retry' ELSE 'queued' END,
     attempts = greatest(attempts - 1, 0), claimed_by = NULL, lease_until = NULL";

fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, filter: &OutboxFilter) {
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
        qb.push_bind(from);
    }
    if let Some(to) = filter.to {
        qb.push(" AND coalesce(s.wire_at, s.next_at) < ");
        qb.push_bind(to);
    }
}

async fn insert_failure(
    tx: &mut sqlx::PgConnection,
    send_id: i64,
    failure: &FailureRecord,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO smtp_failures (send_id, contact_id, at, phase, verdict, reason, reply)
         SELECT id, contact_id, $2, $3, $4, $5, $6 FROM sends WHERE id = $1",
    )
    .bind(send_id)
    .bind(now)
    .bind(&failure.phase)
    .bind(&failure.verdict)
    .bind(&failure.reason)
    .bind(&failure.reply)
    .execute(tx)
    .await
    .ctx("recording an SMTP failure")?;
    Ok(())
}

/// The columns a claimed row is read with.
const CLAIMED: &str = "id, enrollment_id, contact_id, campaign, step, template, attempts, refusals, due_at, held_seconds";

impl OutboxStore for PostgresStore {
    async fn create_sends(&self, sends: &[NewSend], now: DateTime<Utc>) -> StoreResult<u64> {
        if sends.is_empty() {
            return Ok(0);
        }
        // One statement for the whole batch; a row whose (enrollment, step)
        // exists — queued by another daemon a moment ago — is skipped.
        let created = sqlx::query(
            "INSERT INTO sends (enrollment_id, contact_id, campaign, step, template, state, due_at, next_at, created_at)
             SELECT e, c, camp, st, tpl, 'queued', due, due, $7
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::timestamptz[])
                  AS t(e, c, camp, st, tpl, due)
             ON CONFLICT (enrollment_id, step) DO NOTHING",
        )
        .bind(sends.iter().map(|s| s.enrollment_id).collect::<Vec<_>>())
        .bind(sends.iter().map(|s| s.contact_id).collect::<Vec<_>>())
        .bind(sends.iter().map(|s| s.campaign.clone()).collect::<Vec<_>>())
        .bind(sends.iter().map(|s| s.step as i32).collect::<Vec<_>>())
        .bind(sends.iter().map(|s| s.template.clone()).collect::<Vec<_>>())
        .bind(sends.iter().map(|s| whole_second(s.due_at)).collect::<Vec<_>>())
        .bind(whole_second(now))
        .execute(&self.pool)
        .await
        .ctx("queueing sends")?
        .rows_affected();
        Ok(created)
    }

    async fn send_history(&self, since: DateTime<Utc>) -> StoreResult<Vec<HistoryItem>> {
        // In-flight rows count at their due time: they are about to go out.
        let rows = sqlx::query(
            "SELECT contact_id, campaign, coalesce(sent_at, next_at) AS at FROM sends
             WHERE state IN ('sent', 'queued', 'claimed', 'sending', 'retry', 'in_doubt')
               AND coalesce(sent_at, next_at) > $1",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .ctx("reading send history")?;
        rows.iter()
            .map(|row| {
                let ctx = "reading send history";
                Ok(HistoryItem {
                    contact_id: row.try_get("contact_id").ctx(ctx)?,
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    at: row.try_get("at").ctx(ctx)?,
                })
            })
            .collect()
    }

    async fn claim(&self, request: &ClaimRequest) -> StoreResult<Claim> {
        let now = whole_second(request.now);
        let mut tx = self.pool.begin().await.ctx("claiming sends")?;
        let mut limit = i64::from(request.limit);
        let mut capped = false;
        if let Some(cap) = request.daily_cap {
            // One claimer at a time counts today's sends, so daemons share the cap.
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(DAILY_CAP_LOCK)
                .execute(&mut *tx)
                .await
                .ctx("taking the warm-up cap's lock")?;
            let used: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sends WHERE sent_at >= $1 OR state IN ('claimed', 'sending')",
            )
            .bind(cap.since)
            .fetch_one(&mut *tx)
            .await
            .ctx("counting today's sends")?;
            let left = (cap.cap as i64 - used).max(0);
            capped = left == 0;
            limit = limit.min(left);
        }
        // The rows next in line, locked for this claim (others' are skipped),
        // are the batch; everything judged at claim time is judged for the
        // batch only, so a claim costs the same whether ten or a million rows
        // are due. A batch the judgement empties entirely (all suppressed,
        // ended or paused: no longer due) makes way for the next one.
        let mut suppressed: Vec<i64> = Vec::new();
        let mut cancelled = 0;
        let claimed = loop {
            // A contact is worked on by one sender at a time, so caps and
            // variant history see every message that already went to them.
            let batch: Vec<(i64, i64)> = sqlx::query_as(&format!(
                "SELECT sd.id, sd.enrollment_id FROM sends sd
                 WHERE {DUE} $1
                   AND NOT EXISTS (SELECT 1 FROM sends o WHERE o.contact_id = sd.contact_id
                                   AND o.state IN ('claimed', 'sending'))
                 ORDER BY sd.next_at, sd.id LIMIT $2
                 FOR UPDATE SKIP LOCKED"
            ))
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .ctx("choosing the sends to claim")?;
            if batch.is_empty() {
                break Vec::new();
            }
            // The batch's rows stay locked by this transaction: what each
            // step below settles is taken out of `ids`, and the steps find
            // the rest by id alone (a due-range condition here let the
            // planner, with statistics older than the tick's rows, walk
            // every due row for each claim).
            let mut ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
            let enrollments: Vec<i64> = batch.iter().map(|(_, e)| *e).collect();
            // An unsubscribe between plan and send must win: check at claim time.
            let newly: Vec<(i64, i64)> = sqlx::query_as(
                "UPDATE sends SET state = 'suppressed', finished_at = $1, lease_until = NULL,
                        hold_reason = NULL, last_error = 'recipient is suppressed'
                 FROM contacts c
                 WHERE sends.id = ANY($2) AND c.id = sends.contact_id
                   AND EXISTS (SELECT 1 FROM suppressions s WHERE s.value IN (c.email, c.domain))
                 RETURNING sends.id, sends.enrollment_id",
            )
            .bind(now)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .ctx("suppressing due sends")?;
            settled(&mut ids, newly.iter().map(|(id, _)| *id));
            let newly: Vec<i64> = newly.into_iter().map(|(_, e)| e).collect();
            if !newly.is_empty() {
                sqlx::query(
                    "UPDATE enrollments SET exited_at = $1, exit_reason = 'suppressed'
                     WHERE id = ANY($2) AND exited_at IS NULL",
                )
                .bind(now)
                .bind(&newly)
                .execute(&mut *tx)
                .await
                .ctx("ending suppressed enrollments")?;
            }
            suppressed.extend(newly);
            // Exit rules are judged again for the passages about to get a
            // message: a purchase or reply since the tick ends the passage
            // before it does.
            for (campaign, rule) in &request.exits {
                apply_exits(&mut tx, campaign, rule, now, true, Some(&enrollments)).await?;
            }
            let ended: Vec<i64> = sqlx::query_scalar(
                "UPDATE sends SET state = 'cancelled', finished_at = $1, lease_until = NULL, hold_reason = NULL,
                        last_error = 'passage ended before sending: ' || coalesce(e.exit_reason, 'ended')
                 FROM enrollments e
                 WHERE sends.id = ANY($2) AND e.id = sends.enrollment_id AND e.exited_at IS NOT NULL
                 RETURNING sends.id",
            )
            .bind(now)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .ctx("cancelling sends of ended enrollments")?;
            cancelled += ended.len() as u64;
            settled(&mut ids, ended);
            // Rows for paused (deferring) domains wait until the pause ends,
            // and say so; the wait does not eat their retry budget.
            let paused: Vec<i64> = sqlx::query_scalar(
                "UPDATE sends SET next_at = h.paused_until,
                        held_seconds = held_seconds + extract(epoch FROM (h.paused_until - $1))::bigint,
                        hold_reason = 'domain_paused'
                 FROM contacts c JOIN domain_health h ON h.domain = c.domain
                 WHERE sends.id = ANY($2) AND c.id = sends.contact_id AND h.paused_until > $1
                 RETURNING sends.id",
            )
            .bind(now)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .ctx("holding sends of paused domains")?;
            settled(&mut ids, paused);
            if ids.is_empty() {
                continue;
            }
            let claimed = sqlx::query(&format!(
                "UPDATE sends SET state = 'claimed', claimed_by = $1, lease_until = $2, attempts = attempts + 1
                 WHERE id = ANY($3)
                 RETURNING {CLAIMED}"
            ))
            .bind(&request.worker)
            .bind(whole_second(request.lease_until))
            .bind(&ids)
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
            let contacts: std::collections::HashMap<i64, Contact> = sqlx::query(&format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.id = ANY($1)"
            ))
            .bind(&contact_ids)
            .fetch_all(&mut *tx)
            .await
            .ctx("loading claimed contacts")?
            .iter()
            .map(|row| contact_from_row(row).map(|c| (c.id, c)))
            .collect::<StoreResult<_>>()?;
            let mut recent: std::collections::HashMap<i64, Vec<HistoryItem>> = Default::default();
            if let Some(since) = request.history_since {
                // What already left (or may have): messages on the wire count.
                for row in sqlx::query(
                    "SELECT contact_id, campaign, coalesce(sent_at, wire_at) AS at FROM sends
                     WHERE state IN ('sent', 'sending', 'in_doubt') AND coalesce(sent_at, wire_at) > $1
                       AND contact_id = ANY($2)",
                )
                .bind(since)
                .bind(&contact_ids)
                .fetch_all(&mut *tx)
                .await
                .ctx("loading claimed contacts' history")?
                {
                    let contact_id: i64 = row.try_get("contact_id").ctx(ctx)?;
                    recent.entry(contact_id).or_default().push(HistoryItem {
                        contact_id,
                        campaign: row.try_get("campaign").ctx(ctx)?,
                        at: row.try_get("at").ctx(ctx)?,
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
                    step: row.try_get::<i32, _>("step").ctx(ctx)? as u32,
                    template: row.try_get("template").ctx(ctx)?,
                    attempts: row.try_get::<i32, _>("attempts").ctx(ctx)? as u32,
                    refusals: row.try_get::<i32, _>("refusals").ctx(ctx)? as u32,
                    due_at: row.try_get("due_at").ctx(ctx)?,
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
        // Claimed rows come back in the order they were due.
        sends.sort_by_key(|s: &ClaimedSend| s.id);
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
        let ctx = "marking a send as on the wire";
        let now = whole_second(now);
        // The usual case goes in a batch with the other senders' marks: the
        // row is still ours, its contact not suppressed, its passage open.
        // Anything else is told apart below, in a transaction.
        let batched = self
            .batches
            .mark(group::Mark {
                send_id,
                worker: worker.to_string(),
                message_id: message_id.to_string(),
                now,
            })
            .await;
        if batched {
            return Ok(MarkResult::Go);
        }
        let mut tx = self.pool.begin().await.ctx(ctx)?;
        let row = sqlx::query(
            "SELECT s.state, s.claimed_by,
                    EXISTS (SELECT 1 FROM suppressions p WHERE p.value IN (c.email, c.domain)) AS suppressed,
                    e.exited_at IS NOT NULL AS ended, e.exit_reason
             FROM sends s JOIN contacts c ON c.id = s.contact_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE s.id = $1
             FOR UPDATE OF s",
        )
        .bind(send_id)
        .fetch_optional(&mut *tx)
        .await
        .ctx(ctx)?;
        let Some(row) = row else {
            return Ok(MarkResult::Lost);
        };
        let state: String = row.try_get("state").ctx(ctx)?;
        let owner: Option<String> = row.try_get("claimed_by").ctx(ctx)?;
        if state != "claimed" || owner.as_deref() != Some(worker) {
            return Ok(MarkResult::Lost);
        }
        let result = if row.try_get::<bool, _>("suppressed").ctx(ctx)? {
            sqlx::query(
                "UPDATE sends SET state = 'suppressed', finished_at = $1, claimed_by = NULL, lease_until = NULL,
                        last_error = 'recipient is suppressed' WHERE id = $2",
            )
            .bind(now)
            .bind(send_id)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
            sqlx::query(
                "UPDATE enrollments SET exited_at = $1, exit_reason = 'suppressed'
                 WHERE exited_at IS NULL AND id = (SELECT enrollment_id FROM sends WHERE id = $2)",
            )
            .bind(now)
            .bind(send_id)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
            MarkResult::Suppressed
        } else if row.try_get::<bool, _>("ended").ctx(ctx)? {
            let reason: Option<String> = row.try_get("exit_reason").ctx(ctx)?;
            sqlx::query(
                "UPDATE sends SET state = 'cancelled', finished_at = $1, claimed_by = NULL, lease_until = NULL,
                        last_error = $2 WHERE id = $3",
            )
            .bind(now)
            .bind(format!(
                "passage ended before sending: {}",
                reason.as_deref().unwrap_or("ended")
            ))
            .bind(send_id)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
            MarkResult::Cancelled
        } else {
            sqlx::query(
                "UPDATE sends SET state = 'sending', message_id = $1, wire_at = $2, hold_reason = NULL WHERE id = $3",
            )
            .bind(message_id)
            .bind(now)
            .bind(send_id)
            .execute(&mut *tx)
            .await
            .ctx(ctx)?;
            MarkResult::Go
        };
        tx.commit().await.ctx(ctx)?;
        Ok(result)
    }

    async fn record(
        &self,
        send_id: i64,
        outcome: &SendOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = whole_second(now);
        if let SendOutcome::Sent {
            message_id,
            subject,
            response,
            content,
        } = outcome
        {
            let sent = || group::Sent {
                send_id,
                message_id: message_id.clone(),
                subject: subject.clone(),
                response: response.clone(),
                variants: serde_json::to_string(&content.choices).unwrap_or_else(|_| "[]".into()),
                opener: content.opener.clone(),
                text: content.text.clone(),
                now,
            };
            if self.batches.sent(sent()).await {
                return Ok(());
            }
            // Not written in a batch (the row is no longer ours, or the
            // batch failed): the same statement for this row alone, which
            // answers for itself.
            group::sent_batch(self.pool.clone(), vec![sent()])
                .await
                .ctx("recording a send")?;
            return Ok(());
        }
        // A result that touches only its row is one statement, committed on
        // its own (one round trip); failures and bounces write more, together.
        let alone = matches!(
            outcome,
            SendOutcome::Cancelled { .. }
                | SendOutcome::Held { .. }
                | SendOutcome::Released
                | SendOutcome::Retry { failure: None, .. }
        );
        let tx = if alone {
            None
        } else {
            Some(self.pool.begin().await.ctx("recording a send")?)
        };
        // `in_doubt` is accepted too: a late answer settles the doubt.
        const MINE: &str = "state IN ('claimed', 'sending', 'in_doubt')";
        let sql = match outcome {
            SendOutcome::Sent { .. } => unreachable!("a sent result is written above"),
            SendOutcome::Retry { .. } => format!(
                "UPDATE sends SET state = 'retry', next_at = $2, last_error = $3, lease_until = NULL,
                    claimed_by = NULL, hold_reason = NULL
                 WHERE id = $1 AND {MINE}"
            ),
            SendOutcome::Parked { .. } => format!(
                "UPDATE sends SET state = 'retry', next_at = $2, last_error = $3, lease_until = NULL,
                    claimed_by = NULL, hold_reason = NULL, attempts = greatest(attempts - 1, 0),
                    refusals = refusals + 1
                 WHERE id = $1 AND {MINE}"
            ),
            SendOutcome::Failed { .. } | SendOutcome::Bounced { .. } => format!(
                "UPDATE sends SET state = 'failed', last_error = $2, finished_at = $3, lease_until = NULL,
                    hold_reason = NULL
                 WHERE id = $1 AND {MINE}"
            ),
            SendOutcome::Cancelled { .. } => format!(
                "UPDATE sends SET state = 'cancelled', last_error = $2, finished_at = $3, lease_until = NULL,
                    hold_reason = NULL
                 WHERE id = $1 AND {MINE}"
            ),
            SendOutcome::Held { .. } => format!(
                "UPDATE sends SET {UNCLAIM}, next_at = $2, hold_reason = $3,
                    held_seconds = held_seconds + greatest(extract(epoch FROM ($2 - $4))::bigint, 0)
                 WHERE id = $1 AND {MINE}"
            ),
            SendOutcome::Released => format!("UPDATE sends SET {UNCLAIM} WHERE id = $1 AND {MINE}"),
        };
        let query = sqlx::query(&sql).bind(send_id);
        let query = match outcome {
            SendOutcome::Retry { next_at, error, .. }
            | SendOutcome::Parked { next_at, error, .. } => {
                query.bind(whole_second(*next_at)).bind(error)
            }
            SendOutcome::Failed { error, .. } | SendOutcome::Bounced { error, .. } => {
                query.bind(error).bind(now)
            }
            SendOutcome::Cancelled { reason } => query.bind(reason).bind(now),
            SendOutcome::Held { until, reason } => query
                .bind(whole_second(*until))
                .bind(reason.as_str())
                .bind(now),
            SendOutcome::Sent { .. } | SendOutcome::Released => query,
        };
        let Some(mut tx) = tx else {
            query.execute(&self.pool).await.ctx("recording a send")?;
            return Ok(());
        };
        query.execute(&mut *tx).await.ctx("recording a send")?;
        let failure = match outcome {
            SendOutcome::Retry { failure, .. }
            | SendOutcome::Failed { failure, .. }
            | SendOutcome::Bounced { failure, .. } => failure.as_ref(),
            SendOutcome::Parked { failure, .. } => Some(failure),
            _ => None,
        };
        if let Some(failure) = failure {
            insert_failure(&mut tx, send_id, failure, now).await?;
        }
        if let SendOutcome::Bounced { suppress, .. } = outcome {
            Self::insert_suppression(&mut tx, suppress, now).await?;
        }
        if matches!(
            outcome,
            SendOutcome::Bounced { .. } | SendOutcome::Failed { .. }
        ) {
            sqlx::query(
                "UPDATE enrollments SET exited_at = $1, exit_reason = 'send_failed'
                 WHERE exited_at IS NULL AND id = (SELECT enrollment_id FROM sends WHERE id = $2)",
            )
            .bind(now)
            .bind(send_id)
            .execute(&mut *tx)
            .await
            .ctx("ending a failed enrollment")?;
        }
        tx.commit().await.ctx("committing a send result")
    }

    async fn heartbeat(&self, worker: &WorkerInfo, now: DateTime<Utc>) -> StoreResult<()> {
        let now = whole_second(now);
        sqlx::query(
            "INSERT INTO workers (id, host, boot_id, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = $6",
        )
        .bind(&worker.id)
        .bind(&worker.host)
        .bind(&worker.boot_id)
        .bind(worker.pid as i64)
        .bind(worker.started_at as i64)
        .bind(now)
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
                    heartbeat_at: row.try_get("heartbeat_at").ctx(ctx)?,
                })
            })
            .collect()
    }

    async fn recover(&self, dead: &[String], now: DateTime<Utc>) -> StoreResult<Recovered> {
        let now = whole_second(now);
        let ctx = "taking back the rows of stopped senders";
        let mut tx = self.pool.begin().await.ctx(ctx)?;
        // Whose rows: a dead sender's, or an unknown owner's once its lease ran out.
        const OWNER: &str = "(claimed_by IS NULL
             OR (claimed_by NOT IN (SELECT id FROM workers) AND lease_until <= $1)
             OR claimed_by = ANY($2))";
        // Held rows have a lease: `sends_leased` finds them.
        let released = sqlx::query(&format!(
            "UPDATE sends SET {UNCLAIM} WHERE lease_until IS NOT NULL AND state = 'claimed' AND {OWNER}"
        ))
        .bind(now)
        .bind(dead)
        .execute(&mut *tx)
        .await
        .ctx(ctx)?
        .rows_affected();
        let in_doubt = sqlx::query(&format!(
            "UPDATE sends SET state = 'in_doubt', lease_until = NULL,
                 last_error = 'its sender stopped after handing the message to the server and before recording the answer: it may have been accepted; not resent (see tend outbox)'
             WHERE lease_until IS NOT NULL AND state = 'sending' AND {OWNER}"
        ))
        .bind(now)
        .bind(dead)
        .execute(&mut *tx)
        .await
        .ctx(ctx)?
        .rows_affected();
        if !dead.is_empty() {
            sqlx::query("DELETE FROM workers WHERE id = ANY($1)")
                .bind(dead)
                .execute(&mut *tx)
                .await
                .ctx(ctx)?;
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
        sqlx::query_scalar(
            "SELECT at FROM smtp_failures
             WHERE contact_id = $1 AND verdict = 'soft_bounce'
               AND at > coalesce((SELECT max(s.sent_at) FROM sends s
                                  WHERE s.contact_id = $1 AND s.state = 'sent'
                                    AND s.id IS DISTINCT FROM $2
                                    AND NOT EXISTS (SELECT 1 FROM smtp_failures f WHERE f.send_id = s.id)),
                                 'epoch'::timestamptz)
             ORDER BY at",
        )
        .bind(contact_id)
        .bind(bouncing)
        .fetch_all(&self.pool)
        .await
        .ctx("reading soft bounces")
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
             WHERE e.campaign = $1 AND e.contact_id = $2 AND s.step = $3
             ORDER BY e.id DESC LIMIT 1",
        )
        .bind(campaign)
        .bind(contact_id)
        .bind(step as i32)
        .fetch_optional(&self.pool)
        .await
        .ctx("finding a send")?;
        let Some(row) = row else { return Ok(None) };
        let ctx = "reading a send";
        let state: String = row.try_get("state").ctx(ctx)?;
        Ok(Some(SendRow {
            id: row.try_get("id").ctx(ctx)?,
            enrollment_id: row.try_get("enrollment_id").ctx(ctx)?,
            state: parse_state(&state, ctx)?,
            sent_at: row.try_get("sent_at").ctx(ctx)?,
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
             FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE TRUE",
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
                    step: row.try_get::<i32, _>("step").ctx(ctx)? as u32,
                    email: row.try_get("email").ctx(ctx)?,
                    state: parse_state(&state, ctx)?,
                    attempts: row.try_get::<i32, _>("attempts").ctx(ctx)? as u32,
                    refusals: row.try_get::<i32, _>("refusals").ctx(ctx)? as u32,
                    due_at: row.try_get("due_at").ctx(ctx)?,
                    next_at: row.try_get("next_at").ctx(ctx)?,
                    hold_reason: hold
                        .map(|h| {
                            h.parse().map_err(|detail| StoreError::Corrupt {
                                context: ctx,
                                detail,
                            })
                        })
                        .transpose()?,
                    message_id: row.try_get("message_id").ctx(ctx)?,
                    wire_at: row.try_get("wire_at").ctx(ctx)?,
                    sent_at: row.try_get("sent_at").ctx(ctx)?,
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
        let now = whole_second(now);
        let mut qb = QueryBuilder::new(match how {
            Settle::Sent => {
                "UPDATE sends SET state = 'sent', sent_at = coalesce(wire_at, next_at),
                    smtp_response = 'settled as sent by an operator', sent_seq = nextval('sends_sent_seq'),
                    finished_at = "
            }
            // Due again at once (its old due time), whatever the caller's clock.
            Settle::Requeue => "UPDATE sends SET state = 'queued', claimed_by = NULL, next_at = least(next_at, ",
        });
        qb.push_bind(now);
        if how == Settle::Requeue {
            qb.push(")");
        }
        qb.push(", note = ");
        qb.push_bind(format!(
            "{} {}: {note}",
            now.to_rfc3339(),
            match how {
                Settle::Sent => "settled as sent",
                Settle::Requeue => "requeued",
            }
        ));
        qb.push(" WHERE id IN (SELECT s.id FROM sends s WHERE s.state = 'in_doubt'");
        push_filter(&mut qb, filter);
        qb.push(" FOR UPDATE)");
        Ok(qb
            .build()
            .execute(&self.pool)
            .await
            .ctx(ctx)?
            .rows_affected())
    }

    async fn sent_since(&self, since: DateTime<Utc>) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sends WHERE sent_at >= $1")
            .bind(since)
            .fetch_one(&self.pool)
            .await
            .ctx("counting recent sends")?;
        Ok(n as u64)
    }

    async fn first_sent_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        sqlx::query_scalar("SELECT min(sent_at) FROM sends")
            .fetch_one(&self.pool)
            .await
            .ctx("finding the first send")
    }
}
