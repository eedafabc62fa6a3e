//! Variation: so repeated messages never read like a mass mailing.
//!
//! A template offers alternatives for a *slot* (`subject`, `opener`, a
//! paragraph, the whole body) with `pick(slot=…, options=[…])`. The choice is
//! a pure function of the contact, campaign, step and slot (the seed) and of
//! the contact's send history (the ledger), so `tend preview` shows exactly
//! what `tend run` sends and a rerun chooses the same again.
//!
//! [`choose`] applies two rules before the seed decides:
//! 1. *no repeat*: an option whose text the contact got in their previous
//!    message from tend (any campaign, any slot) is avoided;
//! 2. *rotate*: among the rest, the options this contact got least often in
//!    this slot win, so a sequence goes through every option before any
//!    comes back.
//!
//! - [`similarity`]: word-shingle Jaccard similarity of two texts.
//! - [`lint`]: `tend check`'s near-duplicate and missing-data checks.
//! - [`metric`]: how varied the actual sends were (`tend variation`).

pub mod lint;
pub mod metric;
pub mod similarity;

pub use crate::domain::{Choice, PastSend};
use sha2::{Digest, Sha256};

/// What [`choose`] needs to know about one slot's options.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    pub name: &'a str,
    pub texts: &'a [String],
}

/// The 0-based option to use. `seed` identifies (contact, campaign, step);
/// `banned` are 0-based options ruled out by the caller (e.g. they made the
/// subject equal the previous one). Never fails: when every option is ruled
/// out the rules are relaxed in order (banned last).
pub fn choose(slot: Slot<'_>, seed: &str, history: &[PastSend], banned: &[usize]) -> usize {
    choose_among(
        slot.name,
        slot.texts.len(),
        |i| slot.texts[i].as_str(),
        seed,
        history,
        banned,
    )
}

/// [`choose`] for `count` options whose texts `text` gives on demand: a
/// render asks before it has the texts as strings, and in the common case
/// (no history, nothing banned) the texts are never needed; without
/// history they are never asked for.
pub fn choose_among<'t>(
    name: &str,
    count: usize,
    text: impl Fn(usize) -> &'t str,
    seed: &str,
    history: &[PastSend],
    banned: &[usize],
) -> usize {
    if count <= 1 {
        return 0;
    }
    if history.is_empty() && banned.is_empty() {
        // Every option is allowed, fresh and unused: the seed alone decides.
        return (hash(seed, name) % count as u64) as usize;
    }
    let previous: Vec<&str> = history
        .last()
        .map(|p| p.choices.iter().map(|c| c.text.as_str()).collect())
        .unwrap_or_default();
    let uses = |i: usize| {
        history
            .iter()
            .flat_map(|p| &p.choices)
            .filter(|c| c.slot == name && c.text == text(i))
            .count()
    };
    let all: Vec<usize> = (0..count).collect();
    let allowed: Vec<usize> = all
        .iter()
        .copied()
        .filter(|i| !banned.contains(i))
        .collect();
    let fresh: Vec<usize> = allowed
        .iter()
        .copied()
        .filter(|&i| previous.is_empty() || !previous.contains(&text(i)))
        .collect();
    let candidates = [fresh, allowed, all]
        .into_iter()
        .find(|c| !c.is_empty())
        .unwrap_or_default();
    let least = candidates.iter().map(|&i| uses(i)).min().unwrap_or(0);
    let pool: Vec<usize> = candidates
        .into_iter()
        .filter(|&i| uses(i) == least)
        .collect();
    pool[(hash(seed, name) % pool.len() as u64) as usize]
}

/// The seed of one message: stable across runs and machines.
pub fn seed(email: &str, campaign: &str, step: usize) -> String {
    format!("{}\u{1f}{campaign}\u{1f}{}", email.to_lowercase(), step + 1)
}

/// The first 8 bytes of SHA-256(`seed` U+001F `slot`), big-endian.
fn hash(seed: &str, slot: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(seed.as_bytes())
        .chain_update("\u{1f}".as_bytes())
        .chain_update(slot.as_bytes())
        .finalize();
    u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

/// The opener of a message: the `opener` slot's text when the template has
/// one, else the first non-blank line of the text part.
pub fn opener(choices: &[Choice], text: &str) -> String {
    choices
        .iter()
        .find(|c| c.slot == "opener")
        .map(|c| c.text.clone())
        .unwrap_or_else(|| {
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or_default()
                .to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn options(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("option {i}")).collect()
    }

    fn sent(slot: &str, text: &str, subject: &str) -> PastSend {
        PastSend {
            send_id: 0,
            campaign: "c".into(),
            step: 0,
            subject: subject.into(),
            choices: vec![Choice {
                slot: slot.into(),
                n: 1,
                of: 3,
                text: text.into(),
                part: "text".into(),
            }],
            sent_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_same_seed_and_history_always_choose_the_same() {
        let texts = options(5);
        let slot = Slot {
            name: "opener",
            texts: &texts,
        };
        let a = choose(slot, &seed("a@x.example", "c", 0), &[], &[]);
        for _ in 0..10 {
            assert_eq!(choose(slot, &seed("A@x.example", "c", 0), &[], &[]), a);
        }
    }

    #[test]
    fn different_contacts_spread_over_the_options() {
        let texts = options(3);
        let slot = Slot {
            name: "opener",
            texts: &texts,
        };
        let mut seen = [0; 3];
        for i in 0..300 {
            seen[choose(slot, &seed(&format!("c{i}@x.example"), "c", 0), &[], &[])] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }

    #[test]
    fn no_contact_gets_the_previous_text_again_and_options_rotate() {
        // Many contacts × a long sequence through campaigns sharing the slot.
        for contact in 0..200 {
            let email = format!("p{contact}@x.example");
            for count in 2..=4 {
                let texts = options(count);
                let slot = Slot {
                    name: "opener",
                    texts: &texts,
                };
                let mut history: Vec<PastSend> = Vec::new();
                for step in 0..(count * 3) {
                    let campaign = if step % 2 == 0 { "win-back" } else { "welcome" };
                    let i = choose(slot, &seed(&email, campaign, step), &history, &[]);
                    if let Some(last) = history.last() {
                        assert_ne!(last.choices[0].text, texts[i], "consecutive repeat");
                    }
                    // Rotation: within each round of `count` messages, all differ.
                    let round_start = step - step % count;
                    for earlier in &history[round_start..] {
                        assert_ne!(earlier.choices[0].text, texts[i], "repeat before rotating");
                    }
                    history.push(sent("opener", &texts[i], "s"));
                }
            }
        }
    }

    #[test]
    fn a_phrase_used_in_another_slot_last_time_is_avoided_too() {
        let texts = vec!["Hi".to_string(), "Hello".to_string()];
        let history = [sent("greeting", "Hi", "s")];
        for i in 0..50 {
            let s = seed(&format!("c{i}@x.example"), "c", 0);
            let slot = Slot {
                name: "opener",
                texts: &texts,
            };
            assert_eq!(choose(slot, &s, &history, &[]), 1);
        }
    }

    #[test]
    fn banned_options_are_skipped_unless_nothing_else_is_left() {
        let texts = options(2);
        let slot = Slot {
            name: "subject",
            texts: &texts,
        };
        assert_eq!(choose(slot, "s", &[], &[0]), 1);
        assert_eq!(choose(slot, "s", &[], &[1]), 0);
        let any = choose(slot, "s", &[], &[0, 1]);
        assert!(any < 2);
    }

    #[test]
    fn the_opener_is_the_slot_or_the_first_line() {
        assert_eq!(opener(&[], "\n  Hi Ana,\nmore"), "Hi Ana,");
        let c = sent("opener", "Hello", "s").choices;
        assert_eq!(opener(&c, "Hi Ana,"), "Hello");
    }
}
