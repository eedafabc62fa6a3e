//! The long-running loop: tick the planner on an interval, keep the sender
//! draining what is due, and stop gracefully. Like mini-redis' `server::run`,
//! it takes a shutdown future, so tests and signal handlers drive it alike.
//!
//! Shutdown: no new rows are claimed; rows already claimed but not yet on
//! the wire are released back to `queued`; SMTP transactions in flight get
//! `daemon.shutdown_grace` to finish and be recorded.

use crate::clock::Clock;
use crate::config::Settings;
use crate::http::{self, HttpState};
use crate::plan::{self, PlanError};
use crate::send::{self, Loaded, SendError, SendStats, Sender};
use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::time::{Instant, sleep_until};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Runs until `shutdown` completes; serves HTTP on `listener` meanwhile.
/// Returns what was sent.
pub async fn run<S: Store>(
    store: S,
    settings: &Settings,
    loaded: Arc<Loaded>,
    clock: Arc<dyn Clock>,
    listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> Result<SendStats, DaemonError> {
    let identity = send::identity(&store, settings, clock.now()).await?;
    let (stop_http, http_stopped) = tokio::sync::watch::channel(false);
    let http_task = listener.map(|listener| {
        let state = HttpState {
            store: store.clone(),
            key: identity.links.key().clone(),
            scope: settings.http.unsubscribe_scope,
            clock: Arc::clone(&clock),
            events_token: settings
                .http
                .events_token
                .as_ref()
                .map(|t| t.expose().to_string()),
        };
        let mut stopped = http_stopped.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(e) = http::serve(listener, state, shutdown).await {
                tracing::error!(error = %e, "the HTTP listener failed");
            }
        })
    });
    let result = run_loop(store, settings, loaded, clock, identity, shutdown).await;
    let _ = stop_http.send(true);
    if let Some(task) = http_task {
        let _ = task.await;
    }
    result
}

async fn run_loop<S: Store>(
    store: S,
    settings: &Settings,
    loaded: Arc<Loaded>,
    clock: Arc<dyn Clock>,
    identity: send::Identity,
    shutdown: impl Future<Output = ()>,
) -> Result<SendStats, DaemonError> {
    let sender = Sender::new(store.clone(), settings, identity, Arc::clone(&clock))?;
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
            match plan::tick(&store, &loaded.catalog, &settings.lifecycle, clock.now()).await {
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
