//! The condition forms of the filter grammar (see [`super::parser`]): field
//! comparisons, lists, presence, times, tags, stages and event history.

use super::FilterError;
use super::ast::*;
use super::lexer::{Tok, Token};
use super::parser::{MAX_LIST, Parser};

impl Parser {
    pub(super) fn condition(&mut self) -> Result<ExprKind, FilterError> {
        let t = self.next();
        let Tok::Word(word) = &t.tok else {
            return Err(FilterError::new(t.at, format!("expected a condition, found {}", t.tok.describe()))
                .hint("a condition starts with a field (attributes.orders, tags, created_at, …), `stage`, `event`, `no event` or `count(`"));
        };
        match word.as_str() {
            "tags" => self.tags(),
            "stage" => self.stage(),
            "event" => self.events(EventTest::Some),
            "no" => {
                self.expect_word("event", "write `no event 'purchase' within 30d`")?;
                self.events(EventTest::None)
            }
            "count" if self.peek().tok == Tok::LParen => self.count(),
            _ => {
                let field = self.field(t.at, word.clone())?;
                self.field_condition(field)
            }
        }
    }

    fn field(&mut self, at: usize, word: String) -> Result<Field, FilterError> {
        if word != "attributes" {
            return Ok(Field {
                path: FieldPath::Column(word),
                at,
            });
        }
        self.expect(Tok::Dot, "name the attribute: attributes.orders")?;
        let t = self.next();
        match t.tok {
            Tok::Word(name) => Ok(Field {
                path: FieldPath::Attribute(name),
                at,
            }),
            other => Err(FilterError::new(
                t.at,
                format!("expected an attribute name, found {}", other.describe()),
            )
            .hint("attribute names are letters, digits and `_`: attributes.orders")),
        }
    }

    fn field_condition(&mut self, field: Field) -> Result<ExprKind, FilterError> {
        let t = self.next();
        match &t.tok {
            Tok::Op(op) => Ok(ExprKind::Compare {
                field,
                op: *op,
                value: self.literal()?,
            }),
            Tok::Word(w) => match w.as_str() {
                "in" => Ok(ExprKind::In {
                    field,
                    negated: false,
                    values: self.list()?,
                }),
                "not" => {
                    self.expect_word(
                        "in",
                        "write `not in [...]`, or put `not` before the condition",
                    )?;
                    Ok(ExprKind::In {
                        field,
                        negated: true,
                        values: self.list()?,
                    })
                }
                "is" => {
                    let negated = self.eat_word("not");
                    let w = self.next();
                    let present = match &w.tok {
                        Tok::Word(x) if x == "missing" => false,
                        Tok::Word(x) if x == "present" => true,
                        other => {
                            return Err(FilterError::new(
                                w.at,
                                format!(
                                    "expected `missing` or `present`, found {}",
                                    other.describe()
                                ),
                            )
                            .hint("write `is missing` or `is present`; compare values with `=`"));
                        }
                    };
                    Ok(ExprKind::Presence {
                        field,
                        present: present != negated,
                    })
                }
                "before" | "after" => {
                    let point = self.time_point()?;
                    let rel = if w == "before" {
                        TimeRel::Before(point)
                    } else {
                        TimeRel::After(point)
                    };
                    Ok(ExprKind::Time { field, rel })
                }
                "within" => Ok(ExprKind::Time {
                    field,
                    rel: TimeRel::Within(self.duration()?),
                }),
                _ => Err(self.bad_operator(&t)),
            },
            _ => Err(self.bad_operator(&t)),
        }
    }

    fn bad_operator(&self, t: &Token) -> FilterError {
        FilterError::new(
            t.at,
            format!("expected an operator, found {}", t.tok.describe()),
        )
        .hint("operators: = != < <= > >= in, not in, is missing, is present, before, after, within")
    }

    fn time_point(&mut self) -> Result<TimePoint, FilterError> {
        let t = self.next();
        match t.tok {
            Tok::Duration(d) => {
                self.expect_word("ago", "relative times read `60d ago`")?;
                Ok(TimePoint::Ago(d))
            }
            Tok::Str(s) => crate::import::parse_time(&s)
                .map(TimePoint::At)
                .map_err(|e| {
                    FilterError::new(t.at, e)
                        .hint("write a date as '2026-03-01' or a relative time as 60d ago")
                }),
            other => Err(FilterError::new(
                t.at,
                format!("expected a time, found {}", other.describe()),
            )
            .hint("write `60d ago` or a date such as '2026-03-01'")),
        }
    }

    fn duration(&mut self) -> Result<crate::domain::Duration, FilterError> {
        let t = self.next();
        match t.tok {
            Tok::Duration(d) => Ok(d),
            other => Err(FilterError::new(
                t.at,
                format!("expected a duration, found {}", other.describe()),
            )
            .hint("durations are a number and a unit: 30d, 2w, 12h")),
        }
    }

    fn literal(&mut self) -> Result<Lit, FilterError> {
        let t = self.next();
        let value = match t.tok {
            Tok::Str(s) => LitValue::Str(s),
            Tok::Number(n) => LitValue::Num(n),
            Tok::Word(w) if w == "true" || w == "false" => LitValue::Bool(w == "true"),
            Tok::Word(w) => {
                return Err(
                    FilterError::new(t.at, format!("expected a value, found `{w}`"))
                        .hint(format!("quote text values: '{w}'")),
                );
            }
            other => {
                return Err(FilterError::new(
                    t.at,
                    format!("expected a value, found {}", other.describe()),
                )
                .hint("values are 'text', numbers, true or false"));
            }
        };
        Ok(Lit { value, at: t.at })
    }

    fn string(&mut self, what: &str) -> Result<Lit, FilterError> {
        let lit = self.literal()?;
        match lit.value {
            LitValue::Str(_) => Ok(lit),
            _ => Err(
                FilterError::new(lit.at, format!("{what} must be quoted text"))
                    .hint("write it in quotes: 'vip'"),
            ),
        }
    }

    fn list(&mut self) -> Result<Vec<Lit>, FilterError> {
        self.expect(Tok::LBracket, "lists are written ['a', 'b']")?;
        let mut items = Vec::new();
        loop {
            if self.peek().tok == Tok::RBracket && !items.is_empty() {
                self.pos += 1;
                return Ok(items);
            }
            let lit = self.literal()?;
            if items.len() == MAX_LIST {
                return Err(FilterError::new(
                    lit.at,
                    format!("a list holds at most {MAX_LIST} values"),
                ));
            }
            items.push(lit);
            let t = self.next();
            match t.tok {
                Tok::Comma => {}
                Tok::RBracket => return Ok(items),
                other => {
                    return Err(FilterError::new(
                        t.at,
                        format!("expected `,` or `]`, found {}", other.describe()),
                    )
                    .hint("separate values with commas and close the list with `]`"));
                }
            }
        }
    }

    fn tags(&mut self) -> Result<ExprKind, FilterError> {
        self.expect_word("has", "write `tags has 'vip'` or `tags has any ['a', 'b']`")?;
        if self.eat_word("any") {
            return self.tag_list(false);
        }
        if self.eat_word("all") {
            return self.tag_list(true);
        }
        Ok(ExprKind::Tags {
            all: false,
            tags: vec![self.string("a tag")?],
        })
    }

    fn tag_list(&mut self, all: bool) -> Result<ExprKind, FilterError> {
        let tags = self.list()?;
        if let Some(bad) = tags.iter().find(|t| !matches!(t.value, LitValue::Str(_))) {
            return Err(FilterError::new(bad.at, "a tag must be quoted text")
                .hint("write it in quotes: 'vip'"));
        }
        Ok(ExprKind::Tags { all, tags })
    }

    fn stage(&mut self) -> Result<ExprKind, FilterError> {
        let t = self.next();
        let hint = "write `stage = 'sleeping'`, `stage != 'new'` or `stage in ['new', 'active']`";
        match t.tok {
            Tok::Op(op @ (CmpOp::Eq | CmpOp::Ne)) => Ok(ExprKind::Stage {
                names: vec![self.string("a stage")?],
                negated: op == CmpOp::Ne,
            }),
            Tok::Word(w) if w == "in" || w == "not" => {
                if w == "not" {
                    self.expect_word("in", hint)?;
                }
                let names = self.list()?;
                if let Some(bad) = names.iter().find(|t| !matches!(t.value, LitValue::Str(_))) {
                    return Err(FilterError::new(bad.at, "a stage must be quoted text").hint(hint));
                }
                Ok(ExprKind::Stage {
                    names,
                    negated: w == "not",
                })
            }
            other => Err(FilterError::new(
                t.at,
                format!(
                    "expected `=`, `!=` or `in` after `stage`, found {}",
                    other.describe()
                ),
            )
            .hint(hint)),
        }
    }

    fn window(&mut self) -> Result<Option<crate::domain::Duration>, FilterError> {
        if self.eat_word("within") {
            return self.duration().map(Some);
        }
        Ok(None)
    }

    fn events(&mut self, test: EventTest) -> Result<ExprKind, FilterError> {
        let kind = self.string("an event kind")?;
        let within = self.window()?;
        Ok(ExprKind::Events { kind, within, test })
    }

    fn count(&mut self) -> Result<ExprKind, FilterError> {
        self.expect(Tok::LParen, "write count(event 'purchase') >= 2")?;
        self.expect_word("event", "write count(event 'purchase') >= 2")?;
        let kind = self.string("an event kind")?;
        let within = self.window()?;
        self.expect(Tok::RParen, "close `count(` with `)`")?;
        let t = self.next();
        let Tok::Op(op) = t.tok else {
            return Err(FilterError::new(
                t.at,
                format!("expected a comparison, found {}", t.tok.describe()),
            )
            .hint("write count(event 'purchase') >= 2"));
        };
        let n = self.literal()?;
        match n.value {
            LitValue::Num(v) if v.fract() == 0.0 && (0.0..=1e12).contains(&v) => {
                Ok(ExprKind::Events {
                    kind,
                    within,
                    test: EventTest::Count(op, v as i64),
                })
            }
            _ => Err(
                FilterError::new(n.at, "a count is compared with a whole number")
                    .hint("write count(event 'purchase') >= 2"),
            ),
        }
    }
}
