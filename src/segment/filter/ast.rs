//! The parsed filter: a tree of conditions, every node and literal carrying
//! the byte offset where it starts in the expression (for diagnostics and
//! for `segment explain`).

pub use super::lexer::CmpOp;
use crate::domain::Duration;
use chrono::{DateTime, Utc};
use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    /// Byte range of the whole condition in the expression.
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `field op literal`
    Compare {
        field: Field,
        op: CmpOp,
        value: Lit,
    },
    /// `field [not] in [a, b]`
    In {
        field: Field,
        negated: bool,
        values: Vec<Lit>,
    },
    /// `field is missing` / `field is present`
    Presence {
        field: Field,
        present: bool,
    },
    /// `tags has 'x'`, `tags has any [...]`, `tags has all [...]`
    Tags {
        all: bool,
        tags: Vec<Lit>,
    },
    /// `field before 60d ago`, `field after '2026-01-01'`, `field within 14d`
    Time {
        field: Field,
        rel: TimeRel,
    },
    /// `event 'k' [within D]`, `no event 'k' [within D]`, `count(event 'k' [within D]) op n`
    Events {
        kind: Lit,
        within: Option<Duration>,
        test: EventTest,
    },
    /// `stage = 'x'`, `stage != 'x'`, `stage in ['x', 'y']`
    Stage {
        names: Vec<Lit>,
        negated: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub path: FieldPath,
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldPath {
    /// A contact column: `email`, `created_at`, …
    Column(String),
    /// `attributes.NAME` (NAME is `[A-Za-z_][A-Za-z0-9_]*`)
    Attribute(String),
}

impl FieldPath {
    pub fn display(&self) -> String {
        match self {
            FieldPath::Column(c) => c.clone(),
            FieldPath::Attribute(a) => format!("attributes.{a}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lit {
    pub value: LitValue,
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LitValue {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl LitValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            LitValue::Str(_) => "text",
            LitValue::Num(_) => "number",
            LitValue::Bool(_) => "boolean",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeRel {
    Before(TimePoint),
    After(TimePoint),
    Within(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimePoint {
    Ago(Duration),
    At(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventTest {
    /// At least one such event.
    Some,
    /// No such event.
    None,
    /// The number of such events compared to `n`.
    Count(CmpOp, i64),
}
