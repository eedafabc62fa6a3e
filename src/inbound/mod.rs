//! What comes back: bounces, complaints, auto-replies, replies and `mailto:`
//! unsubscribe requests, by mail or by a provider's webhook.
//!
//! The classifier and the webhooks are pure: bytes (a raw message, a webhook
//! request) in, typed classifications out. The ways in ([`receiver`],
//! [`imap`]) move bytes only, each behind a small trait that the daemon backs
//! with the store; keeping the raw message and applying effects live there.
//!
//! - [`verp`]: the signed return-path token (`bounces+TOKEN@…`, `reply+…`, `unsubscribe+…`).
//! - [`ident`]: what ties a message to a send or a contact (token, our Message-ID, address).
//! - [`classify`]: the one classifier over a raw message, and the [`Classification`] types.
//! - [`ingest`]: where every way in meets the store: tie, keep, apply, once.
//! - [`imap`]: the mailbox poller: takes what is tend's to a processed folder, leaves the rest untouched.
//! - [`receiver`]: the SMTP/LMTP server the site's MTA hands our mail to; `250` only once stored.
//! - [`webhooks`]: Amazon SES (SNS), SendGrid, Postmark and Mailgun: signatures, then events.
//! - [`intake`]: the configured webhooks' proofs, then [`ingest`]; [`fetch`]: the SNS certificate GET.

pub mod classify;
pub mod fetch;
pub mod ident;
pub mod imap;
pub mod ingest;
pub mod intake;
pub mod receiver;
pub mod verp;
pub mod webhooks;

pub use classify::{
    Action, AutoReply, AutoSignal, BounceFormat, Classification, Complaint, Context,
    DeliveryReport, Effect, FeedbackType, HumanReply, Kind, MAX_MESSAGE_BYTES, RecipientStatus,
    ReplyMatch, Unclassified, UnsubscribeMatch, UnsubscribeRequest, classify,
};
pub use ident::{Identification, OurMessageId};
pub use verp::{Purpose, SendRef, VerpError};
