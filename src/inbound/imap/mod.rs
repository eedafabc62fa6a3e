//! The IMAP mailbox poller: tend reads a mailbox that receives its bounces
//! and replies, takes what is its own, and leaves everything else exactly as
//! it was.
//!
//! One poll ([`poll_once`]): log in, make sure the processed folder exists,
//! select the folder, list its UIDs, and for each message not yet seen (by
//! UIDVALIDITY and UID, through [`SeenState`]) fetch it with `BODY.PEEK[]`
//! (never setting `\Seen`) and hand it to the [`MessageHandler`]:
//! - [`Verdict::Own`]: tend stored it; the verdict is recorded, then the
//!   message moves to the processed folder (`UID MOVE` when offered, else
//!   `UID COPY`, `\Deleted` and `UID EXPUNGE` of that UID alone; without
//!   `UIDPLUS` the original is left flagged `\Deleted`, never expunged, since
//!   a plain `EXPUNGE` would remove other messages marked for deletion).
//! - [`Verdict::NotOurs`]: recorded and left where it is, flags untouched.
//!
//! Nothing is ever deleted but the one message just copied. A message marked
//! `\Deleted` by someone else is not read. Messages over
//! [`ImapOptions::max_message_bytes`] are fetched only up to that size
//! (`truncated`). [`run`] polls at an interval, backs off after errors and
//! stops with its shutdown future (a poll cut mid-way is safe: a message is
//! recorded before it moves, and a recorded `Own` still in the folder is
//! moved on the next poll).
//!
//! The processed folder is written with `/` between levels and translated to
//! the server's hierarchy delimiter (`tend/processed` is `tend.processed` on
//! a Maildir++ Dovecot).

mod connect;
mod state;

pub use state::{MailboxKey, MemorySeen, SeenState, StateError};

use crate::config::{Secret, TlsMode};
use crate::domain::mask;
use async_imap::types::{Fetch, Flag};
use connect::{ImapSession, step};
use futures_util::TryStreamExt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// Where the mailbox is and how to read it.
#[derive(Debug, Clone)]
pub struct ImapOptions {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    pub password: Secret,
    /// The folder read (default `INBOX`).
    pub folder: String,
    /// Where tend's own messages go, created if missing (default `tend/processed`).
    pub processed_folder: String,
    pub poll_interval: Duration,
    /// A PEM file of extra trusted roots (a private server's CA).
    pub ca_file: Option<PathBuf>,
    /// Bound for each network step (connect, login, one command).
    pub timeout: Duration,
    /// Larger messages are fetched only this far.
    pub max_message_bytes: usize,
}

impl ImapOptions {
    /// The defaults, for `user` at `host` (TLS on port 993).
    pub fn new(host: impl Into<String>, user: impl Into<String>, password: Secret) -> Self {
        Self {
            host: host.into(),
            port: 993,
            tls: TlsMode::Tls,
            user: user.into(),
            password,
            folder: "INBOX".into(),
            processed_folder: "tend/processed".into(),
            poll_interval: Duration::from_secs(60),
            ca_file: None,
            timeout: Duration::from_secs(60),
            max_message_bytes: crate::inbound::MAX_MESSAGE_BYTES,
        }
    }

    /// `user@host:port`, masked for logs.
    fn account_masked(&self) -> String {
        format!(
            "{}:{}",
            mask(&format!("{}@{}", self.user, self.host)),
            self.port
        )
    }
}

/// What the handler decided about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// tend stored it: move it to the processed folder.
    Own,
    /// Not tend's: leave it exactly where it is.
    NotOurs,
}

/// One message fetched from the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapMessage {
    pub mailbox: MailboxKey,
    pub uid: u32,
    /// `RFC822.SIZE`.
    pub size: u32,
    /// The message as stored on the server (CRLF line ends).
    pub raw: Vec<u8>,
    /// Only the first [`ImapOptions::max_message_bytes`] were fetched.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

/// What the poller hands each new message to. An error ends the poll
/// without recording the message: it is offered again next time.
pub trait MessageHandler: Send + Sync {
    fn handle(
        &self,
        message: ImapMessage,
    ) -> impl Future<Output = Result<Verdict, HandlerError>> + Send;
}

impl<H: MessageHandler> MessageHandler for std::sync::Arc<H> {
    fn handle(
        &self,
        message: ImapMessage,
    ) -> impl Future<Output = Result<Verdict, HandlerError>> + Send {
        (**self).handle(message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("IMAP settings: {0}")]
    Settings(String),
    #[error("IMAP connection error while {0}: {1}")]
    Io(&'static str, std::io::Error),
    #[error("IMAP server timed out while {0}")]
    Timeout(&'static str),
    #[error("unexpected IMAP greeting: {0}")]
    Greeting(String),
    #[error("IMAP login refused: {0}")]
    Login(String),
    #[error("IMAP error while {0}: {1}")]
    Imap(&'static str, async_imap::error::Error),
    #[error("the IMAP server gave no UIDVALIDITY for the folder")]
    NoUidValidity,
    #[error("the seen-message state: {0}")]
    State(#[from] StateError),
    #[error("the message handler: {0}")]
    Handler(#[from] HandlerError),
}

impl From<(&'static str, std::io::Error)> for ImapError {
    fn from((doing, e): (&'static str, std::io::Error)) -> Self {
        ImapError::Io(doing, e)
    }
}

impl From<(&'static str, async_imap::error::Error)> for ImapError {
    fn from((doing, e): (&'static str, async_imap::error::Error)) -> Self {
        ImapError::Imap(doing, e)
    }
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Messages in the folder when it was listed.
    pub listed: usize,
    /// Messages handed to the handler.
    pub handled: usize,
    pub own: usize,
    pub not_ours: usize,
    /// Messages moved to the processed folder (this poll's and earlier ones').
    pub moved: usize,
    /// Moved by copy and `\Deleted` but left for someone else to expunge.
    pub left_deleted: usize,
}

/// One poll of the mailbox; see the module documentation.
pub async fn poll_once<H: MessageHandler, S: SeenState>(
    options: &ImapOptions,
    handler: &H,
    state: &S,
) -> Result<PollReport, ImapError> {
    if options.processed_folder.trim().is_empty()
        || options
            .processed_folder
            .eq_ignore_ascii_case(&options.folder)
    {
        return Err(ImapError::Settings(
            "the processed folder must be a folder of its own".into(),
        ));
    }
    let mut session = connect::open(options).await?;
    let result = Poll {
        options,
        session: &mut session,
    }
    .run(handler, state)
    .await;
    let _ = tokio::time::timeout(options.timeout, session.logout()).await;
    result
}

/// What the server offers, from its capabilities.
struct Offers {
    moves: bool,
    uidplus: bool,
}

struct Poll<'a> {
    options: &'a ImapOptions,
    session: &'a mut ImapSession,
}

impl Poll<'_> {
    async fn run<H: MessageHandler, S: SeenState>(
        mut self,
        handler: &H,
        state: &S,
    ) -> Result<PollReport, ImapError> {
        let options = self.options;
        let capabilities =
            step(options, "asking capabilities", self.session.capabilities()).await?;
        let offers = Offers {
            moves: capabilities.has_str("MOVE"),
            uidplus: capabilities.has_str("UIDPLUS"),
        };
        let processed = self.processed_folder().await?;
        let selected = step(
            options,
            "selecting the folder",
            self.session.select(&options.folder),
        )
        .await?;
        let uid_validity = selected.uid_validity.ok_or(ImapError::NoUidValidity)?;
        let mailbox = MailboxKey {
            account: format!("{}@{}:{}", options.user, options.host, options.port),
            folder: options.folder.clone(),
            uid_validity,
        };
        let mut report = PollReport::default();
        if selected.exists == 0 {
            return Ok(report);
        }
        let listing = self.list().await?;
        report.listed = listing.len();
        let uids: Vec<u32> = listing.iter().map(|m| m.uid).collect();
        let decided = state.decided(&mailbox, &uids).await?;
        for listed in listing {
            match decided.get(&listed.uid) {
                Some(Verdict::NotOurs) => continue,
                // Copied and flagged already, waiting for an expunge.
                Some(Verdict::Own) if listed.deleted => continue,
                Some(Verdict::Own) => {
                    // Recorded earlier, but the move did not happen.
                    self.move_out(listed.uid, &processed, &offers, &mut report)
                        .await?;
                    continue;
                }
                None if listed.deleted => continue,
                None => {}
            }
            let Some(message) = self.fetch(&mailbox, &listed).await? else {
                continue;
            };
            report.handled += 1;
            let verdict = handler.handle(message).await?;
            state.record(&mailbox, listed.uid, verdict).await?;
            match verdict {
                Verdict::Own => {
                    report.own += 1;
                    self.move_out(listed.uid, &processed, &offers, &mut report)
                        .await?;
                }
                Verdict::NotOurs => report.not_ours += 1,
            }
        }
        if report.handled > 0 || report.moved > 0 {
            tracing::info!(account = %options.account_masked(), folder = %options.folder,
                handled = report.handled, own = report.own, not_ours = report.not_ours,
                moved = report.moved, "inbound IMAP poll");
        }
        Ok(report)
    }

    /// The processed folder's name on this server, created if missing.
    async fn processed_folder(&mut self) -> Result<String, ImapError> {
        let options = self.options;
        let root: Vec<_> = {
            let names = step(
                options,
                "listing the hierarchy",
                self.session.list(Some(""), None),
            )
            .await?;
            step(
                options,
                "listing the hierarchy",
                names.try_collect::<Vec<_>>(),
            )
            .await?
        };
        let delimiter = root
            .first()
            .and_then(|name| name.delimiter())
            .unwrap_or("/")
            .to_string();
        let name = options.processed_folder.replace('/', &delimiter);
        let pattern = quote(&name);
        let found = {
            let names = step(
                options,
                "looking for the processed folder",
                self.session.list(Some(""), Some(&pattern)),
            )
            .await?;
            let names: Vec<_> = step(
                options,
                "looking for the processed folder",
                names.try_collect::<Vec<_>>(),
            )
            .await?;
            !names.is_empty()
        };
        if !found {
            step(
                options,
                "creating the processed folder",
                self.session.create(&name),
            )
            .await?;
            // So that mail clients show it; not needed by tend.
            let _ = step(options, "subscribing", self.session.subscribe(&name)).await;
            tracing::info!(account = %options.account_masked(), folder = %name,
                "inbound IMAP: created the processed folder");
        }
        Ok(name)
    }

    async fn list(&mut self) -> Result<Vec<Listed>, ImapError> {
        let options = self.options;
        let fetches = step(
            options,
            "listing messages",
            self.session.uid_fetch("1:*", "(UID RFC822.SIZE FLAGS)"),
        )
        .await?;
        let fetches: Vec<Fetch> = step(options, "listing messages", fetches.try_collect()).await?;
        let mut listed: Vec<Listed> = fetches
            .iter()
            .filter_map(|f| {
                Some(Listed {
                    uid: f.uid?,
                    size: f.size.unwrap_or(0),
                    deleted: f.flags().any(|flag| flag == Flag::Deleted),
                })
            })
            .collect();
        listed.sort_by_key(|m| m.uid);
        listed.dedup_by_key(|m| m.uid);
        Ok(listed)
    }

    async fn fetch(
        &mut self,
        mailbox: &MailboxKey,
        listed: &Listed,
    ) -> Result<Option<ImapMessage>, ImapError> {
        let options = self.options;
        let limit = options.max_message_bytes;
        let truncated = listed.size as usize > limit;
        let query = if truncated {
            format!("(UID BODY.PEEK[]<0.{limit}>)")
        } else {
            "(UID BODY.PEEK[])".to_string()
        };
        let uid = listed.uid.to_string();
        let fetches = step(
            options,
            "fetching a message",
            self.session.uid_fetch(&uid, &query),
        )
        .await?;
        let fetches: Vec<Fetch> =
            step(options, "fetching a message", fetches.try_collect()).await?;
        // Unsolicited FETCH responses (flag changes) may come along.
        let raw = fetches
            .iter()
            .filter(|f| f.uid == Some(listed.uid))
            .find_map(|f| f.body())
            .map(<[u8]>::to_vec);
        Ok(raw.map(|raw| ImapMessage {
            mailbox: mailbox.clone(),
            uid: listed.uid,
            size: listed.size,
            raw,
            truncated,
        }))
    }

    async fn move_out(
        &mut self,
        uid: u32,
        processed: &str,
        offers: &Offers,
        report: &mut PollReport,
    ) -> Result<(), ImapError> {
        let options = self.options;
        let set = uid.to_string();
        if offers.moves {
            step(
                options,
                "moving a message",
                self.session.uid_mv(&set, processed),
            )
            .await?;
            report.moved += 1;
            return Ok(());
        }
        step(
            options,
            "copying a message",
            self.session.uid_copy(&set, processed),
        )
        .await?;
        {
            let stored = step(
                options,
                "flagging a copied message",
                self.session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)"),
            )
            .await?;
            step(
                options,
                "flagging a copied message",
                stored.try_collect::<Vec<_>>(),
            )
            .await?;
        }
        if offers.uidplus {
            let expunged = step(
                options,
                "expunging a copied message",
                self.session.uid_expunge(&set),
            )
            .await?;
            step(
                options,
                "expunging a copied message",
                expunged.try_collect::<Vec<_>>(),
            )
            .await?;
            report.moved += 1;
        } else {
            report.left_deleted += 1;
        }
        Ok(())
    }
}

/// One message as listed.
struct Listed {
    uid: u32,
    size: u32,
    deleted: bool,
}

/// An IMAP quoted string.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// How long to wait after `failures` failed polls in a row.
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    const CAP: Duration = Duration::from_secs(15 * 60);
    let base = interval.max(Duration::from_secs(1));
    let factor = 1u32 << failures.saturating_sub(1).min(6);
    (base * factor).min(CAP.max(interval))
}

/// Polls every [`ImapOptions::poll_interval`] until `shutdown` completes;
/// after a failed poll waits longer ([`backoff`]). Errors are logged, never
/// returned: the mailbox may come back.
pub async fn run<H: MessageHandler, S: SeenState>(
    options: ImapOptions,
    handler: H,
    state: S,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut failures = 0u32;
    loop {
        let polled = tokio::select! {
            polled = poll_once(&options, &handler, &state) => polled,
            () = &mut shutdown => return,
        };
        let wait = match polled {
            Ok(_) => {
                failures = 0;
                options.poll_interval
            }
            Err(e) => {
                failures += 1;
                let wait = backoff(options.poll_interval, failures);
                tracing::warn!(account = %options.account_masked(), error = %e, failures,
                    retry_in_secs = wait.as_secs(), "inbound IMAP poll failed");
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut shutdown => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_interval_up_to_a_cap() {
        let minute = Duration::from_secs(60);
        assert_eq!(backoff(minute, 1), minute);
        assert_eq!(backoff(minute, 2), minute * 2);
        assert_eq!(backoff(minute, 4), minute * 8);
        assert_eq!(backoff(minute, 40), Duration::from_secs(15 * 60));
        // An interval longer than the cap is never shortened.
        let hour = Duration::from_secs(3600);
        assert_eq!(backoff(hour, 3), hour);
        assert_eq!(backoff(Duration::ZERO, 1), Duration::from_secs(1));
    }

    #[test]
    fn folder_names_are_quoted() {
        assert_eq!(quote("tend.processed"), "\"tend.processed\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
