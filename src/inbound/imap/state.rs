//! What tend remembers of a mailbox between polls: for each message it
//! looked at (by UIDVALIDITY and UID), whether it took it. The daemon backs
//! [`SeenState`] with the store; [`MemorySeen`] is for tests and one-shot runs.

use super::Verdict;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// One folder of one account, in one UIDVALIDITY epoch: a UID means the
/// same message only under the same key (RFC 3501 2.3.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailboxKey {
    /// `user@host:port`.
    pub account: String,
    pub folder: String,
    pub uid_validity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

/// The poller's memory. A UID recorded `Own` whose message is still in the
/// folder is moved again (an earlier move failed); one recorded `NotOurs` is
/// never fetched again.
pub trait SeenState: Send + Sync {
    /// The verdicts recorded for those of `uids` tend has seen.
    fn decided(
        &self,
        mailbox: &MailboxKey,
        uids: &[u32],
    ) -> impl Future<Output = Result<HashMap<u32, Verdict>, StateError>> + Send;

    /// Records a verdict, durably, before the message is moved.
    fn record(
        &self,
        mailbox: &MailboxKey,
        uid: u32,
        verdict: Verdict,
    ) -> impl Future<Output = Result<(), StateError>> + Send;
}

impl<S: SeenState> SeenState for std::sync::Arc<S> {
    fn decided(
        &self,
        mailbox: &MailboxKey,
        uids: &[u32],
    ) -> impl Future<Output = Result<HashMap<u32, Verdict>, StateError>> + Send {
        (**self).decided(mailbox, uids)
    }

    fn record(
        &self,
        mailbox: &MailboxKey,
        uid: u32,
        verdict: Verdict,
    ) -> impl Future<Output = Result<(), StateError>> + Send {
        (**self).record(mailbox, uid, verdict)
    }
}

/// [`SeenState`] in memory.
#[derive(Debug, Default)]
pub struct MemorySeen {
    seen: Mutex<HashMap<(MailboxKey, u32), Verdict>>,
}

impl MemorySeen {
    /// Every recorded verdict.
    pub fn all(&self) -> Vec<(MailboxKey, u32, Verdict)> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = seen
            .iter()
            .map(|((key, uid), verdict)| (key.clone(), *uid, *verdict))
            .collect();
        all.sort_by_key(|(key, uid, _)| (key.folder.clone(), key.uid_validity, *uid));
        all
    }
}

impl SeenState for MemorySeen {
    async fn decided(
        &self,
        mailbox: &MailboxKey,
        uids: &[u32],
    ) -> Result<HashMap<u32, Verdict>, StateError> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        Ok(uids
            .iter()
            .filter_map(|uid| {
                seen.get(&(mailbox.clone(), *uid))
                    .map(|verdict| (*uid, *verdict))
            })
            .collect())
    }

    async fn record(
        &self,
        mailbox: &MailboxKey,
        uid: u32,
        verdict: Verdict,
    ) -> Result<(), StateError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert((mailbox.clone(), uid), verdict);
        Ok(())
    }
}
