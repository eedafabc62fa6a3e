//! What comes back: bounces, complaints, auto-replies, replies and `mailto:`
//! unsubscribe requests, by mail or by a provider's webhook.
//!
//! This room is pure: bytes (a raw message, a webhook request) in, typed
//! classifications out. Receiving (SMTP/LMTP, IMAP, `tend inbound FILE`),
//! keeping the raw message, and applying effects live with the daemon, the
//! store and the CLI.
//!
//! - [`verp`]: the signed return-path token (`bounces+TOKEN@…`, `reply+…`, `unsubscribe+…`).
//! - [`ident`]: what ties a message to a send or a contact (token, our Message-ID, address).
//! - [`classify`]: the one classifier over a raw message, and the [`Classification`] types.
//! - [`webhooks`]: Amazon SES (SNS), SendGrid, Postmark and Mailgun: signatures, then events.

pub mod classify;
pub mod ident;
pub mod verp;
pub mod webhooks;

pub use classify::{
    Action, AutoReply, AutoSignal, BounceFormat, Classification, Complaint, Context,
    DeliveryReport, Effect, FeedbackType, HumanReply, Kind, MAX_MESSAGE_BYTES, RecipientStatus,
    ReplyMatch, Unclassified, UnsubscribeMatch, UnsubscribeRequest, classify,
};
pub use ident::{Identification, OurMessageId};
pub use verp::{Purpose, SendRef, VerpError};
