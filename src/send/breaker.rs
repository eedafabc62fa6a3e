//! The relay's circuit breaker. When the relay keeps refusing us for reasons
//! that are ours (policy, reputation, authentication, a broken connection),
//! sending more only burns the queue and our reputation: the breaker opens
//! after `breaker_after` such failures in a row, or when they make up
//! `breaker_share` of the last `breaker_window` attempts, and pauses all
//! sending. When the pause ends, one message probes the relay: success
//! closes the breaker, failure reopens it with twice the pause (up to
//! `breaker_max`). No recipient is ever suppressed for any of this.
//!
//! The state is kept in memory and stored on every change, so `tend
//! status`, `/healthz` and other senders see it and a restart keeps it.

use crate::config::SendingSettings;
use crate::store::RelayHealth;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::Mutex;

/// What the breaker lets through now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Send freely.
    Closed,
    /// The pause is over: this one message probes the relay.
    Probe,
    /// Paused; nothing leaves before `until`.
    Open { until: DateTime<Utc> },
}

#[derive(Debug)]
struct State {
    health: RelayHealth,
    /// The last attempts, `true` for a relay-level failure.
    recent: VecDeque<bool>,
    /// A probe is on its way; everyone else waits for its answer.
    probing: bool,
}

#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
    after: u32,
    window: usize,
    share: f64,
    pause: chrono::Duration,
    max: chrono::Duration,
}

impl Breaker {
    pub fn new(relay: &str, settings: &SendingSettings) -> Self {
        Self {
            state: Mutex::new(State {
                health: RelayHealth {
                    relay: relay.to_string(),
                    open: false,
                    failures: 0,
                    trips: 0,
                    paused_until: None,
                    last_error: String::new(),
                },
                recent: VecDeque::new(),
                probing: false,
            }),
            after: settings.breaker_after.max(1),
            window: settings.breaker_window.max(1) as usize,
            share: settings.breaker_share,
            pause: settings.breaker_pause.to_chrono(),
            max: settings.breaker_max.to_chrono(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn relay(&self) -> String {
        self.lock().health.relay.clone()
    }

    /// Adopts what is stored when it is the stricter view (another sender,
    /// or this one before a restart, opened the breaker).
    pub fn adopt(&self, stored: Option<RelayHealth>) {
        let Some(stored) = stored else { return };
        let mut state = self.lock();
        let stricter =
            stored.open && (!state.health.open || stored.paused_until > state.health.paused_until);
        let healed = !stored.open && state.health.open && !state.probing;
        if stricter || healed {
            crate::metrics::RELAY_BREAKER_OPEN.set(i64::from(stored.open));
            state.health = stored;
        }
    }

    pub fn snapshot(&self) -> RelayHealth {
        self.lock().health.clone()
    }

    /// Whether a message may go to the relay now; hands out at most one
    /// probe at a time once the pause is over.
    pub fn gate(&self, now: DateTime<Utc>) -> Gate {
        let mut state = self.lock();
        if !state.health.open {
            return Gate::Closed;
        }
        let until = state.health.paused_until.unwrap_or(now);
        if now < until {
            return Gate::Open { until };
        }
        if state.probing {
            // Wait for the probe's answer; look again shortly.
            return Gate::Open {
                until: now + chrono::Duration::seconds(5),
            };
        }
        state.probing = true;
        Gate::Probe
    }

    /// Until when sends (other than the probe) must wait, if the breaker is open.
    pub fn paused_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let state = self.lock();
        if !state.health.open {
            return None;
        }
        let until = state.health.paused_until.unwrap_or(now);
        if now < until {
            Some(until)
        } else if state.probing {
            Some(now + chrono::Duration::seconds(5))
        } else {
            None
        }
    }

    /// The probe handed out by [`Breaker::gate`] was not used.
    pub fn cancel_probe(&self) {
        self.lock().probing = false;
    }

    /// The relay took our conversation (an acceptance, or an answer about
    /// the recipient). Returns the new state when it changed.
    pub fn success(&self) -> Option<RelayHealth> {
        let mut state = self.lock();
        let was_probe = std::mem::take(&mut state.probing);
        push(&mut state.recent, false, self.window);
        if !state.health.open && state.health.failures == 0 {
            return None;
        }
        // While open, only the probe's answer may close it: a message that
        // was already on its way when it opened proves little.
        if state.health.open && !was_probe {
            return None;
        }
        if state.health.open {
            tracing::warn!(relay = %state.health.relay, "the relay accepts mail again: circuit breaker closed, sending resumes");
        }
        state.health.open = false;
        state.health.failures = 0;
        state.health.trips = 0;
        state.health.paused_until = None;
        crate::metrics::RELAY_BREAKER_OPEN.set(0);
        Some(state.health.clone())
    }

    /// A relay-level failure (policy, reputation, authentication, system,
    /// connection). Returns the new state when it changed.
    pub fn failure(&self, now: DateTime<Utc>, error: &str) -> Option<RelayHealth> {
        let mut state = self.lock();
        let was_probe = std::mem::take(&mut state.probing);
        push(&mut state.recent, true, self.window);
        state.health.failures += 1;
        state.health.last_error = error.chars().take(300).collect();
        let failed = state.recent.iter().filter(|f| **f).count();
        // A share is judged once at least half a window has been seen.
        let seen = state.recent.len();
        let share_tripped = seen * 2 >= self.window && failed as f64 >= self.share * seen as f64;
        let trip = was_probe
            || (!state.health.open && (state.health.failures >= self.after || share_tripped));
        if trip {
            state.health.trips += 1;
            let doublings = (state.health.trips - 1).min(16);
            let pause = (self.pause * 2_i32.pow(doublings)).min(self.max);
            state.health.open = true;
            state.health.paused_until = Some(now + pause);
            crate::metrics::RELAY_BREAKER_OPEN.set(1);
            crate::metrics::RELAY_BREAKER_TRIPS.inc();
            tracing::error!(
                relay = %state.health.relay,
                failures = state.health.failures,
                until = %(now + pause),
                error = %state.health.last_error,
                "the relay keeps refusing us: circuit breaker OPEN, all sending paused (no recipient is suppressed for this)"
            );
        }
        Some(state.health.clone())
    }
}

fn push(recent: &mut VecDeque<bool>, failed: bool, window: usize) {
    recent.push_back(failed);
    while recent.len() > window {
        recent.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SendingSettings {
        SendingSettings {
            breaker_after: 3,
            breaker_window: 10,
            breaker_share: 0.5,
            breaker_pause: crate::domain::Duration::from_secs(60),
            breaker_max: crate::domain::Duration::from_secs(600),
            ..Default::default()
        }
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        "2026-03-10T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
            + chrono::Duration::minutes(minutes)
    }

    #[test]
    fn opens_after_failures_in_a_row_and_probes_once_the_pause_is_over() {
        let b = Breaker::new("relay:25", &settings());
        assert_eq!(b.gate(at(0)), Gate::Closed);
        b.failure(at(0), "554 5.7.1 blocked");
        b.failure(at(0), "554 5.7.1 blocked");
        assert_eq!(b.gate(at(0)), Gate::Closed);
        let open = b.failure(at(0), "554 5.7.1 blocked").unwrap();
        assert!(open.open);
        assert_eq!(b.gate(at(0)), Gate::Open { until: at(1) });
        assert_eq!(b.gate(at(1)), Gate::Probe);
        // While the probe is out, nobody else goes.
        assert!(matches!(b.gate(at(1)), Gate::Open { .. }));
        // A failed probe doubles the pause.
        b.failure(at(1), "554 5.7.1 blocked");
        assert_eq!(b.gate(at(1)), Gate::Open { until: at(3) });
        assert_eq!(b.gate(at(3)), Gate::Probe);
        let closed = b.success().unwrap();
        assert!(!closed.open && closed.trips == 0 && closed.paused_until.is_none());
        assert_eq!(b.gate(at(3)), Gate::Closed);
    }

    #[test]
    fn opens_on_a_share_of_recent_failures_without_a_streak() {
        let b = Breaker::new("relay:25", &settings());
        for i in 0..10 {
            if i % 2 == 0 {
                b.failure(at(0), "421 4.7.0 try later");
            } else {
                b.success();
            }
        }
        assert!(b.snapshot().open, "3 of the last 5 failed");
        assert!(
            matches!(b.gate(at(0)), Gate::Open { .. }),
            "late successes do not close it"
        );
    }

    #[test]
    fn successes_keep_it_closed_and_the_pause_is_capped() {
        let b = Breaker::new("relay:25", &settings());
        for _ in 0..2 {
            b.failure(at(0), "x");
            b.success();
        }
        assert!(!b.snapshot().open);
        for _ in 0..3 {
            b.failure(at(0), "x");
        }
        for minute in 0..20 {
            if b.gate(at(minute * 100)) == Gate::Probe {
                b.failure(at(minute * 100), "x");
            }
        }
        let h = b.snapshot();
        assert!(h.paused_until.unwrap() - at(1900) <= chrono::Duration::minutes(10));
    }
}
