//! The vocabulary every room shares. Newtypes that can only hold valid
//! values (raw strings are parsed here, at the edges; the core of tend never
//! sees an unchecked address or duration) and the plain records they make up:
//! contacts, events, suppressions, the states of a send and why it waits or
//! ends. Imports nothing else of tend's, so catalog, render, plan, send and
//! every store backend can name a contact without depending on each other.

mod contact;
mod duration;
mod email;
mod event;
mod rate;
mod redact;
mod send;
mod stage;
mod suppression;
mod token;

pub use contact::{Attributes, Contact, NewContact};
pub use duration::{Duration, DurationError};
pub use email::{EmailAddress, EmailError, mask};
pub use event::{CLICK, EventKind, NewEvent, TREATMENT_ONLY_KINDS, TreatmentOnly};
pub use rate::{Rate, RateError};
pub use redact::redact_addresses;
pub use send::{
    Choice, ExitReason, Group, HoldReason, PastSend, SendState, SentContent, SentMessage,
};
pub use stage::{Stage, StageError};
pub use suppression::{NewSuppression, Suppression, SuppressionReason, SuppressionScope};
pub use token::{ClickToken, TokenError, TokenKey, UnsubToken, fingerprint};
