//! The filter language of `segment.where` and `[lifecycle.stages]`: text →
//! tokens ([`lexer`]) → tree ([`ast`], by [`parser`]). Checking names and
//! types against the vocabulary and turning the tree into a store
//! condition happen in [`super::Vocabulary`]; SQL is written only by the store.
//!
//! ```
//! use tend::segment::filter;
//! let expr = filter::parse("attributes.orders >= 2 and tags has 'customer'").unwrap();
//! assert_eq!(expr.span, 0..46);
//! let err = filter::parse("attributes.orders >= ").unwrap_err();
//! assert_eq!(err.at, 21);
//! ```

pub mod ast;
mod condition;
pub mod lexer;
pub mod parser;

pub use ast::*;

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 4096;

/// A problem in an expression at a byte offset, with a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub at: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl FilterError {
    pub fn new(at: usize, message: impl Into<String>) -> Self {
        Self {
            at,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Parses an expression, or explains the first problem and where it is.
pub fn parse(text: &str) -> Result<Expr, FilterError> {
    if text.len() > MAX_LEN {
        return Err(FilterError::new(
            MAX_LEN,
            format!("the expression is longer than {MAX_LEN} bytes"),
        )
        .hint("split it: use a custom stage in [lifecycle.stages] for the common part"));
    }
    if text.trim().is_empty() {
        return Err(FilterError::new(0, "the expression is empty")
            .hint("write a condition such as `tags has 'customer'`, or remove the key"));
    }
    let tokens = lexer::tokenize(text)?;
    parser::Parser::new(tokens).parse()
}

#[cfg(test)]
mod tests;
