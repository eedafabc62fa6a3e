//! Pilots: a reproducible random sample of a campaign's segment, split into
//! a treatment group (emailed) and a holdout group (enrolled, never emailed),
//! so the campaign can be compared with doing nothing.
//!
//! The draw is a pure function of (seed, contact): re-running never
//! reshuffles anyone, and a contact outside the sample stays outside. A share
//! sample (`sample = 0.2`) takes each contact with that probability; a count
//! sample (`sample = 500`) takes the contacts with the lowest draws until the
//! count is reached. `tend pilot promote` ends sampling: everyone else in the
//! segment then enters as treatment, and the pilot's groups stay as they were.

use crate::catalog::{Pilot, Sample};
use crate::domain::Group;
use crate::segment::Selection;
use crate::store::StoreError;
use crate::store::prelude::*;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// A uniform draw in [0, 1) for (seed, purpose, contact).
pub fn draw(seed: &str, purpose: &str, contact_id: i64) -> f64 {
    let digest = Sha256::digest(format!("{seed}\u{1f}{purpose}\u{1f}{contact_id}").as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
    (n >> 11) as f64 / (1u64 << 53) as f64
}

/// Which of `entrants` join the pilot, and in which group. `already` is how
/// many the pilot has enrolled before (for count samples).
pub fn choose(pilot: &Pilot, entrants: &[i64], already: u64) -> Vec<(i64, Group)> {
    let mut chosen: Vec<i64> = match pilot.sample {
        Sample::Share(share) => entrants
            .iter()
            .copied()
            .filter(|id| draw(&pilot.seed, "sample", *id) < share)
            .collect(),
        Sample::Count(count) => {
            let mut ranked: Vec<(f64, i64)> = entrants
                .iter()
                .map(|id| (draw(&pilot.seed, "sample", *id), *id))
                .collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
            ranked
                .into_iter()
                .take(count.saturating_sub(already) as usize)
                .map(|(_, id)| id)
                .collect()
        }
    };
    chosen.sort_unstable();
    chosen
        .into_iter()
        .map(|id| {
            let group = if draw(&pilot.seed, "group", id) < pilot.holdout {
                Group::Holdout
            } else {
                Group::Treatment
            };
            (id, group)
        })
        .collect()
}

/// When the pilot was promoted to a full rollout, if it was.
pub async fn promoted_at<S: Store>(
    store: &S,
    campaign: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    store.pilot_promoted_at(campaign).await
}

/// Ends sampling: from now on the whole segment enters as treatment. The
/// first promotion stands; promoting again changes nothing.
pub async fn promote<S: Store>(
    store: &S,
    campaign: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    store.promote_pilot(campaign, now).await.map(|_| ())
}

/// Draws and (when `apply`) enrolls this tick's pilot entrants; returns how
/// many join the treatment and the holdout.
pub async fn enroll<S: Store>(
    store: &S,
    campaign: &str,
    pilot: &Pilot,
    selection: &Selection,
    reentry_after: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    apply: bool,
) -> Result<(u64, u64), StoreError> {
    let entrants = store
        .entrant_ids(campaign, selection, reentry_after)
        .await?;
    let already = store.enrolled_count(campaign).await?;
    let chosen = choose(pilot, &entrants, already);
    let holdout = chosen.iter().filter(|(_, g)| *g == Group::Holdout).count() as u64;
    let treatment = chosen.len() as u64 - holdout;
    if apply && !chosen.is_empty() {
        store.enroll_contacts(campaign, &chosen, now).await?;
    }
    Ok((treatment, holdout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Duration;

    fn pilot(sample: Sample) -> Pilot {
        Pilot {
            sample,
            holdout: 0.5,
            seed: "winback-2026q4".into(),
            respond_within: Duration::from_days(21),
            respond_on: vec!["activity".into()],
        }
    }

    #[test]
    fn the_draw_is_reproducible_and_depends_on_the_seed() {
        let ids: Vec<i64> = (1..=10_000).collect();
        let a = choose(&pilot(Sample::Share(0.2)), &ids, 0);
        assert_eq!(a, choose(&pilot(Sample::Share(0.2)), &ids, 0));
        let share = a.len() as f64 / ids.len() as f64;
        assert!((0.18..0.22).contains(&share), "{share}");
        let holdout =
            a.iter().filter(|(_, g)| *g == Group::Holdout).count() as f64 / a.len() as f64;
        assert!((0.45..0.55).contains(&holdout), "{holdout}");
        let mut other = pilot(Sample::Share(0.2));
        other.seed = "another".into();
        assert_ne!(a, choose(&other, &ids, 0));
    }

    #[test]
    fn a_contact_keeps_its_place_when_the_segment_grows() {
        let p = pilot(Sample::Share(0.3));
        let small: Vec<i64> = (1..=500).collect();
        let large: Vec<i64> = (1..=2_000).collect();
        let in_small = choose(&p, &small, 0);
        let in_large = choose(&p, &large, 0);
        assert!(
            in_small.iter().all(|c| in_large.contains(c)),
            "no reshuffle"
        );
    }

    #[test]
    fn a_count_sample_stops_at_its_count() {
        let p = pilot(Sample::Count(100));
        let ids: Vec<i64> = (1..=1_000).collect();
        assert_eq!(choose(&p, &ids, 0).len(), 100);
        assert_eq!(choose(&p, &ids, 60).len(), 40);
        assert!(choose(&p, &ids, 100).is_empty());
    }
}
