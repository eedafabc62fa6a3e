//! `tend report`: what a campaign did, and for a pilot, whether it did
//! better than doing nothing. Figures come from the store; the statistics
//! are Wilson intervals per group and Newcombe's interval for the
//! difference (treatment − holdout). Output as text, JSON or one
//! self-contained HTML page with SVG charts.
//!
//! A report says in words what counted as a response. Clicks on tend's own
//! links are a figure of their own (with how many look like link scanners),
//! never part of the rate or its interval unless `respond_on` names `click`:
//! only the treatment can click.

pub mod complaints;
mod html;
pub mod stats;
pub mod status;
mod text;

pub use html::render as html;
pub use html::{rate_chart, timeline_chart};
pub use text::render as text;

use crate::catalog::{Campaign, Sample};
use crate::domain::{CLICK, Group, TREATMENT_ONLY_KINDS, TreatmentOnly};
use crate::store::prelude::*;
use crate::store::{ClickFigures, EndedCount, GroupFigures, HeldCount, StepFigures, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use stats::{Difference, Rate, Z95, newcombe, wilson};

/// Below this many contacts per group, or fewer than five expected
/// responders, a difference cannot be told from chance: say so.
const SMALL_GROUP: u64 = 30;

#[derive(Debug, Clone, Serialize)]
pub struct PilotInfo {
    pub sample: String,
    pub holdout: f64,
    pub seed: String,
    pub respond_within_days: i64,
    pub respond_on: Vec<String>,
    pub promoted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub group: Group,
    #[serde(flatten)]
    pub figures: GroupFigures,
    pub response: Rate,
}

/// Cumulative response rate by day since entry.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimelinePoint {
    pub day: i64,
    pub treatment: f64,
    pub holdout: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub campaign: String,
    pub description: String,
    pub generated_at: DateTime<Utc>,
    pub pilot: Option<PilotInfo>,
    /// What counted as a response, in plain words.
    pub response_definition: String,
    /// Whether clicks on tend's links counted as responses (only when
    /// `respond_on` names `click`: biased, since only the treatment can click).
    pub clicks_counted: bool,
    pub groups: Vec<GroupReport>,
    pub difference: Option<Difference>,
    pub verdict: String,
    pub warnings: Vec<String>,
    pub steps: Vec<StepFigures>,
    pub timeline: Vec<TimelinePoint>,
    /// Messages that did not go out, and why (cancelled, suppressed, failed).
    pub not_sent: Vec<EndedCount>,
    /// Messages held back when they were about to leave, and until when.
    pub held: Vec<HeldCount>,
    /// Spam complaints per message sent, against Gmail's and Yahoo's limits.
    pub complaints: complaints::Complaints,
    /// What came back for this campaign's messages, by kind (undone ones left out).
    pub came_back: Vec<CameBack>,
}

/// One kind of message that came back (by mail or a provider's webhook).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CameBack {
    /// `hard_bounce`, `soft_bounce`, `complaint`, `auto_reply`, `reply`…
    pub kind: String,
    pub count: u64,
    /// What tend did about it, in words.
    pub effect: &'static str,
}

/// What each inbound kind does, as a report says it.
pub fn inbound_effect(kind: &str) -> &'static str {
    match kind {
        "hard_bounce" => "address suppressed",
        "soft_bounce" => "counted; suppressed after sending.soft_bounce_limit within the span",
        "delayed" => "the receiving server is still trying; nothing done",
        "complaint" => "address suppressed",
        "auto_reply" => "recorded only: never a bounce, never a reply",
        "reply" => "a response: ends the campaign where `exit_on` names reply",
        "unsubscribe" => "unsubscribed",
        "unclassified" => "kept for a person to look at; nothing done",
        _ => "nothing done",
    }
}

async fn came_back<S: Store>(store: &S, campaign: &str) -> Result<Vec<CameBack>, StoreError> {
    Ok(store
        .inbound_counts(Some(campaign))
        .await?
        .into_iter()
        .map(|(_, kind, count)| CameBack {
            effect: inbound_effect(&kind),
            kind,
            count,
        })
        .collect())
}

impl Report {
    pub fn group(&self, group: Group) -> Option<&GroupReport> {
        self.groups.iter().find(|g| g.group == group)
    }
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn points(x: f64) -> String {
    format!("{:.0}", x * 100.0)
}

pub async fn build<S: Store>(
    store: &S,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let (kinds, within) = match &campaign.pilot {
        Some(p) => (p.respond_on.clone(), p.respond_within),
        None => (
            vec!["activity".to_string()],
            crate::domain::Duration::from_days(21),
        ),
    };
    let (figures, steps) = store.pilot_figures(&campaign.id, &kinds, within).await?;
    let mut groups: Vec<GroupReport> = figures
        .into_iter()
        .map(|(group, figures)| GroupReport {
            group,
            response: wilson(figures.responders, figures.enrolled, Z95),
            figures,
        })
        .collect();
    groups.sort_by_key(|g| g.group);
    let pilot = match &campaign.pilot {
        Some(p) => Some(PilotInfo {
            sample: match p.sample {
                Sample::Share(s) => format!("{} of the segment", percent(s)),
                Sample::Count(n) => format!("{n} contacts"),
            },
            holdout: p.holdout,
            seed: p.seed.clone(),
            respond_within_days: within.as_secs() / 86_400,
            respond_on: p.respond_on.clone(),
            promoted_at: crate::pilot::promoted_at(store, &campaign.id).await?,
        }),
        None => None,
    };
    let treatment = groups
        .iter()
        .find(|g| g.group == Group::Treatment)
        .map(|g| g.response);
    let holdout = groups
        .iter()
        .find(|g| g.group == Group::Holdout)
        .map(|g| g.response);
    let difference = match (treatment, holdout) {
        (Some(t), Some(h)) if t.trials > 0 && h.trials > 0 => Some(newcombe(&t, &h)),
        _ => None,
    };
    let mut warnings = Vec::new();
    for g in &groups {
        let expected = g.response.rate * g.figures.enrolled as f64;
        if g.figures.enrolled < SMALL_GROUP || (pilot.is_some() && expected < 5.0) {
            warnings.push(format!(
                "the {} group is too small to tell ({} contacts, {} responders): treat the difference as a hint, not a result",
                g.group.as_str(),
                g.figures.enrolled,
                g.figures.responders
            ));
        }
    }
    let verdict = verdict(treatment, holdout, difference, pilot.is_some());
    let days = within.as_secs() / 86_400;
    let (response_definition, clicks_counted) = response_definition(&kinds, days);
    let cumulative = |group: Group, day: i64| -> Option<f64> {
        let g = groups.iter().find(|g| g.group == group)?;
        let n = g.figures.enrolled.max(1) as f64;
        Some(
            g.figures
                .response_days
                .iter()
                .filter(|d| **d <= day)
                .count() as f64
                / n,
        )
    };
    let timeline = (0..=days)
        .map(|day| TimelinePoint {
            day,
            treatment: cumulative(Group::Treatment, day).unwrap_or(0.0),
            holdout: cumulative(Group::Holdout, day),
        })
        .collect();
    Ok(Report {
        campaign: campaign.id.clone(),
        description: campaign.description.clone(),
        generated_at: now,
        pilot,
        response_definition,
        clicks_counted,
        groups,
        difference,
        verdict,
        warnings,
        steps,
        timeline,
        not_sent: store.ended_counts(Some(&campaign.id)).await?,
        held: store
            .held_counts()
            .await?
            .into_iter()
            .filter(|h| h.campaign == campaign.id)
            .collect(),
        complaints: complaints::complaints(store, &campaign.id).await?,
        came_back: came_back(store, &campaign.id).await?,
    })
}

/// One group's clicks in words: "41 clicks by 30 contacts, of which 12 look
/// automated (link scanners: …); 21 contacts clicked like readers".
pub fn click_summary(group: Group, c: &ClickFigures) -> String {
    if c.clicks == 0 {
        return match group {
            Group::Holdout => "no clicks (the holdout gets no mail)".into(),
            Group::Treatment => "no clicks".into(),
        };
    }
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut out = format!(
        "{} by {}, of which {} automated",
        plural(c.clicks, "click", "clicks"),
        plural(c.clickers, "contact", "contacts"),
        plural(c.automated, "looks", "look")
    );
    if c.automated > 0 {
        let reasons: Vec<String> = c
            .automated_by_reason
            .iter()
            .map(|(reason, n)| format!("{n} {}", crate::clicks::Automated::describe(reason)))
            .collect();
        out += &format!(" (link scanners: {})", reasons.join(", "));
    }
    out += &format!(
        "; {} clicked like {}",
        plural(c.human_clickers, "contact", "contacts"),
        if c.human_clickers == 1 {
            "a reader"
        } else {
            "readers"
        }
    );
    out
}

/// "A response is …": what `respond_on` counts, and what it leaves out.
fn response_definition(kinds: &[String], days: i64) -> (String, bool) {
    let mut what: Vec<String> = Vec::new();
    if kinds.iter().any(|k| k == "activity") {
        what.push(
            "any activity from your own systems (purchase, login, …, imported or posted to /events)"
                .into(),
        );
    }
    let named: Vec<String> = kinds
        .iter()
        .filter(|k| *k != "activity")
        .map(|k| format!("`{k}`"))
        .collect();
    if !named.is_empty() {
        what.push(format!("a {} event", named.join(" or ")));
    }
    if what.is_empty() {
        what.push("nothing (`respond_on` is empty)".into());
    }
    let named_on_purpose = |t: &&TreatmentOnly| kinds.iter().any(|k| k == t.kind);
    let mut caveats: Vec<String> = TREATMENT_ONLY_KINDS
        .iter()
        .filter(|t| !named_on_purpose(t))
        .map(|t| format!("{} are not counted: {}", t.what, t.why))
        .collect();
    caveats.extend(
        TREATMENT_ONLY_KINDS
            .iter()
            .filter(named_on_purpose)
            .map(|t| {
                format!(
                    "{} count as asked, but {}: the comparison is biased",
                    t.what, t.why
                )
            }),
    );
    (
        format!(
            "A response is {} within {days} days of entry; {}.",
            what.join(" or "),
            caveats.join("; ")
        ),
        kinds.iter().any(|k| k == CLICK.kind),
    )
}

fn verdict(
    treatment: Option<Rate>,
    holdout: Option<Rate>,
    difference: Option<Difference>,
    is_pilot: bool,
) -> String {
    let (Some(t), Some(h), Some(d)) = (treatment, holdout, difference) else {
        return match treatment {
            Some(t) if !is_pilot => format!(
                "{} of {} contacts responded ({}); this campaign has no holdout, so there is nothing to compare with",
                t.successes,
                t.trials,
                percent(t.rate)
            ),
            _ => "no responses to compare yet".to_string(),
        };
    };
    let summary = format!(
        "treatment responded {} vs {} holdout; difference {} points, 95% CI {} to {}",
        percent(t.rate),
        percent(h.rate),
        points(d.estimate),
        points(d.low),
        points(d.high)
    );
    let meaning = if d.low > 0.0 {
        "the campaign made more clients respond than doing nothing"
    } else if d.high < 0.0 {
        "the holdout responded more: the campaign did worse than doing nothing"
    } else {
        "this cannot yet be told apart from doing nothing"
    };
    format!("{summary}: {meaning}")
}
