//! Newtypes that can only hold valid values. Raw strings are parsed here, at
//! the edges; the core of tend never sees an unchecked address or duration.

mod duration;
mod email;
mod rate;
mod redact;
mod stage;
mod token;

pub use duration::{Duration, DurationError};
pub use email::{EmailAddress, EmailError, mask};
pub use rate::{Rate, RateError};
pub use redact::redact_addresses;
pub use stage::{Stage, StageError};
pub use token::{ClickToken, TokenError, TokenKey, UnsubToken};
