//! Sending: claim due outbox rows, render, deliver under a global rate limit
//! and a connection cap, and record every outcome. A claimed row always ends
//! in a recorded state; if recording itself fails, the row stays `sending`
//! and its lease expiry turns it `in_doubt` (never resent blindly).

mod compose;
mod limits;
mod transport;

pub use compose::{ComposeError, Composed, Identity, IdentityError, compose};
pub use limits::{DomainBook, DomainLimits};
pub use transport::{Delivery, Transport, TransportError};

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::{mask, redact_addresses};
use crate::metrics;
use crate::render::Renderer;
use crate::store::{
    ClaimRequest, ClaimedSend, NewSuppression, SendOutcome, Store, StoreError, SuppressionReason,
    SuppressionScope,
};
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// A loaded catalog and its compiled templates, swapped as one.
#[derive(Debug)]
pub struct Loaded {
    pub catalog: Catalog,
    pub renderer: Renderer,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Links(#[from] crate::links::LinkError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves the sending identity: from/reply-to, link key, DKIM key.
pub async fn identity<S: Store>(
    store: &S,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Identity, SendError> {
    let links = crate::links::Links::load(store, settings, now).await?;
    Ok(Identity::new(settings, links)?)
}

/// Counts of one or more sending rounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SendStats {
    pub claimed: u64,
    pub sent: u64,
    pub retry: u64,
    pub failed: u64,
    pub bounced: u64,
    pub suppressed: u64,
    pub cancelled: u64,
    /// Claimed but put back, untouched, because we are stopping.
    pub released: u64,
    /// Results that could not be recorded (rows stay `sending` until their lease expires).
    pub unrecorded: u64,
}

impl SendStats {
    pub fn add(&mut self, other: &SendStats) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retry += other.retry;
        self.failed += other.failed;
        self.bounced += other.bounced;
        self.suppressed += other.suppressed;
        self.cancelled += other.cancelled;
        self.released += other.released;
        self.unrecorded += other.unrecorded;
    }
}

#[derive(Debug)]
struct Shared<S> {
    store: S,
    transport: Transport,
    limiter: DefaultDirectRateLimiter,
    domains: DomainLimits,
    book: DomainBook,
    connections: Semaphore,
    clock: Arc<dyn Clock>,
    identity: Identity,
    settings: Settings,
    worker: String,
    stopping: AtomicBool,
    seeded: AtomicBool,
}

/// The claim → send → record loop. Cheap to clone; clones share limits.
#[derive(Debug)]
pub struct Sender<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for Sender<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: Store> Sender<S> {
    pub fn new(
        store: S,
        settings: &Settings,
        identity: Identity,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SendError> {
        let rate = settings.sending.rate;
        let quota = Quota::with_period(rate.interval())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::MIN);
        Ok(Self {
            shared: Arc::new(Shared {
                transport: Transport::from_settings(&settings.smtp)?,
                limiter: RateLimiter::direct(quota),
                domains: DomainLimits::new(&settings.sending),
                book: DomainBook::new(&settings.sending),
                connections: Semaphore::new(settings.smtp.connections as usize),
                store,
                clock,
                identity,
                settings: settings.clone(),
                worker: format!("{}-{}", std::process::id(), Utc::now().timestamp_millis()),
                stopping: AtomicBool::new(false),
                seeded: AtomicBool::new(false),
            }),
        })
    }

    /// Stop putting claimed rows on the wire; they are released to `queued`.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
    }

    /// One round: claim up to a batch of due rows and see each to a recorded end.
    pub async fn round(&self, loaded: &Arc<Loaded>) -> Result<SendStats, SendError> {
        let s = &self.shared;
        let now = s.clock.now();
        if !s.seeded.swap(true, Ordering::SeqCst) {
            s.book.seed(s.store.domain_health().await?);
        }
        s.store.expire_leases(now).await?;
        let limit = self
            .warmup_allowance(now)
            .await?
            .min(s.settings.sending.batch);
        let claim = s
            .store
            .claim(&ClaimRequest {
                now,
                limit,
                lease_until: now + s.settings.sending.lease.to_chrono(),
                worker: s.worker.clone(),
            })
            .await?;
        let mut stats = SendStats {
            claimed: claim.sends.len() as u64,
            suppressed: claim.suppressed,
            cancelled: claim.cancelled,
            ..Default::default()
        };
        // One task per contact, its sends in order: each message's variant
        // choice then sees the one recorded just before it (no repeats
        // between two campaigns that reach the same contact in one round).
        let mut per_contact: std::collections::BTreeMap<i64, Vec<ClaimedSend>> =
            std::collections::BTreeMap::new();
        for send in claim.sends {
            per_contact.entry(send.contact.id).or_default().push(send);
        }
        let mut tasks = JoinSet::new();
        let mut sizes = std::collections::HashMap::new();
        for sends in per_contact.into_values() {
            let this = self.clone();
            let loaded = Arc::clone(loaded);
            let size = sends.len() as u64;
            let handle = tasks.spawn(async move {
                let mut stats = SendStats::default();
                for send in sends {
                    stats.add(&this.process(send, &loaded).await);
                }
                stats
            });
            sizes.insert(handle.id(), size);
        }
        while let Some(result) = tasks.join_next().await {
            match result {
                Ok(one) => stats.add(&one),
                // A panicking task leaves its rows `sending`: the lease makes them in-doubt.
                Err(e) => {
                    tracing::error!(error = %redact_addresses(&e.to_string()), "a send task failed");
                    stats.unrecorded += sizes.get(&e.id()).copied().unwrap_or(1);
                }
            }
        }
        Ok(stats)
    }

    /// How many more messages today's warm-up step allows (unbounded without warm-up).
    async fn warmup_allowance(&self, now: DateTime<Utc>) -> Result<u32, SendError> {
        let s = &self.shared;
        let ramp = &s.settings.sending.warmup;
        if ramp.is_empty() {
            return Ok(u32::MAX);
        }
        let first = s.store.first_sent_at().await?;
        let day = first.map_or(0, |f| (now - f).num_days().max(0)) as usize;
        let Some(cap) = ramp.get(day) else {
            return Ok(u32::MAX);
        };
        let day_start = first.unwrap_or(now) + chrono::Duration::days(day as i64);
        let sent = s.store.sent_since(day_start).await?;
        let left = u64::from(*cap).saturating_sub(sent);
        if left == 0 {
            metrics::CAP_WAITS.with_label_values(&["warmup"]).inc();
            tracing::info!(
                day = day + 1,
                cap,
                "warm-up: today's cap is reached; the rest waits for tomorrow"
            );
        }
        Ok(left.min(u64::from(u32::MAX)) as u32)
    }

    /// Rounds until nothing is due.
    pub async fn drain(&self, loaded: &Arc<Loaded>) -> Result<SendStats, SendError> {
        self.drain_with(loaded, |_| {}).await
    }

    /// Rounds until nothing is due, reporting each round (for progress display).
    pub async fn drain_with(
        &self,
        loaded: &Arc<Loaded>,
        mut on_round: impl FnMut(&SendStats),
    ) -> Result<SendStats, SendError> {
        let mut total = SendStats::default();
        loop {
            let stats = self.round(loaded).await?;
            on_round(&stats);
            total.add(&stats);
            if stats.claimed == 0 {
                return Ok(total);
            }
        }
    }

    async fn process(&self, send: ClaimedSend, loaded: &Loaded) -> SendStats {
        let s = &self.shared;
        let outcome = self.attempt(&send, loaded).await;
        let mut stats = SendStats::default();
        let result = match &outcome {
            SendOutcome::Sent { .. } => {
                stats.sent += 1;
                "sent"
            }
            SendOutcome::Retry { .. } => {
                stats.retry += 1;
                "retry"
            }
            SendOutcome::Failed { .. } => {
                stats.failed += 1;
                "failed"
            }
            SendOutcome::Bounced { .. } => {
                stats.bounced += 1;
                "bounced"
            }
            SendOutcome::Cancelled { .. } => {
                stats.cancelled += 1;
                "cancelled"
            }
            SendOutcome::Released => {
                stats.released += 1;
                "released"
            }
        };
        metrics::SENDS
            .with_label_values(&[result, send.campaign.as_str()])
            .inc();
        let to = mask(&send.contact.email);
        match &outcome {
            SendOutcome::Sent { .. } => {
                tracing::info!(send = send.id, campaign = %send.campaign, step = send.step + 1, to, "sent")
            }
            SendOutcome::Retry { next_at, error } => {
                tracing::warn!(send = send.id, to, %next_at, error = redact_addresses(error), "will retry")
            }
            SendOutcome::Failed { error } => {
                tracing::warn!(
                    send = send.id,
                    to,
                    error = redact_addresses(error),
                    "failed"
                )
            }
            SendOutcome::Bounced { error, .. } => {
                tracing::warn!(
                    send = send.id,
                    to,
                    error = redact_addresses(error),
                    "bounced; address suppressed"
                )
            }
            SendOutcome::Cancelled { reason } => {
                tracing::info!(send = send.id, to, reason, "cancelled")
            }
            SendOutcome::Released => tracing::debug!(send = send.id, "released back to the queue"),
        }
        if let Err(e) = s.store.record(send.id, &outcome, s.clock.now()).await {
            tracing::error!(send = send.id, error = %redact_addresses(&e.to_string()), "could not record a send result; the row will become in_doubt when its lease expires");
            return SendStats {
                unrecorded: 1,
                ..Default::default()
            };
        }
        stats.claimed = 0;
        stats
    }

    async fn attempt(&self, send: &ClaimedSend, loaded: &Loaded) -> SendOutcome {
        let s = &self.shared;
        let Some(campaign) = loaded.catalog.campaigns.get(&send.campaign) else {
            return SendOutcome::Cancelled {
                reason: format!("campaign `{}` is no longer defined", send.campaign),
            };
        };
        let history = match s.store.history(send.contact.id, Some(send.id)).await {
            Ok(history) => history,
            Err(e) => {
                return self.retry_or_fail(
                    send,
                    s.clock.now(),
                    format!("cannot read the contact's history: {e}"),
                );
            }
        };
        let now = s.clock.now();
        let composed = match compose(
            loaded,
            &s.identity,
            campaign,
            send.step as usize,
            &send.contact,
            Some((send.id, send.enrollment_id)),
            now,
            &history,
        ) {
            Ok(c) => c,
            Err(e) => {
                return SendOutcome::Failed {
                    error: e.to_string(),
                };
            }
        };
        let domain = send
            .contact
            .email
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default()
            .to_string();
        let _permit = s.connections.acquire().await;
        let waited = Instant::now();
        s.limiter.until_ready().await;
        metrics::RATE_LIMIT_WAIT_SECONDS
            .with_label_values(&["global"])
            .inc_by(waited.elapsed().as_millis() as u64);
        let waited = Instant::now();
        s.domains.until_ready(&domain).await;
        metrics::RATE_LIMIT_WAIT_SECONDS
            .with_label_values(&["domain"])
            .inc_by(waited.elapsed().as_millis() as u64);
        if s.stopping.load(Ordering::SeqCst) {
            return SendOutcome::Released;
        }
        let started = Instant::now();
        let delivery = s.transport.deliver(composed.message).await;
        let outcome = match &delivery {
            Delivery::Accepted(_) => "accepted",
            Delivery::Transient { .. } => "transient",
            Delivery::Rejected(_) => "rejected",
            Delivery::Unsendable(_) => "unsendable",
        };
        metrics::SMTP_SECONDS
            .with_label_values(&[outcome])
            .observe(started.elapsed().as_secs_f64());
        let deferred = match &delivery {
            Delivery::Accepted(_) => Some(None),
            Delivery::Transient {
                error,
                deferred: true,
            } => Some(Some(error.as_str())),
            _ => None,
        };
        if let Some(answer) = deferred {
            let now = s.clock.now();
            if let Some(state) = s.book.record(&domain, answer, now) {
                if let Err(e) = s.store.save_domain_health(&state, now).await {
                    tracing::error!(error = %redact_addresses(&e.to_string()), domain, "could not store domain health");
                }
            }
        }
        match delivery {
            Delivery::Accepted(response) => SendOutcome::Sent {
                message_id: composed.message_id,
                subject: composed.subject,
                response,
                content: composed.content,
            },
            Delivery::Rejected(error) => SendOutcome::Bounced {
                suppress: NewSuppression {
                    value: send.contact.email.clone(),
                    scope: SuppressionScope::Address,
                    reason: SuppressionReason::Bounce,
                    source: "smtp".into(),
                    detail: error.clone(),
                },
                error,
            },
            Delivery::Unsendable(error) => SendOutcome::Failed { error },
            Delivery::Transient { error, .. } => self.retry_or_fail(send, s.clock.now(), error),
        }
    }

    fn retry_or_fail(&self, send: &ClaimedSend, now: DateTime<Utc>, error: String) -> SendOutcome {
        let sending = &self.shared.settings.sending;
        let next_at = now + backoff(sending.retry_base.as_secs(), send.attempts, send.id);
        if send.attempts >= sending.max_attempts
            || next_at > send.due_at + sending.retry_for.to_chrono()
        {
            SendOutcome::Failed {
                error: format!("gave up after {} attempts: {error}", send.attempts),
            }
        } else {
            SendOutcome::Retry { next_at, error }
        }
    }
}

/// Exponential backoff with deterministic ±20% jitter, capped at six hours:
/// `base · 2^(attempts-1)`. Jitter spreads retries of one batch apart.
pub fn backoff(base_secs: i64, attempts: u32, send_id: i64) -> chrono::Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let raw = base_secs
        .max(1)
        .saturating_mul(1_i64 << exponent)
        .min(6 * 3600);
    let digest = Sha256::digest(format!("{send_id}:{attempts}").as_bytes());
    let unit = f64::from(u16::from_be_bytes([digest[0], digest[1]])) / f64::from(u16::MAX);
    let factor = 0.8 + 0.4 * unit;
    chrono::Duration::seconds(((raw as f64) * factor).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_a_cap() {
        for attempts in 1..=6 {
            let expected = 60 * (1 << (attempts - 1));
            let got = backoff(60, attempts, 42).num_seconds();
            assert!(
                got >= expected * 8 / 10 && got <= expected * 12 / 10,
                "attempt {attempts}: {got}"
            );
        }
        assert!(backoff(60, 30, 1).num_seconds() <= 6 * 3600 * 12 / 10);
    }

    #[test]
    fn backoff_jitter_differs_between_sends() {
        let spread: std::collections::HashSet<i64> = (0..20)
            .map(|id| backoff(600, 3, id).num_seconds())
            .collect();
        assert!(spread.len() > 5);
    }
}
