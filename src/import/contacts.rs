//! `email,name,created_at,last_activity_at,timezone,tags` plus any other
//! columns, kept as attributes (numbers and booleans typed as such).

use super::{ImportError, Parsed, cell, column, parse_rows, parse_time};
use crate::domain::EmailAddress;
use crate::domain::{Attributes, NewContact};
use std::io::Read;

const KNOWN: [&str; 6] = [
    "email",
    "name",
    "created_at",
    "last_activity_at",
    "timezone",
    "tags",
];

/// Reads a whole contacts CSV at once (small files, tests).
pub fn parse_contacts(input: impl Read) -> Result<Parsed<NewContact>, ImportError> {
    Ok(ContactRows::new(input)?.next_chunk(usize::MAX))
}

/// A contacts CSV read a chunk at a time: an import of millions of rows
/// never holds more than one chunk in memory.
#[derive(Debug)]
pub struct ContactRows<R: Read> {
    reader: csv::Reader<R>,
    columns: Columns,
}

/// Where each known column is, and the attribute columns.
#[derive(Debug)]
struct Columns {
    email: usize,
    name: Option<usize>,
    created: Option<usize>,
    activity: Option<usize>,
    timezone: Option<usize>,
    tags: Option<usize>,
    extra: Vec<(usize, String)>,
}

impl<R: Read> ContactRows<R> {
    /// Reads the header line.
    pub fn new(input: R) -> Result<Self, ImportError> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let headers = reader.headers()?.clone();
        let columns = Columns {
            email: column(&headers, "email").ok_or(ImportError::MissingColumn("email"))?,
            name: column(&headers, "name"),
            created: column(&headers, "created_at"),
            activity: column(&headers, "last_activity_at"),
            timezone: column(&headers, "timezone"),
            tags: column(&headers, "tags"),
            extra: headers
                .iter()
                .enumerate()
                .filter(|(_, h)| !KNOWN.iter().any(|k| h.trim().eq_ignore_ascii_case(k)))
                .filter(|(_, h)| !h.trim().is_empty())
                .map(|(i, h)| (i, h.trim().to_string()))
                .collect(),
        };
        Ok(Self { reader, columns })
    }

    /// Up to `limit` more good rows (and the bad ones met on the way);
    /// fewer only at the end of the file.
    pub fn next_chunk(&mut self, limit: usize) -> Parsed<NewContact> {
        let Self { reader, columns } = self;
        parse_rows(reader, limit, |record| columns.contact(record))
    }
}

impl Columns {
    fn contact(&self, record: &csv::StringRecord) -> Result<NewContact, String> {
        let address = cell(record, Some(self.email)).ok_or("the email is empty")?;
        let email = EmailAddress::parse(address).map_err(|e| e.to_string())?;
        let time = |index| cell(record, index).map(parse_time).transpose();
        let created_at = time(self.created).map_err(|e| format!("created_at: {e}"))?;
        let last_activity_at = time(self.activity).map_err(|e| format!("last_activity_at: {e}"))?;
        let timezone = cell(record, self.timezone)
        .map(|tz| {
            tz.parse::<chrono_tz::Tz>().map_err(|_| {
                format!("unknown time zone `{tz}` (use an IANA name such as Europe/Berlin or America/New_York)")
            })
        })
        .transpose()?;
        let tags = cell(record, self.tags).map(split_tags);
        let mut attributes = Attributes::new();
        for (index, key) in &self.extra {
            if let Some(value) = cell(record, Some(*index)) {
                attributes.insert(key.clone(), typed(value));
            }
        }
        Ok(NewContact {
            email,
            name: cell(record, self.name).map(str::to_string),
            created_at,
            last_activity_at,
            timezone,
            tags,
            attributes,
        })
    }
}

/// Tags are separated by `;`, `|` or `,` (inside a quoted cell).
fn split_tags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = text
        .split([';', '|', ','])
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// Numbers and booleans become JSON numbers and booleans, so templates and
/// filters can compare them; everything else stays text.
fn typed(value: &str) -> serde_json::Value {
    if let Ok(n) = value.parse::<i64>() {
        return n.into();
    }
    if let Ok(f) = value.parse::<f64>() {
        if f.is_finite() {
            return f.into();
        }
    }
    match value.to_ascii_lowercase().as_str() {
        "true" => true.into(),
        "false" => false.into(),
        _ => value.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rows_import_and_bad_rows_name_their_line() {
        let csv = "email,name,created_at,timezone,tags,orders,plan\n\
                   ana@example.com,Ana,2026-01-05,Europe/Berlin,customer;vip,3,pro\n\
                   not-an-email,Bob,2026-01-05,,,,\n\
                   cy@example.com,Cy,05/01/2026,,,,\n\
                   di@example.com,Di,,Mars/Base,,,\n\
                   EVA@Example.com,,,,,1.5,\n";
        let parsed = parse_contacts(csv.as_bytes()).unwrap();
        let lines: Vec<u64> = parsed.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(parsed.rejected[0].reason.contains("not-an-email"));
        assert!(parsed.rejected[1].reason.contains("created_at"));
        assert!(parsed.rejected[2].reason.contains("Mars/Base"));
        assert_eq!(parsed.rows.len(), 2);
        let ana = &parsed.rows[0].1;
        assert_eq!(
            ana.tags.as_deref(),
            Some(&["customer".to_string(), "vip".to_string()][..])
        );
        assert_eq!(ana.attributes["orders"], serde_json::json!(3));
        assert_eq!(ana.attributes["plan"], serde_json::json!("pro"));
        assert_eq!(parsed.rows[1].1.email.as_str(), "eva@example.com");
    }

    #[test]
    fn a_file_without_an_email_column_is_refused() {
        let err = parse_contacts("name\nAna\n".as_bytes()).unwrap_err();
        assert!(matches!(err, ImportError::MissingColumn("email")));
    }
}
