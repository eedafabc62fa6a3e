//! Lifecycle stages: where a contact stands with us, derived from dates.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    New,
    Active,
    Sleeping,
    Lost,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage `{0}` (expected one of: new, active, sleeping, lost)")]
pub struct StageError(pub String);

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::New, Stage::Active, Stage::Sleeping, Stage::Lost];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Active => "active",
            Stage::Sleeping => "sleeping",
            Stage::Lost => "lost",
        }
    }
}

impl FromStr for Stage {
    type Err = StageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| StageError(s.to_string()))
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
