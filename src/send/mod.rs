//! Sending: claim due outbox rows, judge each again at the moment it would
//! leave, render, deliver under the rate limits, the relay's circuit breaker
//! and the domains' backoff, and record every outcome.
//!
//! A row is `claimed` while this sender prepares it and becomes `sending`
//! only for the SMTP transaction that carries it, durably before the
//! end-of-data marker (see [`gate`]). If the sender
//! dies, claimed rows go back to the queue and only `sending` rows (at most
//! one per connection) become `in_doubt`.

mod attempt;
pub mod breaker;
mod compose;
pub mod gate;
#[cfg(test)]
mod golden;
mod limits;
pub mod preview;
pub mod reply;
pub mod smtp;
mod transport;
pub mod worker;

pub use compose::{ComposeError, Composed, Identity, IdentityError, compose};
pub use limits::{DomainBook, DomainLimits};
pub use transport::{Transport, TransportError, relay_name};

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::Settings;
use crate::metrics;
use crate::render::Renderer;
use crate::store::prelude::*;
use crate::store::{ClaimRequest, ClaimedSend, DailyCap, StoreError, WorkerInfo};
use breaker::{Breaker, Gate};
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// At most this many further claims in one round (the pipeline's refills).
/// A round ends by waiting for its last messages, with connections idle
/// meanwhile, so rounds end on time ([`MAX_ROUND`]) rather than every few
/// batches.
const MAX_REFILLS: u32 = 100;
/// No refill once a round is this old.
const MAX_ROUND: std::time::Duration = std::time::Duration::from_secs(5);

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

/// Resolves the sending identity: from/reply-to, link key, DKIM key, and
/// the installation id that makes Message-IDs unique to this database.
pub async fn identity<S: Store>(
    store: &S,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Identity, SendError> {
    let links = crate::links::Links::load(store, settings, now).await?;
    let installation = installation_id(store, now).await?;
    Ok(Identity::new(settings, links, installation)?)
}

/// This database's installation id (random, made once and kept): it makes
/// Message-IDs unique to the installation, and tells our own apart.
pub async fn installation_id<S: Store>(store: &S, now: DateTime<Utc>) -> Result<String, SendError> {
    let mut candidate = [0u8; 6];
    getrandom::fill(&mut candidate)
        .map_err(|e| SendError::Identity(IdentityError::Installation(e.to_string())))?;
    let installation = store.secret("installation_id", &candidate, now).await?;
    Ok(installation.iter().map(|b| format!("{b:02x}")).collect())
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
    /// Held back at the moment they would have left (window, quiet hours,
    /// cap, paused relay or domain): back in the queue for later.
    pub held: u64,
    /// Refused for reasons that are ours: waiting, attempts not counted.
    pub parked: u64,
    /// Claimed but put back, untouched, because we are stopping.
    pub released: u64,
    /// Results that could not be recorded (the row is taken back when this
    /// sender is gone: claimed rows requeued, rows on the wire in doubt).
    pub unrecorded: u64,
    /// Taken back from senders that died: requeued, and in doubt.
    pub recovered: u64,
    pub in_doubt: u64,
    /// Set when the relay's breaker is open: nothing leaves before then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
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
        self.held += other.held;
        self.parked += other.parked;
        self.released += other.released;
        self.unrecorded += other.unrecorded;
        self.recovered += other.recovered;
        self.in_doubt += other.in_doubt;
        self.paused_until = other.paused_until.or(self.paused_until);
    }
}

#[derive(Debug)]
struct Shared<S> {
    store: S,
    transport: Transport,
    limiter: DefaultDirectRateLimiter,
    domains: DomainLimits,
    book: DomainBook,
    breaker: Breaker,
    connections: Semaphore,
    clock: Arc<dyn Clock>,
    identity: Identity,
    settings: Settings,
    worker: WorkerInfo,
    stopping: AtomicBool,
    /// Sends seen to an end (any outcome): the watchdog's sign of life.
    progress: AtomicU64,
    /// Orders the saves of relay and domain health (newest state last).
    health_writes: tokio::sync::Mutex<()>,
}

/// The claim → judge → send → record loop. Cheap to clone; clones share limits.
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
        let transport = Transport::from_settings(&settings.smtp)?;
        Ok(Self {
            shared: Arc::new(Shared {
                breaker: Breaker::new(&transport.relay(), &settings.sending),
                transport,
                limiter: RateLimiter::direct(quota),
                domains: DomainLimits::new(&settings.sending),
                book: DomainBook::new(&settings.sending),
                connections: Semaphore::new(settings.smtp.connections as usize),
                worker: worker::current(clock.now()),
                store,
                clock,
                identity,
                settings: settings.clone(),
                stopping: AtomicBool::new(false),
                progress: AtomicU64::new(0),
                health_writes: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Stop putting claimed rows on the wire; they are released to the queue.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
    }

    /// How many sends have come to an end so far (any outcome).
    pub fn progress(&self) -> u64 {
        self.shared.progress.load(Ordering::Relaxed)
    }

    /// This sender's id in the outbox (`claimed_by`).
    pub fn worker_id(&self) -> &str {
        &self.shared.worker.id
    }

    /// Says goodbye: closes idle SMTP sessions and retires this sender (its
    /// rows that never reached the wire go back to the queue at once).
    pub async fn close(&self) {
        let s = &self.shared;
        s.transport.close().await;
        if let Err(e) = s
            .store
            .recover(std::slice::from_ref(&s.worker.id), s.clock.now())
            .await
        {
            tracing::warn!(error = %e, "could not retire this sender; its rows are taken back by the next one");
        }
    }

    /// Tells the store this sender is alive (between rounds too: a long
    /// round must not look like a dead sender to the others).
    pub async fn heartbeat(&self) -> Result<(), SendError> {
        let s = &self.shared;
        Ok(s.store.heartbeat(&s.worker, s.clock.now()).await?)
    }

    /// Announces this sender and takes back the rows of senders that died.
    async fn keep_alive(&self, now: DateTime<Utc>) -> Result<crate::store::Recovered, SendError> {
        let s = &self.shared;
        s.store.heartbeat(&s.worker, now).await?;
        let lease = s.settings.sending.lease.to_chrono();
        let dead: Vec<String> = s
            .store
            .workers()
            .await?
            .iter()
            .filter(|w| worker::is_dead(w, &s.worker, now, lease))
            .map(|w| w.id.clone())
            .collect();
        let recovered = s.store.recover(&dead, now).await?;
        if recovered.released > 0 || recovered.in_doubt > 0 {
            tracing::warn!(
                requeued = recovered.released,
                in_doubt = recovered.in_doubt,
                "took back the rows of a sender that stopped: claimed rows are queued again; rows already on the wire are in doubt (see `tend outbox --state in_doubt`)"
            );
        }
        Ok(recovered)
    }

    /// One round: claim up to a batch of due rows and see each to a recorded end.
    pub async fn round(&self, loaded: &Arc<Loaded>) -> Result<SendStats, SendError> {
        let s = &self.shared;
        let now = s.clock.now();
        // What other senders learned about domains and the relay counts here too.
        s.book.adopt(s.store.domain_health().await?);
        s.breaker
            .adopt(s.store.relay_health(&s.breaker.relay()).await?);
        let recovered = self.keep_alive(now).await?;
        let mut stats = SendStats {
            recovered: recovered.released,
            in_doubt: recovered.in_doubt,
            ..Default::default()
        };
        let mut limit = s.settings.sending.batch;
        let daily_cap = self.warmup_cap(now).await?;
        let probing = match s.breaker.gate(now) {
            Gate::Closed => false,
            Gate::Open { until } => {
                stats.paused_until = Some(until);
                return Ok(stats);
            }
            Gate::Probe => {
                tracing::warn!(relay = %s.breaker.relay(), "the relay's pause is over: probing it with one message");
                limit = limit.min(1);
                true
            }
        };
        let catalog = &loaded.catalog;
        let rules = crate::plan::Rules::from_settings(&s.settings);
        let longest_cap = catalog
            .campaigns
            .values()
            .filter_map(|c| c.max_per_contact)
            .chain(rules.max_per_contact)
            .map(|cap| cap.period.to_chrono())
            .max();
        let request = |now: DateTime<Utc>| ClaimRequest {
            now,
            limit,
            lease_until: now + s.settings.sending.lease.to_chrono(),
            worker: s.worker.id.clone(),
            exits: catalog
                .campaigns
                .values()
                .map(|c| {
                    (
                        c.id.clone(),
                        crate::plan::exit_rule(c, &catalog.vocabulary, now),
                    )
                })
                .collect(),
            history_since: longest_cap.map(|period| now - period),
            daily_cap,
        };
        let claim = match s.store.claim(&request(now)).await {
            Ok(claim) => claim,
            Err(e) => {
                if probing {
                    s.breaker.cancel_probe();
                }
                return Err(e.into());
            }
        };
        if probing && claim.sends.is_empty() {
            s.breaker.cancel_probe();
        }
        // The pipeline: while the connections work through this claim, the
        // next one is taken while half a batch is left (at least two
        // messages per connection), so they never wait for the end of a
        // batch, nor for a claim slowed by a busy database. A round stays
        // short (a few seconds) so the caller's tick and shutdown come round.
        let low_water = (2 * u64::from(s.settings.smtp.connections)).max(u64::from(limit) / 2);
        let started = Instant::now();
        let mut refills = 0;
        let mut full = !probing && claim.sends.len() as u64 == u64::from(limit);
        let mut tasks = JoinSet::new();
        let mut sizes = std::collections::HashMap::new();
        let mut in_flight = 0;
        self.spawn_claim(
            claim,
            loaded,
            probing,
            daily_cap,
            &mut stats,
            &mut tasks,
            &mut sizes,
            &mut in_flight,
        );
        loop {
            // No refill once the relay's breaker opened in this round: every
            // row claimed would only be held back until the pause ends (and
            // each claim reads the due rows again), like a round that starts
            // with the breaker open and claims nothing.
            if full
                && in_flight <= low_water
                && refills < MAX_REFILLS
                && started.elapsed() < MAX_ROUND
                && !s.stopping.load(Ordering::SeqCst)
                && s.breaker.paused_until(s.clock.now()).is_none()
            {
                refills += 1;
                match s.store.claim(&request(s.clock.now())).await {
                    Ok(claim) => {
                        full = claim.sends.len() as u64 == u64::from(limit);
                        self.spawn_claim(
                            claim,
                            loaded,
                            probing,
                            daily_cap,
                            &mut stats,
                            &mut tasks,
                            &mut sizes,
                            &mut in_flight,
                        );
                    }
                    // The rows on their way are seen to their end; the next
                    // round claims again.
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot claim more rows in this round");
                        full = false;
                    }
                }
                continue;
            }
            let Some(result) = tasks.join_next_with_id().await else {
                break;
            };
            match result {
                Ok((id, one)) => {
                    in_flight -= sizes.remove(&id).unwrap_or(0);
                    stats.add(&one);
                }
                // A panicking task leaves its rows claimed or on the wire:
                // they are taken back when this sender is gone.
                Err(e) => {
                    tracing::error!(error = %crate::domain::redact_addresses(&e.to_string()), "a send task failed");
                    let size = sizes.remove(&e.id()).unwrap_or(1);
                    in_flight = in_flight.saturating_sub(size);
                    stats.unrecorded += size;
                }
            }
        }
        Ok(stats)
    }

    /// Starts the tasks of one claim: one task per contact, its sends in
    /// order, so each message's variant choice and cap see the one recorded
    /// just before it.
    #[allow(clippy::too_many_arguments)]
    fn spawn_claim(
        &self,
        claim: crate::store::Claim,
        loaded: &Arc<Loaded>,
        probing: bool,
        daily_cap: Option<DailyCap>,
        stats: &mut SendStats,
        tasks: &mut JoinSet<SendStats>,
        sizes: &mut std::collections::HashMap<tokio::task::Id, u64>,
        in_flight: &mut u64,
    ) {
        if claim.capped {
            metrics::CAP_WAITS.with_label_values(&["warmup"]).inc();
            tracing::info!(
                cap = daily_cap.map(|c| c.cap),
                "warm-up: today's cap is reached; the rest waits for tomorrow"
            );
        }
        stats.claimed += claim.sends.len() as u64;
        stats.suppressed += claim.suppressed;
        stats.cancelled += claim.cancelled;
        *in_flight += claim.sends.len() as u64;
        let mut per_contact: std::collections::BTreeMap<i64, Vec<ClaimedSend>> =
            std::collections::BTreeMap::new();
        for send in claim.sends {
            per_contact.entry(send.contact.id).or_default().push(send);
        }
        for sends in per_contact.into_values() {
            let this = self.clone();
            let loaded = Arc::clone(loaded);
            let size = sends.len() as u64;
            let handle = tasks.spawn(async move {
                let mut stats = SendStats::default();
                let mut sent_here = attempt::SentHere::default();
                for send in sends {
                    stats.add(&this.process(send, &loaded, &mut sent_here, probing).await);
                }
                stats
            });
            sizes.insert(handle.id(), size);
        }
    }

    /// Today's warm-up cap, if the ramp is still on: judged in the claim,
    /// so every sender on the database shares it.
    async fn warmup_cap(&self, now: DateTime<Utc>) -> Result<Option<DailyCap>, SendError> {
        let s = &self.shared;
        let ramp = &s.settings.sending.warmup;
        if ramp.is_empty() {
            return Ok(None);
        }
        let first = s.store.first_sent_at().await?;
        let day = first.map_or(0, |f| (now - f).num_days().max(0)) as usize;
        let Some(cap) = ramp.get(day) else {
            return Ok(None);
        };
        Ok(Some(DailyCap {
            since: first.unwrap_or(now) + chrono::Duration::days(day as i64),
            cap: u64::from(*cap),
        }))
    }

    /// Rounds until nothing is due.
    pub async fn drain(&self, loaded: &Arc<Loaded>) -> Result<SendStats, SendError> {
        self.drain_with(loaded, |_| {}).await
    }

    /// Rounds until nothing is due (or the relay is paused), reporting each
    /// round (for progress display).
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
            if stats.claimed == 0 || stats.paused_until.is_some() {
                return Ok(total);
            }
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
