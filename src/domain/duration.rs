//! Human durations as written in config and campaign files: `90d`, `6h`,
//! `30s`, `1h30m`, `2w`.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;

/// A non-negative span of time with whole-second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration `{input}`: {reason} (write a number and a unit, e.g. `30s`, `15m`, `6h`, `90d`, `2w`, `1h30m`)"
)]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

impl Duration {
    pub const ZERO: Duration = Duration { seconds: 0 };

    pub const fn from_secs(seconds: i64) -> Self {
        Self { seconds }
    }

    pub const fn from_days(days: i64) -> Self {
        Self {
            seconds: days * 86_400,
        }
    }

    pub const fn as_secs(self) -> i64 {
        self.seconds
    }

    pub fn to_chrono(self) -> chrono::Duration {
        chrono::Duration::seconds(self.seconds)
    }

    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds.max(0) as u64)
    }

    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let err = |reason| DurationError {
            input: input.to_string(),
            reason,
        };
        let text = input.trim();
        if text.is_empty() {
            return Err(err("it is empty"));
        }
        let mut total: i64 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(err("expected a number"));
            }
            let number: i64 = rest[..digits]
                .parse()
                .map_err(|_| err("the number is too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let scale = match unit {
                "s" | "sec" | "secs" => 1,
                "m" | "min" | "mins" => 60,
                "h" | "hr" | "hrs" => 3_600,
                "d" | "day" | "days" => 86_400,
                "w" | "week" | "weeks" => 7 * 86_400,
                "" => return Err(err("a unit is missing")),
                _ => return Err(err("unknown unit")),
            };
            total = number
                .checked_mul(scale)
                .and_then(|s| total.checked_add(s))
                .ok_or_else(|| err("the duration is too large"))?;
        }
        Ok(Self { seconds: total })
    }
}

impl FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Duration {
    /// The shortest exact form: `90d`, `36h`, `90s`, `1h30m` → `90m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
            if s != 0 && s % size == 0 {
                return write!(f, "{}{unit}", s / size);
            }
        }
        write!(f, "{s}s")
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit_and_compounds() {
        assert_eq!(Duration::parse("30s").unwrap().as_secs(), 30);
        assert_eq!(Duration::parse("15m").unwrap().as_secs(), 900);
        assert_eq!(Duration::parse("6h").unwrap().as_secs(), 21_600);
        assert_eq!(Duration::parse("90d").unwrap().as_secs(), 90 * 86_400);
        assert_eq!(Duration::parse("2w").unwrap().as_secs(), 14 * 86_400);
        assert_eq!(Duration::parse("1h30m").unwrap().as_secs(), 5_400);
        assert_eq!(Duration::parse("0d").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_missing_or_unknown_units_with_the_input_named() {
        for bad in ["", "90", "d", "5y", "-3d", "3.5d"] {
            let err = Duration::parse(bad).unwrap_err();
            assert_eq!(err.input, bad);
            assert!(err.to_string().contains("invalid duration"));
        }
    }

    #[test]
    fn displays_the_shortest_exact_form() {
        assert_eq!(Duration::parse("90d").unwrap().to_string(), "90d");
        assert_eq!(Duration::parse("14d").unwrap().to_string(), "2w");
        assert_eq!(Duration::parse("1h30m").unwrap().to_string(), "90m");
        assert_eq!(Duration::parse("61s").unwrap().to_string(), "61s");
    }
}
