//! The daemon's ways in for what comes back, each fed to one [`Ingest`]:
//! the SMTP/LMTP receiver on `inbound.listen`, the IMAP poller of
//! `[inbound.imap]`, and (through the HTTP listener) the providers'
//! webhooks. Replies may be passed on to a person; raw messages are
//! forgotten after `inbound.keep_raw_for`.

use super::DaemonError;
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::redact_addresses;
use crate::inbound::imap::{
    self, HandlerError, ImapMessage, ImapOptions, MailboxKey, MessageHandler, SeenState,
    StateError, Verdict,
};
use crate::inbound::ingest::{self, Ingest};
use crate::inbound::intake::WebhookIntake;
use crate::inbound::receiver::{self, Envelope, Handler, Protocol, ReceiverOptions, Reject};
use crate::send::Transport;
use crate::store::ImapMailbox;
use crate::store::prelude::*;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Passes replies on to a person, through the relay.
#[derive(Debug)]
pub struct Forwarder {
    transport: Transport,
    to: String,
    from: String,
}

impl Forwarder {
    pub fn from_settings(settings: &Settings) -> Option<Forwarder> {
        let to = settings.inbound.forward_replies_to.clone()?;
        let transport = match Transport::from_settings(&settings.smtp) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot forward replies: the relay settings are unusable");
                return None;
            }
        };
        let from = settings
            .sending
            .return_path
            .clone()
            .or_else(|| settings.from_mailbox().map(|m| m.email.to_string()))?;
        Some(Forwarder {
            transport,
            to,
            from,
        })
    }

    /// Sends the reply on unchanged; a failure is logged (the reply is kept).
    pub async fn forward(&self, raw: &[u8], id: i64) {
        let message_id = format!("<tend.forward.{id}@tend>");
        match self
            .transport
            .deliver(&self.from, &self.to, &message_id, raw, || async { Ok(()) })
            .await
        {
            Ok(_) => tracing::info!(inbound = id, "reply passed on to a person"),
            Err(e) => {
                tracing::error!(inbound = id, error = %redact_addresses(&e.to_string()), "could not pass a reply on (it is kept: `tend inbound show`)")
            }
        }
    }
}

/// The receiver's and the poller's handler: keep, apply, maybe forward.
pub struct Take<S> {
    pub ingest: Ingest<S>,
    pub forward: Option<Arc<Forwarder>>,
}

impl<S> std::fmt::Debug for Take<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Take").finish_non_exhaustive()
    }
}

impl<S: Store> Take<S> {
    async fn take(&self, source: &str, recipients: &[String], raw: Vec<u8>) -> Result<(), String> {
        let forward = self.forward.clone();
        let copy = forward.as_ref().map(|_| raw.clone());
        let done = self
            .ingest
            .message(source, recipients, raw)
            .await
            .map_err(|e| e.to_string())?;
        if let (Some(forward), Some(raw)) = (forward, copy) {
            if done.kind == "reply" && !done.recorded.duplicate {
                forward.forward(&raw, done.recorded.id).await;
            }
        }
        Ok(())
    }
}

impl<S: Store> Handler for Take<S> {
    async fn deliver(&self, envelope: Envelope, raw: Vec<u8>) -> Result<(), Reject> {
        let source = match envelope.protocol {
            Protocol::Lmtp => "lmtp",
            Protocol::Smtp => "smtp",
        };
        self.take(source, &envelope.rcpt_to, raw).await.map_err(|e| {
            // Temporary: the MTA keeps it and tries again; nothing is lost.
            tracing::error!(error = %e, "cannot keep an inbound message; the sending MTA will retry");
            Reject::Temporary("cannot store the message right now".into())
        })
    }
}

impl<S: Store> MessageHandler for Take<S> {
    async fn handle(&self, message: ImapMessage) -> Result<Verdict, HandlerError> {
        // Only what is tend's is kept and moved; anything else stays in the
        // mailbox untouched, and tend keeps no copy of it.
        let classification = self.ingest.classify(&message.raw, &[]);
        let ours = self
            .ingest
            .concerns_us(&classification)
            .await
            .map_err(|e| HandlerError(e.to_string()))?;
        if !ours {
            return Ok(Verdict::NotOurs);
        }
        self.take("imap", &[], message.raw)
            .await
            .map(|()| Verdict::Own)
            .map_err(HandlerError)
    }
}

/// The poller's memory, kept in the store.
#[derive(Debug, Clone)]
pub struct StoredSeen<S> {
    pub store: S,
    pub clock: Arc<dyn crate::clock::Clock>,
}

fn mailbox(key: &MailboxKey) -> ImapMailbox {
    ImapMailbox {
        account: key.account.clone(),
        folder: key.folder.clone(),
        uid_validity: key.uid_validity,
    }
}

impl<S: Store> SeenState for StoredSeen<S> {
    async fn decided(
        &self,
        key: &MailboxKey,
        uids: &[u32],
    ) -> Result<HashMap<u32, Verdict>, StateError> {
        let rows = self
            .store
            .imap_decided(&mailbox(key), uids)
            .await
            .map_err(|e| StateError(e.to_string()))?;
        Ok(rows
            .into_iter()
            .map(|(uid, own)| (uid, if own { Verdict::Own } else { Verdict::NotOurs }))
            .collect())
    }

    async fn record(&self, key: &MailboxKey, uid: u32, verdict: Verdict) -> Result<(), StateError> {
        self.store
            .imap_record(
                &mailbox(key),
                uid,
                verdict == Verdict::Own,
                self.clock.now(),
            )
            .await
            .map_err(|e| StateError(e.to_string()))
    }
}

/// The receiver's options from the settings.
pub fn receiver_options(settings: &Settings) -> ReceiverOptions {
    let inbound = &settings.inbound;
    let mut options = ReceiverOptions {
        hostname: crate::send::worker::hostname(),
        protocol: match inbound.protocol.as_str() {
            "smtp" => Some(Protocol::Smtp),
            "lmtp" => Some(Protocol::Lmtp),
            _ => None,
        },
        max_message_bytes: inbound.max_message_bytes,
        ..ReceiverOptions::default()
    };
    // Only what tend's tokened addresses live under; the MTA routes it here.
    if let Some(domain) = settings.bounce_domain() {
        options.domains = vec![domain];
    }
    // A dedicated List-Unsubscribe mailbox, for mail clients that drop the
    // token (the From address is a person's; the MTA keeps delivering it there).
    if let Some(mailbox) = settings.sending.unsubscribe_mailto.clone() {
        options.mailboxes.push(mailbox);
    }
    options
}

/// The poller's options from the settings.
pub fn imap_options(settings: &Settings) -> Option<ImapOptions> {
    let imap = settings.inbound.imap.as_ref()?;
    let Some(password) = imap.password.clone() else {
        tracing::error!(
            "[inbound.imap] has no password: set TEND__INBOUND__IMAP__PASSWORD or inbound.imap.password_file; the mailbox is not polled"
        );
        return None;
    };
    let mut options = ImapOptions::new(imap.host.clone(), imap.user.clone(), password);
    options.port = imap.port;
    options.tls = imap.tls;
    options.folder = imap.folder.clone();
    options.processed_folder = imap.processed_folder.clone();
    options.poll_interval = imap.interval.to_std();
    options.ca_file = imap.ca_file.clone();
    options.max_message_bytes = settings.inbound.max_message_bytes;
    Some(options)
}

/// The inbound ways the daemon runs, and the webhook intake it hands to
/// the HTTP listener.
#[derive(Debug)]
pub struct InboundTasks<S> {
    pub webhooks: Option<Arc<WebhookIntake<S>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl<S> InboundTasks<S> {
    /// Waits for the tasks to finish (they stop when `stop` flips).
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn stopping(stop: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut stop = stop.clone();
    async move {
        let _ = stop.wait_for(|s| *s).await;
    }
}

/// Starts what `[inbound]` configures: the receiver on `listener`, the
/// mailbox poller, the daily forgetting of raw messages; and readies the
/// webhooks. All stop when `stop` flips.
pub async fn start<S: Store>(
    store: &S,
    settings: &Settings,
    clock: &Arc<dyn Clock>,
    keys: &crate::links::Keys,
    listener: Option<TcpListener>,
    stop: &watch::Receiver<bool>,
) -> Result<InboundTasks<S>, DaemonError> {
    let mut tasks = Vec::new();
    if !settings.inbound.enabled() {
        return Ok(InboundTasks {
            webhooks: None,
            tasks,
        });
    }
    let ingest = ingest::from_settings(
        store.clone(),
        settings,
        Arc::clone(clock),
        Some(keys.clone()),
    )
    .await?;
    let webhooks = if settings.inbound.webhooks.any() {
        Some(Arc::new(WebhookIntake::new(
            ingest.clone(),
            &settings.inbound.webhooks,
        )?))
    } else {
        None
    };
    let take = Arc::new(Take {
        ingest: ingest.clone(),
        forward: Forwarder::from_settings(settings).map(Arc::new),
    });
    if let Some(listener) = listener {
        let options = receiver_options(settings);
        tasks.push(tokio::spawn(receiver::serve(
            listener,
            options,
            Arc::clone(&take),
            stopping(stop),
        )));
    }
    if let Some(options) = imap_options(settings) {
        tracing::info!(
            host = %options.host,
            folder = %options.folder,
            "inbound: polling the mailbox every {:?}",
            options.poll_interval
        );
        let seen = StoredSeen {
            store: store.clone(),
            clock: Arc::clone(clock),
        };
        tasks.push(tokio::spawn(imap::run(
            options,
            Arc::clone(&take),
            seen,
            stopping(stop),
        )));
    }
    // Raw messages are forgotten by the daemon's retention task ([retention] inbound_raw).
    Ok(InboundTasks { webhooks, tasks })
}
