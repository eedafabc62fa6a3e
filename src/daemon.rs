//! The long-running loop: tick the planner on an interval, keep the sender
//! draining what is due, and stop gracefully. Like mini-redis' `server::run`,
//! it takes a shutdown future, so tests and signal handlers drive it alike.
//!
//! Shutdown: no new rows are claimed; rows already claimed but not yet on
//! the wire are released back to `queued`; SMTP transactions in flight get
//! `daemon.shutdown_grace` to finish and be recorded.

use crate::clock::Clock;
use crate::config::Settings;
use crate::plan::{self, PlanError};
use crate::send::{Loaded, SendError, SendStats, Sender};
use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use tokio::time::{Instant, sleep_until};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Runs until `shutdown` completes. Returns what was sent.
pub async fn run<S: Store>(
    store: S,
    settings: &Settings,
    loaded: Arc<Loaded>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> Result<SendStats, DaemonError> {
    let sender = Sender::new(store.clone(), settings, Arc::clone(&clock))?;
    let tick_every = settings
        .daemon
        .tick
        .to_std()
        .max(std::time::Duration::from_secs(1));
    let poll_every = settings
        .daemon
        .poll
        .to_std()
        .max(std::time::Duration::from_millis(100));
    let grace = settings.daemon.shutdown_grace.to_std();
    let mut total = SendStats::default();
    let mut next_tick = Instant::now();
    tokio::pin!(shutdown);
    tracing::info!(
        campaigns = loaded.catalog.campaigns.len(),
        "tend is running"
    );
    loop {
        if Instant::now() >= next_tick {
            // A failing tick (e.g. the database is briefly locked) is logged and retried next time.
            match plan::tick(&store, &loaded.catalog, clock.now()).await {
                Ok(report) => tracing::info!(queued = report.queued, "tick"),
                Err(e) => tracing::error!(error = %e, "tick failed"),
            }
            next_tick = Instant::now() + tick_every;
        }
        let round = sender.round(&loaded);
        tokio::pin!(round);
        let stats = tokio::select! {
            result = &mut round => result,
            () = &mut shutdown => {
                sender.stop();
                tracing::info!(grace = ?grace, "stopping: finishing in-flight sends");
                match tokio::time::timeout(grace, round).await {
                    Ok(result) => { total.add(&result?); }
                    Err(_) => tracing::warn!("shutdown grace ran out; unfinished rows become in_doubt when their lease expires"),
                }
                return Ok(total);
            }
        };
        let stats = match stats {
            Ok(stats) => stats,
            Err(e) => {
                tracing::error!(error = %e, "sending round failed");
                SendStats::default()
            }
        };
        total.add(&stats);
        if stats.claimed == 0 {
            let wake = (Instant::now() + poll_every).min(next_tick);
            tokio::select! {
                () = sleep_until(wake) => {}
                () = &mut shutdown => {
                    tracing::info!("stopping");
                    return Ok(total);
                }
            }
        }
    }
}
