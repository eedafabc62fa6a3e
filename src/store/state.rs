//! What the running system knows about itself: the relay's and each
//! domain's health, ticks, secrets, schedule checkpoints, daemons' reports,
//! reloads and pilot promotions.

use super::*;

pub trait StateStore: Send + Sync {
    fn relay_health(
        &self,
        relay: &str,
    ) -> impl Future<Output = StoreResult<Option<RelayHealth>>> + Send;

    fn save_relay_health(
        &self,
        health: &RelayHealth,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    fn save_domain_health(
        &self,
        health: &DomainHealth,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Domains currently deferring or paused.
    fn domain_health(&self) -> impl Future<Output = StoreResult<Vec<DomainHealth>>> + Send;

    fn record_tick(&self, tick: &TickRecord) -> impl Future<Output = StoreResult<()>> + Send;

    fn last_tick(&self) -> impl Future<Output = StoreResult<Option<TickRecord>>> + Send;

    /// A named secret: stored `candidate` on first use, the stored value after.
    fn secret(
        &self,
        name: &str,
        candidate: &[u8],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Vec<u8>>> + Send;

    /// What a running daemon reports about itself (reload status, next tick).
    fn put_daemon_state(
        &self,
        key: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    fn daemon_state(
        &self,
        key: &str,
    ) -> impl Future<Output = StoreResult<Option<(serde_json::Value, DateTime<Utc>)>>> + Send;
}
