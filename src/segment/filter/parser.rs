//! Recursive descent over the tokens. Grammar (keywords are case-sensitive,
//! lower case):
//!
//! ```text
//! expr      := and ('or' and)*
//! and       := unary ('and' unary)*
//! unary     := 'not' unary | '(' expr ')' | condition
//! condition := 'tags' 'has' (STRING | ('any' | 'all') list)
//!            | 'stage' ('=' | '!=') STRING | 'stage' 'not'? 'in' list
//!            | 'no'? 'event' STRING window?
//!            | 'count' '(' 'event' STRING window? ')' OP NUMBER
//!            | field 'is' ('missing' | 'present')
//!            | field OP literal | field 'not'? 'in' list
//!            | field ('before' | 'after') (DURATION 'ago' | STRING) | field 'within' DURATION
//! field     := WORD | 'attributes' '.' WORD
//! window    := 'within' DURATION
//! list      := '[' literal (',' literal)* ','? ']'
//! literal   := STRING | NUMBER | 'true' | 'false'
//! ```
//!
//! Nesting deeper than [`MAX_DEPTH`] is an error, so hostile input cannot
//! overflow the stack.

use super::FilterError;
use super::ast::*;
use super::lexer::{Tok, Token};

/// Deepest nesting of `(` and `not`.
pub const MAX_DEPTH: usize = 32;
/// Most values in one `[...]` list.
pub const MAX_LIST: usize = 500;

#[derive(Debug)]
pub struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    pub fn new(tokens: Vec<Token>) -> Self {
        Self {
            tokens,
            pos: 0,
            depth: 0,
        }
    }

    pub fn parse(mut self) -> Result<Expr, FilterError> {
        let expr = self.or()?;
        let next = self.peek();
        if next.tok != Tok::End {
            let hint = match &next.tok {
                Tok::Word(w) if w == "AND" || w == "OR" => "keywords are lower case: `and`, `or`",
                Tok::RParen => "this `)` has no matching `(`",
                _ => "join conditions with `and` or `or`",
            };
            return Err(
                FilterError::new(next.at, format!("unexpected {}", next.tok.describe())).hint(hint),
            );
        }
        Ok(expr)
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn end_of_previous(&self) -> usize {
        match self.pos {
            0 => 0,
            p => {
                let next = &self.tokens[p.min(self.tokens.len() - 1)];
                next.at
            }
        }
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w == word)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let yes = self.is_word(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_word(&mut self, word: &str, hint: &str) -> Result<usize, FilterError> {
        let t = self.next();
        match &t.tok {
            Tok::Word(w) if w == word => Ok(t.at),
            other => Err(FilterError::new(
                t.at,
                format!("expected `{word}`, found {}", other.describe()),
            )
            .hint(hint)),
        }
    }

    fn expect(&mut self, tok: Tok, hint: &str) -> Result<usize, FilterError> {
        let t = self.next();
        if t.tok == tok {
            Ok(t.at)
        } else {
            Err(FilterError::new(
                t.at,
                format!("expected {}, found {}", tok.describe(), t.tok.describe()),
            )
            .hint(hint))
        }
    }

    fn nest(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(
                FilterError::new(at, format!("nested more than {MAX_DEPTH} levels deep"))
                    .hint("simplify the expression"),
            );
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        self.chain("or", Self::and, ExprKind::Or)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        self.chain("and", Self::unary, ExprKind::And)
    }

    fn chain(
        &mut self,
        word: &str,
        item: fn(&mut Self) -> Result<Expr, FilterError>,
        build: fn(Vec<Expr>) -> ExprKind,
    ) -> Result<Expr, FilterError> {
        let first = item(self)?;
        if !self.is_word(word) {
            return Ok(first);
        }
        let start = first.span.start;
        let mut items = vec![first];
        while self.eat_word(word) {
            items.push(item(self)?);
        }
        let end = items.last().map_or(start, |e| e.span.end);
        Ok(Expr {
            kind: build(items),
            span: start..end,
        })
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        let t = self.peek().clone();
        if self.eat_word("not") {
            self.nest(t.at)?;
            let inner = self.unary()?;
            self.depth -= 1;
            let end = inner.span.end;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span: t.at..end,
            });
        }
        if t.tok == Tok::LParen {
            self.pos += 1;
            self.nest(t.at)?;
            let mut inner = self.or()?;
            self.depth -= 1;
            let close = self.expect(Tok::RParen, "close the `(` opened earlier")?;
            inner.span = t.at..close + 1;
            return Ok(inner);
        }
        let kind = self.condition()?;
        Ok(Expr {
            kind,
            span: t.at..self.end_of_previous(),
        })
    }

    fn condition(&mut self) -> Result<ExprKind, FilterError> {
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
