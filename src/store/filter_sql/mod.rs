//! Segment conditions to SQL over `contacts c`, in either dialect (SQLite:
//! JSON text columns and epoch seconds; PostgreSQL: jsonb and timestamptz).
//! The SQL text is built only from fixed fragments in this file; every
//! value — text, numbers, times, tag and event names, attribute names and
//! JSON paths — is a bound parameter. Every condition yields true or false
//! (SQLite: 1 or 0), never NULL, so `not` is plain negation: a contact
//! without `orders` matches `not attributes.orders >= 2`.

use crate::segment::StageBounds;
use crate::segment::cond::{AttrType, CmpOp, Column, Cond, Test, Value};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder, Sqlite};
use std::fmt::Display;

/// Which SQL the condition is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn yes(self) -> &'static str {
        match self {
            Dialect::Sqlite => "1",
            Dialect::Postgres => "TRUE",
        }
    }

    fn no(self) -> &'static str {
        match self {
            Dialect::Sqlite => "0",
            Dialect::Postgres => "FALSE",
        }
    }
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}

impl From<f64> for Param {
    fn from(n: f64) -> Self {
        Param::Real(n)
    }
}

/// SQL text made of this file's fixed fragments, with `?` where each
/// parameter goes, and the parameters in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Param>,
    dialect: Dialect,
}

impl Default for Sql {
    fn default() -> Self {
        Self {
            text: String::new(),
            params: Vec::new(),
            dialect: Dialect::Sqlite,
        }
    }
}

impl Sql {
    fn push(&mut self, fragment: impl Display) -> &mut Self {
        self.text += &fragment.to_string();
        self
    }

    fn push_bind(&mut self, value: impl Into<Param>) -> &mut Self {
        self.text.push('?');
        self.params.push(value.into());
        self
    }

    /// An instant: epoch seconds on SQLite, a timestamptz on PostgreSQL,
    /// in whole seconds on both (stored instants are whole seconds).
    fn push_time(&mut self, at: DateTime<Utc>) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.push_bind(at.timestamp()),
            Dialect::Postgres => {
                let whole = DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at);
                self.push_bind(Param::Time(whole))
            }
        }
    }

    /// Appends this SQL to a SQLite query, binding every parameter.
    pub fn apply(&self, qb: &mut QueryBuilder<'_, Sqlite>) {
        let mut params = self.params.iter();
        for (i, piece) in self.text.split('?').enumerate() {
            if i > 0 {
                match params.next() {
                    Some(Param::Text(s)) => qb.push_bind(s.clone()),
                    Some(Param::Int(n)) => qb.push_bind(*n),
                    Some(Param::Real(n)) => qb.push_bind(*n),
                    Some(Param::Bool(b)) => qb.push_bind(i64::from(*b)),
                    Some(Param::Time(t)) => qb.push_bind(t.timestamp()),
                    None => qb.push("NULL"),
                };
            }
            qb.push(piece);
        }
    }

    /// Appends this SQL to a PostgreSQL query, binding every parameter.
    pub fn apply_pg(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        let mut params = self.params.iter();
        for (i, piece) in self.text.split('?').enumerate() {
            if i > 0 {
                match params.next() {
                    Some(Param::Text(s)) => qb.push_bind(s.clone()),
                    Some(Param::Int(n)) => qb.push_bind(*n),
                    Some(Param::Real(n)) => qb.push_bind(*n),
                    Some(Param::Bool(b)) => qb.push_bind(*b),
                    Some(Param::Time(t)) => qb.push_bind(*t),
                    None => qb.push("NULL"),
                };
            }
            qb.push(piece);
        }
    }
}

/// The condition compiled for SQLite.
pub fn compile(cond: &Cond) -> Sql {
    compile_for(cond, Dialect::Sqlite)
}

/// The condition compiled for a dialect.
pub fn compile_for(cond: &Cond, dialect: Dialect) -> Sql {
    let mut sql = Sql {
        dialect,
        ..Sql::default()
    };
    write_cond(&mut sql, cond);
    sql
}

/// Appends the condition as a 0/1 SQL expression to a SQLite query.
pub fn push_cond(qb: &mut QueryBuilder<'_, Sqlite>, cond: &Cond) {
    compile(cond).apply(qb);
}

/// Appends the condition as a boolean expression to a PostgreSQL query.
pub fn push_cond_pg(qb: &mut QueryBuilder<'_, Postgres>, cond: &Cond) {
    compile_for(cond, Dialect::Postgres).apply_pg(qb);
}

const LAST_SEEN: &str = "coalesce(c.last_activity_at, c.created_at)";

fn write_cond(qb: &mut Sql, cond: &Cond) {
    match cond {
        Cond::Const(b) => {
            let d = qb.dialect;
            qb.push(if *b { d.yes() } else { d.no() });
        }
        Cond::All(items) | Cond::Any(items) => {
            let d = qb.dialect;
            let (joiner, empty) = match cond {
                Cond::All(_) => (" AND ", d.yes()),
                _ => (" OR ", d.no()),
            };
            if items.is_empty() {
                qb.push(empty);
                return;
            }
            qb.push("(");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    qb.push(joiner);
                }
                write_cond(qb, item);
            }
            qb.push(")");
        }
        Cond::Not(inner) => {
            qb.push("(NOT ");
            write_cond(qb, inner);
            qb.push(")");
        }
        Cond::Stage(bounds) => push_bounds(qb, bounds),
        Cond::Column { column, test } => {
            let sql = match column {
                Column::Email => "c.email",
                Column::Name => "c.name",
                Column::Domain => "c.domain",
                Column::Timezone => "c.timezone",
                Column::CreatedAt => "c.created_at",
                Column::LastActivityAt => "c.last_activity_at",
                Column::LastSeenAt => LAST_SEEN,
            };
            qb.push("coalesce(");
            push_test(
                qb,
                &|qb| {
                    qb.push(sql);
                },
                test,
            );
            let no = qb.dialect.no();
            qb.push(format_args!(", {no})"));
        }
        Cond::Attr { name, ty, test } => push_attr(qb, name, *ty, test),
        Cond::Tags(tags) => {
            qb.push(match qb.dialect {
                Dialect::Sqlite => "EXISTS (SELECT 1 FROM json_each(c.tags) t WHERE t.value IN (",
                Dialect::Postgres => {
                    "EXISTS (SELECT 1 FROM jsonb_array_elements_text(c.tags) t(value) WHERE t.value IN ("
                }
            });
            push_list(qb, tags.iter().map(|t| Value::Text(t.clone())));
            qb.push("))");
        }
        Cond::Events {
            kind,
            since,
            op,
            count,
        } => push_events(qb, kind, *since, *op, *count),
    }
}

/// Appends `(bounds)` for one built-in stage, values bound.
fn push_bounds(qb: &mut Sql, b: &StageBounds) {
    let yes = qb.dialect.yes();
    qb.push(format_args!("({yes}"));
    let clauses = [
        ("c.created_at", ">", b.created_after),
        ("c.created_at", "<=", b.created_not_after),
        (LAST_SEEN, ">", b.seen_after),
        (LAST_SEEN, "<=", b.seen_not_after),
    ];
    for (column, op, bound) in clauses {
        if let Some(at) = bound {
            qb.push(format_args!(" AND {column} {op} "));
            qb.push_time(at);
        }
    }
    qb.push(")");
}

fn push_value(qb: &mut Sql, value: &Value) {
    match value {
        Value::Text(s) => qb.push_bind(s.clone()),
        Value::Number(n) => qb.push_bind(*n),
        Value::Bool(b) => match qb.dialect {
            Dialect::Sqlite => qb.push_bind(i64::from(*b)),
            Dialect::Postgres => qb.push_bind(Param::Bool(*b)),
        },
        Value::Time(t) => qb.push_time(*t),
    };
}

fn push_list(qb: &mut Sql, values: impl Iterator<Item = Value>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        push_value(qb, &v);
    }
}

type Operand<'a> = dyn Fn(&mut Sql) + 'a;

/// `operand OP value`, `operand IN (…)` or `operand IS NOT NULL`; may be NULL.
fn push_test(qb: &mut Sql, operand: &Operand<'_>, test: &Test) {
    qb.push("(");
    operand(qb);
    match test {
        Test::Cmp(op, value) => {
            // Text is ordered by bytes, as SQLite does, whatever the
            // database's collation (`en_US` would put `a-b` after `ab`).
            let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
            if qb.dialect == Dialect::Postgres && ordering && matches!(value, Value::Text(_)) {
                qb.push(" COLLATE \"C\"");
            }
            let op = match op {
                CmpOp::Eq => " = ",
                CmpOp::Ne => " <> ",
                CmpOp::Lt => " < ",
                CmpOp::Le => " <= ",
                CmpOp::Gt => " > ",
                CmpOp::Ge => " >= ",
            };
            qb.push(op);
            push_value(qb, value);
        }
        Test::In(values) => {
            if values.is_empty() {
                let no = qb.dialect.no();
                qb.push(format_args!(" IS NULL AND {no}"));
            } else {
                qb.push(" IN (");
                push_list(qb, values.iter().cloned());
                qb.push(")");
            }
        }
        Test::Present => {
            qb.push(" IS NOT NULL");
        }
    }
    qb.push(")");
}

/// `$."name"`: the attribute's JSON path. Names are `[A-Za-z0-9_]` (the
/// lexer guarantees it), and the path is bound anyway.
fn json_path(name: &str) -> String {
    format!("$.\"{name}\"")
}

fn push_attr(qb: &mut Sql, name: &str, ty: AttrType, test: &Test) {
    if qb.dialect == Dialect::Postgres {
        return push_attr_pg(qb, name, ty, test);
    }
    let path = json_path(name);
    qb.push("coalesce((json_type(c.attributes, ");
    qb.push_bind(path.clone());
    let types = match (ty, test) {
        (_, Test::Present) => ") NOT IN ('null')",
        (AttrType::Number, _) => ") IN ('integer', 'real')",
        (AttrType::Boolean, _) => ") IN ('true', 'false')",
        (AttrType::Text | AttrType::Date, _) => ") = 'text'",
    };
    qb.push(types);
    qb.push(" AND ");
    let operand = move |qb: &mut Sql| {
        if ty == AttrType::Date {
            qb.push("unixepoch(json_extract(c.attributes, ");
            qb.push_bind(path.clone());
            qb.push("))");
        } else {
            qb.push("json_extract(c.attributes, ");
            qb.push_bind(path.clone());
            qb.push(")");
        }
    };
    push_test(qb, &operand, test);
    qb.push("), 0)");
}

/// The date texts SQLite's `unixepoch` reads (date, optional time with
/// optional fraction and zone). PostgreSQL reads many more (`today`,
/// `March 1 2026`, `2026-3-1`); those must be no date here either. Still
/// SQLite's alone: a bare time (`10:00`), a Julian day number, an impossible
/// day it rolls over (`2026-02-30`), the year 0.
const DATE_TEXT: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}((T|[ ]+)[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?[ ]*([Zz]|[+-][0-9]{2}:[0-9]{2})?)?[ ]*$";

/// PostgreSQL: `CASE` guarantees the cast is only tried on a value of the
/// right JSON type (a plain `AND` may be evaluated in any order). Presence
/// casts nothing (any non-null value is present), except for a date, which
/// is present when it reads as one, as on SQLite.
fn push_attr_pg(qb: &mut Sql, name: &str, ty: AttrType, test: &Test) {
    qb.push("coalesce((CASE WHEN jsonb_typeof(c.attributes -> ");
    qb.push_bind(name.to_string());
    qb.push(match (ty, test) {
        (_, Test::Present) => ") NOT IN ('null')",
        (AttrType::Number, _) => ") = 'number'",
        (AttrType::Boolean, _) => ") = 'boolean'",
        (AttrType::Text | AttrType::Date, _) => ") = 'string'",
    });
    qb.push(" THEN ");
    let name = name.to_string();
    let present = matches!(test, Test::Present);
    let operand = move |qb: &mut Sql| {
        if ty == AttrType::Date {
            qb.push("tend_try_timestamptz(CASE WHEN (c.attributes ->> ");
            qb.push_bind(name.clone());
            qb.push(") ~ ");
            qb.push_bind(DATE_TEXT.to_string());
            qb.push(" THEN c.attributes ->> ");
            qb.push_bind(name.clone());
            qb.push(" END)");
            return;
        }
        let after = match ty {
            _ if present => ")",
            AttrType::Number => ")::float8",
            AttrType::Boolean => ")::boolean",
            AttrType::Text | AttrType::Date => ")",
        };
        qb.push("(c.attributes ->> ");
        qb.push_bind(name.clone());
        qb.push(after);
    };
    push_test(qb, &operand, test);
    qb.push(" END), FALSE)");
}

fn push_events(qb: &mut Sql, kind: &str, since: Option<DateTime<Utc>>, op: CmpOp, count: i64) {
    let exists = match (op, count) {
        (CmpOp::Ge, 1) | (CmpOp::Gt, 0) | (CmpOp::Ne, 0) => Some("EXISTS"),
        (CmpOp::Eq, 0) | (CmpOp::Lt, 1) | (CmpOp::Le, 0) => Some("NOT EXISTS"),
        _ => None,
    };
    let select = if exists.is_some() {
        "SELECT 1"
    } else {
        "SELECT count(*)"
    };
    qb.push(format_args!(
        "{} ({select} FROM events e WHERE e.contact_id = c.id AND e.kind = ",
        exists.unwrap_or("")
    ));
    qb.push_bind(kind.to_string());
    if let Some(since) = since {
        qb.push(" AND e.at > ");
        qb.push_time(since);
    }
    qb.push(")");
    if exists.is_none() {
        let op = match op {
            CmpOp::Eq => " = ",
            CmpOp::Ne => " <> ",
            CmpOp::Lt => " < ",
            CmpOp::Le => " <= ",
            CmpOp::Gt => " > ",
            CmpOp::Ge => " >= ",
        };
        qb.push(op);
        qb.push_bind(count);
    }
}

#[cfg(test)]
mod tests;
