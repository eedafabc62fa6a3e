//! A segment condition evaluated at one instant: what the store compiles to
//! SQL. Names are resolved, types checked, relative times turned into
//! instants and stages into time bounds; nothing here is user text meant
//! for SQL — text values are data, always bound as parameters.

use super::StageBounds;
pub use super::filter::CmpOp;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Const(bool),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    /// A built-in stage's time bounds.
    Stage(StageBounds),
    Column {
        column: Column,
        test: Test,
    },
    /// `attributes.NAME`, NAME matching `[A-Za-z_][A-Za-z0-9_]*`; a value
    /// of another JSON type than `ty` never matches.
    Attr {
        name: String,
        ty: AttrType,
        test: Test,
    },
    /// The contact has at least one of these tags.
    Tags(Vec<String>),
    /// The number of events of `kind` (since `since`, exclusive) compared to `count`.
    Events {
        kind: String,
        since: Option<DateTime<Utc>>,
        op: CmpOp,
        count: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Email,
    Name,
    Domain,
    Timezone,
    CreatedAt,
    LastActivityAt,
    /// Last activity, or creation when there was none.
    LastSeenAt,
}

impl Column {
    pub const ALL: [(&'static str, Column); 7] = [
        ("email", Column::Email),
        ("name", Column::Name),
        ("domain", Column::Domain),
        ("timezone", Column::Timezone),
        ("created_at", Column::CreatedAt),
        ("last_activity_at", Column::LastActivityAt),
        ("last_seen_at", Column::LastSeenAt),
    ];

    pub fn by_name(name: &str) -> Option<Column> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    pub fn ty(self) -> AttrType {
        match self {
            Column::CreatedAt | Column::LastActivityAt | Column::LastSeenAt => AttrType::Date,
            _ => AttrType::Text,
        }
    }
}

/// The type of a field: declared per attribute in `[attributes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttrType {
    Number,
    Text,
    Boolean,
    Date,
}

impl AttrType {
    pub const ALL: [AttrType; 4] = [
        AttrType::Number,
        AttrType::Text,
        AttrType::Boolean,
        AttrType::Date,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::Number => "number",
            AttrType::Text => "text",
            AttrType::Boolean => "boolean",
            AttrType::Date => "date",
        }
    }

    pub fn parse(s: &str) -> Option<AttrType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The type an imported value suggests: numbers, booleans, text that
    /// reads as a date (`2026-03-01`, RFC 3339), other text; nothing for
    /// null, arrays and objects.
    pub fn of_json(value: &serde_json::Value) -> Option<AttrType> {
        match value {
            serde_json::Value::Number(_) => Some(AttrType::Number),
            serde_json::Value::Bool(_) => Some(AttrType::Boolean),
            serde_json::Value::String(s) if crate::import::parse_time(s).is_ok() => {
                Some(AttrType::Date)
            }
            serde_json::Value::String(_) => Some(AttrType::Text),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Cmp(CmpOp, Value),
    In(Vec<Value>),
    /// Has a value (not null / key present).
    Present,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}
