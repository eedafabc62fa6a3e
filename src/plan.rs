//! The tick: at an instant `now`, who leaves each campaign (exit rules), who
//! enters (segment, entry schedule, re-entry), and which steps are due (step
//! delays, local time of day, jitter, send windows, quiet hours, frequency
//! caps). The decision for one enrollment is a pure function ([`decide`]);
//! [`tick`] applies the decisions with a few store calls, and [`dry_run`]
//! reports the same decisions without writing anything.

use crate::catalog::{Campaign, CampaignZone, Catalog, ExitWhen, Reentry};
use crate::config::Settings;
use crate::domain::Rate;
use crate::domain::{ExitReason, Group, HoldReason, SendState};
use crate::schedule::{self, Hold, Hours, Zones};
use crate::segment::Vocabulary;
use crate::store::prelude::*;
use crate::store::{
    EnrollmentProgress, EntrantSends, ExitCounts, ExitRule, HistoryItem, NewSend, StoreError,
    TickRecord,
};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Sending rules from the config that apply to every campaign.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub quiet_hours: Option<Hours>,
    pub default_zone: Tz,
    pub max_per_contact: Option<Rate>,
}

impl Rules {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            quiet_hours: settings.quiet_hours(),
            default_zone: settings.default_timezone(),
            max_per_contact: settings.sending.max_per_contact,
        }
    }
}

/// Why a step that is otherwise next is not sent yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// Its `after` delay (or `at` time of day) has not come.
    Delay,
    /// Outside the campaign's send window.
    Window,
    /// Inside quiet hours.
    QuietHours,
    /// The contact reached a frequency cap.
    Cap,
}

impl WaitReason {
    pub fn describe(self) -> &'static str {
        match self {
            WaitReason::Delay => "waiting for their delay",
            WaitReason::Window => "outside the send window",
            WaitReason::QuietHours => "in quiet hours",
            WaitReason::Cap => "held by the frequency cap",
        }
    }
}

/// What one open enrollment needs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Step `step` (0-based) is due: create its outbox row.
    Queue { step: usize, due_at: DateTime<Utc> },
    /// Step `step` is not due before `until`.
    Wait {
        step: usize,
        until: DateTime<Utc>,
        reason: WaitReason,
    },
    /// The previous step is still in the outbox.
    InFlight { step: usize },
    /// The previous step came due but was held back when it was about to
    /// leave (window, quiet hours, cap, paused relay or domain).
    Held {
        step: usize,
        until: DateTime<Utc>,
        reason: HoldReason,
    },
    /// The previous step's delivery is in doubt: an operator must look.
    InDoubt { step: usize },
    /// The passage is over.
    Finish(ExitReason),
}

/// The zone a campaign's calendar rules are read in for one contact.
pub fn zone_for(campaign: &Campaign, contact_zone: Option<&str>, rules: &Rules) -> Tz {
    match campaign.timezone {
        CampaignZone::Fixed(tz) => tz,
        CampaignZone::Contact => contact_zone_or_default(contact_zone, rules),
    }
}

fn contact_zone_or_default(contact_zone: Option<&str>, rules: &Rules) -> Tz {
    contact_zone
        .and_then(|z| z.parse().ok())
        .unwrap_or(rules.default_zone)
}

/// The send window in the campaign's zone, quiet hours in the recipient's.
pub fn zones_for(campaign: &Campaign, contact_zone: Option<&str>, rules: &Rules) -> Zones {
    Zones {
        window: zone_for(campaign, contact_zone, rules),
        quiet: contact_zone_or_default(contact_zone, rules),
    }
}

/// The first instant at or after `due` at which a message of `campaign` may
/// leave for this contact: inside the send window, outside the recipient's
/// quiet hours, under every frequency cap given the contact's other messages
/// (`history`: every campaign). The same rule serves the planner (when to
/// queue) and the sender (whether it may leave now), so they cannot drift.
pub fn next_allowed(
    campaign: &Campaign,
    rules: &Rules,
    contact_zone: Option<&str>,
    history: &[&HistoryItem],
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, Option<WaitReason>) {
    let zones = zones_for(campaign, contact_zone, rules);
    let all: Vec<DateTime<Utc>> = history.iter().map(|h| h.at).collect();
    let own: Vec<DateTime<Utc>> = history
        .iter()
        .filter(|h| h.campaign == campaign.id)
        .map(|h| h.at)
        .collect();
    let mut due = due;
    let mut reason = None;
    // Windows and caps can push each other; a few rounds always settle.
    for _ in 0..8 {
        let (opened, hold) = schedule::next_opening(
            due,
            zones,
            campaign.send_window.as_ref(),
            rules.quiet_hours.as_ref(),
        );
        if opened > due {
            due = opened;
            reason = Some(match hold {
                Some(Hold::QuietHours) => WaitReason::QuietHours,
                _ => WaitReason::Window,
            });
        }
        // A cap is judged at the moment the message would really go out.
        let sending_at = due.max(now);
        let release = [
            rules
                .max_per_contact
                .and_then(|cap| schedule::cap_release(&all, cap, sending_at)),
            campaign
                .max_per_contact
                .and_then(|cap| schedule::cap_release(&own, cap, sending_at)),
        ]
        .into_iter()
        .flatten()
        .max();
        match release {
            Some(release) if release > due => {
                due = release;
                reason = Some(WaitReason::Cap);
            }
            _ => break,
        }
    }
    (due, reason)
}

/// The next step of one passage, given the contact's other messages
/// (`history`: every campaign, sent or on its way).
pub fn decide(
    campaign: &Campaign,
    progress: &EnrollmentProgress,
    now: DateTime<Utc>,
    rules: &Rules,
    history: &[&HistoryItem],
) -> Decision {
    let (next, base) = match progress.last_send {
        None => (0, progress.entered_at),
        Some(last) => match last.state {
            SendState::Sent => (
                last.step as usize + 1,
                last.sent_at.unwrap_or(progress.entered_at),
            ),
            SendState::Queued | SendState::Retry => {
                return match last.held {
                    Some((reason, until)) => Decision::Held {
                        step: last.step as usize,
                        until,
                        reason,
                    },
                    None => Decision::InFlight {
                        step: last.step as usize,
                    },
                };
            }
            SendState::Claimed | SendState::Sending => {
                return Decision::InFlight {
                    step: last.step as usize,
                };
            }
            SendState::InDoubt => {
                return Decision::InDoubt {
                    step: last.step as usize,
                };
            }
            SendState::Failed => return Decision::Finish(ExitReason::SendFailed),
            SendState::Suppressed => return Decision::Finish(ExitReason::Suppressed),
            // Cancelled rows belong to enrollments that already ended.
            SendState::Cancelled => return Decision::Finish(ExitReason::Completed),
        },
    };
    let Some(step) = campaign.steps.get(next) else {
        return Decision::Finish(ExitReason::Completed);
    };
    let zone = zone_for(campaign, progress.timezone.as_deref(), rules);
    let mut due = schedule::after_local(base, zone, step.after)
        + schedule::jitter(progress.enrollment_id, next, step.jitter);
    if let Some(at) = step.at {
        due = schedule::at_time_of_day(due, zone, at);
    }
    let (due, reason) = next_allowed(
        campaign,
        rules,
        progress.timezone.as_deref(),
        history,
        due,
        now,
    );
    if due <= now {
        Decision::Queue {
            step: next,
            due_at: due,
        }
    } else {
        Decision::Wait {
            step: next,
            until: due,
            reason: reason.unwrap_or(WaitReason::Delay),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Waiting {
    pub count: u64,
    pub next_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StepReport {
    /// 1-based.
    pub step: usize,
    pub template: String,
    /// Would be (or were) queued in this tick.
    pub due_now: u64,
    /// Not yet due, by reason, with the earliest time one becomes due.
    pub waiting: BTreeMap<WaitReason, Waiting>,
    /// Already in the outbox (queued, claimed, sending, retry).
    pub in_flight: u64,
    /// Of those, held back at sending time, by reason, with the earliest release.
    pub held: BTreeMap<HoldReason, Waiting>,
    /// Previous attempt's outcome unknown; never resent automatically.
    pub in_doubt: u64,
}

/// Whether new contacts may enter now.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Entry {
    /// `false` when the campaign has a schedule that has not fired since the last tick.
    pub open: bool,
    pub schedule: Option<String>,
    pub next_opening: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CampaignReport {
    pub campaign: String,
    pub entry: Entry,
    pub entering: u64,
    /// Of those entering, how many join a pilot's holdout (never emailed).
    pub holdout_entering: u64,
    pub exiting: ExitCounts,
    pub steps: Vec<StepReport>,
    /// Passages that end in this tick (completed, failed, suppressed).
    pub finishing: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TickReport {
    pub now: DateTime<Utc>,
    pub campaigns: Vec<CampaignReport>,
    pub queued: u64,
    /// Another daemon on the same database was planning: this one only sends.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("planning campaign `{campaign}`: {source}")]
pub struct PlanError {
    pub campaign: String,
    #[source]
    pub source: StoreError,
}

fn empty_report(campaign: &Campaign) -> CampaignReport {
    CampaignReport {
        campaign: campaign.id.clone(),
        steps: campaign
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepReport {
                step: i + 1,
                template: s.template.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn tally(report: &mut CampaignReport, decision: &Decision, times: u64) {
    let last = report.steps.len().saturating_sub(1);
    let step = |i: usize| i.min(last);
    match *decision {
        Decision::Queue { step: i, .. } => report.steps[step(i)].due_now += times,
        Decision::Wait {
            step: i,
            until,
            reason,
        } => {
            let w = report.steps[step(i)].waiting.entry(reason).or_default();
            w.count += times;
            w.next_at = Some(w.next_at.map_or(until, |t| t.min(until)));
        }
        Decision::InFlight { step: i } => report.steps[step(i)].in_flight += times,
        Decision::Held {
            step: i,
            until,
            reason,
        } => {
            let s = &mut report.steps[step(i)];
            s.in_flight += times;
            let w = s.held.entry(reason).or_default();
            w.count += times;
            w.next_at = Some(w.next_at.map_or(until, |t| t.min(until)));
        }
        Decision::InDoubt { step: i } => report.steps[step(i)].in_doubt += times,
        Decision::Finish(_) => report.finishing += times,
    }
}

/// Which zones' schedules fired since the last tick (`zones: None`: all).
struct Gate {
    entry: Entry,
    zones: Option<Vec<Option<String>>>,
}

async fn entry_gate<S: Store>(
    store: &S,
    campaign: &Campaign,
    rules: &Rules,
    now: DateTime<Utc>,
    apply: bool,
) -> Result<Gate, StoreError> {
    let Some(schedule) = &campaign.schedule else {
        return Ok(Gate {
            entry: Entry {
                open: true,
                ..Default::default()
            },
            zones: None,
        });
    };
    let last = store.schedule_checkpoint(&campaign.id).await?;
    // First tick (or time moved backwards): look back one day for a missed opening.
    let after = last
        .filter(|l| *l < now)
        .unwrap_or(now - chrono::Duration::days(1));
    if apply {
        store.set_schedule_checkpoint(&campaign.id, now).await?;
    }
    let zones: Vec<Option<String>> = match campaign.timezone {
        CampaignZone::Fixed(_) => vec![None],
        CampaignZone::Contact => store.contact_zones().await?,
    };
    let mut open = Vec::new();
    let mut next_opening: Option<DateTime<Utc>> = None;
    for zone in zones {
        let tz = zone_for(campaign, zone.as_deref(), rules);
        if schedule.fires_between(tz, after, now) {
            open.push(zone);
        } else if let Some(next) = schedule.next_after(tz, now) {
            next_opening = Some(next_opening.map_or(next, |n| n.min(next)));
        }
    }
    let all_open = matches!(campaign.timezone, CampaignZone::Fixed(_)) && !open.is_empty();
    Ok(Gate {
        entry: Entry {
            open: !open.is_empty(),
            schedule: Some(schedule.pattern.clone()),
            next_opening,
        },
        zones: if all_open { None } else { Some(open) },
    })
}

/// The start of every tick, planned or applied: exit rules, then whether
/// new contacts may enter.
async fn exits_and_gate<S: Store>(
    store: &S,
    catalog: &Catalog,
    campaign: &Campaign,
    rules: &Rules,
    now: DateTime<Utc>,
    apply: bool,
) -> Result<(ExitCounts, Gate), StoreError> {
    let rule = exit_rule(campaign, &catalog.vocabulary, now);
    let exiting = store
        .exit_enrollments(&campaign.id, &rule, now, apply)
        .await?;
    let gate = entry_gate(store, campaign, rules, now, apply).await?;
    Ok((exiting, gate))
}

fn reentry_cutoff(campaign: &Campaign, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match campaign.reentry {
        Reentry::Never => None,
        Reentry::After(cooldown) => Some(now - cooldown.to_chrono()),
    }
}

/// The campaign's exit rules at `now`, as the store applies them (at the tick, and
/// again for each row right before it is claimed for sending).
pub fn exit_rule(campaign: &Campaign, vocabulary: &Vocabulary, now: DateTime<Utc>) -> ExitRule {
    ExitRule {
        event_kinds: campaign.exit_on.clone(),
        outside: matches!(campaign.exit_when, Some(ExitWhen::LeftSegment))
            .then(|| campaign.segment.select(vocabulary, now)),
        matching: match &campaign.exit_when {
            Some(ExitWhen::Matches(filter)) => Some(
                crate::segment::Segment {
                    stages: Vec::new(),
                    filter: Some(filter.clone()),
                }
                .select(vocabulary, now),
            ),
            _ => None,
        },
    }
}

/// The pilot to sample for, unless the campaign has none or it was promoted.
async fn sampling<'c, S: Store>(
    store: &S,
    campaign: &'c Campaign,
) -> Result<Option<&'c crate::catalog::Pilot>, StoreError> {
    match &campaign.pilot {
        Some(pilot)
            if crate::pilot::promoted_at(store, &campaign.id)
                .await?
                .is_none() =>
        {
            Ok(Some(pilot))
        }
        _ => Ok(None),
    }
}

/// History of every contact, grouped, when any cap applies to the campaign.
async fn history<S: Store>(
    store: &S,
    campaign: &Campaign,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<HashMap<i64, Vec<HistoryItem>>, StoreError> {
    let longest = [rules.max_per_contact, campaign.max_per_contact]
        .into_iter()
        .flatten()
        .map(|cap| cap.period.to_chrono())
        .max();
    let mut by_contact: HashMap<i64, Vec<HistoryItem>> = HashMap::new();
    if let Some(period) = longest {
        // Twice the period: a step due in the past is judged at `now`.
        for item in store.send_history(now - period - period).await? {
            by_contact.entry(item.contact_id).or_default().push(item);
        }
    }
    Ok(by_contact)
}

/// Open enrollments read (and their sends queued) per page of this many.
const PAGE: u32 = 10_000;

/// The instant a tick's entrants enter, as the store keeps it (whole seconds).
fn entry_instant(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    now.with_nanosecond(0).unwrap_or(now)
}

/// The decision for a contact entering a segment campaign at `now`, when it
/// is the same for every entrant: no jitter (it differs per enrollment), no
/// quiet hours (read in each recipient's zone), no frequency cap (it depends
/// on each contact's history), and either a fixed zone or a first step that
/// reads no local calendar (under a day, no `at`, no send window). Then the
/// tick queues every entrant's first step in one statement and the dry run
/// counts entrants in one query, instead of deciding them one by one (or
/// zone by zone): the same decisions [`decide`] makes, taken once.
fn uniform_entry(campaign: &Campaign, rules: &Rules, now: DateTime<Utc>) -> Option<Decision> {
    let first = campaign.steps.first()?;
    let calendar_free =
        first.at.is_none() && first.after.as_secs() < 86_400 && campaign.send_window.is_none();
    let uniform = first.jitter.as_secs() == 0
        && rules.quiet_hours.is_none()
        && rules.max_per_contact.is_none()
        && campaign.max_per_contact.is_none()
        && (matches!(campaign.timezone, CampaignZone::Fixed(_)) || calendar_free);
    uniform.then(|| {
        let entrant = EnrollmentProgress {
            enrollment_id: 0,
            contact_id: 0,
            entered_at: entry_instant(now),
            timezone: None,
            last_send: None,
        };
        decide(campaign, &entrant, now, rules, &[])
    })
}

/// One pass of the planner: exits, entries, then every due step queued.
pub async fn tick<S: Store>(
    store: &S,
    catalog: &Catalog,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<TickReport, PlanError> {
    let started = std::time::Instant::now();
    let rules = Rules::from_settings(settings);
    let mut report = TickReport {
        now,
        ..Default::default()
    };
    // One planner at a time on a shared database; the others only send.
    let Some(_planning) = store.planner_lock().await.map_err(|source| PlanError {
        campaign: "-".into(),
        source,
    })?
    else {
        tracing::debug!("another daemon is planning; this one only sends");
        report.skipped = true;
        return Ok(report);
    };
    let mut enrolled_total = 0;
    for campaign in catalog.campaigns.values() {
        let fail = |source| PlanError {
            campaign: campaign.id.clone(),
            source,
        };
        let mut campaign_report = empty_report(campaign);
        let (exiting, gate) = exits_and_gate(store, catalog, campaign, &rules, now, true)
            .await
            .map_err(fail)?;
        campaign_report.exiting = exiting;
        // Entrants decided all at once (see `uniform_entry`): the pages below
        // stop at the last enrollment that existed before this tick's.
        let uniform = match (&campaign.entry, gate.entry.open) {
            (crate::catalog::Entry::Segment, true) => uniform_entry(campaign, &rules, now),
            _ => None,
        };
        let before = match uniform {
            Some(_) => Some(store.last_enrollment_id().await.map_err(fail)?),
            None => None,
        };
        if campaign.entry != crate::catalog::Entry::Segment {
            campaign_report.entering = trigger::enter(store, catalog, campaign, &rules, now, true)
                .await
                .map_err(fail)?;
        } else if gate.entry.open {
            let mut selection = campaign.segment.select(&catalog.vocabulary, now);
            selection.zones = gate.zones.clone();
            let reentry = reentry_cutoff(campaign, now);
            campaign_report.entering = match sampling(store, campaign).await.map_err(fail)? {
                Some(pilot) => {
                    let (treatment, holdout) = crate::pilot::enroll(
                        store,
                        &campaign.id,
                        pilot,
                        &selection,
                        reentry,
                        now,
                        true,
                    )
                    .await
                    .map_err(fail)?;
                    campaign_report.holdout_entering = holdout;
                    treatment + holdout
                }
                None => store
                    .enroll(&campaign.id, &selection, reentry, now)
                    .await
                    .map_err(fail)?,
            };
        }
        campaign_report.entry = gate.entry;
        enrolled_total += campaign_report.entering;
        if let (Some(decision), Some(before)) = (&uniform, before) {
            let treated = campaign_report.entering - campaign_report.holdout_entering;
            if let Decision::Queue { step, due_at } = *decision
                && treated > 0
            {
                let sends = EntrantSends {
                    campaign: campaign.id.clone(),
                    after_enrollment: before,
                    entered_at: entry_instant(now),
                    step: step as u32,
                    template: campaign.steps[step].template.clone(),
                    due_at,
                };
                report.queued += store.queue_entrants(&sends, now).await.map_err(fail)?;
            }
            tally(&mut campaign_report, decision, treated);
        }
        let history = history(store, campaign, &rules, now).await.map_err(fail)?;
        // Page by page: memory stays flat however long the list is. This
        // tick's entrants were decided above, so the pages stop before them
        // instead of reading each back with its latest send only to drop it.
        let through = before.unwrap_or(i64::MAX);
        let mut after = 0;
        loop {
            let page = store
                .progress_page(&campaign.id, after, through, PAGE)
                .await
                .map_err(fail)?;
            let Some(last) = page.last() else { break };
            after = last.enrollment_id;
            let full = page.len() == PAGE as usize;
            let mut sends = Vec::new();
            let mut finished = Vec::new();
            for progress in page {
                let mine: Vec<&HistoryItem> = history
                    .get(&progress.contact_id)
                    .into_iter()
                    .flatten()
                    .collect();
                let decision = decide(campaign, &progress, now, &rules, &mine);
                tally(&mut campaign_report, &decision, 1);
                match decision {
                    Decision::Queue { step, due_at } => sends.push(NewSend {
                        enrollment_id: progress.enrollment_id,
                        contact_id: progress.contact_id,
                        campaign: campaign.id.clone(),
                        step: step as u32,
                        template: campaign.steps[step].template.clone(),
                        due_at,
                    }),
                    Decision::Finish(reason) => finished.push((progress.enrollment_id, reason)),
                    _ => {}
                }
            }
            report.queued += store.create_sends(&sends, now).await.map_err(fail)?;
            store
                .finish_enrollments(&finished, now)
                .await
                .map_err(fail)?;
            if !full {
                break;
            }
        }
        report.campaigns.push(campaign_report);
    }
    let record = TickRecord {
        started_at: now,
        finished_at: Utc::now(),
        enrolled: enrolled_total,
        queued: report.queued,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    store
        .record_tick(&record)
        .await
        .map_err(|source| PlanError {
            campaign: "-".into(),
            source,
        })?;
    Ok(report)
}

/// What [`tick`] would do at `now`, without writing anything.
pub async fn dry_run<S: Store>(
    store: &S,
    catalog: &Catalog,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<TickReport, PlanError> {
    let rules = Rules::from_settings(settings);
    let mut report = TickReport {
        now,
        ..Default::default()
    };
    for campaign in catalog.campaigns.values() {
        let fail = |source| PlanError {
            campaign: campaign.id.clone(),
            source,
        };
        let mut campaign_report = empty_report(campaign);
        let (exiting, gate) = exits_and_gate(store, catalog, campaign, &rules, now, false)
            .await
            .map_err(fail)?;
        campaign_report.exiting = exiting;
        let history = history(store, campaign, &rules, now).await.map_err(fail)?;
        if campaign.entry != crate::catalog::Entry::Segment {
            let entering = trigger::enter(store, catalog, campaign, &rules, now, false)
                .await
                .map_err(fail)?;
            campaign_report.entering = entering;
            if entering > 0 && !campaign.steps.is_empty() {
                let entrant = EnrollmentProgress {
                    enrollment_id: 0,
                    contact_id: 0,
                    entered_at: now,
                    timezone: None,
                    last_send: None,
                };
                tally(
                    &mut campaign_report,
                    &decide(campaign, &entrant, now, &rules, &[]),
                    entering,
                );
            }
        } else if gate.entry.open && !campaign.steps.is_empty() {
            // Entrants enter now; their first step depends on their zone, so count zone by zone.
            let zones = match (&gate.zones, campaign.timezone) {
                (Some(zones), _) => zones.clone(),
                (None, CampaignZone::Fixed(_)) => vec![None],
                (None, CampaignZone::Contact) => store.contact_zones().await.map_err(fail)?,
            };
            let uniform = uniform_entry(campaign, &rules, now);
            // The same decision for every entrant: one count over every open zone.
            let zones: Vec<Option<Option<String>>> = match uniform {
                Some(_) => vec![None],
                None => zones.into_iter().map(Some).collect(),
            };
            let reentry = reentry_cutoff(campaign, now);
            // A pilot draws once over every open zone (a count sample is one
            // quota, not one per zone); zones then only split the outcome.
            let drawn: Option<HashMap<i64, Group>> =
                match sampling(store, campaign).await.map_err(fail)? {
                    Some(pilot) => {
                        let mut selection = campaign.segment.select(&catalog.vocabulary, now);
                        selection.zones = gate.zones.clone();
                        let entrants = store
                            .entrant_ids(&campaign.id, &selection, reentry)
                            .await
                            .map_err(fail)?;
                        let already = store.enrolled_count(&campaign.id).await.map_err(fail)?;
                        Some(
                            crate::pilot::choose(pilot, &entrants, already)
                                .into_iter()
                                .collect(),
                        )
                    }
                    None => None,
                };
            for zone in zones {
                let mut selection = campaign.segment.select(&catalog.vocabulary, now);
                match &zone {
                    None => selection.zones = gate.zones.clone(),
                    Some(zone) if campaign.timezone == CampaignZone::Contact => {
                        selection.zones = Some(vec![zone.clone()]);
                    }
                    Some(_) => {}
                }
                let entering = match &drawn {
                    Some(drawn) => {
                        let mut treatment = 0;
                        for id in store
                            .entrant_ids(&campaign.id, &selection, reentry)
                            .await
                            .map_err(fail)?
                        {
                            match drawn.get(&id) {
                                Some(Group::Treatment) => treatment += 1,
                                Some(Group::Holdout) => {
                                    campaign_report.entering += 1;
                                    campaign_report.holdout_entering += 1;
                                }
                                None => {}
                            }
                        }
                        treatment
                    }
                    None => store
                        .count_entrants(&campaign.id, &selection, reentry)
                        .await
                        .map_err(fail)?,
                };
                if entering == 0 {
                    continue;
                }
                campaign_report.entering += entering;
                let decision = match &uniform {
                    Some(decision) => decision.clone(),
                    None => {
                        let entrant = EnrollmentProgress {
                            enrollment_id: 0,
                            contact_id: 0,
                            entered_at: now,
                            timezone: zone.flatten(),
                            last_send: None,
                        };
                        decide(campaign, &entrant, now, &rules, &[])
                    }
                };
                tally(&mut campaign_report, &decision, entering);
            }
        }
        campaign_report.entry = gate.entry;
        let mut after = 0;
        loop {
            let page = store
                .progress_page(&campaign.id, after, i64::MAX, PAGE)
                .await
                .map_err(fail)?;
            let Some(last) = page.last() else { break };
            after = last.enrollment_id;
            for progress in &page {
                let mine: Vec<&HistoryItem> = history
                    .get(&progress.contact_id)
                    .into_iter()
                    .flatten()
                    .collect();
                tally(
                    &mut campaign_report,
                    &decide(campaign, progress, now, &rules, &mine),
                    1,
                );
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        report.queued += campaign_report.steps.iter().map(|s| s.due_now).sum::<u64>();
        report.campaigns.push(campaign_report);
    }
    Ok(report)
}

pub mod forecast;
mod trigger;

#[cfg(test)]
mod tests;
