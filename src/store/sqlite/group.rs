//! Group commit for the writes a sender waits on: marking a row `sending`
//! right before its message data goes out, and recording how it ended.
//!
//! Every such write still returns only once it is durably committed, so
//! the in-doubt window is what it was; but the writes that arrive while
//! another commit is in progress are committed together in the next
//! transaction, and one WAL sync serves all of them.
//!
//! The writes run on a thread of their own with a connection of its own:
//! a group is one call into SQLite with prepared statements, where through
//! the async pool every statement (and BEGIN and COMMIT) was a round trip
//! to the pool's worker thread and back, two thread wake-ups each. That
//! hopping, not SQLite, was most of what a sent message cost. The thread
//! takes the store's write lock for each group, like every other writer in
//! this process, so writers never meet in SQLite's busy handler.

use super::ts;
use crate::domain::{NewSuppression, SuppressionScope};
use crate::store::{FailureRecord, MarkResult, SendOutcome, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

/// At most this many writes in one transaction.
const MAX_GROUP: usize = 512;

/// One write a sender waits on.
#[derive(Debug)]
pub(super) enum Op {
    Mark {
        send_id: i64,
        worker: String,
        message_id: String,
        now: i64,
    },
    Record {
        send_id: i64,
        outcome: SendOutcome,
        now: i64,
    },
}

/// Its answer.
#[derive(Debug)]
pub(super) enum Done {
    Marked(MarkResult),
    Recorded,
}

#[derive(Debug)]
struct Job {
    op: Op,
    reply: oneshot::Sender<StoreResult<Done>>,
}

/// The writer thread's inbox. The thread ends when the last store clone
/// holding it is dropped.
#[derive(Debug)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

fn direct(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Direct { context, source }
}

impl Writer {
    /// Opens the writer's own connection to `path` (already migrated) and
    /// starts its thread.
    pub(super) fn start(path: &Path, write_lock: Arc<tokio::sync::Mutex<()>>) -> StoreResult<Self> {
        let context = "opening the send writer's connection";
        let conn = Connection::open(path).map_err(direct(context))?;
        // As the pool's connections (see `SqliteStore::open`).
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = FAST; PRAGMA busy_timeout = 30000;",
        )
        .map_err(direct(context))?;
        let (jobs, inbox) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tend-send-writer".into())
            .spawn(move || run(conn, inbox, write_lock))
            .map_err(|e| StoreError::Corrupt {
                context,
                detail: format!("cannot start its thread: {e}"),
            })?;
        Ok(Self { jobs })
    }

    /// Queues `op` and returns once it is committed.
    pub(super) async fn write(&self, op: Op) -> StoreResult<Done> {
        let (reply, answer) = oneshot::channel();
        let sent = self.jobs.send(Job { op, reply });
        let gone = || StoreError::Corrupt {
            context: "writing a send's state",
            detail: "the send writer has stopped; nothing of this write was committed".into(),
        };
        if sent.is_err() {
            return Err(gone());
        }
        answer.await.unwrap_or_else(|_| Err(gone()))
    }
}

fn run(mut conn: Connection, inbox: mpsc::Receiver<Job>, write_lock: Arc<tokio::sync::Mutex<()>>) {
    while let Ok(first) = inbox.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match inbox.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let _write = write_lock.blocking_lock();
        commit_group(&mut conn, jobs);
    }
}

/// Commits the jobs in one transaction; if anything in it fails, each is
/// written on its own, so one bad write never fails the others.
fn commit_group(conn: &mut Connection, jobs: Vec<Job>) {
    if jobs.len() > 1 {
        match try_group(conn, &jobs) {
            Ok(done) => {
                for (job, done) in jobs.into_iter().zip(done) {
                    let _ = job.reply.send(Ok(done));
                }
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "a grouped write failed; writing its parts one by one")
            }
        }
    }
    for job in jobs {
        let result = try_group(conn, std::slice::from_ref(&job));
        let _ = job.reply.send(result.map(|mut done| done.remove(0)));
    }
}

fn try_group(conn: &mut Connection, jobs: &[Job]) -> StoreResult<Vec<Done>> {
    let context = "writing a send's state";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(direct(context))?;
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        done.push(match &job.op {
            Op::Mark {
                send_id,
                worker,
                message_id,
                now,
            } => Done::Marked(mark(&tx, *send_id, worker, message_id, *now)?),
            Op::Record {
                send_id,
                outcome,
                now,
            } => {
                record(&tx, *send_id, outcome, *now)?;
                Done::Recorded
            }
        });
    }
    tx.commit().map_err(direct(context))?;
    Ok(done)
}

/// Marks a claimed row `sending` (or settles it); see
/// [`crate::store::OutboxStore::mark_sending`].
fn mark(
    tx: &Connection,
    send_id: i64,
    worker: &str,
    message_id: &str,
    now: i64,
) -> StoreResult<MarkResult> {
    let context = "marking a send as on the wire";
    let err = direct(context);
    // The usual case in one statement: the row is still ours, its contact
    // not suppressed, its passage open. Anything else is told apart below.
    let marked = tx
        .prepare_cached(
            "UPDATE sends SET state = 'sending', message_id = ?1, wire_at = ?2, hold_reason = NULL
             WHERE id = ?3 AND state = 'claimed' AND claimed_by = ?4
               AND NOT EXISTS (SELECT 1 FROM contacts c JOIN suppressions p ON p.value IN (c.email, c.domain)
                               WHERE c.id = sends.contact_id)
               AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = sends.enrollment_id AND e.exited_at IS NOT NULL)",
        )
        .and_then(|mut s| s.execute(params![message_id, now, send_id, worker]));
    if marked.map_err(direct(context))? == 1 {
        return Ok(MarkResult::Go);
    }
    let row = tx
        .prepare_cached(
            "SELECT s.state, s.claimed_by,
                    EXISTS (SELECT 1 FROM suppressions p WHERE p.value IN (c.email, c.domain)),
                    e.exited_at IS NOT NULL, e.exit_reason
             FROM sends s JOIN contacts c ON c.id = s.contact_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE s.id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([send_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .optional()
        })
        .map_err(err)?;
    let Some((state, owner, suppressed, ended, exit_reason)) = row else {
        return Ok(MarkResult::Lost);
    };
    if state != "claimed" || owner.as_deref() != Some(worker) {
        return Ok(MarkResult::Lost);
    }
    let (result, sql, detail): (_, &str, Option<String>) = if suppressed {
        (
            MarkResult::Suppressed,
            "UPDATE sends SET state = 'suppressed', finished_at = ?1, claimed_by = NULL, lease_until = NULL,
                    last_error = 'recipient is suppressed' WHERE id = ?2",
            None,
        )
    } else if ended {
        (
            MarkResult::Cancelled,
            "UPDATE sends SET state = 'cancelled', finished_at = ?1, claimed_by = NULL, lease_until = NULL,
                    last_error = ?3 WHERE id = ?2",
            Some(format!(
                "passage ended before sending: {}",
                exit_reason.as_deref().unwrap_or("ended")
            )),
        )
    } else {
        (
            MarkResult::Go,
            "UPDATE sends SET state = 'sending', message_id = ?3, wire_at = ?1, hold_reason = NULL WHERE id = ?2",
            Some(message_id.to_string()),
        )
    };
    let mut statement = tx.prepare_cached(sql).map_err(direct(context))?;
    match &detail {
        Some(text) => statement.execute(params![now, send_id, text]),
        None => statement.execute(params![now, send_id]),
    }
    .map_err(direct(context))?;
    if matches!(result, MarkResult::Suppressed) {
        end_enrollment(tx, send_id, "suppressed", now)?;
    }
    Ok(result)
}

/// Back to the queue without counting an attempt (the claim counted one).
const UNCLAIM: &str = "state = CASE WHEN attempts > 1 THEN 'retry' ELSE 'queued' END,
     attempts = max(attempts - 1, 0), claimed_by = NULL, lease_until = NULL";

/// Records a send's outcome; see [`crate::store::OutboxStore::record`].
/// `in_doubt` is accepted too: a late answer settles the doubt.
fn record(tx: &Connection, send_id: i64, outcome: &SendOutcome, now: i64) -> StoreResult<()> {
    const MINE: &str = "WHERE id = ?1 AND state IN ('claimed', 'sending', 'in_doubt')";
    let context = "recording a send";
    let err = || direct(context);
    let run = |sql: String, values: &[&dyn rusqlite::ToSql]| {
        let mut all: Vec<&dyn rusqlite::ToSql> = vec![&send_id];
        all.extend_from_slice(values);
        tx.prepare_cached(&sql)
            .and_then(|mut s| s.execute(all.as_slice()))
            .map_err(err())
    };
    match outcome {
        SendOutcome::Sent {
            message_id,
            subject,
            response,
            content,
        } => {
            let choices = serde_json::to_string(&content.choices).unwrap_or_else(|_| "[]".into());
            run(
                format!(
                    "UPDATE sends SET state = 'sent', message_id = ?2, subject = ?3, smtp_response = ?4,
                        sent_at = ?5, finished_at = ?5, lease_until = NULL, last_error = NULL, hold_reason = NULL,
                        variants = ?6, opener = ?7, body_text = ?8,
                        sent_seq = (SELECT coalesce(max(sent_seq), 0) + 1 FROM sends WHERE sent_seq IS NOT NULL) {MINE}"
                ),
                &[
                    message_id,
                    subject,
                    response,
                    &now,
                    &choices,
                    &content.opener,
                    &content.text,
                ],
            )?;
        }
        SendOutcome::Retry { next_at, error, .. } => {
            run(
                format!(
                    "UPDATE sends SET state = 'retry', next_at = ?2, last_error = ?3, lease_until = NULL,
                        claimed_by = NULL, hold_reason = NULL {MINE}"
                ),
                &[&ts(*next_at), error],
            )?;
        }
        SendOutcome::Parked { next_at, error, .. } => {
            run(
                format!(
                    "UPDATE sends SET state = 'retry', next_at = ?2, last_error = ?3, lease_until = NULL,
                        claimed_by = NULL, hold_reason = NULL, attempts = max(attempts - 1, 0),
                        refusals = refusals + 1 {MINE}"
                ),
                &[&ts(*next_at), error],
            )?;
        }
        SendOutcome::Failed { error, .. } | SendOutcome::Bounced { error, .. } => {
            run(
                format!(
                    "UPDATE sends SET state = 'failed', last_error = ?2, finished_at = ?3, lease_until = NULL,
                        hold_reason = NULL {MINE}"
                ),
                &[error, &now],
            )?;
        }
        SendOutcome::Cancelled { reason } => {
            run(
                format!(
                    "UPDATE sends SET state = 'cancelled', last_error = ?2, finished_at = ?3, lease_until = NULL,
                        hold_reason = NULL {MINE}"
                ),
                &[reason, &now],
            )?;
        }
        SendOutcome::Held { until, reason } => {
            run(
                format!(
                    "UPDATE sends SET {UNCLAIM}, next_at = ?2, hold_reason = ?3,
                        held_seconds = held_seconds + max(?2 - ?4, 0) {MINE}"
                ),
                &[&ts(*until), &reason.as_str(), &now],
            )?;
        }
        SendOutcome::Released => {
            run(format!("UPDATE sends SET {UNCLAIM} {MINE}"), &[])?;
        }
    }
    let failure = match outcome {
        SendOutcome::Retry { failure, .. }
        | SendOutcome::Failed { failure, .. }
        | SendOutcome::Bounced { failure, .. } => failure.as_ref(),
        SendOutcome::Parked { failure, .. } => Some(failure),
        _ => None,
    };
    if let Some(failure) = failure {
        insert_failure(tx, send_id, failure, now)?;
    }
    if let SendOutcome::Bounced { suppress, .. } = outcome {
        insert_suppression(tx, suppress, now)?;
    }
    if matches!(
        outcome,
        SendOutcome::Bounced { .. } | SendOutcome::Failed { .. }
    ) {
        end_enrollment(tx, send_id, "send_failed", now)?;
    }
    Ok(())
}

fn end_enrollment(tx: &Connection, send_id: i64, reason: &str, now: i64) -> StoreResult<()> {
    tx.prepare_cached(
        "UPDATE enrollments SET exited_at = ?1, exit_reason = ?2
         WHERE exited_at IS NULL AND id = (SELECT enrollment_id FROM sends WHERE id = ?3)",
    )
    .and_then(|mut s| s.execute(params![now, reason, send_id]))
    .map_err(direct("ending a passage"))?;
    Ok(())
}

fn insert_failure(
    tx: &Connection,
    send_id: i64,
    failure: &FailureRecord,
    now: i64,
) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO smtp_failures (send_id, contact_id, at, phase, verdict, reason, reply)
         SELECT id, contact_id, ?2, ?3, ?4, ?5, ?6 FROM sends WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            send_id,
            now,
            failure.phase,
            failure.verdict,
            failure.reason,
            failure.reply
        ])
    })
    .map_err(direct("recording an SMTP failure"))?;
    Ok(())
}

fn insert_suppression(tx: &Connection, s: &NewSuppression, now: i64) -> StoreResult<()> {
    let scope = match s.scope {
        SuppressionScope::Address => "address",
        SuppressionScope::Domain => "domain",
    };
    tx.prepare_cached(
        "INSERT INTO suppressions (value, scope, reason, source, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (value) DO NOTHING",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.value,
            scope,
            s.reason.as_str(),
            s.source,
            s.detail,
            now
        ])
    })
    .map_err(direct("adding a suppression"))?;
    Ok(())
}
