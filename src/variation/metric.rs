//! How varied the actual sends of a campaign were (`tend variation`).
//!
//! Over the messages of the campaign that were really sent:
//! - distinct subjects and distinct openers;
//! - consecutive repeats where alternatives existed: a message whose subject
//!   (offering a `pick` alternative) or whose varied slot repeats what the
//!   same contact got in the message just before (from any campaign);
//! - mean pairwise similarity of the messages each contact received from the
//!   campaign (word-shingle Jaccard, averaged per contact, then over contacts);
//! - per step, the similarity *across recipients*: the mean over pairs of
//!   different contacts who got that step — how much two clients' copies of
//!   the same message share.
//!
//! Both similarities mask what is personal first ([`personal_fields`]: the
//! name and its parts, the usable first name, the address, text attributes,
//! tags, the phrases helpers write from the contact's dates; and every link),
//! so a message that differs only in the name counts as the same message.

use super::similarity::{jaccard, masked_shingles};
use crate::catalog::Locale;
use crate::domain::{Contact, SentMessage};
use crate::render::words;
use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Cross-recipient similarity compares at most this many recipients per
/// step (the first by contact id): 300 make 44,850 pairs.
pub const MAX_RECIPIENTS: usize = 300;

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
    /// Per step: how alike two recipients' copies are.
    pub steps: Vec<StepSimilarity>,
    pub slots: Vec<SlotUsage>,
}

/// Similarity of one step's messages across recipients (personal fields masked).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepSimilarity {
    /// 1-based step number.
    pub step: u32,
    pub recipients: u64,
    /// Pairs of different recipients compared.
    pub pairs: u64,
    /// `None` with fewer than two recipients.
    pub mean_similarity: Option<f64>,
    pub max_similarity: Option<f64>,
}

/// What is personal in a message to `contact` sent at `at`: masked before
/// messages are compared.
pub fn personal_fields(contact: &Contact, at: DateTime<Utc>) -> Vec<String> {
    let mut out = vec![contact.email.clone()];
    if let Some((local, _)) = contact.email.split_once('@') {
        out.push(local.to_string());
    }
    if let Some(name) = contact.name.as_deref() {
        out.push(name.to_string());
        out.extend(
            name.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
                .map(str::to_string),
        );
    }
    out.extend(crate::render::first_name(contact.name.as_deref()));
    out.extend(contact.tags.iter().cloned());
    out.extend(
        contact
            .attributes
            .values()
            .filter_map(|v| v.as_str())
            .filter(|s| s.trim().chars().count() >= 2)
            .map(str::to_string),
    );
    for date in [Some(contact.created_at), contact.last_activity_at]
        .into_iter()
        .flatten()
    {
        for locale in Locale::ALL {
            out.push(words::duration(locale, (at - date).num_days()));
            out.push(words::month(locale, date.month0()).to_string());
        }
    }
    out.retain(|f| !f.trim().is_empty());
    out
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
/// ordered by contact and time (as `Store::sent_messages` returns them);
/// `contacts`: those contacts by id, for masking (one missing is compared
/// with only its links masked).
pub fn measure(
    campaign: &str,
    messages: &[SentMessage],
    contacts: &HashMap<i64, Contact>,
) -> VariationReport {
    let masked = |m: &SentMessage| {
        let fields = contacts
            .get(&m.contact_id)
            .map(|c| personal_fields(c, m.sent_at))
            .unwrap_or_default();
        masked_shingles(&format!("{}\n{}", m.subject, m.text), &fields)
    };
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
        steps: Vec::new(),
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
            let sets: Vec<_> = ms.iter().map(|m| masked(m)).collect();
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
    let mut by_step: BTreeMap<u32, BTreeMap<i64, &SentMessage>> = BTreeMap::new();
    for ms in per_contact.values() {
        for m in ms {
            by_step
                .entry(m.step)
                .or_default()
                .entry(m.contact_id)
                .or_insert(m);
        }
    }
    report.steps = by_step
        .into_iter()
        .map(|(step, recipients)| {
            let sets: Vec<HashSet<String>> = recipients
                .values()
                .take(MAX_RECIPIENTS)
                .map(|m| masked(m))
                .collect();
            let (mut total, mut max, mut pairs) = (0.0, 0.0f64, 0u64);
            for (a, x) in sets.iter().enumerate() {
                for y in &sets[a + 1..] {
                    let s = jaccard(x, y);
                    total += s;
                    max = max.max(s);
                    pairs += 1;
                }
            }
            StepSimilarity {
                step: step + 1,
                recipients: recipients.len() as u64,
                pairs,
                mean_similarity: (pairs > 0).then(|| total / pairs as f64),
                max_similarity: (pairs > 0).then_some(max),
            }
        })
        .collect();
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
        let r = measure("w", &messages, &HashMap::new());
        assert_eq!(r.sends, 5);
        assert_eq!(r.contacts, 3);
        assert_eq!(r.distinct_subjects, 3);
        assert_eq!(r.distinct_openers, 3);
        assert_eq!(r.slot_repeats, 1);
        assert_eq!(r.identical_subjects_in_a_row, 1);
        assert_eq!(r.consecutive_repeats, 1);
        assert!(r.mean_pairwise_similarity.unwrap() > 0.0);
        assert_eq!(r.steps.len(), 1);
        assert_eq!((r.steps[0].recipients, r.steps[0].pairs), (3, 3));
    }

    fn contact(id: i64, name: &str) -> Contact {
        Contact {
            id,
            email: format!("c{id}@example.com"),
            name: Some(name.into()),
            created_at: chrono::DateTime::UNIX_EPOCH,
            last_activity_at: None,
            timezone: None,
            tags: vec![],
            attributes: Default::default(),
        }
    }

    #[test]
    fn two_recipients_whose_copies_differ_only_in_the_name_are_identical() {
        let body = |name: &str, id: i64| SentMessage {
            text: format!(
                "Hi {name},\nWe have missed you at Acme.\n--\nUnsubscribe: https://x.example/u/{id}"
            ),
            ..msg(id, "w", &format!("{name}, we have missed you"), "Hi", 1)
        };
        let messages = vec![body("Ana", 1), body("Jane", 2)];
        let contacts: HashMap<i64, Contact> =
            [(1, contact(1, "Ana López")), (2, contact(2, "Smith, Jane"))].into();
        let r = measure("w", &messages, &contacts);
        assert_eq!(r.steps[0].mean_similarity, Some(1.0), "{r:?}");
        let unmasked = measure("w", &messages, &HashMap::new());
        assert!(
            unmasked.steps[0].mean_similarity.unwrap() < 0.8,
            "{unmasked:?}"
        );
    }
}
