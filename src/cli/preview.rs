//! `tend preview CAMPAIGN --contact EMAIL [--step N | --all-steps]` and
//! `tend preview CAMPAIGN --step N --sample N`: the exact messages, built by
//! the same code the sender uses, with the same send history.

use super::app::{Context, UserError};
use crate::domain::Contact;
use crate::domain::EmailAddress;
use crate::send::Composed;
use crate::send::preview::{Preview as SharedPreview, PreviewError};
use crate::store::Backend;
use crate::store::prelude::*;
use crate::variation::PastSend;
use clap::Args;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Campaign id (its file name without .toml)
    pub campaign: String,
    /// The contact's email address
    #[arg(long, required_unless_present = "sample")]
    pub contact: Option<String>,
    /// Step number, from 1
    #[arg(long, default_value_t = 1, conflicts_with = "all_steps")]
    pub step: usize,
    /// Every step in order, as this contact would receive the sequence
    #[arg(long, requires = "contact")]
    pub all_steps: bool,
    /// N contacts' versions of one step side by side (contacts of the campaign or its segment)
    #[arg(long, value_name = "N", conflicts_with_all = ["contact", "all_steps"])]
    pub sample: Option<u32>,
}

pub async fn run(ctx: &Context, args: PreviewArgs) -> anyhow::Result<ExitCode> {
    let loaded = ctx.require_catalog().await?;
    let campaign = super::app::find_campaign(&loaded, &args.campaign)?;
    if args.step == 0 || args.step > campaign.steps.len() {
        return Err(UserError(format!(
            "campaign `{}` has steps 1 to {}",
            campaign.id,
            campaign.steps.len()
        ))
        .into());
    }
    let store = ctx.store().await?;
    let now = ctx.clock().now();
    let identity = crate::send::identity(&store, &ctx.settings, now)
        .await
        .map_err(|e| UserError(e.to_string()))?;
    let preview = Preview(SharedPreview {
        loaded: &loaded,
        identity: &identity,
        campaign,
        store: &store,
        now,
    });
    if let Some(n) = args.sample {
        return preview.sample(args.step - 1, n, ctx).await;
    }
    let email = args.contact.as_deref().unwrap_or_default();
    let email = EmailAddress::parse(email).map_err(|e| UserError(e.to_string()))?;
    let contact = store
        .contact_by_email(&email)
        .await?
        .ok_or_else(|| UserError(format!("no contact with email {email}")))?;
    let steps = if args.all_steps {
        0..campaign.steps.len()
    } else {
        args.step - 1..args.step
    };
    let mut simulated: Vec<PastSend> = Vec::new();
    let mut out = super::out::Stdout;
    for step in steps {
        let composed = preview.one(&contact, step, &mut simulated).await?;
        if args.all_steps {
            writeln!(
                out,
                "==> step {} of {}: {} <==",
                step + 1,
                campaign.steps.len(),
                campaign.steps[step].template
            )?;
        }
        out.write_all(&composed.message.formatted())?;
        if args.all_steps {
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The shared previewer, with the CLI's sample table.
struct Preview<'a>(SharedPreview<'a, Backend>);

impl Preview<'_> {
    async fn one(
        &self,
        contact: &Contact,
        step: usize,
        simulated: &mut Vec<PastSend>,
    ) -> anyhow::Result<Composed> {
        self.0
            .one(contact, step, simulated)
            .await
            .map_err(|e| match e {
                PreviewError::Compose(e) => UserError(e.to_string()).into(),
                PreviewError::Store(e) => e.into(),
            })
    }

    async fn sample(&self, step: usize, n: u32, ctx: &Context) -> anyhow::Result<ExitCode> {
        let contacts = self
            .0
            .sample_contacts(n)
            .await
            .map_err(anyhow::Error::from)?;
        if contacts.is_empty() {
            return Err(UserError(format!(
                "no contact is in campaign `{}` or its segment",
                self.0.campaign.id
            ))
            .into());
        }
        let mut rows = Vec::new();
        for contact in &contacts {
            let composed = self.one(contact, step, &mut Vec::new()).await?;
            let variants: Vec<String> = composed
                .content
                .choices
                .iter()
                .map(|c| format!("{}={}/{}", c.slot, c.n, c.of))
                .collect();
            rows.push(serde_json::json!({
                "contact": contact.email,
                "subject": composed.subject,
                "opener": composed.content.opener,
                "variants": variants,
                "text": composed.content.text,
            }));
        }
        if ctx.json {
            super::app::print_json(&rows)?;
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "{} step {} ({}), {} contact(s)\n",
            self.0.campaign.id,
            step + 1,
            self.0.campaign.steps[step].template,
            rows.len()
        )?;
        let width = |key: &str| {
            rows.iter()
                .map(|r| r[key].as_str().unwrap_or_default().chars().count())
                .max()
                .unwrap_or(0)
                .max(key.len())
        };
        let (wc, ws, wo) = (width("contact"), width("subject"), width("opener"));
        outln!(
            "{:wc$}  {:ws$}  {:wo$}  variants",
            "contact",
            "subject",
            "opener"
        )?;
        for r in &rows {
            let get = |key: &str| r[key].as_str().unwrap_or_default().to_string();
            let variants: Vec<&str> = r["variants"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            outln!(
                "{:wc$}  {:ws$}  {:wo$}  {}",
                get("contact"),
                get("subject"),
                get("opener"),
                variants.join(" ")
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
