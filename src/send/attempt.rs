//! One claimed row, from judgement to a recorded end: the rules judged again
//! for the very instant it would leave, composition, rate limits, the wire,
//! and the SMTP answer read by its enhanced status code (see [`super::reply`]).

use super::reply::{self, Classified, Phase, Refusal, Verdict};
use super::smtp::{Failure, FailureKind};
use super::{Loaded, SendStats, Sender, backoff, compose};
use crate::catalog::Campaign;
use crate::domain::{HoldReason, NewSuppression, PastSend, SuppressionReason, SuppressionScope};
use crate::domain::{mask, redact_addresses as scrub};
use crate::metrics;
use crate::plan::{Rules, WaitReason};
use crate::store::prelude::*;
use crate::store::{ClaimedSend, FailureRecord, HistoryItem, MarkResult, SendOutcome};
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// What one task sent its contact during a claim: later sends to the same
/// contact count it for caps (`recent`) and variant choice (`past`).
#[derive(Debug, Default)]
pub(super) struct SentHere {
    recent: Vec<HistoryItem>,
    past: Vec<PastSend>,
}

/// How an attempt ended: an outcome to record, or already settled in the
/// store when the row was about to go on the wire.
enum Attempt {
    Record(SendOutcome),
    Settled(MarkResult),
}

fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::HardBounce => "hard_bounce",
        Verdict::SoftBounce => "soft_bounce",
        Verdict::Deferred => "deferred",
        Verdict::Refused(_) => "refused",
    }
}

fn phase_label(phase: Phase) -> String {
    serde_json::to_value(phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The verdict on a failure, and whether it is the relay's (counts against
/// its circuit breaker) rather than about this recipient or their domain.
fn judge_failure(failure: &Failure) -> (Classified, bool) {
    let early = matches!(
        failure.phase,
        Phase::Connect
            | Phase::Greeting
            | Phase::Ehlo
            | Phase::StartTls
            | Phase::Auth
            | Phase::MailFrom
    );
    match &failure.kind {
        FailureKind::Reply(r) => {
            let classified = reply::classify(failure.phase, r);
            let relay = early || r.code == 421 || matches!(classified.verdict, Verdict::Refused(_));
            (classified, relay)
        }
        FailureKind::Io(_) => (
            Classified {
                verdict: Verdict::Deferred,
                reason: "connection to the relay failed",
            },
            true,
        ),
        FailureKind::Timeout => (
            Classified {
                verdict: Verdict::Deferred,
                reason: "the relay did not answer in time",
            },
            true,
        ),
        FailureKind::Tls(_) => (
            Classified {
                verdict: Verdict::Refused(Refusal::System),
                reason: "TLS with the relay failed",
            },
            true,
        ),
        FailureKind::Protocol(_) => (
            Classified {
                verdict: Verdict::Refused(Refusal::Protocol),
                reason: "the relay does not speak the SMTP we need",
            },
            true,
        ),
        FailureKind::TooBig { .. } => (
            Classified {
                verdict: Verdict::Refused(Refusal::Size),
                reason: "message larger than the relay accepts",
            },
            false,
        ),
        FailureKind::Aborted(_) => (
            Classified {
                verdict: Verdict::Deferred,
                reason: "not sent",
            },
            false,
        ),
    }
}

/// Waits `wait`, and not at all when it is zero: tokio's timer rounds a
/// deadline up to its next millisecond tick, so even a zero sleep held the
/// connection's permit for up to a millisecond per message.
async fn pause(wait: std::time::Duration) {
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

impl<S: Store> Sender<S> {
    pub(super) async fn process(
        &self,
        send: ClaimedSend,
        loaded: &Loaded,
        sent_here: &mut SentHere,
        probe: bool,
    ) -> SendStats {
        let s = &self.shared;
        let attempt = self.attempt(&send, loaded, sent_here, probe).await;
        s.progress.fetch_add(1, Ordering::Relaxed);
        let to = mask(&send.contact.email);
        let mut stats = SendStats::default();
        let outcome = match attempt {
            Attempt::Settled(result) => {
                let result = match result {
                    MarkResult::Suppressed => {
                        stats.suppressed += 1;
                        "suppressed"
                    }
                    MarkResult::Cancelled => {
                        stats.cancelled += 1;
                        "cancelled"
                    }
                    MarkResult::Lost | MarkResult::Go => "lost",
                };
                tracing::info!(send = send.id, to, result, "ended right before sending");
                metrics::SENDS
                    .with_label_values(&[result, send.campaign.as_str()])
                    .inc();
                return stats;
            }
            Attempt::Record(outcome) => outcome,
        };
        let result = match &outcome {
            SendOutcome::Sent { .. } => {
                stats.sent += 1;
                "sent"
            }
            SendOutcome::Retry { .. } => {
                stats.retry += 1;
                "retry"
            }
            SendOutcome::Parked { .. } => {
                stats.parked += 1;
                "parked"
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
            SendOutcome::Held { .. } => {
                stats.held += 1;
                "held"
            }
            SendOutcome::Released => {
                stats.released += 1;
                "released"
            }
        };
        metrics::SENDS
            .with_label_values(&[result, send.campaign.as_str()])
            .inc();
        match &outcome {
            SendOutcome::Sent {
                subject, content, ..
            } => {
                tracing::info!(send = send.id, campaign = %send.campaign, step = send.step + 1, to, "sent");
                let at = s.clock.now();
                sent_here.recent.push(HistoryItem {
                    contact_id: send.contact.id,
                    campaign: send.campaign.clone(),
                    at,
                });
                sent_here.past.push(PastSend {
                    send_id: send.id,
                    campaign: send.campaign.clone(),
                    step: send.step,
                    subject: subject.clone(),
                    choices: content.choices.clone(),
                    sent_at: at,
                });
            }
            SendOutcome::Retry { next_at, error, .. } => {
                tracing::warn!(send = send.id, to, %next_at, error, "will retry")
            }
            SendOutcome::Parked { next_at, error, .. } => {
                tracing::warn!(send = send.id, to, %next_at, error, "refused for reasons that are ours, not the recipient's: parked, recipient not suppressed")
            }
            SendOutcome::Failed { error, .. } => {
                tracing::warn!(send = send.id, to, error, "failed")
            }
            SendOutcome::Bounced { error, .. } => {
                tracing::warn!(send = send.id, to, error, "bounced; address suppressed")
            }
            SendOutcome::Cancelled { reason } => {
                tracing::info!(send = send.id, to, reason, "cancelled")
            }
            SendOutcome::Held { until, reason } => {
                metrics::HELD.with_label_values(&[reason.as_str()]).inc();
                tracing::info!(send = send.id, to, %until, reason = reason.describe(), "held back")
            }
            SendOutcome::Released => tracing::debug!(send = send.id, "released back to the queue"),
        }
        // The database may be restarting or out of reach: keep the result and
        // try again (nothing is lost, and the row cannot go out twice while it
        // is ours) for as long as our claim on it holds.
        let give_up = Instant::now() + s.settings.sending.lease.to_std() / 2;
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            match s.store.record(send.id, &outcome, s.clock.now()).await {
                Ok(()) => return stats,
                Err(e) if Instant::now() + pause < give_up => {
                    tracing::error!(send = send.id, error = %e, retry_in = ?pause, "cannot record a send result; trying again until the database answers");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(send = send.id, error = %e, "could not record a send result; the row is taken back when this sender is gone (in doubt if it was on the wire)");
                    return SendStats {
                        unrecorded: 1,
                        ..Default::default()
                    };
                }
            }
        }
    }

    /// Whether the rules let the row leave at `now`; if not, until when it waits.
    fn held(
        &self,
        campaign: &Campaign,
        rules: &Rules,
        send: &ClaimedSend,
        sent_here: &[HistoryItem],
        now: DateTime<Utc>,
    ) -> Option<SendOutcome> {
        let history: Vec<&HistoryItem> = send.recent.iter().chain(sent_here).collect();
        let (at, reason) = crate::plan::next_allowed(
            campaign,
            rules,
            send.contact.timezone.as_deref(),
            &history,
            now,
            now,
        );
        (at > now).then_some(SendOutcome::Held {
            until: at,
            reason: match reason {
                Some(WaitReason::QuietHours) => HoldReason::QuietHours,
                Some(WaitReason::Cap) => HoldReason::Cap,
                _ => HoldReason::Window,
            },
        })
    }

    async fn attempt(
        &self,
        send: &ClaimedSend,
        loaded: &Loaded,
        sent_here: &SentHere,
        probe: bool,
    ) -> Attempt {
        let s = &self.shared;
        let Some(campaign) = loaded.catalog.campaigns.get(&send.campaign) else {
            return Attempt::Record(SendOutcome::Cancelled {
                reason: format!("campaign `{}` is no longer defined", send.campaign),
            });
        };
        let rules = Rules::from_settings(&s.settings);
        if let Some(held) = self.held(campaign, &rules, send, &sent_here.recent, s.clock.now()) {
            return Attempt::Record(held);
        }
        // What the contact received before this message: as claimed, and
        // what this task sent them since (nobody else sends to a claimed
        // contact), the same as `Store::history(contact, Some(send))`.
        let history: Vec<PastSend> = send.past.iter().chain(&sent_here.past).cloned().collect();
        let composed = match compose(
            loaded,
            &s.identity,
            campaign,
            send.step as usize,
            &send.contact,
            Some((send.id, send.enrollment_id)),
            s.clock.now(),
            &history,
        ) {
            Ok(c) => c,
            Err(e) => {
                return Attempt::Record(SendOutcome::Failed {
                    error: scrub(&e.to_string()),
                    failure: None,
                });
            }
        };
        let domain = send
            .contact
            .email
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        if let Some(until) = s.book.paused_until(&domain, s.clock.now()) {
            return Attempt::Record(SendOutcome::Held {
                until,
                reason: HoldReason::DomainPaused,
            });
        }
        let _permit = s.connections.acquire().await;
        if let Err(e) = self.wait_for_rates(&domain).await {
            tracing::error!(send = send.id, error = %e, "cannot reserve a slot under the shared rate; the row goes back to the queue");
            return Attempt::Record(SendOutcome::Released);
        }
        if s.stopping.load(Ordering::SeqCst) {
            return Attempt::Record(SendOutcome::Released);
        }
        // Waiting for a connection or a rate limit takes time: judge again
        // for the instant it really leaves.
        let now = s.clock.now();
        if let Some(held) = self.held(campaign, &rules, send, &sent_here.recent, now) {
            return Attempt::Record(held);
        }
        if !probe {
            if let Some(until) = s.breaker.paused_until(now) {
                return Attempt::Record(SendOutcome::Held {
                    until,
                    reason: HoldReason::RelayPaused,
                });
            }
        }
        let envelope_from = composed.envelope_from.clone();
        let bytes = composed.message.formatted();
        let marked = std::sync::Mutex::new(None);
        let mark = || async {
            let result = s
                .store
                .mark_sending(send.id, &s.worker.id, &composed.message_id, now)
                .await;
            let go = matches!(result, Ok(MarkResult::Go));
            let why = match &result {
                Ok(r) => format!("{r:?}"),
                Err(e) => e.to_string(),
            };
            *marked.lock().unwrap_or_else(|p| p.into_inner()) = result.ok();
            if go { Ok(()) } else { Err(why) }
        };
        let started = Instant::now();
        let delivery = s
            .transport
            .deliver(
                &envelope_from,
                &send.contact.email,
                &composed.message_id,
                &bytes,
                mark,
            )
            .await;
        metrics::SMTP_SECONDS
            .with_label_values(&[if delivery.is_ok() {
                "accepted"
            } else {
                "failed"
            }])
            .observe(started.elapsed().as_secs_f64());
        let now = s.clock.now();
        match delivery {
            Ok(response) => {
                self.relay_answered(None, now).await;
                self.domain_answered(&domain, None, now).await;
                Attempt::Record(SendOutcome::Sent {
                    message_id: composed.message_id,
                    subject: composed.subject,
                    response: scrub(&response),
                    content: composed.content,
                })
            }
            Err(Failure {
                kind: FailureKind::Aborted(_),
                ..
            }) => match *marked.lock().unwrap_or_else(|p| p.into_inner()) {
                Some(
                    settled @ (MarkResult::Suppressed | MarkResult::Cancelled | MarkResult::Lost),
                ) => Attempt::Settled(settled),
                // The mark itself failed (database trouble): nothing left;
                // the row goes back to the queue.
                _ => Attempt::Record(SendOutcome::Released),
            },
            Err(failure) => Attempt::Record(self.failed(send, &domain, &failure, now).await),
        }
    }

    /// Waits for the global and the domain's rate. Where the store shares
    /// rates between daemons (PostgreSQL) each send reserves its slot there,
    /// so several daemons together keep the configured rate; otherwise the
    /// sender's own limiters pace it.
    async fn wait_for_rates(&self, domain: &str) -> Result<(), crate::store::StoreError> {
        let s = &self.shared;
        let waited = Instant::now();
        match s
            .store
            .reserve_rate("global", s.settings.sending.rate.interval())
            .await?
        {
            Some(wait) => pause(wait).await,
            None => s.limiter.until_ready().await,
        }
        metrics::RATE_LIMIT_WAIT_SECONDS
            .with_label_values(&["global"])
            .inc_by(waited.elapsed().as_millis() as u64);
        let waited = Instant::now();
        let shared = match s.domains.rate_for(domain) {
            Some(rate) => {
                s.store
                    .reserve_rate(&format!("domain:{domain}"), rate.interval())
                    .await?
            }
            None => Some(std::time::Duration::ZERO),
        };
        match shared {
            Some(wait) => pause(wait).await,
            None => s.domains.until_ready(domain).await,
        }
        metrics::RATE_LIMIT_WAIT_SECONDS
            .with_label_values(&["domain"])
            .inc_by(waited.elapsed().as_millis() as u64);
        Ok(())
    }

    /// Records the relay's answer in its circuit breaker (stored on change).
    async fn relay_answered(&self, failure: Option<&str>, now: DateTime<Utc>) {
        let s = &self.shared;
        let changed = match failure {
            None => s.breaker.success(),
            Some(error) => s.breaker.failure(now, error),
        };
        if changed.is_some() {
            // Saves are serialised and write the state as it is *now*: a
            // slower save of an older state must never overwrite a newer one.
            let _order = s.health_writes.lock().await;
            let health = s.breaker.snapshot();
            if let Err(e) = s.store.save_relay_health(&health, now).await {
                tracing::error!(error = %e, "could not store the relay's health");
            }
        }
    }

    async fn domain_answered(&self, domain: &str, failure: Option<&str>, now: DateTime<Utc>) {
        let s = &self.shared;
        if s.book.record(domain, failure, now).is_some() {
            let _order = s.health_writes.lock().await;
            let Some(state) = s.book.current(domain) else {
                return;
            };
            if let Err(e) = s.store.save_domain_health(&state, now).await {
                tracing::error!(error = %e, domain, "could not store domain health");
            }
        }
    }

    /// What a failed delivery means for the row, the recipient, the domain
    /// and the relay.
    async fn failed(
        &self,
        send: &ClaimedSend,
        domain: &str,
        failure: &Failure,
        now: DateTime<Utc>,
    ) -> SendOutcome {
        let s = &self.shared;
        let (classified, relay_level) = judge_failure(failure);
        let text = scrub(&failure.to_string());
        let label = verdict_label(classified.verdict);
        metrics::SMTP_REFUSALS.with_label_values(&[label]).inc();
        let record = FailureRecord {
            phase: phase_label(failure.phase),
            verdict: label.to_string(),
            reason: classified.reason.to_string(),
            reply: text.clone(),
        };
        let error = format!("{}: {text}", classified.reason);
        if relay_level {
            self.relay_answered(Some(&error), now).await;
        } else {
            // The relay carried the conversation; the answer is about the recipient.
            self.relay_answered(None, now).await;
        }
        let about_domain = !matches!(
            classified.verdict,
            Verdict::HardBounce | Verdict::SoftBounce
        ) && matches!(
            failure.phase,
            Phase::RcptTo | Phase::Data | Phase::EndOfData
        );
        if about_domain {
            self.domain_answered(domain, Some(&error), now).await;
        }
        match classified.verdict {
            Verdict::HardBounce => SendOutcome::Bounced {
                suppress: NewSuppression {
                    value: send.contact.email.clone(),
                    scope: SuppressionScope::Address,
                    reason: SuppressionReason::Bounce,
                    source: "smtp".into(),
                    detail: error.clone(),
                },
                error,
                failure: Some(record),
            },
            Verdict::SoftBounce => self.soft_bounced(send, now, error, record).await,
            Verdict::Deferred => self.retry_or_fail(send, now, error, record),
            Verdict::Refused(_) => {
                let sending = &s.settings.sending;
                if now > send.due_at + send.held_for + sending.park_for.to_chrono() {
                    SendOutcome::Failed {
                        error: format!(
                            "refused for {} since it was due (never the recipient's fault; not suppressed): {error}",
                            sending.park_for
                        ),
                        failure: Some(record),
                    }
                } else {
                    let wait = backoff(sending.retry_base.as_secs(), send.refusals + 1, send.id);
                    let until = s.breaker.paused_until(now).unwrap_or(now).max(now) + wait;
                    SendOutcome::Parked {
                        next_at: until,
                        error,
                        failure: record,
                    }
                }
            }
        }
    }

    /// A full mailbox retries; one that stays full for `soft_bounce_span`
    /// (at least `soft_bounce_limit` soft bounces) is suppressed as a bounce.
    async fn soft_bounced(
        &self,
        send: &ClaimedSend,
        now: DateTime<Utc>,
        error: String,
        record: FailureRecord,
    ) -> SendOutcome {
        let sending = &self.shared.settings.sending;
        let mut times = match self
            .shared
            .store
            .soft_bounces(send.contact.id, Some(send.id))
            .await
        {
            Ok(times) => times,
            Err(e) => {
                tracing::error!(error = %e, "cannot read soft bounces; retrying");
                Vec::new()
            }
        };
        times.push(now);
        let first = times.iter().min().copied().unwrap_or(now);
        if times.len() as u32 >= sending.soft_bounce_limit
            && now - first >= sending.soft_bounce_span.to_chrono()
        {
            return SendOutcome::Bounced {
                suppress: NewSuppression {
                    value: send.contact.email.clone(),
                    scope: SuppressionScope::Address,
                    reason: SuppressionReason::Bounce,
                    source: "smtp".into(),
                    detail: format!(
                        "{} soft bounces since {} (mailbox full or unavailable for {}): {error}",
                        times.len(),
                        first.to_rfc3339(),
                        sending.soft_bounce_span
                    ),
                },
                error,
                failure: Some(record),
            };
        }
        self.retry_or_fail(send, now, error, record)
    }

    fn retry_or_fail(
        &self,
        send: &ClaimedSend,
        now: DateTime<Utc>,
        error: String,
        record: FailureRecord,
    ) -> SendOutcome {
        let sending = &self.shared.settings.sending;
        let next_at = now + backoff(sending.retry_base.as_secs(), send.attempts, send.id);
        if send.attempts >= sending.max_attempts
            || next_at > send.due_at + send.held_for + sending.retry_for.to_chrono()
        {
            SendOutcome::Failed {
                error: format!("gave up after {} attempts: {error}", send.attempts),
                failure: Some(record),
            }
        } else {
            SendOutcome::Retry {
                next_at,
                error,
                failure: Some(record),
            }
        }
    }
}
