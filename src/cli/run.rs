//! `tend run [--once]`: the daemon, or one tick and a drain.

use super::app::{Context, UserError, print_json};
use crate::clock::{Clock, ShiftedClock};
use crate::send::{SendStats, Sender};
use crate::{daemon, plan};
use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// One tick, send everything due, then exit
    #[arg(long)]
    pub once: bool,
}

pub async fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let loaded = Arc::new(ctx.require_catalog().await?);
    let store = ctx.store().await?;
    if args.once {
        let clock = ctx.clock();
        let report = plan::tick(&store, &loaded.catalog, &ctx.settings, clock.now()).await?;
        let identity = crate::send::identity(&store, &ctx.settings, clock.now()).await?;
        let sender = Sender::new(store, &ctx.settings, identity, clock)?;
        let mut progress = super::progress::Progress::new("sending", None);
        let stats = sender
            .drain_with(&loaded, |round| {
                progress.advance(round.sent + round.retry + round.failed + round.bounced)
            })
            .await?;
        progress.finish();
        sender.close().await;
        if ctx.json {
            print_json(&serde_json::json!({ "plan": report, "sent": stats }))?;
        } else {
            out!("{}", super::plan::render(&report))?;
            outln!("{}", summary(&stats))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A daemon started with --now keeps moving forward from that instant.
    let clock: Arc<dyn Clock> = match ctx.now {
        Some(now) => Arc::new(ShiftedClock::starting_at(now)),
        None => ctx.clock(),
    };
    let listener = match ctx.settings.http.listen.trim() {
        "" => None,
        address => {
            let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
                UserError(format!("cannot listen on `{address}` (http.listen): {e}"))
            })?;
            tracing::info!("http: listening on http://{}", listener.local_addr()?);
            Some(listener)
        }
    };
    let inbound = match ctx.settings.inbound.listen.trim() {
        "" => None,
        address => {
            let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
                UserError(format!(
                    "cannot listen on `{address}` (inbound.listen): {e}"
                ))
            })?;
            tracing::info!("inbound: listening on smtp://{}", listener.local_addr()?);
            Some(listener)
        }
    };
    let console = match ctx.settings.console.listen.trim() {
        "" => None,
        _ if !ctx.settings.console.enabled => None,
        address => {
            let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
                UserError(format!(
                    "cannot listen on `{address}` (console.listen): {e}"
                ))
            })?;
            tracing::info!(
                "console: listening on http://{}/console/",
                listener.local_addr()?
            );
            Some(listener)
        }
    };
    if ctx.settings.console.enabled && console.is_none() && listener.is_none() {
        return Err(UserError(
            "console.enabled needs a listener: set http.listen or console.listen".into(),
        )
        .into());
    }
    let stats = daemon::run(
        store,
        &ctx.settings,
        &ctx.config_path,
        loaded,
        clock,
        daemon::Listeners {
            http: listener,
            inbound,
            console,
        },
        shutdown_signal(),
    )
    .await?;
    tracing::info!("{}", summary(&stats));
    Ok(ExitCode::SUCCESS)
}

pub fn summary(s: &SendStats) -> String {
    let mut line = format!(
        "sent {}, retry {}, failed {}, bounced {}, suppressed {}, cancelled {}, held {}, parked {}",
        s.sent, s.retry, s.failed, s.bounced, s.suppressed, s.cancelled, s.held, s.parked
    );
    if s.recovered > 0 || s.in_doubt > 0 {
        line += &format!(
            "; taken back from a stopped sender: {} requeued, {} in doubt",
            s.recovered, s.in_doubt
        );
    }
    if let Some(until) = s.paused_until {
        line += &format!(
            "; the relay keeps refusing us: sending paused until {} (see `tend status`)",
            until.to_rfc3339()
        );
    }
    line
}

/// Listens from the moment it is called, not from its first poll: a SIGTERM
/// that arrives while the first tick still runs (the HTTP listener already
/// serving) stops tend gracefully instead of killing it.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match term {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops tend");
                    let _ = ctrl_c.await;
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    }
}
