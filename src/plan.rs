//! The tick: at an instant `now`, who enters each campaign and which steps
//! are due. The decision for one enrollment is a pure function
//! ([`decide`]); [`tick`] applies the decisions with a few store calls, and
//! [`dry_run`] reports the same decisions without writing anything.

use crate::catalog::{Campaign, Catalog};
use crate::store::{
    EnrollmentProgress, ExitReason, NewSend, SendState, Store, StoreError, TickRecord,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What one open enrollment needs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Step `step` (0-based) is due: create its outbox row.
    Queue { step: usize, due_at: DateTime<Utc> },
    /// Step `step` is not due before `until`.
    Wait { step: usize, until: DateTime<Utc> },
    /// The previous step is still in the outbox.
    InFlight { step: usize },
    /// The previous step's delivery is in doubt: an operator must look.
    InDoubt { step: usize },
    /// The passage is over.
    Finish(ExitReason),
}

pub fn decide(campaign: &Campaign, progress: &EnrollmentProgress, now: DateTime<Utc>) -> Decision {
    let (next, base) = match progress.last_send {
        None => (0, progress.entered_at),
        Some(last) => match last.state {
            SendState::Sent => (
                last.step as usize + 1,
                last.sent_at.unwrap_or(progress.entered_at),
            ),
            SendState::Queued | SendState::Sending | SendState::Retry => {
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
    let due_at = base + step.after.to_chrono();
    if due_at <= now {
        Decision::Queue { step: next, due_at }
    } else {
        Decision::Wait {
            step: next,
            until: due_at,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StepReport {
    /// 1-based.
    pub step: usize,
    pub template: String,
    /// Would be (or were) queued in this tick.
    pub due_now: u64,
    /// Waiting for their delay to pass.
    pub waiting: u64,
    pub next_due: Option<DateTime<Utc>>,
    /// Already in the outbox (queued, sending, retry).
    pub in_flight: u64,
    /// Previous attempt's outcome unknown; never resent automatically.
    pub in_doubt: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CampaignReport {
    pub campaign: String,
    pub entering: u64,
    pub steps: Vec<StepReport>,
    pub finishing: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TickReport {
    pub now: DateTime<Utc>,
    pub campaigns: Vec<CampaignReport>,
    pub queued: u64,
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
        entering: 0,
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
        finishing: 0,
    }
}

fn tally(report: &mut CampaignReport, decision: &Decision) {
    let last = report.steps.len().saturating_sub(1);
    let step = |i: usize| i.min(last);
    match *decision {
        Decision::Queue { step: i, .. } => report.steps[step(i)].due_now += 1,
        Decision::Wait { step: i, until } => {
            let s = &mut report.steps[step(i)];
            s.waiting += 1;
            s.next_due = Some(s.next_due.map_or(until, |t| t.min(until)));
        }
        Decision::InFlight { step: i } => report.steps[step(i)].in_flight += 1,
        Decision::InDoubt { step: i } => report.steps[step(i)].in_doubt += 1,
        Decision::Finish(_) => report.finishing += 1,
    }
}

/// One pass of the planner: enroll, then queue every due step.
pub async fn tick<S: Store>(
    store: &S,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<TickReport, PlanError> {
    let mut report = TickReport {
        now,
        ..Default::default()
    };
    let mut enrolled_total = 0;
    for campaign in catalog.campaigns.values() {
        let fail = |source| PlanError {
            campaign: campaign.id.clone(),
            source,
        };
        let selection = campaign.segment.select(&catalog.vocabulary, now);
        let mut campaign_report = empty_report(campaign);
        campaign_report.entering = store
            .enroll(&campaign.id, &selection, now)
            .await
            .map_err(fail)?;
        enrolled_total += campaign_report.entering;
        let mut sends = Vec::new();
        let mut finished = Vec::new();
        for progress in store.progress(&campaign.id).await.map_err(fail)? {
            let decision = decide(campaign, &progress, now);
            tally(&mut campaign_report, &decision);
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
        report.campaigns.push(campaign_report);
    }
    let record = TickRecord {
        started_at: now,
        finished_at: Utc::now().max(now),
        enrolled: enrolled_total,
        queued: report.queued,
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
    now: DateTime<Utc>,
) -> Result<TickReport, PlanError> {
    let mut report = TickReport {
        now,
        ..Default::default()
    };
    for campaign in catalog.campaigns.values() {
        let fail = |source| PlanError {
            campaign: campaign.id.clone(),
            source,
        };
        let selection = campaign.segment.select(&catalog.vocabulary, now);
        let mut campaign_report = empty_report(campaign);
        let entering = store
            .count_entrants(&campaign.id, &selection)
            .await
            .map_err(fail)?;
        campaign_report.entering = entering;
        if entering > 0 && !campaign.steps.is_empty() {
            // Entrants all enter at `now`, so they share one decision.
            let entrant = EnrollmentProgress {
                enrollment_id: 0,
                contact_id: 0,
                entered_at: now,
                last_send: None,
            };
            let decision = decide(campaign, &entrant, now);
            for _ in 0..entering {
                tally(&mut campaign_report, &decision);
            }
        }
        for progress in store.progress(&campaign.id).await.map_err(fail)? {
            tally(&mut campaign_report, &decide(campaign, &progress, now));
        }
        report.queued += campaign_report.steps.iter().map(|s| s.due_now).sum::<u64>();
        report.campaigns.push(campaign_report);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Step;
    use crate::domain::{Duration, Stage};
    use crate::segment::Segment;
    use crate::store::LastSend;

    fn campaign(afters: &[i64]) -> Campaign {
        Campaign {
            id: "c".into(),
            path: "c.toml".into(),
            description: String::new(),
            segment: Segment {
                stages: vec![Stage::New.to_string()],
                filter: None,
            },
            from: None,
            steps: afters
                .iter()
                .map(|d| Step {
                    after: Duration::from_days(*d),
                    template: "t".into(),
                    subject: None,
                    template_at: 0,
                    subject_at: None,
                })
                .collect(),
        }
    }

    fn t(day: i64) -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::days(day)
    }

    fn progress(last: Option<(u32, SendState, Option<i64>)>) -> EnrollmentProgress {
        EnrollmentProgress {
            enrollment_id: 1,
            contact_id: 1,
            entered_at: t(0),
            last_send: last.map(|(step, state, sent)| LastSend {
                step,
                state,
                sent_at: sent.map(t),
            }),
        }
    }

    #[test]
    fn first_step_is_due_after_its_delay_from_entry() {
        let c = campaign(&[2, 5]);
        assert_eq!(
            decide(&c, &progress(None), t(1)),
            Decision::Wait {
                step: 0,
                until: t(2)
            }
        );
        assert_eq!(
            decide(&c, &progress(None), t(2)),
            Decision::Queue {
                step: 0,
                due_at: t(2)
            }
        );
    }

    #[test]
    fn later_steps_count_from_the_previous_send() {
        let c = campaign(&[0, 5]);
        // Step 1 went out a day late (day 1): step 2 is due on day 6, not day 5.
        let p = progress(Some((0, SendState::Sent, Some(1))));
        assert_eq!(
            decide(&c, &p, t(5)),
            Decision::Wait {
                step: 1,
                until: t(6)
            }
        );
        assert_eq!(
            decide(&c, &p, t(6)),
            Decision::Queue {
                step: 1,
                due_at: t(6)
            }
        );
    }

    #[test]
    fn nothing_new_while_the_previous_step_is_in_the_outbox() {
        let c = campaign(&[0, 0]);
        for state in [SendState::Queued, SendState::Sending, SendState::Retry] {
            let p = progress(Some((0, state, None)));
            assert_eq!(decide(&c, &p, t(9)), Decision::InFlight { step: 0 });
        }
        let p = progress(Some((0, SendState::InDoubt, None)));
        assert_eq!(decide(&c, &p, t(9)), Decision::InDoubt { step: 0 });
    }

    #[test]
    fn the_passage_ends_after_the_last_step_or_a_failure() {
        let c = campaign(&[0]);
        let done = progress(Some((0, SendState::Sent, Some(0))));
        assert_eq!(
            decide(&c, &done, t(1)),
            Decision::Finish(ExitReason::Completed)
        );
        let failed = progress(Some((0, SendState::Failed, None)));
        assert_eq!(
            decide(&c, &failed, t(1)),
            Decision::Finish(ExitReason::SendFailed)
        );
        let suppressed = progress(Some((0, SendState::Suppressed, None)));
        assert_eq!(
            decide(&c, &suppressed, t(1)),
            Decision::Finish(ExitReason::Suppressed)
        );
    }
}
