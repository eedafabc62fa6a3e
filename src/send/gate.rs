//! The gate a message passes before its end-of-data marker: the caller's
//! durable record that the message is going out (its row marked `sending`).
//!
//! Only the end-of-data marker makes a server take a message, so the record
//! need not be committed before the transaction starts, only before the
//! marker. The gate's record starts with the transaction and runs while the
//! envelope is exchanged and the data is written; the marker follows once it
//! is committed. A commit waits for a disk flush (a millisecond or more on a
//! plain disk), which no longer stands in line with a connection's round
//! trips. A refused record (the recipient was suppressed, the passage ended,
//! the row is no longer ours) shuts the gate: the marker is never written
//! and the session is dropped, so the server discards what it got.

use std::future::Future;
use std::pin::Pin;

/// A record to wait for once (later waits get its first answer).
pub struct Gate<Fut> {
    state: State<Fut>,
}

impl<Fut> std::fmt::Debug for Gate<Fut> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &self.state {
            State::Pending(_) => "Gate(pending)",
            State::Open => "Gate(open)",
            State::Shut(_) => "Gate(shut)",
        })
    }
}

enum State<Fut> {
    Pending(Pin<Box<Fut>>),
    Open,
    Shut(String),
}

impl<Fut: Future<Output = Result<(), String>>> Gate<Fut> {
    /// A gate whose record is `record` (started when first waited for).
    pub fn new(record: Fut) -> Self {
        Self {
            state: State::Pending(Box::pin(record)),
        }
    }

    /// Waits for the record; `Err` says why the message must not go out.
    pub async fn pass(&mut self) -> Result<(), String> {
        if let State::Pending(record) = &mut self.state {
            self.state = match record.as_mut().await {
                Ok(()) => State::Open,
                Err(why) => State::Shut(why),
            };
        }
        match &self.state {
            State::Open => Ok(()),
            State::Shut(why) => Err(why.clone()),
            State::Pending(_) => unreachable!("the record was awaited above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn the_record_runs_once_and_its_answer_stays() {
        let runs = AtomicU32::new(0);
        let mut gate = Gate::new(async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("suppressed".to_string())
        });
        assert_eq!(gate.pass().await, Err("suppressed".to_string()));
        assert_eq!(gate.pass().await, Err("suppressed".to_string()));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn nothing_is_recorded_until_the_gate_is_waited_for() {
        let runs = AtomicU32::new(0);
        let mut gate = Gate::new(async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        assert_eq!(gate.pass().await, Ok(()));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
