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
    pub(super) tokens: Vec<Token>,
    pub(super) pos: usize,
    pub(super) depth: usize,
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

    pub(super) fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    pub(super) fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    pub(super) fn end_of_previous(&self) -> usize {
        match self.pos {
            0 => 0,
            p => {
                let next = &self.tokens[p.min(self.tokens.len() - 1)];
                next.at
            }
        }
    }

    pub(super) fn is_word(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w == word)
    }

    pub(super) fn eat_word(&mut self, word: &str) -> bool {
        let yes = self.is_word(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    pub(super) fn expect_word(&mut self, word: &str, hint: &str) -> Result<usize, FilterError> {
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

    pub(super) fn expect(&mut self, tok: Tok, hint: &str) -> Result<usize, FilterError> {
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

    pub(super) fn nest(&mut self, at: usize) -> Result<(), FilterError> {
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
}
