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

    /// The secrets named `name` or `name@…` (retired ones), newest first.
    fn secrets_named(
        &self,
        name: &str,
    ) -> impl Future<Output = StoreResult<Vec<StoredSecret>>> + Send;

    /// Makes `value` the secret `name`, keeping the one it replaces as
    /// `retired_as`, in one transaction.
    fn rotate_secret(
        &self,
        name: &str,
        value: &[u8],
        retired_as: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Forgets a secret; whether there was one.
    fn delete_secret(&self, name: &str) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Until when a campaign's entry schedule has been checked.
    fn schedule_checkpoint(
        &self,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<Option<DateTime<Utc>>>> + Send;

    fn set_schedule_checkpoint(
        &self,
        campaign: &str,
        until: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// What a running daemon says about itself (next tick), one row per daemon.
    fn report_daemon(&self, report: &DaemonReport) -> impl Future<Output = StoreResult<()>> + Send;

    fn daemons(&self) -> impl Future<Output = StoreResult<Vec<DaemonReport>>> + Send;

    fn record_reload(&self, status: &ReloadStatus) -> impl Future<Output = StoreResult<()>> + Send;

    fn last_reload(&self) -> impl Future<Output = StoreResult<Option<ReloadStatus>>> + Send;

    /// Ends a pilot's sampling; the first promotion wins. Returns false when
    /// it was already promoted.
    fn promote_pilot(
        &self,
        campaign: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    fn pilot_promoted_at(
        &self,
        campaign: &str,
    ) -> impl Future<Output = StoreResult<Option<DateTime<Utc>>>> + Send;

    /// Reserves one send under the shared rate `key` (one every
    /// `interval`); returns how long to wait before it may go. `None`: this
    /// store does not coordinate rates between machines (SQLite, one
    /// machine), the sender's own limiter applies.
    fn reserve_rate(
        &self,
        key: &str,
        interval: std::time::Duration,
    ) -> impl Future<Output = StoreResult<Option<std::time::Duration>>> + Send;

    /// The right to run the planner now: `None` while another daemon holds
    /// it (it is released when the returned guard is dropped). On SQLite,
    /// one machine, it is always granted: racing inserts are no-ops anyway.
    fn planner_lock(&self) -> impl Future<Output = StoreResult<Option<PlannerLock>>> + Send;
}
