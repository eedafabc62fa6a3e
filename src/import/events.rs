//! `email,kind,at,detail`: activity (`activity`, `purchase`, `login`, …),
//! `unsubscribe`, `bounce` (detail `soft` keeps the address), `complaint`.

use super::{ImportError, Parsed, cell, column, parse_rows, parse_time};
use crate::domain::EmailAddress;
use crate::domain::{EventKind, NewEvent};
use std::io::Read;

pub fn parse_events(input: impl Read, source: &str) -> Result<Parsed<NewEvent>, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers = reader.headers()?.clone();
    let email = column(&headers, "email").ok_or(ImportError::MissingColumn("email"))?;
    let kind = column(&headers, "kind").ok_or(ImportError::MissingColumn("kind"))?;
    let at = column(&headers, "at").ok_or(ImportError::MissingColumn("at"))?;
    let detail = column(&headers, "detail");
    Ok(parse_rows(&mut reader, usize::MAX, |record| {
        let address = cell(record, Some(email)).ok_or("the email is empty")?;
        Ok(NewEvent {
            email: EmailAddress::parse(address).map_err(|e| e.to_string())?,
            kind: cell(record, Some(kind))
                .ok_or("the kind is empty")?
                .parse::<EventKind>()?,
            at: parse_time(cell(record, Some(at)).ok_or("the time `at` is empty")?)?,
            detail: cell(record, detail).unwrap_or_default().to_string(),
            source: source.to_string(),
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_rejects_bad_rows_by_line() {
        let csv = "email,kind,at,detail\n\
                   ana@example.com,purchase,2026-02-01,order 17\n\
                   ana@example.com,bounce,2026-02-02,soft\n\
                   bob@example.com,,2026-02-01,\n\
                   bob@example.com,activity,yesterday,\n";
        let parsed = parse_events(csv.as_bytes(), "test").unwrap();
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(
            parsed.rows[0].1.kind,
            EventKind::Activity("purchase".into())
        );
        assert_eq!(parsed.rows[1].1.kind, EventKind::Bounce);
        let lines: Vec<u64> = parsed.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![4, 5]);
    }
}
