//! Shared rate slots handed out in blocks. Under a shared rate every send
//! needs a slot from the server (one row per limit, see `reserve_rate`): at
//! high rates that hot row cost a round trip per message and serialised
//! every sender behind it. A daemon now reserves a block of consecutive
//! slots covering at most [`BLOCK_SPAN`] of sending and hands them out at
//! the configured spacing itself. At rates below one slot per span a block
//! is a single slot, exactly as before, so daemons sharing a slow rate stay
//! interleaved.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How much sending one block may cover.
const BLOCK_SPAN: Duration = Duration::from_millis(50);
/// And at most this many slots, whatever the rate (the span is the real
/// bound). With 64, 16 connections at 4,000 msg/s waited for a new block
/// every 64 messages: 95–165 µs per message in `wait_for_rates`, against
/// 65–81 µs with 1,024.
const MAX_BLOCK: u32 = 1024;

/// Slots of each limit already reserved on the server and not yet used.
#[derive(Debug, Default)]
pub(super) struct Blocks(tokio::sync::Mutex<HashMap<String, Block>>);

#[derive(Debug)]
pub(super) struct Block {
    /// When the next slot of the block starts.
    next: Instant,
    left: u32,
}

/// Slots per block for a limit of one slot every `interval`.
pub(super) fn size(interval: Duration) -> u32 {
    if interval.is_zero() {
        return MAX_BLOCK;
    }
    (BLOCK_SPAN.as_secs_f64() / interval.as_secs_f64()).clamp(1.0, MAX_BLOCK as f64) as u32
}

impl Blocks {
    /// The reserved blocks, held while a new one is reserved so that tasks
    /// asking at once share one block rather than each taking their own.
    pub(super) async fn lock(&self) -> tokio::sync::MutexGuard<'_, HashMap<String, Block>> {
        self.0.lock().await
    }
}

/// The next slot of `key`'s block, as the wait until it starts; `None` when
/// there is no block or its slots are used or more than a span behind (a
/// burst of slots left over from before an idle spell would break the
/// spacing; a sender a little behind its slots at a high rate just catches up).
pub(super) fn take(
    blocks: &mut HashMap<String, Block>,
    key: &str,
    interval: Duration,
    now: Instant,
) -> Option<Duration> {
    let block = blocks.get_mut(key)?;
    if block.left == 0 || block.next + BLOCK_SPAN.max(interval) < now {
        blocks.remove(key);
        return None;
    }
    block.left -= 1;
    let at = block.next;
    block.next += interval;
    Some(at.saturating_duration_since(now))
}

/// Keeps a block of `size` slots whose first starts after `first_wait`;
/// the first slot is the caller's.
pub(super) fn keep(
    blocks: &mut HashMap<String, Block>,
    key: &str,
    first_wait: Duration,
    interval: Duration,
    size: u32,
    now: Instant,
) {
    blocks.insert(
        key.to_string(),
        Block {
            next: now + first_wait + interval,
            left: size.saturating_sub(1),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_rates_reserve_one_slot_and_fast_ones_a_span() {
        assert_eq!(size(Duration::from_millis(100)), 1);
        assert_eq!(size(Duration::from_millis(10)), 5);
        assert_eq!(size(Duration::from_micros(10)), MAX_BLOCK);
        assert_eq!(size(Duration::ZERO), MAX_BLOCK);
    }

    #[test]
    fn a_block_hands_out_its_slots_spaced_then_runs_out() {
        let mut blocks = HashMap::new();
        let now = Instant::now();
        let every = Duration::from_millis(10);
        keep(
            &mut blocks,
            "global",
            Duration::from_millis(3),
            every,
            3,
            now,
        );
        assert_eq!(
            take(&mut blocks, "global", every, now),
            Some(Duration::from_millis(13))
        );
        assert_eq!(
            take(&mut blocks, "global", every, now),
            Some(Duration::from_millis(23))
        );
        assert_eq!(take(&mut blocks, "global", every, now), None);
        assert_eq!(take(&mut blocks, "domain:x", every, now), None);
    }

    #[test]
    fn a_sender_slightly_behind_its_slots_at_a_high_rate_still_uses_them() {
        let mut blocks = HashMap::new();
        let then = Instant::now();
        let every = Duration::from_micros(10);
        keep(&mut blocks, "global", Duration::ZERO, every, 64, then);
        let later = then + Duration::from_millis(5);
        for _ in 0..63 {
            assert_eq!(
                take(&mut blocks, "global", every, later),
                Some(Duration::ZERO)
            );
        }
        assert_eq!(take(&mut blocks, "global", every, later), None);
    }

    #[test]
    fn slots_long_past_are_dropped_not_burst() {
        let mut blocks = HashMap::new();
        let then = Instant::now();
        let every = Duration::from_millis(10);
        keep(&mut blocks, "global", Duration::ZERO, every, 10, then);
        let later = then + Duration::from_secs(1);
        assert_eq!(take(&mut blocks, "global", every, later), None);
        assert!(blocks.is_empty());
    }
}
