//! TEMPORARY stub

use super::*;

impl StateStore for PostgresStore {
    async fn relay_health(&self, _relay: &str) -> StoreResult<Option<RelayHealth>> {
        unimplemented!("postgres relay_health")
    }

    async fn save_relay_health(
        &self,
        _health: &RelayHealth,
        _now: DateTime<Utc>,
    ) -> StoreResult<()> {
        unimplemented!("postgres save_relay_health")
    }

    async fn save_domain_health(
        &self,
        _health: &DomainHealth,
        _now: DateTime<Utc>,
    ) -> StoreResult<()> {
        unimplemented!("postgres save_domain_health")
    }

    async fn domain_health(&self) -> StoreResult<Vec<DomainHealth>> {
        unimplemented!("postgres domain_health")
    }

    async fn record_tick(&self, _tick: &TickRecord) -> StoreResult<()> {
        unimplemented!("postgres record_tick")
    }

    async fn last_tick(&self) -> StoreResult<Option<TickRecord>> {
        unimplemented!("postgres last_tick")
    }

    async fn secret(
        &self,
        _name: &str,
        _candidate: &[u8],
        _now: DateTime<Utc>,
    ) -> StoreResult<Vec<u8>> {
        unimplemented!("postgres secret")
    }

    async fn schedule_checkpoint(&self, _campaign: &str) -> StoreResult<Option<DateTime<Utc>>> {
        unimplemented!("postgres schedule_checkpoint")
    }

    async fn set_schedule_checkpoint(
        &self,
        _campaign: &str,
        _until: DateTime<Utc>,
    ) -> StoreResult<()> {
        unimplemented!("postgres set_schedule_checkpoint")
    }

    async fn report_daemon(&self, _report: &DaemonReport) -> StoreResult<()> {
        unimplemented!("postgres report_daemon")
    }

    async fn daemons(&self) -> StoreResult<Vec<DaemonReport>> {
        unimplemented!("postgres daemons")
    }

    async fn record_reload(&self, _status: &ReloadStatus) -> StoreResult<()> {
        unimplemented!("postgres record_reload")
    }

    async fn last_reload(&self) -> StoreResult<Option<ReloadStatus>> {
        unimplemented!("postgres last_reload")
    }

    async fn promote_pilot(&self, _campaign: &str, _at: DateTime<Utc>) -> StoreResult<bool> {
        unimplemented!("postgres promote_pilot")
    }

    async fn pilot_promoted_at(&self, _campaign: &str) -> StoreResult<Option<DateTime<Utc>>> {
        unimplemented!("postgres pilot_promoted_at")
    }

    async fn planner_lock(&self) -> StoreResult<Option<PlannerLock>> {
        unimplemented!("postgres planner_lock")
    }
}
