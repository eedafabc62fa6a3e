//! The web console for marketing staff.
mod settings;
pub use settings::{ConsoleSettings, ConsoleUser, Role};
