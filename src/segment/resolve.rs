//! Checking a parsed filter against the vocabulary (declared attributes,
//! built-in and custom stages) and turning it into a [`Cond`] at an instant.
//! `tend check` and the planner run the same code, so what checks clean is
//! exactly what runs.

use super::Vocabulary;
use super::bounds;
use super::cond::{AttrType, Column, Cond, Test, Value};
use super::filter::{
    CmpOp, EventTest, Expr, ExprKind, Field, FieldPath, FilterError, Lit, LitValue, TimePoint,
    TimeRel,
};
use crate::domain::Stage;
use chrono::{DateTime, Utc};

pub(super) struct Resolver<'a> {
    pub(super) vocab: &'a Vocabulary,
    pub(super) now: DateTime<Utc>,
    pub(super) errors: Vec<FilterError>,
    /// Custom stages being expanded, to refuse cycles.
    pub(super) stack: Vec<String>,
}

fn type_error(at: usize, field: &Field, ty: AttrType, found: &str) -> FilterError {
    let example = match ty {
        AttrType::Number => "a number, e.g. 2",
        AttrType::Text => "quoted text, e.g. 'pro'",
        AttrType::Boolean => "true or false",
        AttrType::Date => "`before 60d ago`, `after '2026-01-01'` or `within 14d`",
    };
    FilterError::new(
        at,
        format!(
            "`{}` is {}{}, compared with {found}",
            field.path.display(),
            article(ty),
            ty.as_str()
        ),
    )
    .hint(format!("compare it with {example}"))
}

fn article(ty: AttrType) -> &'static str {
    if ty == AttrType::Text { "" } else { "a " }
}

impl Resolver<'_> {
    pub(super) fn expr(&mut self, e: &Expr) -> Cond {
        match &e.kind {
            ExprKind::And(items) => Cond::All(items.iter().map(|i| self.expr(i)).collect()),
            ExprKind::Or(items) => Cond::Any(items.iter().map(|i| self.expr(i)).collect()),
            ExprKind::Not(inner) => Cond::Not(Box::new(self.expr(inner))),
            ExprKind::Compare { field, op, value } => self.compare(field, *op, value),
            ExprKind::In {
                field,
                negated,
                values,
            } => {
                let Some((target, ty)) = self.field(field) else {
                    return Cond::Const(false);
                };
                if matches!(ty, AttrType::Boolean | AttrType::Date) {
                    self.errors.push(
                        FilterError::new(
                            field.at,
                            format!("`in` does not apply to a {} field", ty.as_str()),
                        )
                        .hint("use `=` for booleans and before/after/within for dates"),
                    );
                    return Cond::Const(false);
                }
                let values: Vec<Value> = values
                    .iter()
                    .filter_map(|v| self.value(field, ty, v))
                    .collect();
                let cond = target(Test::In(values));
                if *negated {
                    Cond::Not(Box::new(cond))
                } else {
                    cond
                }
            }
            ExprKind::Presence { field, present } => {
                let Some((target, _)) = self.field(field) else {
                    return Cond::Const(false);
                };
                let cond = target(Test::Present);
                if *present {
                    cond
                } else {
                    Cond::Not(Box::new(cond))
                }
            }
            ExprKind::Time { field, rel } => self.time(field, *rel),
            ExprKind::Tags { all, tags } => {
                let tags: Vec<String> = tags
                    .iter()
                    .filter_map(|t| match &t.value {
                        LitValue::Str(s) => Some(s.trim().to_lowercase()),
                        _ => None,
                    })
                    .collect();
                if *all {
                    Cond::All(tags.into_iter().map(|t| Cond::Tags(vec![t])).collect())
                } else {
                    Cond::Tags(tags)
                }
            }
            ExprKind::Events { kind, within, test } => {
                let kind = match &kind.value {
                    LitValue::Str(s) => s.trim().to_lowercase(),
                    _ => String::new(),
                };
                let since = within.map(|d| self.now - d.to_chrono());
                let (op, count) = match test {
                    EventTest::Some => (CmpOp::Ge, 1),
                    EventTest::None => (CmpOp::Eq, 0),
                    EventTest::Count(op, n) => (*op, *n),
                };
                Cond::Events {
                    kind,
                    since,
                    op,
                    count,
                }
            }
            ExprKind::Stage { names, negated } => {
                let conds: Vec<Cond> = names
                    .iter()
                    .filter_map(|n| match &n.value {
                        LitValue::Str(s) => self.stage_at(s, n.at),
                        _ => None,
                    })
                    .collect();
                let any = Cond::Any(conds);
                if *negated {
                    Cond::Not(Box::new(any))
                } else {
                    any
                }
            }
        }
    }

    fn stage_at(&mut self, name: &str, at: usize) -> Option<Cond> {
        if self.stack.iter().any(|s| s == name) {
            self.errors.push(FilterError::new(at + 1, format!("stage `{name}` is defined in terms of itself"))
                .hint("a custom stage may use other stages, but not itself (directly or through another stage)"));
            return None;
        }
        let found = self.stage(name);
        if found.is_none() {
            let names = self.vocab.stage_names();
            let hint = match crate::catalog::did_you_mean(name, names.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("stages are: {}", names.join(", ")),
            };
            // +1: inside the quote, at the name itself.
            self.errors
                .push(FilterError::new(at + 1, format!("unknown stage `{name}`")).hint(hint));
        }
        found
    }

    pub(super) fn stage(&mut self, name: &str) -> Option<Cond> {
        if let Some(def) = self.vocab.custom_stage(name) {
            if self.stack.iter().any(|s| s == name) {
                return Some(Cond::Const(false));
            }
            self.stack.push(name.to_string());
            // Errors inside a stage definition belong to the config file and
            // are reported there; here the definition is taken as written.
            let saved = std::mem::take(&mut self.errors);
            let cond = self.expr(&def.expr);
            let inner_failed = !self.errors.is_empty();
            self.errors = saved;
            self.stack.pop();
            return Some(if inner_failed {
                Cond::Const(false)
            } else {
                cond
            });
        }
        let stage: Stage = name.parse().ok()?;
        Some(Cond::Stage(bounds(stage, &self.vocab.lifecycle, self.now)))
    }

    /// The field's condition builder and type, or an error for an unknown name.
    #[allow(clippy::type_complexity)]
    fn field(&mut self, field: &Field) -> Option<(Box<dyn Fn(Test) -> Cond>, AttrType)> {
        match &field.path {
            FieldPath::Column(name) => {
                if let Some(column) = Column::by_name(name) {
                    return Some((
                        Box::new(move |test| Cond::Column { column, test }),
                        column.ty(),
                    ));
                }
                let mut candidates: Vec<String> =
                    Column::ALL.iter().map(|(n, _)| n.to_string()).collect();
                candidates.extend(
                    self.vocab
                        .attributes
                        .keys()
                        .map(|a| format!("attributes.{a}")),
                );
                let plain: Vec<&str> = self.vocab.attributes.keys().map(String::as_str).collect();
                let hint = if plain.contains(&name.as_str()) {
                    format!("did you mean `attributes.{name}`?")
                } else {
                    match crate::catalog::did_you_mean(name, candidates.iter().map(String::as_str))
                    {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!(
                            "fields are: {}, tags, stage, attributes.NAME",
                            Column::ALL.map(|(n, _)| n).join(", ")
                        ),
                    }
                };
                self.errors
                    .push(FilterError::new(field.at, format!("unknown field `{name}`")).hint(hint));
                None
            }
            FieldPath::Attribute(name) => {
                if let Some(ty) = self.vocab.attributes.get(name) {
                    let (name, ty) = (name.clone(), *ty);
                    return Some((
                        Box::new(move |test| Cond::Attr {
                            name: name.clone(),
                            ty,
                            test,
                        }),
                        ty,
                    ));
                }
                if self.vocab.mixed.contains(name) {
                    self.errors.push(
                        FilterError::new(field.at, format!("attribute `{name}` was imported with values of different types"))
                            .hint(format!("declare its type in the config file: [attributes] {name} = \"number\" (or text, boolean, date)")),
                    );
                    return None;
                }
                let hint = match crate::catalog::did_you_mean(
                    name,
                    self.vocab.attributes.keys().map(String::as_str),
                ) {
                    Some(near) => format!("did you mean `attributes.{near}`?"),
                    None => format!(
                        "no contact has it yet; import it, or declare its type in the config file: [attributes] {name} = \"number\" (or text, boolean, date)"
                    ),
                };
                self.errors.push(
                    FilterError::new(field.at, format!("unknown attribute `{name}`")).hint(hint),
                );
                None
            }
        }
    }

    fn value(&mut self, field: &Field, ty: AttrType, lit: &Lit) -> Option<Value> {
        let lower = matches!(field.path, FieldPath::Column(ref c) if c == "email" || c == "domain");
        match (ty, &lit.value) {
            (AttrType::Text, LitValue::Str(s)) if lower => Some(Value::Text(s.to_lowercase())),
            (AttrType::Text, LitValue::Str(s)) => Some(Value::Text(s.clone())),
            (AttrType::Number, LitValue::Num(n)) => Some(Value::Number(*n)),
            (AttrType::Boolean, LitValue::Bool(b)) => Some(Value::Bool(*b)),
            (AttrType::Date, LitValue::Str(s)) => match crate::import::parse_time(s) {
                Ok(t) => Some(Value::Time(t)),
                Err(e) => {
                    self.errors
                        .push(FilterError::new(lit.at, e).hint("write a date as '2026-03-01'"));
                    None
                }
            },
            (ty, other) => {
                self.errors
                    .push(type_error(lit.at, field, ty, other.type_name()));
                None
            }
        }
    }

    fn compare(&mut self, field: &Field, op: CmpOp, lit: &Lit) -> Cond {
        let Some((target, ty)) = self.field(field) else {
            return Cond::Const(false);
        };
        if ty == AttrType::Boolean && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            self.errors.push(FilterError::new(
                lit.at,
                format!(
                    "`{}` is a boolean: only `=` and `!=` apply",
                    field.path.display()
                ),
            ));
            return Cond::Const(false);
        }
        match self.value(field, ty, lit) {
            // `!=` is "has a different value": a missing value is not different.
            Some(v) => target(Test::Cmp(op, v)),
            None => Cond::Const(false),
        }
    }

    fn time(&mut self, field: &Field, rel: TimeRel) -> Cond {
        let Some((target, ty)) = self.field(field) else {
            return Cond::Const(false);
        };
        if ty != AttrType::Date {
            self.errors.push(FilterError::new(field.at, format!("`{}` is {}{}, not a date: before/after/within do not apply", field.path.display(), article(ty), ty.as_str()))
                .hint("dates are created_at, last_activity_at, last_seen_at and attributes declared \"date\""));
            return Cond::Const(false);
        }
        let point = |p: TimePoint| match p {
            TimePoint::Ago(d) => self.now - d.to_chrono(),
            TimePoint::At(t) => t,
        };
        match rel {
            TimeRel::Before(p) => target(Test::Cmp(CmpOp::Le, Value::Time(point(p)))),
            TimeRel::After(p) => target(Test::Cmp(CmpOp::Gt, Value::Time(point(p)))),
            TimeRel::Within(d) => {
                target(Test::Cmp(CmpOp::Gt, Value::Time(self.now - d.to_chrono())))
            }
        }
    }
}
