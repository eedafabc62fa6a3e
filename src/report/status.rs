//! What `tend status` and the console's overview show, read once: the
//! outbox by state, held and in-doubt sends, the relay, ticks, deferring
//! domains, what came back and the last reload.

use crate::domain::SendState;
use crate::store::prelude::*;
use crate::store::{
    DaemonReport, DomainHealth, HeldCount, OutboxCount, RelayHealth, ReloadStatus, StoreError,
    TickRecord, WorkerInfo,
};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Per campaign and state.
    pub counts: Vec<OutboxCount>,
    /// Per state, every state present (zero when empty).
    pub totals: BTreeMap<SendState, u64>,
    pub in_doubt: u64,
    pub last_tick: Option<TickRecord>,
    pub domains: Vec<DomainHealth>,
    pub daemons: Vec<DaemonReport>,
    pub reload: Option<ReloadStatus>,
    pub held: Vec<HeldCount>,
    pub relay: Option<RelayHealth>,
    pub senders: Vec<WorkerInfo>,
    /// What came back, per kind (undone messages left out).
    pub came_back: BTreeMap<String, u64>,
}

/// Reads the snapshot; `relay` names the relay whose breaker is reported.
pub async fn snapshot<S: Store>(store: &S, relay: &str) -> Result<Snapshot, StoreError> {
    let counts = store.outbox_counts().await?;
    let mut totals: BTreeMap<SendState, u64> = SendState::ALL.into_iter().map(|s| (s, 0)).collect();
    for c in &counts {
        *totals.entry(c.state).or_default() += c.count;
    }
    let mut came_back: BTreeMap<String, u64> = BTreeMap::new();
    for (_, kind, n) in store.inbound_counts(None).await? {
        *came_back.entry(kind).or_default() += n;
    }
    Ok(Snapshot {
        in_doubt: totals.get(&SendState::InDoubt).copied().unwrap_or(0),
        counts,
        totals,
        last_tick: store.last_tick().await?,
        domains: store.domain_health().await?,
        daemons: store.daemons().await?,
        reload: store.last_reload().await?,
        held: store.held_counts().await?,
        relay: store.relay_health(relay).await?,
        senders: store.workers().await?,
        came_back,
    })
}
