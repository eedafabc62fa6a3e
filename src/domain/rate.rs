//! Rates as written in config: `50/s`, `600/min`, `2/7d`, or a bare number
//! meaning "per second".

use super::Duration;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// `count` events per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rate `{input}`: {reason} (write `COUNT/PERIOD`, e.g. `50/s`, `600/min`, `2/7d`)")]
pub struct RateError {
    pub input: String,
    pub reason: String,
}

impl Rate {
    pub fn parse(input: &str) -> Result<Self, RateError> {
        let err = |reason: String| RateError {
            input: input.to_string(),
            reason,
        };
        let text = input.trim();
        let (count, period) = match text.split_once('/') {
            Some((count, period)) => (count.trim(), period.trim()),
            None => (text, "s"),
        };
        let count: u32 = count
            .parse()
            .map_err(|_| err(format!("`{count}` is not a whole number")))?;
        if count == 0 {
            return Err(err("the count must be at least 1".into()));
        }
        // `per second` is written `/s`, `/sec`; allow a bare unit meaning one of it.
        let period = match period {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3_600),
            "d" | "day" => Duration::from_days(1),
            "w" | "week" => Duration::from_days(7),
            other => Duration::parse(other).map_err(|e| err(e.reason.to_string()))?,
        };
        if period == Duration::ZERO {
            return Err(err("the period must be longer than zero".into()));
        }
        Ok(Rate { count, period })
    }

    /// The even spacing between two events at this rate.
    pub fn interval(&self) -> std::time::Duration {
        self.period.to_std() / self.count
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.period)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Count(n) => Rate::parse(&n.to_string()),
            Raw::Text(text) => Rate::parse(&text),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(Rate::parse("50/s").unwrap().interval().as_millis(), 20);
        assert_eq!(Rate::parse("600/min").unwrap().interval().as_millis(), 100);
        let cap = Rate::parse("2/7d").unwrap();
        assert_eq!((cap.count, cap.period), (2, Duration::from_days(7)));
        assert_eq!(Rate::parse("50").unwrap().count, 50);
    }

    #[test]
    fn rejects_zero_and_garbage() {
        for bad in ["0/s", "x/s", "5/0s", "5/", "5/lightyear"] {
            assert!(Rate::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
