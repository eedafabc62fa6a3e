//! `tend variation CAMPAIGN`: how varied the campaign's actual sends were,
//! per contact and across recipients of each step, personal fields masked
//! (see [`crate::variation::metric`]); `--json` for machines.

use super::app::{Context, UserError, print_json};
use crate::store::prelude::*;
use crate::variation::metric::measure;
use clap::Args;
use std::collections::HashMap;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct VariationArgs {
    /// Campaign id (its file name without .toml)
    pub campaign: String,
}

pub async fn run(ctx: &Context, args: VariationArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let messages = store.sent_messages(&args.campaign).await?;
    // Names and other personal fields are masked before comparing.
    let mut contacts = HashMap::new();
    let ids: std::collections::BTreeSet<i64> = messages.iter().map(|m| m.contact_id).collect();
    for id in ids {
        if let Some(c) = store.contact_by_id(id).await? {
            contacts.insert(id, c);
        }
    }
    let r = measure(&args.campaign, &messages, &contacts);
    if r.sends == 0 {
        return Err(UserError(format!("campaign `{}` has no sent messages", args.campaign)).into());
    }
    if ctx.json {
        print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "campaign {}: {} sent to {} contact(s)",
        r.campaign,
        r.sends,
        r.contacts
    )?;
    outln!("  distinct subjects            {}", r.distinct_subjects)?;
    outln!("  distinct openers             {}", r.distinct_openers)?;
    outln!(
        "  consecutive repeats          {} where alternatives existed ({} subject, {} slot)",
        r.consecutive_repeats,
        r.subject_repeats,
        r.slot_repeats
    )?;
    outln!(
        "  identical subjects in a row  {}",
        r.identical_subjects_in_a_row
    )?;
    match r.mean_pairwise_similarity {
        Some(s) => outln!(
            "  mean pairwise similarity     {s:.3} (per contact, 0 = nothing shared, 1 = identical)"
        )?,
        None => outln!("  mean pairwise similarity     n/a (no contact got two messages yet)")?,
    }
    outln!("  similarity across recipients (names, addresses, attributes and links masked)")?;
    for s in &r.steps {
        match (s.mean_similarity, s.max_similarity) {
            (Some(mean), Some(max)) => outln!(
                "    step {:<3} {mean:.3} mean, {max:.3} max over {} pair(s) of {} recipient(s)",
                s.step,
                s.pairs,
                s.recipients
                    .min(crate::variation::metric::MAX_RECIPIENTS as u64)
            )?,
            _ => outln!("    step {:<3} n/a ({} recipient)", s.step, s.recipients)?,
        }
    }
    for slot in &r.slots {
        let counts: Vec<String> = slot.counts.iter().map(u64::to_string).collect();
        outln!(
            "  slot {:<23} {} option(s), sent {}",
            slot.slot,
            slot.options,
            counts.join(" / ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
