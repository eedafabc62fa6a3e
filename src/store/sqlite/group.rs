//! Group commit for the writes a sender waits on: marking a row `sending`
//! right before its message data goes out, and recording how it ended.
//!
//! Every such write still returns only once it is durably committed, so
//! the in-doubt window is what it was; but the writes that arrive while
//! another commit is in progress are committed together in the next
//! transaction, and one WAL sync serves all of them. With a handful of
//! SMTP connections that turns a sync per write into a sync per group.
//!
//! The caller that gets the write lock is the leader: it takes every queued
//! write (its own and those of others waiting behind it) and commits them;
//! callers whose write was already committed by a leader return at once.

use super::*;
use crate::store::{MarkResult, SendOutcome};
use tokio::sync::oneshot;

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

/// Writes queued for the next group.
#[derive(Debug, Default)]
pub(super) struct Pending(std::sync::Mutex<Vec<Job>>);

impl Pending {
    fn push(&self, job: Job) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(job);
    }

    fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl SqliteStore {
    /// Queues `op` and returns once it is committed (by this caller or by
    /// whoever led the group it was part of).
    pub(super) async fn write_grouped(&self, op: Op) -> StoreResult<Done> {
        let (reply, answer) = oneshot::channel();
        self.pending.push(Job { op, reply });
        {
            let _write = self.write_lock.lock().await;
            let jobs = self.pending.take();
            if !jobs.is_empty() {
                self.commit_group(jobs).await;
            }
        }
        // A leader dropped mid-way (its task cancelled) rolled its group
        // back: nothing of this write was committed.
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Corrupt {
                context: "writing a send's state",
                detail: "the grouped write was abandoned before it was committed".into(),
            })
        })
    }

    /// Commits the jobs in one transaction; if anything in it fails, each
    /// is written on its own, so one bad write never fails the others.
    async fn commit_group(&self, jobs: Vec<Job>) {
        if jobs.len() > 1 {
            match self.try_group(&jobs).await {
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
            let result = self.try_group(std::slice::from_ref(&job)).await;
            let _ = job.reply.send(result.map(|mut done| done.remove(0)));
        }
    }

    async fn try_group(&self, jobs: &[Job]) -> StoreResult<Vec<Done>> {
        let ctx = "writing a send's state";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.ctx(ctx)?;
        let mut done = Vec::with_capacity(jobs.len());
        for job in jobs {
            done.push(match &job.op {
                Op::Mark {
                    send_id,
                    worker,
                    message_id,
                    now,
                } => {
                    Done::Marked(Self::mark_in(&mut tx, *send_id, worker, message_id, *now).await?)
                }
                Op::Record {
                    send_id,
                    outcome,
                    now,
                } => {
                    Self::record_in(&mut tx, *send_id, outcome, *now).await?;
                    Done::Recorded
                }
            });
        }
        tx.commit().await.ctx(ctx)?;
        Ok(done)
    }
}
