//! Batched writes for the two statements every message costs on
//! PostgreSQL: marking its row `sending` right before the data goes out,
//! and recording that it was sent.
//!
//! Each sender still waits until its own write is committed, so the
//! in-doubt window is what it was. But the marks and the results that
//! arrive while the previous batch is at the server go together in the next
//! one: one statement over `UNNEST`ed arrays, one plan, one commit and one
//! WAL flush for all of them, marks and results alike. One statement per message made the server's
//! per-statement work (bind and plan, executor start, commit) most of what a
//! message cost, and the server shares the machine with the sender.
//!
//! Only the usual case is batched: a row still claimed by its sender with
//! nothing in the way (mark), a plain `sent` (result). A mark the batch did
//! not apply, and every other result, takes the careful per-row path; a
//! batch that fails sends each of its writes down that path too, where each
//! gets its own answer (or its own error).

use super::*;
use sqlx::pool::PoolConnection;
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// At most this many writes in one statement.
const MAX_BATCH: usize = 256;

/// A row to mark `sending`.
#[derive(Debug)]
pub(super) struct Mark {
    pub send_id: i64,
    pub worker: String,
    pub message_id: String,
    pub now: DateTime<Utc>,
}

/// A row that was sent, with what is kept of it (the one statement that
/// records a `sent` result, batched or for one row: [`sent_batch`]).
#[derive(Debug)]
pub(super) struct Sent {
    pub send_id: i64,
    pub message_id: String,
    pub subject: String,
    pub response: String,
    pub variants: String,
    pub opener: String,
    pub text: String,
    pub now: DateTime<Utc>,
}

type Reply = oneshot::Sender<bool>;

/// One write waiting for a batch.
#[derive(Debug)]
enum Write {
    Mark(Mark),
    Sent(Sent),
}

impl Write {
    fn send_id(&self) -> i64 {
        match self {
            Write::Mark(m) => m.send_id,
            Write::Sent(s) => s.send_id,
        }
    }
}

/// The batcher's inbox. Its task ends when the last store clone holding it
/// is dropped.
#[derive(Debug)]
pub(super) struct Batches {
    inbox: mpsc::UnboundedSender<(Write, Reply)>,
    closing: std::sync::Arc<tokio::sync::Notify>,
    pool: PgPool,
}

impl Batches {
    /// Starts the batcher on the current runtime.
    pub(super) fn start(pool: &PgPool) -> Self {
        let (inbox, waiting) = mpsc::unbounded_channel();
        let closing = std::sync::Arc::new(tokio::sync::Notify::new());
        tokio::spawn(run(pool.clone(), waiting, std::sync::Arc::clone(&closing)));
        Self {
            inbox,
            closing,
            pool: pool.clone(),
        }
    }

    /// Closes the batches' sessions: later batches fail (and their writes
    /// take the careful path, which then fails on its own).
    pub(super) async fn close(&self) {
        // The batcher gives its session back first: closing waits for it.
        self.closing.notify_one();
        self.pool.close().await;
    }

    /// Whether the row was marked in a batch; `false`: the batch did not
    /// apply to it (or failed) and the caller judges it row by row.
    pub(super) async fn mark(&self, mark: Mark) -> bool {
        self.ask(Write::Mark(mark)).await
    }

    /// Whether the result was recorded in a batch; `false` as for `mark`.
    pub(super) async fn sent(&self, sent: Sent) -> bool {
        self.ask(Write::Sent(sent)).await
    }

    async fn ask(&self, write: Write) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.inbox.send((write, reply)).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

/// Takes whatever waits (up to a batch), writes it, tells each writer
/// whether its row was among those written, and starts over: a writer
/// arriving while a batch is out waits for that one statement, then goes
/// with everything else that arrived meanwhile.
///
/// One batch at a time: every commit waits for its own WAL flush, and
/// flushes take turns, so a second batch out only waited behind the first
/// one's flush and made the next batch smaller (more flushes for the same
/// writes). And on one session, kept for as long as it works: every
/// checkout from a pool costs a round trip to the server (sqlx's liveness
/// check, and another when the session is handed back), and each batch
/// waited for the first. A connection waited 3.0–3.5 ms for its mark with
/// a checkout per batch, 2.0–2.5 ms on a kept session. A failed batch gives
/// the session back (a broken one is closed there) and the next batch takes
/// one afresh.
async fn run(
    pool: PgPool,
    mut inbox: mpsc::UnboundedReceiver<(Write, Reply)>,
    closing: std::sync::Arc<tokio::sync::Notify>,
) {
    let mut session: Option<PoolConnection<Postgres>> = None;
    let mut waiting = Vec::new();
    loop {
        let received = tokio::select! {
            n = inbox.recv_many(&mut waiting, MAX_BATCH) => n,
            () = closing.notified() => {
                session = None;
                continue;
            }
        };
        if received == 0 {
            return;
        }
        let (writes, replies): (Vec<Write>, Vec<Reply>) = waiting.drain(..).unzip();
        // A mark and a result are never for the same row in one batch: a
        // result comes after its mark was answered.
        let ids: Vec<i64> = writes.iter().map(Write::send_id).collect();
        let (mut marks, mut sent) = (Vec::new(), Vec::new());
        for write in writes {
            match write {
                Write::Mark(m) => marks.push(m),
                Write::Sent(s) => sent.push(s),
            }
        }
        let written = match on_session(&pool, &mut session, marks, sent).await {
            Ok(written) => written.into_iter().collect(),
            Err(e) => {
                tracing::debug!(error = %e, "a batched write failed; its rows are written one by one");
                session = None;
                HashSet::new()
            }
        };
        for (id, reply) in ids.into_iter().zip(replies) {
            let _ = reply.send(written.contains(&id));
        }
    }
}

/// A batch on the kept session, taking one from the pool when there is none.
async fn on_session(
    pool: &PgPool,
    session: &mut Option<PoolConnection<Postgres>>,
    marks: Vec<Mark>,
    sent: Vec<Sent>,
) -> Result<Vec<i64>, sqlx::Error> {
    let conn = match session.take() {
        Some(conn) => conn,
        None => pool.acquire().await?,
    };
    let conn = session.insert(conn);
    write_batch(&mut **conn, marks, sent).await
}

/// The one statement (and commit) for a batch of marks and `sent` results.
async fn write_batch(
    db: impl sqlx::PgExecutor<'_>,
    marks: Vec<Mark>,
    sent: Vec<Sent>,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut mark_ids = Vec::with_capacity(marks.len());
    let mut workers = Vec::with_capacity(marks.len());
    let mut mark_message_ids = Vec::with_capacity(marks.len());
    let mut mark_at = Vec::with_capacity(marks.len());
    for m in marks {
        mark_ids.push(m.send_id);
        workers.push(m.worker);
        mark_message_ids.push(m.message_id);
        mark_at.push(m.now);
    }
    let n = sent.len();
    let (mut ids, mut message_ids, mut subjects, mut responses) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut at, mut variants, mut openers, mut texts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for s in sent {
        ids.push(s.send_id);
        message_ids.push(s.message_id);
        subjects.push(s.subject);
        responses.push(s.response);
        at.push(s.now);
        variants.push(s.variants);
        openers.push(s.opener);
        texts.push(s.text);
    }
    // Marks: the row is still this sender's claim, its contact not
    // suppressed, its passage open (as the careful path checks one by one).
    // Results: `in_doubt` is accepted too, a late answer settles the doubt.
    // Rows are found by id (no index reads `state` since migration 0008;
    // before it, the plan made once for any batch scanned the state index
    // for every row and hashed). Both in one statement: one commit, one WAL flush
    // (a flush costs milliseconds on a plain disk, and every sender waits
    // for the one covering its mark).
    sqlx::query_scalar(
        "WITH marked AS (
           UPDATE sends s SET state = 'sending', message_id = m.message_id, wire_at = m.at, hold_reason = NULL
           FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::timestamptz[]) AS m(id, worker, message_id, at)
           WHERE s.id = m.id AND s.state = 'claimed' AND s.claimed_by = m.worker
             AND NOT EXISTS (SELECT 1 FROM contacts c JOIN suppressions p ON p.value IN (c.email, c.domain)
                             WHERE c.id = s.contact_id)
             AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = s.enrollment_id AND e.exited_at IS NOT NULL)
           RETURNING s.id),
         recorded AS (
           UPDATE sends s SET state = 'sent', message_id = r.message_id, subject = r.subject,
                  smtp_response = r.response, sent_at = r.at, finished_at = r.at, lease_until = NULL,
                  last_error = NULL, hold_reason = NULL, variants = r.variants::jsonb, opener = r.opener,
                  body_text = r.body, sent_seq = nextval('sends_sent_seq')
           FROM UNNEST($5::bigint[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::text[],
                       $11::text[], $12::text[])
                AS r(id, message_id, subject, response, at, variants, opener, body)
           WHERE s.id = r.id AND s.state IN ('claimed', 'sending', 'in_doubt')
           RETURNING s.id)
         SELECT id FROM marked UNION ALL SELECT id FROM recorded",
    )
    .bind(mark_ids)
    .bind(workers)
    .bind(mark_message_ids)
    .bind(mark_at)
    .bind(ids)
    .bind(message_ids)
    .bind(subjects)
    .bind(responses)
    .bind(at)
    .bind(variants)
    .bind(openers)
    .bind(texts)
    .fetch_all(db)
    .await
}

/// The statement that records `sent` results, for rows outside a batch.
pub(super) async fn sent_batch(pool: PgPool, sent: Vec<Sent>) -> Result<Vec<i64>, sqlx::Error> {
    write_batch(&pool, Vec::new(), sent).await
}
