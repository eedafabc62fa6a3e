//! Segment conditions to SQL over `contacts c`. The SQL text is built only
//! from fixed fragments in this file; every value — text, numbers, times,
//! tag and event names, attribute JSON paths — is a bound parameter. Every
//! condition yields 0 or 1, never NULL, so `not` is plain negation: a
//! contact without `orders` matches `not attributes.orders >= 2`.

use crate::segment::StageBounds;
use crate::segment::cond::{AttrType, CmpOp, Column, Cond, Test, Value};
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};
use std::fmt::Display;

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Real(f64),
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Param>,
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

    /// Appends this SQL to a query, binding every parameter.
    pub fn apply(&self, qb: &mut QueryBuilder<'_, Sqlite>) {
        let mut params = self.params.iter();
        for (i, piece) in self.text.split('?').enumerate() {
            if i > 0 {
                match params.next() {
                    Some(Param::Text(s)) => qb.push_bind(s.clone()),
                    Some(Param::Int(n)) => qb.push_bind(*n),
                    Some(Param::Real(n)) => qb.push_bind(*n),
                    None => qb.push("NULL"),
                };
            }
            qb.push(piece);
        }
    }
}

/// The condition compiled.
pub fn compile(cond: &Cond) -> Sql {
    let mut sql = Sql::default();
    write_cond(&mut sql, cond);
    sql
}

/// Appends the condition as a 0/1 SQL expression to a query.
pub fn push_cond(qb: &mut QueryBuilder<'_, Sqlite>, cond: &Cond) {
    compile(cond).apply(qb);
}

fn ts(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

const LAST_SEEN: &str = "coalesce(c.last_activity_at, c.created_at)";

fn write_cond(qb: &mut Sql, cond: &Cond) {
    match cond {
        Cond::Const(b) => {
            qb.push(if *b { "1" } else { "0" });
        }
        Cond::All(items) | Cond::Any(items) => {
            let (joiner, empty) = match cond {
                Cond::All(_) => (" AND ", "1"),
                _ => (" OR ", "0"),
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
            qb.push(", 0)");
        }
        Cond::Attr { name, ty, test } => push_attr(qb, name, *ty, test),
        Cond::Tags(tags) => {
            qb.push("EXISTS (SELECT 1 FROM json_each(c.tags) t WHERE t.value IN (");
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
    qb.push("(1");
    let clauses = [
        ("c.created_at", ">", b.created_after),
        ("c.created_at", "<=", b.created_not_after),
        (LAST_SEEN, ">", b.seen_after),
        (LAST_SEEN, "<=", b.seen_not_after),
    ];
    for (column, op, bound) in clauses {
        if let Some(at) = bound {
            qb.push(format_args!(" AND {column} {op} "));
            qb.push_bind(ts(at));
        }
    }
    qb.push(")");
}

fn push_value(qb: &mut Sql, value: &Value) {
    match value {
        Value::Text(s) => qb.push_bind(s.clone()),
        Value::Number(n) => qb.push_bind(*n),
        Value::Bool(b) => qb.push_bind(i64::from(*b)),
        Value::Time(t) => qb.push_bind(ts(*t)),
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
                qb.push(" IS NULL AND 0");
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
        qb.push_bind(ts(since));
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
