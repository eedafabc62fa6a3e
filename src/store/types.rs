//! What the store takes and gives beyond the domain vocabulary: requests,
//! results and figures, in plain data.

use crate::domain::{
    Contact, Group, HoldReason, NewSuppression, PastSend, SendState, SentContent, Suppression,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
}

/// A click on a tracked link, as `GET`/`HEAD /c/TOKEN` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClick {
    pub contact_id: i64,
    /// The message the link was in, when its send row is known.
    pub send_id: Option<i64>,
    pub at: DateTime<Utc>,
    /// `campaign step N: URL`.
    pub detail: String,
    pub method: String,
    /// At most 200 characters; the client's address is never kept.
    pub user_agent: String,
    pub automated: Option<crate::clicks::Automated>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    pub stored: u64,
    pub duplicates: u64,
    /// Emails with no contact: those events are not stored.
    pub unknown_contacts: Vec<String>,
    pub suppressions_added: u64,
}

/// The latest send of an enrollment, as the planner needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastSend {
    pub step: u32,
    pub state: SendState,
    pub sent_at: Option<DateTime<Utc>>,
    /// A queued row held back at sending time: why, and until when.
    pub held: Option<(HoldReason, DateTime<Utc>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentProgress {
    pub enrollment_id: i64,
    pub contact_id: i64,
    pub entered_at: DateTime<Utc>,
    /// The contact's IANA zone, if known.
    pub timezone: Option<String>,
    pub last_send: Option<LastSend>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSend {
    pub enrollment_id: i64,
    pub contact_id: i64,
    pub campaign: String,
    pub step: u32,
    pub template: String,
    pub due_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub now: DateTime<Utc>,
    pub limit: u32,
    pub lease_until: DateTime<Utc>,
    pub worker: String,
    /// Each campaign's exit rules, judged again (for the rows being claimed
    /// only) in the same transaction as the claim.
    pub exits: Vec<(String, ExitRule)>,
    /// Load each claimed contact's messages since this instant (for caps).
    pub history_since: Option<DateTime<Utc>>,
    /// A warm-up day's cap: at most `cap` messages sent since `since`,
    /// counting rows other senders are sending right now.
    pub daily_cap: Option<DailyCap>,
}

/// Today's warm-up cap, judged in the claim so several senders share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyCap {
    pub since: DateTime<Utc>,
    pub cap: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Claim {
    pub sends: Vec<ClaimedSend>,
    pub suppressed: u64,
    pub cancelled: u64,
    /// The warm-up day's cap is used up: nothing more goes out today.
    pub capped: bool,
}

/// A row now owned by one sender, with what it takes to judge and render it.
#[derive(Debug, Clone)]
pub struct ClaimedSend {
    pub id: i64,
    pub enrollment_id: i64,
    pub campaign: String,
    pub step: u32,
    pub template: String,
    /// Delivery attempts including this one (relay refusals not counted).
    pub attempts: u32,
    /// Relay/policy refusals so far.
    pub refusals: u32,
    pub due_at: DateTime<Utc>,
    /// Time spent held back (windows, quiet hours, paused relay or domain):
    /// the retry deadline moves by as much.
    pub held_for: chrono::Duration,
    pub contact: Contact,
    /// The contact's other messages (sent, or on the wire) since
    /// `ClaimRequest::history_since`, for frequency caps.
    pub recent: Vec<HistoryItem>,
    /// The contact's sent messages, in recording order, when it was
    /// claimed (for variant choice): read in the claim, one query per batch.
    pub past: Vec<PastSend>,
}

/// One SMTP answer that was not an acceptance, as classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRecord {
    pub phase: String,
    pub verdict: String,
    pub reason: String,
    /// The reply (or connection error), addresses masked.
    pub reply: String,
}

/// How one claimed send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent {
        message_id: String,
        subject: String,
        response: String,
        content: SentContent,
    },
    /// Try again at `next_at`; counts as an attempt.
    Retry {
        next_at: DateTime<Utc>,
        error: String,
        failure: Option<FailureRecord>,
    },
    /// Refused for reasons that are ours (policy, reputation, relay…): wait
    /// until `next_at` without counting an attempt.
    Parked {
        next_at: DateTime<Utc>,
        error: String,
        failure: FailureRecord,
    },
    Failed {
        error: String,
        failure: Option<FailureRecord>,
    },
    /// A permanent rejection of the recipient: suppress the address too.
    Bounced {
        error: String,
        suppress: NewSuppression,
        failure: Option<FailureRecord>,
    },
    /// Not sendable any more (campaign removed, passage ended…).
    Cancelled { reason: String },
    /// May not leave now (window, quiet hours, cap, paused relay or domain):
    /// back to the queue until `until`, no attempt counted.
    Held {
        until: DateTime<Utc>,
        reason: HoldReason,
    },
    /// Claimed but never put on the wire (shutting down): back to the queue.
    Released,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxCount {
    pub campaign: String,
    pub state: SendState,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRow {
    pub id: i64,
    pub enrollment_id: i64,
    pub state: SendState,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TickRecord {
    /// The tick's `now` (may be injected with `--now`).
    pub started_at: DateTime<Utc>,
    /// Wall-clock time when it was recorded.
    pub finished_at: DateTime<Utc>,
    pub enrolled: u64,
    pub queued: u64,
    /// How long the tick took, in wall-clock milliseconds.
    pub duration_ms: u64,
}

/// A request to stop mail: to everything (`campaign: None`) or one campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub contact_id: i64,
    pub campaign: Option<String>,
    pub source: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsubscribeResult {
    Done,
    /// Nothing changed: already unsubscribed (a replayed click).
    Already,
    UnknownContact,
}

/// Whether a claimed row may still go on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkResult {
    /// Marked `sending`: hand it to the server now.
    Go,
    /// The contact became suppressed meanwhile: the row is `suppressed`.
    Suppressed,
    /// The passage ended meanwhile: the row is `cancelled`.
    Cancelled,
    /// The row is no longer this worker's (it was taken back): leave it alone.
    Lost,
}

/// A process that claims outbox rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    pub id: String,
    pub host: String,
    pub boot_id: String,
    pub pid: u32,
    /// Process start time in clock ticks since boot (tells a reused pid apart).
    pub started_at: u64,
    pub heartbeat_at: DateTime<Utc>,
}

/// What recovering from dead senders did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Recovered {
    /// Claimed rows that never reached the wire: back in the queue.
    pub released: u64,
    /// Rows whose data may have reached the server: in doubt.
    pub in_doubt: u64,
}

/// The relay's circuit breaker as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelayHealth {
    pub relay: String,
    pub open: bool,
    pub failures: u32,
    pub trips: u32,
    pub paused_until: Option<DateTime<Utc>>,
    pub last_error: String,
}

/// One row of `tend outbox`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub campaign: String,
    pub step: u32,
    pub email: String,
    pub state: SendState,
    pub attempts: u32,
    pub refusals: u32,
    pub due_at: DateTime<Utc>,
    pub next_at: DateTime<Utc>,
    pub hold_reason: Option<HoldReason>,
    pub message_id: Option<String>,
    pub wire_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub note: Option<String>,
    /// The sender that has it (or, once sent, that sent it).
    pub claimed_by: Option<String>,
}

/// Which rows `tend outbox` lists or settles.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub states: Vec<SendState>,
    pub campaign: Option<String>,
    pub ids: Vec<i64>,
    /// Rows handed to the server (or due, when never handed over) in [from, to).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
}

/// How an operator settles in-doubt rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Settle {
    /// The relay's log shows it was accepted: record it as sent.
    Sent,
    /// It never arrived: put it back in the queue.
    Requeue,
}

/// Due rows held back, per campaign and reason, with the earliest release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldCount {
    pub campaign: String,
    pub reason: HoldReason,
    pub count: u64,
    pub next_at: DateTime<Utc>,
}

/// Ended rows per campaign and recorded reason (cancelled, suppressed, failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndedCount {
    pub campaign: String,
    pub state: SendState,
    pub reason: String,
    pub count: u64,
}

/// How a recipient domain is taking our mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainHealth {
    pub domain: String,
    /// Consecutive deferrals (4xx) without a success in between.
    pub deferrals: u32,
    pub paused_until: Option<DateTime<Utc>>,
    pub last_error: String,
}

/// What ends a passage early.
#[derive(Debug, Clone, Default)]
pub struct ExitRule {
    /// Event kinds after entry (`activity` matches every activity kind).
    pub event_kinds: Vec<String>,
    /// End passages of contacts outside this selection.
    pub outside: Option<crate::segment::Selection>,
    /// End passages of contacts inside this selection (`exit_when` filter).
    pub matching: Option<crate::segment::Selection>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExitCounts {
    pub event: u64,
    pub left_segment: u64,
    pub exit_when: u64,
}

/// One message a contact got (or is about to get).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    pub contact_id: i64,
    pub campaign: String,
    pub at: DateTime<Utc>,
}

/// Raw pilot figures for one group, read by `report`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupFigures {
    pub enrolled: u64,
    pub sent: u64,
    pub failed: u64,
    pub bounced: u64,
    pub unsubscribed: u64,
    pub responders: u64,
    /// Days from entry to each responder's first response.
    pub response_days: Vec<i64>,
    /// Clicks on the campaign's links: a figure of their own, never a response.
    pub clicks: ClickFigures,
}

/// Clicks on a campaign's tracked links by one group (the holdout, never
/// emailed, has none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClickFigures {
    pub clicks: u64,
    /// Contacts with at least one click.
    pub clickers: u64,
    /// Clicks that look automated (link scanners, prefetchers).
    pub automated: u64,
    /// Automated clicks by reason (`head`, `scanner-agent`, `too-soon`).
    pub automated_by_reason: std::collections::BTreeMap<String, u64>,
    /// Contacts with at least one click that looks like a reader's.
    pub human_clickers: u64,
}

/// Per step of a campaign: messages sent, what became of them, and
/// contacts who responded after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StepFigures {
    pub step: u32,
    pub sent: u64,
    pub responders_after: u64,
    /// Messages of this step that failed for good.
    pub failed: u64,
    /// Messages of this step that hard-bounced: refused for the recipient
    /// while sending, or reported later by a DSN (not undone).
    pub bounced: u64,
    /// Messages of this step a recipient complained about (not undone).
    pub complaints: u64,
    /// Clicks on this step's links, and contacts with a click that looks
    /// like a reader's.
    pub clicks: u64,
    pub human_clickers: u64,
}

impl StepFigures {
    /// The figures of `step` in `steps`, added when no message of it was sent yet.
    pub fn entry(steps: &mut Vec<StepFigures>, step: u32) -> &mut StepFigures {
        match steps.iter().position(|s| s.step == step) {
            Some(i) => &mut steps[i],
            None => {
                steps.push(StepFigures {
                    step,
                    ..StepFigures::default()
                });
                steps.last_mut().expect("just pushed")
            }
        }
    }
}

/// Everything a pilot report reads: figures per group, and per step.
pub type PilotFigures = (Vec<(Group, GroupFigures)>, Vec<StepFigures>);

/// A secret kept in the database (its value never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub name: String,
    pub value: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSecret")
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// What a running daemon says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaemonReport {
    pub daemon: String,
    pub pid: u32,
    pub next_tick_at: DateTime<Utc>,
    pub tick_every_seconds: u64,
    pub updated_at: DateTime<Utc>,
}

/// How a daemon's last reload of campaigns and templates went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadStatus {
    pub daemon: String,
    pub ok: bool,
    pub reason: String,
    pub campaigns: u64,
    /// Each problem as `path:line:col: message`.
    pub errors: Vec<String>,
    pub at: DateTime<Utc>,
}

/// Held while one daemon plans; dropping it lets another plan.
#[derive(Debug, Default)]
pub struct PlannerLock {
    /// The PostgreSQL session holding the advisory lock (closed on drop).
    pub(crate) session: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

impl Drop for PlannerLock {
    fn drop(&mut self) {
        // Closing the session releases its advisory lock on the server.
        if let Some(session) = self.session.take() {
            drop(session.detach());
        }
    }
}

/// What starts an event-started campaign, for one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTrigger {
    /// Event kinds (`activity`: any activity kind).
    pub kinds: Vec<String>,
    /// The contact enters this long after the event.
    pub delay: chrono::Duration,
    /// Entries due after this instant (the previous tick)…
    pub after: DateTime<Utc>,
    /// …up to and including this one (now).
    pub until: DateTime<Utc>,
}

/// A contact who may have an anniversary soon: (id, created at, time zone).
pub type Anniversary = (i64, DateTime<Utc>, Option<String>);

/// What an inbound message does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundEffect {
    None,
    /// Counted as a soft bounce of the send (the soft-bounce rule decides).
    SoftBounce,
    /// Suppresses the address as a bounce.
    HardBounce,
    /// Suppresses the address as a complaint.
    Complaint,
    /// Records a `reply` event (exits naming `reply` or `activity` fire).
    Reply,
    /// Unsubscribes the address.
    Unsubscribe,
}

impl InboundEffect {
    pub fn as_str(self) -> &'static str {
        match self {
            InboundEffect::None => "none",
            InboundEffect::SoftBounce => "soft_bounce",
            InboundEffect::HardBounce => "hard_bounce",
            InboundEffect::Complaint => "complaint",
            InboundEffect::Reply => "reply",
            InboundEffect::Unsubscribe => "unsubscribe",
        }
    }
}

/// An inbound message (or webhook event) to keep, with its resolved target.
#[derive(Debug, Clone)]
pub struct NewInbound {
    pub source: String,
    /// Identifies the message (or event) for idempotency: a repeat is ignored.
    pub digest: String,
    pub raw: Option<Vec<u8>>,
    pub kind: String,
    pub effect: InboundEffect,
    pub classification: serde_json::Value,
    /// One line, addresses masked.
    pub summary: String,
    pub send_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub campaign: Option<String>,
    /// Why, for the suppression or event it adds (addresses masked).
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InboundRecorded {
    pub id: i64,
    pub duplicate: bool,
    /// The address was suppressed by this message (not before).
    pub suppressed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct InboundFilter {
    pub kind: Option<String>,
    pub campaign: Option<String>,
    pub limit: Option<u64>,
}

/// One kept inbound message, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundRow {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub source: String,
    pub kind: String,
    pub effect: String,
    pub summary: String,
    pub email: Option<String>,
    pub campaign: Option<String>,
    pub send_id: Option<i64>,
    pub suppressed: Option<String>,
    pub undone_at: Option<DateTime<Utc>>,
    pub undo_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboundDetail {
    #[serde(flatten)]
    pub row: InboundRow,
    pub classification: serde_json::Value,
    /// The message as received (gone after retention).
    #[serde(skip)]
    pub raw: Option<Vec<u8>>,
    pub raw_kept: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndoOutcome {
    pub found: bool,
    /// It had been undone before: nothing changed.
    pub already: bool,
    /// The suppression lifted, if it still stood.
    pub lifted: Option<String>,
    /// The suppression stays: this other kept message (a bounce, a
    /// complaint, an unsubscribe of the same contact, not undone) asks for
    /// it too, and now owns it.
    pub kept_by: Option<i64>,
    pub events_removed: u64,
    pub soft_bounces_removed: u64,
}

/// One IMAP folder of one account, at one UIDVALIDITY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapMailbox {
    pub account: String,
    pub folder: String,
    pub uid_validity: u32,
}

/// Everything tend holds about one person (`tend contacts export`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonalData {
    pub contact: Contact,
    pub enrollments: Vec<EnrollmentRecord>,
    pub sends: Vec<SendRecord>,
    pub events: Vec<EventRecord>,
    /// The address's own suppression and any on its domain.
    pub suppressions: Vec<Suppression>,
    /// What mail servers answered when a message to them failed.
    pub smtp_failures: Vec<FailureNote>,
    pub inbound: Vec<InboundRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrollmentRecord {
    pub id: i64,
    pub campaign: String,
    pub group: String,
    pub entered_at: DateTime<Utc>,
    pub exited_at: Option<DateTime<Utc>>,
    pub exit_reason: Option<String>,
}

/// One message of the outbox, as kept (subject and body only once sent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendRecord {
    pub id: i64,
    pub campaign: String,
    pub step: u32,
    pub template: String,
    pub state: String,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub body_text: Option<String>,
    /// The variant chosen for each slot (JSON as stored).
    pub variants: Option<serde_json::Value>,
    pub last_error: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub detail: String,
    pub source: String,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureNote {
    pub send_id: i64,
    pub at: DateTime<Utc>,
    pub verdict: String,
    pub reason: String,
    pub reply: String,
}

/// An inbound message about the person, with its raw text while kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundRecord {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub source: String,
    pub kind: String,
    pub effect: String,
    pub summary: String,
    pub detail: String,
    pub campaign: Option<String>,
    pub raw: Option<String>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub enrollments_ended: u64,
    pub sends_cancelled: u64,
    pub messages_cleared: u64,
    pub events_cleared: u64,
    pub smtp_replies_cleared: u64,
    pub inbound_cleared: u64,
    pub suppressions_replaced: u64,
}

/// Before when each kind of data is forgotten (`None`: kept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionCutoffs {
    pub message_bodies: Option<DateTime<Utc>>,
    pub events: Option<DateTime<Utc>>,
    pub inbound_raw: Option<DateTime<Utc>>,
}

/// One application of the retention rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionRun {
    pub ran_at: DateTime<Utc>,
    pub message_bodies: u64,
    pub events: u64,
    pub inbound_raw: u64,
}
