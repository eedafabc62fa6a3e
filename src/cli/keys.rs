//! `tend keys list|rotate|retire`: the keys that sign links and return
//! paths. The newest signs; every key listed verifies, so links in mail
//! already sent keep working after a rotation until their key is retired.

use super::app::{Context, UserError, print_json};
use crate::domain::fingerprint;
use crate::links::{self, LINK_KEY};
use crate::store::prelude::*;
use clap::Subcommand;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The link keys, newest (signing) first
    List,
    /// Make a new key sign; the old ones keep verifying until retired
    Rotate,
    /// Stop accepting links signed with an old key (by its fingerprint)
    Retire { fingerprint: String },
}

#[derive(Debug, Serialize)]
struct KeyLine {
    fingerprint: String,
    /// `signing` or `verifying`.
    role: &'static str,
    /// Where it comes from: `database` or `configuration`.
    source: &'static str,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn configured(ctx: &Context) -> bool {
    ctx.settings.http.secret.is_some()
}

const CONFIGURED: &str = "the link keys come from the configuration (TEND__HTTP__SECRET or http.secret_file): rotate there — put the new secret on the first line of http.secret_file and keep the old ones on the lines after it (or in TEND__HTTP__PREVIOUS_SECRETS) until mail signed with them no longer matters, then restart";

pub async fn run(ctx: &Context, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let now = ctx.clock().now();
    match command {
        KeysCommand::List => {
            let lines: Vec<KeyLine> = if configured(ctx) {
                let http = &ctx.settings.http;
                std::iter::once(http.secret.as_ref().expect("configured"))
                    .chain(&http.previous_secrets)
                    .enumerate()
                    .map(|(i, s)| KeyLine {
                        fingerprint: fingerprint(s.expose().as_bytes()),
                        role: if i == 0 { "signing" } else { "verifying" },
                        source: "configuration",
                        created_at: None,
                    })
                    .collect()
            } else {
                // Loading makes the first key on a fresh database.
                links::Keys::load(&store, &ctx.settings, now).await?;
                let mut stored = store.secrets_named(LINK_KEY).await?;
                stored.sort_by_key(|s| (s.name != LINK_KEY, std::cmp::Reverse(s.created_at)));
                stored
                    .iter()
                    .map(|s| KeyLine {
                        fingerprint: fingerprint(&s.value),
                        role: if s.name == LINK_KEY {
                            "signing"
                        } else {
                            "verifying"
                        },
                        source: "database",
                        created_at: Some(s.created_at),
                    })
                    .collect()
            };
            if ctx.json {
                print_json(&lines)?;
            } else {
                for k in &lines {
                    outln!(
                        "{}  {:<9}  {}{}",
                        k.fingerprint,
                        k.role,
                        k.source,
                        k.created_at
                            .map(|t| format!(", made {}", t.to_rfc3339()))
                            .unwrap_or_default()
                    )?;
                }
            }
        }
        KeysCommand::Rotate => {
            if configured(ctx) {
                return Err(UserError(CONFIGURED.into()).into());
            }
            let signing = links::rotate(&store, now).await?;
            ctx.audit(
                &store,
                "rotate_key",
                &format!("link key {signing}"),
                "the new key signs; older ones still verify",
            )
            .await?;
            outln!(
                "{signing} now signs new links; older keys keep verifying (`tend keys list`). Running daemons switch at their next tick; retire an old key with `tend keys retire FINGERPRINT` once its mail no longer matters."
            )?;
        }
        KeysCommand::Retire {
            fingerprint: wanted,
        } => {
            if configured(ctx) {
                return Err(UserError(CONFIGURED.into()).into());
            }
            let stored = store.secrets_named(LINK_KEY).await?;
            let Some(found) = stored
                .iter()
                .find(|s| fingerprint(&s.value) == wanted.trim().to_lowercase())
            else {
                return Err(
                    UserError(format!("no link key {wanted} (see `tend keys list`)")).into(),
                );
            };
            if found.name == LINK_KEY {
                return Err(UserError(
                    "that key signs new links: rotate first (`tend keys rotate`), then retire it"
                        .into(),
                )
                .into());
            }
            store.delete_secret(&found.name).await?;
            ctx.audit(
                &store,
                "retire_key",
                &format!("link key {wanted}"),
                "links signed with it are refused",
            )
            .await?;
            outln!(
                "retired {wanted}: links and return paths signed with it are refused from now on (running daemons: from their next tick)"
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
