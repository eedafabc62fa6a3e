//! What every subcommand needs: settings, the clock, the store, the catalog.

use super::Cli;
use crate::catalog::Diagnostic;
use crate::clock::{Clock, FixedClock, SystemClock};
use crate::config::Settings;
use crate::segment::AttrType;
use crate::send::Loaded;
use crate::store::Backend;
use crate::store::prelude::*;
use anyhow::Context as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// An error caused by the user's input: exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

#[derive(Debug)]
pub struct Context {
    pub settings: Settings,
    /// `--now` when given.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    pub json: bool,
    /// The config file (it may not exist: defaults apply).
    pub config_path: PathBuf,
}

impl Context {
    pub fn new(cli: &Cli) -> anyhow::Result<Self> {
        let (path, explicit) = match &cli.config {
            Some(path) => (path.clone(), true),
            None => (PathBuf::from("config/tend.toml"), false),
        };
        let settings = Settings::load(&path, explicit).map_err(|e| UserError(e.to_string()))?;
        Ok(Self {
            settings,
            now: cli.now,
            json: cli.json,
            config_path: path,
        })
    }

    /// A frozen clock at `--now`, or the wall clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        match self.now {
            Some(now) => Arc::new(FixedClock(now)),
            None => Arc::new(SystemClock),
        }
    }

    /// The store the database URL names (SQLite or PostgreSQL), chosen here once.
    /// Records an administrative change in the audit log as the person
    /// running the command. The change is made by then: a failure here says
    /// so rather than passing silently.
    pub async fn audit(
        &self,
        store: &Backend,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> anyhow::Result<()> {
        use crate::store::AuditStore;
        store
            .record_audit(
                &crate::audit::cli_actor(),
                action,
                subject,
                detail,
                self.clock().now(),
            )
            .await
            .map_err(|e| {
                anyhow::anyhow!("done, but the change could not be written to the audit log: {e}")
            })?;
        Ok(())
    }

    pub async fn store(&self) -> anyhow::Result<Backend> {
        crate::store::open(&self.settings.database.url)
            .await
            .with_context(|| format!("opening the database `{}`", self.settings.database.url))
    }

    /// Attribute types inferred at import, from an existing database only
    /// (`check` must not create one); none when it cannot be read.
    async fn inferred_attributes(&self) -> Vec<(String, Option<AttrType>)> {
        let url = &self.settings.database.url;
        // A SQLite file that does not exist yet is not created just to be
        // asked; a PostgreSQL database is always asked.
        if crate::store::Kind::of(url) == Some(crate::store::Kind::Sqlite) {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .map(|p| p.split('?').next().unwrap_or(p));
            if !path.is_some_and(|p| std::path::Path::new(p).is_file()) {
                return Vec::new();
            }
        }
        match self.store().await {
            Ok(store) => store.attribute_types().await.unwrap_or_else(|e| {
                tracing::warn!("cannot read inferred attribute types: {e}");
                Vec::new()
            }),
            Err(e) => {
                tracing::warn!("cannot read inferred attribute types: {e:#}");
                Vec::new()
            }
        }
    }

    /// Loads and compiles campaigns and templates; every diagnostic comes back.
    pub async fn load_catalog(&self) -> (Option<Loaded>, Vec<Diagnostic>) {
        let inferred = self.inferred_attributes().await;
        crate::daemon::reload::load(&self.settings, &self.config_path, &inferred)
    }

    /// The catalog, or a user error listing every problem.
    pub async fn require_catalog(&self) -> anyhow::Result<Loaded> {
        let (loaded, diagnostics) = self.load_catalog().await;
        match loaded {
            Some(loaded) => {
                for d in diagnostics.iter().filter(|d| !d.is_error()) {
                    tracing::warn!("{d}");
                }
                Ok(loaded)
            }
            None => {
                let listing: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                Err(UserError(format!(
                    "campaigns or templates have errors (run `tend check`):\n{}",
                    listing.join("\n")
                ))
                .into())
            }
        }
    }
}

pub async fn migrate(ctx: &Context) -> anyhow::Result<ExitCode> {
    ctx.store().await?;
    outln!("database `{}` is up to date", ctx.settings.database.url)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a value as pretty JSON.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// The campaign `id` of the loaded catalog, or a user error that suggests
/// the nearest id (or lists them all).
pub fn find_campaign<'a>(
    loaded: &'a Loaded,
    id: &str,
) -> anyhow::Result<&'a crate::catalog::Campaign> {
    let campaigns = &loaded.catalog.campaigns;
    campaigns.get(id).ok_or_else(|| {
        let hint = match crate::catalog::did_you_mean(id, campaigns.keys().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!(
                "campaigns: {}",
                campaigns.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        UserError(format!("no campaign `{id}` ({hint})")).into()
    })
}
