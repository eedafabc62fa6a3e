//! `tend check`'s rendering checks. Every step is rendered for two sample
//! contacts, a complete one and one with nothing but an address:
//!
//! - a step that does not render (an undefined variable, a helper without a
//!   fallback for missing data) is a warning, an error with `--strict`;
//! - two steps of a campaign, or of two campaigns whose segments share a
//!   stage, whose rendered texts (subject + text part, first option of each
//!   `pick`) are more similar than the threshold are a warning naming both
//!   files, an error with `--strict`;
//! - a rendered subject or body with a slip that gives a machine away ("Hi ,",
//!   "a enterprise", "the about four months", a lower-cased brand: see
//!   [`crate::render::proofread`]) is a warning, an error with `--strict`.
//!
//! Every language version of a template (`NAME.de.tera`) is rendered too,
//! for the same samples with `locale` set to its language.

use super::similarity::{jaccard, shingles};
use crate::catalog::{Catalog, Diagnostic, Severity};
use crate::domain::{Attributes, Contact};
use crate::render::proofread::{proofread, visible_text};
use crate::render::{PickMode, Rendered, Renderer};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;
use std::path::PathBuf;

/// Slots with more options than this are proofread for their first ones only.
const MAX_OPTIONS: usize = 20;

/// Above this similarity two steps are reported (`tend check --max-similarity`).
pub const DEFAULT_MAX_SIMILARITY: f64 = 0.7;

#[derive(Debug, Clone)]
pub struct LintOptions {
    pub strict: bool,
    pub max_similarity: f64,
    pub now: DateTime<Utc>,
    /// Names that must keep their capitals ("Acme"): see [`brands`].
    pub brands: Vec<String>,
}

/// `check`'s lint of a loaded catalog with the brands of its From
/// mailboxes (config and campaigns): shared by `tend check` and the console.
pub fn lint_loaded(
    loaded: &crate::send::Loaded,
    settings: &crate::config::Settings,
    strict: bool,
    max_similarity: f64,
    now: DateTime<Utc>,
) -> Vec<Diagnostic> {
    let global_from = settings.from_mailbox();
    let froms = global_from.iter().chain(
        loaded
            .catalog
            .campaigns
            .values()
            .filter_map(|c| c.from.as_ref()),
    );
    let options = LintOptions {
        strict,
        max_similarity,
        now,
        brands: brands(froms),
    };
    lint(&loaded.catalog, &loaded.renderer, options)
}

/// The brand in a From mailbox: the display-name word that spells the
/// domain's name ("Ana at Acme <ana@acme.example>" → "Acme").
pub fn brands<'a>(froms: impl IntoIterator<Item = &'a lettre::message::Mailbox>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for from in froms {
        let label = crate::production::domains::organizational(from.email.domain());
        let label = label.split('.').next().unwrap_or_default();
        let name = from.name.as_deref().unwrap_or_default();
        for word in name.split(|c: char| !c.is_alphanumeric()) {
            if word.len() > 2 && word.eq_ignore_ascii_case(label) && !out.iter().any(|b| b == word)
            {
                out.push(word.to_string());
            }
        }
    }
    out
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
    let mut slipped: HashSet<(String, &'static str)> = HashSet::new();
    for campaign in catalog.campaigns.values() {
        for (i, step) in campaign.steps.iter().enumerate() {
            let Some(template) = catalog.templates.get(&step.template) else {
                continue;
            };
            let versions: Vec<_> = catalog
                .templates
                .values()
                .filter(|t| t.localized && t.base == step.template)
                .chain([template])
                .collect();
            for version in versions {
                for (k, (who, sample)) in samples.iter().enumerate() {
                    let mut contact = sample.clone();
                    if version.localized {
                        contact
                            .attributes
                            .insert("locale".into(), version.locale.code().into());
                    }
                    let result = renderer.render_with(
                        campaign,
                        i,
                        &contact,
                        options.now,
                        &[],
                        PickMode::First,
                    );
                    match result {
                        Ok(r) => {
                            if k == 0 && !version.localized {
                                rendered.push(RenderedStep {
                                    campaign: campaign.id.clone(),
                                    number: i + 1,
                                    template: step.template.clone(),
                                    path: template.file.path.clone(),
                                    shingles: shingles(&format!("{}\n{}", r.subject, r.text)),
                                });
                            }
                            // Every option of every slot: option n of each, n = 0, 1, 2…
                            let most = r.choices.iter().map(|c| c.of).max().unwrap_or(1);
                            let variants = (1..most.min(MAX_OPTIONS)).filter_map(|n| {
                                renderer
                                    .render_with(
                                        campaign,
                                        i,
                                        &contact,
                                        options.now,
                                        &[],
                                        PickMode::Nth(n),
                                    )
                                    .ok()
                            });
                            for r in std::iter::once(r.clone()).chain(variants) {
                                for (part, slip) in slips(&r, &options.brands) {
                                    if !slipped.insert((version.name.clone(), slip.what)) {
                                        continue;
                                    }
                                    out.push(
                                        Diagnostic::file(
                                            &version.file.path,
                                            severity,
                                            format!(
                                                "the {part} reads «{}» for {who}: {}",
                                                slip.excerpt.trim(),
                                                slip.what
                                            ),
                                        )
                                        .with_hint(
                                            "greet with {{ \"Hi\" | salute }} (no name: \"Hi,\"), address with {{ \"…\" | with_name }}, \
                                             write {{ plan | article }} for \"a\"/\"an\", and branch on missing data with {% if %}",
                                        ),
                                    );
                                }
                            }
                        }
                        Err(e) => {
                            // One report per template: several steps may share it.
                            if reported.insert(version.name.clone()) {
                                out.push(
                                    Diagnostic::file(
                                        &version.file.path,
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

/// Slips in each rendered part (the HTML part by its visible text).
fn slips(r: &Rendered, brands: &[String]) -> Vec<(&'static str, crate::render::proofread::Slip)> {
    let mut parts = vec![
        ("subject", r.subject.clone()),
        ("text part", r.text.clone()),
    ];
    if let Some(html) = &r.html {
        parts.push(("HTML part", visible_text(html)));
    }
    parts
        .into_iter()
        .flat_map(|(part, text)| {
            proofread(&text, r.locale, brands)
                .into_iter()
                .map(move |s| (part, s))
        })
        .collect()
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
