//! The long-running loop: tick the planner on an interval, keep the sender
//! draining what is due, serve HTTP, reload the catalog when it changes, and
//! stop gracefully. Like mini-redis' `server::run`, it takes a bound
//! listener and a shutdown future, so tests and signal handlers drive it
//! alike.
//!
//! Shutdown: no new rows are claimed; rows already claimed but not yet on
//! the wire are released back to `queued`; SMTP transactions in flight get
//! `daemon.shutdown_grace` to finish and be recorded.

pub mod inbound;
mod notify;
pub mod reload;

pub use notify::Notifier;

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::redact_addresses;
use crate::http::{self, HttpState};
use crate::plan::{self, PlanError};
use crate::send::{self, Loaded, SendError, SendStats, Sender};
use crate::store::prelude::*;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

/// Stops a background task when the loop that owns it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("inbound webhooks: {0}")]
    Webhook(#[from] crate::inbound::webhooks::WebhookError),
}

/// The daemon's bound listeners (bound by the caller, so a test can use
/// port 0 and a busy port is the caller's clear error).
#[derive(Debug, Default)]
pub struct Listeners {
    /// `http.listen`: unsubscribe, clicks, events, webhooks, health, metrics.
    pub http: Option<TcpListener>,
    /// `inbound.listen`: the SMTP/LMTP receiver for the bounce domain.
    pub inbound: Option<TcpListener>,
    /// `console.listen`: the web console on a listener of its own (without
    /// one, an enabled console is served on the `http` listener).
    pub console: Option<TcpListener>,
}

/// Runs until `shutdown` completes; serves its listeners meanwhile.
/// Returns what was sent.
pub async fn run<S: Store>(
    store: S,
    settings: &Settings,
    config_path: &std::path::Path,
    loaded: Arc<Loaded>,
    clock: Arc<dyn Clock>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<SendStats, DaemonError> {
    crate::metrics::init();
    let notifier = Notifier::from_env();
    let identity = send::identity(&store, settings, clock.now()).await?;
    // Real mail is going out: say loudly what `tend check --production` would.
    if settings.smtp.transport == crate::config::TransportKind::Smtp {
        for d in crate::production::check(settings, config_path, &loaded, clock.now()) {
            let finding = redact_addresses(&d.to_string().replace('\n', " "));
            tracing::warn!("production check: {finding}");
        }
    }
    let (stop_tasks, tasks_stopped) = watch::channel(false);
    let (catalog_tx, catalog) = watch::channel(loaded);
    let report_catalog = catalog.clone();
    let inbound_tasks = inbound::start(
        &store,
        settings,
        &clock,
        identity.links.keys(),
        listeners.inbound,
        &tasks_stopped,
    )
    .await?;
    let webhooks = inbound_tasks.webhooks.clone();

    let console = if settings.console.enabled {
        let state = crate::console::ConsoleState::new(
            store.clone(),
            settings.clone(),
            config_path.to_path_buf(),
            catalog.clone(),
            Arc::clone(&clock),
        )
        .await?;
        Some(crate::console::router(Arc::new(state)))
    } else {
        None
    };
    let (console_own, console_shared) = match (listeners.console, console) {
        (Some(listener), Some(router)) => (Some((listener, router)), None),
        (_, router) => (None, router),
    };
    let console_task = console_own.map(|(listener, router)| {
        let mut stopped = tasks_stopped.clone();
        let limits = settings.http.limits.clone();
        let public_url = settings.http.public_url.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(e) =
                http::serve_router(listener, router, &limits, &public_url, shutdown).await
            {
                tracing::error!(error = %e, "the console listener failed");
            }
        })
    });
    let http_task = listeners.http.map(|listener| {
        let state = HttpState {
            store: store.clone(),
            key: identity.links.keys().clone(),
            scope: settings.http.unsubscribe_scope,
            clock: Arc::clone(&clock),
            events_token: settings
                .http
                .events_token
                .as_ref()
                .map(|t| t.expose().to_string()),
            tick_every: settings.daemon.tick.to_std(),
            catalog: Some(report_catalog),
            relay: Some(crate::send::relay_name(&settings.smtp)),
            webhooks,
            limits: settings.http.limits.clone(),
            public_url: settings.http.public_url.clone(),
        };
        let mut stopped = tasks_stopped.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(e) = http::serve(listener, state, console_shared, shutdown).await {
                tracing::error!(error = %redact_addresses(&e.to_string()), "the HTTP listener failed");
            }
        })
    });
    let retention_task = tokio::spawn(retention(
        store.clone(),
        settings.retention,
        Arc::clone(&clock),
        tasks_stopped.clone(),
    ));
    let daemon_id = crate::send::worker::current(clock.now()).id;
    let reload_triggers = reload::Triggers::listen(settings);
    let reload_task = tokio::spawn(reload::run(
        reload_triggers,
        settings.clone(),
        config_path.to_path_buf(),
        store.clone(),
        Arc::clone(&clock),
        catalog_tx,
        tasks_stopped.clone(),
        daemon_id.clone(),
    ));

    notifier.ready();
    let result = run_loop(
        store, settings, catalog, clock, identity, &notifier, shutdown,
    )
    .await;
    notifier.stopping();
    let _ = stop_tasks.send(true);
    if let Some(task) = http_task {
        let _ = task.await;
    }
    if let Some(task) = console_task {
        let _ = task.await;
    }
    let _ = reload_task.await;
    let _ = retention_task.await;
    inbound_tasks.stopped().await;
    result
}

/// Applies `[retention]` at start and then once a day until `stop` flips.
async fn retention<S: Store>(
    store: S,
    rules: crate::config::RetentionSettings,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
) {
    let mut daily = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
    loop {
        tokio::select! {
            _ = daily.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match crate::privacy::apply_retention(&store, &rules, clock.now()).await {
            Ok(run) if run.message_bodies + run.events + run.inbound_raw > 0 => tracing::info!(
                message_bodies = run.message_bodies,
                events = run.events,
                inbound_raw = run.inbound_raw,
                "retention: forgot what is past [retention]"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %redact_addresses(&e.to_string()), "retention: cannot apply the rules; trying again tomorrow")
            }
        }
    }
}

async fn run_loop<S: Store>(
    store: S,
    settings: &Settings,
    catalog: watch::Receiver<Arc<Loaded>>,
    clock: Arc<dyn Clock>,
    identity: send::Identity,
    notifier: &Notifier,
    shutdown: impl Future<Output = ()>,
) -> Result<SendStats, DaemonError> {
    let keys = identity.links.keys().clone();
    let sender = Sender::new(store.clone(), settings, identity, Arc::clone(&clock))?;
    let tick_every = settings
        .daemon
        .tick
        .to_std()
        .max(std::time::Duration::from_secs(1));
    let mut poll_every = settings
        .daemon
        .poll
        .to_std()
        .max(std::time::Duration::from_millis(100));
    if let Some(watchdog) = notifier.watchdog_interval() {
        // Come round often enough to keep the watchdog fed while idle.
        poll_every = poll_every.min(watchdog);
    }
    let grace = settings.daemon.shutdown_grace.to_std();
    // Heartbeats on their own, so a long round never looks like a dead sender.
    let beating = sender.clone();
    let beat_every = (settings.sending.lease.to_std() / 4).max(std::time::Duration::from_secs(1));
    let heartbeats = tokio::spawn(async move {
        let mut every = tokio::time::interval(beat_every);
        loop {
            every.tick().await;
            if let Err(e) = beating.heartbeat().await {
                tracing::warn!(error = %e, "cannot record this sender's heartbeat");
            }
        }
    });
    let _stop_heartbeats = AbortOnDrop(heartbeats);
    let mut total = SendStats::default();
    let mut next_tick = Instant::now();
    tokio::pin!(shutdown);
    tracing::info!(
        campaigns = catalog.borrow().catalog.campaigns.len(),
        "tend is running"
    );
    loop {
        let loaded = Arc::clone(&catalog.borrow());
        let mut healthy = true;
        if Instant::now() >= next_tick {
            // A failing tick (e.g. the database is briefly locked) is logged and retried next time.
            // A `tend keys rotate` elsewhere reaches this daemon here.
            match keys.refresh(&store, settings, clock.now()).await {
                Ok(true) => tracing::info!(
                    signing = %keys.current().fingerprints()[0],
                    "link keys changed: signing with the newest, verifying with all"
                ),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %redact_addresses(&e.to_string()), "cannot re-read the link keys")
                }
            }
            match plan::tick(&store, &loaded.catalog, settings, clock.now()).await {
                Ok(report) => {
                    crate::metrics::TICKS.inc();
                    tracing::info!(queued = report.queued, "tick");
                }
                Err(e) => {
                    healthy = false;
                    tracing::error!(error = %redact_addresses(&e.to_string()), "tick failed");
                }
            }
            next_tick = Instant::now() + tick_every;
            let next_at = clock.now() + chrono::Duration::from_std(tick_every).unwrap_or_default();
            let report = crate::store::DaemonReport {
                daemon: sender.worker_id().to_string(),
                pid: std::process::id(),
                next_tick_at: next_at,
                tick_every_seconds: tick_every.as_secs(),
                updated_at: clock.now(),
            };
            if let Err(e) = store.report_daemon(&report).await {
                tracing::warn!(error = %redact_addresses(&e.to_string()), "cannot record the daemon state");
            }
        }
        let round = sender.round(&loaded);
        tokio::pin!(round);
        // A slow SMTP round may outlast the watchdog's interval: keep feeding
        // it while sends keep finishing, and only then.
        let mut beat = tokio::time::interval(
            notifier
                .watchdog_interval()
                .unwrap_or(std::time::Duration::from_secs(3600))
                .max(std::time::Duration::from_millis(100)),
        );
        beat.tick().await;
        let mut seen = sender.progress();
        let stats = loop {
            tokio::select! {
                result = &mut round => break result,
                _ = beat.tick() => {
                    let now_seen = sender.progress();
                    if now_seen != seen {
                        seen = now_seen;
                        notifier.watchdog();
                    }
                }
                () = &mut shutdown => {
                    sender.stop();
                    notifier.status("stopping: finishing in-flight sends");
                    tracing::info!(grace = ?grace, "stopping: finishing in-flight sends");
                    match tokio::time::timeout(grace, round).await {
                        Ok(result) => { total.add(&result?); }
                        Err(_) => tracing::warn!("shutdown grace ran out; rows on the wire become in doubt, the rest go back to the queue"),
                    }
                    sender.close().await;
                    return Ok(total);
                }
            }
        };
        let stats = match stats {
            Ok(stats) => stats,
            Err(e) => {
                healthy = false;
                tracing::error!(error = %redact_addresses(&e.to_string()), "sending round failed");
                SendStats::default()
            }
        };
        total.add(&stats);
        if stats.claimed > 0 {
            tracing::info!(
                "round done: sent {}, retry {}, failed {}, bounced {}, held {}, parked {}",
                stats.sent,
                stats.retry,
                stats.failed,
                stats.bounced,
                stats.held,
                stats.parked
            );
        }
        if healthy {
            // Only a loop that can reach its database feeds the watchdog.
            notifier.watchdog();
        }
        if stats.claimed > 0 || stats.suppressed > 0 {
            notifier.status(&format!(
                "running: {} sent, {} to retry, {} failed since start",
                total.sent, total.retry, total.failed
            ));
        }
        if stats.claimed == 0 {
            let wake = (Instant::now() + poll_every).min(next_tick);
            tokio::select! {
                () = sleep_until(wake) => {}
                () = &mut shutdown => {
                    tracing::info!("stopping");
                    sender.close().await;
                    return Ok(total);
                }
            }
        }
    }
}
