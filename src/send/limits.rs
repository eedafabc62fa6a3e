//! How fast, and to whom: per-recipient-domain rate limits (governor) and
//! automatic backoff of domains that start deferring. A deferring domain is
//! paused for `backoff_pause`, doubling up to `backoff_max` while deferrals
//! continue; one accepted message resets it. The pause is stored, so every
//! sender skips the domain at claim time and `tend status` shows it.

use crate::config::SendingSettings;
use crate::domain::Rate;
use crate::domain::redact_addresses;
use crate::store::DomainHealth;
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

fn quota(rate: Rate) -> Quota {
    Quota::with_period(rate.interval())
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN)
}

/// Per-domain limiters: named domains get their own rate, all others share
/// the `default` rate (each domain separately).
#[derive(Debug)]
pub struct DomainLimits {
    named: HashMap<String, DefaultDirectRateLimiter>,
    default: Option<DefaultKeyedRateLimiter<String>>,
    /// The configured rate per named domain, and the default's.
    rates: HashMap<String, Rate>,
    default_rate: Option<Rate>,
}

impl DomainLimits {
    pub fn new(settings: &SendingSettings) -> Self {
        let mut named = HashMap::new();
        let mut default = None;
        let mut rates = HashMap::new();
        let mut default_rate = None;
        for (domain, rate) in &settings.per_domain {
            if domain == "default" {
                default = Some(RateLimiter::keyed(quota(*rate)));
                default_rate = Some(*rate);
            } else {
                named.insert(domain.to_lowercase(), RateLimiter::direct(quota(*rate)));
                rates.insert(domain.to_lowercase(), *rate);
            }
        }
        Self {
            named,
            default,
            rates,
            default_rate,
        }
    }

    /// The rate that applies to `domain`, if any.
    pub fn rate_for(&self, domain: &str) -> Option<Rate> {
        self.rates.get(domain).copied().or(self.default_rate)
    }

    /// Waits until `domain` may receive another message.
    pub async fn until_ready(&self, domain: &str) {
        if let Some(limiter) = self.named.get(domain) {
            limiter.until_ready().await;
        } else if let Some(keyed) = &self.default {
            keyed.until_key_ready(&domain.to_string()).await;
        }
    }
}

/// In-memory view of each domain's recent answers.
#[derive(Debug)]
pub struct DomainBook {
    states: Mutex<HashMap<String, DomainHealth>>,
    after: u32,
    pause: chrono::Duration,
    max: chrono::Duration,
}

impl DomainBook {
    pub fn new(settings: &SendingSettings) -> Self {
        Self {
            states: Mutex::new(HashMap::new()),
            after: settings.backoff_after.max(1),
            pause: settings.backoff_pause.to_chrono(),
            max: settings.backoff_max.to_chrono(),
        }
    }

    /// Takes in what is stored when it is stricter: a restart must not
    /// forget a paused domain, and a pause another daemon decided on holds
    /// here too.
    pub fn adopt(&self, stored: Vec<DomainHealth>) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        for health in stored {
            match states.get(&health.domain) {
                Some(mine) if mine.paused_until >= health.paused_until => {}
                _ => {
                    states.insert(health.domain.clone(), health);
                }
            }
        }
    }

    /// The domain's state as it is now.
    pub fn current(&self, domain: &str) -> Option<DomainHealth> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.get(domain).cloned()
    }

    /// Until when the domain is paused, if it is.
    pub fn paused_until(&self, domain: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states
            .get(domain)
            .and_then(|h| h.paused_until)
            .filter(|until| *until > now)
    }

    /// Records one answer; returns the new state when it changed and should be stored.
    pub fn record(
        &self,
        domain: &str,
        deferred: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<DomainHealth> {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let state = states
            .entry(domain.to_string())
            .or_insert_with(|| DomainHealth {
                domain: domain.to_string(),
                deferrals: 0,
                paused_until: None,
                last_error: String::new(),
            });
        match deferred {
            None if state.deferrals == 0 && state.paused_until.is_none() => None,
            None => {
                state.deferrals = 0;
                state.paused_until = None;
                tracing::info!(domain, "domain accepts mail again; backoff lifted");
                Some(state.clone())
            }
            Some(error) => {
                state.deferrals += 1;
                // Shown by `tend status`: the server may quote the recipient back.
                state.last_error = redact_addresses(error);
                if state.deferrals >= self.after {
                    let doublings = (state.deferrals - self.after).min(16);
                    let pause = (self.pause * 2_i32.pow(doublings)).min(self.max);
                    state.paused_until = Some(now + pause);
                    tracing::warn!(domain, deferrals = state.deferrals, until = %(now + pause), "domain is deferring; pausing sends to it");
                }
                Some(state.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> DomainBook {
        DomainBook::new(&SendingSettings::default()) // after 3, 5m doubling to 1h
    }

    #[test]
    fn a_domain_is_paused_after_repeated_deferrals_and_backs_off_further() {
        let now: DateTime<Utc> = "2026-03-10T10:00:00Z".parse().unwrap();
        let b = book();
        assert_eq!(
            b.record("x.test", Some("450"), now).unwrap().paused_until,
            None
        );
        assert_eq!(
            b.record("x.test", Some("450"), now).unwrap().paused_until,
            None
        );
        let third = b.record("x.test", Some("450"), now).unwrap();
        assert_eq!(third.paused_until, Some(now + chrono::Duration::minutes(5)));
        let fourth = b.record("x.test", Some("450"), now).unwrap();
        assert_eq!(
            fourth.paused_until,
            Some(now + chrono::Duration::minutes(10))
        );
        for _ in 0..10 {
            b.record("x.test", Some("450"), now);
        }
        let capped = b.record("x.test", Some("450"), now).unwrap();
        assert_eq!(capped.paused_until, Some(now + chrono::Duration::hours(1)));
    }

    #[test]
    fn one_accepted_message_lifts_the_backoff_and_quiet_domains_write_nothing() {
        let now: DateTime<Utc> = "2026-03-10T10:00:00Z".parse().unwrap();
        let b = book();
        assert_eq!(b.record("ok.test", None, now), None);
        for _ in 0..3 {
            b.record("x.test", Some("421"), now);
        }
        let lifted = b.record("x.test", None, now).unwrap();
        assert_eq!((lifted.deferrals, lifted.paused_until), (0, None));
        assert_eq!(b.record("x.test", None, now), None);
    }

    #[test]
    fn the_stored_reply_of_a_deferring_domain_masks_the_recipient() {
        let now: DateTime<Utc> = "2026-03-10T10:00:00Z".parse().unwrap();
        let reply = "450 4.2.0 <jane.doe+x@x.test>: Recipient address rejected: Greylisted";
        let state = book().record("x.test", Some(reply), now).unwrap();
        assert_eq!(
            state.last_error,
            "450 4.2.0 <ja***@x.test>: Recipient address rejected: Greylisted"
        );
    }
}
