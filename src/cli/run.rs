//! `tend run [--once]`: the daemon, or one tick and a drain.

use super::app::{Context, print_json};
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
        let report = plan::tick(&store, &loaded.catalog, clock.now()).await?;
        let sender = Sender::new(store, &ctx.settings, clock)?;
        let stats = sender.drain(&loaded).await?;
        if ctx.json {
            print_json(&serde_json::json!({ "plan": report, "sent": stats }))?;
        } else {
            print!("{}", super::plan::render(&report));
            println!("{}", summary(&stats));
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A daemon started with --now keeps moving forward from that instant.
    let clock: Arc<dyn Clock> = match ctx.now {
        Some(now) => Arc::new(ShiftedClock::starting_at(now)),
        None => ctx.clock(),
    };
    let stats = daemon::run(store, &ctx.settings, loaded, clock, shutdown_signal()).await?;
    tracing::info!("{}", summary(&stats));
    Ok(ExitCode::SUCCESS)
}

pub fn summary(s: &SendStats) -> String {
    format!(
        "sent {}, retry {}, failed {}, bounced {}, suppressed {}, cancelled {}",
        s.sent, s.retry, s.failed, s.bounced, s.suppressed, s.cancelled
    )
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
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
