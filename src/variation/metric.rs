//! How varied the actual sends of a campaign were (`tend variation`).
//!
//! Over the messages of the campaign that were really sent:
//! - distinct subjects and distinct openers;
//! - consecutive repeats where alternatives existed: a message whose subject
//!   (offering a `pick` alternative) or whose varied slot repeats what the
//!   same contact got in the message just before (from any campaign);
//! - mean pairwise similarity of the messages each contact received from the
//!   campaign (word-shingle Jaccard, averaged per contact, then over contacts).

use super::similarity::{jaccard, shingles};
use crate::domain::SentMessage;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariationReport {
    pub campaign: String,
    pub sends: u64,
    pub contacts: u64,
    pub distinct_subjects: u64,
    pub distinct_openers: u64,
    /// Subject repeats plus slot repeats, both only where alternatives existed.
    pub consecutive_repeats: u64,
    pub subject_repeats: u64,
    pub slot_repeats: u64,
    /// Consecutive identical subjects, alternatives or not.
    pub identical_subjects_in_a_row: u64,
    /// `None` when no contact got two messages from the campaign.
    pub mean_pairwise_similarity: Option<f64>,
    pub slots: Vec<SlotUsage>,
}

/// How often each option of a slot was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotUsage {
    pub slot: String,
    pub options: usize,
    /// Sends per option, option 1 first.
    pub counts: Vec<u64>,
}

/// `messages`: every sent message of the contacts who got the campaign,
/// ordered by contact and time (as `Store::sent_messages` returns them).
pub fn measure(campaign: &str, messages: &[SentMessage]) -> VariationReport {
    let mut report = VariationReport {
        campaign: campaign.to_string(),
        sends: 0,
        contacts: 0,
        distinct_subjects: 0,
        distinct_openers: 0,
        consecutive_repeats: 0,
        subject_repeats: 0,
        slot_repeats: 0,
        identical_subjects_in_a_row: 0,
        mean_pairwise_similarity: None,
        slots: Vec::new(),
    };
    let mut subjects = HashSet::new();
    let mut openers = HashSet::new();
    let mut slots: BTreeMap<String, SlotUsage> = BTreeMap::new();
    let mut per_contact: BTreeMap<i64, Vec<&SentMessage>> = BTreeMap::new();
    for (i, m) in messages.iter().enumerate() {
        if m.campaign != campaign {
            continue;
        }
        report.sends += 1;
        subjects.insert(m.subject.as_str());
        openers.insert(m.opener.as_str());
        per_contact.entry(m.contact_id).or_default().push(m);
        for c in &m.choices {
            let usage = slots.entry(c.slot.clone()).or_insert_with(|| SlotUsage {
                slot: c.slot.clone(),
                options: c.of,
                counts: vec![0; c.of],
            });
            if usage.counts.len() < c.of {
                usage.counts.resize(c.of, 0);
                usage.options = c.of;
            }
            let last = usage.counts.len() - 1;
            usage.counts[c.n.saturating_sub(1).min(last)] += 1;
        }
        let Some(prev) = i
            .checked_sub(1)
            .map(|p| &messages[p])
            .filter(|p| p.contact_id == m.contact_id)
        else {
            continue;
        };
        if prev.subject == m.subject {
            report.identical_subjects_in_a_row += 1;
            if m.choices
                .iter()
                .any(|c| c.part == "subject" && c.had_alternatives())
            {
                report.subject_repeats += 1;
            }
        }
        report.slot_repeats += m
            .choices
            .iter()
            .filter(|c| c.had_alternatives())
            .filter(|c| {
                prev.choices
                    .iter()
                    .any(|p| p.slot == c.slot && p.text == c.text)
            })
            .count() as u64;
    }
    report.consecutive_repeats = report.subject_repeats + report.slot_repeats;
    report.contacts = per_contact.len() as u64;
    report.distinct_subjects = subjects.len() as u64;
    report.distinct_openers = openers.len() as u64;
    report.slots = slots.into_values().collect();
    let means: Vec<f64> = per_contact
        .values()
        .filter(|ms| ms.len() > 1)
        .map(|ms| {
            let sets: Vec<_> = ms
                .iter()
                .map(|m| shingles(&format!("{}\n{}", m.subject, m.text)))
                .collect();
            let mut total = 0.0;
            let mut pairs = 0;
            for (a, x) in sets.iter().enumerate() {
                for y in &sets[a + 1..] {
                    total += jaccard(x, y);
                    pairs += 1;
                }
            }
            total / f64::from(pairs)
        })
        .collect();
    if !means.is_empty() {
        report.mean_pairwise_similarity = Some(means.iter().sum::<f64>() / means.len() as f64);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variation::Choice;

    fn msg(contact: i64, campaign: &str, subject: &str, opener: &str, of: usize) -> SentMessage {
        SentMessage {
            contact_id: contact,
            campaign: campaign.into(),
            step: 0,
            subject: subject.into(),
            opener: opener.into(),
            text: format!("{opener} some body text for the message"),
            choices: vec![Choice {
                slot: "opener".into(),
                n: 1,
                of,
                text: opener.into(),
                part: "text".into(),
            }],
            sent_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn repeats_count_only_where_alternatives_existed() {
        let messages = vec![
            msg(1, "w", "A", "Hi", 2),
            msg(1, "w", "A", "Hi", 2), // opener repeated although it had an alternative
            msg(2, "w", "A", "Hey", 1),
            msg(2, "w", "B", "Hey", 1), // no alternative: not a repeat
            msg(3, "other", "C", "Hi", 2),
            msg(3, "w", "D", "Hello", 2),
        ];
        let r = measure("w", &messages);
        assert_eq!(r.sends, 5);
        assert_eq!(r.contacts, 3);
        assert_eq!(r.distinct_subjects, 3);
        assert_eq!(r.distinct_openers, 3);
        assert_eq!(r.slot_repeats, 1);
        assert_eq!(r.identical_subjects_in_a_row, 1);
        assert_eq!(r.consecutive_repeats, 1);
        assert!(r.mean_pairwise_similarity.unwrap() > 0.0);
    }
}
