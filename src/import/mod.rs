//! CSV import of contacts and events. Parsing is separate from storing: a
//! bad row is reported with its line number and reason, and every good row
//! still goes to the store.

mod contacts;
mod events;

pub use contacts::{ContactRows, parse_contacts};
pub use events::parse_events;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("the CSV has no `{0}` column (the header line must name it)")]
    MissingColumn(&'static str),
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    pub line: u64,
    pub reason: String,
}

/// Rows that parsed, each with its line number, and rows that did not.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    pub rows: Vec<(u64, T)>,
    pub rejected: Vec<Rejected>,
}

/// Accepts RFC 3339 (`2026-03-01T09:30:00+01:00`), `YYYY-MM-DD HH:MM[:SS]`
/// (UTC) and `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(format!(
        "invalid date `{text}` (use 2026-03-01, 2026-03-01 09:30 or RFC 3339 like 2026-03-01T09:30:00Z)"
    ))
}

/// The data rows of `reader` through `row`, until `limit` are kept or the
/// input ends: blank rows are skipped, an unreadable or rejected row is
/// reported with its line, the rest kept.
fn parse_rows<T, R: std::io::Read>(
    reader: &mut csv::Reader<R>,
    limit: usize,
    mut row: impl FnMut(&csv::StringRecord) -> Result<T, String>,
) -> Parsed<T> {
    let mut parsed = Parsed {
        rows: Vec::new(),
        rejected: Vec::new(),
    };
    let mut record = csv::StringRecord::new();
    while parsed.rows.len() < limit {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                parsed.rejected.push(Rejected {
                    line,
                    reason: format!("unreadable row: {e}"),
                });
                if e.is_io_error() {
                    break;
                }
                continue;
            }
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let line = line_of(&record);
        match row(&record) {
            Ok(value) => parsed.rows.push((line, value)),
            Err(reason) => parsed.rejected.push(Rejected { line, reason }),
        }
    }
    parsed
}

/// Column positions by header name (trimmed, case-insensitive).
fn column(headers: &csv::StringRecord, name: &str) -> Option<usize> {
    headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(name))
}

fn cell(record: &csv::StringRecord, index: Option<usize>) -> Option<&str> {
    index
        .and_then(|i| record.get(i))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn line_of(record: &csv::StringRecord) -> u64 {
    record.position().map(|p| p.line()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_time_forms() {
        let expected: DateTime<Utc> = "2026-03-01T08:30:00Z".parse().unwrap();
        assert_eq!(parse_time("2026-03-01T09:30:00+01:00").unwrap(), expected);
        assert_eq!(parse_time("2026-03-01 08:30").unwrap(), expected);
        assert_eq!(parse_time("2026-03-01 08:30:00").unwrap(), expected);
        assert_eq!(
            parse_time("2026-03-01").unwrap(),
            "2026-03-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(parse_time("01/03/2026").is_err());
    }
}
