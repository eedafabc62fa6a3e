//! Hot reload. On SIGHUP or a change under `campaigns/` or `templates/`
//! (debounced), the whole catalog is loaded and checked again. If it is
//! clean it replaces the running one atomically; if not, the last good
//! catalog keeps running and every problem is logged as `path:line:col`.
//!
//! A campaign removed from disk stops enrolling at the next tick; its
//! queued sends are recorded as `cancelled` ("campaign is no longer
//! defined") when they come due, and never sent.

use crate::catalog::{self, Diagnostic};
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::redact_addresses;
use crate::metrics;
use crate::render::Renderer;
use crate::segment::AttrType;
use crate::send::Loaded;
use crate::store::ReloadStatus;
use crate::store::prelude::*;
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Loads and compiles campaigns and templates; the catalog only when clean.
/// `inferred`: attribute types seen at import (for filter type checks).
pub fn load(
    settings: &Settings,
    config_path: &Path,
    inferred: &[(String, Option<AttrType>)],
) -> (Option<Loaded>, Vec<Diagnostic>) {
    let paths = &settings.paths;
    let mut diagnostics = Vec::new();
    let vocabulary =
        catalog::vocabulary::load(config_path, settings.lifecycle, inferred, &mut diagnostics);
    let (catalog, more) = catalog::load(&paths.campaigns, &paths.templates, vocabulary);
    diagnostics.extend(more);
    let renderer = Renderer::build(&catalog, settings.lifecycle);
    if let Err(errors) = &renderer {
        diagnostics.extend(errors.iter().cloned());
    }
    diagnostics.sort_by(|a, b| (&a.path, a.line, a.col).cmp(&(&b.path, b.line, b.col)));
    match renderer {
        Ok(renderer) if !diagnostics.iter().any(Diagnostic::is_error) => {
            (Some(Loaded { catalog, renderer }), diagnostics)
        }
        _ => (None, diagnostics),
    }
}

/// Quiet time after a file event before reloading: editors write in bursts.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// What asks for a reload: SIGHUP and changes under the catalog folders.
/// Built before the daemon says it runs, so a signal or an edit made right
/// after that line is never lost (an unhandled SIGHUP would end the process).
#[derive(Debug)]
pub struct Triggers {
    triggers: mpsc::UnboundedReceiver<&'static str>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Triggers {
    pub fn listen(settings: &Settings) -> Self {
        let (trigger, triggers) = mpsc::unbounded_channel::<&'static str>();
        let file_trigger = trigger.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| !e.kind.is_access()) {
                let _ = file_trigger.send("file change");
            }
        });
        let watcher = match watcher {
            Ok(mut watcher) => {
                for dir in [&settings.paths.campaigns, &settings.paths.templates] {
                    if let Err(e) = watcher.watch(dir, RecursiveMode::Recursive) {
                        tracing::warn!(error = %redact_addresses(&e.to_string()), dir = %dir.display(), "cannot watch for changes; SIGHUP still reloads");
                    }
                }
                Some(watcher)
            }
            Err(e) => {
                tracing::warn!(error = %redact_addresses(&e.to_string()), "file watching unavailable; SIGHUP still reloads");
                None
            }
        };
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hangups) => {
                tokio::spawn(async move {
                    while hangups.recv().await.is_some() {
                        if trigger.send("SIGHUP").is_err() {
                            return;
                        }
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP"),
        }
        Self {
            triggers,
            _watcher: watcher,
        }
    }
}

/// Reloads on triggers until `stop` flips to true.
#[allow(clippy::too_many_arguments)]
pub async fn run<S: Store>(
    mut listening: Triggers,
    settings: Settings,
    config_path: PathBuf,
    store: S,
    clock: Arc<dyn Clock>,
    current: watch::Sender<Arc<Loaded>>,
    mut stop: watch::Receiver<bool>,
    daemon: String,
) {
    let triggers = &mut listening.triggers;
    loop {
        let reason = tokio::select! {
            reason = triggers.recv() => match reason { Some(r) => r, None => return },
            _ = stop.wait_for(|s| *s) => return,
        };
        // Let a burst of writes settle, then take everything queued meanwhile.
        tokio::time::sleep(DEBOUNCE).await;
        while triggers.try_recv().is_ok() {}
        reload(
            &settings,
            &config_path,
            &store,
            clock.as_ref(),
            &current,
            reason,
            &daemon,
        )
        .await;
    }
}

async fn reload<S: Store>(
    settings: &Settings,
    config_path: &Path,
    store: &S,
    clock: &dyn Clock,
    current: &watch::Sender<Arc<Loaded>>,
    reason: &str,
    daemon: &str,
) {
    let inferred = store.attribute_types().await.unwrap_or_else(|e| {
        tracing::warn!(error = %redact_addresses(&e.to_string()), "cannot read inferred attribute types");
        Vec::new()
    });
    let (loaded, diagnostics) = load(settings, config_path, &inferred);
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    let status = match loaded {
        Some(loaded) => {
            let campaigns = loaded.catalog.campaigns.len();
            current.send_replace(Arc::new(loaded));
            metrics::RELOADS.with_label_values(&["ok"]).inc();
            ReloadStatus {
                daemon: daemon.to_string(),
                ok: true,
                reason: reason.to_string(),
                campaigns: campaigns as u64,
                errors: Vec::new(),
                at: clock.now(),
            }
        }
        None => {
            metrics::RELOADS.with_label_values(&["failed"]).inc();
            for error in &errors {
                tracing::error!("{error}");
            }
            ReloadStatus {
                daemon: daemon.to_string(),
                ok: false,
                reason: reason.to_string(),
                campaigns: 0,
                errors,
                at: clock.now(),
            }
        }
    };
    if let Err(e) = store.record_reload(&status).await {
        tracing::warn!(error = %redact_addresses(&e.to_string()), "cannot record the reload status");
    }
    let detail = if status.ok {
        format!("{reason}: {} campaign(s) running", status.campaigns)
    } else {
        format!(
            "{reason}: rejected with {} error(s); the last good catalog keeps running",
            status.errors.len()
        )
    };
    if let Err(e) = store
        .record_audit(
            &crate::audit::daemon_actor(),
            "reload",
            "campaigns and templates",
            &detail,
            status.at,
        )
        .await
    {
        tracing::warn!(error = %redact_addresses(&e.to_string()), "cannot record the reload in the audit log");
    }
    // Said once the reload is on record: whoever reads the log line (an
    // operator, a test) finds it in the audit log and reload status.
    if status.ok {
        tracing::info!(
            reason,
            campaigns = status.campaigns,
            "reloaded campaigns and templates"
        );
    } else {
        tracing::error!(
            reason,
            errors = status.errors.len(),
            "reload failed; still running the last good campaigns and templates"
        );
    }
}
