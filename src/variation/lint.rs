//! `tend check`'s rendering checks. Every step is rendered for two sample
//! contacts, a complete one and one with nothing but an address:
//!
//! - a step that does not render (an undefined variable, a helper without a
//!   fallback for missing data) is a warning, an error with `--strict`;
//! - two steps of a campaign, or of two campaigns whose segments share a
//!   stage, whose rendered texts (subject + text part, first option of each
//!   `pick`) are more similar than the threshold are a warning naming both
//!   files, an error with `--strict`.

use super::similarity::{jaccard, shingles};
use crate::catalog::{Catalog, Diagnostic, Severity};
use crate::domain::{Attributes, Contact};
use crate::render::{PickMode, Renderer};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;
use std::path::PathBuf;

/// Above this similarity two steps are reported (`tend check --max-similarity`).
pub const DEFAULT_MAX_SIMILARITY: f64 = 0.7;

#[derive(Debug, Clone, Copy)]
pub struct LintOptions {
    pub strict: bool,
    pub max_similarity: f64,
    pub now: DateTime<Utc>,
}

/// A contact with every standard field filled in.
pub fn full_sample(now: DateTime<Utc>) -> Contact {
    Contact {
        id: 0,
        email: "alex.sample@example.com".into(),
        name: Some("Alex Sample".into()),
        created_at: now - Duration::days(400),
        last_activity_at: Some(now - Duration::days(120)),
        timezone: Some("Europe/Madrid".into()),
        tags: vec!["customer".into()],
        attributes: Attributes::new(),
    }
}

/// A contact we know nothing about but the address.
pub fn sparse_sample(now: DateTime<Utc>) -> Contact {
    Contact {
        id: 0,
        email: "someone@example.com".into(),
        name: None,
        created_at: now,
        last_activity_at: None,
        timezone: None,
        tags: Vec::new(),
        attributes: Attributes::new(),
    }
}

struct RenderedStep {
    campaign: String,
    number: usize,
    template: String,
    path: PathBuf,
    shingles: HashSet<String>,
}

pub fn lint(catalog: &Catalog, renderer: &Renderer, options: LintOptions) -> Vec<Diagnostic> {
    let severity = if options.strict {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mut out = Vec::new();
    let mut rendered: Vec<RenderedStep> = Vec::new();
    let mut reported: HashSet<String> = HashSet::new();
    let samples = [
        ("a complete sample contact", full_sample(options.now)),
        (
            "a contact with no name, time zone, activity or attributes",
            sparse_sample(options.now),
        ),
    ];
    for campaign in catalog.campaigns.values() {
        for (i, step) in campaign.steps.iter().enumerate() {
            let Some(template) = catalog.templates.get(&step.template) else {
                continue;
            };
            for (k, (who, contact)) in samples.iter().enumerate() {
                let result =
                    renderer.render_with(campaign, i, contact, options.now, &[], PickMode::First);
                match result {
                    Ok(r) if k == 0 => rendered.push(RenderedStep {
                        campaign: campaign.id.clone(),
                        number: i + 1,
                        template: step.template.clone(),
                        path: template.file.path.clone(),
                        shingles: shingles(&format!("{}\n{}", r.subject, r.text)),
                    }),
                    Ok(_) => {}
                    Err(e) => {
                        // One report per template: several steps may share it.
                        if reported.insert(step.template.clone()) {
                            out.push(
                                Diagnostic::file(
                                    &template.file.path,
                                    severity,
                                    format!("does not render for {who}: {e}"),
                                )
                                .with_hint(
                                    "guard optional data: {% if contact.attributes.x is defined %}…{% endif %}, \
                                     `| default(value=\"…\")`, attr(name=\"x\", default=\"…\"), since(date=…, otherwise=\"…\")",
                                ),
                            );
                        }
                        break;
                    }
                }
            }
        }
    }
    for (a_index, a) in rendered.iter().enumerate() {
        for b in &rendered[a_index + 1..] {
            let same_campaign = a.campaign == b.campaign;
            if !same_campaign && !segments_overlap(catalog, &a.campaign, &b.campaign) {
                continue;
            }
            let similarity = jaccard(&a.shingles, &b.shingles);
            if similarity <= options.max_similarity {
                continue;
            }
            let scope = if same_campaign {
                format!("campaign `{}`", a.campaign)
            } else {
                format!(
                    "campaigns `{}` and `{}` (their segments overlap)",
                    a.campaign, b.campaign
                )
            };
            out.push(
                Diagnostic::file(
                    &b.path,
                    severity,
                    format!(
                        "step {} of `{}` ({}) is {:.0}% similar to step {} of `{}` ({}) in {scope}",
                        b.number,
                        b.campaign,
                        b.path.display(),
                        similarity * 100.0,
                        a.number,
                        a.campaign,
                        a.path.display(),
                    ),
                )
                .with_hint(format!(
                    "a contact gets both `{}` and `{}`: rewrite one so it says something new, \
                     or offer variants with pick(); the limit is --max-similarity {:.2}",
                    a.template, b.template, options.max_similarity
                )),
            );
        }
    }
    out
}

fn segments_overlap(catalog: &Catalog, a: &str, b: &str) -> bool {
    match (catalog.campaigns.get(a), catalog.campaigns.get(b)) {
        (Some(a), Some(b)) => a
            .segment
            .stages
            .iter()
            .any(|s| b.segment.stages.contains(s)),
        _ => false,
    }
}
